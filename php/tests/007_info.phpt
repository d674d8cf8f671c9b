--TEST--
cache_info, sma_info, key_info and stats have APCu's keys filled from the segment
--INI--
shmcache.enable_cli=1
shmcache.capacity=1024
shmcache.memory=4M
--FILE--
<?php
shmcache_store('a', 'x'); shmcache_fetch('a'); shmcache_fetch('miss');
$i = shmcache_cache_info();
var_dump($i['num_slots'], $i['num_entries'], $i['num_hits'], $i['num_misses'], $i['memory_type']);
var_dump(count($i['cache_list']), $i['cache_list'][0]['info']);
var_dump(isset(shmcache_cache_info(true)['cache_list']));
$s = shmcache_sma_info();
var_dump($s['num_seg'], $s['seg_size'], $s['avail_mem'] < $s['seg_size']);
var_dump(shmcache_key_info('a')['mem_size'], shmcache_key_info('none'));
$st = shmcache_stats();
var_dump($st['limit_maxbytes'], $st['cmd_set'], $st['attached_processes']);
var_dump(shmcache_clear_cache(), shmcache_fetch('a'), shmcache_stats()['generation']);
?>
--EXPECT--
int(1024)
int(1)
int(1)
int(1)
string(8) "shmcache"
int(1)
string(1) "a"
bool(false)
int(1)
int(4194304)
bool(true)
int(2)
NULL
int(4194304)
int(1)
int(1)
bool(true)
bool(false)
int(1)
