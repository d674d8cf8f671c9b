<?php
// The extension's functions and class as PHP sees them: for readers and
// IDEs. php/shmcache_arginfo.h holds the same, for the engine (written by
// hand: gen_stub.php needs a PHP parser Debian does not ship).

/** @generate-class-entries */

const SHMCACHE_ITER_TYPE = 1;
const SHMCACHE_ITER_KEY = 2;
const SHMCACHE_ITER_VALUE = 4;
const SHMCACHE_ITER_MEM_SIZE = 512;
const SHMCACHE_ITER_TTL = 1024;
const SHMCACHE_ITER_NONE = 0;
const SHMCACHE_ITER_ALL = 0xffffffffff;
const SHMCACHE_LIST_ACTIVE = 1;
const SHMCACHE_LIST_DELETED = 2;

function shmcache_fetch(array|string $key, &$success = null): mixed {}
/** @return bool|array<string,int> the failed keys (=> -1) in the array form */
function shmcache_store(array|string $key, mixed $var = null, int $ttl = 0, array $tags = []): bool|array {}
function shmcache_add(array|string $key, mixed $var = null, int $ttl = 0, array $tags = []): bool|array {}
function shmcache_delete(mixed $key): bool|array {}
function shmcache_exists(array|string $key): bool|array {}
function shmcache_inc(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false {}
function shmcache_dec(string $key, int $step = 1, &$success = null, int $ttl = 0): int|false {}
function shmcache_cas(string $key, int $old, int $new): bool {}
function shmcache_entry(string $key, callable $callback, int $ttl = 0, array $tags = []): mixed {}
function shmcache_clear_cache(): bool {}
function shmcache_cache_info(bool $limited = false): array|false {}
function shmcache_sma_info(bool $limited = false): array|false {}
function shmcache_key_info(string $key): ?array {}
function shmcache_enabled(): bool {}
function shmcache_invalidate_tag(string $tag): bool {}
function shmcache_stats(): array|false {}

class ShmcacheIterator implements Iterator
{
    public function __construct(array|string|null $search = null, int $format = SHMCACHE_ITER_ALL,
                                int $chunk_size = 0, int $list = SHMCACHE_LIST_ACTIVE, ?string $prefix = null) {}
    public function rewind(): void {}
    public function next(): void {}
    public function valid(): bool {}
    public function key(): mixed {}
    public function current(): mixed {}
    public function getTotalHits(): int {}
    public function getTotalSize(): int {}
    public function getTotalCount(): int {}
}
