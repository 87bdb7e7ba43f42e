/*
 * e2e_limits.c — end-to-end tests of featd's connection memory bounds with a
 * real redis-server and the real featd binary: a connection's unread output
 * stays under server.max_output_bytes (answers that do not fit are refused
 * with RESOURCE_EXHAUSTED, none is lost), and clients that pipeline without
 * reading cannot take more than server.max_client_memory_bytes while a
 * well-behaved client keeps being served fast.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "featd_client.h"
#include "harness.h"
#include "online/online.h"
#include "core/util.h"

static struct h_redis R;
static struct h_featd F;
static struct featd_config *cfg;

#define MAX_OUTPUT (4u << 20)
#define MAX_CLIENT_MEMORY (8u << 20)    /* one client's unread output fits */
#define SMALL_CLIENT_MEMORY (2u << 20)  /* test_nonreading_clients_bounded: 8 clients do not */
#define NFEATURES 40    /* int64 features f0..f39, then "blob", a string */
#define BLOB_BYTES 2048

static void start_opts(unsigned client_memory, const char *extra, const struct h_featd_opts *o);

static void start(unsigned client_memory)
{
    start_opts(client_memory, "", NULL);
}

/* extra: more "server" keys (", \"k\": v" each); o: harness options. */
static void start_opts(unsigned client_memory, const char *extra, const struct h_featd_opts *o)
{
    char feats[NFEATURES * 48 + 64] = "";
    size_t off = 0;
    for (int i = 0; i < NFEATURES; i++) {
        off += (size_t)snprintf(feats + off, sizeof(feats) - off, "{ \"name\": \"f%d\", \"type\": \"int64\" },", i);
    }
    snprintf(feats + off, sizeof(feats) - off, "{ \"name\": \"blob\", \"type\": \"string\" }");
    static char json[8192];
    int n = snprintf(json, sizeof(json),
        "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2,"
        "    \"max_entities_per_request\": 1000, \"request_timeout_ms\": 5000,"
        "    \"max_output_bytes\": %u, \"max_client_memory_bytes\": %u, \"log_level\": \"info\" %s },"
        "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"lim\" },"
        "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ],"
        "  \"feature_views\": [ { \"name\": \"wide\", \"entities\": [\"user\"], \"features\": [ %s ] } ] }",
        h_free_port(), h_free_port(), MAX_OUTPUT, client_memory, extra, R.port, feats);
    ck_assert(n > 0 && n < (int)sizeof(json));
    char err[1024];
    ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "%s", err);
    h_featd_start_opts(&F, json, o);
}

static void setup(void)
{
    h_redis_start(&R);
    start(MAX_CLIENT_MEMORY);
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
}

/* Rows for users 1..n of "wide" (every feature PRESENT, blob BLOB_BYTES
 * long), one generation. */
static void write_rows(int n)
{
    const struct cfg_view *v = config_find_view(cfg, "wide");
    ck_assert(v != NULL);
    redisContext *c = redisConnect("127.0.0.1", R.port);
    ck_assert(c && !c->err);
    char err[256];
    uint64_t gen, old;
    ck_assert_int_eq(online_gen_alloc(c, "lim", v, &gen, err, sizeof(err)), FEATD_OK);
    struct online_writer *w = online_writer_new(c, "lim", v, 100);
    for (int u = 1; u <= n; u++) {
        struct online_value vals[NFEATURES + 1];
        memset(vals, 0, sizeof(vals));
        for (int f = 0; f < NFEATURES; f++) {
            vals[f].u.i64 = (int64_t)u * 1000000007LL + f;
        }
        static char blob[BLOB_BYTES];
        memset(blob, 'a' + u % 26, sizeof(blob));
        vals[NFEATURES].s = blob;
        vals[NFEATURES].slen = sizeof(blob);
        struct online_key key = { .i = u };
        ck_assert_int_eq(online_writer_put(w, gen, &key, 1700000000000000LL, ONLINE_NO_CREATED_TS,
                                           vals, err, sizeof(err)), FEATD_OK);
    }
    ck_assert_int_eq(online_writer_flush(w, err, sizeof(err)), FEATD_OK);
    online_writer_free(w);
    ck_assert_int_eq(online_gen_flip(c, "lim", v, gen, &old, err, sizeof(err)), FEATD_OK);
    redisFree(c);
}

/* One framed GetOnlineFeatures request for users first..first+nent-1,
 * every feature of "wide": its answer is about nent * (NFEATURES + 1) * 4
 * bytes for NOT_FOUND cells, ~nent * (20 * NFEATURES + BLOB_BYTES) for
 * PRESENT ones. Returns the frame length (malloc'd into *out). */
static size_t lookup_frame(int first, int nent, uint64_t id, uint8_t **out)
{
    struct featd_get *g = featd_get_new();
    ck_assert(g != NULL);
    ck_assert(featd_get_add_feature(g, "wide:*") == 0);
    for (int i = first; i < first + nent; i++) {
        ck_assert(featd_get_add_int64(g, "user_id", i) == 0);
    }
    const Featd__V1__Request *req = featd_get_request(g, id);
    size_t n = featd__v1__request__get_packed_size(req);
    uint8_t *f = malloc(n + 4);
    ck_assert(f != NULL);
    featd__v1__request__pack(req, f + 4);
    f[0] = (uint8_t)(n >> 24);
    f[1] = (uint8_t)(n >> 16);
    f[2] = (uint8_t)(n >> 8);
    f[3] = (uint8_t)n;
    featd_get_free(g);
    *out = f;
    return n + 4;
}

static int raw_connect(int rcvbuf)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", F.port, 2000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    int fd = dup(featd_fd(c));
    featd_close(c);
    ck_assert(fd >= 0);
    if (rcvbuf) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Writes all of buf (fd non-blocking), waiting up to 10 s. */
static void write_all(int fd, const uint8_t *buf, size_t len)
{
    int64_t until = util_mono_us() + 10000000;
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w > 0) {
            buf += w;
            len -= (size_t)w;
            continue;
        }
        ck_assert_msg(w < 0 && (errno == EAGAIN || errno == EINTR), "write: %s", strerror(errno));
        ck_assert_msg(util_mono_us() < until, "featd stopped reading for 10 s");
        struct pollfd p = { fd, POLLOUT, 0 };
        poll(&p, 1, 100);
    }
}

/* Reads frames from fd until `want` answers came; counts OK answers and
 * RESOURCE_EXHAUSTED errors naming the output limit. */
static void read_answers(int fd, int want, int *ok, int *refused)
{
    static uint8_t buf[8 << 20];
    size_t have = 0;
    int got = 0;
    int64_t last = util_mono_us();
    *ok = *refused = 0;
    while (got < want) {
        ck_assert_msg(util_mono_us() - last < 10000000, "no answer for 10 s (%d of %d)", got, want);
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        ssize_t r = read(fd, buf + have, sizeof(buf) - have);
        ck_assert_msg(r > 0, "connection closed after %d of %d answers", got, want);
        have += (size_t)r;
        last = util_mono_us();
        size_t pos = 0;
        while (have - pos >= 4) {
            uint32_t n = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 |
                         (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];
            ck_assert(n < sizeof(buf) - 4);
            if (have - pos - 4 < n) {
                break;
            }
            Featd__V1__Response *resp = featd__v1__response__unpack(NULL, n, buf + pos + 4);
            ck_assert_msg(resp != NULL, "answer %d does not parse", got);
            if (resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES) {
                (*ok)++;
            } else {
                ck_assert(resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR);
                ck_assert_int_eq(resp->error->code, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED);
                ck_assert_msg(strstr(resp->error->message, "max_output_bytes") != NULL, "%s",
                              resp->error->message);
                (*refused)++;
            }
            featd__v1__response__free_unpacked(resp, NULL);
            got++;
            pos += 4 + n;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
    }
}

START_TEST(test_unread_output_bounded)
{
    /* The connection learns small answers (NOT_FOUND cells); then, with
     * Redis stopped, 200 lookups whose answers are ~15 times bigger
     * (PRESENT cells, 2 KB blobs) are admitted on that estimate, and complete together
     * when Redis comes back while the client does not read. The unread
     * output must stay under max_output_bytes: answers that do not fit are
     * refused with a clear error, and every request gets one answer. */
    write_rows(300);
    uint8_t *small, *big;
    size_t slen = lookup_frame(100001, 300, 5, &small);
    size_t blen = lookup_frame(1, 300, 7, &big);
    int fd = raw_connect(65536);
    int ok, refused;
    for (int i = 0; i < 40; i++) {
        write_all(fd, small, slen);
        read_answers(fd, 1, &ok, &refused);
        ck_assert_int_eq(ok, 1);
    }
    enum { N = 200 };
    uint8_t *burst = malloc(blen * N);
    ck_assert(burst != NULL);
    for (int i = 0; i < N; i++) {
        memcpy(burst + (size_t)i * blen, big, blen);
    }
    h_redis_pause(&R);
    int64_t until = util_mono_us() + 300000;
    size_t sent = 0;
    while (sent < blen * N && util_mono_us() < until) {    /* featd stops reading us */
        ssize_t w = write(fd, burst + sent, blen * N - sent);
        if (w > 0) {
            sent += (size_t)w;
        } else {
            usleep(1000);
        }
    }
    h_redis_resume(&R);
    usleep(700 * 1000);
    double held = h_admin_metric(F.admin_port, "featd_client_memory_bytes");
    ck_assert_msg(held >= 0 && held <= MAX_OUTPUT + 256 * 1024,
                  "a client that does not read holds %.0f bytes (max_output_bytes %u)", held, MAX_OUTPUT);
    write_all(fd, burst + sent, blen * N - sent);
    read_answers(fd, N, &ok, &refused);
    ck_assert_msg(refused > 0, "no answer was refused (%d ok)", ok);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_output_limit_refusals_total"), refused);
    printf("e2e_limits: %d of %d answers refused, unread output held %.0f bytes\n", refused, N, held);
    /* the connection is still usable afterwards */
    write_all(fd, big, blen);
    read_answers(fd, 1, &ok, &refused);
    ck_assert_int_eq(ok, 1);
    close(fd);
    free(burst);
    free(small);
    free(big);
}
END_TEST

/* featd's resident set size in KiB (VmRSS), or -1. */
static long featd_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)F.pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

START_TEST(test_nonreading_clients_bounded)
{
    /* 8 clients pipeline ~50 KB-answer lookups and never read. featd pauses
     * each, refuses answers past its output bound and, once client buffers
     * pass max_client_memory_bytes, closes the biggest: the buffers stay
     * within the budget, the process's memory does not grow past it, and a
     * well-behaved client is served in well under 10 ms meanwhile. */
    h_featd_stop(&F);
    config_free(cfg);
    start(SMALL_CLIENT_MEMORY);
    uint8_t *frame;
    size_t flen = lookup_frame(100001, 300, 1, &frame);
    enum { NBAD = 8 };
    uint8_t chunk[64 * 1024];
    size_t per = sizeof(chunk) / flen;
    ck_assert(per >= 1);
    for (size_t i = 0; i < per; i++) {
        memcpy(chunk + i * flen, frame, flen);
    }
    /* warm up (Redis links, arenas) before the baseline */
    struct featd_client *good = featd_connect("127.0.0.1", F.port, 2000, NULL, 0);
    ck_assert(good != NULL);
    struct featd_get *g = featd_get_new();
    ck_assert(featd_get_add_feature(g, "wide:f1") == 0);
    ck_assert(featd_get_add_int64(g, "user_id", 1) == 0);
    for (int i = 0; i < 200; i++) {
        Featd__V1__Response *resp = NULL;
        ck_assert_int_eq(featd_call(good, featd_get_request(g, featd_next_id(good)), &resp), 0);
        featd__v1__response__free_unpacked(resp, NULL);
    }
    long base_kib = featd_rss_kib();
    ck_assert(base_kib > 0);

    int bad[NBAD];
    bool blocked[NBAD] = { false }, gone[NBAD] = { false };
    int64_t stuck_since[NBAD] = { 0 };
    size_t partial[NBAD] = { 0 };
    for (int i = 0; i < NBAD; i++) {
        bad[i] = raw_connect(16384);
    }
    int64_t until = util_mono_us() + 20000000;
    int active = NBAD;
    while (active > 0 && util_mono_us() < until) {
        active = 0;
        for (int i = 0; i < NBAD; i++) {
            if (blocked[i] || gone[i]) {
                continue;
            }
            active++;
            ssize_t w = send(bad[i], chunk + partial[i], per * flen - partial[i], MSG_NOSIGNAL);
            if (w > 0) {
                partial[i] = (partial[i] + (size_t)w) % (per * flen);
                stuck_since[i] = 0;
            } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (stuck_since[i] == 0) {
                    stuck_since[i] = util_mono_us();
                } else if (util_mono_us() - stuck_since[i] > 1000000) {
                    blocked[i] = true;      /* featd stopped reading it */
                }
            } else {
                gone[i] = true;             /* featd closed it */
            }
        }
        usleep(1000);
    }
    ck_assert_msg(active == 0, "featd kept reading clients that never read");
    /* the lookups read before the pause may still be waiting on Redis (a
     * loaded machine): their answers, not yet output, do not count yet */
    double held = h_admin_metric(F.admin_port, "featd_client_memory_bytes");
    double closes = h_admin_metric(F.admin_port, "featd_client_memory_limit_closes_total");
    for (int64_t settle = util_mono_us() + 10000000; closes < 1 && util_mono_us() < settle;) {
        usleep(100000);
        held = h_admin_metric(F.admin_port, "featd_client_memory_bytes");
        closes = h_admin_metric(F.admin_port, "featd_client_memory_limit_closes_total");
    }
    ck_assert_msg(held >= 0 && held <= SMALL_CLIENT_MEMORY + 2.0 * MAX_OUTPUT,
                  "client buffers hold %.0f bytes (budget %u)", held, SMALL_CLIENT_MEMORY);
    ck_assert_msg(closes >= 1, "8 x ~%u bytes of unread output never passed the %u-byte budget",
                  MAX_OUTPUT / 2, SMALL_CLIENT_MEMORY);
    long grown_kib = featd_rss_kib() - base_kib;
#if !defined(__SANITIZE_ADDRESS__)
    /* (ASan keeps freed memory in quarantine: RSS says nothing there) */
    ck_assert_msg(grown_kib * 1024L <= (long)SMALL_CLIENT_MEMORY + 2L * MAX_OUTPUT + (16L << 20),
                  "featd grew by %ld KiB with a %u-byte client memory budget", grown_kib,
                  SMALL_CLIENT_MEMORY);
#endif

    /* a well-behaved client meanwhile */
    enum { NGOOD = 2000 };
    static int64_t lat[NGOOD];
    for (int i = 0; i < NGOOD; i++) {
        Featd__V1__Response *resp = NULL;
        int64_t t0 = util_mono_us();
        ck_assert_int_eq(featd_call(good, featd_get_request(g, featd_next_id(good)), &resp), 0);
        lat[i] = util_mono_us() - t0;
        ck_assert(resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
        featd__v1__response__free_unpacked(resp, NULL);
    }
    for (int i = 1; i < NGOOD; i++) {   /* insertion sort: small n */
        int64_t x = lat[i];
        int j = i - 1;
        while (j >= 0 && lat[j] > x) {
            lat[j + 1] = lat[j];
            j--;
        }
        lat[j + 1] = x;
    }
    int64_t p99 = lat[NGOOD * 99 / 100];
    printf("e2e_limits: %d non-reading clients, %.0f client-memory closes, buffers %.0f bytes, "
           "RSS +%ld KiB; well-behaved p50 %" PRId64 " us p99 %" PRId64 " us\n",
           NBAD, closes, held, grown_kib, lat[NGOOD / 2], p99);
    ck_assert_msg(p99 < 10000, "well-behaved client's p99 %" PRId64 " us", p99);
    for (int i = 0; i < NBAD; i++) {
        close(bad[i]);
    }
    featd_get_free(g);
    featd_close(good);
    free(frame);
}
END_TEST

/* Whether featd closed fd: EOF (after any error frame) or a reset. */
static bool closed_by_peer(int fd)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return true;
        }
        if (r < 0) {
            return false;
        }
    }
}

START_TEST(test_stalled_and_idle_connections_closed)
{
    /* 2,000 connections send half a frame header and stall; 20 more send
     * nothing at all. featd closes the first within server.frame_timeout_ms
     * and the others after server.idle_timeout_ms, while a well-behaved
     * client's lookups keep a p99 under 50 ms and featd's memory stays put. */
    enum { NSTALL = 2000, NIDLE = 20 };
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    ck_assert_msg(rl.rlim_cur >= NSTALL + NIDLE + 64, "RLIMIT_NOFILE %lu too small",
                  (unsigned long)rl.rlim_cur);
    h_featd_stop(&F);
    config_free(cfg);
    struct h_featd_opts o = { .nofile = 8192 };
    start_opts(MAX_CLIENT_MEMORY, ", \"frame_timeout_ms\": 1000, \"idle_timeout_ms\": 3000", &o);
    write_rows(10);
    struct featd_client *good = featd_connect("127.0.0.1", F.port, 2000, NULL, 0);
    ck_assert(good != NULL);
    struct featd_get *g = featd_get_new();
    ck_assert(featd_get_add_feature(g, "wide:f1") == 0);
    ck_assert(featd_get_add_int64(g, "user_id", 1) == 0);
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(good, featd_get_request(g, featd_next_id(good)), &resp), 0);
    featd__v1__response__free_unpacked(resp, NULL);
    long base_kib = featd_rss_kib();

    static int fds[NSTALL + NIDLE];
    int64_t t0 = util_mono_us();
    for (int i = 0; i < NSTALL + NIDLE; i++) {
        fds[i] = raw_connect(0);
        if (i < NSTALL) {
            static const uint8_t half[2] = { 0, 0 };
            ck_assert_int_eq(send(fds[i], half, 2, MSG_NOSIGNAL), 2);
        }
    }
    int64_t opened_us = util_mono_us() - t0;
    /* a well-behaved client meanwhile, until every staller is gone */
    enum { NGOOD = 20000 };
    static int64_t lat[NGOOD];
    int ngood = 0, stalled_left = NSTALL;
    int64_t deadline = util_mono_us() + 10000000;
    while (stalled_left > 0 && util_mono_us() < deadline) {
        for (int k = 0; k < 50 && ngood < NGOOD; k++) {
            int64_t s0 = util_mono_us();
            ck_assert_int_eq(featd_call(good, featd_get_request(g, featd_next_id(good)), &resp), 0);
            ck_assert(resp->body_case == FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES);
            featd__v1__response__free_unpacked(resp, NULL);
            lat[ngood++] = util_mono_us() - s0;
        }
        stalled_left = 0;
        for (int i = 0; i < NSTALL; i++) {
            stalled_left += fds[i] >= 0 && !closed_by_peer(fds[i]);
        }
    }
    int64_t gone_us = util_mono_us() - t0;
    ck_assert_msg(stalled_left == 0, "%d of %d stalled connections still open after 10 s",
                  stalled_left, NSTALL);
    long grown_kib = featd_rss_kib() - base_kib;
    /* the idle ones follow after the idle timeout (3 s) */
    int idle_left = NIDLE;
    deadline = util_mono_us() + 10000000;
    while (idle_left > 0 && util_mono_us() < deadline) {
        usleep(100000);
        idle_left = 0;
        for (int i = NSTALL; i < NSTALL + NIDLE; i++) {
            idle_left += !closed_by_peer(fds[i]);
        }
    }
    ck_assert_msg(idle_left == 0, "%d idle connections still open", idle_left);
    int64_t idle_us = util_mono_us() - t0;
    ck_assert_msg(idle_us >= 3000000, "idle connections closed after %" PRId64 " us", idle_us);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_frame_timeouts_total"), NSTALL);
    ck_assert_double_ge(h_admin_metric(F.admin_port, "featd_idle_timeouts_total"), NIDLE);
    for (int i = 1; i < ngood; i++) {
        int64_t x = lat[i];
        int j = i - 1;
        while (j >= 0 && lat[j] > x) {
            lat[j + 1] = lat[j];
            j--;
        }
        lat[j + 1] = x;
    }
    int64_t p99 = ngood ? lat[ngood * 99 / 100] : 0;
    printf("e2e_limits: %d stalled connections opened in %" PRId64 " ms, all closed after %"
           PRId64 " ms, %d idle after %" PRId64 " ms; RSS +%ld KiB; well-behaved %d lookups p99 %"
           PRId64 " us\n", NSTALL, opened_us / 1000, gone_us / 1000, NIDLE, idle_us / 1000,
           grown_kib, ngood, p99);
    ck_assert_int_gt(ngood, 100);
    ck_assert_msg(p99 < 50000, "well-behaved p99 %" PRId64 " us", p99);
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_msg(grown_kib < 64 * 1024, "featd grew by %ld KiB for %d stalled connections",
                  grown_kib, NSTALL);
#endif
    for (int i = 0; i < NSTALL + NIDLE; i++) {
        close(fds[i]);
    }
    featd_get_free(g);
    featd_close(good);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unread_output_bounded);
    tcase_add_test(tc, test_nonreading_clients_bounded);
    tcase_add_test(tc, test_stalled_and_idle_connections_closed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
