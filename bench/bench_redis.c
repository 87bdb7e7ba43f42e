/*
 * bench_redis.c — featd-bench's Redis-alone target (see bench_redis.h): the
 * commands featd's lookup sends (the views' current keys, one HMGET per
 * entity; or one HGET per row), built with the online-tier key functions,
 * and a reply scanner that counts without allocating.
 */
#include "bench_redis.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/util.h"
#include "online/online.h"
#include "redis/rblock.h"
#include "redis/rcmd.h"

struct bench_view {
    const struct cfg_view *v;
    struct fbuf current;    /* the view's current key */
    char field[ONLINE_FIELD_MAX];   /* its field for the generation read at open */
    size_t fieldlen;
    uint64_t gen;
};

struct bench_redis {
    struct featd_config *cfg;
    enum bench_redis_cmd cmd;
    struct bench_view *views;
    size_t nviews;
};

static int bench_redis_add_view(struct bench_redis *br, const char *ref, char *err, size_t errlen)
{
    const char *colon = strchr(ref, ':');
    size_t len = colon ? (size_t)(colon - ref) : strlen(ref);
    const struct cfg_view *v = config_find_viewn(br->cfg, ref, len);
    if (v == NULL) {
        util_seterr(err, errlen, "%s: no such feature view in the config", ref);
        return FEATD_ERR;
    }
    for (size_t i = 0; i < br->nviews; i++) {
        if (br->views[i].v == v) {
            return FEATD_OK;
        }
    }
    if (v->nkeys != 1 || v->keys[0].type != FT_INT64) {
        util_seterr(err, errlen, "view %s: featd-bench needs one int64 join key", v->name);
        return FEATD_ERR;
    }
    struct bench_view *bv = &br->views[br->nviews++];
    bv->v = v;
    if (online_key_current(&bv->current, br->cfg->redis.key_prefix, v) != FEATD_OK) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

struct bench_redis *bench_redis_open(const char *config_path, enum bench_redis_cmd cmd,
                                     char *const *features, int nfeatures, char *err, size_t errlen)
{
    struct bench_redis *br = calloc(1, sizeof(*br));
    if (br == NULL || nfeatures < 1) {
        util_seterr(err, errlen, br ? "no features" : "out of memory");
        free(br);
        return NULL;
    }
    br->cmd = cmd;
    if (config_load_file(config_path, false, &br->cfg, err, errlen) != FEATD_OK) {
        free(br);
        return NULL;
    }
    if (br->cfg->redis.embedded || br->cfg->redis.host == NULL) {
        util_seterr(err, errlen, "%s: the Redis-alone target needs a redis://host:port url", config_path);
        bench_redis_free(br);
        return NULL;
    }
    br->views = calloc((size_t)nfeatures, sizeof(*br->views));
    if (br->views == NULL) {
        util_seterr(err, errlen, "out of memory");
        bench_redis_free(br);
        return NULL;
    }
    for (int i = 0; i < nfeatures; i++) {
        if (bench_redis_add_view(br, features[i], err, errlen) != FEATD_OK) {
            bench_redis_free(br);
            return NULL;
        }
    }
    redisContext *c = rblock_connect(br->cfg, err, errlen);
    if (c == NULL) {
        bench_redis_free(br);
        return NULL;
    }
    for (size_t i = 0; i < br->nviews; i++) {
        struct bench_view *bv = &br->views[i];
        if (online_gen_current(c, br->cfg->redis.key_prefix, bv->v, &bv->gen, err, errlen) != FEATD_OK) {
            goto fail;
        }
        if (bv->gen == 0) {
            util_seterr(err, errlen, "view %s has no data in Redis (no current generation)", bv->v->name);
            goto fail;
        }
        bv->fieldlen = online_key_field(bv->field, bv->gen);
    }
    redisFree(c);
    return br;
fail:
    redisFree(c);
    bench_redis_free(br);
    return NULL;
}

void bench_redis_free(struct bench_redis *br)
{
    if (br == NULL) {
        return;
    }
    for (size_t i = 0; i < br->nviews; i++) {
        fbuf_free(&br->views[i].current);
    }
    free(br->views);
    config_free(br->cfg);
    free(br);
}

const char *bench_redis_host(const struct bench_redis *br)
{
    return br->cfg->redis.host;
}

int bench_redis_port(const struct bench_redis *br)
{
    return br->cfg->redis.port;
}

size_t bench_redis_nviews(const struct bench_redis *br)
{
    return br->nviews;
}

/* Moves the distinct values of ids[0..n) to its front, first occurrences in
 * order (what lookup_build_command sends); returns how many there are. */
static int bench_redis_distinct(int64_t *ids, int n)
{
    enum { TABLE = 2048 };  /* > 2 x the largest batch (1024) */
    int table[TABLE];
    size_t cap = 16;
    while (cap < 2 * (size_t)n) {
        cap *= 2;
    }
    memset(table, 0xff, sizeof(int) * cap);    /* -1 = empty */
    int nd = 0;
    for (int i = 0; i < n; i++) {
        int64_t id = ids[i];
        size_t slot = util_fnv1a(UTIL_FNV_INIT, &id, sizeof(id)) & (cap - 1);
        while (table[slot] >= 0 && ids[table[slot]] != id) {
            slot = (slot + 1) & (cap - 1);
        }
        if (table[slot] < 0) {
            ids[nd] = id;
            table[slot] = nd++;
        }
    }
    return nd;
}

/* Appends one bulk argument: the entity key of id. */
static int bench_redis_put_key(const struct bench_redis *br, struct fbuf *out, struct fbuf *key,
                               int64_t id)
{
    struct online_key k = { .i = id };
    key->len = 0;
    if (online_key_row(key, br->cfg->redis.key_prefix, br->views[0].v, &k) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return rcmd_put_bulk(out, key->data, key->len);
}

int bench_redis_format(const struct bench_redis *br, struct fbuf *out, struct fbuf *key,
                       int64_t *ids, int n)
{
    int nd = bench_redis_distinct(ids, n);
    int rc = FEATD_OK;
    if (br->cmd == BENCH_REDIS_FEATD) {
        rc = rcmd_put_hdr(out, '*', 1 + br->nviews);
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(out, "MGET", 4);
        }
        for (size_t i = 0; i < br->nviews && rc == FEATD_OK; i++) {
            rc = rcmd_put_bulk(out, br->views[i].current.data, br->views[i].current.len);
        }
        for (int r = 0; r < nd && rc == FEATD_OK; r++) {
            rc = rcmd_put_hdr(out, '*', 2 + br->nviews);
            if (rc == FEATD_OK) {
                rc = rcmd_put_bulk(out, "HMGET", 5);
            }
            if (rc == FEATD_OK) {
                rc = bench_redis_put_key(br, out, key, ids[r]);
            }
            for (size_t i = 0; i < br->nviews && rc == FEATD_OK; i++) {
                rc = rcmd_put_bulk(out, br->views[i].field, br->views[i].fieldlen);
            }
        }
        return rc == FEATD_OK ? nd : -1;
    }
    for (size_t i = 0; i < br->nviews && rc == FEATD_OK; i++) {
        for (int r = 0; r < nd && rc == FEATD_OK; r++) {
            rc = rcmd_put_hdr(out, '*', 3);
            if (rc == FEATD_OK) {
                rc = rcmd_put_bulk(out, "HGET", 4);
            }
            if (rc == FEATD_OK) {
                rc = bench_redis_put_key(br, out, key, ids[r]);
            }
            if (rc == FEATD_OK) {
                rc = rcmd_put_bulk(out, br->views[i].field, br->views[i].fieldlen);
            }
        }
    }
    return rc == FEATD_OK ? nd : -1;
}

/* ---- reply scanning ---- */

/* One "<type><integer>\r\n" line at *p (type already checked by the
 * caller); advances *p. 0 = incomplete, -1 = malformed, 1 = ok. */
static int bench_redis_line_int(const char **p, const char *end, long long *v)
{
    const char *q = *p + 1;
    bool neg = q < end && *q == '-';
    long long x = 0;
    int digits = 0;
    if (neg) {
        q++;
    }
    while (q < end && *q >= '0' && *q <= '9') {
        if (++digits > 18) {
            return -1;
        }
        x = x * 10 + (*q++ - '0');
    }
    if (end - q < 2) {
        return 0;
    }
    if (digits == 0 || q[0] != '\r' || q[1] != '\n') {
        return -1;
    }
    *v = neg ? -x : x;
    *p = q + 2;
    return 1;
}

/* Skips a "-ERR ...\r\n" line. 0 = incomplete, 1 = ok. */
static int bench_redis_skip_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL) {
        return 0;
    }
    *p = nl + 1;
    return 1;
}

/*
 * One reply that should be a bulk string (a row, or a view's current key).
 * Sets *nil, and *val and *vlen to the payload. Returns 1, 0 (incomplete), -1
 * (malformed) or 2 (an error reply, skipped).
 */
static int bench_redis_bulk(const char **p, const char *end, bool *nil, const char **val, size_t *vlen)
{
    if (*p >= end) {
        return 0;
    }
    if (**p == '-') {
        return bench_redis_skip_line(p, end) ? 2 : 0;
    }
    if (**p != '$') {
        return -1;
    }
    const char *q = *p;
    long long n;
    int rc = bench_redis_line_int(&q, end, &n);
    if (rc <= 0) {
        return rc;
    }
    if (n < 0) {
        *nil = true;
        *p = q;
        return 1;
    }
    if ((long long)(end - q) < n + 2) {
        return 0;
    }
    if (q[n] != '\r' || q[n + 1] != '\n') {
        return -1;
    }
    *nil = false;
    *val = q;
    *vlen = (size_t)n;
    *p = q + n + 2;
    return 1;
}

/* True when val[0..vlen) is the decimal gen. */
static bool bench_redis_is_gen(const char *val, size_t vlen, uint64_t gen)
{
    char buf[24];
    size_t n = rcmd_put_dec(buf, gen);
    return n == vlen && memcmp(buf, val, n) == 0;
}

/* n bulk strings (the elements of an array whose header was read): views'
 * current keys (is_ptr: checked against the generations read at open) or
 * rows. Returns 1, 0 (incomplete) or -1 (malformed). */
static int bench_redis_bulks(const struct bench_redis *br, const char **s, const char *end, size_t n,
                             bool is_ptr, struct bench_redis_tally *add, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        bool nil = false;
        const char *val = NULL;
        size_t vlen = 0;
        int rc = bench_redis_bulk(s, end, &nil, &val, &vlen);
        if (rc == 0) {
            return 0;
        }
        if (rc < 0) {
            *why = "reply element is not a bulk string";
            return -1;
        }
        if (rc == 2) {
            add->errors++;
        } else if (is_ptr) {
            if (nil || !bench_redis_is_gen(val, vlen, br->views[i].gen)) {
                add->stale_gen++;
            }
        } else if (nil) {
            add->rows_missing++;
        } else {
            add->rows_found++;
        }
    }
    return 1;
}

/* An array header of n elements, or an error reply (counted; *n = 0).
 * Returns 1, 0 (incomplete) or -1. */
static int bench_redis_array(const char **s, const char *end, size_t want,
                             struct bench_redis_tally *add, const char **why, bool *skip)
{
    *skip = false;
    if (*s >= end) {
        return 0;
    }
    if (**s == '-') {
        if (!bench_redis_skip_line(s, end)) {
            return 0;
        }
        add->errors++;
        *skip = true;
        return 1;
    }
    long long n;
    int rc = **s == '*' ? bench_redis_line_int(s, end, &n) : -1;
    if (rc <= 0) {
        *why = "reply is not an array";
        return rc;
    }
    if ((size_t)n != want) {
        *why = "reply array has the wrong number of elements";
        return -1;
    }
    return 1;
}

long bench_redis_scan(const struct bench_redis *br, const char *p, size_t len, int ndistinct,
                      struct bench_redis_tally *t, const char **why)
{
    const char *s = p, *end = p + len;
    struct bench_redis_tally add = { 0 };
    *why = "";
    if (br->cmd == BENCH_REDIS_FEATD) {
        for (int r = -1; r < ndistinct; r++) {
            bool skip;
            int rc = bench_redis_array(&s, end, br->nviews, &add, why, &skip);
            if (rc <= 0) {
                return rc;
            }
            if (!skip && (rc = bench_redis_bulks(br, &s, end, br->nviews, r < 0, &add, why)) <= 0) {
                return rc;
            }
        }
    } else {
        int rc = bench_redis_bulks(br, &s, end, br->nviews * (size_t)ndistinct, false, &add, why);
        if (rc <= 0) {
            return rc;
        }
    }
    t->rows_found += add.rows_found;
    t->rows_missing += add.rows_missing;
    t->stale_gen += add.stale_gen;
    t->errors += add.errors;
    return (long)(s - p);
}
