/*
 * check_frame.c — framing: byte-by-byte delivery, many frames per read,
 * oversize (refused from the header alone), zero length, header encoding;
 * plus proto encode/decode of responses through an evbuffer.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/arena.h"
#include "wire/frame.h"
#include "config/config.h"
#include "online/online.h"
#include "wire/proto.h"
#include "core/fbuf.h"

/* Appends one frame with payload p[0..n) to b. */
static void put_frame(struct evbuffer *b, const void *p, uint32_t n)
{
    uint8_t h[FRAME_HEADER];
    frame_header(h, n);
    evbuffer_add(b, h, sizeof(h));
    evbuffer_add(b, p, n);
}

/* Takes every whole frame out of b; returns how many, total payload bytes in *bytes. */
static int take_frames(struct evbuffer *b, uint32_t max, size_t *bytes, enum frame_status *last)
{
    int n = 0;
    uint32_t len;
    for (;;) {
        enum frame_status st = frame_parse(b, max, &len);
        *last = st;
        if (st != FRAME_OK) {
            return n;
        }
        evbuffer_drain(b, FRAME_HEADER);
        *bytes += len;
        evbuffer_drain(b, len);
        n++;
    }
}

START_TEST(test_header_roundtrip)
{
    uint8_t h[4];
    frame_header(h, 0x01020304u);
    ck_assert(h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
    uint32_t len = 0;
    const uint8_t buf[] = { 0, 0, 0, 2, 'h', 'i' };
    ck_assert_int_eq(frame_peek(buf, 6, 100, &len), FRAME_OK);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(frame_peek(buf, 5, 100, &len), FRAME_INCOMPLETE);
    ck_assert_int_eq(frame_peek(buf, 3, 100, &len), FRAME_INCOMPLETE);
    ck_assert_int_eq(frame_peek(buf, 0, 100, &len), FRAME_INCOMPLETE);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    /* Three frames delivered one byte at a time come out whole, in order. */
    struct evbuffer *wire = evbuffer_new(), *in = evbuffer_new();
    const char *payloads[] = { "first", "", "the third payload" };
    for (int i = 0; i < 3; i++) {
        put_frame(wire, payloads[i], (uint32_t)strlen(payloads[i]));
    }
    size_t total = evbuffer_get_length(wire);
    unsigned char *bytes = evbuffer_pullup(wire, -1);
    int got = 0;
    for (size_t i = 0; i < total; i++) {
        evbuffer_add(in, bytes + i, 1);
        uint32_t len;
        enum frame_status st;
        while ((st = frame_parse(in, 1024, &len)) == FRAME_OK) {
            evbuffer_drain(in, FRAME_HEADER);
            char buf[64] = { 0 };
            evbuffer_remove(in, buf, len);
            ck_assert_str_eq(buf, payloads[got]);
            got++;
        }
        ck_assert_int_eq(st, FRAME_INCOMPLETE);
    }
    ck_assert_int_eq(got, 3);
    ck_assert_uint_eq(evbuffer_get_length(in), 0);
    evbuffer_free(wire);
    evbuffer_free(in);
}
END_TEST

START_TEST(test_many_frames_one_read)
{
    struct evbuffer *in = evbuffer_new();
    char p[100];
    memset(p, 'x', sizeof(p));
    for (int i = 0; i < 1000; i++) {
        put_frame(in, p, (uint32_t)(i % 100));
    }
    /* and half of one more */
    uint8_t h[4];
    frame_header(h, 50);
    evbuffer_add(in, h, 4);
    evbuffer_add(in, p, 20);
    size_t bytes = 0;
    enum frame_status last;
    ck_assert_int_eq(take_frames(in, 1024, &bytes, &last), 1000);
    ck_assert_int_eq(last, FRAME_INCOMPLETE);
    size_t expect = 0;
    for (int i = 0; i < 1000; i++) {
        expect += (size_t)(i % 100);
    }
    ck_assert_uint_eq(bytes, expect);
    ck_assert_uint_eq(evbuffer_get_length(in), 24);
    evbuffer_free(in);
}
END_TEST

START_TEST(test_oversize_from_header)
{
    /* Only the header has arrived: the size is refused before any body. */
    struct evbuffer *in = evbuffer_new();
    uint8_t h[4];
    frame_header(h, 1025);
    evbuffer_add(in, h, 4);
    uint32_t len;
    ck_assert_int_eq(frame_parse(in, 1024, &len), FRAME_TOO_LARGE);
    ck_assert_uint_eq(len, 1025);
    /* exactly max is fine once complete */
    evbuffer_drain(in, 4);
    char *p = calloc(1, 1024);
    put_frame(in, p, 1024);
    ck_assert_int_eq(frame_parse(in, 1024, &len), FRAME_OK);
    /* 0xffffffff */
    evbuffer_drain(in, evbuffer_get_length(in));
    memset(h, 0xff, 4);
    evbuffer_add(in, h, 4);
    ck_assert_int_eq(frame_parse(in, UINT32_MAX - 1, &len), FRAME_TOO_LARGE);
    free(p);
    evbuffer_free(in);
}
END_TEST

START_TEST(test_zero_length)
{
    struct evbuffer *in = evbuffer_new();
    put_frame(in, "", 0);
    uint32_t len = 99;
    ck_assert_int_eq(frame_parse(in, 0, &len), FRAME_OK);
    ck_assert_uint_eq(len, 0);
    /* An empty payload is a valid (empty) Request: decoding gives no body. */
    struct arena a;
    arena_init(&a, 0);
    Featd__V1__Request *r = proto_decode_request(&a, (const uint8_t *)"", 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, FEATD__V1__REQUEST__BODY__NOT_SET);
    arena_release(&a);
    evbuffer_free(in);
}
END_TEST

START_TEST(test_proto_roundtrip)
{
    struct evbuffer *out = evbuffer_new();
    ck_assert_int_eq(proto_write_error(out, 42, FEATD__V1__ERROR_CODE__UNAVAILABLE, "redis down"), FEATD_OK);
    uint32_t len;
    ck_assert_int_eq(frame_parse(out, 1 << 20, &len), FRAME_OK);
    evbuffer_drain(out, FRAME_HEADER);
    uint8_t *data = evbuffer_pullup(out, len);
    Featd__V1__Response *resp = featd__v1__response__unpack(NULL, len, data);
    ck_assert_ptr_nonnull(resp);
    ck_assert_uint_eq(resp->request_id, 42);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    ck_assert_str_eq(resp->error->message, "redis down");
    featd__v1__response__free_unpacked(resp, NULL);
    ck_assert_str_eq(proto_code_name(FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");

    /* garbage does not decode; every truncation of a valid request fails or
     * decodes without crashing */
    struct arena a;
    arena_init(&a, 0);
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ck_assert_ptr_null(proto_decode_request(&a, garbage, sizeof(garbage)));
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    Featd__V1__PingRequest ping = FEATD__V1__PING_REQUEST__INIT;
    req.request_id = 0x123456789ULL;
    req.body_case = FEATD__V1__REQUEST__BODY_PING;
    req.ping = &ping;
    uint8_t buf[64];
    size_t n = featd__v1__request__pack(&req, buf);
    for (size_t cut = 0; cut <= n; cut++) {
        Featd__V1__Request *r = proto_decode_request(&a, buf, cut);
        if (cut == n) {
            ck_assert_ptr_nonnull(r);
            ck_assert_uint_eq(r->request_id, 0x123456789ULL);
        }
    }
    arena_release(&a);
    evbuffer_free(out);
}
END_TEST

START_TEST(test_arena_limits)
{
    struct arena a;
    arena_init(&a, 1 << 20);
    ck_assert_ptr_nonnull(arena_alloc(&a, 100));
    ck_assert_ptr_nonnull(arena_alloc(&a, 100000));         /* spills into a block */
    ck_assert_ptr_null(arena_alloc(&a, 2 << 20));           /* over the limit */
    ck_assert_ptr_null(arena_alloc(&a, SIZE_MAX - 3));      /* overflow */
    char *s = arena_strndup(&a, "hello", 3);
    ck_assert_str_eq(s, "hel");
    ck_assert_uint_eq((uintptr_t)arena_alloc(&a, 1) % 16, 0);
    arena_release(&a);
}
END_TEST

/* Packs the same answer with protobuf-c from structs. */
static size_t pack_reference(const struct proto_get_answer *a, uint8_t *buf)
{
    size_t nf = a->nfeatures, nr = a->nrows;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    Featd__V1__GetOnlineFeaturesResponse g = FEATD__V1__GET_ONLINE_FEATURES_RESPONSE__INIT;
    Featd__V1__FeatureVector fvs[80], *fvp[80];
    Featd__V1__Value vals[80][8], *valp[80][8];
    Featd__V1__FieldStatus st[80][8];
    int64_t ts[80][8];
    Featd__V1__FloatList fl[80][8];
    Featd__V1__DoubleList dl[80][8];
    Featd__V1__Int64List il[80][8];
    Featd__V1__StringList sl[80][8];
    float fbuf[80][8][8];
    double dbuf[80][8][8];
    int64_t ibuf[80][8][8];
    char *sbuf[80][8][8];
    char strs[80][8][8][32];
    char sval[80][8][64];
    for (size_t f = 0; f < nf; f++) {
        featd__v1__feature_vector__init(&fvs[f]);
        for (size_t r = 0; r < nr; r++) {
            size_t i = f * nr + r;
            Featd__V1__Value *v = &vals[f][r];
            featd__v1__value__init(v);
            const struct online_value *o = a->cells[i];
            st[f][r] = (Featd__V1__FieldStatus)a->statuses[i];
            ts[f][r] = a->event_ts[i];
            valp[f][r] = v;
            if (o == NULL) {
                continue;
            }
            switch (a->types[f]) {
            case FT_BOOL: v->kind_case = FEATD__V1__VALUE__KIND_BOOL_VAL; v->bool_val = o->u.b; break;
            case FT_INT32: v->kind_case = FEATD__V1__VALUE__KIND_INT32_VAL; v->int32_val = o->u.i32; break;
            case FT_INT64: v->kind_case = FEATD__V1__VALUE__KIND_INT64_VAL; v->int64_val = o->u.i64; break;
            case FT_TIMESTAMP: v->kind_case = FEATD__V1__VALUE__KIND_TIMESTAMP_US_VAL; v->timestamp_us_val = o->u.i64; break;
            case FT_FLOAT: v->kind_case = FEATD__V1__VALUE__KIND_FLOAT_VAL; v->float_val = o->u.f; break;
            case FT_DOUBLE: v->kind_case = FEATD__V1__VALUE__KIND_DOUBLE_VAL; v->double_val = o->u.d; break;
            case FT_STRING:
                memcpy(sval[f][r], o->s, o->slen);
                sval[f][r][o->slen] = 0;
                v->kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
                v->string_val = sval[f][r];
                break;
            case FT_BYTES:
                v->kind_case = FEATD__V1__VALUE__KIND_BYTES_VAL;
                v->bytes_val.len = o->slen;
                v->bytes_val.data = (uint8_t *)o->s;
                break;
            case FT_FLOAT_LIST:
                featd__v1__float_list__init(&fl[f][r]);
                for (uint32_t k = 0; k < o->count; k++) fbuf[f][r][k] = online_row_list_float(o, k);
                fl[f][r].n_val = o->count; fl[f][r].val = fbuf[f][r];
                v->kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL; v->float_list_val = &fl[f][r];
                break;
            case FT_DOUBLE_LIST:
                featd__v1__double_list__init(&dl[f][r]);
                for (uint32_t k = 0; k < o->count; k++) dbuf[f][r][k] = online_row_list_double(o, k);
                dl[f][r].n_val = o->count; dl[f][r].val = dbuf[f][r];
                v->kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL; v->double_list_val = &dl[f][r];
                break;
            case FT_INT64_LIST:
                featd__v1__int64_list__init(&il[f][r]);
                for (uint32_t k = 0; k < o->count; k++) ibuf[f][r][k] = online_row_list_int64(o, k);
                il[f][r].n_val = o->count; il[f][r].val = ibuf[f][r];
                v->kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL; v->int64_list_val = &il[f][r];
                break;
            case FT_STRING_LIST: {
                featd__v1__string_list__init(&sl[f][r]);
                const uint8_t *cur = o->raw, *end = o->raw + o->rawlen;
                for (uint32_t k = 0; k < o->count; k++) {
                    const char *e;
                    size_t n;
                    ck_assert_int_eq(online_row_list_next_string(&cur, end, &e, &n), FEATD_OK);
                    memcpy(strs[f][r][k], e, n);
                    strs[f][r][k][n] = 0;
                    sbuf[f][r][k] = strs[f][r][k];
                }
                sl[f][r].n_val = o->count; sl[f][r].val = sbuf[f][r];
                v->kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL; v->string_list_val = &sl[f][r];
                break;
            }
            }
        }
        fvs[f].n_values = fvs[f].n_statuses = fvs[f].n_event_timestamps_us = nr;
        fvs[f].values = valp[f];
        fvs[f].statuses = st[f];
        fvs[f].event_timestamps_us = ts[f];
        fvp[f] = &fvs[f];
    }
    g.n_feature_names = g.n_results = nf;
    g.feature_names = (char **)a->names;
    g.results = fvp;
    resp.request_id = a->request_id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES;
    resp.get_online_features = &g;
    return featd__v1__response__pack(&resp, buf);
}

START_TEST(test_direct_encoder_matches_protobuf_c)
{
    /* One feature per type, 3 rows: a value, an edge value, a null. */
    static const uint8_t types[12] = { FT_BOOL, FT_INT32, FT_INT64, FT_FLOAT, FT_DOUBLE, FT_STRING,
                                       FT_BYTES, FT_TIMESTAMP, FT_FLOAT_LIST, FT_DOUBLE_LIST,
                                       FT_INT64_LIST, FT_STRING_LIST };
    char *names[12] = { "v:b", "v:i32", "v:i64", "v:f", "v:d", "v:s", "v:by", "v:ts", "v:fl", "v:dl",
                        "v:il", "" };
    enum { NR = 3 };
    struct online_value vals[12][NR];
    const struct online_value *cells[12 * NR];
    uint8_t statuses[12 * NR];
    int64_t ets[12 * NR];
    uint32_t sizes[12 * NR];
    struct fbuf lists[4][2];
    memset(vals, 0, sizeof(vals));
    memset(lists, 0, sizeof(lists));
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(online_row_list_put_float(&lists[0][0], -1.5f * (float)k), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_double(&lists[1][0], 1e300 * k), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_int64(&lists[2][0], k % 2 ? -k : INT64_MAX - k), FEATD_OK);
        ck_assert_int_eq(online_row_list_put_string(&lists[3][0], k == 2 ? "" : "str", k == 2 ? 0 : 3), FEATD_OK);
    }
    vals[0][0].u.b = true;       vals[0][1].u.b = false;
    vals[1][0].u.i32 = 7;        vals[1][1].u.i32 = INT32_MIN;
    vals[2][0].u.i64 = 1 << 20;  vals[2][1].u.i64 = INT64_MIN;
    vals[3][0].u.f = 0.1f;       vals[3][1].u.f = -0.0f;
    vals[4][0].u.d = 1e-300;     vals[4][1].u.d = 0.0;
    vals[5][0].s = "héllo";      vals[5][0].slen = strlen("héllo");
    vals[5][1].s = "";           vals[5][1].slen = 0;
    vals[6][0].s = "\x00\xff\x01"; vals[6][0].slen = 3;
    vals[6][1].s = "";           vals[6][1].slen = 0;
    vals[7][0].u.i64 = 1763719200000000LL; vals[7][1].u.i64 = -1;
    for (int l = 0; l < 4; l++) {
        vals[8 + l][0].count = 5;
        vals[8 + l][0].raw = (const uint8_t *)lists[l][0].data;
        vals[8 + l][0].rawlen = lists[l][0].len;
        vals[8 + l][1].count = 0;            /* empty list */
        vals[8 + l][1].raw = (const uint8_t *)"";
    }
    for (int f = 0; f < 12; f++) {
        for (int r = 0; r < NR; r++) {
            int i = f * NR + r;
            cells[i] = r == 2 ? NULL : &vals[f][r];
            statuses[i] = (uint8_t)(r == 2 ? (f % 2 ? 2 : 3) : (f % 3 ? 1 : 4));
            ets[i] = r == 2 ? 0 : (r ? -5 : 1763719200000000LL + f);
        }
    }
    uint64_t ids[] = { 0, 1, 300, UINT64_MAX };
    size_t rows[] = { NR, 0 };
    for (size_t k = 0; k < 4; k++) {
        for (size_t rr = 0; rr < 2; rr++) {
            struct proto_get_answer a = { .request_id = ids[k], .nfeatures = 12, .nrows = rows[rr],
                                          .names = names, .types = types, .cells = cells,
                                          .statuses = statuses, .event_ts = ets };
            if (rows[rr] == 0) {
                a.cells = NULL;
            }
            struct evbuffer *out = evbuffer_new();
            ck_assert_int_eq(proto_write_get_answer(out, &a, sizes), FEATD_OK);
            size_t n = evbuffer_get_length(out);
            uint8_t *mine = evbuffer_pullup(out, -1);
            static uint8_t ref[65536];
            a.cells = cells;
            size_t rn = pack_reference(&a, ref);
            ck_assert_uint_eq(n, rn + 4);
            uint32_t len;
            ck_assert_int_eq(frame_peek(mine, n, UINT32_MAX, &len), FRAME_OK);
            ck_assert_uint_eq(len, rn);
            ck_assert_msg(memcmp(mine + 4, ref, rn) == 0, "encoder differs from protobuf-c (id %zu, rows %zu)",
                          k, rows[rr]);
            evbuffer_free(out);
        }
    }
    for (int l = 0; l < 4; l++) {
        fbuf_free(&lists[l][0]);
    }
}
END_TEST

/* More features than the encoder's on-stack size table (64): the heap path,
 * mixed types, nulls, multi-byte lengths, and timestamp columns shared by the
 * features of a view (ts_same) copied instead of re-encoded. */
START_TEST(test_direct_encoder_many_features)
{
    enum { NF = 70, NR = 4 };
    static const uint8_t kinds[4] = { FT_DOUBLE, FT_INT64, FT_STRING, FT_FLOAT };
    static struct online_value vals[NF][NR];
    static const struct online_value *cells[NF * NR];
    static uint8_t types[NF], statuses[NF * NR];
    static int64_t ets[NF * NR];
    static uint32_t sizes[NF * NR];
    static char namebuf[NF][16], *names[NF];
    static char text[200];
    memset(text, 'x', sizeof(text) - 1);
    for (int f = 0; f < NF; f++) {
        types[f] = kinds[f % 4];
        snprintf(namebuf[f], sizeof(namebuf[f]), "view%d:f%d", f / 10, f);
        names[f] = namebuf[f];
        for (int r = 0; r < NR; r++) {
            int i = f * NR + r;
            struct online_value *v = &vals[f][r];
            v->u.d = 0;
            if (types[f] == FT_DOUBLE) {
                v->u.d = f * 1.25 - r;
            } else if (types[f] == FT_INT64) {
                v->u.i64 = (int64_t)f << (r * 15);
            } else if (types[f] == FT_FLOAT) {
                v->u.f = (float)f / (float)(r + 1);
            } else {
                v->s = text;
                v->slen = (uint32_t)((f * 7 + r * 13) % 60);  /* pack_reference keeps < 64 */
            }
            cells[i] = (f + r) % 5 == 0 ? NULL : v;
            statuses[i] = (uint8_t)(cells[i] ? 1 : 3);
            /* features of one "view" (10 in a row) share their rows' timestamps */
            ets[i] = r == 3 ? 0 : 1763719200000000LL + (f / 10) * 1000 + r;
        }
    }
    /* ts_same as lookup.c passes it (the view's first feature), also out of
     * order (a later feature points back, another points at itself) */
    static size_t same[NF];
    for (int f = 0; f < NF; f++) {
        same[f] = (size_t)(f - f % 10);
    }
    same[25] = 25;
    same[17] = 12;
    for (int with_same = 0; with_same < 2; with_same++) {
        struct proto_get_answer a = { .request_id = 12345, .nfeatures = NF, .nrows = NR, .names = names,
                                      .types = types, .cells = cells, .statuses = statuses, .event_ts = ets,
                                      .ts_same = with_same ? same : NULL };
        struct evbuffer *out = evbuffer_new();
        ck_assert_int_eq(proto_write_get_answer(out, &a, sizes), FEATD_OK);
        size_t n = evbuffer_get_length(out);
        uint8_t *mine = evbuffer_pullup(out, -1);
        static uint8_t ref[1 << 20];
        size_t rn = pack_reference(&a, ref);
        ck_assert_uint_eq(n, rn + 4);
        ck_assert_msg(memcmp(mine + 4, ref, rn) == 0, "differs from protobuf-c (ts_same %d)", with_same);
        evbuffer_free(out);
    }
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("frame");
    tcase_add_test(tc, test_header_roundtrip);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_many_frames_one_read);
    tcase_add_test(tc, test_oversize_from_header);
    tcase_add_test(tc, test_zero_length);
    tcase_add_test(tc, test_proto_roundtrip);
    tcase_add_test(tc, test_arena_limits);
    tcase_add_test(tc, test_direct_encoder_matches_protobuf_c);
    tcase_add_test(tc, test_direct_encoder_many_features);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
