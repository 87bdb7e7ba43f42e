/*
 * check_rreply.c — the arena-backed hiredis reply builder (server/redis/rreply.c)
 * against hiredis's own: the same trees for every RESP2 type, nested arrays,
 * binary strings, byte-by-byte feeding, long runs of replies through one
 * arena, a large MGET-shaped reply, protocol errors and a reader freed in
 * the middle of a reply (the sanitizer build checks for leaks and stale
 * pointers).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis/rreply.h"

static const char *const samples[] = {
    "+OK\r\n",
    "-ERR wrong number of arguments\r\n",
    ":0\r\n",
    ":-9223372036854775808\r\n",
    ":9223372036854775807\r\n",
    "$0\r\n\r\n",
    "$-1\r\n",
    "*-1\r\n",
    "*0\r\n",
    "$5\r\nhello\r\n",
    "$6\r\na\0b\r\nc\r\n",
    "*3\r\n$1\r\n1\r\n$-1\r\n$3\r\nabc\r\n",
    "*4\r\n:1\r\n*2\r\n+x\r\n*1\r\n$2\r\nyz\r\n*0\r\n-ERR inner\r\n",
    "*2\r\n*2\r\n*2\r\n*1\r\n:7\r\n$-1\r\n*-1\r\n$1\r\nq\r\n",
};

static size_t sample_len(const char *s)
{
    /* samples contain NULs only inside bulk strings: find the real end by parsing */
    redisReader *r = redisReaderCreate();
    size_t n = 1;
    void *reply = NULL;
    for (; reply == NULL; n++) {
        redisReaderFeed(r, s + n - 1, 1);
        ck_assert_int_eq(redisReaderGetReply(r, &reply), REDIS_OK);
    }
    freeReplyObject(reply);
    redisReaderFree(r);
    return n - 1;
}

static void same_tree(const redisReply *a, const redisReply *b)
{
    ck_assert_int_eq(a->type, b->type);
    switch (a->type) {
    case REDIS_REPLY_INTEGER:
        ck_assert(a->integer == b->integer);
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        ck_assert_uint_eq(a->len, b->len);
        ck_assert(memcmp(a->str, b->str, a->len) == 0);
        ck_assert_int_eq(b->str[b->len], '\0');
        break;
    case REDIS_REPLY_ARRAY:
        ck_assert_uint_eq(a->elements, b->elements);
        for (size_t i = 0; i < a->elements; i++) {
            same_tree(a->element[i], b->element[i]);
        }
        break;
    default:
        break;
    }
}

/* Parses buf with hiredis's builder into *ref. */
static void parse_default(const char *buf, size_t len, redisReply **ref)
{
    redisReader *r = redisReaderCreate();
    redisReaderFeed(r, buf, len);
    void *out = NULL;
    ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
    ck_assert_ptr_nonnull(out);
    *ref = out;
    redisReaderFree(r);
}

START_TEST(test_same_trees)
{
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        size_t len = sample_len(samples[i]);
        redisReply *ref;
        parse_default(samples[i], len, &ref);

        redisReader *r = redisReaderCreate();
        struct rreply *rr = rreply_attach(r);
        ck_assert_ptr_nonnull(rr);
        /* whole, then byte by byte */
        for (int pass = 0; pass < 2; pass++) {
            void *out = NULL;
            if (pass == 0) {
                redisReaderFeed(r, samples[i], len);
                ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
            } else {
                for (size_t k = 0; k < len; k++) {
                    ck_assert_ptr_null(out);
                    redisReaderFeed(r, samples[i] + k, 1);
                    ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
                }
            }
            ck_assert_msg(out != NULL, "sample %zu pass %d", i, pass);
            same_tree(ref, out);
            r->fn->freeObject(out);
        }
        rreply_detach(rr);
        redisReaderFree(r);
        freeReplyObject(ref);
    }
}
END_TEST

/* Many replies in one buffer through one arena: each is intact when it is
 * returned, and the arena rewinds (the reader never holds more than one). */
START_TEST(test_many_replies)
{
    char *buf = malloc(1 << 20);
    size_t n = 0;
    for (int i = 0; i < 2000; i++) {
        n += (size_t)sprintf(buf + n, "*3\r\n:%d\r\n$%d\r\n%0*d\r\n$-1\r\n", i, 5 + i % 300,
                             5 + i % 300, i);
    }
    redisReader *r = redisReaderCreate();
    struct rreply *rr = rreply_attach(r);
    redisReaderFeed(r, buf, n);
    void *first_root = NULL;
    for (int i = 0; i < 2000; i++) {
        void *out = NULL;
        ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
        ck_assert_ptr_nonnull(out);
        if (i == 0) {
            first_root = out;
        } else {
            ck_assert_ptr_eq(out, first_root);  /* rewound to the same spot */
        }
        redisReply *rep = out;
        ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
        ck_assert_uint_eq(rep->elements, 3);
        ck_assert(rep->element[0]->integer == i);
        ck_assert_uint_eq(rep->element[1]->len, (size_t)(5 + i % 300));
        ck_assert_int_eq(atoi(rep->element[1]->str), i);
        ck_assert_int_eq(rep->element[2]->type, REDIS_REPLY_NIL);
        r->fn->freeObject(out);
    }
    void *out = NULL;
    ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
    ck_assert_ptr_null(out);
    rreply_detach(rr);
    redisReaderFree(r);
    free(buf);
}
END_TEST

/* An MGET-shaped reply far larger than the arena's first block, fed in
 * uneven pieces. */
START_TEST(test_large_mget)
{
    enum { N = 20000 };
    size_t cap = (size_t)N * 140 + 64, n = 0;
    char *buf = malloc(cap);
    n += (size_t)sprintf(buf, "*%d\r\n", N);
    for (int i = 0; i < N; i++) {
        if (i % 7 == 3) {
            n += (size_t)sprintf(buf + n, "$-1\r\n");
        } else {
            n += (size_t)sprintf(buf + n, "$100\r\n%0100d\r\n", i);
        }
    }
    redisReply *ref;
    parse_default(buf, n, &ref);
    redisReader *r = redisReaderCreate();
    struct rreply *rr = rreply_attach(r);
    void *out = NULL;
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 8191 + 1) {
        ck_assert_ptr_null(out);
        size_t take = off + step > n ? n - off : step;
        redisReaderFeed(r, buf + off, take);
        ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
    }
    ck_assert_ptr_nonnull(out);
    same_tree(ref, out);
    r->fn->freeObject(out);
    rreply_detach(rr);
    redisReaderFree(r);
    freeReplyObject(ref);
    free(buf);
}
END_TEST

/* A protocol error in the middle of an array: the reader reports it and
 * frees the half-built tree; nothing leaks. */
START_TEST(test_protocol_error)
{
    static const char bad[] = "*3\r\n$3\r\nabc\r\n$2\r\nxy\r\n!oops\r\n";
    redisReader *r = redisReaderCreate();
    struct rreply *rr = rreply_attach(r);
    redisReaderFeed(r, bad, sizeof(bad) - 1);
    void *out = NULL;
    ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_ERR);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(r->err, REDIS_ERR_PROTOCOL);
    rreply_detach(rr);
    redisReaderFree(r);
}
END_TEST

/* The link lets go first (the event adapter's cleanup), the reader is freed
 * afterwards with a half-parsed reply: the arena must live until then. */
START_TEST(test_freed_mid_reply)
{
    static const char part[] = "*4\r\n$3\r\nabc\r\n*2\r\n:5\r\n$10\r\n01234";
    redisReader *r = redisReaderCreate();
    struct rreply *rr = rreply_attach(r);
    redisReaderFeed(r, part, sizeof(part) - 1);
    void *out = NULL;
    ck_assert_int_eq(redisReaderGetReply(r, &out), REDIS_OK);
    ck_assert_ptr_null(out);
    rreply_detach(rr);
    redisReaderFree(r);
}
END_TEST

static Suite *rreply_suite(void)
{
    Suite *s = suite_create("rreply");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_same_trees);
    tcase_add_test(tc, test_many_replies);
    tcase_add_test(tc, test_large_mget);
    tcase_add_test(tc, test_protocol_error);
    tcase_add_test(tc, test_freed_mid_reply);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rreply_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
