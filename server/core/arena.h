/*
 * arena.h — a bump allocator for per-request memory: one arena per request,
 * everything freed at once. Usable as a protobuf-c allocator (free is a no-op).
 * The first block is embedded so that small requests make no malloc at all
 * beyond the arena's owner.
 */
#ifndef FEATD_ARENA_H
#define FEATD_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#define ARENA_INLINE 4096

struct arena_block;

struct arena {
    struct arena_block *blocks;     /* extra malloc'd blocks, newest first */
    char *cur;                      /* bump pointer in the current block */
    char *end;
    size_t total;                   /* bytes handed out (for limits/metrics) */
    size_t limit;                   /* 0 = none; allocations past it fail */
    int exhausted;                  /* an allocation failed (limit or malloc) */
    ProtobufCAllocator pb;          /* protobuf-c adapter bound to this arena */
    _Alignas(16) char inline_block[ARENA_INLINE];
};

/* Makes a empty with a byte limit (0 = none); allocates nothing. The arena's
 * owner (one thread) calls arena_release when done with its memory. */
void arena_init(struct arena *a, size_t limit);
/* 16-byte aligned; NULL when out of memory or over the limit. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_memdup(struct arena *a, const void *p, size_t n);
/* Copies n bytes and appends a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Frees the extra blocks; the arena may be reused after arena_init. */
void arena_release(struct arena *a);

#endif
