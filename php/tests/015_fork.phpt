--TEST--
A handle inherited across fork (as FPM workers inherit the master's): the child reads, deletes, and counts as a second process
--SKIPIF--
<?php if (!function_exists('pcntl_fork')) die('skip pcntl not available'); ?>
--INI--
shmcache.enable_cli=1
--FILE--
<?php
shmcache_store('x', 'from parent');
shmcache_store('gone', 1);
$pid = pcntl_fork();
if ($pid === 0) {
    $ok = shmcache_fetch('x') === 'from parent' && shmcache_delete('gone')
          && shmcache_stats()['attached_processes'] === 2;
    exit($ok ? 0 : 1);
}
pcntl_waitpid($pid, $status);
var_dump(pcntl_wexitstatus($status), shmcache_exists('gone'), shmcache_stats()['attached_processes']);
?>
--EXPECT--
int(0)
bool(false)
int(1)
