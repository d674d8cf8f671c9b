--TEST--
Tagged stores and adds miss after their tag is invalidated; bad tags are refused
--INI--
shmcache.enable_cli=1
--FILE--
<?php
var_dump(shmcache_store('p1', 'a', 0, ['product:1', 'list']));
var_dump(shmcache_store(['p2' => 'b', 'p3' => 'c'], null, 0, ['list']));
var_dump(shmcache_add('p4', 'd', 0, ['product:4']), shmcache_add('p4', 'e', 0, ['product:4']));
shmcache_store('plain', 'z');
var_dump(shmcache_invalidate_tag('list'));
var_dump(shmcache_fetch(['p1', 'p2', 'p3', 'p4', 'plain']));
var_dump(shmcache_add('p1', 'again', 0, ['list']), shmcache_fetch('p1'));
foreach ([[''], [1], ['a', 'b', 'c', 'd', 'e'], [str_repeat('t', 251)]] as $bad) {
    try { shmcache_store('k', 1, 0, $bad); echo "accepted\n"; }
    catch (Error $e) { echo get_class($e), ": ", $e->getMessage(), "\n"; }
}
try { shmcache_invalidate_tag(''); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
var_dump(shmcache_exists('k'));
?>
--EXPECT--
bool(true)
array(0) {
}
bool(true)
bool(false)
bool(true)
array(2) {
  ["p4"]=>
  string(1) "d"
  ["plain"]=>
  string(1) "z"
}
bool(true)
string(5) "again"
ValueError: shmcache_store(): Argument #4 ($tags) must hold non-empty tags of at most 250 bytes without NUL
TypeError: shmcache_store(): Argument #4 ($tags) must be an array of strings
ValueError: shmcache_store(): Argument #4 ($tags) must hold at most 4 tags
ValueError: shmcache_store(): Argument #4 ($tags) must hold non-empty tags of at most 250 bytes without NUL
shmcache_invalidate_tag(): Argument #1 ($tag) must be a non-empty tag of at most 250 bytes without NUL
bool(false)
