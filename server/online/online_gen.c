/*
 * online_gen.c — a view's generations in Redis (contract in online_gen.h):
 * allocation (a script on genseq), the current pointer (GET, SET ... GET,
 * SET NX) and reclaim (SCAN MATCH over the entity keys + HDEL of the
 * generation's field; UNLINK for the previous layout's keys). Blocking
 * hiredis on a caller-owned context: the materializer thread and featd-cli,
 * never a worker.
 */
#include "online/online_gen.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "online/online_key.h"
#include "redis/rbcluster.h"
#include "redis/rblock.h"

/* ---- generation control ---- */

/* A generation number from a reply: nil -> 0, a decimal string or an
 * integer >= 0. FEATD_ERR on anything else. */
int online_gen_parse(const redisReply *r, uint64_t *gen)
{
    if (r->type == REDIS_REPLY_NIL) {
        *gen = 0;
        return FEATD_OK;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0) {
            return FEATD_ERR;
        }
        *gen = (uint64_t)r->integer;
        return FEATD_OK;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 20) {
        return FEATD_ERR;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < r->len; i++) {
        unsigned d = (unsigned char)r->str[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return FEATD_ERR;
        }
        v = v * 10 + d;
    }
    *gen = v;
    return FEATD_OK;
}

static int meta_key(struct fbuf *k, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix, char *err, size_t errlen)
{
    if (online_key_meta(k, key_prefix, v, suffix) != FEATD_OK) {
        fbuf_free(k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/*
 * Generation numbers never repeat, even when genseq is lost (FLUSHALL,
 * eviction, a new Redis): a new one is g = max(genseq + 1, now), now being
 * Redis's clock in tenths of a second since ONLINE_GEN_EPOCH, and it is
 * handed out only once that clock has passed g. Every number handed out is
 * therefore older than the clock, so a lost counter restarts past all of
 * them. (Only a counter lost within the same tenth of a second as a
 * concurrent allocation could repeat one.) They stay below 2^31, which
 * Redis stores as a 4-byte integer field in a small hash, until 2032-10.
 * The script returns { g, now }.
 */
static const char online_alloc_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = (tonumber(t[1]) - tonumber(ARGV[1])) * 10 + math.floor(tonumber(t[2]) / 100000)\n"
    "local g = tonumber(redis.call('GET', KEYS[1]) or '0') + 1\n"
    "if now > g then g = now end\n"
    "redis.call('SET', KEYS[1], string.format('%d', g))\n"
    "return { g, now }\n";

int online_gen_alloc(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     uint64_t *gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (online_key_genseq(&k, key_prefix) != FEATD_OK) {
        fbuf_free(&k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "allocate generation", "EVAL %s 1 %b %lld",
                                   online_alloc_lua, k.data, k.len, (long long)ONLINE_GEN_EPOCH);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        rblock_seterr_reply(c, "allocate generation", r, err, errlen);
        rc = FEATD_ERR;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 1 ||
               r->element[1]->type != REDIS_REPLY_INTEGER) {
        util_seterr(err, errlen, "view %s: bad generation sequence reply", v->name);
        rc = FEATD_ERR;
    } else {
        *gen = (uint64_t)r->element[0]->integer;
        long long ahead = r->element[0]->integer - r->element[1]->integer;
        if (ahead >= 0) {
            /* wait until Redis's clock has passed the number (<= 0.1 s unless
             * many were allocated at once) */
            long long us = (ahead + 1) * 100000;
            struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    freeReplyObject(r);
    return rc;
}

int online_gen_current(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t *gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "GET current", "GET %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = online_gen_parse(r, gen);
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "view %s: current generation is not a number", v->name);
    }
    freeReplyObject(r);
    return rc;
}

/* SET current G GET (Redis >= 6.2): one atomic step, returns the old one.
 * The caller must have flushed its writers into generation gen first. */
int online_gen_flip(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, uint64_t *old_gen, char *err, size_t errlen)
{
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: cannot flip to generation 0", v->name);
        return FEATD_ERR;
    }
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "SET current GET", "SET %b %llu GET", k.data,
                            k.len, (unsigned long long)gen);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    uint64_t old = 0;
    int rc = online_gen_parse(r, &old);
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "view %s: previous generation was not a number", v->name);
    } else if (old_gen) {
        *old_gen = old;
    }
    freeReplyObject(r);
    return rc;
}

int online_gen_held_set(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        uint64_t gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "held", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = gen ? rblock_command(c, err, errlen, "SET held", "SET %b %llu", k.data, k.len,
                                         (unsigned long long)gen)
                        : rblock_command(c, err, errlen, "DEL held", "DEL %b", k.data, k.len);
    fbuf_free(&k);
    freeReplyObject(r);
    return r != NULL ? FEATD_OK : FEATD_ERR;
}

/* What a reclaim does with each page of keys SCAN returns. */
enum scan_action {
    SCAN_HDEL,      /* HDEL key <field>: one generation's rows */
    SCAN_HEXISTS,   /* HEXISTS key <field>: count one generation's rows */
    SCAN_UNLINK     /* UNLINK the keys (the previous layout's) */
};

/* Runs the page's HDELs or HEXISTSs (one pipelined command per key) or one
 * UNLINK; adds the fields or keys removed (found) to *deleted. */
static int scan_page(redisContext *c, enum scan_action act, const char *field, size_t fieldlen,
                     const redisReply *keys, uint64_t *deleted, char *err, size_t errlen)
{
    if (act == SCAN_UNLINK) {
        const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
        size_t *argvlen = malloc((keys->elements + 1) * sizeof(*argvlen));
        if (argv == NULL || argvlen == NULL) {
            free(argv);
            free(argvlen);
            util_seterr(err, errlen, "out of memory");
            return FEATD_ERR;
        }
        argv[0] = "UNLINK";
        argvlen[0] = 6;
        size_t n = 1;
        for (size_t i = 0; i < keys->elements; i++) {
            if (keys->element[i]->type == REDIS_REPLY_STRING) {
                argv[n] = keys->element[i]->str;
                argvlen[n++] = keys->element[i]->len;
            }
        }
        int rc = FEATD_OK;
        if (n > 1) {
            redisReply *u = rblock_command_argv(c, err, errlen, "UNLINK", (int)n, argv, argvlen);
            if (u == NULL) {
                rc = FEATD_ERR;
            } else if (u->type == REDIS_REPLY_INTEGER && u->integer > 0) {
                *deleted += (uint64_t)u->integer;
            }
            freeReplyObject(u);
        }
        free(argv);
        free(argvlen);
        return rc;
    }
    size_t sent = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type == REDIS_REPLY_STRING &&
            redisAppendCommand(c, act == SCAN_HDEL ? "HDEL %b %b" : "HEXISTS %b %b", k->str,
                               k->len, field, fieldlen) == REDIS_OK) {
            sent++;
        }
    }
    int rc = FEATD_OK;
    for (size_t i = 0; i < sent; i++) {
        void *rv = NULL;
        const char *cmd = act == SCAN_HDEL ? "HDEL" : "HEXISTS";
        if (redisGetReply(c, &rv) != REDIS_OK || rv == NULL) {
            rblock_seterr(c, cmd, err, errlen);
            return FEATD_ERR;   /* the context is dead */
        }
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
            *deleted += (uint64_t)r->integer;
        } else if (r->type == REDIS_REPLY_ERROR && r->len >= 9 &&
                   memcmp(r->str, "WRONGTYPE", 9) == 0) {
            /* not one of our hashes under our prefix: leave it */
        } else if (r->type == REDIS_REPLY_ERROR && rc == FEATD_OK) {
            rblock_seterr_reply(c, cmd, r, err, errlen);
            rc = FEATD_ERR;
        }
        freeReplyObject(r);
    }
    return rc;
}

/*
 * SCAN 0 MATCH pat COUNT count, applying act to each page's keys, until the
 * cursor returns to 0. Paced: after each page it sleeps as long as the page
 * took, leaving Redis at least half of its time for others. When *stop
 * becomes non-zero it returns FEATD_EAGAIN between pages.
 */
static int scan_apply(redisContext *c, const struct fbuf *pat, enum scan_action act,
                      const char *field, size_t fieldlen, unsigned count, bool paced,
                      const _Atomic int *stop, const char *what, uint64_t *deleted, char *err,
                      size_t errlen)
{
    int rc = FEATD_OK;
    char cursor[32] = "0";
    do {
        int64_t t0 = util_mono_us();
        redisReply *r = rblock_command(c, err, errlen, "SCAN", "SCAN %s MATCH %b COUNT %u", cursor,
                                       pat->data, pat->len, count);
        if (r == NULL) {
            return FEATD_ERR;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
            r->element[0]->len >= sizeof(cursor) || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rblock_seterr_reply(c, "SCAN", r, err, errlen);
            freeReplyObject(r);
            return FEATD_ERR;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        if (r->element[1]->elements > 0) {
            rc = scan_page(c, act, field, fieldlen, r->element[1], deleted, err, errlen);
        }
        freeReplyObject(r);
        int64_t spent = util_mono_us() - t0;
        if (paced && rc == FEATD_OK && spent > 0) {
            struct timespec ts = { (time_t)(spent / 1000000), (long)(spent % 1000000) * 1000 };
            nanosleep(&ts, NULL);
        }
        if (rc == FEATD_OK && stop != NULL && atomic_load(stop) && strcmp(cursor, "0") != 0) {
            util_seterr(err, errlen, "%s interrupted", what);
            rc = FEATD_EAGAIN;
        }
    } while (rc == FEATD_OK && strcmp(cursor, "0") != 0);
    return rc;
}

/*
 * Removes generation gen's field from every entity hash. Refuses generation
 * 0 and the view's current generation (that would drop live data). Rows
 * written into gen while the scan runs may survive; reclaim only
 * generations nobody writes any more.
 */
/* The reclaim's guard on the view's node: gen is neither 0 nor current. */
static int reclaim_check(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         uint64_t gen, char *err, size_t errlen)
{
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: cannot reclaim generation 0", v->name);
        return FEATD_ERR;
    }
    uint64_t cur = 0;
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur == gen) {
        util_seterr(err, errlen,
                    "view %s: refusing to reclaim generation %" PRIu64 ", it is current",
                    v->name, gen);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* Generation gen's rows on the node of c (no guard: reclaim_check first). */
static int reclaim_node(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                        uint64_t *deleted, char *err, size_t errlen)
{
    struct fbuf pat = { 0 };
    if (online_key_row_pattern(&pat, key_prefix) != FEATD_OK) {
        fbuf_free(&pat);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    char field[ONLINE_FIELD_MAX], what[160];
    size_t fieldlen = online_key_field(field, gen);
    snprintf(what, sizeof(what), "view %s: reclaim of generation %" PRIu64, v->name, gen);
    int rc = scan_apply(c, &pat, SCAN_HDEL, field, fieldlen, count, paced, stop, what, deleted,
                        err, errlen);
    fbuf_free(&pat);
    return rc;
}

static int gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                       uint64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    if (reclaim_check(c, key_prefix, v, gen, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    return reclaim_node(c, key_prefix, v, gen, count, paced, stop, deleted, err, errlen);
}

int online_gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, uint64_t *deleted, char *err, size_t errlen)
{
    return gen_reclaim(c, key_prefix, v, gen, 1000, false, NULL, deleted, err, errlen);
}

int online_gen_reclaim_paced(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             uint64_t gen, unsigned count, const _Atomic int *stop,
                             uint64_t *deleted, char *err, size_t errlen)
{
    return gen_reclaim(c, key_prefix, v, gen, count ? count : 1000, true, stop, deleted, err, errlen);
}

/* Adds generation gen's rows on the node of c to *count. */
static int count_node(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t gen, const _Atomic int *stop, uint64_t *count, char *err,
                      size_t errlen)
{
    struct fbuf pat = { 0 };
    if (online_key_row_pattern(&pat, key_prefix) != FEATD_OK) {
        fbuf_free(&pat);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    char field[ONLINE_FIELD_MAX], what[160];
    size_t fieldlen = online_key_field(field, gen);
    snprintf(what, sizeof(what), "view %s: count of generation %" PRIu64 "'s rows", v->name, gen);
    int rc = scan_apply(c, &pat, SCAN_HEXISTS, field, fieldlen, 1000, true, stop, what, count,
                        err, errlen);
    fbuf_free(&pat);
    return rc;
}

int online_gen_count_rows(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, const _Atomic int *stop, uint64_t *count, char *err,
                          size_t errlen)
{
    *count = 0;
    return count_node(c, key_prefix, v, gen, stop, count, err, errlen);
}

/* ---- generations being written ---- */

/* One command on the view's building hash: fmt takes the key ("%b"), gen
 * ("%llu") and, for HSET only, deadline ("%lld"; other formats leave it
 * unread). Its integer reply into *out. */
static int building_cmd(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        const char *what, const char *fmt, uint64_t gen, long long deadline,
                        long long *out, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "building", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, what, fmt, k.data, k.len,
                                   (unsigned long long)gen, deadline);
    fbuf_free(&k);
    int rc = FEATD_ERR;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        rc = FEATD_OK;
    } else if (r != NULL) {
        rblock_seterr_reply(c, what, r, err, errlen);
    }
    freeReplyObject(r);
    return rc;
}

int online_gen_building_mark(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             uint64_t gen, char *err, size_t errlen)
{
    long long n;
    return building_cmd(c, key_prefix, v, "HSET building", "HSET %b %llu %lld", gen,
                        util_now_us() / 1000 + ONLINE_BUILD_LEASE_MS, &n, err, errlen);
}

int online_gen_building_clear(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                              uint64_t gen, char *err, size_t errlen)
{
    long long n;
    return building_cmd(c, key_prefix, v, "HDEL building", "HDEL %b %llu", gen, 0, &n, err,
                        errlen);
}

int online_gen_building_has(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            uint64_t gen, bool *has, char *err, size_t errlen)
{
    long long n = 0;
    int rc = building_cmd(c, key_prefix, v, "HEXISTS building", "HEXISTS %b %llu", gen, 0, &n,
                          err, errlen);
    *has = rc == FEATD_OK && n == 1;
    return rc;
}

int online_gen_building_dead(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                             int64_t now_ms, uint64_t *gens, size_t cap, size_t *n, char *err,
                             size_t errlen)
{
    *n = 0;
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "building", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "HGETALL building", "HGETALL %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        rblock_seterr_reply(c, "HGETALL building", r, err, errlen);
        freeReplyObject(r);
        return FEATD_ERR;
    }
    for (size_t i = 0; i + 1 < r->elements && *n < cap; i += 2) {
        uint64_t g = 0;
        int64_t deadline = 0;
        char num[32];
        const redisReply *dl = r->element[i + 1];
        bool ok = online_gen_parse(r->element[i], &g) == FEATD_OK && g != 0 &&
                  dl->type == REDIS_REPLY_STRING && dl->len < sizeof(num);
        if (ok) {
            memcpy(num, dl->str, dl->len);
            num[dl->len] = '\0';
            ok = util_parse_i64(num, 0, INT64_MAX, &deadline);
        }
        if (ok && deadline < now_ms) {
            gens[(*n)++] = g;
        }
    }
    freeReplyObject(r);
    return FEATD_OK;
}

int online_gen_v1_present(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          bool *present, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (online_key_v1_current(&k, key_prefix, v) != FEATD_OK) {
        fbuf_free(&k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "EXISTS", "EXISTS %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type == REDIS_REPLY_INTEGER) {
        *present = r->integer > 0;
    } else {
        rblock_seterr_reply(c, "EXISTS", r, err, errlen);
        rc = FEATD_ERR;
    }
    freeReplyObject(r);
    return rc;
}

/* Adds the previous layout's keys removed on the node of c to *deleted. */
static int v1_purge_node(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         unsigned count, const _Atomic int *stop, uint64_t *deleted, char *err,
                         size_t errlen)
{
    struct fbuf pat = { 0 };
    if (online_key_v1_pattern(&pat, key_prefix, v) != FEATD_OK) {
        fbuf_free(&pat);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    char what[160];
    snprintf(what, sizeof(what), "view %s: removal of the layout " ONLINE_LAYOUT_PREVIOUS " keys",
             v->name);
    int rc = scan_apply(c, &pat, SCAN_UNLINK, NULL, 0, count ? count : 1000, true, stop, what,
                        deleted, err, errlen);
    fbuf_free(&pat);
    return rc;
}

int online_gen_v1_purge(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        unsigned count, const _Atomic int *stop, uint64_t *deleted, char *err,
                        size_t errlen)
{
    *deleted = 0;
    return v1_purge_node(c, key_prefix, v, count, stop, deleted, err, errlen);
}

/* GET current; when absent, allocate one and SET current NX. If another
 * writer won the race, its generation is returned (ours is left unused). */
static int gen_ensure(redisContext *c, redisContext *gc, const char *key_prefix,
                      const struct cfg_view *v, uint64_t *gen, char *err, size_t errlen)
{
    uint64_t cur = 0;
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur != 0) {
        *gen = cur;
        return FEATD_OK;
    }
    uint64_t g = 0;
    if (online_gen_alloc(gc, key_prefix, v, &g, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "current", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "SET current NX", "SET %b %llu NX", k.data, k.len,
                            (unsigned long long)g);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    bool won = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    /* nothing is written into g before it is current: it never needs
     * registering as being built */
    if (won) {
        *gen = g;
        return FEATD_OK;
    }
    if (online_gen_current(c, key_prefix, v, &cur, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cur == 0) {
        util_seterr(err, errlen, "view %s: current generation vanished during ensure",
                      v->name);
        return FEATD_ERR;
    }
    *gen = cur;
    return FEATD_OK;
}


int online_gen_ensure(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t *gen, char *err, size_t errlen)
{
    return gen_ensure(c, c, key_prefix, v, gen, err, errlen);
}

/* ---- routed ---- */

/* The context of the node owning key k (freed here), or NULL with err. */
static redisContext *key_ctx(struct rbcluster *rc, struct fbuf *k, int built, char *err,
                             size_t errlen)
{
    if (built != FEATD_OK) {
        fbuf_free(k);
        util_seterr(err, errlen, "out of memory");
        return NULL;
    }
    redisContext *c = rbcluster_ctx_for_key(rc, k->data, k->len, err, errlen);
    fbuf_free(k);
    return c;
}

redisContext *online_gen_view_ctx(struct rbcluster *rc, const char *key_prefix,
                                  const struct cfg_view *v, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    return key_ctx(rc, &k, online_key_meta(&k, key_prefix, v, "current"), err, errlen);
}

static redisContext *genseq_ctx(struct rbcluster *rc, const char *key_prefix, char *err,
                                size_t errlen)
{
    struct fbuf k = { 0 };
    return key_ctx(rc, &k, online_key_genseq(&k, key_prefix), err, errlen);
}

int online_gen_alloc_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                        uint64_t *gen, char *err, size_t errlen)
{
    redisContext *c = genseq_ctx(rc, key_prefix, err, errlen);
    return c == NULL ? FEATD_ERR : online_gen_alloc(c, key_prefix, v, gen, err, errlen);
}

int online_gen_ensure_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                         uint64_t *gen, char *err, size_t errlen)
{
    redisContext *c = online_gen_view_ctx(rc, key_prefix, v, err, errlen);
    redisContext *gc = c == NULL ? NULL : genseq_ctx(rc, key_prefix, err, errlen);
    if (gc == NULL) {
        return FEATD_ERR;
    }
    /* both fetched before either is used: neither reconnect invalidates the other */
    return gen_ensure(c, gc, key_prefix, v, gen, err, errlen);
}

/* What a per-master pass does on one node, adding to *n. */
typedef int (*node_fn)(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, unsigned count, const _Atomic int *stop, uint64_t *n,
                       char *err, size_t errlen);

/* fn on every master of rc's current map in turn; stops at the first error
 * or interruption (FEATD_EAGAIN). */
static int each_master(struct rbcluster *rc, node_fn fn, const char *key_prefix,
                       const struct cfg_view *v, uint64_t gen, unsigned count,
                       const _Atomic int *stop, uint64_t *n, char *err, size_t errlen)
{
    size_t nm = rbcluster_nmasters(rc);
    for (size_t k = 0; k < nm; k++) {
        redisContext *c = rbcluster_master_ctx(rc, k, err, errlen);
        if (c == NULL) {
            return FEATD_ERR;
        }
        int r = fn(c, key_prefix, v, gen, count, stop, n, err, errlen);
        if (r != FEATD_OK) {
            return r;
        }
    }
    return FEATD_OK;
}

static int reclaim_fn(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t gen, unsigned count, const _Atomic int *stop, uint64_t *n,
                      char *err, size_t errlen)
{
    return reclaim_node(c, key_prefix, v, gen, count, true, stop, n, err, errlen);
}

static int reclaim_fast_fn(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                           uint64_t gen, unsigned count, const _Atomic int *stop, uint64_t *n,
                           char *err, size_t errlen)
{
    return reclaim_node(c, key_prefix, v, gen, count, false, stop, n, err, errlen);
}

static int count_fn(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, unsigned count, const _Atomic int *stop, uint64_t *n,
                    char *err, size_t errlen)
{
    (void)count;
    return count_node(c, key_prefix, v, gen, stop, n, err, errlen);
}

static int purge_fn(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                    uint64_t gen, unsigned count, const _Atomic int *stop, uint64_t *n,
                    char *err, size_t errlen)
{
    (void)gen;
    return v1_purge_node(c, key_prefix, v, count, stop, n, err, errlen);
}

int online_gen_reclaim_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                          uint64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    redisContext *c = online_gen_view_ctx(rc, key_prefix, v, err, errlen);
    if (c == NULL || reclaim_check(c, key_prefix, v, gen, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    return each_master(rc, paced ? reclaim_fn : reclaim_fast_fn, key_prefix, v, gen,
                       count ? count : 1000, stop, deleted, err, errlen);
}

int online_gen_count_rows_rb(struct rbcluster *rc, const char *key_prefix,
                             const struct cfg_view *v, uint64_t gen, const _Atomic int *stop,
                             uint64_t *count, char *err, size_t errlen)
{
    *count = 0;
    return each_master(rc, count_fn, key_prefix, v, gen, 1000, stop, count, err, errlen);
}

int online_gen_v1_present_rb(struct rbcluster *rc, const char *key_prefix,
                             const struct cfg_view *v, bool *present, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    redisContext *c = key_ctx(rc, &k, online_key_v1_current(&k, key_prefix, v), err, errlen);
    return c == NULL ? FEATD_ERR : online_gen_v1_present(c, key_prefix, v, present, err, errlen);
}

int online_gen_v1_purge_rb(struct rbcluster *rc, const char *key_prefix, const struct cfg_view *v,
                           unsigned count, const _Atomic int *stop, uint64_t *deleted, char *err,
                           size_t errlen)
{
    *deleted = 0;
    return each_master(rc, purge_fn, key_prefix, v, 0, count ? count : 1000, stop, deleted, err,
                       errlen);
}
