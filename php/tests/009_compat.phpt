--TEST--
shmcache.apcu_compat=1 serves the apcu_* names, APCUIterator and APC_* constants
--INI--
shmcache.enable_cli=1
shmcache.apcu_compat=1
--FILE--
<?php
var_dump(apcu_enabled(), apcu_store('k', [1]), apcu_fetch('k'), shmcache_fetch('k'));
var_dump(apcu_inc('n', 3), apcu_entry('e', fn($k) => "v$k"));
$it = new APCUIterator('/^k$/', APC_ITER_VALUE);
foreach ($it as $e) var_dump($e);
var_dump($it instanceof ShmcacheIterator, (new ReflectionFunction('apcu_fetch'))->getExtensionName());
var_dump(apcu_delete('k'), apcu_exists('k'), apcu_clear_cache());
?>
--EXPECT--
bool(true)
bool(true)
array(1) {
  [0]=>
  int(1)
}
array(1) {
  [0]=>
  int(1)
}
int(3)
string(2) "ve"
array(1) {
  ["value"]=>
  array(1) {
    [0]=>
    int(1)
  }
}
bool(true)
string(8) "shmcache"
bool(true)
bool(false)
bool(true)
