/*
 * check_parquet.c — the Parquet reader on real files (the decoders on
 * hand-built bytes are check_pq_decode.c's):
 *
 *  - conformance: every must-decode file of ../shared/parquet-testing
 *    (or $PARQUET_TESTING_DIR) against the MANIFEST's documented content
 *    and the *_expect.csv sidecars (every value), and clean rejection of the
 *    unsupported and bad_data files; when the corpus is absent these tests
 *    are not run and "SKIPPED: corpus not found" is printed;
 *  - hand-built: a file written here with the legacy 2-level and
 *    bare-repeated list forms (decoded, dumped and mutated);
 *  - fixtures: every tests/fixtures/parquet/NAME.parquet dumped and compared
 *    with NAME.expected.jsonl (numbers numerically, floats bit-exact);
 *  - robustness: every prefix and every single-byte corruption of small
 *    valid files must fail cleanly or decode — never crash (run this suite
 *    under `make SANITIZE=1`).
 */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parquet/parquet.h"
#include "parquet/internal.h"
#include "cli/cli_parquet_dump.h"
#include "pq_testbytes.h"

/* ---- helpers ----------------------------------------------------------- */

static char corpus[1024];

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static bool find_corpus(void)
{
    const char *env = getenv("PARQUET_TESTING_DIR");
    const char *cands[] = { env, "../shared/parquet-testing" };
    for (size_t i = 0; i < 2; i++) {
        char p[1200];
        if (cands[i] == NULL || cands[i][0] == '\0') {
            continue;
        }
        snprintf(p, sizeof p, "%s/data/alltypes_plain.parquet", cands[i]);
        if (file_exists(p)) {
            snprintf(corpus, sizeof corpus, "%s", cands[i]);
            return true;
        }
    }
    return false;
}

static const char *cpath(const char *rel)
{
    static char p[2][1300];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", corpus, rel);
    return p[k];
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b != NULL && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* Rows of `cli_parquet_dump_json` as separate lines. */
struct lines {
    char *buf;
    size_t size;
    char **l;
    size_t n;
};

static void lines_split(struct lines *L)
{
    size_t cap = 16;
    L->l = malloc(cap * sizeof *L->l);
    L->n = 0;
    char *p = L->buf;
    while (p != NULL && *p != '\0') {
        char *e = strchr(p, '\n');
        if (e != NULL) {
            *e = '\0';
        }
        if (L->n == cap) {
            cap *= 2;
            L->l = realloc(L->l, cap * sizeof *L->l);
        }
        L->l[L->n++] = p;
        p = e != NULL ? e + 1 : NULL;
    }
}

static void lines_free(struct lines *L)
{
    free(L->buf);
    free(L->l);
    memset(L, 0, sizeof *L);
}

/* Dump a file; returns FEATD_OK or FEATD_ERR with err. */
static int dump_path(const char *path, struct lines *L, char *err, size_t errlen)
{
    struct pq_file *f;
    memset(L, 0, sizeof *L);
    if (pq_open_file(path, NULL, &f, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    FILE *ms = open_memstream(&L->buf, &L->size);
    int rc = cli_parquet_dump_json(f, ms, err, errlen);
    fclose(ms);
    pq_close(f);
    lines_split(L);
    return rc;
}

static struct pq_file *open_ok(const char *path)
{
    char err[512];
    struct pq_file *f = NULL;
    int rc = pq_open_file(path, NULL, &f, err, sizeof err);
    ck_assert_msg(rc == FEATD_OK, "open %s: %s", path, err);
    return f;
}

static void read_ok(struct pq_file *f, int rg, int col, struct pq_vec *v)
{
    char err[512];
    int rc = pq_column_read(f, rg, col, v, err, sizeof err);
    ck_assert_msg(rc == FEATD_OK, "read rg %d col %d: %s", rg, col, err);
}

/* Decode everything in f (used by robustness tests; result ignored). */
static void read_all(struct pq_file *f)
{
    char err[256];
    struct pq_vec v = PQ_VEC_INIT;
    int64_t *ts = NULL;
    for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
        for (int c = 0; c < pq_num_columns(f); c++) {
            if (pq_column_read(f, rg, c, &v, err, sizeof err) == FEATD_OK) {
                const struct pq_column *col = pq_column(f, c);
                ck_assert(v.nrows == (size_t)pq_row_group_num_rows(f, rg));
                if (col->physical == PQ_INT96 || col->logical == PQ_LT_TIMESTAMP
                    || col->logical == PQ_LT_DATE) {
                    ts = realloc(ts, (v.nvals + 1) * sizeof *ts);
                    if (pq_timestamps_us(col, &v, ts, err, sizeof err) != FEATD_OK) {
                        ck_assert(err[0] != '\0');
                    }
                }
            } else {
                ck_assert(err[0] != '\0');
            }
        }
    }
    free(ts);
    pq_column_vec_free(&v);
    FILE *devnull = fopen("/dev/null", "w");
    if (cli_parquet_dump_json(f, devnull, err, sizeof err) != FEATD_OK) {
        ck_assert(err[0] != '\0');
    }
    fclose(devnull);
}

/* ---- conformance corpus --------------------------------------------------- */

/* Compare the dump of a corpus file with expected lines. */
static void expect_dump(const char *rel, const char *const *want, size_t nwant)
{
    char err[512];
    struct lines L;
    int rc = dump_path(cpath(rel), &L, err, sizeof err);
    ck_assert_msg(rc == FEATD_OK, "%s: %s", rel, err);
    ck_assert_msg(L.n == nwant, "%s: %zu rows, want %zu", rel, L.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        ck_assert_msg(strcmp(L.l[i], want[i]) == 0, "%s row %zu:\n got %s\nwant %s", rel, i,
                      L.l[i], want[i]);
    }
    lines_free(&L);
}

START_TEST(test_corpus_alltypes_plain)
{
    static const int64_t ts[8] = {
        1235865600000000, 1235865660000000, 1238544000000000, 1238544060000000,
        1233446400000000, 1233446460000000, 1230768000000000, 1230768060000000 };
    static const char *dates[8] = { "03/01/09", "03/01/09", "04/01/09", "04/01/09",
                                    "02/01/09", "02/01/09", "01/01/09", "01/01/09" };
    static const int ids[8] = { 4, 5, 6, 7, 2, 3, 0, 1 };
    for (int snappy = 0; snappy < 2; snappy++) {
        struct pq_file *f = open_ok(cpath(snappy ? "data/alltypes_plain.snappy.parquet"
                                                 : "data/alltypes_plain.parquet"));
        size_t off = snappy ? 2 : 0, n = snappy ? 2 : 8;
        ck_assert_int_eq(pq_num_columns(f), 11);
        ck_assert_int_eq(pq_num_rows(f), (int64_t)n);
        ck_assert_int_eq(pq_column(f, 8)->physical, PQ_BYTE_ARRAY);
        ck_assert_int_eq(pq_column(f, 8)->logical, PQ_LT_NONE);
        struct pq_vec v[11];
        for (int c = 0; c < 11; c++) {
            struct pq_vec z = PQ_VEC_INIT;
            v[c] = z;
            read_ok(f, 0, c, &v[c]);
            ck_assert_uint_eq(v[c].nrows, n);
        }
        int64_t us[8];
        char err[128];
        ck_assert_int_eq(pq_timestamps_us(pq_column(f, 10), &v[10], us, err, sizeof err), FEATD_OK);
        for (size_t i = 0; i < n; i++) {
            int id = ((int32_t *)v[0].vals)[i];
            ck_assert_int_eq(id, ids[off + i]);
            ck_assert_int_eq(((uint8_t *)v[1].vals)[i], id % 2 == 0);
            for (int c = 2; c <= 4; c++) {
                ck_assert_int_eq(((int32_t *)v[c].vals)[i], id % 2);
            }
            ck_assert_int_eq(((int64_t *)v[5].vals)[i], 10 * (id % 2));
            ck_assert(((float *)v[6].vals)[i] == (id % 2 ? 1.1f : 0.0f));
            ck_assert(((double *)v[7].vals)[i] == (id % 2 ? 10.1 : 0.0));
            ck_assert_uint_eq(v[8].offs[i + 1] - v[8].offs[i], 8);
            ck_assert(memcmp(v[8].data + v[8].offs[i], dates[off + i], 8) == 0);
            ck_assert_uint_eq(v[9].offs[i + 1] - v[9].offs[i], 1);
            ck_assert_int_eq(v[9].data[v[9].offs[i]], '0' + id % 2);
            ck_assert_int_eq(us[i], ts[off + i]);
            for (int c = 0; c < 11; c++) {
                ck_assert(v[c].valid[i]);
            }
        }
        for (int c = 0; c < 11; c++) {
            pq_column_vec_free(&v[c]);
        }
        pq_close(f);
    }
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_corpus_tiny_pages)
{
    char err[512];
    struct lines a, b;
    ck_assert_msg(dump_path(cpath("data/alltypes_tiny_pages.parquet"), &a, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_msg(dump_path(cpath("data/alltypes_tiny_pages_plain.parquet"), &b, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_uint_eq(a.n, 7300);
    ck_assert_uint_eq(b.n, 7300);
    ck_assert(strncmp(a.l[0], "{\"id\":122,", 10) == 0);
    ck_assert(strncmp(a.l[1], "{\"id\":123,", 10) == 0);
    ck_assert(strncmp(a.l[2], "{\"id\":124,", 10) == 0);
    ck_assert(strncmp(a.l[7299], "{\"id\":6174,", 11) == 0);
    qsort(a.l, a.n, sizeof *a.l, cmp_str);
    qsort(b.l, b.n, sizeof *b.l, cmp_str);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_msg(strcmp(a.l[i], b.l[i]) == 0, "row multisets differ: %s vs %s", a.l[i], b.l[i]);
    }
    lines_free(&a);
    lines_free(&b);
    /* ids: distinct 0..7299 */
    struct pq_file *f = open_ok(cpath("data/alltypes_tiny_pages.parquet"));
    struct pq_vec v = PQ_VEC_INIT;
    read_ok(f, 0, 0, &v);
    static uint8_t seen[7300];
    memset(seen, 0, sizeof seen);
    int64_t sum = 0;
    for (size_t i = 0; i < v.nrows; i++) {
        int32_t id = ((int32_t *)v.vals)[i];
        ck_assert(id >= 0 && id < 7300 && !seen[id]);
        seen[id] = 1;
        sum += id;
    }
    ck_assert_int_eq(sum, 26641350);
    ck_assert_int_eq(pq_column(f, 2)->logical, PQ_LT_INT);
    ck_assert_int_eq(pq_column(f, 2)->int_bits, 8);
    ck_assert_int_eq(pq_column(f, 3)->int_bits, 16);
    ck_assert_int_eq(pq_column(f, 8)->logical, PQ_LT_STRING);
    pq_column_vec_free(&v);
    pq_close(f);
}
END_TEST

START_TEST(test_corpus_small_files)
{
    static const char *const v2[] = {
        "{\"a\":\"abc\",\"b\":1,\"c\":2,\"d\":true,\"e\":[1,2,3]}",
        "{\"a\":\"abc\",\"b\":2,\"c\":3,\"d\":true,\"e\":null}",
        "{\"a\":\"abc\",\"b\":3,\"c\":4,\"d\":true,\"e\":null}",
        "{\"a\":null,\"b\":4,\"c\":5,\"d\":false,\"e\":[1,2,3]}",
        "{\"a\":\"abc\",\"b\":5,\"c\":2,\"d\":true,\"e\":[1,2]}" };
    expect_dump("data/datapage_v2.snappy.parquet", v2, 5);
    static const char *const empty[] = { "{\"value\":null}" };
    expect_dump("data/datapage_v2_empty_datapage.snappy.parquet", empty, 1);
    static const char *const nulls[10] = {
        "{\"integer_column\":null}", "{\"integer_column\":null}", "{\"integer_column\":null}",
        "{\"integer_column\":null}", "{\"integer_column\":null}", "{\"integer_column\":null}",
        "{\"integer_column\":null}", "{\"integer_column\":null}", "{\"integer_column\":null}",
        "{\"integer_column\":null}" };
    expect_dump("data/page_v2_empty_compressed.parquet", nulls, 10);
    static const char *const lz4[] = {
        "{\"c0\":1593604800,\"c1\":\"YWJj\",\"v11\":42}",
        "{\"c0\":1593604800,\"c1\":\"ZGVm\",\"v11\":7.7}",
        "{\"c0\":1593604801,\"c1\":\"YWJj\",\"v11\":42.125}",
        "{\"c0\":1593604801,\"c1\":\"ZGVm\",\"v11\":7.7}" };
    expect_dump("data/lz4_raw_compressed.parquet", lz4, 4);
    expect_dump("data/hadoop_lz4_compressed.parquet", lz4, 4);
    expect_dump("data/non_hadoop_lz4_compressed.parquet", lz4, 4);
    static const char *const lists[] = {
        "{\"int64_list\":[1,2,3],\"utf8_list\":[\"abc\",\"efg\",\"hij\"]}",
        "{\"int64_list\":[null,1],\"utf8_list\":null}",
        "{\"int64_list\":[4],\"utf8_list\":[\"efg\",null,\"hij\",\"xyz\"]}" };
    expect_dump("data/list_columns.parquet", lists, 3);
    static const char *const nl[] = { "{\"emptylist\":[]}" };
    expect_dump("data/null_list.parquet", nl, 1);
    static const char *const sorted[] = {
        "{\"a\":null,\"b\":\"a\"}", "{\"a\":2,\"b\":\"b\"}", "{\"a\":1,\"b\":\"c\"}",
        "{\"a\":null,\"b\":\"a\"}", "{\"a\":2,\"b\":\"b\"}", "{\"a\":1,\"b\":\"c\"}" };
    expect_dump("data/sort_columns.parquet", sorted, 6);
    static const char *const int96[] = {
        "{\"a\":1704141296123456}", "{\"a\":1704070800000000}", "{\"a\":253402225200000000}",
        "{\"a\":1735599600000000}", "{\"a\":null}", "{\"a\":9089380393200000000}" };
    expect_dump("data/int96_from_spark.parquet", int96, 6);
    static const char *const unk[] = {
        "{\"column with known type\":\"known string 1\",\"column with unknown type\":\"dW5rbm93biBzdHJpbmcgMQ==\"}",
        "{\"column with known type\":\"known string 2\",\"column with unknown type\":\"dW5rbm93biBzdHJpbmcgMg==\"}",
        "{\"column with known type\":\"known string 3\",\"column with unknown type\":\"dW5rbm93biBzdHJpbmcgMw==\"}" };
    expect_dump("data/unknown-logical-type.parquet", unk, 3);

    struct pq_file *f = open_ok(cpath("data/sort_columns.parquet"));
    ck_assert_int_eq(pq_num_row_groups(f), 2);
    pq_close(f);
    f = open_ok(cpath("data/datapage_v2.snappy.parquet"));
    const struct pq_column *e = pq_column(f, 4);
    ck_assert(e->is_list && e->nullable && !e->element_nullable && e->physical == PQ_INT32);
    pq_close(f);
}
END_TEST

START_TEST(test_corpus_values)
{
    struct pq_vec v = PQ_VEC_INIT;
    /* rle_boolean_encoding: 68 rows, 36 true, 26 false, 6 null */
    struct pq_file *f = open_ok(cpath("data/rle_boolean_encoding.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 68);
    int t = 0, fl = 0, nu = 0;
    const int first[12] = { 1, 0, -1, 1, 1, 0, 0, 1, 1, 1, 0, 0 };
    for (size_t i = 0; i < v.nrows; i++) {
        int x = v.valid[i] ? ((uint8_t *)v.vals)[i] : -1;
        if (i < 12) ck_assert_int_eq(x, first[i]);
        t += x == 1;
        fl += x == 0;
        nu += x == -1;
    }
    ck_assert_int_eq(t, 36);
    ck_assert_int_eq(fl, 26);
    ck_assert_int_eq(nu, 6);
    pq_close(f);
    /* concatenated gzip members: UINT64 1..513 */
    f = open_ok(cpath("data/concatenated_gzip_members.parquet"));
    ck_assert(pq_column(f, 0)->logical == PQ_LT_INT && !pq_column(f, 0)->int_signed);
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 513);
    for (size_t i = 0; i < 513; i++) ck_assert_int_eq(((int64_t *)v.vals)[i], (int64_t)i + 1);
    pq_close(f);
    /* byte_stream_split.zstd */
    f = open_ok(cpath("data/byte_stream_split.zstd.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 300);
    const float f32[3] = { 1.7640524f, 0.40015721f, 0.97873801f };
    for (int i = 0; i < 3; i++) ck_assert(fabsf(((float *)v.vals)[i] - f32[i]) < 1e-6f);
    read_ok(f, 0, 1, &v);
    ck_assert(((double *)v.vals)[0] == -1.3065268517353166);
    ck_assert(((double *)v.vals)[1] == 1.658130679618188);
    ck_assert(((double *)v.vals)[2] == -0.11816404512856976);
    pq_close(f);
    /* byte_stream_split_extended: each BSS column equals its PLAIN twin */
    f = open_ok(cpath("data/byte_stream_split_extended.gzip.parquet"));
    ck_assert_int_eq(pq_num_columns(f), 14);
    for (int c = 0; c < 14; c += 2) {
        struct pq_vec w = PQ_VEC_INIT;
        read_ok(f, 0, c, &v);
        read_ok(f, 0, c + 1, &w);
        ck_assert_uint_eq(v.nrows, 200);
        ck_assert_uint_eq(w.nrows, 200);
        ck_assert_int_eq(v.width, w.width);
        ck_assert(memcmp(v.vals, w.vals, 200 * (size_t)v.width) == 0);
        for (size_t i = 0; i < 200; i++) ck_assert(v.valid[i] && w.valid[i]);
        pq_column_vec_free(&w);
    }
    ck_assert_int_eq(pq_column(f, 0)->logical, PQ_LT_FLOAT16);
    pq_close(f);
    /* delta_length_byte_array: "apple_banana_mango" + str(i*i) */
    f = open_ok(cpath("data/delta_length_byte_array.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 1000);
    for (size_t i = 0; i < 1000; i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "apple_banana_mango%zu", i * i);
        ck_assert_uint_eq(v.offs[i + 1] - v.offs[i], (uint32_t)n);
        ck_assert(memcmp(v.data + v.offs[i], want, (size_t)n) == 0);
    }
    pq_close(f);
    /* dict-page-offset-zero: 39 x 1552 */
    f = open_ok(cpath("data/dict-page-offset-zero.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 39);
    for (size_t i = 0; i < 39; i++) ck_assert_int_eq(((int32_t *)v.vals)[i], 1552);
    pq_close(f);
    /* int32_with_null_pages */
    f = open_ok(cpath("data/int32_with_null_pages.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 1000);
    int nulls = 0;
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (size_t i = 0; i < 1000; i++) {
        if (!v.valid[i]) {
            nulls++;
            continue;
        }
        int32_t x = ((int32_t *)v.vals)[i];
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    ck_assert_int_eq(nulls, 275);
    ck_assert_int_eq(mn, -2136906554);
    ck_assert_int_eq(mx, 2145722375);
    ck_assert_int_eq(((int32_t *)v.vals)[0], -654807448);
    ck_assert_int_eq(((int32_t *)v.vals)[3], 398454479);
    ck_assert(!v.valid[4]);
    pq_close(f);
    /* hadoop_lz4_compressed_larger: 10000 UUID strings */
    f = open_ok(cpath("data/hadoop_lz4_compressed_larger.parquet"));
    read_ok(f, 0, 0, &v);
    ck_assert_uint_eq(v.nrows, 10000);
    ck_assert(memcmp(v.data + v.offs[0], "c7ce6bef-d5b0-4863-b199-8ea8c7fb117b", 36) == 0);
    ck_assert(memcmp(v.data + v.offs[1], "e8fb9197-cb9f-4118-b67f-fbfa65f61843", 36) == 0);
    pq_close(f);
    /* checksum file: 5120 rows, sums */
    f = open_ok(cpath("data/datapage_v1-snappy-compressed-checksum.parquet"));
    int64_t sums[2] = { 0, 0 };
    for (int c = 0; c < 2; c++) {
        read_ok(f, 0, c, &v);
        ck_assert_uint_eq(v.nrows, 5120);
        for (size_t i = 0; i < 5120; i++) sums[c] += ((int32_t *)v.vals)[i];
    }
    read_ok(f, 0, 0, &v);
    ck_assert_int_eq(((int32_t *)v.vals)[0], 50462976);
    ck_assert_int_eq(((int32_t *)v.vals)[2], 185207048);
    ck_assert_int_eq(sums[0], 43118090240LL);
    ck_assert_int_eq(sums[1], 129016125440LL);
    pq_close(f);
    pq_column_vec_free(&v);
}
END_TEST

/* One CSV field: quoted (string), unquoted empty (null) or bare text. */
static const char *csv_field(const char *p, char *out, size_t cap, bool *is_null, bool *end)
{
    size_t n = 0;
    *is_null = false;
    if (*p == '"') {
        p++;
        for (;;) {
            if (*p == '\0') break;
            if (*p == '"' && p[1] == '"') {
                if (n + 1 < cap) out[n++] = '"';
                p += 2;
                continue;
            }
            if (*p == '"') {
                p++;
                break;
            }
            if (n + 1 < cap) out[n++] = *p;
            p++;
        }
    } else {
        while (*p != ',' && *p != '\n' && *p != '\r' && *p != '\0') {
            if (n + 1 < cap) out[n++] = *p;
            p++;
        }
        *is_null = n == 0;
    }
    out[n] = '\0';
    if (*p == ',') {
        *end = false;
        return p + 1;
    }
    *end = true;
    while (*p == '\r' || *p == '\n') p++;
    return p;
}

/* Render slot i of a flat column as CSV text. */
static void cell(const struct pq_vec *v, size_t i, char *out, size_t cap)
{
    switch (v->physical) {
    case PQ_INT32: snprintf(out, cap, "%d", ((int32_t *)v->vals)[i]); break;
    case PQ_INT64: snprintf(out, cap, "%lld", (long long)((int64_t *)v->vals)[i]); break;
    case PQ_BYTE_ARRAY: {
        size_t n = v->offs[i + 1] - v->offs[i];
        if (n >= cap) n = cap - 1;
        memcpy(out, v->data + v->offs[i], n);
        out[n] = '\0';
        break;
    }
    default: snprintf(out, cap, "?"); break;
    }
}

static void check_csv(const char *pq, const char *csv)
{
    size_t len;
    uint8_t *raw = slurp(cpath(csv), &len);
    ck_assert_msg(raw != NULL, "cannot read %s", csv);
    char *text = realloc(raw, len + 1);
    text[len] = '\0';
    struct pq_file *f = open_ok(cpath(pq));
    int nc = pq_num_columns(f);
    struct pq_vec *v = calloc((size_t)nc, sizeof *v);
    int64_t rows = pq_row_group_num_rows(f, 0);
    ck_assert_int_eq(pq_num_row_groups(f), 1);
    for (int c = 0; c < nc; c++) {
        read_ok(f, 0, c, &v[c]);
    }
    const char *p = strchr(text, '\n') + 1;     /* header: compare by position */
    char field[4096], got[4096];
    size_t row = 0, checked = 0;
    while (*p != '\0') {
        bool is_null, end = false;
        int c = 0;
        ck_assert_msg((int64_t)row < rows, "%s: more CSV rows than %lld", csv, (long long)rows);
        while (!end) {
            p = csv_field(p, field, sizeof field, &is_null, &end);
            ck_assert_msg(c < nc, "%s row %zu: too many fields", csv, row);
            if (is_null) {
                ck_assert_msg(!v[c].valid[row], "%s row %zu col %d: want null", csv, row, c);
            } else {
                ck_assert_msg(v[c].valid[row], "%s row %zu col %d: null, want %s", csv, row, c, field);
                cell(&v[c], row, got, sizeof got);
                ck_assert_msg(strcmp(got, field) == 0, "%s row %zu col %d: got %s want %s", csv, row,
                              c, got, field);
            }
            checked++;
            c++;
        }
        ck_assert_int_eq(c, nc);
        row++;
    }
    ck_assert_int_eq((int64_t)row, rows);
    ck_assert_uint_eq(checked, row * (size_t)nc);
    for (int c = 0; c < nc; c++) {
        pq_column_vec_free(&v[c]);
    }
    free(v);
    pq_close(f);
    free(text);
}

START_TEST(test_corpus_csv)
{
    check_csv("data/delta_binary_packed.parquet", "data/delta_binary_packed_expect.csv");
    check_csv("data/delta_byte_array.parquet", "data/delta_byte_array_expect.csv");
    check_csv("data/delta_encoding_optional_column.parquet", "data/delta_encoding_optional_column_expect.csv");
    check_csv("data/delta_encoding_required_column.parquet", "data/delta_encoding_required_column_expect.csv");
    /* null counts documented in delta_byte_array.md */
    struct pq_file *f = open_ok(cpath("data/delta_byte_array.parquet"));
    struct pq_vec v = PQ_VEC_INIT;
    int cols[2] = { pq_find_column(f, "c_salutation"), pq_find_column(f, "c_login") };
    size_t want[2] = { 30, 1000 };
    for (int k = 0; k < 2; k++) {
        read_ok(f, 0, cols[k], &v);
        size_t nulls = 0;
        for (size_t i = 0; i < v.nrows; i++) nulls += !v.valid[i];
        ck_assert_uint_eq(nulls, want[k]);
    }
    pq_column_vec_free(&v);
    pq_close(f);
}
END_TEST

START_TEST(test_corpus_reject)
{
    static const char *const bad[] = {
        "data/encrypt_columns_and_footer.parquet.encrypted",
        "data/large_string_map.brotli.parquet",
        "bad_data/PARQUET-1481.parquet",
        "bad_data/ARROW-RS-GH-6229-DICTHEADER.parquet",
        "bad_data/ARROW-GH-45185.parquet",
        "bad_data/ARROW-GH-47662.parquet",
        "bad_data/ARROW-GH-41321.parquet",
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(bad); i++) {
        char err[512] = "";
        struct lines L;
        int rc = dump_path(cpath(bad[i]), &L, err, sizeof err);
        ck_assert_msg(rc == FEATD_ERR, "%s was accepted", bad[i]);
        ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL, "%s: bad message", bad[i]);
        lines_free(&L);
        /* every column readable or refused with a message, none crashes */
        struct pq_file *f;
        if (pq_open_file(cpath(bad[i]), NULL, &f, err, sizeof err) == FEATD_OK) {
            read_all(f);
            pq_close(f);
        }
    }
    char err[512];
    struct pq_file *f;
    ck_assert_int_eq(pq_open_file(cpath(bad[0]), NULL, &f, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "encrypted") != NULL);
    f = open_ok(cpath(bad[1]));
    const struct pq_column *c = pq_column(f, 0);
    ck_assert(!c->supported);
    ck_assert(strstr(c->unsupported_reason, "MAP") != NULL);
    struct pq_vec v = PQ_VEC_INIT;
    ck_assert_int_eq(pq_column_read(f, 0, 0, &v, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "'arr'") != NULL);
    pq_close(f);
    ck_assert_int_eq(pq_open_file(cpath(bad[2]), NULL, &f, err, sizeof err), FEATD_ERR);
    f = open_ok(cpath(bad[4]));
    ck_assert_int_eq(pq_column_read(f, 0, 0, &v, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "repetition") != NULL);
    pq_close(f);
    /* a small page limit refuses big pages before allocating */
    struct pq_options o;
    pq_options_default(&o);
    o.max_page_size = 1000;
    ck_assert_int_eq(pq_open_file(cpath("data/hadoop_lz4_compressed_larger.parquet"), &o, &f, err,
                                  sizeof err), FEATD_OK);
    ck_assert_int_eq(pq_column_read(f, 0, 0, &v, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "max_page_size") != NULL);
    pq_close(f);
    pq_column_vec_free(&v);
}
END_TEST

/* Every prefix and single-byte corruption of a small file: no crash. */
static void mutate_file(const uint8_t *b, size_t len)
{
    char err[256];
    for (size_t i = 0; i <= len; i++) {
        for (int kind = 0; kind < 4; kind++) {
            size_t n = kind == 0 ? i : len;
            if (kind > 0 && i == len) {
                continue;
            }
            uint8_t *m = malloc(n ? n : 1);
            memcpy(m, b, n);
            if (kind == 1) m[i] ^= 0xff;
            if (kind == 2) m[i] = 0;
            if (kind == 3) m[i] ^= 0x01;
            struct pq_file *f;
            if (pq_open_mem(m, n, NULL, &f, err, sizeof err) == FEATD_OK) {
                read_all(f);
                pq_close(f);
            } else {
                ck_assert(err[0] != '\0');
            }
            free(m);
        }
    }
}

START_TEST(test_corpus_mutations)
{
    static const char *const files[] = {
        "data/alltypes_plain.parquet", "data/datapage_v2.snappy.parquet",
        "data/list_columns.parquet", "data/rle_boolean_encoding.parquet",
        "data/int96_from_spark.parquet", "data/null_list.parquet",
        "data/dict-page-offset-zero.parquet", "data/delta_length_byte_array.parquet",
        "data/page_v2_empty_compressed.parquet", "data/hadoop_lz4_compressed.parquet",
    };
    for (size_t k = 0; k < FEATD_ARRAY_LEN(files); k++) {
        size_t len;
        uint8_t *b = slurp(cpath(files[k]), &len);
        ck_assert(b != NULL);
        mutate_file(b, len);
        free(b);
    }
}
END_TEST

/* ---- a hand-built file: legacy list forms ------------------------------- */

/* Minimal Thrift compact writer for building test files. */
struct tw {
    uint8_t b[4096];
    size_t n;
    int16_t last[16];
    int depth;
};

static void tw_byte(struct tw *w, uint8_t x) { w->b[w->n++] = x; }
static void tw_uleb(struct tw *w, uint64_t v) { w->n += put_uleb(w->b + w->n, v); }
static void tw_field(struct tw *w, int16_t id, int type)
{
    int16_t d = (int16_t)(id - w->last[w->depth]);
    if (d > 0 && d <= 15) {
        tw_byte(w, (uint8_t)(d << 4 | type));
    } else {
        tw_byte(w, (uint8_t)type);
        tw_uleb(w, zz(id));
    }
    w->last[w->depth] = id;
}
static void tw_i32(struct tw *w, int16_t id, int64_t v) { tw_field(w, id, PQ_T_I32); tw_uleb(w, zz(v)); }
static void tw_i64(struct tw *w, int16_t id, int64_t v) { tw_field(w, id, PQ_T_I64); tw_uleb(w, zz(v)); }
static void tw_str(struct tw *w, int16_t id, const char *s)
{
    tw_field(w, id, PQ_T_BINARY);
    tw_uleb(w, strlen(s));
    memcpy(w->b + w->n, s, strlen(s));
    w->n += strlen(s);
}
static void tw_list(struct tw *w, int16_t id, int etype, size_t n)
{
    tw_field(w, id, PQ_T_LIST);
    tw_byte(w, (uint8_t)((n < 15 ? n : 15) << 4 | (size_t)etype));
    if (n >= 15) tw_uleb(w, n);
}
static void tw_begin(struct tw *w) { w->last[++w->depth] = 0; }   /* list element or struct field */
static void tw_sfield(struct tw *w, int16_t id) { tw_field(w, id, PQ_T_STRUCT); tw_begin(w); }
static void tw_end(struct tw *w) { tw_byte(w, 0); w->depth--; }

/* A v1 PLAIN INT32 data page with RLE levels (bit-packed runs). */
static void put_page(struct tw *w, const uint8_t *rep, const uint8_t *def, size_t n, int def_bw,
                     const int32_t *vals, size_t nv)
{
    uint8_t body[256];
    size_t bl = 0;
    uint64_t lv[64];
    const uint8_t *src[2] = { rep, def };
    int bws[2] = { 1, def_bw };
    for (int k = 0; k < 2; k++) {
        size_t groups = (n + 7) / 8, bytes = groups * (size_t)bws[k];
        uint32_t len = (uint32_t)(1 + bytes);
        memcpy(body + bl, &len, 4);
        bl += 4;
        body[bl++] = (uint8_t)(groups << 1 | 1);
        for (size_t i = 0; i < 64; i++) lv[i] = i < n ? src[k][i] : 0;
        pack(lv, groups * 8, bws[k], body + bl, bytes);
        bl += bytes;
    }
    memcpy(body + bl, vals, nv * 4);
    bl += nv * 4;
    tw_begin(w);
    tw_i32(w, 1, 0);
    tw_i32(w, 2, (int64_t)bl);
    tw_i32(w, 3, (int64_t)bl);
    tw_sfield(w, 5);
    tw_i32(w, 1, (int64_t)n);
    tw_i32(w, 2, 0);
    tw_i32(w, 3, 3);
    tw_i32(w, 4, 3);
    tw_end(w);
    tw_end(w);
    memcpy(w->b + w->n, body, bl);
    w->n += bl;
}

static void put_chunk_meta(struct tw *w, const char *path0, const char *path1, int64_t nvals,
                           int64_t off, int64_t size)
{
    tw_begin(w);                            /* ColumnChunk */
    tw_i64(w, 2, off);
    tw_sfield(w, 3);                        /* ColumnMetaData */
    tw_i32(w, 1, PQ_INT32);
    tw_list(w, 2, PQ_T_I32, 2);
    tw_uleb(w, zz(0));
    tw_uleb(w, zz(3));
    tw_list(w, 3, PQ_T_BINARY, path1 ? 2 : 1);
    tw_uleb(w, strlen(path0));
    memcpy(w->b + w->n, path0, strlen(path0));
    w->n += strlen(path0);
    if (path1 != NULL) {
        tw_uleb(w, strlen(path1));
        memcpy(w->b + w->n, path1, strlen(path1));
        w->n += strlen(path1);
    }
    tw_i32(w, 4, 0);
    tw_i64(w, 5, nvals);
    tw_i64(w, 6, size);
    tw_i64(w, 7, size);
    tw_i64(w, 9, off);
    tw_end(w);
    tw_end(w);
}

START_TEST(test_legacy_lists)
{
    /* col: optional group (LIST) { repeated int32 element }  (2-level)
     *      rows [1,2], null, [], [3] — row 0 spans two v1 pages
     * r:   repeated int32  (bare)   rows [5], [], [6,7], [] */
    static struct tw w;
    memset(&w, 0, sizeof w);
    memcpy(w.b, "PAR1", 4);
    w.n = 4;
    const uint8_t rA[] = { 0 }, dA[] = { 2 };
    const uint8_t rB[] = { 1, 0, 0, 0 }, dB[] = { 2, 0, 1, 2 };
    const int32_t vA[] = { 1 }, vB[] = { 2, 3 };
    int64_t off0 = (int64_t)w.n;
    put_page(&w, rA, dA, 1, 2, vA, 1);
    put_page(&w, rB, dB, 4, 2, vB, 2);
    int64_t size0 = (int64_t)w.n - off0, off1 = (int64_t)w.n;
    const uint8_t rr[] = { 0, 0, 0, 1, 0 }, dr[] = { 1, 0, 1, 1, 0 };
    const int32_t vr[] = { 5, 6, 7 };
    put_page(&w, rr, dr, 5, 1, vr, 3);
    int64_t size1 = (int64_t)w.n - off1;
    size_t meta = w.n;
    w.depth = 0;
    w.last[0] = 0;
    tw_begin(&w);                           /* FileMetaData */
    tw_i32(&w, 1, 1);
    tw_list(&w, 2, PQ_T_STRUCT, 4);
    tw_begin(&w); tw_str(&w, 4, "schema"); tw_i32(&w, 5, 2); tw_end(&w);
    tw_begin(&w); tw_i32(&w, 3, 1); tw_str(&w, 4, "col"); tw_i32(&w, 5, 1); tw_i32(&w, 6, 3); tw_end(&w);
    tw_begin(&w); tw_i32(&w, 1, PQ_INT32); tw_i32(&w, 3, 2); tw_str(&w, 4, "element"); tw_end(&w);
    tw_begin(&w); tw_i32(&w, 1, PQ_INT32); tw_i32(&w, 3, 2); tw_str(&w, 4, "r"); tw_end(&w);
    tw_i64(&w, 3, 4);
    tw_list(&w, 4, PQ_T_STRUCT, 1);
    tw_begin(&w);                           /* RowGroup */
    tw_list(&w, 1, PQ_T_STRUCT, 2);
    put_chunk_meta(&w, "col", "element", 5, off0, size0);
    put_chunk_meta(&w, "r", NULL, 5, off1, size1);
    tw_i64(&w, 2, size0 + size1);
    tw_i64(&w, 3, 4);
    tw_end(&w);
    tw_end(&w);
    uint32_t flen = (uint32_t)(w.n - meta);
    memcpy(w.b + w.n, &flen, 4);
    memcpy(w.b + w.n + 4, "PAR1", 4);
    w.n += 8;

    char err[256];
    struct pq_file *f;
    int rc = pq_open_mem(w.b, w.n, NULL, &f, err, sizeof err);
    ck_assert_msg(rc == FEATD_OK, "%s", err);
    const struct pq_column *c0 = pq_column(f, 0), *c1 = pq_column(f, 1);
    ck_assert(c0->supported && c0->is_list && c0->nullable && !c0->element_nullable);
    ck_assert(c1->supported && c1->is_list && !c1->nullable && !c1->element_nullable);
    FILE *ms;
    char *out = NULL;
    size_t outlen = 0;
    ms = open_memstream(&out, &outlen);
    rc = cli_parquet_dump_json(f, ms, err, sizeof err);
    fclose(ms);
    ck_assert_msg(rc == FEATD_OK, "%s", err);
    ck_assert_str_eq(out, "{\"col\":[1,2],\"r\":[5]}\n{\"col\":null,\"r\":[]}\n"
                          "{\"col\":[],\"r\":[6,7]}\n{\"col\":[3],\"r\":[]}\n");
    free(out);
    pq_close(f);
    mutate_file(w.b, w.n);
}
END_TEST

/* ---- project fixtures ----------------------------------------------------- */

#define FIXDIR "tests/fixtures/parquet"

/* JSON token of a dump line. */
struct tok {
    char kind;          /* 's' string, 'n' number, 'l' literal, else punctuation */
    const char *s;
    size_t n;
};

static const char *next_tok(const char *p, struct tok *t)
{
    while (*p == ' ' || *p == '\t') p++;
    t->s = p;
    if (*p == '\0') {
        t->kind = 0;
        t->n = 0;
        return p;
    }
    if (*p == '"') {
        const char *q = p + 1;
        while (*q != '\0' && *q != '"') {
            q += *q == '\\' && q[1] != '\0' ? 2 : 1;
        }
        t->kind = 's';
        t->s = p + 1;
        t->n = (size_t)(q - p - 1);
        return *q == '"' ? q + 1 : q;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        const char *q = p;
        while (*q != '\0' && strchr("+-0123456789.eE", *q) != NULL) q++;
        t->kind = 'n';
        t->n = (size_t)(q - p);
        return q;
    }
    if ((*p >= 'a' && *p <= 'z')) {
        const char *q = p;
        while (*q >= 'a' && *q <= 'z') q++;
        t->kind = 'l';
        t->n = (size_t)(q - p);
        return q;
    }
    t->kind = *p;
    t->n = 1;
    return p + 1;
}

static bool is_int_lexeme(const struct tok *t)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strchr(".eE", t->s[i]) != NULL) return false;
    }
    return true;
}

/* Compare two dump lines; float columns (by key) compare as float32. */
static bool same_line(const char *a, const char *b, struct pq_file *f, char *why, size_t whylen)
{
    struct tok ta, tb;
    int depth = 0;
    char key[512] = "";
    bool expect_key = false;
    for (;;) {
        a = next_tok(a, &ta);
        b = next_tok(b, &tb);
        if (ta.kind != tb.kind) {
            snprintf(why, whylen, "structure differs near key '%s'", key);
            return false;
        }
        if (ta.kind == 0) return true;
        if (ta.kind == '{') { depth++; expect_key = true; continue; }
        if (ta.kind == '}') { depth--; continue; }
        if (ta.kind == ',' ) { expect_key = depth == 1; continue; }
        if (ta.kind == 's' && expect_key) {
            snprintf(key, sizeof key, "%.*s", (int)ta.n, ta.s);
            expect_key = false;
        }
        if (ta.kind == 'n') {
            bool ok;
            if (is_int_lexeme(&ta) && is_int_lexeme(&tb)) {
                ok = ta.n == tb.n && memcmp(ta.s, tb.s, ta.n) == 0;
            } else {
                char x[64], y[64];
                snprintf(x, sizeof x, "%.*s", (int)ta.n, ta.s);
                snprintf(y, sizeof y, "%.*s", (int)tb.n, tb.s);
                int c = pq_find_column(f, key);
                const struct pq_column *col = c >= 0 ? pq_column(f, c) : NULL;
                if (col != NULL && (col->physical == PQ_FLOAT || col->logical == PQ_LT_FLOAT16)) {
                    float fx = strtof(x, NULL), fy = strtof(y, NULL);
                    ok = memcmp(&fx, &fy, sizeof fx) == 0;
                } else if (col != NULL && col->logical == PQ_LT_DECIMAL) {
                    ok = strcmp(x, y) == 0;         /* exact digits */
                } else {
                    double dx = strtod(x, NULL), dy = strtod(y, NULL);
                    ok = memcmp(&dx, &dy, sizeof dx) == 0;
                }
            }
            if (!ok) {
                snprintf(why, whylen, "key '%s': %.*s vs %.*s", key, (int)ta.n, ta.s, (int)tb.n, tb.s);
                return false;
            }
            continue;
        }
        if (ta.n != tb.n || memcmp(ta.s, tb.s, ta.n) != 0) {
            snprintf(why, whylen, "key '%s': %.*s vs %.*s", key, (int)ta.n, ta.s, (int)tb.n, tb.s);
            return false;
        }
    }
}

START_TEST(test_fixtures)
{
    DIR *d = opendir(FIXDIR);
    size_t files = 0, rows = 0, bad = 0;
    if (d == NULL) {
        printf("SKIPPED: no %s directory\n", FIXDIR);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 9 || strcmp(de->d_name + nl - 8, ".parquet") != 0) {
            continue;
        }
        char pq[1024], ex[1100], err[512];
        snprintf(pq, sizeof pq, "%s/%s", FIXDIR, de->d_name);
        snprintf(ex, sizeof ex, "%s/%.*s.expected.jsonl", FIXDIR, (int)(nl - 8), de->d_name);
        if (nl > 12 && strcmp(de->d_name + nl - 12, ".bad.parquet") == 0) {
            /* malformed on purpose: refused with a one-line reason */
            struct lines B;
            err[0] = '\0';
            ck_assert_msg(dump_path(pq, &B, err, sizeof err) == FEATD_ERR, "%s was accepted", pq);
            ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL, "%s: bad message", pq);
            lines_free(&B);
            bad++;
            continue;
        }
        if (!file_exists(ex)) {
            continue;
        }
        size_t elen;
        uint8_t *eraw = slurp(ex, &elen);
        ck_assert(eraw != NULL);
        struct lines E = { (char *)realloc(eraw, elen + 1), elen, NULL, 0 };
        E.buf[elen] = '\0';
        lines_split(&E);
        struct lines L;
        int rc = dump_path(pq, &L, err, sizeof err);
        ck_assert_msg(rc == FEATD_OK, "%s: %s", pq, err);
        ck_assert_msg(L.n == E.n, "%s: %zu rows, expected %zu", pq, L.n, E.n);
        struct pq_file *f = open_ok(pq);
        for (size_t i = 0; i < L.n; i++) {
            char why[600];
            ck_assert_msg(same_line(L.l[i], E.l[i], f, why, sizeof why), "%s row %zu: %s", pq, i, why);
        }
        pq_close(f);
        rows += L.n;
        files++;
        lines_free(&L);
        lines_free(&E);
    }
    closedir(d);
    printf("fixtures: %zu files, %zu rows compared, %zu malformed files refused\n", files, rows, bad);
}
END_TEST

START_TEST(test_fixture_mutations)
{
    /* the smallest fixtures, corrupted at every byte */
    DIR *d = opendir(FIXDIR);
    if (d == NULL) {
        return;
    }
    struct dirent *de;
    int done = 0;
    while ((de = readdir(d)) != NULL && done < 3) {
        size_t nl = strlen(de->d_name), len;
        if (nl < 9 || strcmp(de->d_name + nl - 8, ".parquet") != 0) {
            continue;
        }
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", FIXDIR, de->d_name);
        uint8_t *b = slurp(p, &len);
        if (b != NULL && len <= 4096) {
            mutate_file(b, len);
            done++;
        }
        free(b);
    }
    closedir(d);
}
END_TEST

static Suite *parquet_suite(bool have_corpus)
{
    Suite *s = suite_create("parquet");
    TCase *u = tcase_create("hand-built");
    tcase_set_timeout(u, 120);
    tcase_add_test(u, test_legacy_lists);
    suite_add_tcase(s, u);
    TCase *fx = tcase_create("fixtures");
    tcase_set_timeout(fx, 300);
    tcase_add_test(fx, test_fixtures);
    tcase_add_test(fx, test_fixture_mutations);
    suite_add_tcase(s, fx);
    if (have_corpus) {
        TCase *c = tcase_create("corpus");
        tcase_set_timeout(c, 600);
        tcase_add_test(c, test_corpus_alltypes_plain);
        tcase_add_test(c, test_corpus_tiny_pages);
        tcase_add_test(c, test_corpus_small_files);
        tcase_add_test(c, test_corpus_values);
        tcase_add_test(c, test_corpus_csv);
        tcase_add_test(c, test_corpus_reject);
        tcase_add_test(c, test_corpus_mutations);
        suite_add_tcase(s, c);
    }
    return s;
}

int main(void)
{
    bool have = find_corpus();
    if (!have) {
        printf("SKIPPED: corpus not found (../shared/parquet-testing or $PARQUET_TESTING_DIR): "
               "conformance tests not run\n");
    }
    SRunner *sr = srunner_create(parquet_suite(have));
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
