/*
 * check_mat.c — unit tests of the materializer's pure parts (no Redis):
 *   select    latest-row-per-entity ordering rules, a randomized comparison
 *             with a sort-based reference, composite-key hashing, limits,
 *             memory per entity
 *   discover  snapshot/file discovery rules on temp directories (hidden
 *             names, _SUCCESS, ordering, identities, globs, errors)
 *   schema    the column compatibility table (hand-built columns) and
 *             mat_bind on real DuckDB-written files, good and bad
 *   decode    two-pass selection + row decoding of the committed fixtures
 *             equals DuckDB's independently computed latest rows
 *             (tests/fixtures/materialize/NAME.expected.json), value by value
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "materialize/mat_bind.h"
#include "materialize/mat_discover.h"
#include "materialize/mat_rg.h"
#include "materialize/mat_select.h"
#include "materialize/mat_ctx.h"
#include "materialize/mat_stats.h"
#include "materialize/materializer.h"
#include "online/online.h"
#include "parquet/parquet.h"
#include "core/fbuf.h"

#define FIX "tests/fixtures/materialize"

/* ---- hand-built views ---- */

static struct cfg_join_key k_int[] = { { "id", FT_INT64 } };
static struct cfg_join_key k_comp[] = { { "a", FT_STRING }, { "b", FT_STRING } };
static struct cfg_join_key k_mixed[] = { { "u", FT_INT64 }, { "s", FT_STRING } };
static struct cfg_feature f_one[] = { { "x", FT_INT64, "x", { 0 } } };

static struct cfg_view mkview(struct cfg_join_key *keys, size_t nkeys)
{
    struct cfg_view v;
    memset(&v, 0, sizeof(v));
    v.name = "t";
    v.keys = keys;
    v.nkeys = nkeys;
    v.features = f_one;
    v.nfeatures = 1;
    v.event_ts_column = "event_ts";
    return v;
}

/* ---- select ---- */

static struct mat_hash hid(int64_t id)
{
    struct cfg_view v = mkview(k_int, 1);
    struct online_key k = { .i = id };
    struct mat_hash h;
    mat_select_hash_entity(&v, &k, &h);
    return h;
}

START_TEST(test_select_order_rules)
{
    struct mat_select s;
    mat_select_init(&s, 0);
    struct mat_hash h = hid(7);
    bool rep;
    int64_t ev, cr;
    uint64_t ord;
    ck_assert_int_eq(mat_select_offer(&s, &h, 100, ONLINE_NO_CREATED_TS, 0, &rep), FEATD_OK);
    ck_assert(!rep);
    /* newer event wins */
    ck_assert_int_eq(mat_select_offer(&s, &h, 200, ONLINE_NO_CREATED_TS, 1, &rep), FEATD_OK);
    ck_assert(rep);
    ck_assert(mat_select_is_winner(&s, &h, 1));
    ck_assert(!mat_select_is_winner(&s, &h, 0));
    /* older event loses, even later in the file */
    ck_assert_int_eq(mat_select_offer(&s, &h, 150, 999, 2, &rep), FEATD_OK);
    ck_assert(rep);
    ck_assert(mat_select_is_winner(&s, &h, 1));
    /* equal event: a created time beats none */
    ck_assert_int_eq(mat_select_offer(&s, &h, 200, 5, 3, &rep), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h, 3));
    /* equal event, older created loses */
    ck_assert_int_eq(mat_select_offer(&s, &h, 200, 4, 4, &rep), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h, 3));
    /* none created loses to a created one */
    ck_assert_int_eq(mat_select_offer(&s, &h, 200, ONLINE_NO_CREATED_TS, 5, &rep), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h, 3));
    /* full tie: the later row wins */
    ck_assert_int_eq(mat_select_offer(&s, &h, 200, 5, 6, &rep), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h, 6));
    ck_assert(!mat_select_is_winner(&s, &h, 3));
    ck_assert_int_eq(mat_select_get(&s, &h, &ev, &cr, &ord), FEATD_OK);
    ck_assert_int_eq(ev, 200);
    ck_assert_int_eq(cr, 5);
    ck_assert_uint_eq(ord, 6);
    /* negative times (before 1970) order like numbers */
    struct mat_hash h2 = hid(8);
    ck_assert_int_eq(mat_select_offer(&s, &h2, -5, 0, 7, &rep), FEATD_OK);
    ck_assert_int_eq(mat_select_offer(&s, &h2, -10, 0, 8, &rep), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h2, 7));
    ck_assert_uint_eq(mat_select_count(&s), 2);
    /* unknown entity */
    struct mat_hash h3 = hid(9);
    ck_assert(!mat_select_is_winner(&s, &h3, 0));
    ck_assert_int_eq(mat_select_get(&s, &h3, &ev, &cr, &ord), FEATD_ERR);
    mat_select_clear(&s);
    ck_assert_uint_eq(mat_select_count(&s), 0);
    ck_assert(!mat_select_is_winner(&s, &h, 6));
    mat_select_free(&s);
}
END_TEST

struct refrow {
    int64_t key, ev, cr;
    uint64_t ord;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct refrow *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    if (x->ev != y->ev) {
        return x->ev < y->ev ? -1 : 1;
    }
    if (x->cr != y->cr) {
        return x->cr < y->cr ? -1 : 1;
    }
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

START_TEST(test_select_random_vs_reference)
{
    /* many rows, few distinct times: lots of ties of every kind */
    const size_t n = 300000;
    struct refrow *rows = malloc(n * sizeof(*rows));
    ck_assert_ptr_nonnull(rows);
    uint32_t st = 12345;
    struct mat_select s;
    mat_select_init(&s, 0);
    for (size_t i = 0; i < n; i++) {
        st = st * 1103515245u + 12345u;
        rows[i].key = (int64_t)(st >> 8) % 50000 - 25000;
        st = st * 1103515245u + 12345u;
        rows[i].ev = (int64_t)((st >> 16) % 4);
        st = st * 1103515245u + 12345u;
        rows[i].cr = (st >> 16) % 5 == 0 ? ONLINE_NO_CREATED_TS : (int64_t)((st >> 16) % 3);
        rows[i].ord = i;
        struct mat_hash h = hid(rows[i].key);
        ck_assert_int_eq(mat_select_offer(&s, &h, rows[i].ev, rows[i].cr, i, NULL), FEATD_OK);
    }
    qsort(rows, n, sizeof(*rows), ref_cmp);
    size_t entities = 0;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n || rows[i + 1].key != rows[i].key;
        struct mat_hash h = hid(rows[i].key);
        ck_assert_msg(mat_select_is_winner(&s, &h, rows[i].ord) == last,
                      "key %" PRId64 " row %" PRIu64 ": winner mismatch", rows[i].key, rows[i].ord);
        entities += last;
    }
    ck_assert_uint_eq(mat_select_count(&s), entities);
    double per = (double)mat_select_bytes(&s) / (double)mat_select_count(&s);
    printf("select: %zu rows, %zu entities, table %zu bytes = %.1f bytes/entity (slot %zu)\n", n,
           entities, mat_select_bytes(&s), per, sizeof(struct mat_slot));
    ck_assert(per <= 2.0 * sizeof(struct mat_slot) / 0.75 + 1);
    mat_select_free(&s);
    free(rows);
}
END_TEST

START_TEST(test_select_limit)
{
    struct mat_select s;
    mat_select_init(&s, 3);
    for (int i = 0; i < 3; i++) {
        struct mat_hash h = hid(i);
        ck_assert_int_eq(mat_select_offer(&s, &h, 1, 0, (uint64_t)i, NULL), FEATD_OK);
    }
    struct mat_hash h = hid(99);
    ck_assert_int_eq(mat_select_offer(&s, &h, 1, 0, 10, NULL), FEATD_ERR);
    h = hid(1);     /* known entities still update */
    ck_assert_int_eq(mat_select_offer(&s, &h, 2, 0, 11, NULL), FEATD_OK);
    ck_assert(mat_select_is_winner(&s, &h, 11));
    mat_select_free(&s);
}
END_TEST

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

START_TEST(test_hash_keys)
{
    struct cfg_view vc = mkview(k_comp, 2);
    struct online_key a[2] = { { .s = "ab", .slen = 2 }, { .s = "c", .slen = 1 } };
    struct online_key b[2] = { { .s = "a", .slen = 1 }, { .s = "bc", .slen = 2 } };
    struct online_key c[2] = { { .s = "", .slen = 0 }, { .s = "abc", .slen = 3 } };
    struct online_key d[2] = { { .s = "ab", .slen = 2 }, { .s = "c", .slen = 1 } };
    struct mat_hash ha, hb, hc, hd;
    mat_select_hash_entity(&vc, a, &ha);
    mat_select_hash_entity(&vc, b, &hb);
    mat_select_hash_entity(&vc, c, &hc);
    mat_select_hash_entity(&vc, d, &hd);
    ck_assert(ha.lo != hb.lo || ha.hi != hb.hi);
    ck_assert(ha.lo != hc.lo || ha.hi != hc.hi);
    ck_assert(ha.lo == hd.lo && ha.hi == hd.hi);
    /* the string bytes, not the pointer, are hashed */
    char buf[3] = { 'a', 'b', 0 };
    struct online_key e[2] = { { .s = buf, .slen = 2 }, { .s = "c", .slen = 1 } };
    struct mat_hash he;
    mat_select_hash_entity(&vc, e, &he);
    ck_assert(ha.lo == he.lo && ha.hi == he.hi);
    /* mixed: int 1 + "" differs from int 1 + "\0" and from int 0 + "" */
    struct cfg_view vm = mkview(k_mixed, 2);
    struct online_key m1[2] = { { .i = 1 }, { .s = "", .slen = 0 } };
    struct online_key m2[2] = { { .i = 1 }, { .s = "\0", .slen = 1 } };
    struct online_key m3[2] = { { .i = 0 }, { .s = "", .slen = 0 } };
    struct mat_hash h1, h2, h3;
    mat_select_hash_entity(&vm, m1, &h1);
    mat_select_hash_entity(&vm, m2, &h2);
    mat_select_hash_entity(&vm, m3, &h3);
    ck_assert(h1.lo != h2.lo || h1.hi != h2.hi);
    ck_assert(h1.lo != h3.lo || h1.hi != h3.hi);
    /* one million sequential ids: no 64-bit (let alone 128-bit) collision */
    const size_t n = 1000000;
    uint64_t *lo = malloc(n * sizeof(*lo));
    ck_assert_ptr_nonnull(lo);
    for (size_t i = 0; i < n; i++) {
        lo[i] = hid((int64_t)i).lo;
    }
    qsort(lo, n, sizeof(*lo), cmp_u64);
    for (size_t i = 1; i < n; i++) {
        ck_assert(lo[i] != lo[i - 1]);
    }
    free(lo);
    /* bytes hash: every length 0..40 differs from its neighbours */
    uint8_t z[41] = { 0 };
    struct mat_hash prev;
    mat_select_hash_bytes(z, 0, &prev);
    for (size_t len = 1; len <= 40; len++) {
        struct mat_hash hz;
        mat_select_hash_bytes(z, len, &hz);
        ck_assert(hz.lo != prev.lo || hz.hi != prev.hi);
        prev = hz;
    }
}
END_TEST

/* ---- discover ---- */

static char tmpd[256];

static void mk_tmp(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpd, sizeof(tmpd), "%s/featd-mat-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpd));
}

static void rm_tmp(void)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpd);
    ck_assert_int_eq(system(cmd), 0);
}

static void touch(const char *rel, const char *content, int64_t mtime_s)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmpd, rel);
    /* create parent directories */
    for (char *s = p + strlen(tmpd) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    fputs(content, f);
    fclose(f);
    if (mtime_s > 0) {
        struct timespec ts[2] = { { mtime_s, 0 }, { mtime_s, 0 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
}

static void mkd(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tmpd, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

START_TEST(test_discover_names)
{
    ck_assert(mat_discover_is_data_name("a.parquet"));
    ck_assert(mat_discover_is_data_name("part-00000-abc.snappy.parquet"));
    ck_assert(mat_discover_is_data_name("X.PARQUET"));
    ck_assert(!mat_discover_is_data_name(".a.parquet"));
    ck_assert(!mat_discover_is_data_name("_a.parquet"));
    ck_assert(!mat_discover_is_data_name(".parquet"));
    ck_assert(!mat_discover_is_data_name("a.parquet.crc"));
    ck_assert(!mat_discover_is_data_name("a.csv"));
    ck_assert(!mat_discover_is_data_name("_SUCCESS"));
}
END_TEST

START_TEST(test_discover_dir_rules)
{
    mk_tmp();
    char err[512];
    struct mat_listing l;
    ck_assert_int_eq(mat_discover(tmpd, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 0);
    ck_assert_ptr_null(mat_discover_newest_complete(&l, NULL));
    mat_discover_listing_free(&l);

    touch("2024-01-02.parquet", "x", 1000);
    touch("2024-01-01.parquet", "xy", 2000);       /* older name, newer mtime */
    touch(".2024-01-09.parquet", "hidden", 0);
    touch("_2024-01-09.parquet", "underscore", 0);
    touch("notes.txt", "ignored", 0);
    touch("2024-01-03/part-1.parquet", "p1", 0);    /* no _SUCCESS yet */
    touch("2024-01-03/part-0.parquet", "p0", 0);
    touch("_temporary/x.parquet", "spark temp", 0);
    mkd(".staging");
    ck_assert_int_eq(mat_discover(tmpd, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 3);
    ck_assert_str_eq(l.snaps[0].name, "2024-01-01.parquet");
    ck_assert_str_eq(l.snaps[1].name, "2024-01-02.parquet");
    ck_assert_str_eq(l.snaps[2].name, "2024-01-03");
    /* a file entry: complete, and its one data file is itself */
    ck_assert(l.snaps[0].complete && strcmp(l.snaps[0].files[0].path, l.snaps[0].path) == 0);
    ck_assert_uint_eq(l.snaps[0].nfiles, 1);
    ck_assert_int_eq(l.snaps[0].files[0].size, 2);
    /* a directory entry: only a directory can be incomplete */
    ck_assert(!l.snaps[2].complete);
    ck_assert_uint_eq(l.snaps[2].nfiles, 0);
    ck_assert_uint_eq(l.nignored, 1);
    ck_assert(strstr(l.ignored_example, "notes.txt") != NULL);
    const struct mat_snapshot *inc = NULL;
    const struct mat_snapshot *best = mat_discover_newest_complete(&l, &inc);
    ck_assert_ptr_nonnull(best);
    ck_assert_str_eq(best->name, "2024-01-02.parquet");      /* by name, not mtime */
    ck_assert_ptr_nonnull(inc);
    ck_assert_str_eq(inc->name, "2024-01-03");
    uint64_t sig_file = l.snaps[1].sig;
    mat_discover_listing_free(&l);

    /* _SUCCESS completes the directory: its files in name order */
    touch("2024-01-03/_SUCCESS", "", 0);
    touch("2024-01-03/_committed_x", "", 0);
    touch("2024-01-03/.part-0.parquet.crc", "", 0);
    touch("2024-01-03/sub/deeper.parquet", "no recursion", 0);
    ck_assert_int_eq(mat_discover(tmpd, &l, err, sizeof(err)), FEATD_OK);
    best = mat_discover_newest_complete(&l, &inc);
    ck_assert_ptr_nonnull(best);
    ck_assert_str_eq(best->name, "2024-01-03");
    ck_assert_ptr_null(inc);
    ck_assert_uint_eq(best->nfiles, 2);
    ck_assert_str_eq(best->files[0].name, "2024-01-03/part-0.parquet");
    ck_assert_str_eq(best->files[1].name, "2024-01-03/part-1.parquet");
    ck_assert(strstr(best->files[0].path, tmpd) == best->files[0].path);
    ck_assert_uint_eq(l.snaps[1].sig, sig_file);                 /* unchanged file, same id */
    uint64_t sig_dir = best->sig;
    mat_discover_listing_free(&l);

    /* a file rewritten in place (same name, new size/mtime) is a new identity */
    touch("2024-01-02.parquet", "changed", 3000);
    touch("2024-01-03/part-1.parquet", "p1 again", 5000);
    ck_assert_int_eq(mat_discover(tmpd, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_ne(l.snaps[1].sig, sig_file);
    ck_assert_uint_ne(l.snaps[2].sig, sig_dir);
    mat_discover_listing_free(&l);

    /* an incomplete directory newer than a complete one */
    touch("2024-01-04/part-0.parquet", "p", 0);
    ck_assert_int_eq(mat_discover(tmpd, &l, err, sizeof(err)), FEATD_OK);
    best = mat_discover_newest_complete(&l, &inc);
    ck_assert_str_eq(best->name, "2024-01-03");
    ck_assert_str_eq(inc->name, "2024-01-04");
    mat_discover_listing_free(&l);
    rm_tmp();
}
END_TEST

START_TEST(test_discover_glob_file_errors)
{
    mk_tmp();
    char err[512], pat[600];
    struct mat_listing l;
    touch("a/x-1.parquet", "1", 0);
    touch("a/x-2.parquet", "2", 0);
    touch("a/y-1.parquet", "3", 0);
    touch("a/_x-3.parquet", "hidden", 0);
    touch("snaps/s1/_SUCCESS", "", 0);
    touch("snaps/s1/p.parquet", "4", 0);
    touch("snaps/s2/p.parquet", "5", 0);
    snprintf(pat, sizeof(pat), "%s/a/*-1.parquet", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 2);
    ck_assert_str_eq(l.snaps[0].name, "x-1.parquet");
    ck_assert_str_eq(l.snaps[1].name, "y-1.parquet");
    ck_assert(strstr(l.snaps[0].path, "/a/x-1.parquet") != NULL);
    mat_discover_listing_free(&l);
    snprintf(pat, sizeof(pat), "%s/a/*", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 3);       /* _x-3 ignored */
    mat_discover_listing_free(&l);
    snprintf(pat, sizeof(pat), "%s/snaps/s[0-9]", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 2);
    ck_assert(l.snaps[0].complete && !l.snaps[1].complete);
    ck_assert_uint_eq(l.snaps[0].nfiles, 1);
    ck_assert_str_eq(l.snaps[0].name, "s1");
    ck_assert_str_eq(l.snaps[0].files[0].name, "s1/p.parquet");
    mat_discover_listing_free(&l);
    snprintf(pat, sizeof(pat), "%s/nothing-*", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 0);
    mat_discover_listing_free(&l);
    /* a single file */
    snprintf(pat, sizeof(pat), "%s/a/x-2.parquet", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_OK);
    ck_assert_uint_eq(l.nsnaps, 1);
    ck_assert_str_eq(l.snaps[0].name, "x-2.parquet");
    mat_discover_listing_free(&l);
    /* errors */
    snprintf(pat, sizeof(pat), "%s/missing", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_ERR);
    ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
    mat_discover_listing_free(&l);
    touch("notes.txt", "x", 0);
    snprintf(pat, sizeof(pat), "%s/notes.txt", tmpd);
    ck_assert_int_eq(mat_discover(pat, &l, err, sizeof(err)), FEATD_ERR);
    ck_assert_msg(strstr(err, "not named *.parquet") != NULL, "%s", err);
    mat_discover_listing_free(&l);
    ck_assert_int_eq(mat_discover(NULL, &l, err, sizeof(err)), FEATD_ERR);
    mat_discover_listing_free(&l);
    rm_tmp();
}
END_TEST

/* ---- schema ---- */

static struct pq_column col(enum pq_physical p, enum pq_logical l)
{
    struct pq_column c;
    memset(&c, 0, sizeof(c));
    c.name = "c";
    c.physical = p;
    c.logical = l;
    c.supported = true;
    c.nullable = true;
    c.nleaves = 1;
    c.converted_type = -1;
    c.int_signed = true;
    return c;
}

static struct pq_column intcol(enum pq_physical p, int bits, bool sgn)
{
    struct pq_column c = col(p, PQ_LT_INT);
    c.int_bits = bits;
    c.int_signed = sgn;
    return c;
}

static struct pq_column tscol(enum pq_time_unit u)
{
    struct pq_column c = col(PQ_INT64, PQ_LT_TIMESTAMP);
    c.time_unit = u;
    return c;
}

static struct pq_column listof(struct pq_column c)
{
    c.is_list = true;
    return c;
}

struct compat_case {
    const char *what;
    struct pq_column c;
    enum mat_role role;
    enum featd_type t;
    bool ok;
};

START_TEST(test_schema_table)
{
    struct pq_column mapc = col(PQ_BYTE_ARRAY, PQ_LT_NONE);
    mapc.supported = false;
    mapc.unsupported_reason = "MAP columns are not supported";
    struct pq_column dec = col(PQ_INT64, PQ_LT_DECIMAL);
    dec.scale = 2;
    dec.precision = 18;
    struct pq_column half = col(PQ_FLBA, PQ_LT_FLOAT16);
    half.type_length = 2;
    struct pq_column flba = col(PQ_FLBA, PQ_LT_NONE);
    flba.type_length = 16;
    const struct compat_case cases[] = {
        /* join keys */
        { "key int64 <- INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_KEY, FT_INT64, true },
        { "key int64 <- INT32", col(PQ_INT32, PQ_LT_NONE), MAT_ROLE_KEY, FT_INT64, true },
        { "key int64 <- UINT32", intcol(PQ_INT32, 32, false), MAT_ROLE_KEY, FT_INT64, true },
        { "key int64 <- INT16", intcol(PQ_INT32, 16, true), MAT_ROLE_KEY, FT_INT64, true },
        { "key int64 <- UINT64", intcol(PQ_INT64, 64, false), MAT_ROLE_KEY, FT_INT64, false },
        { "key int64 <- STRING", col(PQ_BYTE_ARRAY, PQ_LT_STRING), MAT_ROLE_KEY, FT_INT64, false },
        { "key int64 <- DOUBLE", col(PQ_DOUBLE, PQ_LT_NONE), MAT_ROLE_KEY, FT_INT64, false },
        { "key int64 <- list", listof(col(PQ_INT64, PQ_LT_NONE)), MAT_ROLE_KEY, FT_INT64, false },
        { "key string <- STRING", col(PQ_BYTE_ARRAY, PQ_LT_STRING), MAT_ROLE_KEY, FT_STRING, true },
        { "key string <- ENUM", col(PQ_BYTE_ARRAY, PQ_LT_ENUM), MAT_ROLE_KEY, FT_STRING, true },
        { "key string <- INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_KEY, FT_STRING, false },
        { "key string <- raw bytes", col(PQ_BYTE_ARRAY, PQ_LT_NONE), MAT_ROLE_KEY, FT_STRING,
          false },
        { "key double (bad view)", col(PQ_DOUBLE, PQ_LT_NONE), MAT_ROLE_KEY, FT_DOUBLE, false },
        /* timestamps */
        { "event <- TIMESTAMP(MILLIS)", tscol(PQ_MILLIS), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, true },
        { "event <- TIMESTAMP(MICROS)", tscol(PQ_MICROS), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, true },
        { "event <- TIMESTAMP(NANOS)", tscol(PQ_NANOS), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, true },
        { "event <- INT96", col(PQ_INT96, PQ_LT_NONE), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, true },
        { "event <- DATE", col(PQ_INT32, PQ_LT_DATE), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, true },
        { "event <- plain INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_EVENT_TS, FT_TIMESTAMP,
          false },
        { "event <- STRING", col(PQ_BYTE_ARRAY, PQ_LT_STRING), MAT_ROLE_EVENT_TS, FT_TIMESTAMP,
          false },
        { "event <- list<ts>", listof(tscol(PQ_MICROS)), MAT_ROLE_EVENT_TS, FT_TIMESTAMP, false },
        { "created <- TIMESTAMP(NANOS)", tscol(PQ_NANOS), MAT_ROLE_CREATED_TS, FT_TIMESTAMP, true },
        { "created <- DOUBLE", col(PQ_DOUBLE, PQ_LT_NONE), MAT_ROLE_CREATED_TS, FT_TIMESTAMP, false },
        { "created <- map", mapc, MAT_ROLE_CREATED_TS, FT_TIMESTAMP, false },
        /* features: widening accepted */
        { "int64 <- INT32", col(PQ_INT32, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_INT64, true },
        { "int64 <- INT8", intcol(PQ_INT32, 8, true), MAT_ROLE_FEATURE, FT_INT64, true },
        { "int32 <- INT16", intcol(PQ_INT32, 16, true), MAT_ROLE_FEATURE, FT_INT32, true },
        { "int32 <- UINT16", intcol(PQ_INT32, 16, false), MAT_ROLE_FEATURE, FT_INT32, true },
        { "double <- FLOAT", col(PQ_FLOAT, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_DOUBLE, true },
        { "double <- FLOAT16", half, MAT_ROLE_FEATURE, FT_DOUBLE, true },
        { "float <- FLOAT16", half, MAT_ROLE_FEATURE, FT_FLOAT, true },
        { "timestamp <- TIMESTAMP(NANOS)", tscol(PQ_NANOS), MAT_ROLE_FEATURE, FT_TIMESTAMP, true },
        { "timestamp <- INT96", col(PQ_INT96, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_TIMESTAMP, true },
        { "string <- STRING", col(PQ_BYTE_ARRAY, PQ_LT_STRING), MAT_ROLE_FEATURE, FT_STRING, true },
        { "string <- JSON", col(PQ_BYTE_ARRAY, PQ_LT_JSON), MAT_ROLE_FEATURE, FT_STRING, true },
        { "bytes <- BYTE_ARRAY", col(PQ_BYTE_ARRAY, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_BYTES, true },
        { "bytes <- STRING", col(PQ_BYTE_ARRAY, PQ_LT_STRING), MAT_ROLE_FEATURE, FT_BYTES, true },
        { "bytes <- FLBA(16)", flba, MAT_ROLE_FEATURE, FT_BYTES, true },
        { "bool <- BOOLEAN", col(PQ_BOOLEAN, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_BOOL, true },
        { "float_list <- list<FLOAT>", listof(col(PQ_FLOAT, PQ_LT_NONE)), MAT_ROLE_FEATURE,
          FT_FLOAT_LIST, true },
        { "double_list <- list<FLOAT>", listof(col(PQ_FLOAT, PQ_LT_NONE)), MAT_ROLE_FEATURE,
          FT_DOUBLE_LIST, true },
        { "int64_list <- list<INT32>", listof(col(PQ_INT32, PQ_LT_NONE)), MAT_ROLE_FEATURE,
          FT_INT64_LIST, true },
        { "string_list <- list<STRING>", listof(col(PQ_BYTE_ARRAY, PQ_LT_STRING)),
          MAT_ROLE_FEATURE, FT_STRING_LIST, true },
        /* lossy or meaningless: refused */
        { "int32 <- INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_INT32, false },
        { "int32 <- UINT32", intcol(PQ_INT32, 32, false), MAT_ROLE_FEATURE, FT_INT32, false },
        { "int64 <- UINT64", intcol(PQ_INT64, 64, false), MAT_ROLE_FEATURE, FT_INT64, false },
        { "float <- DOUBLE", col(PQ_DOUBLE, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_FLOAT, false },
        { "double <- INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_DOUBLE, false },
        { "double <- DECIMAL", dec, MAT_ROLE_FEATURE, FT_DOUBLE, false },
        { "int64 <- DECIMAL", dec, MAT_ROLE_FEATURE, FT_INT64, false },
        { "string <- INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_STRING, false },
        { "string <- raw bytes", col(PQ_BYTE_ARRAY, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_STRING,
          false },
        { "bool <- INT32", col(PQ_INT32, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_BOOL, false },
        { "timestamp <- plain INT64", col(PQ_INT64, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_TIMESTAMP,
          false },
        { "float_list <- list<DOUBLE>", listof(col(PQ_DOUBLE, PQ_LT_NONE)), MAT_ROLE_FEATURE,
          FT_FLOAT_LIST, false },
        { "int64_list <- list<DOUBLE>", listof(col(PQ_DOUBLE, PQ_LT_NONE)), MAT_ROLE_FEATURE,
          FT_INT64_LIST, false },
        { "float_list <- FLOAT", col(PQ_FLOAT, PQ_LT_NONE), MAT_ROLE_FEATURE, FT_FLOAT_LIST, false },
        { "float <- list<FLOAT>", listof(col(PQ_FLOAT, PQ_LT_NONE)), MAT_ROLE_FEATURE, FT_FLOAT,
          false },
        { "string <- map", mapc, MAT_ROLE_FEATURE, FT_STRING, false },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cases); i++) {
        char why[300] = "";
        bool ok = mat_bind_compatible(&cases[i].c, cases[i].role, cases[i].t, why, sizeof(why));
        ck_assert_msg(ok == cases[i].ok, "%s: expected %s, got %s (%s)", cases[i].what,
                      cases[i].ok ? "accepted" : "refused", ok ? "accepted" : "refused", why);
        if (!ok) {
            ck_assert_msg(strstr(why, "'c'") != NULL, "%s: reason does not name the column: %s",
                          cases[i].what, why);
        }
    }
}
END_TEST

/* The cust view of the fixtures (as in tests/fixtures/materialize/generate.mjs). */
static const char *cust_cfg =
    "{ \"entities\": [ { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", "
    "\"type\": \"int64\" } ] },"
    "  { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] },"
    "  { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ],"
    "  \"feature_views\": [ { \"name\": \"cust\", \"entities\": [\"customer\"], \"features\": ["
    "   {\"name\":\"revenue\",\"type\":\"double\"},{\"name\":\"orders\",\"type\":\"int64\"},"
    "   {\"name\":\"score\",\"type\":\"float\"},{\"name\":\"ratio\",\"type\":\"double\"},"
    "   {\"name\":\"active\",\"type\":\"bool\"},{\"name\":\"name\",\"type\":\"string\"},"
    "   {\"name\":\"blob\",\"type\":\"bytes\"},{\"name\":\"last_seen\",\"type\":\"timestamp\"},"
    "   {\"name\":\"embedding\",\"type\":\"float_list\"},{\"name\":\"tags\",\"type\":\"string_list\"},"
    "   {\"name\":\"counts\",\"type\":\"int64_list\"},{\"name\":\"weights\",\"type\":\"double_list\"},"
    "   {\"name\":\"small\",\"type\":\"int32\"} ],"
    "   \"source\": { \"path\": \"x\", \"event_timestamp_column\": \"event_ts\","
    "     \"created_timestamp_column\": \"created\", \"columns\": {\"revenue\": \"rev\"} } },"
    "  { \"name\": \"user_item\", \"entities\": [\"user\", \"item\"], \"features\": ["
    "   {\"name\":\"score\",\"type\":\"double\"},{\"name\":\"clicks\",\"type\":\"int64\"} ],"
    "   \"source\": { \"path\": \"x\", \"event_timestamp_column\": \"event_ts\" } } ] }";

static struct featd_config *load_cfg(void)
{
    struct featd_config *cfg = NULL;
    char err[2048];
    ck_assert_msg(config_load_string(cust_cfg, &cfg, err, sizeof(err)) == FEATD_OK, "%s", err);
    return cfg;
}

static int bind_file(const char *path, const struct cfg_view *v, char *why, size_t whylen)
{
    struct pq_file *f = NULL;
    char err[512];
    ck_assert_msg(pq_open_file(path, NULL, &f, err, sizeof(err)) == FEATD_OK, "%s: %s", path, err);
    struct mat_binding b;
    int rc = mat_bind(f, v, &b, why, whylen);
    mat_bind_free(&b);
    pq_close(f);
    return rc;
}

START_TEST(test_schema_real_files)
{
    struct featd_config *cfg = load_cfg();
    const struct cfg_view *v = config_find_view(cfg, "cust");
    char why[512];
    ck_assert_int_eq(bind_file(FIX "/cust/snap_2025-01-01/part-0.parquet", v, why, sizeof(why)),
                     FEATD_OK);
    ck_assert_int_eq(bind_file(FIX "/cust/snap_2025-01-01/part-1.parquet", v, why, sizeof(why)),
                     FEATD_OK);
    ck_assert_int_eq(bind_file(FIX "/cust_bad/missing_column/part-0.parquet", v, why, sizeof(why)),
                     FEATD_ERR);
    ck_assert_msg(strstr(why, "missing column 'rev' (feature revenue double)") != NULL, "%s", why);
    ck_assert_int_eq(bind_file(FIX "/cust_bad/wrong_type/part-0.parquet", v, why, sizeof(why)),
                     FEATD_ERR);
    ck_assert_msg(strstr(why, "'name'") && strstr(why, "string"), "%s", why);
    ck_assert_int_eq(bind_file(FIX "/cust_bad/lossy_list/part-0.parquet", v, why, sizeof(why)),
                     FEATD_ERR);
    ck_assert_msg(strstr(why, "'embedding'") && strstr(why, "float_list"), "%s", why);
    ck_assert_int_eq(bind_file(FIX "/cust_bad/lossy_int/part-0.parquet", v, why, sizeof(why)),
                     FEATD_ERR);
    ck_assert_msg(strstr(why, "'small'") && strstr(why, "int32"), "%s", why);
    /* another view's file: the join key is missing */
    ck_assert_int_eq(bind_file(FIX "/ui/2025-01-01.parquet", v, why, sizeof(why)), FEATD_ERR);
    ck_assert_msg(strstr(why, "missing column 'customer_id'") != NULL, "%s", why);
    config_free(cfg);
}
END_TEST

/* mat_bind_readable_as on the Parquet conformance corpus: physical and
 * logical column types against featd types; skipped when the corpus
 * (PARQUET_TESTING_DIR or ../shared/parquet-testing) is absent. */
static struct pq_file *corpus_open(const char *rel)
{
    const char *env = getenv("PARQUET_TESTING_DIR");
    const char *cands[] = { env, "../shared/parquet-testing" };
    for (size_t i = 0; i < 2; i++) {
        char path[1300];
        char err[512];
        struct pq_file *f = NULL;
        if (cands[i] == NULL || cands[i][0] == '\0') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", cands[i], rel);
        if (access(path, R_OK) == 0) {
            ck_assert_msg(pq_open_file(path, NULL, &f, err, sizeof err) == FEATD_OK, "open %s: %s",
                          path, err);
            return f;
        }
    }
    return NULL;
}

START_TEST(test_bind_readable_as_corpus)
{
    char why[256];
    struct pq_file *f = corpus_open("data/alltypes_plain.parquet");
    if (f == NULL) {
        fprintf(stderr, "SKIPPED: corpus not found\n");
        return;
    }
    ck_assert(mat_bind_readable_as(pq_column(f, 0), FT_INT32, why, sizeof why));
    ck_assert(mat_bind_readable_as(pq_column(f, 0), FT_INT64, why, sizeof why));
    ck_assert(mat_bind_readable_as(pq_column(f, 6), FT_DOUBLE, why, sizeof why));
    ck_assert(!mat_bind_readable_as(pq_column(f, 7), FT_FLOAT, why, sizeof why));
    ck_assert(strstr(why, "double_col") != NULL);
    ck_assert(mat_bind_readable_as(pq_column(f, 10), FT_TIMESTAMP, why, sizeof why));
    ck_assert(mat_bind_readable_as(pq_column(f, 9), FT_BYTES, why, sizeof why));
    ck_assert(!mat_bind_readable_as(pq_column(f, 9), FT_STRING, why, sizeof why));
    ck_assert(!mat_bind_readable_as(pq_column(f, 0), FT_INT64_LIST, why, sizeof why));
    pq_close(f);
    f = corpus_open("data/list_columns.parquet");
    ck_assert_ptr_nonnull(f);
    ck_assert(mat_bind_readable_as(pq_column(f, 0), FT_INT64_LIST, why, sizeof why));
    ck_assert(mat_bind_readable_as(pq_column(f, 1), FT_STRING_LIST, why, sizeof why));
    ck_assert(!mat_bind_readable_as(pq_column(f, 1), FT_STRING, why, sizeof why));
    pq_close(f);
    f = corpus_open("data/concatenated_gzip_members.parquet");
    ck_assert_ptr_nonnull(f);
    ck_assert(!mat_bind_readable_as(pq_column(f, 0), FT_INT64, why, sizeof why));
    pq_close(f);
}
END_TEST

/* ---- decode: two passes over the fixtures vs DuckDB's answer ---- */

/* Compares one decoded value with the expected JSON value of type t. */
static void check_value(const char *what, enum featd_type t, const struct online_value *o,
                        json_t *e)
{
    if (json_is_null(e)) {
        ck_assert_msg(o->is_null, "%s: expected null", what);
        return;
    }
    ck_assert_msg(!o->is_null, "%s: unexpected null", what);
    switch (t) {
    case FT_BOOL:
        ck_assert_msg(o->u.b == json_is_true(e), "%s: bool", what);
        break;
    case FT_INT32:
        ck_assert_msg(o->u.i32 == atoi(json_string_value(e)), "%s: %d vs %s", what, o->u.i32,
                      json_string_value(e));
        break;
    case FT_INT64:
    case FT_TIMESTAMP:
        ck_assert_msg(o->u.i64 == strtoll(json_string_value(e), NULL, 10),
                      "%s: %" PRId64 " vs %s", what, o->u.i64, json_string_value(e));
        break;
    case FT_FLOAT:
        ck_assert_msg(o->u.f == (float)json_number_value(e), "%s: %.9g vs %.9g", what,
                      (double)o->u.f, json_number_value(e));
        break;
    case FT_DOUBLE:
        ck_assert_msg(o->u.d == json_number_value(e), "%s: %.17g vs %.17g", what, o->u.d,
                      json_number_value(e));
        break;
    case FT_STRING:
        ck_assert_msg(o->slen == strlen(json_string_value(e)) &&
                      memcmp(o->s, json_string_value(e), o->slen) == 0, "%s: %.*s vs %s", what,
                      (int)o->slen, o->s, json_string_value(e));
        break;
    case FT_BYTES: {
        char hex[300];
        size_t n = 0;
        for (size_t i = 0; i < o->slen && n + 3 < sizeof(hex); i++) {
            n += (size_t)snprintf(hex + n, sizeof(hex) - n, "%02X", (unsigned char)o->s[i]);
        }
        hex[n] = '\0';
        ck_assert_msg(strcmp(hex, json_string_value(e)) == 0, "%s: %s vs %s", what, hex,
                      json_string_value(e));
        break;
    }
    default: {
        ck_assert_msg(json_is_array(e), "%s: expected a list", what);
        ck_assert_msg(o->count == json_array_size(e), "%s: %u vs %zu elements", what, o->count,
                      json_array_size(e));
        const uint8_t *cur = o->raw, *end = o->raw + o->rawlen;
        for (uint32_t i = 0; i < o->count; i++) {
            json_t *x = json_array_get(e, i);
            if (t == FT_FLOAT_LIST) {
                ck_assert_msg(online_row_list_float(o, i) == (float)json_number_value(x), "%s[%u]",
                              what, i);
            } else if (t == FT_DOUBLE_LIST) {
                ck_assert_msg(online_row_list_double(o, i) == json_number_value(x), "%s[%u]", what, i);
            } else if (t == FT_INT64_LIST) {
                ck_assert_msg(online_row_list_int64(o, i) == strtoll(json_string_value(x), NULL, 10),
                              "%s[%u]", what, i);
            } else {
                const char *s;
                size_t n;
                ck_assert_int_eq(online_row_list_next_string(&cur, end, &s, &n), FEATD_OK);
                ck_assert_msg(n == strlen(json_string_value(x)) &&
                              memcmp(s, json_string_value(x), n) == 0, "%s[%u]", what, i);
            }
        }
        break;
    }
    }
}

/*
 * Runs pass 1 and pass 2 over files with the library functions the
 * materializer uses, encodes each winner as an online row, decodes it
 * again, and compares every entity with the expected JSON.
 */
static void two_pass_vs_expected(const struct cfg_view *v, const char *const *files,
                                 size_t nfiles, const char *expected_path, size_t want_rejected)
{
    struct mat_select sel;
    mat_select_init(&sel, 0);
    struct mat_rg g;
    mat_rg_init(&g);
    char err[512];
    uint64_t ord = 0;
    size_t rejected = 0;
    for (int pass = 1; pass <= 2; pass++) {
        ord = 0;
        size_t checked = 0;
        json_error_t jerr;
        json_t *exp = pass == 2 ? json_load_file(expected_path, 0, &jerr) : NULL;
        ck_assert_msg(pass == 1 || exp != NULL, "%s: %s", expected_path, jerr.text);
        for (size_t fi = 0; fi < nfiles; fi++) {
            struct pq_file *f = NULL;
            ck_assert_msg(pq_open_file(files[fi], NULL, &f, err, sizeof(err)) == FEATD_OK, "%s",
                          err);
            struct mat_binding b;
            ck_assert_msg(mat_bind(f, v, &b, err, sizeof(err)) == FEATD_OK, "%s", err);
            for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
                ck_assert_msg(mat_rg_read_keys(&g, f, &b, rg, err, sizeof(err)) == FEATD_OK, "%s",
                              err);
                if (pass == 2) {
                    ck_assert_msg(mat_rg_read_features(&g, f, rg, err, sizeof(err)) == FEATD_OK,
                                  "%s", err);
                }
                for (size_t r = 0; r < g.nrows; r++, ord++) {
                    struct online_key keys[2];
                    int64_t ev, cr;
                    const char *why;
                    if (mat_rg_row_key(&g, r, keys, &ev, &cr, &why) != FEATD_OK) {
                        rejected += pass == 1;
                        continue;
                    }
                    struct mat_hash h;
                    mat_select_hash_entity(v, keys, &h);
                    if (pass == 1) {
                        ck_assert_int_eq(mat_select_offer(&sel, &h, ev, cr, ord, NULL), FEATD_OK);
                        continue;
                    }
                    if (!mat_select_is_winner(&sel, &h, ord)) {
                        continue;
                    }
                    struct online_value vals[16], dvals[16];
                    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_OK);
                    struct fbuf row = { 0 };
                    ck_assert_int_eq(online_row_encode(&row, v, ev, cr, vals), FEATD_OK);
                    int64_t dev, dcr;
                    ck_assert_int_eq(online_row_decode((const uint8_t *)row.data, row.len, v, &dev,
                                                       &dcr, dvals, err, sizeof(err)), FEATD_OK);
                    /* find the entity in the expected rows */
                    json_t *hit = NULL;
                    for (size_t i = 0; i < json_array_size(exp) && hit == NULL; i++) {
                        json_t *ks = json_object_get(json_array_get(exp, i), "keys");
                        bool same = true;
                        for (size_t k = 0; k < v->nkeys && same; k++) {
                            const char *want = json_string_value(json_object_get(ks,
                                                                                 v->keys[k].name));
                            char got[128];
                            if (v->keys[k].type == FT_INT64) {
                                snprintf(got, sizeof(got), "%" PRId64, keys[k].i);
                            } else {
                                snprintf(got, sizeof(got), "%.*s", (int)keys[k].slen, keys[k].s);
                            }
                            same = want && strcmp(want, got) == 0;
                        }
                        if (same) {
                            hit = json_array_get(exp, i);
                        }
                    }
                    ck_assert_msg(hit != NULL, "winner row %" PRIu64 " is not in %s", ord,
                                  expected_path);
                    ck_assert_int_eq(dev, strtoll(json_string_value(json_object_get(hit,
                                                  "event_ts_us")), NULL, 10));
                    json_t *ev_vals = json_object_get(hit, "values");
                    for (size_t fi2 = 0; fi2 < v->nfeatures; fi2++) {
                        char what[200];
                        snprintf(what, sizeof(what), "%s row %" PRIu64 " feature %s",
                                 files[fi], ord, v->features[fi2].name);
                        check_value(what, v->features[fi2].type, &dvals[fi2],
                                    json_object_get(ev_vals, v->features[fi2].name));
                    }
                    fbuf_free(&row);
                    checked++;
                }
            }
            mat_bind_free(&b);
            pq_close(f);
        }
        if (pass == 2) {
            ck_assert_uint_eq(checked, json_array_size(exp));
            ck_assert_uint_eq(mat_select_count(&sel), json_array_size(exp));
            json_decref(exp);
        }
    }
    ck_assert_uint_eq(rejected, want_rejected);
    mat_rg_free(&g);
    mat_select_free(&sel);
}

START_TEST(test_decode_cust_two_files)
{
    struct featd_config *cfg = load_cfg();
    const char *files[] = { FIX "/cust/snap_2025-01-01/part-0.parquet",
                            FIX "/cust/snap_2025-01-01/part-1.parquet" };
    /* 3 rows rejected: a null key, two null event times */
    two_pass_vs_expected(config_find_view(cfg, "cust"), files, 2, FIX "/cust_snap1.expected.json",
                         3);
    const char *files2[] = { FIX "/cust/snap_2025-01-02/part-0.parquet" };
    two_pass_vs_expected(config_find_view(cfg, "cust"), files2, 1,
                         FIX "/cust_snap2.expected.json", 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_decode_composite)
{
    struct featd_config *cfg = load_cfg();
    const char *files[] = { FIX "/ui/2025-01-01.parquet" };
    two_pass_vs_expected(config_find_view(cfg, "user_item"), files, 1, FIX "/ui.expected.json", 1);
    config_free(cfg);
}
END_TEST

/* A string feature (or string-list element) that is not valid UTF-8 is
 * refused with its row (answers carry it in a protobuf string field):
 * real rows of the cust fixture, one value's bytes turned invalid after
 * decoding; bytes features stay free-form. */
START_TEST(test_row_values_refuse_invalid_utf8)
{
    struct featd_config *cfg = load_cfg();
    const struct cfg_view *v = config_find_view(cfg, "cust");
    int fname = -1, ftags = -1, fblob = -1;
    for (size_t i = 0; i < v->nfeatures; i++) {
        fname = strcmp(v->features[i].name, "name") == 0 ? (int)i : fname;
        ftags = strcmp(v->features[i].name, "tags") == 0 ? (int)i : ftags;
        fblob = strcmp(v->features[i].name, "blob") == 0 ? (int)i : fblob;
    }
    ck_assert(fname >= 0 && ftags >= 0 && fblob >= 0);
    char err[512];
    struct pq_file *f = NULL;
    ck_assert_msg(pq_open_file(FIX "/cust/snap_2025-01-01/part-0.parquet", NULL, &f, err,
                               sizeof(err)) == FEATD_OK, "%s", err);
    struct mat_binding b;
    ck_assert_msg(mat_bind(f, v, &b, err, sizeof(err)) == FEATD_OK, "%s", err);
    struct mat_rg g;
    mat_rg_init(&g);
    ck_assert_msg(mat_rg_read_keys(&g, f, &b, 0, err, sizeof(err)) == FEATD_OK, "%s", err);
    ck_assert_msg(mat_rg_read_features(&g, f, 0, err, sizeof(err)) == FEATD_OK, "%s", err);
    struct online_value vals[16];
    const char *why = NULL;
    /* a row with a non-empty name, a non-empty tags list and a blob */
    size_t r = 0;
    struct pq_vec *name = &g.feat[fname], *tags = &g.feat[ftags], *blob = &g.feat[fblob];
    for (; r < g.nrows; r++) {
        if (name->valid[r] && name->offs[r + 1] > name->offs[r] && tags->valid[r] &&
            tags->list_offs[r + 1] > tags->list_offs[r] && blob->valid[r] &&
            mat_rg_row_values(&g, r, vals, &why) == FEATD_OK) {
            break;
        }
    }
    ck_assert_msg(r < g.nrows, "no row with a name, tags and a blob in the fixture");
    /* bytes may hold anything */
    uint8_t *bb = blob->physical == PQ_FLBA ? (uint8_t *)blob->vals + (size_t)blob->width * r
                                             : blob->data + blob->offs[r];
    bb[0] = 0xff;
    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_OK);
    /* a string may not */
    uint8_t *nb = name->data + name->offs[r], keep = nb[0];
    nb[0] = 0xff;
    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_ERR);
    ck_assert_msg(strstr(why, "not valid UTF-8") != NULL, "%s", why);
    nb[0] = 0xc3;   /* a lead byte whose continuation is missing */
    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_ERR);
    nb[0] = keep;
    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_OK);
    /* nor a string list element */
    uint32_t e = tags->list_offs[r];
    ck_assert(tags->offs[e + 1] > tags->offs[e]);
    tags->data[tags->offs[e]] = 0xfe;
    ck_assert_int_eq(mat_rg_row_values(&g, r, vals, &why), FEATD_ERR);
    ck_assert_msg(strstr(why, "not valid UTF-8") != NULL, "%s", why);
    mat_rg_free(&g);
    mat_bind_free(&b);
    pq_close(f);
    config_free(cfg);
}
END_TEST

/* ---- metrics (no Redis: a one-shot pass against a closed port fails) ---- */

START_TEST(test_metrics_text)
{
    struct fbuf out = { 0 };
    ck_assert_int_eq(mat_stats_write_metrics(&out), FEATD_OK);
    ck_assert(strstr(out.data, "# TYPE featd_materializer_rows_total counter") != NULL);
    ck_assert(strstr(out.data, "view=") == NULL);     /* nothing ran yet */
    fbuf_free(&out);

    /* view names are [A-Za-z0-9_.-] (config), so labels need no escaping */
    const char *json =
        "{ \"redis\": { \"url\": \"redis://127.0.0.1:1/0\", \"timeout_ms\": 100 },"
        "  \"entities\": [ { \"name\": \"e\", \"join_keys\": [ { \"name\": \"id\", "
        "\"type\": \"int64\" } ] } ],"
        "  \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"e\"], \"features\": ["
        "    {\"name\":\"x\",\"type\":\"int64\"} ], \"source\": { \"path\": \"/nonexistent\" } },"
        "   { \"name\": \"nosrc\", \"entities\": [\"e\"], \"features\": ["
        "    {\"name\":\"x\",\"type\":\"int64\"} ] } ] }";
    struct featd_config *cfg = NULL;
    char err[2048];
    ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "%s", err);
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(materializer_run_once(cfg, NULL, devnull), 1);      /* Redis refused */
    ck_assert_int_eq(materializer_run_once(cfg, "nope", devnull), 2);
    ck_assert_int_eq(materializer_run_once(cfg, "nosrc", devnull), 2);
    fclose(devnull);
    ck_assert_int_eq(mat_stats_write_metrics(&out), FEATD_OK);
    const char *want = "featd_materializer_runs_total{view=\"v\",result=\"failed\"} 1\n";
    ck_assert_msg(strstr(out.data, want) != NULL, "%s not in:\n%s", want, out.data);
    ck_assert(strstr(out.data, "result=\"applied\"} 0") != NULL);
    ck_assert(strstr(out.data, "kind=\"written\"} 0") != NULL);
    ck_assert(strstr(out.data, "featd_materializer_up{view=") != NULL);
    ck_assert(strstr(out.data, "} 0\n") != NULL);
    ck_assert(strstr(out.data, "nosrc") == NULL);
    /* every sample line is "name{labels} value" */
    for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            continue;
        }
        /* the materializer's families, and the quality gate's (DESIGN 12 names) */
        bool ours = strncmp(line, "featd_materializer_", 19) == 0 ||
                    strncmp(line, "featd_snapshot_violations_total{", 32) == 0 ||
                    strncmp(line, "featd_view_held{", 16) == 0 ||
                    strncmp(line, "featd_feature_psi{", 18) == 0;
        ck_assert_msg(ours && strstr(line, "} ") != NULL, "bad line: %s", line);
    }
    fbuf_free(&out);
    config_free(cfg);
}
END_TEST

/* The value of the sample "<family>{view=\"<view>\"} v" in page; NAN when
 * absent. */
static double metric_value(const char *page, const char *family, const char *view)
{
    char pre[256];
    snprintf(pre, sizeof(pre), "%s{view=\"%s\"} ", family, view);
    const char *p = strstr(page, pre);
    if (p == NULL) {
        return NAN;
    }
    char *end;
    double d = strtod(p + strlen(pre), &end);
    ck_assert_msg(*end == '\n', "bad value after %s", pre);
    return d;
}

/* Issue #12 failure 5: event times from data (any int64 µs) and success
 * times from another replica's clock give finite, non-negative gauges and
 * no signed overflow (UBSan aborts on one in the SANITIZE build). */
START_TEST(test_metrics_extreme_times)
{
    int64_t now = (int64_t)time(NULL) * 1000000;
    static const struct {
        const char *view;
        int64_t event_us;
        int64_t success_us;
    } cases[] = {
        { "ev_min", INT64_MIN + 1, 1 },
        { "ev_max", INT64_MAX, INT64_MAX },
        { "ev_9999", INT64_C(253402300799999999), INT64_C(253402300799999999) },
        { "ev_neg", -INT64_C(62135596800000000), 1 },       /* year 1 */
        { "ev_minus1", -1, 1 },
        { "ev_future", 0, 0 },                              /* set below: now + 1 h */
        { "ev_past", 0, 0 },                                /* set below: now - 1 h */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg_view v;
        memset(&v, 0, sizeof(v));
        v.name = (char *)cases[i].view;
        struct mat_run run;
        memset(&run, 0, sizeof(run));
        run.v = &v;
        struct mat_progress pr;
        memset(&pr, 0, sizeof(pr));
        pr.exists = true;
        pr.max_event_ts_us = cases[i].event_us;
        pr.last_success_at_us = cases[i].success_us;
        if (strcmp(cases[i].view, "ev_future") == 0) {
            pr.max_event_ts_us = now + INT64_C(3600000000);
            pr.last_success_at_us = now + INT64_C(3600000000);
        } else if (strcmp(cases[i].view, "ev_past") == 0) {
            pr.max_event_ts_us = now - INT64_C(3600000000);
            pr.last_success_at_us = now - INT64_C(60000000);
        }
        mat_stats_record(&v, run.rows, MR_APPLIED, &pr, true, 0.5);
    }
    struct fbuf out = { 0 };
    ck_assert_int_eq(mat_stats_write_metrics(&out), FEATD_OK);
    const char *fams[] = { "featd_materializer_lag_seconds",
                           "featd_materializer_event_time_ahead_seconds",
                           "featd_materializer_seconds_since_success",
                           "featd_materializer_last_success_timestamp_seconds" };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
            double d = metric_value(out.data, fams[f], cases[i].view);
            ck_assert_msg(isfinite(d) && d >= 0, "%s{view=%s} = %g\n%s", fams[f], cases[i].view, d,
                          out.data);
        }
    }
    /* extremes saturate instead of wrapping */
    ck_assert(metric_value(out.data, "featd_materializer_lag_seconds", "ev_min") > 9.2e12);
    ck_assert(metric_value(out.data, "featd_materializer_lag_seconds", "ev_max") == 0);
    ck_assert(metric_value(out.data, "featd_materializer_event_time_ahead_seconds", "ev_max") >
              9.2e12 - 2e9);
    ck_assert(metric_value(out.data, "featd_materializer_seconds_since_success", "ev_9999") == 0);
    ck_assert(metric_value(out.data, "featd_materializer_lag_seconds", "ev_neg") > 6.2e10);
    /* a future-dated newest row: no lag, flagged ahead; the materialization
     * clock still reads sanely */
    ck_assert(metric_value(out.data, "featd_materializer_lag_seconds", "ev_future") == 0);
    double ahead = metric_value(out.data, "featd_materializer_event_time_ahead_seconds", "ev_future");
    ck_assert_msg(ahead > 3500 && ahead <= 3600, "%g", ahead);
    /* ordinary data: lag ~ 1 h, nothing ahead, last success ~ 60 s ago */
    double lag = metric_value(out.data, "featd_materializer_lag_seconds", "ev_past");
    ck_assert_msg(lag >= 3600 && lag < 3700, "%g", lag);
    ck_assert(metric_value(out.data, "featd_materializer_event_time_ahead_seconds", "ev_past") == 0);
    double since = metric_value(out.data, "featd_materializer_seconds_since_success", "ev_past");
    ck_assert_msg(since >= 60 && since < 160, "%g", since);
    fbuf_free(&out);

    ck_assert(mat_stats_age_us(INT64_MAX, INT64_MIN) == INT64_MAX);
    ck_assert(mat_stats_age_us(INT64_MIN, INT64_MAX) == 0);
    ck_assert(mat_stats_age_us(0, INT64_MIN + 1) == INT64_MAX);
    ck_assert(mat_stats_age_us(-1, INT64_MIN) == INT64_MAX);
    ck_assert(mat_stats_age_us(10, 3) == 7);
    ck_assert(mat_stats_age_us(-3, -10) == 7);
}
END_TEST

static Suite *mat_suite(void)
{
    Suite *s = suite_create("mat");
    TCase *tc = tcase_create("select");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_select_order_rules);
    tcase_add_test(tc, test_select_random_vs_reference);
    tcase_add_test(tc, test_select_limit);
    tcase_add_test(tc, test_hash_keys);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("discover");
    tcase_add_test(td, test_discover_names);
    tcase_add_test(td, test_discover_dir_rules);
    tcase_add_test(td, test_discover_glob_file_errors);
    suite_add_tcase(s, td);
    TCase *ts = tcase_create("schema");
    tcase_add_test(ts, test_schema_table);
    tcase_add_test(ts, test_schema_real_files);
    tcase_add_test(ts, test_bind_readable_as_corpus);
    suite_add_tcase(s, ts);
    TCase *tx = tcase_create("decode");
    tcase_set_timeout(tx, 120);
    tcase_add_test(tx, test_decode_cust_two_files);
    tcase_add_test(tx, test_decode_composite);
    tcase_add_test(tx, test_row_values_refuse_invalid_utf8);
    suite_add_tcase(s, tx);
    TCase *tm = tcase_create("metrics");
    tcase_add_test(tm, test_metrics_text);
    tcase_add_test(tm, test_metrics_extreme_times);
    suite_add_tcase(s, tm);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
