--TEST--
An entry stored with a ttl misses once it has expired; inc keeps the expiry
--INI--
shmcache.enable_cli=1
--FILE--
<?php
shmcache_store('short', 'v', 1);
shmcache_store('long', 'v', 100);
shmcache_inc('cnt', 1, $ok, 1);
shmcache_inc('cnt');
var_dump(shmcache_fetch('short'), shmcache_key_info('long')['ttl'] <= 100);
usleep(1300000);
var_dump(shmcache_fetch('short', $ok), $ok, shmcache_fetch('long'), shmcache_exists('cnt'));
?>
--EXPECT--
string(1) "v"
bool(true)
bool(false)
bool(false)
string(1) "v"
bool(false)
