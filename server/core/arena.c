/*
 * arena.c — bump allocator (see arena.h).
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    _Alignas(16) char data[];
};

static void *arena_pb_alloc(void *ctx, size_t n)
{
    return arena_alloc(ctx, n);
}

static void arena_pb_free(void *ctx, void *p)
{
    (void)ctx;
    (void)p;
}

void arena_init(struct arena *a, size_t limit)
{
    a->blocks = NULL;
    a->cur = a->inline_block;
    a->end = a->inline_block + ARENA_INLINE;
    a->total = 0;
    a->limit = limit;
    a->exhausted = 0;
    a->pb.alloc = arena_pb_alloc;
    a->pb.free = arena_pb_free;
    a->pb.allocator_data = a;
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n || (a->limit && a->total + need > a->limit)) {
        a->exhausted = 1;
        return NULL;
    }
    if ((size_t)(a->end - a->cur) < need) {
        size_t bsize = 16384;
        while (bsize < need) {
            if (bsize > SIZE_MAX / 4) {
                return NULL;
            }
            bsize *= 2;
        }
        /* grow geometrically with what we have used so far */
        if (bsize < a->total) {
            bsize = a->total < (SIZE_MAX / 2) ? a->total : bsize;
        }
        struct arena_block *b = malloc(sizeof(*b) + bsize);
        if (b == NULL) {
            a->exhausted = 1;
            return NULL;
        }
        b->size = bsize;
        b->next = a->blocks;
        a->blocks = b;
        a->cur = b->data;
        a->end = b->data + bsize;
    }
    void *p = a->cur;
    a->cur += need;
    a->total += need;
    return p;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
    void *d = arena_alloc(a, n ? n : 1);
    if (d && n) {
        memcpy(d, p, n);
    }
    return d;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *d = arena_alloc(a, n + 1);
    if (d) {
        if (n) {
            memcpy(d, s, n);
        }
        d[n] = '\0';
    }
    return d;
}

void arena_release(struct arena *a)
{
    struct arena_block *b = a->blocks;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->cur = a->inline_block;
    a->end = a->inline_block + ARENA_INLINE;
    a->total = 0;
    a->exhausted = 0;
}
