--TEST--
ShmcacheIterator by regex, by list of keys and by prefix; delete through it
--INI--
shmcache.enable_cli=1
--FILE--
<?php
shmcache_store(['user:1' => 'a', 'user:2' => 'b', 'post:1' => 'c', 'userx' => 'd']);
function keys(ShmcacheIterator $it) { $k = []; foreach ($it as $key => $e) $k[] = $key; sort($k); return implode(',', $k); }
echo keys(new ShmcacheIterator('/^user:/')), "\n";
echo keys(new ShmcacheIterator(['post:1', 'nope'])), "\n";
echo keys(new ShmcacheIterator(null, SHMCACHE_ITER_ALL, 0, SHMCACHE_LIST_ACTIVE, 'user')), "\n";
$it = new ShmcacheIterator('/^post/', SHMCACHE_ITER_KEY | SHMCACHE_ITER_VALUE);
foreach ($it as $e) var_dump($e);
var_dump($it->getTotalCount(), $it->getTotalSize() > 0);
var_dump(shmcache_delete(new ShmcacheIterator('/^user:/')));
echo keys(new ShmcacheIterator()), "\n";
try { new ShmcacheIterator('not a regex'); } catch (ValueError $e) { echo "ValueError\n"; }
?>
--EXPECTF--
user:1,user:2
post:1
user:1,user:2,userx
array(2) {
  ["key"]=>
  string(6) "post:1"
  ["value"]=>
  string(1) "c"
}
int(1)
bool(true)
bool(true)
post:1,userx

Warning: ShmcacheIterator::__construct(): Delimiter must not be alphanumeric%s in %s on line %d
ValueError
