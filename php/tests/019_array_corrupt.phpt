--TEST--
A corrupt value in the array format (written by C with the array type, truncated or malformed) fails cleanly
--SKIPIF--
<?php
if (!is_executable((string)getenv('SHMCACHE_TOOL'))) die('skip SHMCACHE_TOOL (build/shmcache-tool) not set');
if (pack('S', 1) !== "\x01\x00") die('skip the hand-built values are little-endian');
?>
--INI--
shmcache.enable_cli=1
memory_limit=128M
--FILE--
<?php
// This process's private segment, which shmcache-tool (C) opens by name.
shmcache_store('x', 1);
$seg = 'php-cli-' . getmypid();
const ARRAY_FLAGS = 0x50480009;   // "PH" magic | SHMCACHE_T_ARRAY
function raw(string $key, string $bytes): void {
    global $seg;
    $p = proc_open([getenv('SHMCACHE_TOOL'), 'set', $seg, $key, '-', '--flags', (string)ARRAY_FLAGS],
                   [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    fwrite($pipes[0], $bytes);
    fclose($pipes[0]);
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    if (proc_close($p) !== 0) echo "shmcache-tool failed: $out\n";
}
// Many values in one go: an SHMCDUMP stream (tools/cmd_dump.c) into
// shmcache-tool restore, every entry with the array type.
function restore(array $kv): void {
    global $seg;
    $d = "SHMCDUMP 1\n";
    foreach ($kv as $k => $v) $d .= pack('VVVP', strlen($k), strlen($v), ARRAY_FLAGS, -1) . $k . $v;
    $d .= pack('VVVP', 0, 0, 0, count($kv));
    $p = proc_open([getenv('SHMCACHE_TOOL'), 'restore', $seg],
                   [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
    fwrite($pipes[0], $d);
    fclose($pipes[0]);
    $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
    if (proc_close($p) !== 0) echo "shmcache-tool restore failed: $out\n";
}
function u32($n) { return pack('V', $n); }
function s8($s) { return 's' . chr(strlen($s)) . $s; }

// A well-formed value written by C decodes: the format is what we think.
$good = "\x01h" . u32(3) . s8('id') . "b\x05" . s8('tags') . 'p' . u32(2) . s8('a') . 'S' . u32(1) . 'b'
      . 'b' . chr(7) . 'd' . pack('e', 1.5);
raw('good', $good);
var_dump(shmcache_fetch('good'));

// Key references: the first 32 string keys written out are numbered.
raw('refs', "\x01p" . u32(2) . 'h' . u32(1) . s8('col') . "b\x01" . 'h' . u32(1) . "k\x00" . "b\x02");
var_dump(shmcache_fetch('refs'));
$wide = 'h' . u32(33);   // keys c0..c32: c32 is the 33rd, not numbered
for ($i = 0; $i <= 32; $i++) $wide .= s8("c$i") . 'n';
raw('wide', "\x01p" . u32(2) . $wide . 'h' . u32(1) . "k\x1f" . 't');
var_dump(array_keys(shmcache_fetch('wide')[1]));

$bad = [
    'empty value'        => '',
    'version 2'          => "\x02p" . u32(0),
    'not an array'       => "\x01b\x05",
    'trailing byte'      => "\x01p" . u32(1) . "n" . "n",
    'count past the end' => "\x01p" . u32(0xffffffff),
    'hash count too big' => "\x01h" . u32(2) . s8('k') . 'n',
    'unknown tag'        => "\x01p" . u32(3) . "nnz",
    'string past end'    => "\x01p" . u32(1) . 'S' . u32(0x7fffffff) . 'abc',
    'short string past'  => "\x01p" . u32(1) . "s\x09abc",
    'duplicate str key'  => "\x01h" . u32(2) . s8('a') . 'n' . s8('a') . 't',
    'duplicate int key'  => "\x01h" . u32(2) . "b\x01n" . "i" . pack('l', 1) . 't',
    'null as a key'      => "\x01h" . u32(1) . 'nn',
    'array as a key'     => "\x01h" . u32(1) . 'p' . u32(0) . 'n',
    'too deep (33)'      => "\x01" . str_repeat('p' . u32(1), 33) . 'n',
    'bad nested tail'    => "\x01p" . u32(2) . 'p' . u32(2) . s8('ok') . s8('ok') . 'p' . u32(1) . 'q',
    'key ref, none yet'  => "\x01h" . u32(1) . "k\x00n",
    'key ref past table' => "\x01h" . u32(2) . s8('a') . 'n' . "k\x01n",
    'key ref duplicate'  => "\x01h" . u32(2) . s8('a') . 'n' . "k\x00n",
    'key ref unnumbered' => "\x01p" . u32(2) . $wide . 'h' . u32(1) . "k\x20n",
];
foreach ($bad as $name => $bytes) {
    raw('bad', $bytes);
    $v = shmcache_fetch('bad', $ok);
    echo str_pad($name, 20), var_export($v, true), ' ', var_export($ok, true), "\n";
}
// Depth 32 is the limit, and accepted
raw('deep', "\x01" . str_repeat('p' . u32(1), 32) . 'n');
$d = shmcache_fetch('deep'); $n = 0; while (is_array($d)) { $d = $d[0]; $n++; }
echo "depth 32: $n levels\n";

// 32 nested lists each claiming 900 000 elements, then 900 000 nulls: each
// count alone fits the bytes left, but together they would ask for 32
// times what a real value of this size can need (a fatal "memory
// exhausted" before the counts were held to the value's size as a whole).
raw('bomb', "\x01" . str_repeat('p' . u32(900000), 32) . str_repeat('n', 900000));
$before = memory_get_peak_usage();
var_dump(@shmcache_fetch('bomb', $ok), $ok, memory_get_peak_usage() - $before < 32 << 20);

// Every proper prefix of a nested value is refused, whatever it cut
// (inside a count, a key, a string, a nested list), and frees what it built.
$refused = 0;
for ($i = 0; $i < strlen($good); $i++) {
    raw('cut', substr($good, 0, $i));
    if (@shmcache_fetch('cut', $ok) === false && !$ok) $refused++;
}
echo "$refused of ", strlen($good), " truncations refused\n";

// Random damage: 3000 mutations (byte changed, inserted, deleted, counts
// and lengths made huge, cuts) of four well-formed values (one with key
// references), written in one
// restore. Each must decode to an array, which then round-trips through a
// store, or fail cleanly; none may crash (valgrind: docs/PHP.md).
function enc($v, &$keys = []) {   // the format, written in PHP, for the seeds
    if (is_array($v)) {
        $list = array_is_list($v);
        $o = ($list ? 'p' : 'h') . u32(count($v));
        foreach ($v as $k => $e) {
            if (!$list && is_string($k) && ($ref = array_search($k, $keys, true)) !== false) {
                $o .= 'k' . chr($ref);
            } elseif (!$list) {
                if (is_string($k) && count($keys) < 32) $keys[] = $k;
                $o .= enc($k, $keys);
            }
            $o .= enc($e, $keys);
        }
        return $o;
    }
    if ($v === null) return 'n';
    if (is_bool($v)) return $v ? 't' : 'f';
    if (is_int($v)) return $v >= -128 && $v <= 127 ? 'b' . pack('c', $v)
        : ($v >= -2147483648 && $v <= 2147483647 ? 'i' . pack('l', $v) : 'l' . pack('q', $v));
    if (is_float($v)) return 'd' . pack('e', $v);
    return strlen($v) < 256 ? 's' . chr(strlen($v)) . $v : 'S' . u32(strlen($v)) . $v;
}
$seeds = [
    ['id' => 1, 'name' => 'n', 'tags' => ['a', 'b'], 'p' => 1.5, 'ok' => true, 'none' => null],
    [[1, 2, [3, [4, []]]], ['k' => ['j' => ['i' => 'deep']]], -70000, 5000000000],
    [7 => 'x', -1 => 'y', 'z' => str_repeat('w', 300), 'e' => [], 'f' => false],
    [['id' => 1, 'name' => 'a'], ['id' => 2, 'name' => 'b'], ['name' => 'c', 'id' => 3]],
];
mt_srand(7);
$mut = [];
for ($i = 0; $i < 3000; $i++) {
    $b = "\x01" . enc($seeds[$i % 4]);
    $at = mt_rand(0, strlen($b) - 1);
    switch ($i % 6) {
    case 0: $b[$at] = chr(mt_rand(0, 255)); break;
    case 1: $b = substr($b, 0, $at) . chr(mt_rand(0, 255)) . substr($b, $at); break;
    case 2: $b = substr($b, 0, $at) . substr($b, $at + 1); break;
    case 3: $b = substr_replace($b, u32([0xffffffff, 0x7fffffff, 0x10000, mt_rand(0, 9)][mt_rand(0, 3)]),
                                min($at, strlen($b) - 4), 4); break;
    case 4: $b = substr($b, 0, $at); break;
    case 5: $b[$at] = chr(mt_rand(0, 255)); $b[mt_rand(0, strlen($b) - 1)] = chr(mt_rand(0, 255)); break;
    }
    $mut["m$i"] = $b;
}
restore($mut);
$decoded = $refused = $other = 0;
foreach ($mut as $k => $b) {
    $v = @shmcache_fetch($k, $ok);
    if ($v === false && !$ok) { $refused++; continue; }
    if (!is_array($v)) { $other++; continue; }
    $decoded++;
    // (serialize() compares NAN, which a changed double byte can make, as equal)
    if (!shmcache_store("rt$k", $v) || serialize(shmcache_fetch("rt$k")) !== serialize($v)) echo "$k: no round trip\n";
}
echo "3000 mutations: ", $decoded + $refused, " decoded or refused, $other anything else\n";
var_dump($decoded > 0, $refused > 1000);

// The array form skips a corrupt key; the entry itself is left alone.
raw('bad', "\x01p" . u32(2) . 'n');
var_dump(@shmcache_fetch(['good', 'bad']));
var_dump(shmcache_exists('bad'), shmcache_store('bad', [1]), shmcache_fetch('bad'));
?>
--EXPECTF--
array(3) {
  ["id"]=>
  int(5)
  ["tags"]=>
  array(2) {
    [0]=>
    string(1) "a"
    [1]=>
    string(1) "b"
  }
  [7]=>
  float(1.5)
}
array(2) {
  [0]=>
  array(1) {
    ["col"]=>
    int(1)
  }
  [1]=>
  array(1) {
    ["col"]=>
    int(2)
  }
}
array(1) {
  [0]=>
  string(3) "c31"
}

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
empty value         false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
version 2           false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
not an array        false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
trailing byte       false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
count past the end  false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
hash count too big  false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
unknown tag         false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
string past end     false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
short string past   false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
duplicate str key   false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
duplicate int key   false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
null as a key       false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
array as a key      false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
too deep (33)       false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
bad nested tail     false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
key ref, none yet   false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
key ref past table  false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
key ref duplicate   false false

Warning: shmcache_fetch(): shmcache: a stored value of type 9 could not be decoded in %s on line %d
key ref unnumbered  false false
depth 32: 32 levels
bool(false)
bool(false)
bool(true)
43 of 43 truncations refused
3000 mutations: 3000 decoded or refused, 0 anything else
bool(true)
bool(true)
array(1) {
  ["good"]=>
  array(3) {
    ["id"]=>
    int(5)
    ["tags"]=>
    array(2) {
      [0]=>
      string(1) "a"
      [1]=>
      string(1) "b"
    }
    [7]=>
    float(1.5)
  }
}
bool(true)
bool(true)
array(1) {
  [0]=>
  int(1)
}
