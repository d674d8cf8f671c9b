--TEST--
Every PHP type stored and fetched back unchanged (fast path and serializer)
--INI--
shmcache.enable_cli=1
--FILE--
<?php
class Point { public $x = 1; public $y = [2, 3]; }
$values = [
    'str' => "bytes\0with nul", 'empty' => '', 'int' => 42, 'neg' => -7,
    'max' => PHP_INT_MAX, 'min' => PHP_INT_MIN, 'float' => 1.5, 'nan_free' => -0.25,
    'true' => true, 'false' => false, 'null' => null,
    'list' => [1, 'two', 3.0], 'map' => ['a' => ['b' => true]], 'obj' => new Point,
];
foreach ($values as $k => $v) {
    if (!shmcache_store($k, $v)) echo "store $k failed\n";
}
foreach ($values as $k => $v) {
    $got = shmcache_fetch($k, $ok);
    if (!$ok || $got != $v || gettype($got) !== gettype($v)) {
        echo "$k: mismatch\n"; var_dump($got);
    }
}
// false stored is told from a miss only by $success
var_dump(shmcache_fetch('false', $ok), $ok);
var_dump(shmcache_fetch('missing', $ok), $ok);
echo "done\n";
?>
--EXPECT--
bool(false)
bool(true)
bool(false)
bool(false)
done
