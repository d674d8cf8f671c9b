--TEST--
Processes naming one segment share it: a store and a delete in a child are seen by the parent
--INI--
shmcache.enable_cli=1
--FILE--
<?php
$seg = getenv('SHMCACHE_TEST_SEGMENT') ?: 'php-test-' . getmypid();
$php = PHP_BINARY . ' -n -d extension=' . escapeshellarg(getenv('SHMCACHE_EXT')) .
       ' -d shmcache.enable_cli=1 -d shmcache.segment=' . escapeshellarg($seg);
passthru("$php -r 'shmcache_store(\"k\", \"from child\"); shmcache_store(\"gone\", 1);'");
passthru("$php -r 'var_dump(shmcache_fetch(\"k\")); shmcache_delete(\"gone\");'");
passthru("$php -r 'var_dump(shmcache_exists(\"gone\"));'");
passthru("$php -r 'var_dump(shmcache_stats()[\"attached_processes\"] >= 1);'");
// Tidy: the named segment outlives its users, by design.
@unlink("/dev/shm/$seg");
?>
--EXPECT--
string(10) "from child"
bool(false)
bool(true)
