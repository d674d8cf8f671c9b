--TEST--
shmcache.serializer=igbinary uses igbinary for arrays and objects when it is loaded
--SKIPIF--
<?php if (!file_exists(ini_get('extension_dir') . '/igbinary.so')) die('skip php-igbinary not installed'); ?>
--INI--
extension=igbinary
shmcache.enable_cli=1
shmcache.serializer=igbinary
--FILE--
<?php
$v = ['a' => [1, 2.5, 'x'], 'o' => new ArrayObject([3])];
shmcache_store('v', $v);
var_dump(shmcache_fetch('v') == $v);
ini_set('shmcache.serializer', 'php');   // values keep their own type tag
var_dump(shmcache_fetch('v') == $v);
shmcache_store('w', [1]);
ini_set('shmcache.serializer', 'igbinary');
var_dump(shmcache_fetch('w'));
// igbinary's encoding of this array is shorter than serialize()'s
$big = array_fill(0, 50, 'same string');
shmcache_store('igb', $big);
ini_set('shmcache.serializer', 'php');
shmcache_store('php', $big);
var_dump(shmcache_key_info('igb')['mem_size'] < shmcache_key_info('php')['mem_size']);
?>
--EXPECT--
bool(true)
bool(true)
array(1) {
  [0]=>
  int(1)
}
bool(true)
