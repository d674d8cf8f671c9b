--TEST--
Array forms of store, add, fetch, delete and exists return what APCu's do
--INI--
shmcache.enable_cli=1
--FILE--
<?php
var_dump(shmcache_store(['a' => 1, 'b' => 2]));          // nothing failed
var_dump(shmcache_add(['a' => 9, 'c' => 3, 5 => 'x']));  // 'a' exists
var_dump(shmcache_fetch('a'));                           // add did not overwrite
var_dump(shmcache_fetch(['a', 'zz', 'c', 5], $ok), $ok);
var_dump(shmcache_delete(['a', 'nope']));                // keys not deleted
var_dump(shmcache_exists(['b', 'nope']), shmcache_exists('b'), shmcache_exists('a'));
var_dump(shmcache_add('b', 5), shmcache_add('new', 5), shmcache_delete('new'), shmcache_delete('new'));
?>
--EXPECT--
array(0) {
}
array(1) {
  ["a"]=>
  int(-1)
}
int(1)
array(3) {
  ["a"]=>
  int(1)
  ["c"]=>
  int(3)
  [5]=>
  string(1) "x"
}
bool(true)
array(1) {
  [0]=>
  string(4) "nope"
}
array(1) {
  ["b"]=>
  bool(true)
}
bool(true)
bool(false)
bool(false)
bool(true)
bool(true)
bool(false)
