--TEST--
apcu_compat refuses to take the apcu_* names while APCu is loaded
--SKIPIF--
<?php if (!file_exists(ini_get('extension_dir') . '/apcu.so')) die('skip php-apcu not installed'); ?>
--INI--
extension=apcu
shmcache.enable_cli=1
shmcache.apcu_compat=1
apc.enable_cli=1
--FILE--
<?php
var_dump((new ReflectionFunction('apcu_fetch'))->getExtensionName());
var_dump(class_exists('APCUIterator') && !is_a('APCUIterator', 'ShmcacheIterator', true));
var_dump(apcu_store('k', 1), shmcache_exists('k'));
?>
--EXPECTF--
Warning: PHP Startup: shmcache.apcu_compat=1 is ignored because the APCu extension is loaded: the apcu_* names stay APCu's. Disable APCu (phpdismod apcu) to let shmcache serve them in %s
string(4) "apcu"
bool(true)
bool(true)
bool(false)
