/*
 * check_parquet.c — the Parquet reader's suite.
 *
 *  - unit: Thrift compact reader (fields, skipping, limits, truncation),
 *    bit unpacking, RLE/bit-packed hybrid, levels, DELTA_BINARY_PACKED
 *    (with a small encoder written here), BYTE_STREAM_SPLIT — hand-built
 *    inputs, valid and malformed;
 *  - conformance: every must-decode file of ../shared/parquet-testing
 *    (or $PARQUET_TESTING_DIR) against the MANIFEST's documented content
 *    and the *_expect.csv sidecars (every value), and clean rejection of the
 *    unsupported and bad_data files; when the corpus is absent these tests
 *    are not run and "SKIPPED: corpus not found" is printed;
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

/* ---- thrift ------------------------------------------------------------ */

static const uint8_t thrift_sample[] = {
    0x15, 0x0a,                         /* 1: i32 5 */
    0x18, 0x02, 'a', 'b',               /* 2: binary "ab" */
    0x39, 0x25, 0x02, 0x04,             /* 5: list<i32> [1, 2] */
    0x0c, 0xc8, 0x01,                   /* 100: struct (long-form id) */
    0x11, 0x00,                         /*   1: true, STOP */
    0x1b, 0x01, 0x58, 0x02, 0x01, 'x',  /* 101: map<i32,binary> {1: "x"} */
    0x17, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, /* 102: double 1.0 */
    0x00                                /* STOP */
};

START_TEST(test_thrift_fields)
{
    char err[128] = "";
    struct pq_thrift t;
    int16_t last = 0, id;
    int ty;
    int64_t v;
    const uint8_t *p;
    size_t n;
    int et;
    pq_thrift_init(&t, thrift_sample, sizeof thrift_sample, err, sizeof err);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(pq_thrift_int(&t, ty, 0, 100, &v), FEATD_OK);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 2);
    ck_assert_int_eq(pq_thrift_binary(&t, ty, &p, &n), FEATD_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(p, "ab", 2) == 0);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 5);
    ck_assert_int_eq(pq_thrift_list(&t, ty, &et, &n), FEATD_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(pq_thrift_int(&t, et, 0, 10, &v), FEATD_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(pq_thrift_int(&t, et, 0, 10, &v), FEATD_OK);
    ck_assert_int_eq(v, 2);
    /* unknown fields: skipped generically */
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 100);
    ck_assert_int_eq(pq_thrift_skip(&t, ty), FEATD_OK);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 101);
    ck_assert_int_eq(pq_thrift_skip(&t, ty), FEATD_OK);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(id, 102);
    ck_assert_int_eq(ty, PQ_T_DOUBLE);
    ck_assert_int_eq(pq_thrift_skip(&t, ty), FEATD_OK);
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 0);
    ck_assert(t.p == t.end);
    /* range checks */
    pq_thrift_init(&t, thrift_sample, sizeof thrift_sample, err, sizeof err);
    last = 0;
    ck_assert_int_eq(pq_thrift_field(&t, &last, &id, &ty), 1);
    ck_assert_int_eq(pq_thrift_int(&t, ty, 0, 4, &v), FEATD_ERR);
    ck_assert(strstr(err, "value 5 outside [0, 4]") != NULL);
}
END_TEST

START_TEST(test_thrift_truncated)
{
    char err[128];
    /* the whole struct skips; every strict prefix fails cleanly */
    for (size_t len = 0; len <= sizeof thrift_sample; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, thrift_sample, len);
        struct pq_thrift t;
        pq_thrift_init(&t, b, len, err, sizeof err);
        int rc = pq_thrift_skip(&t, PQ_T_STRUCT);
        ck_assert_int_eq(rc, len == sizeof thrift_sample ? FEATD_OK : FEATD_ERR);
        free(b);
    }
}
END_TEST

START_TEST(test_thrift_limits)
{
    char err[128];
    struct pq_thrift t;
    uint8_t deep[100];
    memset(deep, 0x1c, sizeof deep);            /* field 1: struct, nested 100 deep */
    pq_thrift_init(&t, deep, sizeof deep, err, sizeof err);
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_STRUCT), FEATD_ERR);
    ck_assert(strstr(err, "deep") != NULL);
    /* list claiming more elements than bytes */
    const uint8_t biglist[] = { 0x19, 0xf5, 0xe8, 0x07, 1, 2, 0 };
    pq_thrift_init(&t, biglist, sizeof biglist, err, sizeof err);
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_STRUCT), FEATD_ERR);
    /* invalid field type */
    const uint8_t badtype[] = { 0x1d, 0 };
    pq_thrift_init(&t, badtype, sizeof badtype, err, sizeof err);
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_STRUCT), FEATD_ERR);
    /* overlong varint */
    const uint8_t longvar[] = { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0 };
    pq_thrift_init(&t, longvar, sizeof longvar, err, sizeof err);
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_STRUCT), FEATD_ERR);
    /* binary longer than the buffer */
    const uint8_t longbin[] = { 0x18, 0x7f, 'a', 0 };
    pq_thrift_init(&t, longbin, sizeof longbin, err, sizeof err);
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_STRUCT), FEATD_ERR);
    /* errors are sticky */
    ck_assert_int_eq(pq_thrift_skip(&t, PQ_T_I32), FEATD_ERR);
}
END_TEST

START_TEST(test_meta_garbage)
{
    char err[256];
    struct pq_meta m;
    uint8_t buf[64];
    /* random bytes never parse into a crash */
    srand(7);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)rand();
        }
        if (pq_meta_parse(buf, n, &m, err, sizeof err) == FEATD_OK) {
            pq_meta_free(&m);
        }
        struct pq_page_header h;
        size_t used;
        if (pq_meta_page_header(buf, n, &h, &used, err, sizeof err) == FEATD_OK) {
            ck_assert(used <= n);
        }
    }
}
END_TEST

/* ---- bit packing / RLE -------------------------------------------------- */

/* Test packer: n values of bw bits, LSB-first. */
static void pack(const uint64_t *v, size_t n, int bw, uint8_t *out, size_t outlen)
{
    memset(out, 0, outlen);
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < bw; b++) {
            if ((v[i] >> b) & 1) {
                size_t bit = i * (size_t)bw + (size_t)b;
                out[bit / 8] |= (uint8_t)(1u << (bit % 8));
            }
        }
    }
}

static size_t put_uleb(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static uint64_t rnd64(void)
{
    return (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
}

START_TEST(test_unpack_all_widths)
{
    char err[128];
    uint64_t in[100], out[100];
    uint32_t out32[100];
    uint8_t packed[100 * 8 + 8];
    srand(1);
    for (int bw = 0; bw <= 64; bw++) {
        for (size_t n = 0; n <= 100; n += 7) {
            for (size_t i = 0; i < n; i++) {
                in[i] = bw == 64 ? rnd64() : bw == 0 ? 0 : rnd64() & (((uint64_t)1 << bw) - 1);
            }
            size_t bytes = (n * (size_t)bw + 7) / 8;
            pack(in, n, bw, packed, sizeof packed);
            /* exact-size copy so ASan sees any over-read */
            uint8_t *exact = malloc(bytes ? bytes : 1);
            memcpy(exact, packed, bytes);
            pq_rle_unpack64(exact, bytes, out, n, bw);
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg(out[i] == in[i], "bw %d n %zu i %zu", bw, n, i);
            }
            if (bw <= 32) {
                /* the 32-bit unpacker, reached through one bit-packed run of
                 * ceil(n/8) groups whose data ends right after the n values */
                uint8_t hdr[10];
                size_t hl = put_uleb(hdr, ((n + 7) / 8) << 1 | 1);
                uint8_t *run = malloc(hl + bytes);
                memcpy(run, hdr, hl);
                memcpy(run + hl, exact, bytes);
                ck_assert_int_eq(pq_rle_decode32(run, hl + bytes, bw, out32, n, NULL, err, sizeof err),
                                 FEATD_OK);
                for (size_t i = 0; i < n; i++) {
                    ck_assert(out32[i] == (uint32_t)in[i]);
                }
                free(run);
            }
            free(exact);
        }
    }
}
END_TEST

START_TEST(test_rle_hybrid)
{
    char err[128];
    uint32_t out[32];
    /* RLE run: 5 x 3 (bw 3); bit-packed run: one group 0..7; RLE run 2 x 6 */
    uint8_t buf[16] = { 0x0a, 0x03, 0x03 };
    uint64_t vals[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    pack(vals, 8, 3, buf + 3, 3);
    buf[6] = 0x04;
    buf[7] = 0x06;
    size_t used;
    ck_assert_int_eq(pq_rle_decode32(buf, 8, 3, out, 15, &used, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(used, 8);
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(out[i], 3);
    for (int i = 0; i < 8; i++) ck_assert_uint_eq(out[5 + i], (uint32_t)i);
    ck_assert_uint_eq(out[13], 6);
    ck_assert_uint_eq(out[14], 6);
    /* every truncation fails cleanly */
    for (size_t len = 0; len < 8; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, buf, len);
        ck_assert_int_eq(pq_rle_decode32(b, len, 3, out, 15, NULL, err, sizeof err), FEATD_ERR);
        free(b);
    }
    /* asking for fewer values stops early */
    ck_assert_int_eq(pq_rle_decode32(buf, 8, 3, out, 7, NULL, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[6], 1);
    /* bad bit width, value wider than the bit width */
    ck_assert_int_eq(pq_rle_decode32(buf, 8, 33, out, 1, NULL, err, sizeof err), FEATD_ERR);
    const uint8_t wide[] = { 0x02, 0x09 };
    ck_assert_int_eq(pq_rle_decode32(wide, 2, 3, out, 1, NULL, err, sizeof err), FEATD_ERR);
    /* bit width 0: runs of zero */
    const uint8_t zero[] = { 0x20 };
    ck_assert_int_eq(pq_rle_decode32(zero, 1, 0, out, 16, NULL, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[15], 0);
    /* a last bit-packed run shorter than its declared groups is accepted
     * when the needed values are there */
    uint8_t shortbp[4] = { 0x05, 0, 0, 0 };     /* 2 groups declared, bw 1, 10 values needed */
    shortbp[1] = 0xff;
    shortbp[2] = 0x03;
    ck_assert_int_eq(pq_rle_decode32(shortbp, 3, 1, out, 10, NULL, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[9], 1);
    ck_assert_int_eq(pq_rle_decode32(shortbp, 2, 1, out, 10, NULL, err, sizeof err), FEATD_ERR);
}
END_TEST

START_TEST(test_levels)
{
    char err[128];
    uint8_t out[64];
    const uint8_t lv[] = { 0x10, 0x01, 0x03, 0xe4 };  /* 8 x 1, then bit-packed bw 2: 0,1,2,3 */
    ck_assert_int_eq(pq_rle_levels(lv, 4, 2, 3, out, 12, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[7], 1);
    ck_assert_uint_eq(out[8], 0);
    ck_assert_uint_eq(out[11], 3);
    ck_assert_int_eq(pq_rle_levels(lv, 4, 2, 2, out, 12, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "maximum") != NULL);
    const uint8_t run5[] = { 0x02, 0x05 };
    ck_assert_int_eq(pq_rle_levels(run5, 2, 3, 4, out, 1, err, sizeof err), FEATD_ERR);
    ck_assert_int_eq(pq_rle_levels(run5, 2, 9, 4, out, 1, err, sizeof err), FEATD_ERR);
    /* legacy BIT_PACKED: MSB first */
    const uint8_t bp[] = { 0x1b };      /* 00 01 10 11 */
    size_t used;
    ck_assert_int_eq(pq_rle_bitpacked_levels(bp, 1, 2, 3, out, 4, &used, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 1);
    ck_assert_uint_eq(out[2], 2);
    ck_assert_uint_eq(out[3], 3);
    ck_assert_int_eq(pq_rle_bitpacked_levels(bp, 1, 2, 3, out, 5, &used, err, sizeof err), FEATD_ERR);
    ck_assert_int_eq(pq_rle_bit_width(0), 0);
    ck_assert_int_eq(pq_rle_bit_width(1), 1);
    ck_assert_int_eq(pq_rle_bit_width(3), 2);
    ck_assert_int_eq(pq_rle_bit_width(4), 3);
}
END_TEST

/* ---- DELTA_BINARY_PACKED ---------------------------------------------- */

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Test encoder: block 128, 4 miniblocks of 32; returns bytes written. */
static size_t delta_encode(const int64_t *v, size_t n, uint8_t *out)
{
    size_t pos = 0;
    pos += put_uleb(out + pos, 128);
    pos += put_uleb(out + pos, 4);
    pos += put_uleb(out + pos, n);
    pos += put_uleb(out + pos, zz(n ? v[0] : 0));
    for (size_t i = 1; i < n; i += 128) {
        size_t m = n - i < 128 ? n - i : 128;
        uint64_t d[128];
        int64_t mind = INT64_MAX;
        for (size_t k = 0; k < m; k++) {
            d[k] = (uint64_t)v[i + k] - (uint64_t)v[i + k - 1];
            if ((int64_t)d[k] < mind) mind = (int64_t)d[k];
        }
        pos += put_uleb(out + pos, zz(mind));
        uint8_t *widths = out + pos;
        pos += 4;
        for (int mb = 0; mb < 4; mb++) {
            uint64_t rel[32] = {0}, mx = 0;
            size_t cnt = 0;
            for (size_t k = (size_t)mb * 32; k < (size_t)mb * 32 + 32 && k < m; k++) {
                rel[cnt] = d[k] - (uint64_t)mind;
                mx |= rel[cnt];
                cnt++;
            }
            if (cnt == 0) {
                widths[mb] = 0;
                continue;
            }
            int bw = pq_rle_bit_width(mx);
            widths[mb] = (uint8_t)bw;
            pack(rel, 32, bw, out + pos, (size_t)bw * 4);
            pos += (size_t)bw * 4;
        }
    }
    return pos;
}

START_TEST(test_delta_binary)
{
    char err[160];
    static int64_t in[1000];
    static uint64_t out[1000];
    static uint8_t enc[1000 * 10 + 100];
    size_t sizes[] = { 0, 1, 2, 33, 128, 129, 200, 1000 };
    srand(3);
    for (int kind = 0; kind < 4; kind++) {
        for (size_t s = 0; s < FEATD_ARRAY_LEN(sizes); s++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++) {
                in[i] = kind == 0 ? (int64_t)i : kind == 1 ? (int64_t)rnd64()
                      : kind == 2 ? (i % 2 ? INT64_MAX : INT64_MIN) : (int64_t)(rand() % 100) - 50;
            }
            size_t len = delta_encode(in, n, enc), cnt = 0, used = 0;
            uint8_t *exact = malloc(len);
            memcpy(exact, enc, len);
            ck_assert_int_eq(pq_delta_binary(exact, len, out, n, &cnt, &used, err, sizeof err), FEATD_OK);
            ck_assert_uint_eq(cnt, n);
            ck_assert_uint_eq(used, len);
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg((int64_t)out[i] == in[i], "kind %d n %zu i %zu", kind, n, i);
            }
            /* capacity smaller than the count is refused */
            if (n > 0) {
                ck_assert_int_eq(pq_delta_binary(exact, len, out, n - 1, &cnt, NULL, err, sizeof err),
                                 FEATD_ERR);
            }
            /* every truncation fails, or (only the padding of the last
             * miniblock cut) gives the same values; never over-reads */
            for (size_t t = 0; t < len; t++) {
                uint8_t *tr = malloc(t ? t : 1);
                memcpy(tr, enc, t);
                if (pq_delta_binary(tr, t, out, n, &cnt, NULL, err, sizeof err) == FEATD_OK) {
                    ck_assert_uint_eq(cnt, n);
                    for (size_t i = 0; i < n; i++) {
                        ck_assert((int64_t)out[i] == in[i]);
                    }
                }
                free(tr);
            }
            free(exact);
        }
    }
    /* malformed headers */
    const uint8_t badblock[] = { 100, 4, 1, 0 };
    size_t cnt;
    ck_assert_int_eq(pq_delta_binary(badblock, 4, out, 10, &cnt, NULL, err, sizeof err), FEATD_ERR);
    const uint8_t badmb[] = { 0x80, 0x01, 3, 1, 0 };
    ck_assert_int_eq(pq_delta_binary(badmb, 5, out, 10, &cnt, NULL, err, sizeof err), FEATD_ERR);
    const uint8_t zerobm[] = { 0x80, 0x01, 0, 1, 0 };
    ck_assert_int_eq(pq_delta_binary(zerobm, 5, out, 10, &cnt, NULL, err, sizeof err), FEATD_ERR);
    uint8_t badw[] = { 0x80, 0x01, 4, 5, 0, 0, 65, 0, 0, 0 };
    ck_assert_int_eq(pq_delta_binary(badw, sizeof badw, out, 10, &cnt, NULL, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "bit width") != NULL);
}
END_TEST

START_TEST(test_byte_stream_split)
{
    char err[128];
    const uint8_t in[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    uint8_t out[12];
    ck_assert_int_eq(pq_delta_byte_stream_split(in, 12, 3, 4, out, err, sizeof err), FEATD_OK);
    const uint8_t want[] = { 1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12 };
    ck_assert(memcmp(out, want, 12) == 0);
    ck_assert_int_eq(pq_delta_byte_stream_split(in, 12, 2, 6, out, err, sizeof err), FEATD_OK);
    ck_assert_uint_eq(out[1], 3);
    ck_assert_int_eq(pq_delta_byte_stream_split(in, 11, 3, 4, out, err, sizeof err), FEATD_ERR);
    ck_assert_int_eq(pq_delta_byte_stream_split(in, 12, 3, 0, out, err, sizeof err), FEATD_ERR);
}
END_TEST

START_TEST(test_conversions)
{
    /* INT96: nanos 0 on Julian day 2440588 = epoch; +1 day + 1.5 ms */
    uint8_t b[12] = {0};
    uint32_t jd = 2440588;
    memcpy(b + 8, &jd, 4);
    ck_assert_int_eq(pq_int96_to_us(b), 0);
    jd = 2440589;
    uint64_t ns = 1500000;
    memcpy(b, &ns, 8);
    memcpy(b + 8, &jd, 4);
    ck_assert_int_eq(pq_int96_to_us(b), 86400000000LL + 1500);
    const uint8_t one[2] = { 0x00, 0x3c }, neg2[2] = { 0x00, 0xc0 }, inf[2] = { 0x00, 0x7c };
    const uint8_t sub[2] = { 0x01, 0x00 };
    ck_assert(pq_half_to_float(one) == 1.0f);
    ck_assert(pq_half_to_float(neg2) == -2.0f);
    ck_assert(isinf(pq_half_to_float(inf)));
    ck_assert(pq_half_to_float(sub) == ldexpf(1.0f, -24));
}
END_TEST

/* Regression (fuzzing): DATE days far outside the µs range must not overflow. */
START_TEST(test_timestamps_range)
{
    char err[256];
    struct pq_column c;
    memset(&c, 0, sizeof c);
    c.name = "d";
    c.physical = PQ_INT32;
    c.logical = PQ_LT_DATE;
    c.supported = true;
    int32_t days[3] = { 1, -719162, 0 };
    uint8_t valid[3] = { 1, 1, 0 };
    struct pq_vec v = PQ_VEC_INIT;
    v.physical = PQ_INT32;
    v.width = 4;
    v.nrows = v.nvals = 3;
    v.vals = days;
    v.valid = valid;
    int64_t out[3];
    ck_assert_int_eq(pq_timestamps_us(&c, &v, out, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(out[0], 86400000000LL);
    ck_assert_int_eq(out[1], -719162LL * 86400000000LL);
    ck_assert_int_eq(out[2], 0);
    days[2] = INT32_MIN;
    valid[2] = 1;
    ck_assert_int_eq(pq_timestamps_us(&c, &v, out, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "out of") != NULL);
    /* MILLIS overflow is an error; NANOS floor */
    int64_t t[2] = { INT64_MAX / 10, -1 };
    c.physical = PQ_INT64;
    c.logical = PQ_LT_TIMESTAMP;
    c.time_unit = PQ_MILLIS;
    v.physical = PQ_INT64;
    v.width = 8;
    v.nrows = v.nvals = 2;
    v.vals = t;
    valid[2] = 0;
    ck_assert_int_eq(pq_timestamps_us(&c, &v, out, err, sizeof err), FEATD_ERR);
    c.time_unit = PQ_NANOS;
    ck_assert_int_eq(pq_timestamps_us(&c, &v, out, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(out[1], -1);
    ck_assert_int_eq(out[0], INT64_MAX / 10 / 1000);
}
END_TEST

START_TEST(test_open_garbage)
{
    char err[256];
    struct pq_file *f;
    const uint8_t small[] = "PAR1PAR1";
    ck_assert_int_eq(pq_open_mem(small, 8, NULL, &f, err, sizeof err), FEATD_ERR);
    ck_assert(f == NULL);
    uint8_t fake[32] = "PAR1";
    memcpy(fake + 28, "PAR1", 4);
    uint32_t flen = 1000;
    memcpy(fake + 24, &flen, 4);
    ck_assert_int_eq(pq_open_mem(fake, 32, NULL, &f, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "footer") != NULL);
    memcpy(fake + 28, "PARE", 4);
    ck_assert_int_eq(pq_open_mem(fake, 32, NULL, &f, err, sizeof err), FEATD_ERR);
    ck_assert(strstr(err, "encrypted") != NULL);
    ck_assert_int_eq(pq_open_file("/nonexistent/x.parquet", NULL, &f, err, sizeof err), FEATD_ERR);
}
END_TEST

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
    TCase *u = tcase_create("unit");
    tcase_set_timeout(u, 120);
    tcase_add_test(u, test_thrift_fields);
    tcase_add_test(u, test_thrift_truncated);
    tcase_add_test(u, test_thrift_limits);
    tcase_add_test(u, test_meta_garbage);
    tcase_add_test(u, test_unpack_all_widths);
    tcase_add_test(u, test_rle_hybrid);
    tcase_add_test(u, test_levels);
    tcase_add_test(u, test_delta_binary);
    tcase_add_test(u, test_byte_stream_split);
    tcase_add_test(u, test_conversions);
    tcase_add_test(u, test_timestamps_range);
    tcase_add_test(u, test_open_garbage);
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
