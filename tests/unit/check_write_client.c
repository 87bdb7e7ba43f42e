/*
 * check_write_client.c — unit tests of libfeatd's WriteFeatures client
 * (featd_write.c, featd_write / featd_write_result / featd_check_response in
 * featd_client.c): the builder's encoding, round-tripped through
 * protobuf-c's pack and unpack (every value kind, nulls, reset, reuse);
 * and the blocking and pipelined calls against a fake server thread on a
 * loopback listener that answers each WriteFeaturesRequest with counts or
 * an Error. The real daemon's write path is exercised by the Python
 * client's tests (client/python/tests/test_push.py).
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "featd_client.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Packs req and unpacks it again: what the server would decode. */
static Featd__V1__Request *round_trip(const Featd__V1__Request *req)
{
    size_t n = featd__v1__request__get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(featd__v1__request__pack(req, buf), n);
    Featd__V1__Request *back = featd__v1__request__unpack(NULL, n, buf);
    free(buf);
    ck_assert_ptr_nonnull(back);
    return back;
}

START_TEST(test_write_encoding)
{
    struct featd_write *w = featd_write_new("customer_stats");
    ck_assert_ptr_nonnull(w);
    float fl[] = { 0.5f, -1.0f };
    Featd__V1__FloatList flist = FEATD__V1__FLOAT_LIST__INIT;
    flist.n_val = 2;
    flist.val = fl;
    Featd__V1__Value lv = FEATD__V1__VALUE__INIT;
    lv.kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
    lv.float_list_val = &flist;
    char *sl[] = { "a", "" };
    Featd__V1__StringList slist = FEATD__V1__STRING_LIST__INIT;
    slist.n_val = 2;
    slist.val = sl;
    Featd__V1__Value sv = FEATD__V1__VALUE__INIT;
    sv.kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
    sv.string_list_val = &slist;
    for (int r = 0; r < 3; r++) {       /* row-wise: the columns' order of first use is kept */
        ck_assert_int_eq(featd_write_add_key_int64(w, "customer_id", 100 + r), FEATD_OK);
        ck_assert_int_eq(featd_write_add_key_string(w, "country", r == 1 ? "FR" : "US"), FEATD_OK);
        ck_assert_int_eq(featd_write_add_double(w, "d", r * 1.5), FEATD_OK);
        if (r == 1) {
            ck_assert_int_eq(featd_write_add_null(w, "b"), FEATD_OK);
        } else {
            ck_assert_int_eq(featd_write_add_bool(w, "b", r == 2), FEATD_OK);
        }
        ck_assert_int_eq(featd_write_add_int32(w, "i32", -r), FEATD_OK);
        ck_assert_int_eq(featd_write_add_int64(w, "i64", INT64_MAX - r), FEATD_OK);
        ck_assert_int_eq(featd_write_add_float(w, "f", 0.25f * (float)r), FEATD_OK);
        ck_assert_int_eq(featd_write_add_string(w, "s", "héllo"), FEATD_OK);
        ck_assert_int_eq(featd_write_add_bytes(w, "by", "\0\1\xff", 3), FEATD_OK);
        ck_assert_int_eq(featd_write_add_timestamp(w, "ts", -1), FEATD_OK);
        ck_assert_int_eq(featd_write_add_value(w, "fl", r == 0 ? NULL : &lv), FEATD_OK);
        ck_assert_int_eq(featd_write_add_value(w, "sl", &sv), FEATD_OK);
        ck_assert_int_eq(featd_write_add_event_time(w, 1795255200000000LL + r), FEATD_OK);
    }
    fl[0] = 99.0f;              /* the builder holds copies */
    ck_assert_uint_eq(featd_write_nrows(w), 3);
    ck_assert_uint_eq(featd_write_nkeys(w), 2);
    ck_assert_uint_eq(featd_write_nfeatures(w), 10);

    Featd__V1__Request *back = round_trip(featd_write_request(w, 77));
    ck_assert_uint_eq(back->request_id, 77);
    ck_assert_int_eq(back->body_case, FEATD__V1__REQUEST__BODY_WRITE_FEATURES);
    const Featd__V1__WriteFeaturesRequest *b = back->write_features;
    ck_assert_str_eq(b->feature_view, "customer_stats");
    ck_assert_uint_eq(b->n_entities, 2);
    ck_assert_str_eq(b->entities[0]->join_key, "customer_id");
    ck_assert_str_eq(b->entities[1]->join_key, "country");
    ck_assert_uint_eq(b->entities[0]->n_values, 3);
    ck_assert_int_eq(b->entities[0]->values[2]->int64_val, 102);
    ck_assert_str_eq(b->entities[1]->values[1]->string_val, "FR");
    ck_assert_uint_eq(b->n_features, 10);
    const char *names[] = { "d", "b", "i32", "i64", "f", "s", "by", "ts", "fl", "sl" };
    for (size_t i = 0; i < NELEM(names); i++) {
        ck_assert_str_eq(b->features[i]->name, names[i]);
        ck_assert_uint_eq(b->features[i]->n_values, 3);
    }
    ck_assert_double_eq(b->features[0]->values[2]->double_val, 3.0);
    ck_assert_int_eq(b->features[1]->values[0]->kind_case, FEATD__V1__VALUE__KIND_BOOL_VAL);
    ck_assert_int_eq(b->features[1]->values[1]->kind_case, FEATD__V1__VALUE__KIND__NOT_SET);
    ck_assert(b->features[1]->values[2]->bool_val);
    ck_assert_int_eq(b->features[2]->values[2]->int32_val, -2);
    ck_assert_int_eq(b->features[3]->values[1]->int64_val, INT64_MAX - 1);
    ck_assert_float_eq(b->features[4]->values[1]->float_val, 0.25f);
    ck_assert_str_eq(b->features[5]->values[0]->string_val, "héllo");
    ck_assert_uint_eq(b->features[6]->values[0]->bytes_val.len, 3);
    ck_assert_mem_eq(b->features[6]->values[0]->bytes_val.data, "\0\1\xff", 3);
    ck_assert_int_eq(b->features[7]->values[0]->timestamp_us_val, -1);
    ck_assert_int_eq(b->features[8]->values[0]->kind_case, FEATD__V1__VALUE__KIND__NOT_SET);
    ck_assert_uint_eq(b->features[8]->values[1]->float_list_val->n_val, 2);
    ck_assert_float_eq(b->features[8]->values[1]->float_list_val->val[0], 0.5f);
    ck_assert_str_eq(b->features[9]->values[2]->string_list_val->val[0], "a");
    ck_assert_str_eq(b->features[9]->values[2]->string_list_val->val[1], "");
    ck_assert_uint_eq(b->n_event_timestamps_us, 3);
    ck_assert_int_eq(b->event_timestamps_us[2], 1795255200000002LL);
    featd__v1__request__free_unpacked(back, NULL);

    /* reset: a fresh batch of the same view; set_view changes it */
    featd_write_reset(w);
    ck_assert_uint_eq(featd_write_nrows(w), 0);
    ck_assert_uint_eq(featd_write_nfeatures(w), 0);
    ck_assert_int_eq(featd_write_set_view(w, "other"), FEATD_OK);
    ck_assert_int_eq(featd_write_add_key_value(w, "k", NULL), FEATD_OK);     /* a null key */
    back = round_trip(featd_write_request(w, 78));
    ck_assert_str_eq(back->write_features->feature_view, "other");
    ck_assert_uint_eq(back->write_features->n_entities, 1);
    ck_assert_uint_eq(back->write_features->entities[0]->n_values, 1);
    ck_assert_int_eq(back->write_features->entities[0]->values[0]->kind_case,
                     FEATD__V1__VALUE__KIND__NOT_SET);
    ck_assert_uint_eq(back->write_features->n_features, 0);
    ck_assert_uint_eq(back->write_features->n_event_timestamps_us, 0);
    featd__v1__request__free_unpacked(back, NULL);

    /* bad arguments fail without side effects */
    ck_assert_int_eq(featd_write_add_double(w, NULL, 1.0), FEATD_ERR);
    ck_assert_int_eq(featd_write_add_bytes(w, "by", NULL, 3), FEATD_ERR);
    ck_assert_uint_eq(featd_write_nfeatures(w), 0);
    featd_write_free(w);
    featd_write_free(NULL);
}
END_TEST

/* ---- a fake server: answers WriteFeatures with counts or an Error ---- */

struct fake {
    int lfd, port;
    pthread_t th;
    int nreq;                   /* requests answered */
};

static bool read_full(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += (size_t)r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += (size_t)r;
        n -= (size_t)r;
    }
    return true;
}

/* Rows = event times; view "bad" or no rows → INVALID_ARGUMENT; view
 * "stale" → every row stale; otherwise every row written. */
static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0) {
        return NULL;
    }
    for (;;) {
        uint8_t hdr[4];
        if (!read_full(fd, hdr, 4)) {
            break;
        }
        uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        uint8_t *body = malloc(n ? n : 1);
        if (body == NULL || !read_full(fd, body, n)) {
            free(body);
            break;
        }
        Featd__V1__Request *req = featd__v1__request__unpack(NULL, n, body);
        free(body);
        if (req == NULL) {
            break;
        }
        Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
        Featd__V1__WriteFeaturesResponse wr = FEATD__V1__WRITE_FEATURES_RESPONSE__INIT;
        Featd__V1__Error er = FEATD__V1__ERROR__INIT;
        resp.request_id = req->request_id;
        const Featd__V1__WriteFeaturesRequest *w = req->write_features;
        if (req->body_case != FEATD__V1__REQUEST__BODY_WRITE_FEATURES || w == NULL
            || strcmp(w->feature_view, "bad") == 0 || w->n_event_timestamps_us == 0) {
            resp.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
            resp.error = &er;
            er.code = FEATD__V1__ERROR_CODE__INVALID_ARGUMENT;
            er.message = "no rows or a bad view";
        } else {
            resp.body_case = FEATD__V1__RESPONSE__BODY_WRITE_FEATURES;
            resp.write_features = &wr;
            bool stale = strcmp(w->feature_view, "stale") == 0;
            wr.rows_written = stale ? 0 : (uint32_t)w->n_event_timestamps_us;
            wr.rows_stale = stale ? (uint32_t)w->n_event_timestamps_us : 0;
        }
        size_t len = featd__v1__response__get_packed_size(&resp);
        uint8_t *out = malloc(4 + len);
        bool ok = out != NULL;
        if (ok) {
            out[0] = (uint8_t)(len >> 24);
            out[1] = (uint8_t)(len >> 16);
            out[2] = (uint8_t)(len >> 8);
            out[3] = (uint8_t)len;
            featd__v1__response__pack(&resp, out + 4);
            ok = write_full(fd, out, 4 + len);
        }
        free(out);
        featd__v1__request__free_unpacked(req, NULL);
        if (!ok) {
            break;
        }
        f->nreq++;
    }
    close(fd);
    return NULL;
}

static void fake_start(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->lfd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->lfd, 4), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

static void add_rows(struct featd_write *w, int n, int base)
{
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(featd_write_add_key_int64(w, "customer_id", base + i), FEATD_OK);
        ck_assert_int_eq(featd_write_add_double(w, "score", i * 0.5), FEATD_OK);
        ck_assert_int_eq(featd_write_add_event_time(w, 1000000 + i), FEATD_OK);
    }
}

START_TEST(test_write_calls)
{
    struct fake f;
    fake_start(&f);
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", f.port, 2000, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    struct featd_write *w = featd_write_new("v");

    /* blocking */
    add_rows(w, 5, 0);
    uint32_t written = 99, stale = 99;
    ck_assert_int_eq(featd_write(c, w, &written, &stale), FEATD_OK);
    ck_assert_uint_eq(written, 5);
    ck_assert_uint_eq(stale, 0);
    ck_assert_int_eq(featd_write_set_view(w, "stale"), FEATD_OK);
    ck_assert_int_eq(featd_write(c, w, &written, NULL), FEATD_OK);
    ck_assert_uint_eq(written, 0);
    ck_assert_int_eq(featd_write(c, w, NULL, &stale), FEATD_OK);
    ck_assert_uint_eq(stale, 5);

    /* a server error: code and message, the connection stays usable */
    featd_write_reset(w);
    ck_assert_int_eq(featd_write(c, w, &written, &stale), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_SERVER);
    ck_assert_int_eq(featd_server_code(c), FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(featd_errmsg(c), "INVALID_ARGUMENT: no rows or a bad view"));
    ck_assert(!featd_broken(c));

    /* pipelined: send 10 batches (refilling the builder after each send),
     * one of them bad, then read the 10 answers */
    uint64_t ids[10];
    for (int k = 0; k < 10; k++) {
        featd_write_reset(w);
        ck_assert_int_eq(featd_write_set_view(w, k == 6 ? "bad" : "v"), FEATD_OK);
        add_rows(w, k + 1, k * 100);
        ids[k] = featd_next_id(c);
        ck_assert_int_eq(featd_queue(c, featd_write_request(w, ids[k])), FEATD_OK);
    }
    ck_assert_int_eq(featd_flush(c), FEATD_OK);
    uint32_t total = 0;
    for (int k = 0; k < 10; k++) {
        Featd__V1__Response *resp;
        ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
        ck_assert_uint_eq(resp->request_id, ids[k]);    /* the fake answers in order */
        int rc = featd_write_result(c, resp, &written, &stale);
        if (k == 6) {
            ck_assert_int_eq(rc, FEATD_ERR);
            ck_assert_int_eq(featd_server_code(c), FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
        } else {
            ck_assert_int_eq(rc, FEATD_OK);
            ck_assert_uint_eq(written, (uint32_t)k + 1);
            total += written;
        }
        featd_response_free(resp);
    }
    ck_assert_uint_eq(total, 55 - 7);

    /* featd_check_response: another body is a protocol error */
    Featd__V1__Response other = FEATD__V1__RESPONSE__INIT;
    other.body_case = FEATD__V1__RESPONSE__BODY_PING;
    ck_assert_int_eq(featd_write_result(c, &other, &written, &stale), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(featd_errmsg(c), "ping"));
    ck_assert_ptr_nonnull(strstr(featd_errmsg(c), "write_features"));
    ck_assert_int_eq(featd_check_response(c, NULL, 0), FEATD_ERR);
    ck_assert_int_eq(featd_write(c, NULL, NULL, NULL), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_USAGE);

    featd_write_free(w);
    featd_close(c);
    fake_stop(&f);
    ck_assert_int_eq(f.nreq, 14);
}
END_TEST

static Suite *write_client_suite(void)
{
    Suite *s = suite_create("write_client");
    TCase *tc = tcase_create("write");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_write_encoding);
    tcase_add_test(tc, test_write_calls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(write_client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
