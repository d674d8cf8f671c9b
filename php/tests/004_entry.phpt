--TEST--
shmcache_entry computes on a miss only, stores under tags, and a throwing callback stores nothing
--INI--
shmcache.enable_cli=1
--FILE--
<?php
$calls = 0;
$gen = function ($k) use (&$calls) { $calls++; return ['for' => $k]; };
var_dump(shmcache_entry('e', $gen), shmcache_entry('e', $gen), $calls);
try {
    shmcache_entry('boom', function () { throw new RuntimeException('no'); });
} catch (RuntimeException $e) { echo "caught ", $e->getMessage(), "\n"; }
var_dump(shmcache_exists('boom'));
// the lease died with the exception: the next caller computes at once
var_dump(shmcache_entry('boom', fn($k) => 'ok'));
var_dump(shmcache_entry('tagged', fn($k) => 1, 0, ['group']));
shmcache_invalidate_tag('group');
var_dump(shmcache_exists('tagged'), shmcache_entry('tagged', fn($k) => 2, 0, ['group']));
?>
--EXPECT--
array(1) {
  ["for"]=>
  string(1) "e"
}
array(1) {
  ["for"]=>
  string(1) "e"
}
int(1)
caught no
bool(false)
string(2) "ok"
int(1)
bool(false)
int(2)
