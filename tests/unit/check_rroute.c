/*
 * check_rroute.c — the async cluster router (redis/rroute) against a fake
 * cluster node: a thread speaking just enough RESP to answer CLUSTER SLOTS
 * (every slot its own) and GET with scripted replies, so that the replies
 * a real Redis never sends can be fed to the router: malformed MOVED / ASK
 * (no port, a slot out of range, no address, junk), a MOVED loop, a MOVED
 * to a node that does not listen. Each command's callback runs exactly once
 * with either the error reply itself (malformed redirects are the caller's
 * error, not followed, not counted) or NULL with rroute_error() naming the
 * slot and the node; nothing crashes.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config/config.h"
#include "core/metrics.h"
#include "redis/rroute.h"

/* ---- the fake node ---- */

#define FAKE_CONNS 8

static int fake_lfd, fake_port, dead_port;
static volatile int fake_stop;
static pthread_t fake_th;

/* The reply to GET key (RESP text written into out). */
static void fake_get_reply(const char *key, char *out, size_t cap)
{
    if (strcmp(key, "nohost") == 0) {
        snprintf(out, cap, "-MOVED 12 nohost\r\n");
    } else if (strcmp(key, "badslot") == 0) {
        snprintf(out, cap, "-MOVED 99999 127.0.0.1:%d\r\n", fake_port);
    } else if (strcmp(key, "bare") == 0) {
        snprintf(out, cap, "-MOVED\r\n");
    } else if (strcmp(key, "junkask") == 0) {
        snprintf(out, cap, "-ASK x y:z\r\n");
    } else if (strcmp(key, "badport") == 0) {
        snprintf(out, cap, "-MOVED 5 127.0.0.1:70000\r\n");
    } else if (strcmp(key, "loop") == 0) {
        snprintf(out, cap, "-MOVED 5 127.0.0.1:%d\r\n", fake_port);   /* to itself, forever */
    } else if (strcmp(key, "dead") == 0) {
        snprintf(out, cap, "-MOVED 5 127.0.0.1:%d\r\n", dead_port);
    } else {
        snprintf(out, cap, "$2\r\nok\r\n");
    }
}

/* Parses one complete RESP array of bulk strings at buf[0..len): argv (up
 * to 4, NUL-terminated copies into store) and bytes used; 0 when incomplete. */
static size_t fake_parse(const char *buf, size_t len, char argv[4][128], int *argc)
{
    const char *p = buf, *end = buf + len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL || *p != '*') {
        return 0;
    }
    int n = atoi(p + 1);
    p = nl + 1;
    *argc = 0;
    for (int i = 0; i < n; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || *p != '$') {
            return 0;
        }
        size_t bl = (size_t)atoi(p + 1);
        p = nl + 1;
        if ((size_t)(end - p) < bl + 2) {
            return 0;
        }
        if (i < 4) {
            size_t c = bl < 127 ? bl : 127;
            memcpy(argv[i], p, c);
            argv[i][c] = '\0';
            (*argc)++;
        }
        p += bl + 2;
    }
    return (size_t)(p - buf);
}

static void *fake_main(void *arg)
{
    (void)arg;
    struct pollfd fds[1 + FAKE_CONNS];
    char bufs[FAKE_CONNS][4096];
    size_t lens[FAKE_CONNS];
    int nconn = 0;
    fds[0] = (struct pollfd){ .fd = fake_lfd, .events = POLLIN };
    while (!fake_stop) {
        if (poll(fds, (nfds_t)(1 + nconn), 50) <= 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) && nconn < FAKE_CONNS) {
            int fd = accept(fake_lfd, NULL, NULL);
            if (fd >= 0) {
                fds[1 + nconn] = (struct pollfd){ .fd = fd, .events = POLLIN };
                lens[nconn++] = 0;
            }
        }
        for (int k = 0; k < nconn; k++) {
            if (!(fds[1 + k].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            ssize_t r = read(fds[1 + k].fd, bufs[k] + lens[k], sizeof(bufs[k]) - lens[k]);
            if (r <= 0) {
                close(fds[1 + k].fd);
                fds[1 + k] = fds[nconn];
                memcpy(bufs[k], bufs[nconn - 1], lens[nconn - 1]);
                lens[k] = lens[nconn - 1];
                nconn--;
                k--;
                continue;
            }
            lens[k] += (size_t)r;
            char argv[4][128];
            int argc = 0;
            size_t used;
            while ((used = fake_parse(bufs[k], lens[k], argv, &argc)) > 0) {
                char out[512];
                if (argc >= 2 && strcasecmp(argv[0], "CLUSTER") == 0 && strcasecmp(argv[1], "SLOTS") == 0) {
                    snprintf(out, sizeof(out), "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:%d\r\n"
                             "$40\r\n0123456789012345678901234567890123456789\r\n", fake_port);
                } else if (argc >= 2 && strcasecmp(argv[0], "GET") == 0) {
                    fake_get_reply(argv[1], out, sizeof(out));
                } else {
                    snprintf(out, sizeof(out), "+OK\r\n");
                }
                ssize_t w = write(fds[1 + k].fd, out, strlen(out));
                (void)w;
                memmove(bufs[k], bufs[k] + used, lens[k] - used);
                lens[k] -= used;
            }
        }
    }
    for (int k = 0; k < nconn; k++) {
        close(fds[1 + k].fd);
    }
    return NULL;
}

/* A listening loopback socket on a free port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

static void fake_start(void)
{
    fake_lfd = listen_any(&fake_port);
    int dfd = listen_any(&dead_port);
    close(dfd);     /* a port nothing listens on */
    fake_stop = 0;
    ck_assert_int_eq(pthread_create(&fake_th, NULL, fake_main, NULL), 0);
}

static void fake_end(void)
{
    fake_stop = 1;
    pthread_join(fake_th, NULL);
    close(fake_lfd);
}

/* ---- the router ---- */

struct result {
    int calls;
    int type;           /* reply type, 0 for a NULL reply */
    char text[512];     /* the error reply's text, or rroute_error() */
};

static struct rroute *RR;
static struct event_base *B;

static void cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    struct result *res = priv;
    const redisReply *reply = r;
    res->calls++;
    res->type = reply ? reply->type : 0;
    snprintf(res->text, sizeof(res->text), "%s",
             reply ? (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STRING ? reply->str : "")
                   : rroute_error(RR));
}

/* Runs the loop until done() or 5 s. */
static void loop_until(bool (*done)(void *), void *arg)
{
    for (int i = 0; i < 500 && !done(arg); i++) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(B, &tv);
        event_base_dispatch(B);
    }
}

static bool ready(void *arg)
{
    (void)arg;
    return rroute_ready(RR);
}

static bool called(void *arg)
{
    return ((struct result *)arg)->calls > 0;
}

static struct result get(const char *key)
{
    struct result res = { 0 };
    const char *argv[2] = { "GET", key };
    size_t lens[2] = { 3, strlen(key) };
    ck_assert_int_eq(rroute_command_argv(RR, rroute_slot(RR, key, lens[1]), cb, &res, 2, argv, lens), FEATD_OK);
    loop_until(called, &res);
    /* exactly once: more loop iterations do not call it again */
    for (int i = 0; i < 5; i++) {
        struct timeval tv = { 0, 10000 };
        event_base_loopexit(B, &tv);
        event_base_dispatch(B);
    }
    ck_assert_int_eq(res.calls, 1);
    return res;
}

static struct metrics M;

START_TEST(test_bad_redirects)
{
    fake_start();
    B = event_base_new();
    ck_assert_ptr_nonnull(B);
    struct cfg_addr seed = { "127.0.0.1", fake_port };
    struct cfg_redis rc = { .mode = REDIS_MODE_CLUSTER, .cluster_nodes = { &seed, 1 }, .timeout_ms = 1000,
                            .key_prefix = "t" };
    RR = rroute_new(B, &rc, NULL, &M);
    ck_assert_ptr_nonnull(RR);
    loop_until(ready, NULL);
    ck_assert_msg(rroute_ready(RR), "not ready: %s", rroute_status(RR));

    struct result r = get("plain");
    ck_assert_int_eq(r.type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r.text, "ok");

    /* malformed redirects: the error reply itself, not followed */
    const char *bad[] = { "nohost", "badslot", "bare", "junkask", "badport" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = get(bad[i]);
        ck_assert_msg(r.type == REDIS_REPLY_ERROR && (strncmp(r.text, "MOVED", 5) == 0 ||
                                                      strncmp(r.text, "ASK", 3) == 0),
                      "%s: type %d %s", bad[i], r.type, r.text);
    }
    ck_assert_uint_eq(atomic_load(&M.redis_redirects[0]) + atomic_load(&M.redis_redirects[1]), 0);

    /* a MOVED to itself forever: bounded, then an error naming the slot */
    r = get("loop");
    ck_assert_msg(r.type == 0 && strstr(r.text, "still redirected") != NULL && strstr(r.text, "slot ") != NULL,
                  "loop: %d %s", r.type, r.text);
    ck_assert_uint_eq(atomic_load(&M.redis_redirects[0]), RROUTE_MAX_TRIES);

    /* a MOVED to a node that does not listen: an error naming it */
    r = get("dead");
    char port_s[16];
    snprintf(port_s, sizeof(port_s), ":%d", dead_port);
    ck_assert_msg(r.type == 0 && strstr(r.text, port_s) != NULL && strstr(r.text, "slot ") != NULL,
                  "dead: %d %s", r.type, r.text);

    /* still serving */
    r = get("plain");
    ck_assert_int_eq(r.type, REDIS_REPLY_STRING);
    rroute_shutdown(RR);
    rroute_free(RR);
    event_base_free(B);
    fake_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rroute");
    TCase *tc = tcase_create("redirects");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_redirects);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
