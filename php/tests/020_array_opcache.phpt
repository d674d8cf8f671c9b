--TEST--
The array format with opcache on (keys come from opcache's interned strings, as in an FPM worker)
--SKIPIF--
<?php if (!file_exists(ini_get('extension_dir') . '/opcache.so')) die('skip opcache not installed'); ?>
--INI--
zend_extension=opcache
opcache.enable_cli=1
shmcache.enable_cli=1
--FILE--
<?php
var_dump(is_array(opcache_get_status(false)));
$rows = [];
for ($i = 0; $i < 50; $i++) $rows[] = ['id' => $i, 'name' => "n$i", 'tags' => ['x' => $i % 2 === 0]];
shmcache_store('rows', $rows);
$got = shmcache_fetch('rows');
var_dump($got === $rows);
// A fetched array is the caller's: change keys and values freely
$got[0]['name'] = 'changed'; $got[0]['new'] = 1; unset($got[1]['id']);
var_dump(shmcache_fetch('rows') === $rows, count($got[0]), count($got[1]));
// keys the script never spells (not interned) and keys it does, mixed
$k = str_repeat('q', 3);
shmcache_store('mixed', [$k => 1, 'id' => 2, "$k$k" => [$k => 3]]);
var_dump(shmcache_fetch('mixed'));
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
int(4)
int(2)
array(3) {
  ["qqq"]=>
  int(1)
  ["id"]=>
  int(2)
  ["qqqqqq"]=>
  array(1) {
    ["qqq"]=>
    int(3)
  }
}
