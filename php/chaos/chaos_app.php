<?php
// One chaos request: 3000 cache operations on 2000 keys (stores of 1-16 KB
// values, fetches, deletes, increments) through shmcache or APCu (?b=).
// Workers spend most of their time inside the cache, so the kill loop
// often lands in the middle of one of its operations.
$apcu = ($_GET['b'] ?? '') === 'apcu';
$ok = 0;
mt_srand();
for ($i = 0; $i < 3000; $i++) {
    $k = 'k' . mt_rand(0, 1999);
    $r = mt_rand(0, 9);
    if ($r < 4) {
        $v = str_repeat(chr(65 + $i % 26), mt_rand(1024, 16384));
        $ok += $apcu ? (int)apcu_store($k, $v) : (int)shmcache_store($k, $v);
    } elseif ($r < 8) {
        $apcu ? apcu_fetch($k, $hit) : shmcache_fetch($k, $hit);
        $ok += 1;
    } elseif ($r < 9) {
        $apcu ? apcu_delete($k) : shmcache_delete($k);
        $ok += 1;
    } else {
        $ok += ($apcu ? apcu_inc('counter') : shmcache_inc('counter')) !== false ? 1 : 0;
    }
}
echo getmypid(), " ok $ok\n";
