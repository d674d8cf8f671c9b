--TEST--
Tagged add (shmc_add_tagged): refused on a live key, allowed once its tag is invalidated; array and compat forms
--INI--
shmcache.enable_cli=1
shmcache.apcu_compat=1
--FILE--
<?php
// scalar form
var_dump(shmcache_add('a', 'first', 0, ['t1']));
var_dump(shmcache_add('a', 'second', 0, ['t1']));   // live: refused
var_dump(shmcache_fetch('a'));
shmcache_store('plain', 'p');
var_dump(shmcache_add('plain', 'x', 0, ['t1']));    // live untagged key: refused too
var_dump(shmcache_invalidate_tag('t1'));
var_dump(shmcache_exists('a'));
var_dump(shmcache_add('a', 'third', 0, ['t2']));    // its tag was invalidated: added
var_dump(shmcache_fetch('a'));
var_dump(shmcache_invalidate_tag('t2'), shmcache_exists('a'));  // and the new entry carries t2
// array form: the live key fails, the others are added under the tag
shmcache_store('b', 'live');
var_dump(shmcache_add(['b' => 1, 'c' => [1, 2], 'd' => 3.5], null, 0, ['t3']));
var_dump(shmcache_fetch(['b', 'c', 'd']));
shmcache_invalidate_tag('t3');
var_dump(shmcache_fetch(['b', 'c', 'd']));
var_dump(shmcache_add(['c' => 'again'], null, 0, ['t3']));
var_dump(shmcache_fetch('c'));
// compat name, same path
var_dump(apcu_add('e', 5, 0, ['t4']), apcu_add('e', 6, 0, ['t4']), apcu_fetch('e'));
shmcache_invalidate_tag('t4');
var_dump(apcu_add('e', 7, 0, ['t4']), apcu_fetch('e'));
// bad tags on add: refused, nothing stored
try { shmcache_add('f', 1, 0, ['']); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
var_dump(shmcache_exists('f'));
?>
--EXPECT--
bool(true)
bool(false)
string(5) "first"
bool(false)
bool(true)
bool(false)
bool(true)
string(5) "third"
bool(true)
bool(false)
array(1) {
  ["b"]=>
  int(-1)
}
array(3) {
  ["b"]=>
  string(4) "live"
  ["c"]=>
  array(2) {
    [0]=>
    int(1)
    [1]=>
    int(2)
  }
  ["d"]=>
  float(3.5)
}
array(1) {
  ["b"]=>
  string(4) "live"
}
array(0) {
}
string(5) "again"
bool(true)
bool(false)
int(5)
bool(true)
int(7)
shmcache_add(): Argument #4 ($tags) must hold non-empty tags of at most 250 bytes without NUL
bool(false)
