<?php
// The application the FPM test and the chaos run drive (copied to the
// FPM temp dir as app.php). One operation per request, chosen by ?op=.
// Every answer starts with the worker's pid, so the driver can tell which
// worker served it.
$op = $_GET['op'] ?? '';
$k = $_GET['k'] ?? 'k';
$pid = getmypid();
usleep((int)($_GET['sleep_ms'] ?? 0) * 1000);  // hold this worker busy
switch ($op) {
case 'store':
    echo $pid, ' ', shmcache_store($k, $_GET['v'] ?? '') ? 'stored' : 'failed';
    break;
case 'fetch':
    $v = shmcache_fetch($k, $ok);
    echo $pid, ' ', $ok ? "hit $v" : 'miss';
    break;
case 'delete':
    echo $pid, ' ', shmcache_delete($k) ? 'deleted' : 'absent';
    break;
case 'entry':
    // A slow callback: the workers that ask meanwhile must wait for this
    // one's value, not compute their own.
    $v = shmcache_entry($k, function ($key) {
        shmcache_inc('entry_calls');
        usleep(300000);
        return 'computed by ' . getmypid();
    });
    echo $pid, ' ', $v;
    break;
case 'segment':
    echo $pid, ' ', shmcache_cache_info(true)['shmcache']['lock_recoveries'] ?? '?';
    break;
case 'storeloop':
    // Store large values for up to 'ms' ms (the driver kills this worker
    // meanwhile), announcing the pid first.
    file_put_contents($_GET['pidfile'], $pid);
    $v = str_repeat('x', 200000);
    $end = microtime(true) + ($_GET['ms'] ?? 5000) / 1000;
    for ($i = 0; microtime(true) < $end; $i++) {
        shmcache_store("big" . ($i % 64), $v);
    }
    echo $pid, ' looped';
    break;
default:
    echo $pid, ' unknown op';
}
