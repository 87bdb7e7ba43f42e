/*
 * check_pq_decode.c — the Parquet reader's decoders on hand-built bytes
 * (the files themselves are check_parquet.c's):
 *
 *  - Thrift compact reader (fields, skipping, limits, truncation) and
 *    FileMetaData garbage; bit unpacking, the RLE/bit-packed hybrid, levels,
 *    DELTA_BINARY_PACKED (with a small encoder written here),
 *    BYTE_STREAM_SPLIT, time/INT96/FLOAT16 conversions — valid and
 *    malformed inputs;
 *  - pq_open_mem on garbage.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"
#include "parquet/internal.h"
#include "pq_testbytes.h"

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

static Suite *pq_decode_suite(void)
{
    Suite *s = suite_create("parquet_decode");
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
    suite_add_tcase(s, u);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pq_decode_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
