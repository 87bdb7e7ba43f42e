/*
 * check_frame.c — framing: byte-by-byte delivery, many frames per read,
 * oversize (refused from the header alone), zero length, header encoding;
 * plus proto encode/decode of responses through an evbuffer.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "arena.h"
#include "frame.h"
#include "proto.h"

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
