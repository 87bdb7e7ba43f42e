/*
 * check_client.c — unit tests of libfeatd's transport and calls
 * (featd_client.c): framing against a tiny in-test fake server (a thread on
 * a loopback listener that speaks raw frames), lookups through the builder,
 * per-call timeouts, oversized / truncated / undecodable response frames
 * and pipelining. The fake only tests the client's framing; the real daemon
 * is exercised by the e2e suites. The builder's encoding and the value and
 * timestamp formatters are tested by check_client_format.c.
 *
 * The "rblock" case tests server/redis/rblock.c (blocking Redis connections for the
 * materializer and featd-cli load) against a real redis-server.
 *
 * The client source is compiled into this test directly (the tests look
 * at struct featd_client's buffers); the rest of libfeatd comes from
 * libfeatd.a.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "featd_client.c"
#include "redis/rblock.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fake server ---- */

struct fake;
typedef void (*fake_script)(struct fake *f, int fd);

struct fake {
    int lfd;
    int port;
    pthread_t th;
    fake_script script;
    int arg;                    /* script parameter */
    /* what the script saw */
    uint8_t raw[4096];
    size_t raw_len;
    Featd__V1__Request *last_req;
    int nreq;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

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
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads one request frame and decodes it; NULL on EOF or garbage. */
static Featd__V1__Request *fake_read_req(int fd)
{
    uint8_t hdr[4];
    if (!read_full(fd, hdr, 4)) {
        return NULL;
    }
    uint32_t n = be32(hdr);
    if (n > 16u * 1024 * 1024) {
        return NULL;
    }
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL || !read_full(fd, buf, n)) {
        free(buf);
        return NULL;
    }
    Featd__V1__Request *req = featd__v1__request__unpack(NULL, n, buf);
    free(buf);
    return req;
}

/* Encodes resp as a frame into a malloc'd buffer. */
static uint8_t *frame_of(const Featd__V1__Response *resp, size_t *len)
{
    size_t n = featd__v1__response__get_packed_size(resp);
    uint8_t *buf = malloc(4 + n);
    ck_assert_ptr_nonnull(buf);
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    featd__v1__response__pack(resp, buf + 4);
    *len = 4 + n;
    return buf;
}

static bool fake_write_resp(int fd, const Featd__V1__Response *resp)
{
    size_t len;
    uint8_t *buf = frame_of(resp, &len);
    bool ok = write_full(fd, buf, len);
    free(buf);
    return ok;
}

static void ping_resp(Featd__V1__Response *r, Featd__V1__PingResponse *p, uint64_t id)
{
    featd__v1__response__init(r);
    featd__v1__ping_response__init(p);
    p->server_time_us = 1234567;
    r->request_id = id;
    r->body_case = FEATD__V1__RESPONSE__BODY_PING;
    r->ping = p;
}

/*
 * Echo server: pings get a PingResponse (server_time 1234567); a lookup gets
 * one result per feature whose values are the first entity column's values
 * (status PRESENT, event time = row index); list_feature_views gets an
 * INVALID_ARGUMENT error "nope"; server_info gets a ping body (wrong type).
 * The last request is kept in f->last_req.
 */
static void script_echo(struct fake *f, int fd)
{
    for (;;) {
        Featd__V1__Request *req = fake_read_req(fd);
        if (req == NULL) {
            return;
        }
        f->nreq++;
        if (f->last_req != NULL) {
            featd__v1__request__free_unpacked(f->last_req, NULL);
        }
        f->last_req = req;
        Featd__V1__Response r;
        Featd__V1__PingResponse p;
        Featd__V1__Error e;
        ping_resp(&r, &p, req->request_id);
        if (req->body_case == FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS) {
            featd__v1__error__init(&e);
            e.code = FEATD__V1__ERROR_CODE__INVALID_ARGUMENT;
            e.message = "nope";
            r.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
            r.error = &e;
        }
        if (req->body_case == FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES) {
            Featd__V1__GetOnlineFeaturesRequest *g = req->get_online_features;
            size_t nf = g->n_features;
            size_t nrows = g->n_entities ? g->entities[0]->n_values : 0;
            Featd__V1__GetOnlineFeaturesResponse gr;
            featd__v1__get_online_features_response__init(&gr);
            Featd__V1__FeatureVector *fvs = calloc(nf + 1, sizeof *fvs);
            Featd__V1__FeatureVector **fvp = calloc(nf + 1, sizeof *fvp);
            Featd__V1__FieldStatus *st = calloc(nrows + 1, sizeof *st);
            int64_t *ts = calloc(nrows + 1, sizeof *ts);
            for (size_t i = 0; i < nrows; i++) {
                st[i] = FEATD__V1__FIELD_STATUS__PRESENT;
                ts[i] = (int64_t)i;
            }
            for (size_t i = 0; i < nf; i++) {
                featd__v1__feature_vector__init(&fvs[i]);
                fvs[i].n_values = nrows;
                fvs[i].values = nrows ? g->entities[0]->values : NULL;
                fvs[i].n_statuses = nrows;
                fvs[i].statuses = st;
                fvs[i].n_event_timestamps_us = nrows;
                fvs[i].event_timestamps_us = ts;
                fvp[i] = &fvs[i];
            }
            gr.n_feature_names = nf;
            gr.feature_names = g->features;
            gr.n_results = nf;
            gr.results = fvp;
            r.body_case = FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES;
            r.get_online_features = &gr;
            bool ok = fake_write_resp(fd, &r);
            free(fvs);
            free(fvp);
            free(st);
            free(ts);
            if (!ok) {
                return;
            }
            continue;
        }
        if (!fake_write_resp(fd, &r)) {
            return;
        }
    }
}

/* Reads requests and never answers. */
static void script_silent(struct fake *f, int fd)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            return;
        }
        if (f->raw_len + (size_t)n <= sizeof f->raw) {
            memcpy(f->raw + f->raw_len, buf, (size_t)n);
            f->raw_len += (size_t)n;
        }
    }
}

/* Reads one request, answers it after f->arg ms; repeats. */
static void script_slow(struct fake *f, int fd)
{
    for (;;) {
        Featd__V1__Request *req = fake_read_req(fd);
        if (req == NULL) {
            return;
        }
        sleep_ms(f->arg);
        Featd__V1__Response r;
        Featd__V1__PingResponse p;
        ping_resp(&r, &p, req->request_id);
        featd__v1__request__free_unpacked(req, NULL);
        if (!fake_write_resp(fd, &r)) {
            return;
        }
    }
}

static const uint8_t *canned;       /* bytes a canned script writes */
static size_t canned_len;

/* Reads one request, writes the canned bytes, then closes. */
static void script_canned_close(struct fake *f, int fd)
{
    Featd__V1__Request *req = fake_read_req(fd);
    if (req != NULL) {
        featd__v1__request__free_unpacked(req, NULL);
    }
    write_full(fd, canned, canned_len);
}

/* Reads one request, writes the canned bytes, then keeps the connection
 * open until the client closes. */
static void script_canned_stay(struct fake *f, int fd)
{
    Featd__V1__Request *req = fake_read_req(fd);
    if (req != NULL) {
        featd__v1__request__free_unpacked(req, NULL);
    }
    write_full(fd, canned, canned_len);
    uint8_t buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

/* Reads one ping, answers it one byte at a time with pauses. */
static void script_dribble(struct fake *f, int fd)
{
    Featd__V1__Request *req = fake_read_req(fd);
    if (req == NULL) {
        return;
    }
    Featd__V1__Response r;
    Featd__V1__PingResponse p;
    ping_resp(&r, &p, req->request_id);
    featd__v1__request__free_unpacked(req, NULL);
    size_t len;
    uint8_t *buf = frame_of(&r, &len);
    for (size_t i = 0; i < len; i++) {
        if (!write_full(fd, buf + i, 1)) {
            break;
        }
        sleep_ms(5);
    }
    free(buf);
    uint8_t tmp[64];
    while (read(fd, tmp, sizeof tmp) > 0) {
    }
}

/* Reads f->arg pings, then answers them in reverse order in one write. */
static void script_reverse(struct fake *f, int fd)
{
    int n = f->arg;
    uint64_t *ids = calloc((size_t)n, sizeof *ids);
    for (int i = 0; i < n; i++) {
        Featd__V1__Request *req = fake_read_req(fd);
        if (req == NULL) {
            free(ids);
            return;
        }
        ids[i] = req->request_id;
        featd__v1__request__free_unpacked(req, NULL);
    }
    uint8_t *all = NULL;
    size_t all_len = 0;
    for (int i = n - 1; i >= 0; i--) {
        Featd__V1__Response r;
        Featd__V1__PingResponse p;
        ping_resp(&r, &p, ids[i]);
        size_t len;
        uint8_t *buf = frame_of(&r, &len);
        all = realloc(all, all_len + len);
        memcpy(all + all_len, buf, len);
        all_len += len;
        free(buf);
    }
    write_full(fd, all, all_len);
    free(all);
    free(ids);
    uint8_t tmp[64];
    while (read(fd, tmp, sizeof tmp) > 0) {
    }
}

/* Answers every request with a ping response padded to ~64 KiB (an error
 * body with a long message), writing blocking: a client that does not read
 * while it writes deadlocks against this. */
static void script_big_answers(struct fake *f, int fd)
{
    static char msg[64 * 1024];
    memset(msg, 'x', sizeof msg - 1);
    for (;;) {
        Featd__V1__Request *req = fake_read_req(fd);
        if (req == NULL) {
            return;
        }
        f->nreq++;
        Featd__V1__Response r;
        Featd__V1__Error e;
        featd__v1__response__init(&r);
        featd__v1__error__init(&e);
        e.code = FEATD__V1__ERROR_CODE__INTERNAL;
        e.message = msg;
        r.request_id = req->request_id;
        r.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
        r.error = &e;
        featd__v1__request__free_unpacked(req, NULL);
        if (!fake_write_resp(fd, &r)) {
            return;
        }
    }
}

/* Accepts and closes at once. */
static void script_close(struct fake *f, int fd)
{
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd >= 0) {
        f->script(f, fd);
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake *f, fake_script script, int arg)
{
    memset(f, 0, sizeof *f);
    f->script = script;
    f->arg = arg;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(f->lfd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(f->lfd, 8), 0);
    socklen_t sl = sizeof a;
    ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &sl), 0);
    f->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* Joins the fake (close the client first so its script sees EOF). */
static void fake_stop(struct fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    if (f->last_req != NULL) {
        featd__v1__request__free_unpacked(f->last_req, NULL);
    }
}

static struct featd_client *fake_connect(struct fake *f, int timeout_ms)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", f->port, timeout_ms, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* ---- connect ---- */

START_TEST(test_connect_refused)
{
    /* A port nobody listens on: bind, read it back, close. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t sl = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &sl);
    int port = ntohs(a.sin_port);
    close(s);
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 500, err, sizeof err);
    ck_assert_ptr_null(c);
    char want[64];
    snprintf(want, sizeof want, "connect to 127.0.0.1:%d: ", port);
    ck_assert_msg(strstr(err, want) && strstr(err, "refused"), "got: %s", err);

    c = featd_connect("127.0.0.1", 0, 500, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "invalid port 0"), "got: %s", err);
    c = featd_connect("127.0.0.1", 70000, 500, err, sizeof err);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_connect_ipv6_and_names)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    char err[256];
    /* "localhost" may resolve to ::1 first: the IPv4 address must be tried too. */
    struct featd_client *c = featd_connect("localhost", f.port, 1000, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    char want[64];
    snprintf(want, sizeof want, "localhost:%d", f.port);
    ck_assert_str_eq(featd_peer(c), want);
    featd_close(c);
    fake_stop(&f);

    /* IPv6 literal against an IPv4-only listener: refused, and the peer is
     * bracketed in the message. */
    c = featd_connect("::1", f.port, 500, err, sizeof err);
    if (c == NULL) {
        ck_assert_msg(strstr(err, "[::1]:"), "got: %s", err);
    } else {
        featd_close(c);     /* someone else listens there; fine */
    }
}
END_TEST

START_TEST(test_connect_timeout)
{
    /* A listener whose accept queue is full drops further SYNs, so the next
     * connect hangs until our timeout. */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 0), 0);
    socklen_t sl = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &sl);
    int port = ntohs(a.sin_port);
    struct featd_client *fill[8];
    int nfill = 0;
    char err[256];
    bool timed_out = false;
    int64_t t0 = 0, t1 = 0;
    for (int i = 0; i < 8 && !timed_out; i++) {
        t0 = now_ms();
        struct featd_client *c = featd_connect("127.0.0.1", port, 150, err, sizeof err);
        t1 = now_ms();
        if (c != NULL) {
            fill[nfill++] = c;
        } else {
            ck_assert_msg(strstr(err, "timeout after 150 ms connecting to 127.0.0.1:"),
                          "got: %s", err);
            timed_out = true;
        }
    }
    ck_assert_msg(timed_out, "the accept queue never filled up");
    ck_assert_int_ge(t1 - t0, 140);
    ck_assert_int_lt(t1 - t0, 1000);
    for (int i = 0; i < nfill; i++) {
        featd_close(fill[i]);
    }
    close(l);
}
END_TEST

/* ---- framing ---- */

START_TEST(test_ping_roundtrip)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    int64_t t = 0;
    ck_assert_int_eq(featd_ping(c, &t), FEATD_OK);
    ck_assert_int_eq(t, 1234567);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_NONE);
    ck_assert_str_eq(featd_errmsg(c), "");
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_close(c);
    fake_stop(&f);
    ck_assert_int_eq(f.nreq, 3);
}
END_TEST

START_TEST(test_request_ids_increase)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    uint64_t first = 0;
    /* last_req is written by the fake thread; it is done once the reply is read */
    first = f.last_req->request_id;
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    ck_assert_uint_eq(f.last_req->request_id, first + 1);
    ck_assert_uint_eq(featd_next_id(c), first + 2);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_lookup_roundtrip)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    struct featd_get *g = featd_get_new();
    ck_assert_int_eq(featd_get_add_feature(g, "cs:revenue_30d"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_feature(g, "cs:*"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_int64(g, "customer_id", 42), FEATD_OK);
    ck_assert_int_eq(featd_get_add_string(g, "city", "Paris"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_int64(g, "customer_id", -7), FEATD_OK);
    ck_assert_int_eq(featd_get_add_string(g, "city", "Lyon"), FEATD_OK);
    featd_get_set_deadline(g, 250);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_lookup(c, g, &resp), FEATD_OK);
    ck_assert_ptr_nonnull(resp);

    /* what the server saw */
    Featd__V1__GetOnlineFeaturesRequest *gr = f.last_req->get_online_features;
    ck_assert_int_eq(f.last_req->body_case, FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES);
    ck_assert_uint_eq(f.last_req->request_id, resp->request_id);
    ck_assert_uint_eq(gr->n_features, 2);
    ck_assert_str_eq(gr->features[1], "cs:*");
    ck_assert_uint_eq(gr->deadline_ms, 250);
    ck_assert_uint_eq(gr->n_entities, 2);
    ck_assert_str_eq(gr->entities[0]->join_key, "customer_id");
    ck_assert_str_eq(gr->entities[1]->join_key, "city");
    ck_assert_uint_eq(gr->entities[0]->n_values, 2);
    ck_assert_int_eq(gr->entities[0]->values[1]->int64_val, -7);
    ck_assert_str_eq(gr->entities[1]->values[0]->string_val, "Paris");

    /* accessors */
    const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
    ck_assert_int_eq(featd_resp_feature_index(r, "cs:revenue_30d"), 0);
    ck_assert_int_eq(featd_resp_feature_index(r, "cs:*"), 1);
    ck_assert_int_eq(featd_resp_feature_index(r, "nope"), -1);
    ck_assert_int_eq(featd_resp_value(r, 0, 0)->int64_val, 42);
    ck_assert_int_eq(featd_resp_value(r, 1, 1)->int64_val, -7);
    ck_assert_ptr_null(featd_resp_value(r, 2, 0));
    ck_assert_ptr_null(featd_resp_value(r, 0, 2));
    ck_assert_int_eq(featd_resp_status(r, 0, 1), FEATD__V1__FIELD_STATUS__PRESENT);
    ck_assert_int_eq(featd_resp_status(r, 5, 1), -1);
    ck_assert_int_eq(featd_resp_event_ts(r, 0, 1), 1);
    ck_assert_str_eq(featd_status_name(featd_resp_status(r, 0, 0)), "PRESENT");
    featd_response_free(resp);

    /* reuse after reset */
    featd_get_reset(g);
    ck_assert_uint_eq(featd_get_nfeatures(g), 0);
    ck_assert_uint_eq(featd_get_ncolumns(g), 0);
    ck_assert_int_eq(featd_get_add_feature(g, "v:f"), FEATD_OK);
    ck_assert_int_eq(featd_get_add_string(g, "k", "x"), FEATD_OK);
    ck_assert_int_eq(featd_lookup(c, g, &resp), FEATD_OK);
    ck_assert_str_eq(resp->get_online_features->results[0]->values[0]->string_val, "x");
    ck_assert_uint_eq(f.last_req->get_online_features->deadline_ms, 0);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_server_error_and_wrong_body)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    Featd__V1__Response *resp = (Featd__V1__Response *)1;
    ck_assert_int_eq(featd_list_views(c, &resp), FEATD_ERR);
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_SERVER);
    ck_assert_int_eq(featd_server_code(c), FEATD__V1__ERROR_CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(featd_errmsg(c), "server error INVALID_ARGUMENT: nope");
    ck_assert(!featd_broken(c));

    ck_assert_int_eq(featd_server_info(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    ck_assert_int_eq(featd_server_code(c), -1);
    ck_assert_str_eq(featd_errmsg(c), "unexpected response body ping (expected server_info)");

    /* featd_call itself does not judge the body */
    Featd__V1__Request req;
    Featd__V1__PingRequest p;
    Featd__V1__ListFeatureViewsRequest lv;
    Featd__V1__ServerInfoRequest si;
    make_simple(&req, FEATD__V1__REQUEST__BODY_LIST_FEATURE_VIEWS, 77, &p, &lv, &si);
    ck_assert_int_eq(featd_call(c, &req, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 77);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    featd_response_free(resp);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

/* The pipelining senders of each request type, and featd_call_expect on its
 * own (the typed calls are built on it). */
START_TEST(test_send_each_type_and_call_expect)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_send_list_views(c, 21), FEATD_OK);
    ck_assert_int_eq(featd_send_server_info(c, 22), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 21);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);   /* the echo's answer */
    featd_response_free(resp);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 22);
    ck_assert_int_eq(f.last_req->body_case, FEATD__V1__REQUEST__BODY_SERVER_INFO);
    featd_response_free(resp);

    Featd__V1__Request req;
    Featd__V1__PingRequest p;
    Featd__V1__ListFeatureViewsRequest lv;
    Featd__V1__ServerInfoRequest si;
    make_simple(&req, FEATD__V1__REQUEST__BODY_PING, 31, &p, &lv, &si);
    ck_assert_int_eq(featd_call_expect(c, &req, FEATD__V1__RESPONSE__BODY_PING, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 31);
    ck_assert_int_eq(resp->ping->server_time_us, 1234567);
    featd_response_free(resp);
    resp = (Featd__V1__Response *)1;
    ck_assert_int_eq(featd_call_expect(c, &req, FEATD__V1__RESPONSE__BODY_SERVER_INFO, &resp),
                     FEATD_ERR);
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    ck_assert_str_eq(featd_errmsg(c), "unexpected response body ping (expected server_info)");
    ck_assert(!featd_broken(c));
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_recv_timeout)
{
    struct fake f;
    fake_start(&f, script_silent, 0);
    struct featd_client *c = fake_connect(&f, 200);
    ck_assert_int_eq(featd_send_ping(c, 5), FEATD_OK);
    Featd__V1__Response *resp;
    int64_t t0 = now_ms();
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    int64_t el = now_ms() - t0;
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_TIMEOUT);
    ck_assert_str_eq(featd_errmsg(c), "timeout after 200 ms reading response");
    ck_assert_int_ge(el, 190);
    ck_assert_int_lt(el, 3000);
    ck_assert(!featd_broken(c));

    /* featd_ping: one deadline for the whole call */
    featd_set_timeout(c, 100);
    ck_assert_int_eq(featd_get_timeout(c), 100);
    t0 = now_ms();
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_ERR);
    el = now_ms() - t0;
    ck_assert_str_eq(featd_errmsg(c), "timeout after 100 ms reading response");
    ck_assert_int_lt(el, 3000);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_late_response_after_timeout)
{
    struct fake f;
    fake_start(&f, script_slow, 300);
    struct featd_client *c = fake_connect(&f, 100);
    ck_assert_int_eq(featd_send_ping(c, 11), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_TIMEOUT);
    /* the late answer is still delivered */
    featd_set_timeout(c, 2000);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 11);
    featd_response_free(resp);

    /* featd_call drops a stale answer and returns its own */
    featd_set_timeout(c, 100);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_ERR);
    featd_set_timeout(c, 3000);
    Featd__V1__Request req;
    Featd__V1__PingRequest p;
    Featd__V1__ListFeatureViewsRequest lv;
    Featd__V1__ServerInfoRequest si;
    make_simple(&req, FEATD__V1__REQUEST__BODY_PING, 999, &p, &lv, &si);
    ck_assert_int_eq(featd_call(c, &req, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 999);
    featd_response_free(resp);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_oversized_response_frame)
{
    static const uint8_t hdr[] = { 0x7f, 0xff, 0xff, 0xff, 0x08, 0x01 };
    canned = hdr;
    canned_len = sizeof hdr;
    struct fake f;
    fake_start(&f, script_canned_stay, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    Featd__V1__Response *resp;
    int64_t t0 = now_ms();
    ck_assert_int_eq(featd_send_ping(c, 1), FEATD_OK);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_lt(now_ms() - t0, 500);   /* rejected on the header, no waiting */
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    ck_assert_str_eq(featd_errmsg(c),
                     "response frame of 2147483647 bytes exceeds limit of 67108864 bytes");
    ck_assert(featd_broken(c));
    /* every later call repeats the reason */
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_ERR);
    ck_assert_str_eq(featd_errmsg(c),
                     "response frame of 2147483647 bytes exceeds limit of 67108864 bytes");
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_max_frame_setting)
{
    /* a valid 10-byte ping response frame against a limit of 9 */
    Featd__V1__Response r;
    Featd__V1__PingResponse p;
    ping_resp(&r, &p, 1);
    size_t len;
    uint8_t *buf = frame_of(&r, &len);
    canned = buf;
    canned_len = len;
    struct fake f;
    fake_start(&f, script_canned_stay, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    featd_set_max_frame(c, (uint32_t)(len - 4 - 1));
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_send_ping(c, 1), FEATD_OK);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    char want[128];
    snprintf(want, sizeof want, "response frame of %zu bytes exceeds limit of %zu bytes",
             len - 4, len - 5);
    ck_assert_str_eq(featd_errmsg(c), want);
    featd_close(c);
    fake_stop(&f);

    /* exactly at the limit is fine */
    fake_start(&f, script_canned_stay, 0);
    c = fake_connect(&f, 1000);
    featd_set_max_frame(c, (uint32_t)(len - 4));
    ck_assert_int_eq(featd_send_ping(c, 1), FEATD_OK);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    featd_response_free(resp);
    featd_close(c);
    fake_stop(&f);
    free(buf);
}
END_TEST

START_TEST(test_closed_mid_frame)
{
    static const uint8_t part[] = { 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    canned = part;
    canned_len = sizeof part;
    struct fake f;
    fake_start(&f, script_canned_close, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_send_ping(c, 1), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_CLOSED);
    ck_assert_str_eq(featd_errmsg(c),
                     "connection closed by server mid-frame (got 14 of 104 bytes)");
    ck_assert(featd_broken(c));
    featd_close(c);
    fake_stop(&f);

    /* closed inside the header */
    static const uint8_t hdr2[] = { 0, 0 };
    canned = hdr2;
    canned_len = sizeof hdr2;
    fake_start(&f, script_canned_close, 0);
    c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_ERR);
    ck_assert_str_eq(featd_errmsg(c),
                     "connection closed by server mid-frame (got 2 of 4 header bytes)");
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_closed_by_server)
{
    struct fake f;
    fake_start(&f, script_close, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    fake_stop(&f);      /* the server has accepted and closed */
    Featd__V1__Response *resp;
    (void)featd_send_ping(c, 1);    /* may or may not fail: the kernel decides */
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_CLOSED);
    ck_assert_msg(strstr(featd_errmsg(c), "connection closed by server")
                  || strstr(featd_errmsg(c), "connection reset by server"),
                  "got: %s", featd_errmsg(c));
    /* sends now fail too */
    ck_assert_int_eq(featd_send_ping(c, 2), FEATD_ERR);
    featd_close(c);
}
END_TEST

START_TEST(test_answer_then_close)
{
    /* The server answers (an error with request_id 0, as for a garbage
     * frame) and closes: the answer is delivered, then EOF is reported. */
    Featd__V1__Response r;
    Featd__V1__Error e;
    featd__v1__response__init(&r);
    featd__v1__error__init(&e);
    e.code = FEATD__V1__ERROR_CODE__INVALID_ARGUMENT;
    e.message = "undecodable request frame";
    r.body_case = FEATD__V1__RESPONSE__BODY_ERROR;
    r.error = &e;
    size_t len;
    uint8_t *buf = frame_of(&r, &len);
    canned = buf;
    canned_len = len;
    struct fake f;
    fake_start(&f, script_canned_close, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    static const uint8_t garbage[] = { 0, 0, 0, 3, 0xff, 0xff, 0xff };
    ck_assert_int_eq(featd_send_raw(c, garbage, sizeof garbage), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 0);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY_ERROR);
    ck_assert_str_eq(resp->error->message, "undecodable request frame");
    featd_response_free(resp);
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_str_eq(featd_errmsg(c), "connection closed by server");
    featd_close(c);
    fake_stop(&f);

    /* featd_call returns an id-0 error instead of dropping it as stale;
     * featd_ping turns it into a server error. */
    fake_start(&f, script_canned_close, 0);
    c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_SERVER);
    ck_assert_str_eq(featd_errmsg(c), "server error INVALID_ARGUMENT: undecodable request frame");
    featd_close(c);
    fake_stop(&f);
    free(buf);
}
END_TEST

START_TEST(test_undecodable_response_keeps_sync)
{
    /* a garbage frame followed by a good one */
    Featd__V1__Response r;
    Featd__V1__PingResponse p;
    ping_resp(&r, &p, 9);
    size_t len;
    uint8_t *good = frame_of(&r, &len);
    uint8_t both[64];
    static const uint8_t bad[] = { 0, 0, 0, 3, 0xff, 0xff, 0xff };
    memcpy(both, bad, sizeof bad);
    memcpy(both + sizeof bad, good, len);
    canned = both;
    canned_len = sizeof bad + len;
    struct fake f;
    fake_start(&f, script_canned_stay, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_send_ping(c, 9), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_PROTOCOL);
    ck_assert_str_eq(featd_errmsg(c), "undecodable response frame of 3 bytes");
    ck_assert(!featd_broken(c));
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 9);
    featd_response_free(resp);
    featd_close(c);
    fake_stop(&f);
    free(good);
}
END_TEST

START_TEST(test_zero_length_frame)
{
    static const uint8_t zero[] = { 0, 0, 0, 0 };
    canned = zero;
    canned_len = sizeof zero;
    struct fake f;
    fake_start(&f, script_canned_stay, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_send_ping(c, 1), FEATD_OK);
    Featd__V1__Response *resp;
    ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
    ck_assert_uint_eq(resp->request_id, 0);
    ck_assert_int_eq(resp->body_case, FEATD__V1__RESPONSE__BODY__NOT_SET);
    featd_response_free(resp);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_byte_by_byte_response)
{
    struct fake f;
    fake_start(&f, script_dribble, 0);
    struct featd_client *c = fake_connect(&f, 2000);
    int64_t t = 0;
    ck_assert_int_eq(featd_ping(c, &t), FEATD_OK);
    ck_assert_int_eq(t, 1234567);
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_pipelined_out_of_order)
{
    enum { N = 100 };
    struct fake f;
    fake_start(&f, script_reverse, N);
    struct featd_client *c = fake_connect(&f, 2000);
    for (int i = 0; i < N; i++) {
        Featd__V1__Request req;
        Featd__V1__PingRequest p;
        Featd__V1__ListFeatureViewsRequest lv;
        Featd__V1__ServerInfoRequest si;
        make_simple(&req, FEATD__V1__REQUEST__BODY_PING, 1000 + (uint64_t)i, &p, &lv, &si);
        ck_assert_int_eq(featd_queue(c, &req), FEATD_OK);
    }
    ck_assert_uint_gt(featd_pending(c), 0);
    ck_assert_int_eq(featd_flush(c), FEATD_OK);
    ck_assert_uint_eq(featd_pending(c), 0);
    bool seen[N] = { false };
    for (int i = 0; i < N; i++) {
        Featd__V1__Response *resp;
        ck_assert_int_eq(featd_recv(c, &resp), FEATD_OK);
        ck_assert_uint_eq(resp->request_id, 1000 + (uint64_t)(N - 1 - i));
        seen[resp->request_id - 1000] = true;
        featd_response_free(resp);
    }
    for (int i = 0; i < N; i++) {
        ck_assert(seen[i]);
    }
    featd_close(c);
    fake_stop(&f);
}
END_TEST

START_TEST(test_deep_pipeline_no_deadlock)
{
    /* 400 requests answered with ~64 KiB each (25 MiB) while we keep sending
     * without calling recv: only reading during writes avoids a deadlock. */
    enum { N = 400 };
    struct fake f;
    fake_start(&f, script_big_answers, 0);
    struct featd_client *c = fake_connect(&f, 5000);
    /* pad requests so the server's reads also need several socket buffers */
    struct featd_get *g = featd_get_new();
    char ref[64];
    for (int i = 0; i < 200; i++) {
        snprintf(ref, sizeof ref, "view_%03d:feature_with_a_long_name", i);
        ck_assert_int_eq(featd_get_add_feature(g, ref), FEATD_OK);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_msg(featd_send(c, featd_get_request(g, (uint64_t)i + 1)) == FEATD_OK,
                      "send %d: %s", i, featd_errmsg(c));
    }
    for (int i = 0; i < N; i++) {
        Featd__V1__Response *resp;
        ck_assert_msg(featd_recv(c, &resp) == FEATD_OK, "recv %d: %s", i, featd_errmsg(c));
        ck_assert_uint_eq(resp->request_id, (uint64_t)i + 1);
        ck_assert_uint_eq(strlen(resp->error->message), 64 * 1024 - 1);
        featd_response_free(resp);
    }
    featd_get_free(g);
    featd_close(c);
    fake_stop(&f);
    ck_assert_int_eq(f.nreq, N);
}
END_TEST

START_TEST(test_send_raw_exact_bytes)
{
    struct fake f;
    fake_start(&f, script_silent, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    static const uint8_t junk[] = "\x00\x00\x00\x05hello\xde\xad";
    ck_assert_int_eq(featd_queue_raw(c, junk, 4), FEATD_OK);
    ck_assert_int_eq(featd_send_raw(c, junk + 4, sizeof junk - 1 - 4), FEATD_OK);
    ck_assert_int_eq(featd_send_ping(c, 0x0102030405ULL), FEATD_OK);
    featd_close(c);
    fake_stop(&f);
    ck_assert_uint_ge(f.raw_len, sizeof junk - 1 + 4);
    ck_assert_int_eq(memcmp(f.raw, junk, sizeof junk - 1), 0);
    /* then one framed ping request with its id */
    const uint8_t *fr = f.raw + sizeof junk - 1;
    uint32_t n = be32(fr);
    ck_assert_uint_eq(4 + n, f.raw_len - (sizeof junk - 1));
    Featd__V1__Request *req = featd__v1__request__unpack(NULL, n, fr + 4);
    ck_assert_ptr_nonnull(req);
    ck_assert_uint_eq(req->request_id, 0x0102030405ULL);
    ck_assert_int_eq(req->body_case, FEATD__V1__REQUEST__BODY_PING);
    featd__v1__request__free_unpacked(req, NULL);
}
END_TEST

START_TEST(test_usage_errors)
{
    struct fake f;
    fake_start(&f, script_echo, 0);
    struct featd_client *c = fake_connect(&f, 1000);
    ck_assert_int_eq(featd_send(c, NULL), FEATD_ERR);
    ck_assert_int_eq(featd_errcode(c), FEATD_E_USAGE);
    ck_assert_int_eq(featd_recv(c, NULL), FEATD_ERR);
    ck_assert_int_eq(featd_lookup(c, NULL, NULL), FEATD_ERR);
    ck_assert_int_eq(featd_get_add_feature(NULL, "x"), FEATD_ERR);
    ck_assert_int_eq(featd_get_add_int64(NULL, "k", 1), FEATD_ERR);
    ck_assert_int_eq(featd_ping(c, NULL), FEATD_OK);
    featd_close(c);
    featd_close(NULL);
    featd_get_free(NULL);
    featd_response_free(NULL);
    fake_stop(&f);
}
END_TEST

/* ---- rblock: blocking Redis connections, against a real redis-server ---- */

struct tredis {
    pid_t pid;
    int port;
    char dir[128];
    char sock[200];
};

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t sl = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &sl);
    close(s);
    return ntohs(a.sin_port);
}

/* redis-server on a free port and on <dir>/redis.sock, requirepass when
 * password is not NULL; returns once it accepts on the socket. */
static void tredis_start(struct tredis *r, const char *password)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/featd-check-client-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    r->port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (password != NULL) {
            execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", r->dir, "--unixsocket", r->sock,
                   "--requirepass", password, (char *)NULL);
        } else {
            execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", r->dir, "--unixsocket", r->sock,
                   (char *)NULL);
        }
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnectUnix(r->sock);
        bool up = c != NULL && !c->err;
        if (c != NULL) {
            redisFree(c);
        }
        if (up) {
            return;
        }
        sleep_ms(25);
    }
    ck_abort_msg("redis-server did not start on %s", r->sock);
}

static void tredis_stop(struct tredis *r)
{
    kill(r->pid, SIGCONT);
    kill(r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
    unlink(r->sock);
    char p[300];
    snprintf(p, sizeof p, "%s/dump.rdb", r->dir);
    unlink(p);
    rmdir(r->dir);
}

/* A valid config with the given server and redis members. */
static struct featd_config *tcfg(const char *server, const char *redis)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"server\":{%s},\"redis\":{%s},"
             "\"entities\":[{\"name\":\"e\",\"join_keys\":[{\"name\":\"id\",\"type\":\"int64\"}]}],"
             "\"feature_views\":[{\"name\":\"v\",\"entities\":[\"e\"],"
             "\"features\":[{\"name\":\"f\",\"type\":\"int64\"}]}]}", server, redis);
    struct featd_config *cfg = NULL;
    char err[2048];
    ck_assert_msg(config_load_string(json, &cfg, err, sizeof err) == FEATD_OK, "config: %s", err);
    return cfg;
}

static redisContext *rs_connect(const char *redis_json, char *err, size_t errlen)
{
    struct featd_config *cfg = tcfg("", redis_json);
    redisContext *c = rblock_connect(cfg, err, errlen);
    config_free(cfg);
    return c;
}

START_TEST(test_rblock_tcp_auth_db)
{
    struct tredis r;
    tredis_start(&r, "s3cret");
    char rj[256], err[512];
    snprintf(rj, sizeof rj, "\"url\":\"redis://127.0.0.1:%d/3\",\"password\":\"s3cret\"", r.port);
    redisContext *c = rs_connect(rj, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    redisReply *rep = redisCommand(c, "SET rblock_k v3");
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    redisFree(c);

    /* db 0 does not see it, db 3 does */
    snprintf(rj, sizeof rj, "\"url\":\"redis://127.0.0.1:%d\",\"password\":\"s3cret\"", r.port);
    c = rs_connect(rj, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    rep = redisCommand(c, "GET rblock_k");
    ck_assert_int_eq(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    rep = redisCommand(c, "SELECT 3");
    freeReplyObject(rep);
    rep = redisCommand(c, "GET rblock_k");
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(rep->str, "v3");
    freeReplyObject(rep);
    redisFree(c);

    /* wrong password */
    snprintf(rj, sizeof rj, "\"url\":\"redis://127.0.0.1:%d/3\",\"password\":\"nope\"", r.port);
    c = rs_connect(rj, err, sizeof err);
    ck_assert_ptr_null(c);
    char want[128];
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: AUTH failed: ", r.port);
    ck_assert_msg(strstr(err, want) != NULL, "got: %s", err);

    /* no password: refused at connect time, not at the first write */
    snprintf(rj, sizeof rj, "\"url\":\"redis://127.0.0.1:%d\"", r.port);
    c = rs_connect(rj, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "PING failed: NOAUTH") != NULL, "got: %s", err);
    tredis_stop(&r);

    /* nobody listening */
    c = rs_connect(rj, err, sizeof err);
    ck_assert_ptr_null(c);
    snprintf(want, sizeof want, "redis 127.0.0.1:%d: connect: Connection refused", r.port);
    ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_rblock_unix_and_embedded)
{
    struct tredis r;
    tredis_start(&r, NULL);
    char rj[512], sj[512], err[512];
    snprintf(rj, sizeof rj, "\"url\":\"redis+unix://%s?db=2\"", r.sock);
    redisContext *c = rs_connect(rj, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    redisFree(c);

    /* embedded: the socket lives in server.data_dir */
    snprintf(sj, sizeof sj, "\"data_dir\":\"%s\"", r.dir);
    struct featd_config *cfg = tcfg(sj, "\"url\":\"embedded\"");
    char path[300], real[300];
    ck_assert_int_eq(rblock_embedded_socket_path(cfg, path, sizeof path), FEATD_OK);
    ck_assert_ptr_nonnull(realpath(r.dir, real));
    strcat(real, "/redis.sock");
    ck_assert_str_eq(path, real);
    char ep[400];
    rblock_endpoint(cfg, ep, sizeof ep);
    char want[400];
    snprintf(want, sizeof want, "unix:%s (embedded)", real);
    ck_assert_str_eq(ep, want);
    c = rblock_connect(cfg, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    redisFree(c);
    config_free(cfg);
    tredis_stop(&r);

    /* embedded redis not running: the message says where and why */
    snprintf(sj, sizeof sj, "\"data_dir\":\"%s\"", r.dir);
    cfg = tcfg(sj, "");
    c = rblock_connect(cfg, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "redis unix:") && strstr(err, "redis.sock (embedded): connect: ")
                  && strstr(err, "while featd runs"), "got: %s", err);
    config_free(cfg);

    /* a data_dir too long for a unix socket path */
    char longdir[200];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    snprintf(sj, sizeof sj, "\"data_dir\":\"%s\"", longdir);
    cfg = tcfg(sj, "");
    ck_assert_int_eq(rblock_embedded_socket_path(cfg, path, sizeof path), FEATD_ERR);
    ck_assert_msg(strstr(path, "too long"), "got: %s", path);
    c = rblock_connect(cfg, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "too long") && strstr(err, "server.data_dir"), "got: %s", err);
    config_free(cfg);
}
END_TEST

START_TEST(test_rblock_timeout)
{
    struct tredis r;
    tredis_start(&r, NULL);
    kill(r.pid, SIGSTOP);   /* the kernel still completes TCP handshakes */
    char rj[256], err[512];
    snprintf(rj, sizeof rj, "\"url\":\"redis://127.0.0.1:%d\",\"timeout_ms\":200", r.port);
    int64_t t0 = now_ms();
    redisContext *c = rs_connect(rj, err, sizeof err);
    int64_t el = now_ms() - t0;
    ck_assert_ptr_null(c);
    char want[128];
    snprintf(want, sizeof want,
             "redis 127.0.0.1:%d: PING: no answer within 200 ms (redis.timeout_ms)", r.port);
    ck_assert_str_eq(err, want);
    ck_assert_int_ge(el, 190);
    ck_assert_int_lt(el, 5000);
    kill(r.pid, SIGCONT);
    c = rs_connect(rj, err, sizeof err);
    ck_assert_msg(c != NULL, "connect after resume: %s", err);
    redisFree(c);
    tredis_stop(&r);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tn = tcase_create("net");
    tcase_set_timeout(tn, 60);
    tcase_add_test(tn, test_connect_refused);
    tcase_add_test(tn, test_connect_ipv6_and_names);
    tcase_add_test(tn, test_connect_timeout);
    tcase_add_test(tn, test_ping_roundtrip);
    tcase_add_test(tn, test_request_ids_increase);
    tcase_add_test(tn, test_lookup_roundtrip);
    tcase_add_test(tn, test_server_error_and_wrong_body);
    tcase_add_test(tn, test_send_each_type_and_call_expect);
    tcase_add_test(tn, test_recv_timeout);
    tcase_add_test(tn, test_late_response_after_timeout);
    tcase_add_test(tn, test_oversized_response_frame);
    tcase_add_test(tn, test_max_frame_setting);
    tcase_add_test(tn, test_closed_mid_frame);
    tcase_add_test(tn, test_closed_by_server);
    tcase_add_test(tn, test_answer_then_close);
    tcase_add_test(tn, test_undecodable_response_keeps_sync);
    tcase_add_test(tn, test_zero_length_frame);
    tcase_add_test(tn, test_byte_by_byte_response);
    tcase_add_test(tn, test_pipelined_out_of_order);
    tcase_add_test(tn, test_deep_pipeline_no_deadlock);
    tcase_add_test(tn, test_send_raw_exact_bytes);
    tcase_add_test(tn, test_usage_errors);
    suite_add_tcase(s, tn);
    TCase *tr = tcase_create("rblock");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, test_rblock_tcp_auth_db);
    tcase_add_test(tr, test_rblock_unix_and_embedded);
    tcase_add_test(tr, test_rblock_timeout);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
