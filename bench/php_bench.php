<?php
// One PHP process (or --procs forked ones) runs the same workload against
// one backend and prints fetch/s and store/s. Driven by bench/php_bench.sh,
// which starts the servers and loads the extensions.
//   php php_bench.php BACKEND [--keys N] [--ops N] [--procs N] [--value str|array|rows] [--port P]
// BACKEND: shmcache | apcu | apcu-default (APCu run with
// apc.serializer=default by php_bench.sh) | redis | memcached
$backend = $argv[1] ?? 'shmcache';
$opt = ['keys' => 1000, 'ops' => 200000, 'procs' => 1, 'value' => 'str', 'port' => 0];
for ($i = 2; $i < $argc; $i++) {
    if (preg_match('/^--(\w+)=?(.*)$/', $argv[$i], $m)) {
        $opt[$m[1]] = $m[2] !== '' ? $m[2] : $argv[++$i];
    }
}
$keys = (int)$opt['keys'];
$ops = (int)$opt['ops'];
$procs = (int)$opt['procs'];
// str: a 100-byte string; array: a small nested array (about 100 bytes
// serialized); rows: 20 rows of 5 columns, as a database query returns
// (about 1.5 KB serialized). Both arrays hold only scalars, so shmcache
// stores them in its array format, not through serialize().
switch ($opt['value']) {
case 'array':
    $value = ['id' => 12345, 'name' => 'product name', 'price' => 19.99, 'tags' => ['a', 'b', 'c'], 'ok' => true];
    break;
case 'rows':
    $value = [];
    for ($i = 0; $i < 20; $i++) {
        $value[] = ['id' => 1000 + $i, 'name' => "product $i", 'price' => $i * 1.25,
                    'stock' => $i * 3, 'active' => $i % 2 === 0];
    }
    break;
default:
    $value = str_repeat('v', 100);
}

function client(string $backend, int $port) {
    switch ($backend) {
    case 'shmcache':
        return [fn($k) => shmcache_fetch($k), fn($k, $v) => shmcache_store($k, $v)];
    case 'apcu':
    case 'apcu-default':
        return [fn($k) => apcu_fetch($k), fn($k, $v) => apcu_store($k, $v)];
    case 'redis':
        $r = new Redis();
        $r->connect('127.0.0.1', $port);
        $r->setOption(Redis::OPT_SERIALIZER, Redis::SERIALIZER_PHP);
        return [fn($k) => $r->get($k), fn($k, $v) => $r->set($k, $v)];
    case 'memcached':
        $m = new Memcached();
        $m->addServer('127.0.0.1', $port);
        $m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
        $m->setOption(Memcached::OPT_TCP_NODELAY, true);
        return [fn($k) => $m->get($k), fn($k, $v) => $m->set($k, $v)];
    }
    fwrite(STDERR, "unknown backend $backend\n");
    exit(2);
}

// One worker: store every key, then $ops stores and $ops fetches of
// pseudo-random keys; returns [store seconds, fetch seconds, fetch misses].
// shmcache and APCu get direct calls in their loops (a closure call costs
// as much as a fetch from either); the network clients go through client().
function work(string $backend, int $port, int $keys, int $ops, $value, int $seed): array {
    [$fetch, $store] = client($backend, $port);
    $names = [];
    for ($i = 0; $i < $keys; $i++) {
        $names[] = sprintf('bench:key:%08d', $i);
        $store($names[$i], $value);
    }
    mt_srand($seed);
    $k = [];
    for ($i = 0; $i < 4096; $i++) $k[] = $names[mt_rand(0, $keys - 1)];
    $miss = 0;
    $t0 = hrtime(true);
    if ($backend === 'shmcache') {
        for ($i = 0; $i < $ops; $i++) shmcache_store($k[$i & 4095], $value);
        $t1 = hrtime(true);
        for ($i = 0; $i < $ops; $i++) if (shmcache_fetch($k[$i & 4095]) === false) $miss++;
    } elseif ($backend === 'apcu' || $backend === 'apcu-default') {
        for ($i = 0; $i < $ops; $i++) apcu_store($k[$i & 4095], $value);
        $t1 = hrtime(true);
        for ($i = 0; $i < $ops; $i++) if (apcu_fetch($k[$i & 4095]) === false) $miss++;
    } else {
        for ($i = 0; $i < $ops; $i++) $store($k[$i & 4095], $value);
        $t1 = hrtime(true);
        for ($i = 0; $i < $ops; $i++) if ($fetch($k[$i & 4095]) === false) $miss++;
    }
    $t2 = hrtime(true);
    return [($t1 - $t0) / 1e9, ($t2 - $t1) / 1e9, $miss];
}

$port = (int)$opt['port'];
$res = [];
if ($procs <= 1) {
    $res[] = work($backend, $port, $keys, $ops, $value, 1);
} else {
    // Forked workers run at once; each reports through a pipe.
    $pipes = [];
    for ($p = 0; $p < $procs; $p++) {
        $pair = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
        $pid = pcntl_fork();
        if ($pid === 0) {
            fclose($pair[0]);
            fwrite($pair[1], json_encode(work($backend, $port, $keys, $ops, $value, $p + 1)));
            exit(0);
        }
        fclose($pair[1]);
        $pipes[] = $pair[0];
    }
    foreach ($pipes as $s) $res[] = json_decode(stream_get_contents($s), true);
    while (pcntl_wait($st) > 0);
}
// Rate of the whole group: total ops over the slowest worker's time.
$ts = max(array_column($res, 0));
$tf = max(array_column($res, 1));
$miss = array_sum(array_column($res, 2));
printf("%-12s %-5s procs %d  fetch/s %10.0f  store/s %10.0f  misses %d\n",
       $backend, $opt['value'], $procs, $procs * $ops / $tf, $procs * $ops / $ts, $miss);
