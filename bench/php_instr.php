<?php
// One value stored once, then N fetches or N stores of it; run under
// cachegrind by bench/php_instr.sh, which subtracts a run with N = 0.
//   php php_instr.php shmcache|apcu array|rows fetch|store N
[, $backend, $kind, $op, $n] = $argv + [null, 'shmcache', 'rows', 'fetch', '0'];
$n = (int)$n;
if ($kind === 'rows') {   // the same values as php_bench.php
    $value = [];
    for ($i = 0; $i < 20; $i++) {
        $value[] = ['id' => 1000 + $i, 'name' => "product $i", 'price' => $i * 1.25,
                    'stock' => $i * 3, 'active' => $i % 2 === 0];
    }
} else {
    $value = ['id' => 12345, 'name' => 'product name', 'price' => 19.99, 'tags' => ['a', 'b', 'c'], 'ok' => true];
}
if ($backend === 'apcu') {
    apcu_store('v', $value);
    if ($op === 'fetch') {
        for ($i = 0; $i < $n; $i++) $x = apcu_fetch('v');
    } else {
        for ($i = 0; $i < $n; $i++) apcu_store('v', $value);
    }
} else {
    shmcache_store('v', $value);
    if ($op === 'fetch') {
        for ($i = 0; $i < $n; $i++) $x = shmcache_fetch('v');
    } else {
        for ($i = 0; $i < $n; $i++) shmcache_store('v', $value);
    }
}
