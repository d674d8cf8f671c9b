--TEST--
Bad ini values are refused with a warning and the default kept
--INI--
shmcache.enable_cli=1
shmcache.capacity=0
shmcache.memory=-5
shmcache.serializer=json
shmcache.entry_lease_ms=-1
--FILE--
<?php
var_dump(ini_get('shmcache.capacity'), ini_get('shmcache.memory'), ini_get('shmcache.serializer'),
         ini_get('shmcache.entry_lease_ms'));
var_dump(ini_set('shmcache.serializer', 'xml'), ini_get('shmcache.serializer'));
// igbinary asked for but not loaded: PHP's serializer, said once
ini_set('shmcache.serializer', 'igbinary');
var_dump(shmcache_store('a', [1]), shmcache_store('b', [2]), shmcache_fetch('a'));
?>
--EXPECTF--
Warning: PHP Startup: Invalid shmcache.capacity "0": must be a positive number in %s

Warning: PHP Startup: Invalid shmcache.memory "-5": must be a positive size (e.g. 64M) in %s

Warning: PHP Startup: Invalid shmcache.entry_lease_ms "-1": must be a positive number in %s

Warning: PHP Startup: Invalid shmcache.serializer "json": use php or igbinary in %s
string(5) "65536"
string(3) "64M"
string(3) "php"
string(5) "10000"

Warning: ini_set(): Invalid shmcache.serializer "xml": use php or igbinary in %s on line %d
bool(false)
string(3) "php"

Warning: shmcache_store(): shmcache.serializer=igbinary but the igbinary extension is not loaded: using PHP's serializer in %s on line %d
bool(true)
bool(true)
array(1) {
  [0]=>
  int(1)
}
