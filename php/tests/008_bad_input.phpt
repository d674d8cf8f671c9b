--TEST--
Bad input gets a clear error and changes nothing
--INI--
shmcache.enable_cli=1
shmcache.max_value=1024
--FILE--
<?php
var_dump(shmcache_store('', 1));
var_dump(shmcache_store(str_repeat('k', 251), 1));
var_dump(shmcache_store('big', str_repeat('v', 2000)), shmcache_exists('big'));
// a tagged add refused for its size leaves nothing behind: the next add of
// the key succeeds
var_dump(shmcache_add('big2', str_repeat('v', 2000), 0, ['t']), shmcache_add('big2', 'small', 0, ['t']));
shmcache_delete('big2');
try { shmcache_store('t', 1, -1); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
try { shmcache_inc('t', 1, $ok, -1); } catch (ValueError $e) { echo $e->getMessage(), "\n"; }
try { shmcache_store('t'); } catch (ArgumentCountError $e) { echo $e->getMessage(), "\n"; }
try { shmcache_delete(1.5); } catch (TypeError $e) { echo $e->getMessage(), "\n"; }
try { shmcache_store('f', function () {}); } catch (Exception $e) { echo $e->getMessage(), "\n"; }
var_dump(shmcache_exists('t'), shmcache_exists('f'), shmcache_cache_info(true)['num_entries']);
?>
--EXPECTF--
Warning: shmcache_store(): shmcache: cannot store key "": %s in %s on line %d
bool(false)

Warning: shmcache_store(): shmcache: key or value over the segment's limits (shmcache.max_value), key "kkk%s": %s in %s on line %d
bool(false)

Warning: shmcache_store(): shmcache: key or value over the segment's limits (shmcache.max_value), key "big": %s in %s on line %d
bool(false)
bool(false)

Warning: shmcache_add(): shmcache: key or value over the segment's limits (shmcache.max_value), key "big2": %s in %s on line %d
bool(false)
bool(true)
shmcache_store(): Argument #3 ($ttl) must be greater than or equal to 0
shmcache_inc(): Argument #4 ($ttl) must be greater than or equal to 0
shmcache_store() expects a value when the key is a string
shmcache_delete(): Argument #1 ($key) must be of type array|string|ShmcacheIterator, float given
Serialization of 'Closure' is not allowed
bool(false)
bool(false)
int(0)
