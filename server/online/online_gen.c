/*
 * online_gen.c — a view's generations in Redis (contract in online_gen.h):
 * allocation (INCR genseq), the current pointer (GET, SET ... GET, SET NX)
 * and reclaim (SCAN MATCH + UNLINK). Blocking hiredis on a caller-owned
 * context: the materializer thread and featd-cli, never a worker.
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

int online_gen_alloc(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     uint64_t *gen, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (meta_key(&k, key_prefix, v, "genseq", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "INCR genseq", "INCR %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 1) {
        util_seterr(err, errlen, "view %s: bad generation sequence reply", v->name);
        rc = FEATD_ERR;
    } else {
        *gen = (uint64_t)r->integer;
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

/* Appends s to out with the glob metacharacters of SCAN MATCH escaped. */
static int glob_escape(struct fbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if ((ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\' || ch == '^' ||
             ch == '-') && fbuf_putc(out, '\\') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        if (fbuf_putc(out, ch) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/*
 * SCAN 0 MATCH "<prefix>g<G>:*" COUNT 1000, UNLINKing each page's keys, until
 * the cursor returns to 0. Refuses generation 0 and the view's current
 * generation (that would drop live data). Keys written into gen while the
 * scan runs may survive; reclaim only generations nobody writes any more.
 */
static int gen_reclaim(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                       uint64_t gen, unsigned count, bool paced, const _Atomic int *stop,
                       uint64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
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
    struct fbuf prefix = { 0 };
    struct fbuf pat = { 0 };
    if (online_key_view_prefix(&prefix, key_prefix, v) != FEATD_OK ||
        glob_escape(&pat, prefix.data, prefix.len) != FEATD_OK ||
        fbuf_appendf(&pat, "g%" PRIu64 ":*", gen) != FEATD_OK) {
        fbuf_free(&prefix);
        fbuf_free(&pat);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    fbuf_free(&prefix);

    int rc = FEATD_OK;
    char cursor[32] = "0";
    const char **argv = NULL;
    size_t *argvlen = NULL;
    size_t cap = 0;
    do {
        int64_t t0 = util_mono_us();
        redisReply *r = rblock_command(c, err, errlen, "SCAN", "SCAN %s MATCH %b COUNT %u", cursor,
                                pat.data, pat.len, count);
        if (r == NULL) {
            rc = FEATD_ERR;
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
            r->element[0]->len >= sizeof(cursor) || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rblock_seterr_reply(c, "SCAN", r, err, errlen);
            freeReplyObject(r);
            rc = FEATD_ERR;
            break;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        redisReply *keys = r->element[1];
        if (keys->elements > 0) {
            size_t need = keys->elements + 1;
            if (need > cap) {
                const char **na = realloc(argv, need * sizeof(*na));
                if (na) {
                    argv = na;
                }
                size_t *nl = realloc(argvlen, need * sizeof(*nl));
                if (nl) {
                    argvlen = nl;
                }
                if (na == NULL || nl == NULL) {
                    util_seterr(err, errlen, "out of memory");
                    freeReplyObject(r);
                    rc = FEATD_ERR;
                    break;
                }
                cap = need;
            }
            argv[0] = "UNLINK";
            argvlen[0] = 6;
            size_t n = 1;
            for (size_t i = 0; i < keys->elements; i++) {
                if (keys->element[i]->type == REDIS_REPLY_STRING) {
                    argv[n] = keys->element[i]->str;
                    argvlen[n] = keys->element[i]->len;
                    n++;
                }
            }
            redisReply *u = NULL;
            if (n > 1) {
                u = rblock_command_argv(c, err, errlen, "UNLINK", (int)n, argv, argvlen);
                if (u == NULL) {
                    rc = FEATD_ERR;
                } else if (u->type == REDIS_REPLY_INTEGER) {
                    *deleted += (uint64_t)(u->integer > 0 ? u->integer : 0);
                }
                freeReplyObject(u);
            }
        }
        freeReplyObject(r);
        int64_t spent = util_mono_us() - t0;
        if (paced && rc == FEATD_OK && spent > 0) {
            /* leave Redis at least half of its time for others */
            struct timespec ts = { (time_t)(spent / 1000000), (long)(spent % 1000000) * 1000 };
            nanosleep(&ts, NULL);
        }
        if (rc == FEATD_OK && stop != NULL && atomic_load(stop) && strcmp(cursor, "0") != 0) {
            util_seterr(err, errlen, "view %s: reclaim of generation %" PRIu64 " interrupted",
                        v->name, gen);
            rc = FEATD_EAGAIN;
        }
    } while (rc == FEATD_OK && strcmp(cursor, "0") != 0);
    free(argv);
    free(argvlen);
    fbuf_free(&pat);
    return rc;
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

/* GET current; when absent, INCR genseq and SET current NX. If another
 * writer won the race, its generation is returned (ours is left unused). */
int online_gen_ensure(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                      uint64_t *gen, char *err, size_t errlen)
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
    if (online_gen_alloc(c, key_prefix, v, &g, err, errlen) != FEATD_OK) {
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

