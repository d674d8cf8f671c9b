--TEST--
Without shmcache.enable_cli the CLI cache is off, as APCu's is
--INI--
shmcache.enable_cli=0
--FILE--
<?php
var_dump(shmcache_enabled(), shmcache_store('a', 1), shmcache_fetch('a', $ok), $ok,
         shmcache_inc('n', 1, $ok), $ok, shmcache_cache_info());
?>
--EXPECT--
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
bool(false)
