--TEST--
inc/dec create missing keys, go negative, refuse non-integers; cas compares
--INI--
shmcache.enable_cli=1
--FILE--
<?php
var_dump(shmcache_inc('n', 5, $ok), $ok);    // created holding the step
var_dump(shmcache_dec('n', 7, $ok), $ok);    // signed, unlike memcached's incr
var_dump(shmcache_inc('n'));
shmcache_store('s', 'x');
shmcache_store('f', 1.5);
var_dump(shmcache_inc('s', 1, $ok), $ok, shmcache_inc('f'), shmcache_fetch('s'));
var_dump(shmcache_inc('t', 1, $ok, 100), shmcache_key_info('t')['ttl'] > 0);
var_dump(shmcache_cas('n', -1, 10), shmcache_fetch('n'));
var_dump(shmcache_cas('n', 3, 4), shmcache_cas('none', 0, 1), shmcache_cas('s', 0, 1));
shmcache_store('big', PHP_INT_MAX);
var_dump(shmcache_inc('big') === PHP_INT_MIN);   // wraps as APCu's add does
?>
--EXPECT--
int(5)
bool(true)
int(-2)
bool(true)
int(-1)
bool(false)
bool(false)
bool(false)
string(1) "x"
int(1)
bool(true)
bool(true)
int(10)
bool(false)
bool(false)
bool(false)
bool(true)
