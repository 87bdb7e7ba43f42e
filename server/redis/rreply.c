/*
 * rreply.c — hiredis reply objects from a per-link arena (see rreply.h).
 *
 * hiredis parses one top-level reply at a time and frees it (freeObject on
 * the root only) before it starts the next, so one arena per link suffices:
 * objects of the reply being parsed are bump-allocated, and freeing the root
 * releases them all. The root carries a pointer back to its arena because
 * freeObject gets no context. The arena is reference-counted: one reference
 * for the link, one per live root, since hiredis frees a half-parsed reply
 * only after the event adapter's cleanup (where the link lets go).
 */
#include "redis/rreply.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

#define RREPLY_KEEP_READBUF (1u << 20)

struct rreply {
    int refs;
    int live_roots;
    struct arena arena;
};

struct rreply_root {
    struct rreply *owner;
    redisReply reply;
};

static void rreply_unref(struct rreply *rr)
{
    if (--rr->refs == 0) {
        arena_release(&rr->arena);
        free(rr);
    }
}

/* A zeroed reply of the given type, linked into its parent array. */
static redisReply *rreply_new(const redisReadTask *task, int type)
{
    struct rreply *rr = task->privdata;
    redisReply *r;
    if (task->parent == NULL) {
        struct rreply_root *root = arena_alloc(&rr->arena, sizeof(*root));
        if (root == NULL) {
            return NULL;
        }
        root->owner = rr;
        rr->refs++;
        rr->live_roots++;
        r = &root->reply;
    } else {
        r = arena_alloc(&rr->arena, sizeof(*r));
        if (r == NULL) {
            return NULL;
        }
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    memset(r, 0, sizeof(*r));
    r->type = type;
    return r;
}

static void *rreply_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = rreply_new(task, task->type);
    if (r == NULL) {
        return NULL;
    }
    struct rreply *rr = task->privdata;
    r->str = arena_strndup(&rr->arena, str, len);
    if (r->str == NULL) {
        return NULL;    /* hiredis reports out of memory and frees the root */
    }
    r->len = len;
    return r;
}

static void *rreply_array(const redisReadTask *task, int elements)
{
    redisReply *r = rreply_new(task, REDIS_REPLY_ARRAY);
    if (r == NULL) {
        return NULL;
    }
    if (elements > 0) {
        struct rreply *rr = task->privdata;
        r->element = arena_alloc(&rr->arena, sizeof(*r->element) * (size_t)elements);
        if (r->element == NULL) {
            return NULL;
        }
        memset(r->element, 0, sizeof(*r->element) * (size_t)elements);
    }
    r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *rreply_integer(const redisReadTask *task, long long value)
{
    redisReply *r = rreply_new(task, REDIS_REPLY_INTEGER);
    if (r) {
        r->integer = value;
    }
    return r;
}

static void *rreply_nil(const redisReadTask *task)
{
    return rreply_new(task, REDIS_REPLY_NIL);
}

/* hiredis calls this with roots only. */
static void rreply_free(void *obj)
{
    if (obj == NULL) {
        return;
    }
    struct rreply_root *root =
        (struct rreply_root *)(void *)((char *)obj - offsetof(struct rreply_root, reply));
    struct rreply *rr = root->owner;
    if (--rr->live_roots == 0) {
        arena_release(&rr->arena);
    }
    rreply_unref(rr);
}

static redisReplyObjectFunctions rreply_fns = {
    .createString = rreply_string,
    .createArray = rreply_array,
    .createInteger = rreply_integer,
    .createNil = rreply_nil,
    .freeObject = rreply_free,
};

struct rreply *rreply_attach(redisReader *r)
{
    struct rreply *rr = malloc(sizeof(*rr));
    if (rr == NULL || r == NULL) {
        free(rr);
        return NULL;
    }
    rr->refs = 1;
    rr->live_roots = 0;
    arena_init(&rr->arena, 0);
    r->fn = &rreply_fns;
    r->privdata = rr;
    r->maxbuf = RREPLY_KEEP_READBUF;
    return rr;
}

void rreply_detach(struct rreply *rr)
{
    if (rr) {
        rreply_unref(rr);
    }
}
