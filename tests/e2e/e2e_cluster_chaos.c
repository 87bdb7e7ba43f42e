/*
 * e2e_cluster_chaos.c — featd's answers stay right while the Redis topology
 * changes under it: the real featd binary on a real local Redis Cluster
 * (3 masters + 3 replicas) and a real Sentinel group (tests/e2e/
 * harness_cluster.h), a reader thread asking all the time and checking
 * every answer against the rows the test knows were written.
 *
 * The rows: view "cv" (x int64, s string) for users 1..NUSERS, loaded with
 * `featd-cli load --mode snapshot` (the cluster writer, redis/rbcluster.c);
 * snapshot number G writes x = G * 1000000 + user and s = "gG-user", so a
 * value tells its generation. A wrong answer is a PRESENT value that is not
 * one of those (or x and s of different snapshots), a PRESENT row for a
 * user never written, or rows of one response from two snapshots (a mixed
 * generation). Errors may only be UNAVAILABLE or DEADLINE_EXCEEDED.
 *
 * Cluster (one test, in order): every seed down at start (featd starts,
 * /readyz 503 naming the seeds, lookups UNAVAILABLE, served once the nodes
 * are up without a restart); a manual failover and a SIGKILLed master
 * under reads (served again within 10 s of the promotion); live resharding
 * of 2000 slots with a snapshot flip in the middle (errors <= 1 %); a seed
 * that is not in cluster mode; a slot with no owner (its keys UNAVAILABLE
 * naming the slot, other keys fine). Sentinel: the master SIGKILLed under
 * reads (correct again within 15 s of the switch), the old master restarted
 * and the next snapshot written to the new master only.
 *
 * Measured times are printed ("chaos: ...").
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "featd_client.h"
#include "harness.h"
#include "harness_cluster.h"
#include "online/online.h"
#include "redis/rslot.h"

#define PREFIX "chaos"
#define NUSERS 3000
#define CHUNK 500           /* users per reader request */
#define GEN_MUL 1000000

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_entities_per_request\": 5000, \"request_timeout_ms\": 1000, \"log_level\": \"info\" }," \
    "  \"redis\": { %s, \"key_prefix\": \"" PREFIX "\" }," \
    "  \"entities\": [ { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"cv\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"x\", \"type\": \"int64\" }, { \"name\": \"s\", \"type\": \"string\" } ] } ] }"

static struct featd_config *cfg;    /* the view, for key names */

static void start_featd(struct h_featd *f, const char *redis_json)
{
    static char json[4096];
    snprintf(json, sizeof(json), CFG_FMT, h_free_port(), h_free_port(), redis_json);
    h_featd_start(f, json);
}

static void load_cfg(void)
{
    static char json[4096];
    char err[2048];
    snprintf(json, sizeof(json), CFG_FMT, 1, 2, "\"url\": \"redis://127.0.0.1:6379/0\"");
    if (cfg == NULL) {
        ck_assert_msg(config_load_string(json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
    }
}

/* Runs a shell command; its exit status, stdout+stderr into out. */
static int run(char *out, size_t cap, const char *fmt, ...) FEATD_PRINTF(3, 4);

static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(pp);
    size_t n = fread(out, 1, cap - 1, pp);
    out[n] = '\0';
    int st = pclose(pp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Writes snapshot number g (rows of users 1..NUSERS) as JSON lines into
 * featd f's dir; the file's path into path. */
static void snapshot_file(const struct h_featd *f, int g, char *path, size_t cap)
{
    snprintf(path, cap, "%s/snap%d.jsonl", f->dir, g);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    for (int u = 1; u <= NUSERS; u++) {
        fprintf(fp, "{\"user_id\": %d, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"x\": %lld, "
                    "\"s\": \"g%d-%d\"}\n", u, (long long)g * GEN_MUL + u, g, u);
    }
    fclose(fp);
}

/* `featd-cli load --mode snapshot` of snapshot number g through featd f's
 * config; asserts success. */
static void load_snapshot(const struct h_featd *f, int g)
{
    char rows[400];
    snapshot_file(f, g, rows, sizeof(rows));
    static char out[16384];
    int st = run(out, sizeof(out), "'%s' load --config '%s' --view cv --mode snapshot --file '%s' 2>&1",
                 h_bin("featd-cli"), f->config_path, rows);
    ck_assert_msg(st == 0, "load of snapshot %d exited %d: %s", g, st, out);
}

/* The same started as a child process (output to log); its pid. */
static pid_t load_snapshot_bg(const struct h_featd *f, int g, const char *log)
{
    char rows[400];
    snapshot_file(f, g, rows, sizeof(rows));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        h_child_setup(log);
        execl(h_bin("featd-cli"), "featd-cli", "load", "--config", f->config_path, "--view", "cv", "--mode",
              "snapshot", "--file", rows, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* ---- the reader ---- */

struct reader {
    pthread_t th;
    int port;
    pthread_mutex_t mu;
    bool stop;
    /* counters since the last reader_reset */
    long long requests, ok, unavailable, deadline, other, wrong, mixed, missing;
    long long last_err_ms;  /* end of the last failed request */
    long long ok_since_ms;  /* start of the first success after reader_mark (0: none yet) */
    long long mark_ms;
    int last_gen;           /* generation of the last successful answer (0: none present) */
    long long gen_seen_ms[8];   /* end of the first answer of generation g since the reset */
    char first_wrong[512];
    char first_other[512];
    char last_err[512];
};

static void reader_note(struct reader *rd, char *slot, const char *fmt, ...) FEATD_PRINTF(3, 4);

/* Keeps the first message of a kind (slot is one of rd's buffers). Called
 * with rd->mu held. */
static void reader_note(struct reader *rd, char *slot, const char *fmt, ...)
{
    (void)rd;
    if (slot[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot, 512, fmt, ap);
    va_end(ap);
}

/* Checks one answer for users lo..lo+CHUNK-1 plus NUSERS+1 (never written).
 * Returns its generation (0 when nothing present); counts wrong / mixed /
 * missing into rd (mu held). */
static int reader_check(struct reader *rd, const Featd__V1__GetOnlineFeaturesResponse *r, int lo)
{
    int gen = 0;
    for (int k = 0; k <= CHUNK; k++) {
        int u = k < CHUNK ? lo + k : NUSERS + 1;
        int sx = featd_resp_status(r, 0, (size_t)k), ss = featd_resp_status(r, 1, (size_t)k);
        if (sx == FEATD__V1__FIELD_STATUS__NOT_FOUND && ss == FEATD__V1__FIELD_STATUS__NOT_FOUND) {
            rd->missing += u <= NUSERS;
            continue;
        }
        const Featd__V1__Value *vx = featd_resp_value(r, 0, (size_t)k), *vs = featd_resp_value(r, 1, (size_t)k);
        if (sx != FEATD__V1__FIELD_STATUS__PRESENT || ss != FEATD__V1__FIELD_STATUS__PRESENT || vx == NULL ||
            vs == NULL || vx->kind_case != FEATD__V1__VALUE__KIND_INT64_VAL ||
            vs->kind_case != FEATD__V1__VALUE__KIND_STRING_VAL) {
            rd->wrong++;
            reader_note(rd, rd->first_wrong, "user %d: statuses %s/%s", u, featd_status_name(sx),
                        featd_status_name(ss));
            continue;
        }
        int64_t x = vx->int64_val;
        int g = (int)(x / GEN_MUL);
        char want[64];
        snprintf(want, sizeof(want), "g%d-%d", g, u);
        if (u > NUSERS || x % GEN_MUL != u || g < 1 || strcmp(vs->string_val, want) != 0) {
            rd->wrong++;
            reader_note(rd, rd->first_wrong, "user %d: x=%" PRId64 " s=%s", u, x, vs->string_val);
            continue;
        }
        if (gen != 0 && g != gen) {
            rd->mixed++;
            reader_note(rd, rd->first_wrong, "mixed generations %d and %d in one answer (user %d)", gen, g, u);
        }
        gen = g;
    }
    return gen;
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct featd_client *c = NULL;
    int lo = 1;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        bool stop = rd->stop;
        pthread_mutex_unlock(&rd->mu);
        if (stop) {
            break;
        }
        char err[256];
        if (c == NULL && (c = featd_connect("127.0.0.1", rd->port, 5000, err, sizeof(err))) == NULL) {
            pthread_mutex_lock(&rd->mu);
            rd->other++;
            reader_note(rd, rd->first_other, "connect: %s", err);
            pthread_mutex_unlock(&rd->mu);
            h_sleep_ms(50);
            continue;
        }
        struct featd_get *g = featd_get_new();
        featd_get_add_feature(g, "cv:x");
        featd_get_add_feature(g, "cv:s");
        for (int k = 0; k < CHUNK; k++) {
            featd_get_add_int64(g, "user_id", lo + k);
        }
        featd_get_add_int64(g, "user_id", NUSERS + 1);
        long long t0 = h_now_ms();
        Featd__V1__Response *resp = NULL;
        int rc = featd_call(c, featd_get_request(g, featd_next_id(c)), &resp);
        long long t1 = h_now_ms();
        pthread_mutex_lock(&rd->mu);
        rd->requests++;
        if (rc != FEATD_OK || resp == NULL) {
            rd->other++;
            reader_note(rd, rd->first_other, "call: %s", featd_errmsg(c));
            featd_close(c);
            c = NULL;
        } else if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR) {
            int code = (int)resp->error->code;
            if (code == FEATD__V1__ERROR_CODE__UNAVAILABLE) {
                rd->unavailable++;
            } else if (code == FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED) {
                rd->deadline++;
            } else {
                rd->other++;
                reader_note(rd, rd->first_other, "%s: %s", featd_error_code_name(code), resp->error->message);
            }
            rd->last_err_ms = t1;
            snprintf(rd->last_err, sizeof(rd->last_err), "%s: %s", featd_error_code_name(code),
                     resp->error->message);
        } else if (resp->body_case != FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES) {
            rd->other++;
            reader_note(rd, rd->first_other, "body %s", featd_body_name(resp->body_case));
        } else {
            rd->ok++;
            rd->last_gen = reader_check(rd, resp->get_online_features, lo);
            if (rd->last_gen > 0 && rd->last_gen < 8 && rd->gen_seen_ms[rd->last_gen] == 0) {
                rd->gen_seen_ms[rd->last_gen] = t1;
            }
            if (rd->ok_since_ms == 0 && t0 >= rd->mark_ms && rd->mark_ms != 0) {
                rd->ok_since_ms = t1;
            }
        }
        pthread_mutex_unlock(&rd->mu);
        featd_response_free(resp);
        featd_get_free(g);
        lo = lo + CHUNK > NUSERS ? 1 : lo + CHUNK;
        h_sleep_ms(5);
    }
    featd_close(c);
    return NULL;
}

static void reader_start(struct reader *rd, int port)
{
    memset(rd, 0, sizeof(*rd));
    rd->port = port;
    pthread_mutex_init(&rd->mu, NULL);
    ck_assert_int_eq(pthread_create(&rd->th, NULL, reader_main, rd), 0);
}

static void reader_stop(struct reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    rd->stop = true;
    pthread_mutex_unlock(&rd->mu);
    pthread_join(rd->th, NULL);
    pthread_mutex_destroy(&rd->mu);
}

static void reader_reset(struct reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    rd->requests = rd->ok = rd->unavailable = rd->deadline = rd->other = 0;
    rd->wrong = rd->mixed = rd->missing = 0;
    rd->first_wrong[0] = rd->first_other[0] = '\0';
    memset(rd->gen_seen_ms, 0, sizeof(rd->gen_seen_ms));
    pthread_mutex_unlock(&rd->mu);
}

/* From now on, ok_since_ms is the end of the first success that started
 * after this call. */
static void reader_mark(struct reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    rd->mark_ms = h_now_ms();
    rd->ok_since_ms = 0;
    pthread_mutex_unlock(&rd->mu);
}

/* Waits until a success started after the mark; returns ms from the mark
 * to its end. Aborts after limit_ms. */
static long long reader_wait_ok(struct reader *rd, int limit_ms, const char *what)
{
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        long long since = rd->ok_since_ms, mark = rd->mark_ms;
        char last[512];
        snprintf(last, sizeof(last), "%s", rd->last_err);
        pthread_mutex_unlock(&rd->mu);
        if (since != 0) {
            return since - mark;
        }
        ck_assert_msg(h_now_ms() - mark < limit_ms, "%s: not served within %d ms (last error %s)", what, limit_ms,
                      last);
        h_sleep_ms(20);
    }
}

/* Waits until enough successes and a generation g answer. */
static void reader_wait_gen(struct reader *rd, int g, int limit_ms)
{
    long long end = h_now_ms() + limit_ms;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        int lg = rd->last_gen;
        pthread_mutex_unlock(&rd->mu);
        if (lg == g) {
            return;
        }
        ck_assert_msg(h_now_ms() < end, "generation %d never answered (last %d)", g, lg);
        h_sleep_ms(20);
    }
}

/* Prints the counters and asserts: no wrong or mixed answer, errors only
 * UNAVAILABLE / DEADLINE_EXCEEDED, at most max_err_pct % errors (< 0: any). */
static void reader_verdict(struct reader *rd, const char *what, double max_err_pct, bool no_missing)
{
    pthread_mutex_lock(&rd->mu);
    long long errs = rd->unavailable + rd->deadline + rd->other;
    double pct = rd->requests ? 100.0 * (double)errs / (double)rd->requests : 0;
    printf("chaos: %s: %lld requests, %lld ok, %lld UNAVAILABLE, %lld DEADLINE_EXCEEDED, %lld other, "
           "%lld wrong, %lld mixed, %lld rows missing (errors %.2f %%)\n", what, rd->requests, rd->ok,
           rd->unavailable, rd->deadline, rd->other, rd->wrong, rd->mixed, rd->missing, pct);
    fflush(stdout);
    long long wrong = rd->wrong, mixed = rd->mixed, other = rd->other, missing = rd->missing, ok = rd->ok;
    char fw[512], fo[512];
    snprintf(fw, sizeof(fw), "%s", rd->first_wrong);
    snprintf(fo, sizeof(fo), "%s", rd->first_other);
    pthread_mutex_unlock(&rd->mu);
    ck_assert_msg(ok > 0, "%s: no successful answer", what);
    ck_assert_msg(wrong == 0 && mixed == 0, "%s: %lld wrong, %lld mixed answers; first: %s", what, wrong, mixed, fw);
    ck_assert_msg(other == 0, "%s: %lld errors other than UNAVAILABLE/DEADLINE_EXCEEDED; first: %s", what, other, fo);
    ck_assert_msg(!no_missing || missing == 0, "%s: %lld written rows answered NOT_FOUND", what, missing);
    ck_assert_msg(max_err_pct < 0 || pct <= max_err_pct, "%s: %.2f %% errors (max %.1f %%)", what, pct, max_err_pct);
}

/* ---- featd helpers ---- */

/* The status line and body of GET path on featd's admin port (static). */
static const char *admin(const struct h_featd *f, const char *path, int *status)
{
    static char text[4096];
    char *r = h_admin_get(f->admin_port, path);
    *status = r && strncmp(r, "HTTP/1.1 ", 9) == 0 ? atoi(r + 9) : 0;
    const char *b = r ? strstr(r, "\r\n\r\n") : NULL;
    snprintf(text, sizeof(text), "%s", b ? b + 4 : (r ? r : "(no answer)"));
    free(r);
    return text;
}

/* True when 127.0.0.1:port accepts a connection. */
static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Waits (up to 10 s) for the admin port: it opens after the workers. */
static void wait_admin(const struct h_featd *f)
{
    long long t0 = h_now_ms();
    while (!port_accepts(f->admin_port)) {
        ck_assert_msg(h_now_ms() - t0 < 10000, "admin port %d never accepted", f->admin_port);
        h_sleep_ms(10);
    }
}

static void wait_ready(const struct h_featd *f, int timeout_ms)
{
    long long t0 = h_now_ms();
    wait_admin(f);
    for (;;) {
        int st;
        const char *body = admin(f, "/readyz", &st);
        if (st == 200) {
            return;
        }
        if (h_now_ms() - t0 > timeout_ms) {
            h_dump_log("featd", f->log_path);
            ck_abort_msg("featd not ready after %d ms: %s", timeout_ms, body);
        }
        h_sleep_ms(50);
    }
}

/* One lookup of cv:x for users; the error code (0 on success) and message. */
static int lookup(int port, const int64_t *users, size_t n, char *msg, size_t cap)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 5000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "cv:x");
    for (size_t i = 0; i < n; i++) {
        featd_get_add_int64(g, "user_id", users[i]);
    }
    Featd__V1__Response *resp = NULL;
    ck_assert_int_eq(featd_call(c, featd_get_request(g, featd_next_id(c)), &resp), FEATD_OK);
    int code = 0;
    msg[0] = '\0';
    if (resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR) {
        code = (int)resp->error->code;
        snprintf(msg, cap, "%s", resp->error->message);
    }
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(c);
    return code;
}

static unsigned user_slot(int64_t u)
{
    struct fbuf key = { 0 };
    struct online_key k = { .i = u };
    ck_assert_int_eq(online_key_row(&key, PREFIX, config_find_view(cfg, "cv"), &k), FEATD_OK);
    unsigned s = rslot_of_key(key.data, key.len);
    fbuf_free(&key);
    return s;
}

static unsigned pointer_slot(void)
{
    struct fbuf key = { 0 };
    ck_assert_int_eq(online_key_current(&key, PREFIX, config_find_view(cfg, "cv")), FEATD_OK);
    unsigned s = rslot_of_key(key.data, key.len);
    fbuf_free(&key);
    return s;
}

static int first_master(const struct hcluster *c, int not)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (i != not && c->nodes[i].pid != 0 && harness_cluster_is_master(c, i)) {
            return i;
        }
    }
    ck_abort_msg("no master");
    return -1;
}

/* ---- cluster phases ---- */

static struct hcluster C;

/* Every seed down at start: featd starts anyway, says which seeds on
 * /readyz, answers UNAVAILABLE; the nodes come up and featd serves. */
static void phase_seeds_down(struct h_featd *f)
{
    char redis_json[1024] = "\"cluster_nodes\": [";
    for (int i = 0; i < C.nnodes; i++) {
        size_t n = strlen(redis_json);
        snprintf(redis_json + n, sizeof(redis_json) - n, "%s\"127.0.0.1:%d\"", i ? ", " : "", C.nodes[i].port);
    }
    strcat(redis_json, "]");
    for (int i = 0; i < C.nnodes; i++) {
        harness_cluster_node_stop(&C, i);
    }
    start_featd(f, redis_json);
    wait_admin(f);
    int st = 0;
    const char *body = admin(f, "/readyz", &st);
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", C.nodes[0].port);
    printf("chaos: all seeds down: /readyz %d: %s\n", st, body);
    ck_assert_msg(st == 503 && strstr(body, seed) != NULL, "readyz %d: %s", st, body);
    char msg[512];
    int64_t u1 = 1;
    int code = lookup(f->port, &u1, 1, msg, sizeof(msg));
    printf("chaos: all seeds down: lookup %s: %s\n", featd_error_code_name(code), msg);
    ck_assert_msg(code == FEATD__V1__ERROR_CODE__UNAVAILABLE, "code %d: %s", code, msg);
    long long t0 = h_now_ms();
    for (int i = 0; i < C.nnodes; i++) {
        harness_cluster_restart(&C, i);
    }
    harness_cluster_wait_ok(&C, 30000);
    long long tup = h_now_ms();
    wait_ready(f, 15000);
    printf("chaos: seeds back: cluster ok after %lld ms, featd ready %lld ms later (no restart)\n", tup - t0,
           h_now_ms() - tup);
    ck_assert_msg(kill(f->pid, 0) == 0, "featd died");
}

/* A manual failover and a SIGKILLed master under reads. */
static void phase_failovers(struct reader *rd)
{
    reader_reset(rd);
    h_sleep_ms(500);
    int m = first_master(&C, -1);
    int r = harness_cluster_replica_of(&C, m);
    ck_assert_int_ge(r, 0);
    redisReply *rep = harness_cluster_cmd(&C, r, "CLUSTER FAILOVER");
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_STATUS, "CLUSTER FAILOVER: %s", rep ? rep->str : "-");
    freeReplyObject(rep);
    long long t0 = h_now_ms();
    while (!harness_cluster_is_master(&C, r)) {
        ck_assert_msg(h_now_ms() - t0 < 15000, "manual failover: node %d not promoted", r);
        h_sleep_ms(10);
    }
    reader_mark(rd);
    long long tp = h_now_ms();
    long long served = reader_wait_ok(rd, 10000, "manual failover");
    printf("chaos: manual failover: node %d promoted after %lld ms, served again %lld ms after the promotion\n", r,
           tp - t0, served);
    harness_cluster_wait_ok(&C, 20000);
    h_sleep_ms(500);
    reader_verdict(rd, "manual failover", -1, true);

    /* SIGKILL a master: its replica is promoted */
    reader_reset(rd);
    m = first_master(&C, -1);
    r = harness_cluster_replica_of(&C, m);
    ck_assert_int_ge(r, 0);
    harness_cluster_wait_synced(&C, 10000);
    harness_cluster_kill(&C, m);
    t0 = h_now_ms();
    while (!harness_cluster_is_master(&C, r)) {
        ck_assert_msg(h_now_ms() - t0 < 20000, "killed master: node %d not promoted", r);
        h_sleep_ms(10);
    }
    reader_mark(rd);
    tp = h_now_ms();
    served = reader_wait_ok(rd, 10000, "master killed");
    printf("chaos: master killed: node %d promoted after %lld ms, served again %lld ms after the promotion\n", r,
           tp - t0, served);
    harness_cluster_wait_ok(&C, 20000);
    h_sleep_ms(500);
    reader_verdict(rd, "master SIGKILLed", -1, true);
    /* the killed node comes back as a replica (the cluster is whole again) */
    harness_cluster_restart(&C, m);
    harness_cluster_wait_ok(&C, 30000);
}

/* 2000 slots resharded under reads, a snapshot flip in the middle. */
static void phase_reshard(struct reader *rd, const struct h_featd *f)
{
    int a = first_master(&C, -1), b = first_master(&C, a);
    char ida[64], idb[64];
    harness_cluster_node_id(&C, a, ida, sizeof(ida));
    harness_cluster_node_id(&C, b, idb, sizeof(idb));
    char seed[32], log[400];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", C.nodes[a].port);
    snprintf(log, sizeof(log), "%s/reshard.log", f->dir);
    reader_reset(rd);
    long long t0 = h_now_ms();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        h_child_setup(log);
        execlp("redis-cli", "redis-cli", "--cluster", "reshard", seed, "--cluster-from", ida, "--cluster-to", idb,
               "--cluster-slots", "2000", "--cluster-yes", "--cluster-pipeline", "100", (char *)NULL);
        _exit(127);
    }
    h_sleep_ms(300);
    char llog[400];
    snprintf(llog, sizeof(llog), "%s/load2.log", f->dir);
    long long tl0 = h_now_ms(), tl1 = 0, t1 = 0;
    pid_t lpid = load_snapshot_bg(f, 2, llog);
    int st = 0, lst = 0;
    while (tl1 == 0 || t1 == 0) {   /* both children, each end time on its own */
        if (t1 == 0 && waitpid(pid, &st, WNOHANG) == pid) {
            t1 = h_now_ms();
        }
        if (tl1 == 0 && waitpid(lpid, &lst, WNOHANG) == lpid) {
            tl1 = h_now_ms();
        }
        ck_assert_msg(h_now_ms() - t0 < 60000, "reshard / load still running after 60 s");
        h_sleep_ms(5);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        h_dump_log("redis-cli reshard", log);
    }
    if (!WIFEXITED(lst) || WEXITSTATUS(lst) != 0) {
        h_dump_log("featd-cli load", llog);
    }
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reshard failed (%d)", st);
    ck_assert_msg(WIFEXITED(lst) && WEXITSTATUS(lst) == 0, "load of snapshot 2 failed (%d)", lst);
    printf("chaos: reshard of 2000 slots (node %d -> %d) took %lld ms; snapshot 2 loaded from %lld to %lld ms "
           "into it\n", a, b, t1 - t0, tl0 - t0, tl1 - t0);
    /* the flip landed while slots were moving: the reader saw snapshot 2
     * before the resharding ended */
    pthread_mutex_lock(&rd->mu);
    long long seen2 = rd->gen_seen_ms[2];
    pthread_mutex_unlock(&rd->mu);
    printf("chaos: snapshot 2 first answered %lld ms into the resharding\n", seen2 ? seen2 - t0 : -1);
    ck_assert_msg(seen2 != 0 && seen2 < t1, "the flip did not happen during the resharding");
    reader_wait_gen(rd, 2, 5000);
    h_sleep_ms(300);
    reader_verdict(rd, "reshard + flip", 1.0, false);
    /* the slots did move */
    unsigned moved = 0;
    for (unsigned s = 0; s < 16384; s += 16) {
        moved += harness_cluster_slot_owner(&C, b, s) == b;
    }
    ck_assert_msg(moved * 16 > 5000, "node %d owns only ~%u slots", b, moved * 16);
}

/* A seed that is not a cluster node; a slot with no owner. */
static void phase_bad_topology(const struct h_featd *f)
{
    struct h_redis plain;
    h_redis_start(&plain);
    char redis_json[256];
    snprintf(redis_json, sizeof(redis_json), "\"cluster_nodes\": [\"127.0.0.1:%d\"]", plain.port);
    struct h_featd fp;
    start_featd(&fp, redis_json);
    wait_admin(&fp);
    h_sleep_ms(300);
    int st;
    const char *body = admin(&fp, "/readyz", &st);
    printf("chaos: plain redis as seed: /readyz %d: %s\n", st, body);
    ck_assert_msg(st == 503 && strstr(body, "cluster") != NULL, "readyz %d: %s", st, body);
    char msg[512];
    int64_t u1 = 1;
    int code = lookup(fp.port, &u1, 1, msg, sizeof(msg));
    printf("chaos: plain redis as seed: lookup %s: %s\n", featd_error_code_name(code), msg);
    ck_assert_msg(code == FEATD__V1__ERROR_CODE__UNAVAILABLE, "code %d: %s", code, msg);
    h_featd_stop(&fp);
    h_redis_stop(&plain);

    /* a slot with no owner: only its keys fail */
    unsigned ps = pointer_slot();
    int64_t victim = 1;
    while (user_slot(victim) == ps) {
        victim++;
    }
    unsigned slot = user_slot(victim);
    int64_t others[200];
    size_t no = 0;
    for (int64_t u = 1; u <= NUSERS && no < 200; u++) {
        if (user_slot(u) != slot) {
            others[no++] = u;
        }
    }
    for (int i = 0; i < C.nnodes; i++) {
        redisReply *r = harness_cluster_cmd(&C, i, "CONFIG SET cluster-require-full-coverage no");
        ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "CONFIG SET on node %d", i);
        freeReplyObject(r);
    }
    for (int i = 0; i < C.nnodes; i++) {
        redisReply *r = harness_cluster_cmd(&C, i, "CLUSTER DELSLOTS %u", slot);
        ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "DELSLOTS on node %d: %s", i,
                      r && r->type == REDIS_REPLY_ERROR ? r->str : "-");
        freeReplyObject(r);
    }
    char want[32];
    snprintf(want, sizeof(want), "slot %u", slot);
    for (int round = 0; round < 2; round++) {       /* before and after featd's map refresh */
        code = lookup(f->port, &victim, 1, msg, sizeof(msg));
        printf("chaos: slot %u without owner: lookup %s: %s\n", slot, featd_error_code_name(code), msg);
        ck_assert_msg(code == FEATD__V1__ERROR_CODE__UNAVAILABLE && strstr(msg, want) != NULL, "code %d: %s", code,
                      msg);
        code = lookup(f->port, others, no, msg, sizeof(msg));
        ck_assert_msg(code == 0, "other slots: code %d: %s", code, msg);
        h_sleep_ms(800);
    }
}

START_TEST(test_cluster_chaos)
{
    static struct h_featd F;
    static struct reader R;
    load_cfg();
    long long t0 = h_now_ms();
    if (!harness_cluster_start(&C, 3, 1)) {
        return;     /* no redis-server / redis-cli: skipped (printed) */
    }
    printf("chaos: cluster of %d nodes up in %lld ms\n", C.nnodes, h_now_ms() - t0);
    phase_seeds_down(&F);
    load_snapshot(&F, 1);
    harness_cluster_wait_synced(&C, 10000);
    reader_start(&R, F.port);
    reader_wait_gen(&R, 1, 5000);
    reader_verdict(&R, "steady", 0, true);
    phase_failovers(&R);
    phase_reshard(&R, &F);
    reader_stop(&R);
    phase_bad_topology(&F);
    h_featd_stop(&F);
    harness_cluster_stop(&C);
    printf("chaos: cluster test took %lld ms\n", h_now_ms() - t0);
}
END_TEST

/* ---- Sentinel ---- */

static struct hsentinel S;

/* The generation (number) the current pointer on data node i names, 0 when none. */
static long long data_current(int i)
{
    struct fbuf key = { 0 };
    ck_assert_int_eq(online_key_current(&key, PREFIX, config_find_view(cfg, "cv")), FEATD_OK);
    redisReply *r = harness_sentinel_data_cmd(&S, i, "GET %b", key.data, key.len);
    fbuf_free(&key);
    ck_assert_ptr_nonnull(r);
    long long g = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    return g;
}

START_TEST(test_sentinel_chaos)
{
    static struct h_featd F;
    static struct reader R;
    load_cfg();
    if (!harness_sentinel_start(&S)) {
        return;
    }
    char redis_json[512];
    snprintf(redis_json, sizeof(redis_json),
             "\"sentinel\": { \"master_name\": \"" HS_MASTER_NAME "\", \"nodes\": [\"127.0.0.1:%d\", "
             "\"127.0.0.1:%d\", \"127.0.0.1:%d\"] }", S.sentinels[0].port, S.sentinels[1].port, S.sentinels[2].port);
    start_featd(&F, redis_json);
    wait_ready(&F, 10000);
    load_snapshot(&F, 1);
    harness_sentinel_wait_synced(&S, 10000);
    reader_start(&R, F.port);
    reader_wait_gen(&R, 1, 5000);
    reader_reset(&R);
    h_sleep_ms(300);

    int old = S.master;
    long long g1 = data_current(old);
    ck_assert_int_ne(g1, 0);
    harness_sentinel_kill_data(&S, old);
    long long t0 = h_now_ms();
    harness_sentinel_wait_new_master(&S, old, 20000);
    reader_mark(&R);
    long long ts = h_now_ms();
    long long served = reader_wait_ok(&R, 15000, "sentinel master killed");
    printf("chaos: sentinel: master killed, switch after %lld ms, correct answers %lld ms after the switch\n",
           ts - t0, served);
    h_sleep_ms(300);
    reader_verdict(&R, "sentinel master SIGKILLed", -1, true);

    /* the old master comes back believing it is a master; the next snapshot
     * goes to the new master only */
    harness_sentinel_restart_data(&S, old);
    bool old_was_master = harness_sentinel_is_master(&S, old);
    reader_reset(&R);
    load_snapshot(&F, 2);
    long long g2 = data_current(S.master);
    ck_assert_msg(g2 > g1, "new master: generation %lld after %lld", g2, g1);
    bool old_replica = !harness_sentinel_is_master(&S, old);
    long long g_old = data_current(old);
    printf("chaos: sentinel: old master restarted (ROLE master at restart: %d); after the snapshot: generation "
           "%lld on the new master, %lld on the old one (now %s)\n", old_was_master, g2, g_old,
           old_replica ? "a replica" : "a master");
    /* the old node holds no new generation (pointer or row) unless it is
     * by now a replica of the new master */
    ck_assert_msg(old_replica || g_old != g2, "snapshot written to the old master");
    if (!old_replica) {
        struct fbuf key = { 0 };
        struct online_key k = { .i = 1 };
        char field[ONLINE_FIELD_MAX];
        size_t flen = online_key_field(field, (uint64_t)g2);
        ck_assert_int_eq(online_key_row(&key, PREFIX, config_find_view(cfg, "cv"), &k), FEATD_OK);
        redisReply *r = harness_sentinel_data_cmd(&S, old, "HGET %b %b", key.data, key.len, field, flen);
        ck_assert_msg(r != NULL && r->type == REDIS_REPLY_NIL, "a new row on the old master");
        freeReplyObject(r);
        fbuf_free(&key);
    }
    reader_wait_gen(&R, 2, 15000);    /* a loaded CI host: Sentinel may still be reconfiguring the old master */
    reader_verdict(&R, "sentinel next snapshot", -1, false);
    reader_stop(&R);
    h_featd_stop(&F);
    harness_sentinel_stop(&S);
}
END_TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);   /* the measured lines survive a failing test */
    Suite *s = suite_create("e2e_cluster_chaos");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, test_cluster_chaos);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("sentinel");
    tcase_set_timeout(ts, 90);
    tcase_add_test(ts, test_sentinel_chaos);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    harness_sentinel_stop(&S);
    harness_cluster_stop(&C);
    config_free(cfg);
    return failed ? 1 : 0;
}
