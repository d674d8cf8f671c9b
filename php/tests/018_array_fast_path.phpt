--TEST--
Arrays of scalars take the array format (no serializer) and come back identical; anything else falls back to serialize()
--INI--
shmcache.enable_cli=1
shmcache.max_value=4M
--FILE--
<?php
// The stored length tells the path: the serializer's output has exactly
// strlen(serialize($v)) bytes, the array format is shorter for all of these
// but [] (6 bytes either way: "a:0:{}", or version, tag and a u32 count).
function vlen($k) { return shmcache_key_info($k)['mem_size'] - strlen($k); }
function check($name, $v) {
    if (!shmcache_store($name, $v)) { echo "$name: store failed\n"; return; }
    $got = shmcache_fetch($name, $ok);
    $same = $ok && serialize($got) === serialize($v);   // types, order, keys; NAN too
    $path = $v === [] ? vlen($name) . ' bytes'
          : (vlen($name) === strlen(serialize($v)) ? 'serializer' : 'array format');
    echo str_pad($name, 16), $same ? 'same' : 'DIFFERENT', "  $path\n";
    if (!$same) var_dump($got);
}
$scalars = [null, true, false, 0, -1, 127, 128, -128, -129, 2147483647, 2147483648,
            -2147483648, -2147483649, PHP_INT_MAX, PHP_INT_MIN, 0.0, -0.0, 1.5, -2.25e-300,
            INF, -INF, NAN, '', 'a', str_repeat('s', 255), str_repeat('t', 256),
            str_repeat('u', 70000), "\0", "bin\0\xff\x80\x01ary", '0', '1.5'];
check('list', $scalars);
check('hash', array_combine(array_map(fn($i) => "key$i", array_keys($scalars)), $scalars));
check('empty', []);
check('empties', [[], ['a' => []], [[]]]);
check('mixed keys', [5 => 'a', 'x' => 'b', -7 => 'c', 0 => 'd', '' => 'e', PHP_INT_MAX => 'f',
                     PHP_INT_MIN => 'g', '08' => 'h', str_repeat('k', 300) => 'i', "\0k" => 'j']);
check('holes', [0 => 'a', 2 => 'c']);
check('from 1', [1 => 'a', 2 => 'b']);
check('reversed', [1 => 'b', 0 => 'a']);
$unset = [1, 2, 3]; unset($unset[1]);
check('unset', $unset);
check('nested', ['id' => 1, 'tags' => ['a', 'b'], 'm' => ['x' => ['y' => ['z' => [1.5, null]]]]]);
$deep = 'leaf'; for ($i = 0; $i < 31; $i++) $deep = [$deep];
check('depth 31', $deep);   // + the top level = 32: the limit
check('depth 33', [[$deep]]);   // over it: serialized
check('large list', range(0, 99999));
$big = []; for ($i = 0; $i < 20000; $i++) $big["user:$i"] = ['id' => $i, 'name' => "name $i", 'score' => $i / 7];
check('large hash', $big);
// Rows of a result set: each column name is written once, later rows refer
// back to it (same zend_string); keys equal in content but built apart are
// written out again. Both decode the same.
$rows = $built = [];
for ($i = 0; $i < 20; $i++) {
    $rows[] = ['id' => $i, 'name' => "n$i", 'price' => $i / 4];
    $built[] = [implode('', ['i', 'd']) => $i, implode('', ['na', 'me']) => "n$i", implode('', ['pr', 'ice']) => $i / 4];
}
check('rows', $rows);
check('built keys', $built);
var_dump(vlen('rows') < vlen('built keys'));
$wide = [];   // 40 columns: only the first 32 names can be referred back to
for ($r = 0; $r < 3; $r++) for ($c = 0; $c < 40; $c++) $wide[$r]["column_$c"] = $r * $c;
check('wide rows', $wide);
check('nested keys', ['a' => ['a' => ['b' => 1], 'b' => 2], 'b' => ['a' => 3]]);
// Fallbacks: the whole value goes through serialize()
check('object', ['a' => 1, 'o' => new ArrayObject([1])]);
check('deep object', [[[new stdClass]]]);
$r = [1, 2]; $r[2] = &$r[0];
check('reference', $r);
$got = shmcache_fetch('reference'); $got[0] = 99; var_dump($got[2]);   // still a reference
$lone = [1, 2]; foreach ($lone as &$e) {} unset($e);   // $lone[1]: a reference nothing shares
check('lone reference', $lone);
try { shmcache_store('closure', [1, fn() => 1]); } catch (Exception $e) { echo get_class($e), "\n"; }
var_dump(shmcache_exists('closure'));
// A fetched array is the caller's copy
$a = shmcache_fetch('nested'); $a['tags'][] = 'c'; $a['id'] = 2;
var_dump(shmcache_fetch('nested')['tags'], shmcache_fetch('nested')['id']);
$e = shmcache_fetch('empty'); $e[] = 1; var_dump(shmcache_fetch('empty'));
// Array forms and the iterator decode the same way
var_dump(shmcache_store(['f1' => [1, 'x'], 'f2' => ['k' => false]]));
var_dump(shmcache_fetch(['f1', 'f2']));
foreach (new ShmcacheIterator('/^f2$/') as $k => $row) var_dump($row['value']);
var_dump(shmcache_inc('f1'));   // not an int: refused, the array stays
var_dump(shmcache_fetch('f1') === [1, 'x']);
?>
--EXPECT--
list            same  array format
hash            same  array format
empty           same  6 bytes
empties         same  array format
mixed keys      same  array format
holes           same  array format
from 1          same  array format
reversed        same  array format
unset           same  array format
nested          same  array format
depth 31        same  array format
depth 33        same  serializer
large list      same  array format
large hash      same  array format
rows            same  array format
built keys      same  array format
bool(true)
wide rows       same  array format
nested keys     same  array format
object          same  serializer
deep object     same  serializer
reference       same  serializer
int(99)
lone reference  same  array format
Exception
bool(false)
array(2) {
  [0]=>
  string(1) "a"
  [1]=>
  string(1) "b"
}
int(1)
array(0) {
}
array(0) {
}
array(2) {
  ["f1"]=>
  array(2) {
    [0]=>
    int(1)
    [1]=>
    string(1) "x"
  }
  ["f2"]=>
  array(1) {
    ["k"]=>
    bool(false)
  }
}
array(1) {
  ["k"]=>
  bool(false)
}
bool(false)
bool(true)
