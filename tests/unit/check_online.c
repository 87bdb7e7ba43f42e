/*
 * check_online.c — unit tests of the pure online modules: key building
 * (online_key.c, layout v2: entity hashes with hash tags, generation fields,
 * {view}-tagged meta keys, genseq, the v1 keys of the upgrade and the glob
 * escaping of SCAN patterns), storage TTLs and the packed row codec
 * (online_row.c, codec v2: headers with and without a created time, round
 * trips of every feature type, header ordering, every truncation and
 * malformed input, version 1 rows included, rejected cleanly). Views are
 * built by hand here; nothing loads a config file.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "online/online.h"

/* ---- hand-built views ---- */

static struct cfg_join_key keys_cust[] = { { "customer_id", FT_INT64 } };
static struct cfg_join_key keys_comp[] = { { "country", FT_STRING }, { "store_id", FT_INT64 },
                                           { "sku", FT_STRING } };

static struct cfg_feature feats_all[] = {
    { "f_bool", FT_BOOL, "f_bool", { 0 } },
    { "f_i32", FT_INT32, "f_i32", { 0 } },
    { "f_i64", FT_INT64, "f_i64", { 0 } },
    { "f_float", FT_FLOAT, "f_float", { 0 } },
    { "f_double", FT_DOUBLE, "f_double", { 0 } },
    { "f_string", FT_STRING, "f_string", { 0 } },
    { "f_bytes", FT_BYTES, "f_bytes", { 0 } },
    { "f_ts", FT_TIMESTAMP, "f_ts", { 0 } },
    { "f_fl", FT_FLOAT_LIST, "f_fl", { 0 } },
    { "f_dl", FT_DOUBLE_LIST, "f_dl", { 0 } },
    { "f_il", FT_INT64_LIST, "f_il", { 0 } },
    { "f_sl", FT_STRING_LIST, "f_sl", { 0 } },
};
#define NALL ((size_t)FEATD_ARRAY_LEN(feats_all))

static struct cfg_view view_all;
static struct cfg_view view_comp;

static void build_views(void)
{
    memset(&view_all, 0, sizeof(view_all));
    view_all.name = "all_types";
    view_all.keys = keys_cust;
    view_all.nkeys = 1;
    view_all.ttl_seconds = 86400;
    view_all.features = feats_all;
    view_all.nfeatures = NALL;
    view_all.fingerprint = 0x0123456789abcdefULL;
    strcpy(view_all.fingerprint_hex, "0123456789abcdef");

    memset(&view_comp, 0, sizeof(view_comp));
    view_comp.name = "store_sku";
    view_comp.keys = keys_comp;
    view_comp.nkeys = 3;
    view_comp.ttl_seconds = 0;
    view_comp.features = feats_all;
    view_comp.nfeatures = 3;
    view_comp.fingerprint = 0xfedcba9876543210ULL;
    /* fingerprint_hex left empty: the builder formats fingerprint itself */
}

/* ---- a full row with every type, lists built with the list builders ---- */

struct sample {
    struct online_value vals[FEATD_ARRAY_LEN(feats_all)];
    struct fbuf fl, dl, il, sl;
    char *big;
};

static void sample_build(struct sample *s, size_t nfl, size_t strlen_big)
{
    memset(s, 0, sizeof(*s));
    struct online_value *v = s->vals;
    v[0].u.b = true;
    v[1].u.i32 = INT32_MIN;
    v[2].u.i64 = INT64_MAX;
    v[3].u.f = -1.5f;
    v[4].u.d = DBL_MAX;
    if (strlen_big) {
        s->big = malloc(strlen_big);
        ck_assert_ptr_nonnull(s->big);
        for (size_t i = 0; i < strlen_big; i++) {
            s->big[i] = (char)(i * 7 + 3);
        }
        v[5].s = s->big;
        v[5].slen = strlen_big;
    } else {
        v[5].s = "h\xc3\xa9llo";
        v[5].slen = 6;
    }
    v[6].s = "a\0b\xff";
    v[6].slen = 4;
    v[7].u.i64 = -1234567890123456LL;
    for (size_t i = 0; i < nfl; i++) {
        ck_assert_int_eq(online_row_list_put_float(&s->fl, (float)i * 0.25f - 3.0f), FEATD_OK);
    }
    v[8].count = (uint32_t)nfl;
    v[8].raw = (const uint8_t *)s->fl.data;
    v[8].rawlen = s->fl.len;
    ck_assert_int_eq(online_row_list_put_double(&s->dl, -0.0), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_double(&s->dl, 1e300), FEATD_OK);
    v[9].count = 2;
    v[9].raw = (const uint8_t *)s->dl.data;
    v[9].rawlen = s->dl.len;
    ck_assert_int_eq(online_row_list_put_int64(&s->il, INT64_MIN), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_int64(&s->il, 0), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_int64(&s->il, INT64_MAX), FEATD_OK);
    v[10].count = 3;
    v[10].raw = (const uint8_t *)s->il.data;
    v[10].rawlen = s->il.len;
    ck_assert_int_eq(online_row_list_put_string(&s->sl, "", 0), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_string(&s->sl, "x:y", 3), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_string(&s->sl, "", 0), FEATD_OK);
    ck_assert_int_eq(online_row_list_put_string(&s->sl, "nul\0in", 6), FEATD_OK);
    v[11].count = 4;
    v[11].raw = (const uint8_t *)s->sl.data;
    v[11].rawlen = s->sl.len;
}

static void sample_free(struct sample *s)
{
    fbuf_free(&s->fl);
    fbuf_free(&s->dl);
    fbuf_free(&s->il);
    fbuf_free(&s->sl);
    free(s->big);
}

/* Asserts decoded values equal the originals, type by type. */
static void assert_same(const struct cfg_view *v, const struct online_value *a,
                        const struct online_value *b)
{
    for (size_t f = 0; f < v->nfeatures; f++) {
        ck_assert_msg(a[f].is_null == b[f].is_null, "feature %zu null mismatch", f);
        if (a[f].is_null) {
            continue;
        }
        switch (v->features[f].type) {
        case FT_BOOL: ck_assert(a[f].u.b == b[f].u.b); break;
        case FT_INT32: ck_assert_int_eq(a[f].u.i32, b[f].u.i32); break;
        case FT_INT64:
        case FT_TIMESTAMP: ck_assert_int_eq(a[f].u.i64, b[f].u.i64); break;
        case FT_FLOAT: ck_assert(memcmp(&a[f].u.f, &b[f].u.f, 4) == 0); break;
        case FT_DOUBLE: ck_assert(memcmp(&a[f].u.d, &b[f].u.d, 8) == 0); break;
        case FT_STRING:
        case FT_BYTES:
            ck_assert_uint_eq(a[f].slen, b[f].slen);
            ck_assert(a[f].slen == 0 || memcmp(a[f].s, b[f].s, a[f].slen) == 0);
            break;
        default:
            ck_assert_uint_eq(a[f].count, b[f].count);
            ck_assert_uint_eq(a[f].rawlen, b[f].rawlen);
            ck_assert(a[f].rawlen == 0 || memcmp(a[f].raw, b[f].raw, a[f].rawlen) == 0);
            break;
        }
    }
}

static void roundtrip(const struct cfg_view *v, int64_t ev, int64_t cr,
                      const struct online_value *vals, struct fbuf *row)
{
    struct online_value out[FEATD_ARRAY_LEN(feats_all)];
    char err[256] = "";
    int64_t ev2 = 0, cr2 = 0;
    fbuf_reset(row);
    ck_assert_int_eq(online_row_encode(row, v, ev, cr, vals), FEATD_OK);
    ck_assert_int_eq(online_row_decode((const uint8_t *)row->data, row->len, v, &ev2, &cr2, out,
                                       err, sizeof(err)),
                     FEATD_OK);
    ck_assert_int_eq(ev2, ev);
    ck_assert_int_eq(cr2, cr);
    assert_same(v, vals, out);
}

/* ---- codec round trips ---- */

START_TEST(test_roundtrip_all_types)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 5, 0);
    roundtrip(&view_all, 1700000000123456LL, ONLINE_NO_CREATED_TS, s.vals, &row);
    /* decoded lists read back element by element */
    struct online_value out[NALL];
    int64_t ev, cr;
    char err[128];
    ck_assert_int_eq(online_row_decode((const uint8_t *)row.data, row.len, &view_all, &ev, &cr,
                                       out, err, sizeof(err)),
                     FEATD_OK);
    ck_assert(out[0].u.b);
    ck_assert_int_eq(out[1].u.i32, INT32_MIN);
    ck_assert_int_eq(out[2].u.i64, INT64_MAX);
    ck_assert(out[3].u.f == -1.5f);
    ck_assert(out[4].u.d == DBL_MAX);
    ck_assert_uint_eq(out[5].slen, 6);
    ck_assert(memcmp(out[5].s, "h\xc3\xa9llo", 6) == 0);
    ck_assert_uint_eq(out[6].slen, 4);
    ck_assert(memcmp(out[6].s, "a\0b\xff", 4) == 0);
    ck_assert_int_eq(out[7].u.i64, -1234567890123456LL);
    ck_assert_uint_eq(out[8].count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert(online_row_list_float(&out[8], i) == (float)i * 0.25f - 3.0f);
    }
    ck_assert(online_row_list_double(&out[9], 0) == 0.0 && signbit(online_row_list_double(&out[9], 0)));
    ck_assert(online_row_list_double(&out[9], 1) == 1e300);
    ck_assert_int_eq(online_row_list_int64(&out[10], 0), INT64_MIN);
    ck_assert_int_eq(online_row_list_int64(&out[10], 1), 0);
    ck_assert_int_eq(online_row_list_int64(&out[10], 2), INT64_MAX);
    const uint8_t *cur = out[11].raw, *end = out[11].raw + out[11].rawlen;
    const char *str;
    size_t n;
    const char *want[] = { "", "x:y", "", "nul\0in" };
    size_t wantn[] = { 0, 3, 0, 6 };
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(online_row_list_next_string(&cur, end, &str, &n), FEATD_OK);
        ck_assert_uint_eq(n, wantn[i]);
        ck_assert(memcmp(str, want[i], n) == 0);
    }
    ck_assert_int_eq(online_row_list_next_string(&cur, end, &str, &n), FEATD_ERR);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_roundtrip_nulls)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 3, 0);
    /* every single feature null, every pattern of alternating nulls, all null */
    for (size_t f = 0; f <= NALL; f++) {
        struct online_value v[NALL];
        memcpy(v, s.vals, sizeof(v));
        for (size_t g = 0; g < NALL; g++) {
            v[g].is_null = (f == NALL) || g == f || (g % 3 == f % 3 && f % 2);
        }
        roundtrip(&view_all, (int64_t)f, (int64_t)f * 10, v, &row);
    }
    /* an all-null row is header + bitmap only */
    struct online_value v[NALL];
    memset(v, 0, sizeof(v));
    for (size_t g = 0; g < NALL; g++) {
        v[g].is_null = true;
    }
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 0, 0, v), FEATD_OK);
    ck_assert_uint_eq(row.len, ONLINE_ROW_HEADER_MAX + 2);   /* created 0 is a created time */
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 0, ONLINE_NO_CREATED_TS, v), FEATD_OK);
    ck_assert_uint_eq(row.len, ONLINE_ROW_HEADER + 2);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_roundtrip_empty_and_large)
{
    struct sample s;
    struct fbuf row = { 0 };
    /* empty lists and empty strings */
    sample_build(&s, 0, 0);
    s.vals[5].s = "";
    s.vals[5].slen = 0;
    s.vals[6].s = NULL;
    s.vals[6].slen = 0;
    s.vals[9].count = 0;
    s.vals[9].raw = NULL;
    s.vals[9].rawlen = 0;
    s.vals[11].count = 0;
    s.vals[11].raw = NULL;
    s.vals[11].rawlen = 0;
    roundtrip(&view_all, 0, 0, s.vals, &row);
    sample_free(&s);

    /* 1 MiB string and 1000 floats */
    sample_build(&s, 1000, 1u << 20);
    roundtrip(&view_all, 1, 2, s.vals, &row);
    ck_assert_uint_gt(row.len, (1u << 20) + 4000);
    sample_free(&s);

    /* string list of 1000 empty strings */
    sample_build(&s, 1, 0);
    struct fbuf sl = { 0 };
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(online_row_list_put_string(&sl, "", 0), FEATD_OK);
    }
    s.vals[11].count = 1000;
    s.vals[11].raw = (const uint8_t *)sl.data;
    s.vals[11].rawlen = sl.len;
    roundtrip(&view_all, 3, 4, s.vals, &row);
    fbuf_free(&sl);
    sample_free(&s);
    fbuf_free(&row);
}
END_TEST

START_TEST(test_roundtrip_extreme_timestamps)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 2, 0);
    const int64_t ts[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, -86400000000LL,
                           1700000000000000LL, INT64_MAX - 1, INT64_MAX };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(ts); i++) {
        for (size_t j = 0; j < FEATD_ARRAY_LEN(ts); j++) {
            s.vals[7].u.i64 = ts[j];
            roundtrip(&view_all, ts[i], ts[j], s.vals, &row);
        }
    }
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_special_floats)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 0, 0);
    float fv[] = { NAN, INFINITY, -INFINITY, FLT_MIN, -0.0f };
    double dv[] = { NAN, -INFINITY, DBL_MIN, 5e-324 };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(fv); i++) {
        s.vals[3].u.f = fv[i];
        s.vals[4].u.d = dv[i % FEATD_ARRAY_LEN(dv)];
        roundtrip(&view_all, 5, 6, s.vals, &row);   /* compared bitwise */
    }
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

/* ---- header ordering ---- */

static int cmp_pair(int64_t e1, int64_t c1, int64_t e2, int64_t c2)
{
    if (e1 != e2) {
        return e1 < e2 ? -1 : 1;
    }
    if (c1 != c2) {
        return c1 < c2 ? -1 : 1;
    }
    return 0;
}

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

/* The 16 bytes the last-write-wins script compares: the event time, then the
 * created time or eight zero bytes when the row has none. Checks the header
 * size on the way (9 without a created time, 17 with one; no features). */
static void cmp_key(const struct fbuf *row, int64_t created, uint8_t out[16])
{
    memset(out, 0, 16);
    if (created == ONLINE_NO_CREATED_TS) {
        ck_assert_uint_eq(row->len, ONLINE_ROW_HEADER);
        ck_assert_uint_eq((uint8_t)row->data[0], ONLINE_ROW_VERSION);
        memcpy(out, row->data + 1, 8);
    } else {
        ck_assert_uint_eq(row->len, ONLINE_ROW_HEADER_MAX);
        ck_assert_uint_eq((uint8_t)row->data[0], ONLINE_ROW_VERSION | ONLINE_ROW_F_CREATED);
        memcpy(out, row->data + 1, 16);
    }
}

START_TEST(test_header_order)
{
    const int64_t ts[] = { INT64_MIN, INT64_MIN + 1, -1000000, -256, -255, -1, 0, 1, 255, 256,
                           65536, 1700000000000000LL, INT64_MAX - 1, INT64_MAX };
    size_t n = FEATD_ARRAY_LEN(ts);
    struct cfg_view v = view_all;
    v.nfeatures = 0;
    struct fbuf a = { 0 }, b = { 0 };
    uint8_t ka[16], kb[16];
    for (size_t i = 0; i < n * n; i++) {
        for (size_t j = 0; j < n * n; j++) {
            int64_t e1 = ts[i / n], c1 = ts[i % n], e2 = ts[j / n], c2 = ts[j % n];
            fbuf_reset(&a);
            fbuf_reset(&b);
            ck_assert_int_eq(online_row_encode(&a, &v, e1, c1, NULL), FEATD_OK);
            ck_assert_int_eq(online_row_encode(&b, &v, e2, c2, NULL), FEATD_OK);
            /* INT64_MIN is ONLINE_NO_CREATED_TS: a 9-byte header that
             * compares like the smallest created time */
            cmp_key(&a, c1, ka);
            cmp_key(&b, c2, kb);
            ck_assert_int_eq(sgn(memcmp(ka, kb, 16)), cmp_pair(e1, c1, e2, c2));
        }
    }
    /* random pairs */
    srand(42);
    for (int k = 0; k < 20000; k++) {
        int64_t x[4];
        for (int q = 0; q < 4; q++) {
            uint64_t u = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
            memcpy(&x[q], &u, 8);
            if (rand() % 4 == 0) {
                x[q] >>= 40;   /* small magnitudes too */
            }
        }
        if (rand() % 3 == 0) {
            x[2] = x[0];   /* equal event, created decides */
        }
        fbuf_reset(&a);
        fbuf_reset(&b);
        ck_assert_int_eq(online_row_encode(&a, &v, x[0], x[1], NULL), FEATD_OK);
        ck_assert_int_eq(online_row_encode(&b, &v, x[2], x[3], NULL), FEATD_OK);
        cmp_key(&a, x[1], ka);
        cmp_key(&b, x[3], kb);
        ck_assert_int_eq(sgn(memcmp(ka, kb, 16)), cmp_pair(x[0], x[1], x[2], x[3]));
    }
    fbuf_free(&a);
    fbuf_free(&b);
}
END_TEST

/* ---- malformed rows ---- */

static int decode(const struct cfg_view *v, const void *data, size_t len, char *err, size_t errlen)
{
    struct online_value out[NALL];
    int64_t ev, cr;
    return online_row_decode(data, len, v, &ev, &cr, out, err, errlen);
}

START_TEST(test_every_truncation_fails)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 7, 0);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 11, 12, s.vals), FEATD_OK);
    char err[256];
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_OK);
    for (size_t n = 0; n < row.len; n++) {
        /* copy into an exact-size heap block so ASan catches any overread */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, row.data, n);
        err[0] = '\0';
        ck_assert_msg(decode(&view_all, p, n, err, sizeof(err)) == FEATD_ERR,
                      "prefix of %zu bytes decoded", n);
        ck_assert_msg(err[0] != '\0', "no message for prefix %zu", n);
        free(p);
    }
    /* the same with nulls in between */
    for (size_t g = 0; g < NALL; g += 2) {
        s.vals[g].is_null = true;
    }
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 11, 12, s.vals), FEATD_OK);
    for (size_t n = 0; n < row.len; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, row.data, n);
        ck_assert_int_eq(decode(&view_all, p, n, err, sizeof(err)), FEATD_ERR);
        free(p);
    }
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_bad_rows)
{
    struct sample s;
    struct fbuf row = { 0 };
    char err[256];
    sample_build(&s, 2, 0);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_OK);
    size_t len = row.len;
    uint8_t *p = malloc(len + 16);
    memcpy(p, row.data, len);

    /* bad version (the row has a created time: byte 0 is 2 | 0x80) */
    ck_assert_uint_eq(p[0], ONLINE_ROW_VERSION | ONLINE_ROW_F_CREATED);
    const uint8_t badver[] = { 3, 3 | ONLINE_ROW_F_CREATED, 0, ONLINE_ROW_F_CREATED, 0xff, 0x7f };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(badver); i++) {
        p[0] = badver[i];
        err[0] = '\0';
        ck_assert_int_eq(decode(&view_all, p, len, err, sizeof(err)), FEATD_ERR);
        ck_assert_msg(strstr(err, "version") != NULL, "byte 0x%02x: %s", badver[i], err);
    }
    p[0] = ONLINE_ROW_VERSION | ONLINE_ROW_F_CREATED;

    /* trailing bytes */
    p[len] = 0;
    ck_assert_int_eq(decode(&view_all, p, len + 1, err, sizeof(err)), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "trailing"));
    ck_assert_int_eq(decode(&view_all, p, len, err, sizeof(err)), FEATD_OK);

    /* null bitmap bits past the last feature (12 features: bits 12..15) */
    p[ONLINE_ROW_HEADER_MAX + 1] |= 0x80;
    ck_assert_int_eq(decode(&view_all, p, len, err, sizeof(err)), FEATD_ERR);
    p[ONLINE_ROW_HEADER_MAX + 1] &= 0x7f;

    /* bool byte other than 0/1 (first value after header + 2 bitmap bytes) */
    p[ONLINE_ROW_HEADER_MAX + 2] = 2;
    ck_assert_int_eq(decode(&view_all, p, len, err, sizeof(err)), FEATD_ERR);
    p[ONLINE_ROW_HEADER_MAX + 2] = 1;
    ck_assert_int_eq(decode(&view_all, p, len, err, sizeof(err)), FEATD_OK);
    free(p);

    /* handcrafted rows for a single-feature view */
    struct cfg_feature one[1];
    struct cfg_view v = view_all;
    v.features = one;
    v.nfeatures = 1;
    uint8_t r[64];
    memset(r, 0, sizeof(r));
    /* with a created time: 17-byte header, bitmap at 17, the value at 18 */
    r[0] = ONLINE_ROW_VERSION | ONLINE_ROW_F_CREATED;
    /* list count over ONLINE_MAX_LIST (varint 1000001 = 0xc1 0x84 0x3d) */
    one[0] = (struct cfg_feature){ "x", FT_FLOAT_LIST, "x", { 0 } };
    r[18] = 0xc1;
    r[19] = 0x84;
    r[20] = 0x3d;
    ck_assert_int_eq(decode(&v, r, 21, err, sizeof(err)), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "max"));
    one[0].type = FT_STRING_LIST;
    ck_assert_int_eq(decode(&v, r, 64, err, sizeof(err)), FEATD_ERR);
    /* varint overflow: 11 continuation bytes */
    memset(r + 18, 0xff, 11);
    r[29] = 0x01;
    for (int t = FT_STRING; t <= FT_STRING_LIST; t++) {
        if (t == FT_TIMESTAMP) {
            continue;
        }
        one[0].type = (enum featd_type)t;
        ck_assert_int_eq(decode(&v, r, 30, err, sizeof(err)), FEATD_ERR);
    }
    /* a string length far beyond the row */
    one[0].type = FT_STRING;
    r[18] = 0xff;
    r[19] = 0xff;
    r[20] = 0xff;
    r[21] = 0xff;
    r[22] = 0x0f;
    ck_assert_int_eq(decode(&v, r, 30, err, sizeof(err)), FEATD_ERR);
    /* a string-list element length beyond the row */
    one[0].type = FT_STRING_LIST;
    r[18] = 2;
    r[19] = 1;
    r[20] = 'a';
    r[21] = 50;
    ck_assert_int_eq(decode(&v, r, 30, err, sizeof(err)), FEATD_ERR);
    r[21] = 8;   /* exactly fits: 22..29 */
    ck_assert_int_eq(decode(&v, r, 30, err, sizeof(err)), FEATD_OK);
    /* a list whose count*size overruns */
    one[0].type = FT_DOUBLE_LIST;
    r[18] = 2;
    ck_assert_int_eq(decode(&v, r, 30, err, sizeof(err)), FEATD_ERR);
    ck_assert_int_eq(decode(&v, r, 35, err, sizeof(err)), FEATD_OK);

    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_random_mutations_never_crash)
{
    struct sample s;
    struct fbuf row = { 0 };
    char err[128];
    sample_build(&s, 4, 0);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_OK);
    srand(7);
    uint8_t *p = malloc(row.len);
    int accepted = 0;
    for (int k = 0; k < 50000; k++) {
        memcpy(p, row.data, row.len);
        int nflip = 1 + rand() % 4;
        for (int q = 0; q < nflip; q++) {
            p[rand() % row.len] = (uint8_t)rand();
        }
        size_t len = row.len - (size_t)(rand() % 3 == 0 ? rand() % (int)row.len : 0);
        struct online_value out[NALL];
        int64_t ev, cr;
        if (online_row_decode(p, len, &view_all, &ev, &cr, out, err, sizeof(err)) != FEATD_OK) {
            continue;
        }
        /* whatever decode accepts is a consistent row: it re-encodes, and
         * the re-encoding decodes to the same encoding again */
        struct fbuf re = { 0 }, re2 = { 0 };
        ck_assert_int_eq(online_row_encode(&re, &view_all, ev, cr, out), FEATD_OK);
        ck_assert_int_eq(online_row_decode((const uint8_t *)re.data, re.len, &view_all, &ev, &cr, out, err,
                                           sizeof(err)), FEATD_OK);
        ck_assert_int_eq(online_row_encode(&re2, &view_all, ev, cr, out), FEATD_OK);
        ck_assert_uint_eq(re.len, re2.len);
        ck_assert(memcmp(re.data, re2.data, re.len) == 0);
        ck_assert_uint_le(re.len, len);
        accepted++;
        fbuf_free(&re);
        fbuf_free(&re2);
    }
    ck_assert_int_gt(accepted, 0);     /* some mutations (in values) stay valid rows */
    free(p);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_encode_rejects_inconsistent_lists)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 3, 0);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_OK);
    size_t good = row.len;
    s.vals[8].count = 4;   /* rawlen says 3 floats */
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_ERR);
    ck_assert_uint_eq(row.len, good);   /* out left as it was */
    s.vals[8].count = 3;
    s.vals[11].count = 5;   /* 4 strings packed */
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_ERR);
    s.vals[11].count = 3;
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_ERR);
    s.vals[11].count = 4;
    s.vals[10].count = ONLINE_MAX_LIST + 1;
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_ERR);
    s.vals[10].count = 3;
    s.vals[5].s = NULL;   /* slen 6 without data */
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_ERR);
    ck_assert_uint_eq(row.len, good);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

/* Not a benchmark gate: prints the decode cost of a typical row so that a
 * regression on the request path is visible in the test log. */
START_TEST(test_decode_speed)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 16, 0);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, 2, s.vals), FEATD_OK);
    struct online_value out[NALL];
    int64_t ev, cr;
    char err[64];
    const int n = 200000;
    int bad = 0;
    int64_t t0 = util_mono_us();
    for (int i = 0; i < n; i++) {   /* no ck_assert inside: each one costs a syscall */
        bad += online_row_decode((const uint8_t *)row.data, row.len, &view_all, &ev, &cr, out,
                                 err, sizeof(err)) != FEATD_OK;
    }
    int64_t dt = util_mono_us() - t0;
    ck_assert_int_eq(bad, 0);
    fprintf(stderr, "decode: %zu-byte row with %zu features: %.1f ns/row\n", row.len, NALL,
            dt * 1000.0 / n);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

/* ---- keys ---- */

/* Asserts out holds exactly the n bytes of want (keys may hold NULs). */
static void assert_bytes(const struct fbuf *out, const char *want, size_t n)
{
    ck_assert_msg(out->len == n && memcmp(out->data, want, n) == 0, "got \"%.*s\" (%zu bytes)",
                  (int)out->len, out->data, out->len);
}

START_TEST(test_keys_simple)
{
    struct fbuf k = { 0 };
    struct online_key key = { .i = 42 };
    ck_assert_int_eq(online_key_view_prefix(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:0123456789abcdef:");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_entity(&k, &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "i42");
    /* a row's key is its entity's hash, the same for every generation */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_row(&k, "featd", &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:{i42}");
    key.i = INT64_MIN;
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_entity(&k, &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "i-9223372036854775808");
    key.i = INT64_MAX;
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_row(&k, "p", &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "p:v2:{i9223372036854775807}");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_current(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:0123456789abcdef:current");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_meta(&k, "featd", &view_all, "progress"), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:0123456789abcdef:progress");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_lease(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:lease");
    /* the parts the lookup path uses give the whole key */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_row_prefix(&k, "featd"), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:{");
    key.i = 42;
    ck_assert_int_eq(online_key_entity(&k, &view_all, &key), FEATD_OK);
    ck_assert_int_eq(online_key_row_end(&k), FEATD_OK);
    struct fbuf k2 = { 0 };
    ck_assert_int_eq(online_key_row(&k2, "featd", &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, k2.data);
    fbuf_free(&k2);
    /* appends, does not reset */
    fbuf_reset(&k);
    ck_assert_int_eq(fbuf_append(&k, "X", 1), FEATD_OK);
    key.i = 0;
    ck_assert_int_eq(online_key_entity(&k, &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "Xi0");
    ck_assert_int_eq(online_key_row(&k, "q", &view_all, &key), FEATD_OK);
    ck_assert_str_eq(k.data, "Xi0q:v2:{i0}");
    fbuf_free(&k);
}
END_TEST

START_TEST(test_keys_composite)
{
    struct fbuf k = { 0 };
    struct online_key key[3] = { { .s = "de", .slen = 2 }, { .i = -5 },
                                 { .s = "a:b\0c", .slen = 5 } };
    ck_assert_int_eq(online_key_row(&k, "featd", &view_comp, key), FEATD_OK);
    const char want[] = "featd:v2:{s2:dei-5s5:a:b\0c}";
    assert_bytes(&k, want, sizeof(want) - 1);
    /* the parts give the same bytes */
    struct fbuf kp = { 0 };
    ck_assert_int_eq(online_key_row_prefix(&kp, "featd"), FEATD_OK);
    ck_assert_int_eq(online_key_entity(&kp, &view_comp, key), FEATD_OK);
    ck_assert_int_eq(online_key_row_end(&kp), FEATD_OK);
    assert_bytes(&kp, want, sizeof(want) - 1);
    fbuf_free(&kp);

    /* self-delimiting: shifting a ':' between components changes the key */
    struct fbuf k1 = { 0 }, k2 = { 0 };
    struct online_key a[3] = { { .s = "x:", .slen = 2 }, { .i = 1 }, { .s = "y", .slen = 1 } };
    struct online_key b[3] = { { .s = "x", .slen = 1 }, { .i = 1 }, { .s = ":y", .slen = 2 } };
    ck_assert_int_eq(online_key_entity(&k1, &view_comp, a), FEATD_OK);
    ck_assert_int_eq(online_key_entity(&k2, &view_comp, b), FEATD_OK);
    ck_assert(k1.len != k2.len || memcmp(k1.data, k2.data, k1.len) != 0);
    ck_assert_str_eq(k1.data, "s2:x:i1s1:y");
    ck_assert_str_eq(k2.data, "s1:xi1s2::y");
    /* braces inside a string key stay inside the key (length-prefixed) */
    fbuf_reset(&k1);
    struct online_key br[3] = { { .s = "}{", .slen = 2 }, { .i = 7 }, { .s = "{", .slen = 1 } };
    ck_assert_int_eq(online_key_row(&k1, "featd", &view_comp, br), FEATD_OK);
    ck_assert_str_eq(k1.data, "featd:v2:{s2:}{i7s1:{}");

    /* empty strings, NULL pointer with length 0 */
    fbuf_reset(&k1);
    struct online_key e[3] = { { .s = NULL, .slen = 0 }, { .i = 0 }, { .s = "", .slen = 0 } };
    ck_assert_int_eq(online_key_entity(&k1, &view_comp, e), FEATD_OK);
    ck_assert_str_eq(k1.data, "s0:i0s0:");
    /* NULL pointer with a length is rejected */
    fbuf_reset(&k1);
    e[2].slen = 3;
    e[2].s = NULL;
    ck_assert_int_eq(online_key_entity(&k1, &view_comp, e), FEATD_ERR);
    fbuf_reset(&k1);
    ck_assert_int_eq(online_key_row(&k1, "featd", &view_comp, e), FEATD_ERR);
    /* non int64/string join key type is rejected */
    struct cfg_join_key badk[1] = { { "x", FT_DOUBLE } };
    struct cfg_view bv = view_comp;
    bv.keys = badk;
    bv.nkeys = 1;
    fbuf_reset(&k1);
    ck_assert_int_eq(online_key_entity(&k1, &bv, e), FEATD_ERR);
    fbuf_reset(&k1);
    ck_assert_int_eq(online_key_row(&k1, "featd", &bv, e), FEATD_ERR);
    /* meta keys of a view without fingerprint_hex: formatted from fingerprint */
    fbuf_reset(&k1);
    ck_assert_int_eq(online_key_current(&k1, "featd", &view_comp), FEATD_OK);
    ck_assert_str_eq(k1.data, "featd:v2:m:{store_sku}:fedcba9876543210:current");
    fbuf_free(&k);
    fbuf_free(&k1);
    fbuf_free(&k2);
}
END_TEST

START_TEST(test_keys_field)
{
    char buf[ONLINE_FIELD_MAX];
    const struct {
        uint64_t gen;
        const char *want;
    } cases[] = {
        { 0, "0" },
        { 1, "1" },
        { 9, "9" },
        { 10, "10" },
        { 60000000, "60000000" },
        { UINT64_C(2147483647), "2147483647" },
        { UINT64_C(10000000000000000000), "10000000000000000000" },
        { UINT64_MAX, "18446744073709551615" },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cases); i++) {
        memset(buf, 'x', sizeof(buf));
        size_t n = online_key_field(buf, cases[i].gen);
        ck_assert_uint_eq(n, strlen(cases[i].want));
        ck_assert_str_eq(buf, cases[i].want);   /* NUL-terminated */
    }
    /* the longest one fits the documented bound exactly */
    ck_assert_uint_eq(online_key_field(buf, UINT64_MAX) + 1, ONLINE_FIELD_MAX);
}
END_TEST

START_TEST(test_keys_meta)
{
    struct fbuf k = { 0 };
    const char *suffix[] = { "current", "progress", "files", "building" };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(suffix); i++) {
        char want[128];
        snprintf(want, sizeof(want), "featd:v2:m:{all_types}:0123456789abcdef:%s", suffix[i]);
        fbuf_reset(&k);
        ck_assert_int_eq(online_key_meta(&k, "featd", &view_all, suffix[i]), FEATD_OK);
        ck_assert_str_eq(k.data, want);
    }
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_current(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:0123456789abcdef:current");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_lease(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:{all_types}:lease");
    /* every meta key of a view carries the {view} hash tag: one cluster slot */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_view_prefix(&k, "x", &view_comp), FEATD_OK);
    ck_assert_str_eq(k.data, "x:v2:m:{store_sku}:fedcba9876543210:");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_lease(&k, "x", &view_comp), FEATD_OK);
    ck_assert_str_eq(k.data, "x:v2:m:{store_sku}:lease");
    /* the allocator is one key for all views of the prefix */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_genseq(&k, "featd"), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:m:genseq");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_genseq(&k, "a*b"), FEATD_OK);
    ck_assert_str_eq(k.data, "a*b:v2:m:genseq");   /* a key, not a pattern: unescaped */
    /* meta keys never match the entity-key pattern's literal part */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_genseq(&k, "featd"), FEATD_OK);
    ck_assert_ptr_null(strstr(k.data, "featd:v2:{"));
    fbuf_free(&k);
}
END_TEST

START_TEST(test_keys_v1_and_patterns)
{
    struct fbuf k = { 0 };
    ck_assert_int_eq(online_key_v1_current(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v1:all_types:0123456789abcdef:current");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_v1_current(&k, "featd", &view_comp), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v1:store_sku:fedcba9876543210:current");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_v1_pattern(&k, "featd", &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v1:all_types:*");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_row_pattern(&k, "featd"), FEATD_OK);
    ck_assert_str_eq(k.data, "featd:v2:{*");

    /* every glob metacharacter of a prefix is escaped, others are not */
    const char *pfx = "a*b?c[d]e\\f^g-h{i}j";
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_row_pattern(&k, pfx), FEATD_OK);
    ck_assert_str_eq(k.data, "a\\*b\\?c\\[d\\]e\\\\f\\^g\\-h{i}j:v2:{*");
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_v1_pattern(&k, pfx, &view_all), FEATD_OK);
    ck_assert_str_eq(k.data, "a\\*b\\?c\\[d\\]e\\\\f\\^g\\-h{i}j:v1:all_types:*");
    /* and in a view name */
    struct cfg_view v = view_all;
    v.name = "v*[1-2]";
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_v1_pattern(&k, "p", &v), FEATD_OK);
    ck_assert_str_eq(k.data, "p:v1:v\\*\\[1\\-2\\]:*");
    /* the key itself is not escaped */
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_v1_current(&k, "p", &v), FEATD_OK);
    ck_assert_str_eq(k.data, "p:v1:v*[1-2]:0123456789abcdef:current");

    /* the escaper alone: bytes (NUL included) pass through, appends */
    fbuf_reset(&k);
    ck_assert_int_eq(fbuf_append(&k, "=", 1), FEATD_OK);
    ck_assert_int_eq(online_key_glob_escape(&k, "*?[]\\^-\0z", 9), FEATD_OK);
    const char want[] = "=\\*\\?\\[\\]\\\\\\^\\-\0z";
    assert_bytes(&k, want, sizeof(want) - 1);
    fbuf_reset(&k);
    ck_assert_int_eq(online_key_glob_escape(&k, "", 0), FEATD_OK);
    ck_assert_uint_eq(k.len, 0);
    fbuf_free(&k);
}
END_TEST

/* ---- row codec v2 header ---- */

START_TEST(test_row_v2_header)
{
    struct sample s;
    struct fbuf row = { 0 };
    char err[256];
    sample_build(&s, 0, 0);
    for (size_t g = 0; g < NALL; g++) {
        s.vals[g].is_null = true;   /* header + bitmap only */
    }
    /* without a created time: version 2, 8-byte event time, bitmap */
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, ONLINE_NO_CREATED_TS, s.vals),
                     FEATD_OK);
    ck_assert_uint_eq(ONLINE_ROW_HEADER, 9);
    ck_assert_uint_eq(ONLINE_ROW_HEADER_MAX, 17);
    ck_assert_uint_eq(row.len, 9 + 2);
    ck_assert_uint_eq((uint8_t)row.data[0], 2);
    /* event 1: big-endian with the sign bit flipped */
    const uint8_t ev1[8] = { 0x80, 0, 0, 0, 0, 0, 0, 1 };
    ck_assert(memcmp(row.data + 1, ev1, 8) == 0);
    ck_assert_uint_eq((uint8_t)row.data[9], 0xff);
    ck_assert_uint_eq((uint8_t)row.data[10], 0x0f);
    /* with one: version 2 | 0x80, event, created, bitmap */
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 1, -1, s.vals), FEATD_OK);
    ck_assert_uint_eq(row.len, 17 + 2);
    ck_assert_uint_eq((uint8_t)row.data[0], 0x82);
    ck_assert(memcmp(row.data + 1, ev1, 8) == 0);
    const uint8_t cr_m1[8] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ck_assert(memcmp(row.data + 9, cr_m1, 8) == 0);
    ck_assert_uint_eq((uint8_t)row.data[17], 0xff);
    /* a view with 9 features: 2 bitmap bytes; with 8: one; with none: none */
    struct cfg_view v = view_all;
    const size_t nfs[] = { 0, 1, 8, 9, NALL };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(nfs); i++) {
        v.nfeatures = nfs[i];
        size_t nb = (nfs[i] + 7) / 8;
        fbuf_reset(&row);
        ck_assert_int_eq(online_row_encode(&row, &v, 5, ONLINE_NO_CREATED_TS, s.vals), FEATD_OK);
        ck_assert_uint_eq(row.len, ONLINE_ROW_HEADER + nb);
        fbuf_reset(&row);
        ck_assert_int_eq(online_row_encode(&row, &v, 5, 6, s.vals), FEATD_OK);
        ck_assert_uint_eq(row.len, ONLINE_ROW_HEADER_MAX + nb);
        struct online_value out[NALL];
        int64_t e = 0, c = 0;
        ck_assert_int_eq(online_row_decode((const uint8_t *)row.data, row.len, &v, &e, &c, out,
                                           err, sizeof(err)),
                         FEATD_OK);
        ck_assert_int_eq(e, 5);
        ck_assert_int_eq(c, 6);
    }
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_row_created_roundtrip)
{
    struct sample s;
    struct fbuf row = { 0 };
    sample_build(&s, 3, 0);
    const int64_t cr[] = { ONLINE_NO_CREATED_TS, INT64_MIN + 1, -1, 0, 1, 1700000000000001LL,
                           INT64_MAX };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cr); i++) {
        roundtrip(&view_all, 1700000000000000LL, cr[i], s.vals, &row);
        /* the header says whether a created time follows */
        bool has = cr[i] != ONLINE_NO_CREATED_TS;
        ck_assert_uint_eq((uint8_t)row.data[0],
                          ONLINE_ROW_VERSION | (has ? ONLINE_ROW_F_CREATED : 0));
        /* the same values, so the two encodings differ by the 8 bytes only */
        struct fbuf other = { 0 };
        ck_assert_int_eq(online_row_encode(&other, &view_all, 1700000000000000LL,
                                           has ? ONLINE_NO_CREATED_TS : 7, s.vals),
                         FEATD_OK);
        ck_assert_uint_eq(row.len + (has ? 0 : 8), other.len + (has ? 8 : 0));
        const struct fbuf *lo = has ? &other : &row, *hi = has ? &row : &other;
        ck_assert(memcmp(lo->data + ONLINE_ROW_HEADER, hi->data + ONLINE_ROW_HEADER_MAX,
                         lo->len - ONLINE_ROW_HEADER) == 0);
        fbuf_free(&other);
    }
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

START_TEST(test_row_rejects_v1_and_short_headers)
{
    struct sample s;
    struct fbuf row = { 0 };
    char err[256];
    sample_build(&s, 2, 0);
    /* a layout-v1 row: version byte 1 and always the 17-byte header (made
     * here from a v2 row with a created time: same size, same offsets) */
    ck_assert_int_eq(online_row_encode(&row, &view_all, 10, 20, s.vals), FEATD_OK);
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_OK);
    row.data[0] = 1;
    err[0] = '\0';
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_ERR);
    ck_assert_msg(strstr(err, "version 1") != NULL, "err: %s", err);
    row.data[0] = (char)(1 | ONLINE_ROW_F_CREATED);
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "version"));

    /* truncated headers, with and without a created time: every length
     * below header + bitmap fails with a message, in an exact-size block */
    const int64_t crs[] = { 20, ONLINE_NO_CREATED_TS };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(crs); i++) {
        fbuf_reset(&row);
        ck_assert_int_eq(online_row_encode(&row, &view_all, 10, crs[i], s.vals), FEATD_OK);
        size_t hdr = crs[i] == ONLINE_NO_CREATED_TS ? ONLINE_ROW_HEADER : ONLINE_ROW_HEADER_MAX;
        for (size_t n = 0; n < hdr + 2; n++) {
            uint8_t *p = malloc(n ? n : 1);
            memcpy(p, row.data, n);
            err[0] = '\0';
            ck_assert_msg(decode(&view_all, p, n, err, sizeof(err)) == FEATD_ERR,
                          "header prefix of %zu bytes decoded", n);
            ck_assert_msg(n == 0 ? strstr(err, "empty") != NULL
                                 : strstr(err, "header") != NULL,
                          "prefix %zu: %s", n, err);
            free(p);
        }
    }
    /* a row without a created time whose flag is set reads 8 bytes of
     * values as the created time and then runs short: rejected */
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 10, ONLINE_NO_CREATED_TS, s.vals),
                     FEATD_OK);
    row.data[0] = (char)(ONLINE_ROW_VERSION | ONLINE_ROW_F_CREATED);
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_ERR);
    /* and the reverse: the flag cleared on a row that has one */
    fbuf_reset(&row);
    ck_assert_int_eq(online_row_encode(&row, &view_all, 10, 20, s.vals), FEATD_OK);
    row.data[0] = ONLINE_ROW_VERSION;
    ck_assert_int_eq(decode(&view_all, row.data, row.len, err, sizeof(err)), FEATD_ERR);
    fbuf_free(&row);
    sample_free(&s);
}
END_TEST

/* ---- TTL ---- */

START_TEST(test_ttl)
{
    /* the storage grace: max(ttl, 1 h), none without a ttl (event time 0:
     * the expiry is (ttl + grace) in ms) */
    struct cfg_view v = view_all;
    v.ttl_seconds = 0;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), 0);
    v.ttl_seconds = 1;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), (1 + 3600) * 1000LL);
    v.ttl_seconds = 3600;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), (3600 + 3600) * 1000LL);
    v.ttl_seconds = 86400;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), (86400 + 86400) * 1000LL);
    v.ttl_seconds = 0;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 1700000000000000LL), 0);
    v.ttl_seconds = 60;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 1700000000000000LL),
                     1700000000000LL + (60 + 3600) * 1000LL);
    v.ttl_seconds = 86400;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 1700000000123999LL),
                     1700000000123LL + 2 * 86400 * 1000LL);
    /* extremes saturate instead of overflowing; never 0 for ttl > 0 */
    ck_assert_int_eq(online_row_expire_at_ms(&v, INT64_MAX), INT64_MAX / 1000 + 2 * 86400 * 1000LL);
    ck_assert_int_ge(online_row_expire_at_ms(&v, INT64_MIN), 1);
    ck_assert_int_eq(online_row_expire_at_ms(&v, -999999999999999LL), 1);
    v.ttl_seconds = INT64_MAX;
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), INT64_MAX);
    v.ttl_seconds = INT64_MAX / 2000;   /* (ttl + grace) * 1000 just fits */
    ck_assert_int_eq(online_row_expire_at_ms(&v, 0), (INT64_MAX / 2000) * 2000);
    ck_assert_int_eq(online_row_expire_at_ms(&v, INT64_MAX), INT64_MAX);
    v.ttl_seconds = INT64_MAX / 1000;
    ck_assert_int_eq(online_row_expire_at_ms(&v, -1), INT64_MAX);
}
END_TEST

static Suite *online_suite(void)
{
    Suite *s = suite_create("online");
    TCase *tc = tcase_create("codec");
    tcase_add_unchecked_fixture(tc, build_views, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_all_types);
    tcase_add_test(tc, test_roundtrip_nulls);
    tcase_add_test(tc, test_roundtrip_empty_and_large);
    tcase_add_test(tc, test_roundtrip_extreme_timestamps);
    tcase_add_test(tc, test_special_floats);
    tcase_add_test(tc, test_header_order);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_bad_rows);
    tcase_add_test(tc, test_random_mutations_never_crash);
    tcase_add_test(tc, test_encode_rejects_inconsistent_lists);
    tcase_add_test(tc, test_decode_speed);
    tcase_add_test(tc, test_row_v2_header);
    tcase_add_test(tc, test_row_created_roundtrip);
    tcase_add_test(tc, test_row_rejects_v1_and_short_headers);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("keys");
    tcase_add_unchecked_fixture(tk, build_views, NULL);
    tcase_add_test(tk, test_keys_simple);
    tcase_add_test(tk, test_keys_composite);
    tcase_add_test(tk, test_keys_field);
    tcase_add_test(tk, test_keys_meta);
    tcase_add_test(tk, test_keys_v1_and_patterns);
    tcase_add_test(tk, test_ttl);
    suite_add_tcase(s, tk);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(online_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
