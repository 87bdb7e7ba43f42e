/*
 * e2e_online.c — the online-tier layout (v2: one hash per entity, one field
 * per generation) against a real redis-server: generations written through
 * the pipelined writer, flipped, read back with HGET + decode; the entity
 * key's expiry (PEXPIREAT NX then GT: the latest of its rows', ttl-0 views
 * far in the future) and skipped expired rows; the last-write-wins upsert
 * script (older never regresses, created_ts breaks ties with and without
 * created times, interleaved writers, NOSCRIPT recovery, expiry only moved
 * later); reclaim of exactly one generation leaving no empty hashes nor
 * stale fields, also when views share entity hashes; ensure; and clean
 * FEATD_ERR reports when Redis is down or paused. Generation numbers are
 * taken from online_gen_alloc/ensure, never assumed. Each test gets a fresh
 * redis-server (checked fixture).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/util.h"
#include "harness.h"
#include "online/online.h"

static struct h_redis R;

static void setup(void)
{
    h_redis_start(&R);
}

static void teardown(void)
{
    h_redis_stop(&R);
}

/* ---- a view: customer_id -> revenue (double), embedding (float_list),
 * name (string) ---- */

static struct cfg_join_key cust_keys[] = { { "customer_id", FT_INT64 } };
static struct cfg_feature cust_feats[] = {
    { "revenue", FT_DOUBLE, "revenue", { 0 } },
    { "embedding", FT_FLOAT_LIST, "embedding", { 0 } },
    { "name", FT_STRING, "name", { 0 } },
};

static struct cfg_view make_view(const char *name, int64_t ttl, uint64_t fp)
{
    struct cfg_view v;
    memset(&v, 0, sizeof(v));
    v.name = (char *)name;
    v.keys = cust_keys;
    v.nkeys = 1;
    v.ttl_seconds = ttl;
    v.features = cust_feats;
    v.nfeatures = FEATD_ARRAY_LEN(cust_feats);
    v.fingerprint = fp;
    snprintf(v.fingerprint_hex, sizeof(v.fingerprint_hex), "%016llx", (unsigned long long)fp);
    return v;
}

static redisContext *connect_redis(int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", R.port, tv);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(!c->err, "connect: %s", c->errstr);
    ck_assert_int_eq(redisSetTimeout(c, tv), REDIS_OK);
    return c;
}

/* Row values for entity id in "version" ver: revenue = id*10+ver,
 * embedding = [id, ver], name = "c<id>v<ver>". */
struct rowvals {
    struct online_value v[3];
    struct fbuf emb;
    char name[64];
};

static void rowvals_make(struct rowvals *rv, int64_t id, int ver)
{
    memset(rv->v, 0, sizeof(rv->v));
    fbuf_reset(&rv->emb);
    rv->v[0].u.d = (double)id * 10 + ver;
    ck_assert_int_eq(online_row_list_put_float(&rv->emb, (float)id), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_float(&rv->emb, (float)ver), FEATD_OK);
    rv->v[1].count = 2;
    rv->v[1].raw = (const uint8_t *)rv->emb.data;
    rv->v[1].rawlen = rv->emb.len;
    snprintf(rv->name, sizeof(rv->name), "c%lldv%d", (long long)id, ver);
    rv->v[2].s = rv->name;
    rv->v[2].slen = strlen(rv->name);
}

/* The row of (prefix, view, gen, id): HGET <entity key> <generation field>.
 * Caller frees. */
static redisReply *hget_row(redisContext *c, const char *pfx, const struct cfg_view *v,
                            uint64_t gen, int64_t id)
{
    struct fbuf k = { 0 };
    struct online_key key = { .i = id };
    char field[ONLINE_FIELD_MAX];
    size_t fl = online_key_field(field, gen);
    ck_assert_int_eq(online_key_row(&k, pfx, v, &key), FEATD_OK);
    redisReply *r = redisCommand(c, "HGET %b %b", k.data, k.len, field, fl);
    fbuf_free(&k);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* PEXPIRETIME of entity id's key under prefix "featd" (-1 none, -2 no key). */
static long long key_expiretime(redisContext *c, const struct cfg_view *v, int64_t id)
{
    struct fbuf k = { 0 };
    struct online_key key = { .i = id };
    ck_assert_int_eq(online_key_row(&k, "featd", v, &key), FEATD_OK);
    redisReply *r = redisCommand(c, "PEXPIRETIME %b", k.data, k.len);
    fbuf_free(&k);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long at = r->integer;
    freeReplyObject(r);
    return at;
}

/* The entity key expiry of rows without a storage expiry: 2500-01-01. */
#define NO_EXPIRY_MS 16725225600000LL

/* Reads (prefix "featd", view, gen, id) and decodes it; returns false when
 * the entity has no field of gen. */
static bool read_row(redisContext *c, const struct cfg_view *v, uint64_t gen, int64_t id,
                     int64_t *ev, int64_t *cr, double *revenue, float *emb1, char *name,
                     size_t namecap)
{
    redisReply *r = hget_row(c, "featd", v, gen, id);
    ck_assert_ptr_nonnull(r);
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return false;
    }
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    struct online_value out[3];
    char err[256] = "";
    int64_t e = 0, cc = 0;
    ck_assert_msg(online_row_decode((const uint8_t *)r->str, r->len, v, &e, &cc, out, err,
                                    sizeof(err)) == FEATD_OK,
                  "decode: %s", err);
    if (ev) {
        *ev = e;
    }
    if (cr) {
        *cr = cc;
    }
    if (revenue) {
        *revenue = out[0].u.d;
    }
    ck_assert_uint_eq(out[1].count, 2);
    ck_assert_float_eq(online_row_list_float(&out[1], 0), (float)id);
    if (emb1) {
        *emb1 = online_row_list_float(&out[1], 1);
    }
    if (name) {
        ck_assert_uint_lt(out[2].slen, namecap);
        memcpy(name, out[2].s, out[2].slen);
        name[out[2].slen] = '\0';
    }
    freeReplyObject(r);
    return true;
}

/* What the entity keys under a prefix hold (SCAN MATCH of
 * online_key_row_pattern, then HKEYS of each key). */
#define ENT_MAXGENS 4
struct ent_count {
    long long keys;                 /* entity hashes */
    long long fields;               /* fields in all of them */
    long long empty;                /* hashes without a field (must stay 0) */
    long long of_gen[ENT_MAXGENS];  /* fields named gens[i] */
    long long other;                /* fields of none of gens (stale) */
};

static struct ent_count count_entities(redisContext *c, const char *pfx, const uint64_t *gens,
                                       size_t ngens)
{
    struct ent_count n;
    memset(&n, 0, sizeof(n));
    ck_assert_uint_le(ngens, ENT_MAXGENS);
    char names[ENT_MAXGENS][ONLINE_FIELD_MAX];
    for (size_t g = 0; g < ngens; g++) {
        (void)online_key_field(names[g], gens[g]);
    }
    struct fbuf pat = { 0 };
    ck_assert_int_eq(online_key_row_pattern(&pat, pfx), FEATD_OK);
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %b COUNT 1000", cursor, pat.data, pat.len);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            ck_assert_int_eq(redisAppendCommand(c, "HKEYS %b", keys->element[i]->str,
                                                keys->element[i]->len),
                             REDIS_OK);
        }
        for (size_t i = 0; i < keys->elements; i++) {
            void *rv = NULL;
            ck_assert_int_eq(redisGetReply(c, &rv), REDIS_OK);
            redisReply *h = rv;
            ck_assert_msg(h->type == REDIS_REPLY_ARRAY, "%s: not a hash", keys->element[i]->str);
            n.keys++;
            n.empty += h->elements == 0;
            for (size_t f = 0; f < h->elements; f++) {
                size_t g = 0;
                while (g < ngens && strcmp(h->element[f]->str, names[g]) != 0) {
                    g++;
                }
                if (g < ngens) {
                    n.of_gen[g]++;
                } else {
                    n.other++;
                }
                n.fields++;
            }
            freeReplyObject(h);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    fbuf_free(&pat);
    return n;
}

/* Fields of generation gen under prefix "featd". */
static long long count_gen(redisContext *c, uint64_t gen)
{
    return count_entities(c, "featd", &gen, 1).of_gen[0];
}

/* A new generation of v under prefix pfx. */
static uint64_t alloc_gen(redisContext *c, const char *pfx, const struct cfg_view *v)
{
    char err[256] = "";
    uint64_t gen = 0;
    ck_assert_msg(online_gen_alloc(c, pfx, v, &gen, err, sizeof(err)) == FEATD_OK, "alloc: %s",
                  err);
    ck_assert_uint_ne(gen, 0);
    return gen;
}

/* Writes ids [0, n) into gen with put under prefix pfx; asserts every put
 * succeeded. */
static void put_rows_p(redisContext *c, const char *pfx, const struct cfg_view *v, uint64_t gen,
                       int n, int ver, int64_t ev, size_t batch)
{
    char err[256] = "";
    struct online_writer *w = online_writer_new(c, pfx, v, batch);
    ck_assert_ptr_nonnull(w);
    struct rowvals rv = { 0 };
    for (int i = 0; i < n; i++) {
        struct online_key key = { .i = i };
        rowvals_make(&rv, i, ver);
        ck_assert_msg(online_writer_put(w, gen, &key, ev, ONLINE_NO_CREATED_TS, rv.v, err,
                                        sizeof(err)) == FEATD_OK,
                      "put %d: %s", i, err);
    }
    ck_assert_msg(online_writer_flush(w, err, sizeof(err)) == FEATD_OK, "flush: %s", err);
    ck_assert_uint_eq(online_writer_written(w), (uint64_t)n);
    ck_assert_uint_eq(online_writer_skipped(w), 0);
    online_writer_free(w);
    fbuf_free(&rv.emb);
}

static void put_rows(redisContext *c, const struct cfg_view *v, uint64_t gen, int n, int ver,
                     int64_t ev, size_t batch)
{
    put_rows_p(c, "featd", v, gen, n, ver, ev, batch);
}

/* ---- tests ---- */

START_TEST(test_generation_put_flip_read)
{
    struct cfg_view v = make_view("customer_stats", 0, 0x1111222233334444ULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    uint64_t gen = 99, old = 99, cur = 99;
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, 0);

    /* a fresh Redis: the first generation is the tenths of a second since
     * the epoch, handed out once Redis's clock has passed it */
    int64_t now_ds = (util_now_us() - (int64_t)ONLINE_GEN_EPOCH * 1000000) / 100000;
    ck_assert_int_eq(online_gen_alloc(c, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    int64_t after_ds = (util_now_us() - (int64_t)ONLINE_GEN_EPOCH * 1000000) / 100000;
    const uint64_t g1 = gen;
    ck_assert_int_ge((int64_t)g1, now_ds - 20);
    ck_assert_int_lt((int64_t)g1, after_ds + 20);
    put_rows(c, &v, g1, 2500, 1, 1700000000000000LL, 1000);
    /* written but not visible through "current" until the flip */
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, 0);
    ck_assert_int_eq(online_gen_flip(c, "featd", &v, g1, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(old, 0);
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, g1);
    ck_assert_int_eq(count_gen(c, g1), 2500);

    const int64_t probe[] = { 0, 1, 77, 999, 1000, 2499 };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(probe); i++) {
        int64_t ev = 0, cr = 0;
        double rev = 0;
        float e1 = 0;
        char name[64], want[64];
        ck_assert(read_row(c, &v, cur, probe[i], &ev, &cr, &rev, &e1, name, sizeof(name)));
        ck_assert_int_eq(ev, 1700000000000000LL);
        ck_assert_int_eq(cr, ONLINE_NO_CREATED_TS);
        ck_assert_double_eq(rev, (double)probe[i] * 10 + 1);
        ck_assert_float_eq(e1, 1.0f);
        snprintf(want, sizeof(want), "c%lldv1", (long long)probe[i]);
        ck_assert_str_eq(name, want);
    }
    ck_assert(!read_row(c, &v, cur, 2500, NULL, NULL, NULL, NULL, NULL, 0));
    /* no ttl on this view: the entity key expires only in the year 2500 */
    ck_assert_int_eq(key_expiretime(c, &v, 5), NO_EXPIRY_MS);

    /* second snapshot: new generation, flip, readers move over */
    ck_assert_int_eq(online_gen_alloc(c, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    const uint64_t g2 = gen;
    ck_assert_uint_gt(g2, g1);
    put_rows(c, &v, g2, 1200, 2, 1700000100000000LL, 333);
    ck_assert_int_eq(online_gen_flip(c, "featd", &v, g2, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(old, g1);
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, g2);
    double rev = 0;
    ck_assert(read_row(c, &v, cur, 7, NULL, NULL, &rev, NULL, NULL, 0));
    ck_assert_double_eq(rev, 72);
    ck_assert(!read_row(c, &v, cur, 2000, NULL, NULL, NULL, NULL, NULL, 0));

    /* reclaim the old one: exactly its fields go, and the hashes of the
     * entities only it had */
    uint64_t deleted = 0;
    ck_assert_int_eq(online_gen_reclaim(c, "featd", &v, g1, &deleted, err, sizeof(err)),
                     FEATD_OK);
    ck_assert_uint_eq(deleted, 2500);
    const uint64_t both[] = { g1, g2 };
    struct ent_count n = count_entities(c, "featd", both, 2);
    ck_assert_int_eq(n.of_gen[0], 0);
    ck_assert_int_eq(n.of_gen[1], 1200);
    ck_assert_int_eq(n.keys, 1200);
    ck_assert_int_eq(n.other, 0);
    ck_assert(!read_row(c, &v, g1, 5, NULL, NULL, NULL, NULL, NULL, 0));
    /* the current generation is protected */
    err[0] = '\0';
    ck_assert_int_eq(online_gen_reclaim(c, "featd", &v, g2, &deleted, err, sizeof(err)),
                     FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "current"));
    ck_assert_int_eq(count_gen(c, g2), 1200);
    redisFree(c);
}
END_TEST

START_TEST(test_ttl_pxat_and_expired_rows)
{
    struct cfg_view v = make_view("ttl_view", 60, 0xabcULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    const uint64_t gen = alloc_gen(c, "featd", &v);
    struct online_writer *w = online_writer_new(c, "featd", &v, 100);
    struct rowvals rv = { 0 };
    int64_t now = util_now_us();
    int64_t ev = now - 10 * 1000000LL;   /* 10 s old */
    struct online_key k1 = { .i = 1 }, k2 = { .i = 2 }, k3 = { .i = 3 }, k4 = { .i = 4 };
    rowvals_make(&rv, 1, 1);
    ck_assert_int_eq(online_writer_put(w, gen, &k1, ev, ONLINE_NO_CREATED_TS, rv.v, err,
                                       sizeof(err)),
                     FEATD_OK);
    /* stale (past ttl) but inside the grace period: still written */
    int64_t ev_stale = now - 600 * 1000000LL;
    rowvals_make(&rv, 2, 1);
    ck_assert_int_eq(online_writer_put(w, gen, &k2, ev_stale, ONLINE_NO_CREATED_TS, rv.v, err,
                                       sizeof(err)),
                     FEATD_OK);
    /* past ttl + grace (60 + 3600 s): skipped, for put and upsert alike */
    int64_t ev_dead = now - (60 + 3600 + 5) * 1000000LL;
    rowvals_make(&rv, 3, 1);
    ck_assert_int_eq(online_writer_put(w, gen, &k3, ev_dead, ONLINE_NO_CREATED_TS, rv.v, err,
                                       sizeof(err)),
                     FEATD_EAGAIN);
    rowvals_make(&rv, 4, 1);
    ck_assert_int_eq(online_writer_upsert(w, gen, &k4, ev_dead, ONLINE_NO_CREATED_TS, rv.v, err,
                                          sizeof(err)),
                     FEATD_EAGAIN);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(online_writer_written(w), 2);
    ck_assert_uint_eq(online_writer_skipped(w), 2);
    /* generation 0 is never read: writing there is a caller bug */
    err[0] = '\0';
    ck_assert_int_eq(online_writer_put(w, 0, &k1, ev, ONLINE_NO_CREATED_TS, rv.v, err,
                                       sizeof(err)),
                     FEATD_ERR);
    ck_assert(err[0] != '\0');

    /* the entity key's PEXPIRETIME is exactly event_ms + (ttl + grace) * 1000
     * (its only row's storage expiry) */
    const char *key1 = "featd:v2:{i1}";
    redisReply *r = redisCommand(c, "PEXPIRETIME %s", key1);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(r->integer, online_row_expire_at_ms(&v, ev));
    ck_assert_int_eq(r->integer, ev / 1000 + (60 + 3600) * 1000LL);
    freeReplyObject(r);
    r = redisCommand(c, "PTTL %s", key1);
    ck_assert_int_gt(r->integer, (3660 - 10 - 5) * 1000LL);
    ck_assert_int_le(r->integer, (3660 - 10) * 1000LL);
    freeReplyObject(r);
    r = redisCommand(c, "PTTL featd:v2:{i2}");
    ck_assert_int_gt(r->integer, (3660 - 600 - 5) * 1000LL);
    ck_assert_int_le(r->integer, (3660 - 600) * 1000LL);
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS featd:v2:{i3} featd:v2:{i4}");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);

    /* upsert carries the expiry too (a newer row: the key's expiry moves) */
    rowvals_make(&rv, 1, 2);
    ck_assert_int_eq(online_writer_upsert(w, gen, &k1, ev + 1000000, ONLINE_NO_CREATED_TS, rv.v,
                                          err, sizeof(err)),
                     FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    r = redisCommand(c, "PEXPIRETIME %s", key1);
    ck_assert_int_eq(r->integer, (ev + 1000000) / 1000 + 3660 * 1000LL);
    freeReplyObject(r);

    /* a row that expires a moment from now really disappears (its own
     * entity: a key shared with the rows above keeps their later expiry) */
    struct cfg_view v1 = make_view("short", 1, 0xdefULL);
    v1.ttl_seconds = 1;   /* grace 3600: keep it short by backdating the event */
    const uint64_t gen1 = alloc_gen(c, "featd", &v1);
    struct online_key k100 = { .i = 100 };
    struct online_writer *w1 = online_writer_new(c, "featd", &v1, 10);
    int64_t ev_soon = util_now_us() - (1 + 3600) * 1000000LL + 300000;   /* expires in ~0.3 s */
    ck_assert_int_eq(online_writer_put(w1, gen1, &k100, ev_soon, ONLINE_NO_CREATED_TS, rv.v, err,
                                       sizeof(err)),
                     FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w1, err, sizeof(err)), FEATD_OK);
    r = redisCommand(c, "EXISTS featd:v2:{i100}");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    usleep(600000);
    r = redisCommand(c, "EXISTS featd:v2:{i100}");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);

    online_writer_free(w1);
    online_writer_free(w);
    fbuf_free(&rv.emb);
    redisFree(c);
}
END_TEST

/* Upserts one row and flushes; returns the writer's written delta (1/0). */
static int upsert1(struct online_writer *w, uint64_t gen, int64_t id, int64_t ev, int64_t cr,
                   int ver)
{
    char err[256] = "";
    struct rowvals rv = { 0 };
    struct online_key key = { .i = id };
    uint64_t before = online_writer_written(w);
    rowvals_make(&rv, id, ver);
    ck_assert_msg(online_writer_upsert(w, gen, &key, ev, cr, rv.v, err, sizeof(err)) == FEATD_OK,
                  "upsert: %s", err);
    ck_assert_msg(online_writer_flush(w, err, sizeof(err)) == FEATD_OK, "flush: %s", err);
    fbuf_free(&rv.emb);
    return (int)(online_writer_written(w) - before);
}

static int version_of(redisContext *c, const struct cfg_view *v, uint64_t gen, int64_t id)
{
    float ver = -1;
    ck_assert(read_row(c, v, gen, id, NULL, NULL, NULL, &ver, NULL, 0));
    return (int)ver;
}

START_TEST(test_upsert_lww)
{
    struct cfg_view v = make_view("incr", 0, 0x42ULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    uint64_t gen = 0;
    ck_assert_int_eq(online_gen_ensure(c, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_ne(gen, 0);
    uint64_t cur = 0;
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, gen);
    struct online_writer *w = online_writer_new(c, "featd", &v, 50);

    ck_assert_int_eq(upsert1(w, gen, 5, 100, 5, 1), 1);   /* first write */
    ck_assert_int_eq(upsert1(w, gen, 5, 50, 9, 2), 0);    /* older event: no regress */
    ck_assert_int_eq(version_of(c, &v, gen, 5), 1);
    ck_assert_int_eq(upsert1(w, gen, 5, 100, 4, 3), 0);   /* same event, older created */
    ck_assert_int_eq(version_of(c, &v, gen, 5), 1);
    ck_assert_int_eq(upsert1(w, gen, 5, 100, 6, 4), 1);   /* same event, newer created wins */
    ck_assert_int_eq(version_of(c, &v, gen, 5), 4);
    ck_assert_int_eq(upsert1(w, gen, 5, 100, 6, 5), 1);   /* equal: written (>=) */
    ck_assert_int_eq(version_of(c, &v, gen, 5), 5);
    ck_assert_int_eq(upsert1(w, gen, 5, 101, ONLINE_NO_CREATED_TS, 6), 1);   /* newer event */
    ck_assert_int_eq(version_of(c, &v, gen, 5), 6);
    ck_assert_int_eq(upsert1(w, gen, 5, 100, INT64_MAX, 7), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 5), 6);

    /* sign handling: negative event times order below positive ones */
    ck_assert_int_eq(upsert1(w, gen, 6, -5, 0, 1), 1);
    ck_assert_int_eq(upsert1(w, gen, 6, -6, 0, 2), 0);
    ck_assert_int_eq(upsert1(w, gen, 6, 3, 0, 3), 1);
    ck_assert_int_eq(upsert1(w, gen, 6, -1, 0, 4), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 6), 3);
    /* bytes with embedded NULs/0xff in the header compare correctly */
    ck_assert_int_eq(upsert1(w, gen, 7, 0x00ff00ff00LL, 0, 1), 1);
    ck_assert_int_eq(upsert1(w, gen, 7, 0x00ff00feffLL, 0, 2), 0);
    ck_assert_int_eq(upsert1(w, gen, 7, 0x00ff0100LL << 8, 0, 3), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 7), 3);

    ck_assert_uint_eq(online_writer_written(w), 8);
    ck_assert_uint_eq(online_writer_skipped(w), 6);

    /* a non-row value of ours (shorter than a header) is overwritten */
    char field[ONLINE_FIELD_MAX];
    (void)online_key_field(field, gen);
    redisReply *r = redisCommand(c, "HSET featd:v2:{i8} %s junk", field);
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    ck_assert_int_eq(upsert1(w, gen, 8, 1, 0, 1), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 8), 1);

    /* a key of the wrong type: the error names it; other rows of the batch land */
    r = redisCommand(c, "RPUSH featd:v2:{i9} x");
    freeReplyObject(r);
    struct rowvals rv = { 0 };
    for (int64_t id = 9; id <= 11; id++) {
        struct online_key key = { .i = id };
        rowvals_make(&rv, id, 1);
        ck_assert_int_eq(online_writer_upsert(w, gen, &key, 1, 0, rv.v, err, sizeof(err)),
                         FEATD_OK);
    }
    err[0] = '\0';
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_ERR);
    ck_assert_msg(strstr(err, "WRONGTYPE") != NULL, "err: %s", err);
    ck_assert_int_eq(version_of(c, &v, gen, 10), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 11), 1);
    /* the writer keeps working after an error reply */
    ck_assert_int_eq(upsert1(w, gen, 12, 1, 0, 1), 1);
    fbuf_free(&rv.emb);
    online_writer_free(w);
    redisFree(c);
}
END_TEST

START_TEST(test_upsert_interleaved_writers)
{
    struct cfg_view v = make_view("incr2", 3600 * 24 * 365, 0x77ULL);
    redisContext *ca = connect_redis(2000);
    redisContext *cb = connect_redis(2000);
    char err[256] = "";
    uint64_t gen = 0, gen_b = 0;
    ck_assert_int_eq(online_gen_ensure(ca, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(cb, "featd", &v, &gen_b, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(gen, gen_b);
    struct online_writer *wa = online_writer_new(ca, "featd", &v, 37);
    struct online_writer *wb = online_writer_new(cb, "featd", &v, 53);
    struct rowvals rv = { 0 };
    const int nkeys = 300, rounds = 40;
    int64_t base = util_now_us() - 3600 * 1000000LL;
    /* A writes even event times ascending, B odd ones descending; their
     * pipelines interleave on the server. The newest (B's 2*rounds-1) must win
     * everywhere. */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < nkeys; k++) {
            struct online_key key = { .i = k };
            int va = 2 * r, vb = 2 * (rounds - 1 - r) + 1;
            rowvals_make(&rv, k, va);
            ck_assert_int_eq(online_writer_upsert(wa, gen, &key, base + va, 0, rv.v, err,
                                                  sizeof(err)),
                             FEATD_OK);
            rowvals_make(&rv, k, vb);
            ck_assert_int_eq(online_writer_upsert(wb, gen, &key, base + vb, 0, rv.v, err,
                                                  sizeof(err)),
                             FEATD_OK);
        }
    }
    ck_assert_int_eq(online_writer_flush(wa, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(wb, err, sizeof(err)), FEATD_OK);
    uint64_t total = online_writer_written(wa) + online_writer_skipped(wa) +
                     online_writer_written(wb) + online_writer_skipped(wb);
    ck_assert_uint_eq(total, (uint64_t)(2 * nkeys * rounds));
    for (int k = 0; k < nkeys; k++) {
        int64_t ev = 0;
        float ver = 0;
        ck_assert(read_row(ca, &v, gen, k, &ev, NULL, NULL, &ver, NULL, 0));
        ck_assert_int_eq(ev, base + 2 * rounds - 1);
        ck_assert_int_eq((int)ver, 2 * rounds - 1);
    }
    /* B wrote its newest first, so nearly everything after was skipped */
    ck_assert_uint_le(online_writer_written(wb), (uint64_t)nkeys * 2);
    online_writer_free(wa);
    online_writer_free(wb);
    fbuf_free(&rv.emb);
    redisFree(ca);
    redisFree(cb);
}
END_TEST

START_TEST(test_upsert_noscript_recovery)
{
    struct cfg_view v = make_view("incr3", 0, 0x99ULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    uint64_t gen = 0;
    ck_assert_int_eq(online_gen_ensure(c, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, "featd", &v, 100);
    ck_assert_int_eq(upsert1(w, gen, 1, 10, 0, 1), 1);
    redisReply *r = h_redis_cmd(&R, "SCRIPT FLUSH");
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    /* the cached SHA is gone on the server: the batch is replayed with EVAL */
    struct rowvals rv = { 0 };
    for (int64_t id = 1; id <= 20; id++) {
        struct online_key key = { .i = id };
        rowvals_make(&rv, id, 2);
        ck_assert_int_eq(online_writer_upsert(w, gen, &key, id == 1 ? 5 : 10, 0, rv.v, err,
                                              sizeof(err)),
                         FEATD_OK);
    }
    ck_assert_msg(online_writer_flush(w, err, sizeof(err)) == FEATD_OK, "flush: %s", err);
    ck_assert_uint_eq(online_writer_written(w), 20);
    ck_assert_uint_eq(online_writer_skipped(w), 1);   /* id 1 at event 5 < 10 */
    ck_assert_int_eq(version_of(c, &v, gen, 1), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 20), 2);
    /* and the script is cached again for later batches */
    ck_assert_int_eq(upsert1(w, gen, 21, 1, 0, 3), 1);
    fbuf_free(&rv.emb);
    online_writer_free(w);
    redisFree(c);
}
END_TEST

/* Whether (prefix, view, gen, id) has its row. */
static bool has_row(redisContext *c, const char *pfx, const struct cfg_view *v, uint64_t gen,
                    int64_t id)
{
    redisReply *r = hget_row(c, pfx, v, gen, id);
    bool has = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    return has;
}

static long long dbsize(redisContext *c)
{
    redisReply *r = redisCommand(c, "DBSIZE");
    ck_assert_ptr_nonnull(r);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

START_TEST(test_reclaim_exact_generation)
{
    /* Row keys no longer hold the view name, so what an unescaped glob would
     * confuse is the key prefix: "a*" matches "abc", "q[xy]" matches "qx".
     * The other prefixes (other deployments on the same Redis, with their
     * own genseq) hold the very generation number being reclaimed. */
    const char *pa = "a*", *pb = "abc", *pq = "a\\b", *pr = "q[xy]", *ps = "qx";
    struct cfg_view va = make_view("recl", 0, 0x5ULL);
    struct cfg_view vw = make_view("recl_other", 0, 0x5ULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    const uint64_t ga1 = alloc_gen(c, pa, &va);
    const uint64_t ga10 = alloc_gen(c, pa, &va);
    const uint64_t ga2 = alloc_gen(c, pa, &va);
    const uint64_t gw = alloc_gen(c, pa, &vw);   /* another view, same entities */
    put_rows_p(c, pa, &va, ga1, 1500, 1, 1, 1000);
    put_rows_p(c, pa, &va, ga10, 100, 1, 1, 1000);   /* must survive a reclaim of ga1 */
    put_rows_p(c, pa, &va, ga2, 700, 2, 1, 1000);
    put_rows_p(c, pa, &vw, gw, 300, 1, 1, 1000);
    put_rows_p(c, pb, &va, ga1, 300, 1, 1, 1000);
    put_rows_p(c, pq, &va, ga1, 30, 1, 1, 1000);
    put_rows_p(c, pr, &va, ga1, 20, 1, 1, 1000);
    put_rows_p(c, ps, &va, ga1, 10, 1, 1, 1000);
    uint64_t old = 0, cur = 0;
    ck_assert_int_eq(online_gen_flip(c, pa, &va, ga2, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_flip(c, pa, &vw, gw, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_flip(c, pb, &va, ga1, &old, err, sizeof(err)), FEATD_OK);
    /* entity hashes (ids 0..1499 under pa) + genseq of pa + 3 current keys */
    const long long meta = 1 + 3;
    long long before = dbsize(c);
    ck_assert_int_eq(before, 1500 + 300 + 30 + 20 + 10 + meta);
    const uint64_t gens[] = { ga1, ga10, ga2, gw };
    struct ent_count n = count_entities(c, pa, gens, 4);
    ck_assert_int_eq(n.fields, 1500 + 100 + 700 + 300);

    uint64_t deleted = 0;
    ck_assert_int_eq(online_gen_reclaim(c, pa, &va, ga1, &deleted, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(deleted, 1500);
    /* ids 700..1499 had only ga1: their hashes went with it */
    ck_assert_int_eq(dbsize(c), before - 800);
    n = count_entities(c, pa, gens, 4);
    ck_assert_int_eq(n.of_gen[0], 0);
    ck_assert_int_eq(n.of_gen[1], 100);
    ck_assert_int_eq(n.of_gen[2], 700);
    ck_assert_int_eq(n.of_gen[3], 300);
    ck_assert_int_eq(n.other, 0);
    ck_assert_int_eq(n.empty, 0);
    ck_assert(has_row(c, pa, &va, ga10, 5));
    ck_assert(has_row(c, pa, &va, ga2, 5));
    ck_assert(has_row(c, pa, &vw, gw, 5));
    ck_assert(has_row(c, pb, &va, ga1, 5));
    ck_assert(!has_row(c, pa, &va, ga1, 5));
    ck_assert_int_eq(count_entities(c, pb, gens, 1).of_gen[0], 300);
    ck_assert_int_eq(online_gen_current(c, pa, &va, &cur, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(cur, ga2);
    /* reclaiming again finds nothing; a backslash in a prefix is escaped too */
    ck_assert_int_eq(online_gen_reclaim(c, pa, &va, ga1, &deleted, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(deleted, 0);
    ck_assert_int_eq(online_gen_reclaim(c, pq, &va, ga1, &deleted, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(deleted, 30);
    ck_assert_int_eq(online_gen_reclaim(c, pa, &va, ga10, &deleted, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(deleted, 100);
    ck_assert_int_eq(online_gen_reclaim(c, pr, &va, ga1, &deleted, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(deleted, 20);
    ck_assert(has_row(c, ps, &va, ga1, 5));
    ck_assert(has_row(c, pb, &va, ga1, 5));
    ck_assert_int_eq(dbsize(c), 700 + 300 + 10 + meta);
    ck_assert_int_eq(online_gen_reclaim(c, pa, &va, 0, &deleted, err, sizeof(err)), FEATD_ERR);
    redisFree(c);
}
END_TEST

START_TEST(test_ensure_once)
{
    struct cfg_view v = make_view("ens", 0, 0xe1ULL);
    redisContext *c1 = connect_redis(2000);
    redisContext *c2 = connect_redis(2000);
    char err[256] = "";
    uint64_t g1 = 0, g2 = 0, g = 0;
    ck_assert_int_eq(online_gen_ensure(c1, "featd", &v, &g1, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(c2, "featd", &v, &g2, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(c1, "featd", &v, &g, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_ne(g1, 0);
    ck_assert_uint_eq(g2, g1);
    ck_assert_uint_eq(g, g1);
    /* allocated exactly once: the sequence stands at that generation */
    char want[ONLINE_FIELD_MAX];
    (void)online_key_field(want, g1);
    redisReply *r = redisCommand(c1, "GET featd:v2:m:genseq");
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, want);
    freeReplyObject(r);
    /* after a snapshot flip ensure follows the pointer */
    uint64_t gen = 0, old = 0;
    ck_assert_int_eq(online_gen_alloc(c1, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_gt(gen, g1);
    ck_assert_int_eq(online_gen_flip(c1, "featd", &v, gen, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(old, g1);
    ck_assert_int_eq(online_gen_ensure(c2, "featd", &v, &g, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(g, gen);
    /* a garbage pointer is an error, not generation 0 */
    r = redisCommand(c1, "SET featd:v2:m:{ens}:00000000000000e1:current banana");
    freeReplyObject(r);
    err[0] = '\0';
    ck_assert_int_eq(online_gen_current(c1, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    ck_assert(err[0] != '\0');
    ck_assert_int_eq(online_gen_ensure(c1, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    ck_assert_int_eq(online_gen_flip(c1, "featd", &v, 0, &old, err, sizeof(err)), FEATD_ERR);
    redisFree(c1);
    redisFree(c2);
}
END_TEST

START_TEST(test_redis_down_errors)
{
    struct cfg_view v = make_view("down", 0, 0xd0ULL);
    redisContext *c = connect_redis(500);
    char err[256];
    struct online_writer *w = online_writer_new(c, "featd", &v, 100);
    struct online_writer *wu = online_writer_new(c, "featd", &v, 100);
    struct rowvals rv = { 0 };
    struct online_key key = { .i = 1 };
    rowvals_make(&rv, 1, 1);
    ck_assert_int_eq(online_writer_put(w, 1, &key, 1, 0, rv.v, err, sizeof(err)), FEATD_OK);

    h_redis_stop(&R);

    err[0] = '\0';
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_ERR);
    ck_assert_msg(strlen(err) > 0, "no message");
    fprintf(stderr, "flush with redis down: %s\n", err);
    err[0] = '\0';
    ck_assert_int_eq(online_writer_put(w, 1, &key, 1, 0, rv.v, err, sizeof(err)), FEATD_ERR);
    ck_assert(err[0] != '\0');
    err[0] = '\0';
    ck_assert_int_eq(online_writer_upsert(wu, 1, &key, 1, 0, rv.v, err, sizeof(err)), FEATD_ERR);
    ck_assert(err[0] != '\0');
    uint64_t g = 0, d = 0;
    err[0] = '\0';
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    ck_assert(err[0] != '\0');
    ck_assert_int_eq(online_gen_alloc(c, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    ck_assert_int_eq(online_gen_flip(c, "featd", &v, 3, &g, err, sizeof(err)), FEATD_ERR);
    ck_assert_int_eq(online_gen_reclaim(c, "featd", &v, 1, &d, err, sizeof(err)), FEATD_ERR);
    ck_assert_int_eq(online_gen_ensure(c, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    online_writer_free(w);
    online_writer_free(wu);
    redisFree(c);

    /* a fresh connection to a fresh server: a new context to a down port fails
     * at connect, which is the caller's business; after restart all works */
    h_redis_restart(&R);
    c = connect_redis(500);
    w = online_writer_new(c, "featd", &v, 100);
    ck_assert_int_eq(online_writer_put(w, 1, &key, 1, 0, rv.v, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(c, "featd", &v, &g, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    fbuf_free(&rv.emb);
    redisFree(c);
}
END_TEST

START_TEST(test_redis_paused_times_out)
{
    struct cfg_view v = make_view("paused", 0, 0xd1ULL);
    redisContext *c = connect_redis(300);
    char err[256] = "";
    struct online_writer *w = online_writer_new(c, "featd", &v, 1000);
    struct rowvals rv = { 0 };
    rowvals_make(&rv, 1, 1);
    for (int i = 0; i < 10; i++) {
        struct online_key key = { .i = i };
        ck_assert_int_eq(online_writer_upsert(w, 1, &key, 1, 0, rv.v, err, sizeof(err)), FEATD_OK);
    }
    h_redis_pause(&R);
    err[0] = '\0';
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_ERR);
    ck_assert(err[0] != '\0');
    fprintf(stderr, "flush with redis paused: %s\n", err);
    uint64_t g = 0;
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &g, err, sizeof(err)), FEATD_ERR);
    online_writer_free(w);
    redisFree(c);
    h_redis_resume(&R);
    c = connect_redis(2000);
    ck_assert_int_eq(online_gen_current(c, "featd", &v, &g, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(g, 0);
    fbuf_free(&rv.emb);
    redisFree(c);
}
END_TEST

START_TEST(test_bulk_put_throughput)
{
    struct cfg_view v = make_view("bulk", 86400, 0xb0ULL);
    redisContext *c = connect_redis(5000);
    const int n = 50000;
    int64_t t0 = util_mono_us();
    const uint64_t gen = alloc_gen(c, "featd", &v);
    put_rows(c, &v, gen, n, 1, util_now_us(), 1000);
    int64_t dt = util_mono_us() - t0;
    fprintf(stderr, "bulk put: %d rows in %.1f ms (%.0f rows/s)\n", n, dt / 1000.0,
            n / (dt / 1e6));
    ck_assert_int_eq(dbsize(c), n + 1);   /* n entity hashes + genseq */
    ck_assert_int_eq(count_gen(c, gen), n);
    redisFree(c);
}
END_TEST

/* ---- layout v2: no garbage, shared hashes, entity expiry, upserts ---- */

/* Puts ids [lo, hi) into gen (values of version ver, event ev). */
static void put_range(redisContext *c, const struct cfg_view *v, uint64_t gen, int lo, int hi,
                      int ver, int64_t ev)
{
    char err[256] = "";
    struct online_writer *w = online_writer_new(c, "featd", v, 250);
    ck_assert_ptr_nonnull(w);
    struct rowvals rv = { 0 };
    for (int i = lo; i < hi; i++) {
        struct online_key key = { .i = i };
        rowvals_make(&rv, i, ver);
        ck_assert_msg(online_writer_put(w, gen, &key, ev, ONLINE_NO_CREATED_TS, rv.v, err,
                                        sizeof(err)) == FEATD_OK,
                      "put %d: %s", i, err);
    }
    ck_assert_msg(online_writer_flush(w, err, sizeof(err)) == FEATD_OK, "flush: %s", err);
    ck_assert_uint_eq(online_writer_written(w), (uint64_t)(hi - lo));
    online_writer_free(w);
    fbuf_free(&rv.emb);
}

START_TEST(test_reclaim_leaves_no_garbage)
{
    /* three snapshots over overlapping id ranges: each shares entities with
     * the one before and has entities of its own */
    struct cfg_view v = make_view("snap", 0, 0x5a5aULL);
    redisContext *c = connect_redis(5000);
    char err[256] = "";
    const int lo[3] = { 0, 400, 100 }, hi[3] = { 1000, 1500, 700 };
    uint64_t gens[3] = { 0, 0, 0 };
    for (int s = 0; s < 3; s++) {
        gens[s] = alloc_gen(c, "featd", &v);
        if (s > 0) {
            ck_assert_uint_gt(gens[s], gens[s - 1]);
        }
        put_range(c, &v, gens[s], lo[s], hi[s], s + 1, 1700000000000000LL + s);
        uint64_t old = 0, deleted = 0;
        ck_assert_int_eq(online_gen_flip(c, "featd", &v, gens[s], &old, err, sizeof(err)),
                         FEATD_OK);
        ck_assert_uint_eq(old, s > 0 ? gens[s - 1] : 0);
        if (s > 0) {
            ck_assert_msg(online_gen_reclaim(c, "featd", &v, old, &deleted, err, sizeof(err)) ==
                              FEATD_OK,
                          "reclaim: %s", err);
            ck_assert_uint_eq(deleted, (uint64_t)(hi[s - 1] - lo[s - 1]));
        }
        /* exactly this snapshot's rows: one hash per entity, one field each,
         * no empty hash, no field of an earlier generation */
        struct ent_count n = count_entities(c, "featd", gens, 3);
        int rows = hi[s] - lo[s];
        ck_assert_int_eq(n.keys, rows);
        ck_assert_int_eq(n.fields, rows);
        ck_assert_int_eq(n.of_gen[s], rows);
        ck_assert_int_eq(n.empty, 0);
        ck_assert_int_eq(n.other, 0);
        for (int p = 0; p < s; p++) {
            ck_assert_int_eq(n.of_gen[p], 0);
        }
    }
    /* what is left reads back as the last snapshot's values */
    const int64_t probe[] = { 100, 399, 400, 699 };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(probe); i++) {
        double rev = 0;
        ck_assert(read_row(c, &v, gens[2], probe[i], NULL, NULL, &rev, NULL, NULL, 0));
        ck_assert_double_eq(rev, (double)probe[i] * 10 + 3);
    }
    ck_assert(!read_row(c, &v, gens[2], 99, NULL, NULL, NULL, NULL, NULL, 0));
    ck_assert(!read_row(c, &v, gens[1], 1000, NULL, NULL, NULL, NULL, NULL, 0));
    /* entity hashes + genseq + current: nothing else lingers */
    ck_assert_int_eq(dbsize(c), (hi[2] - lo[2]) + 2);
    redisFree(c);
}
END_TEST

START_TEST(test_views_share_entity_hashes)
{
    /* two views keyed by customer_id: their rows live in the same hashes */
    struct cfg_view va = make_view("share_a", 0, 0xa1ULL);
    struct cfg_view vb = make_view("share_b", 86400, 0xb1ULL);
    redisContext *c = connect_redis(5000);
    char err[256] = "";
    int64_t ev = util_now_us();
    const uint64_t ga1 = alloc_gen(c, "featd", &va);
    const uint64_t gb1 = alloc_gen(c, "featd", &vb);
    ck_assert_uint_ne(ga1, gb1);
    put_range(c, &va, ga1, 0, 500, 1, ev);
    put_range(c, &vb, gb1, 0, 500, 7, ev);
    uint64_t old = 0, deleted = 0;
    ck_assert_int_eq(online_gen_flip(c, "featd", &va, ga1, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_flip(c, "featd", &vb, gb1, &old, err, sizeof(err)), FEATD_OK);
    const uint64_t gens[3] = { ga1, gb1, 0 };
    struct ent_count n = count_entities(c, "featd", gens, 2);
    ck_assert_int_eq(n.keys, 500);   /* shared: one hash per entity, not per view */
    ck_assert_int_eq(n.of_gen[0], 500);
    ck_assert_int_eq(n.of_gen[1], 500);

    /* view a's next snapshot covers fewer entities; reclaim its old one */
    const uint64_t ga2 = alloc_gen(c, "featd", &va);
    put_range(c, &va, ga2, 0, 300, 2, ev);
    ck_assert_int_eq(online_gen_flip(c, "featd", &va, ga2, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(old, ga1);
    ck_assert_int_eq(online_gen_reclaim(c, "featd", &va, ga1, &deleted, err, sizeof(err)),
                     FEATD_OK);
    ck_assert_uint_eq(deleted, 500);
    const uint64_t gens2[3] = { ga1, gb1, ga2 };
    n = count_entities(c, "featd", gens2, 3);
    ck_assert_int_eq(n.of_gen[0], 0);
    ck_assert_int_eq(n.of_gen[1], 500);   /* view b untouched */
    ck_assert_int_eq(n.of_gen[2], 300);
    ck_assert_int_eq(n.other, 0);
    ck_assert_int_eq(n.keys, 500);        /* ids 300..499 keep b's field */
    ck_assert_int_eq(n.empty, 0);
    for (int64_t id = 0; id < 500; id += 37) {
        float ver = 0;
        ck_assert(read_row(c, &vb, gb1, id, NULL, NULL, NULL, &ver, NULL, 0));
        ck_assert_int_eq((int)ver, 7);
        ck_assert(!read_row(c, &va, ga1, id, NULL, NULL, NULL, NULL, NULL, 0));
        ck_assert(read_row(c, &va, ga2, id, NULL, NULL, NULL, NULL, NULL, 0) == (id < 300));
        /* the key keeps the longest-lived field's expiry: a's (ttl 0) */
        ck_assert_int_eq(key_expiretime(c, &vb, id), NO_EXPIRY_MS);
    }
    /* and the other way round: reclaiming b's generation leaves a's rows */
    const uint64_t gb2 = alloc_gen(c, "featd", &vb);
    ck_assert_int_eq(online_gen_flip(c, "featd", &vb, gb2, &old, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_reclaim(c, "featd", &vb, gb1, &deleted, err, sizeof(err)),
                     FEATD_OK);
    ck_assert_uint_eq(deleted, 500);
    n = count_entities(c, "featd", gens2, 3);
    ck_assert_int_eq(n.of_gen[1], 0);
    ck_assert_int_eq(n.of_gen[2], 300);
    ck_assert_int_eq(n.keys, 300);
    ck_assert_int_eq(n.fields, 300);
    redisFree(c);
}
END_TEST

/* Puts one row of v for id into gen at event ev. */
static void put1(redisContext *c, const struct cfg_view *v, uint64_t gen, int64_t id, int64_t ev)
{
    char err[256] = "";
    struct online_writer *w = online_writer_new(c, "featd", v, 10);
    struct rowvals rv = { 0 };
    struct online_key key = { .i = id };
    rowvals_make(&rv, id, 1);
    ck_assert_msg(online_writer_put(w, gen, &key, ev, ONLINE_NO_CREATED_TS, rv.v, err,
                                    sizeof(err)) == FEATD_OK,
                  "put: %s", err);
    ck_assert_msg(online_writer_flush(w, err, sizeof(err)) == FEATD_OK, "flush: %s", err);
    online_writer_free(w);
    fbuf_free(&rv.emb);
}

START_TEST(test_entity_expiry_mixed_views)
{
    struct cfg_view vnone = make_view("exp_none", 0, 0x1ULL);
    struct cfg_view vshort = make_view("exp_short", 60, 0x2ULL);
    struct cfg_view vlong = make_view("exp_long", 86400, 0x3ULL);
    redisContext *c = connect_redis(2000);
    const uint64_t gn = alloc_gen(c, "featd", &vnone);
    const uint64_t gs = alloc_gen(c, "featd", &vshort);
    const uint64_t gl = alloc_gen(c, "featd", &vlong);
    int64_t ev = util_now_us() - 1000000;
    int64_t at_short = online_row_expire_at_ms(&vshort, ev);
    int64_t at_long = online_row_expire_at_ms(&vlong, ev);
    ck_assert_int_lt(at_short, at_long);
    ck_assert_int_lt(at_long, NO_EXPIRY_MS);

    /* a ttl view and a ttl-0 view: the far-future expiry wins, either order */
    put1(c, &vshort, gs, 1, ev);
    ck_assert_int_eq(key_expiretime(c, &vshort, 1), at_short);
    put1(c, &vnone, gn, 1, ev);
    ck_assert_int_eq(key_expiretime(c, &vshort, 1), NO_EXPIRY_MS);
    put1(c, &vnone, gn, 2, ev);
    ck_assert_int_eq(key_expiretime(c, &vnone, 2), NO_EXPIRY_MS);
    put1(c, &vshort, gs, 2, ev);
    ck_assert_int_eq(key_expiretime(c, &vnone, 2), NO_EXPIRY_MS);
    /* two ttl views: the later expiry, whichever is written first */
    put1(c, &vshort, gs, 3, ev);
    put1(c, &vlong, gl, 3, ev);
    ck_assert_int_eq(key_expiretime(c, &vlong, 3), at_long);
    put1(c, &vlong, gl, 4, ev);
    put1(c, &vshort, gs, 4, ev);
    ck_assert_int_eq(key_expiretime(c, &vlong, 4), at_long);
    /* the same view rewritten with an older event does not shorten it */
    put1(c, &vshort, gs, 5, ev);
    put1(c, &vshort, gs, 5, ev - 30 * 1000000LL);
    ck_assert_int_eq(key_expiretime(c, &vshort, 5), at_short);
    /* every field is there */
    for (int64_t id = 1; id <= 4; id++) {
        ck_assert(read_row(c, id <= 2 ? &vnone : &vlong, id <= 2 ? gn : gl, id, NULL, NULL,
                           NULL, NULL, NULL, 0));
        ck_assert(read_row(c, &vshort, gs, id, NULL, NULL, NULL, NULL, NULL, 0));
    }
    redisFree(c);
}
END_TEST

/* Upserts one row of v (prefix "featd") and flushes; returns 1 written, 0 skipped. */
static int upsert_v(redisContext *c, const struct cfg_view *v, uint64_t gen, int64_t id,
                    int64_t ev, int64_t cr, int ver)
{
    struct online_writer *w = online_writer_new(c, "featd", v, 10);
    int n = upsert1(w, gen, id, ev, cr, ver);
    online_writer_free(w);
    return n;
}

START_TEST(test_upsert_lww_created_and_expiry)
{
    struct cfg_view v = make_view("incr_v2", 60, 0x61ULL);
    struct cfg_view vlong = make_view("incr_v2_long", 86400, 0x62ULL);
    struct cfg_view vnone = make_view("incr_v2_none", 0, 0x63ULL);
    redisContext *c = connect_redis(2000);
    char err[256] = "";
    uint64_t gen = 0, gl = 0, gn = 0;
    ck_assert_int_eq(online_gen_ensure(c, "featd", &v, &gen, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(c, "featd", &vlong, &gl, err, sizeof(err)), FEATD_OK);
    ck_assert_int_eq(online_gen_ensure(c, "featd", &vnone, &gn, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_ne(gen, gl);
    int64_t ev = util_now_us() - 5 * 1000000LL;
    int64_t cr = ev + 7;
    int64_t ev_cr = 0;

    /* created-time tie-breaks at the same event time; an absent created
     * time compares below every present one */
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, cr, 1), 1);
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, ONLINE_NO_CREATED_TS, 2), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 1), 1);
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, cr - 1, 3), 0);
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, INT64_MIN + 1, 4), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 1), 1);
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, cr, 5), 1);       /* equal: written */
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev, cr + 1, 6), 1);   /* newer created */
    ck_assert(read_row(c, &v, gen, 1, NULL, &ev_cr, NULL, NULL, NULL, 0));
    ck_assert_int_eq(ev_cr, cr + 1);
    /* a newer event wins whatever the created times */
    ck_assert_int_eq(upsert_v(c, &v, gen, 1, ev + 1, ONLINE_NO_CREATED_TS, 7), 1);
    ck_assert(read_row(c, &v, gen, 1, NULL, &ev_cr, NULL, NULL, NULL, 0));
    ck_assert_int_eq(ev_cr, ONLINE_NO_CREATED_TS);
    ck_assert_int_eq(version_of(c, &v, gen, 1), 7);

    /* stored without a created time: any created time at the same event
     * wins, none ties (written), an older event loses */
    ck_assert_int_eq(upsert_v(c, &v, gen, 2, ev, ONLINE_NO_CREATED_TS, 1), 1);
    ck_assert_int_eq(upsert_v(c, &v, gen, 2, ev, ONLINE_NO_CREATED_TS, 2), 1);
    ck_assert_int_eq(upsert_v(c, &v, gen, 2, ev - 1, INT64_MAX, 3), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 2), 2);
    ck_assert_int_eq(upsert_v(c, &v, gen, 2, ev, INT64_MIN + 1, 4), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 2), 4);
    ck_assert_int_eq(upsert_v(c, &v, gen, 2, ev, ONLINE_NO_CREATED_TS, 5), 0);
    ck_assert_int_eq(version_of(c, &v, gen, 2), 4);

    /* the key's expiry only moves later: a newer row moves it, a losing
     * (older) one does not */
    int64_t at0 = online_row_expire_at_ms(&v, ev);
    ck_assert_int_eq(upsert_v(c, &v, gen, 3, ev, ONLINE_NO_CREATED_TS, 1), 1);
    ck_assert_int_eq(key_expiretime(c, &v, 3), at0);
    ck_assert_int_eq(upsert_v(c, &v, gen, 3, ev + 2000000, ONLINE_NO_CREATED_TS, 2), 1);
    int64_t at2 = online_row_expire_at_ms(&v, ev + 2000000);
    ck_assert_int_gt(at2, at0);
    ck_assert_int_eq(key_expiretime(c, &v, 3), at2);
    ck_assert_int_eq(upsert_v(c, &v, gen, 3, ev + 1000000, ONLINE_NO_CREATED_TS, 3), 0);
    ck_assert_int_eq(key_expiretime(c, &v, 3), at2);
    /* another view's field keeps the key alive longer: a newer upsert of
     * the short view does not shorten it */
    int64_t at_long = online_row_expire_at_ms(&vlong, ev);
    ck_assert_int_eq(upsert_v(c, &vlong, gl, 3, ev, ONLINE_NO_CREATED_TS, 1), 1);
    ck_assert_int_eq(key_expiretime(c, &v, 3), at_long);
    ck_assert_int_eq(upsert_v(c, &v, gen, 3, ev + 3000000, ONLINE_NO_CREATED_TS, 4), 1);
    ck_assert_int_eq(version_of(c, &v, gen, 3), 4);
    ck_assert_int_eq(key_expiretime(c, &v, 3), at_long);
    /* a ttl-0 incremental view: the far-future expiry, kept afterwards */
    ck_assert_int_eq(upsert_v(c, &vnone, gn, 3, ev, ONLINE_NO_CREATED_TS, 1), 1);
    ck_assert_int_eq(key_expiretime(c, &v, 3), NO_EXPIRY_MS);
    ck_assert_int_eq(upsert_v(c, &v, gen, 3, ev + 4000000, ONLINE_NO_CREATED_TS, 5), 1);
    ck_assert_int_eq(key_expiretime(c, &v, 3), NO_EXPIRY_MS);
    /* and the three views' rows sit side by side in the one hash */
    const uint64_t gens[3] = { gen, gl, gn };
    struct ent_count n = count_entities(c, "featd", gens, 3);
    ck_assert_int_eq(n.keys, 3);
    ck_assert_int_eq(n.of_gen[0], 3);
    ck_assert_int_eq(n.of_gen[1], 1);
    ck_assert_int_eq(n.of_gen[2], 1);
    ck_assert_int_eq(n.other, 0);
    redisFree(c);
}
END_TEST

static Suite *e2e_online_suite(void)
{
    Suite *s = suite_create("e2e_online");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_generation_put_flip_read);
    tcase_add_test(tc, test_ttl_pxat_and_expired_rows);
    tcase_add_test(tc, test_upsert_lww);
    tcase_add_test(tc, test_upsert_interleaved_writers);
    tcase_add_test(tc, test_upsert_noscript_recovery);
    tcase_add_test(tc, test_reclaim_exact_generation);
    tcase_add_test(tc, test_ensure_once);
    tcase_add_test(tc, test_redis_down_errors);
    tcase_add_test(tc, test_redis_paused_times_out);
    tcase_add_test(tc, test_bulk_put_throughput);
    tcase_add_test(tc, test_reclaim_leaves_no_garbage);
    tcase_add_test(tc, test_views_share_entity_hashes);
    tcase_add_test(tc, test_entity_expiry_mixed_views);
    tcase_add_test(tc, test_upsert_lww_created_and_expiry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* hiredis writes with write(2) */
    SRunner *sr = srunner_create(e2e_online_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
