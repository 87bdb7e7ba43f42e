/*
 * e2e_materialize.c — end-to-end tests of the materializer: a real
 * redis-server, the real featd binary (its materializer thread, or
 * `featd materialize`), Parquet files written by DuckDB
 * (tests/fixtures/materialize, see its README) and lookups through
 * libfeatd. Every lookup is compared with DuckDB's independently computed
 * latest row per entity (*.expected.json).
 *
 * Snapshots are placed into a view's source directory the way writers do
 * it: copied under a hidden name, then renamed into place.
 */
#include <check.h>
#include <limits.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "featd_client.h"
#include "harness.h"
#include "harness_expect.h"
#include "online/online.h"
#include "core/fbuf.h"
#include "core/util.h"

#define FIX "tests/fixtures/materialize"
#define PREFIX "mat"
#define BIG_N 60000

static struct h_redis R;
static struct h_featd F;
static char src[256];           /* temp root of the views' sources */
static char cfg_json[16384];
static struct featd_config *cfg;
static int64_t T0;              /* fixture reference time (µs) */
static int64_t fresh_ttl;       /* ttl_seconds of view fresh */
static int port, admin;

#define CFG_FMT \
    "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\", \"workers\": 2," \
    "    \"max_entities_per_request\": 1000, \"request_timeout_ms\": 2000, \"log_level\": \"info\" }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:%d/0\", \"key_prefix\": \"" PREFIX "\" }," \
    "  \"entities\": [" \
    "    { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] }," \
    "    { \"name\": \"event\", \"join_keys\": [ { \"name\": \"event_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"thing\", \"join_keys\": [ { \"name\": \"id\", \"type\": \"int64\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"cust\", \"entities\": [\"customer\"], \"features\": [" \
    "      {\"name\":\"revenue\",\"type\":\"double\"},{\"name\":\"orders\",\"type\":\"int64\"}," \
    "      {\"name\":\"score\",\"type\":\"float\"},{\"name\":\"ratio\",\"type\":\"double\"}," \
    "      {\"name\":\"active\",\"type\":\"bool\"},{\"name\":\"name\",\"type\":\"string\"}," \
    "      {\"name\":\"blob\",\"type\":\"bytes\"},{\"name\":\"last_seen\",\"type\":\"timestamp\"}," \
    "      {\"name\":\"embedding\",\"type\":\"float_list\"},{\"name\":\"tags\",\"type\":\"string_list\"}," \
    "      {\"name\":\"counts\",\"type\":\"int64_list\"},{\"name\":\"weights\",\"type\":\"double_list\"}," \
    "      {\"name\":\"small\",\"type\":\"int32\"} ]," \
    "      \"source\": { \"path\": \"%s/cust\", \"event_timestamp_column\": \"event_ts\"," \
    "        \"created_timestamp_column\": \"created\", \"columns\": {\"revenue\": \"rev\"} }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } }," \
    "    { \"name\": \"user_item\", \"entities\": [\"user\", \"item\"], \"features\": [" \
    "      {\"name\":\"score\",\"type\":\"double\"},{\"name\":\"clicks\",\"type\":\"int64\"} ]," \
    "      \"source\": { \"path\": \"%s/ui/*.parquet\", \"event_timestamp_column\": \"event_ts\" }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } }," \
    "    { \"name\": \"events\", \"entities\": [\"event\"], \"features\": [" \
    "      {\"name\":\"val\",\"type\":\"int64\"},{\"name\":\"label\",\"type\":\"string\"} ]," \
    "      \"source\": { \"path\": \"%s/inc\", \"event_timestamp_column\": \"event_ts\"," \
    "        \"created_timestamp_column\": \"created\" }," \
    "      \"materialization\": { \"mode\": \"incremental\", \"interval_seconds\": 1 } }," \
    "    { \"name\": \"fresh\", \"entities\": [\"thing\"], \"ttl_seconds\": %lld, \"features\": [" \
    "      {\"name\":\"x\",\"type\":\"int64\"} ]," \
    "      \"source\": { \"path\": \"%s/ttl\", \"event_timestamp_column\": \"event_ts\" }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } }," \
    "    { \"name\": \"big\", \"entities\": [\"thing\"], \"features\": [" \
    "      {\"name\":\"v\",\"type\":\"int64\"},{\"name\":\"s\",\"type\":\"string\"} ]," \
    "      \"source\": { \"path\": \"%s/big\", \"event_timestamp_column\": \"event_ts\" }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } } ] }"

/* ---- small helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void sh(const char *fmt, ...) FEATD_PRINTF(1, 2);

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* Copies fixture path rel into <src>/<dst> like a writer: to a hidden name
 * first, then rename (so a poll never sees a half-copied snapshot). */
static void put(const char *rel, const char *dst)
{
    char d[512];
    snprintf(d, sizeof(d), "%s/%s", src, dst);
    char *slash = strrchr(d, '/');
    *slash = '\0';
    sh("mkdir -p '%s' && cp -r '" FIX "/%s' '%s/.incoming' && mv '%s/.incoming' '%s/%s'", d, rel,
       d, d, d, slash + 1);
}

static void rm_src(const char *dst)
{
    sh("rm -rf '%s/%s'", src, dst);
}

static const struct cfg_view *view(const char *name)
{
    const struct cfg_view *v = config_find_view(cfg, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

static redisContext *rconn(void)
{
    struct timeval tv = { 5, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", R.port, tv);
    ck_assert_msg(c && !c->err, "connect to test redis");
    redisSetTimeout(c, tv);
    return c;
}

/* HGET of the view's progress hash into out ("" when absent). */
static void prog(redisContext *c, const char *vname, const char *field, char *out, size_t cap)
{
    struct fbuf k = { 0 };
    ck_assert_int_eq(online_key_meta(&k, PREFIX, view(vname), "progress"), FEATD_OK);
    redisReply *r = redisCommand(c, "HGET %b %s", k.data, k.len, field);
    fbuf_free(&k);
    out[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING) {
        snprintf(out, cap, "%.*s", (int)r->len, r->str);
    }
    freeReplyObject(r);
}

static int64_t prog_i64(redisContext *c, const char *vname, const char *field)
{
    char b[64];
    prog(c, vname, field, b, sizeof(b));
    return b[0] ? strtoll(b, NULL, 10) : 0;
}

static uint64_t current_gen(redisContext *c, const char *vname)
{
    uint64_t g = 0;
    char err[256];
    ck_assert_msg(online_gen_current(c, PREFIX, view(vname), &g, err, sizeof(err)) == FEATD_OK,
                  "%s", err);
    return g;
}

/* Waits until progress field == want (and, when state is not NULL, the
 * state field == state). Dumps the featd log on timeout. */
static void wait_prog(const char *vname, const char *field, const char *want, const char *state,
                      int timeout_ms)
{
    redisContext *c = rconn();
    long long end = now_ms() + timeout_ms;
    char got[1200] = "", st[64] = "";
    for (;;) {
        prog(c, vname, field, got, sizeof(got));
        if (state) {
            prog(c, vname, "state", st, sizeof(st));
        }
        if (strcmp(got, want) == 0 && (state == NULL || strcmp(st, state) == 0)) {
            break;
        }
        if (now_ms() > end) {
            char err[1200];
            prog(c, vname, "last_error", err, sizeof(err));
            sh("tail -n 40 '%s' >&2 || true", F.log_path);
            ck_abort_msg("view %s: progress %s is \"%s\" (state \"%s\"), waited for \"%s\"%s%s; "
                         "last_error \"%s\"", vname, field, got, st, want, state ? " state " : "",
                         state ? state : "", err);
        }
        sleep_ms(20);
    }
    redisFree(c);
}

static bool log_has(const struct h_featd *f, const char *needle)
{
    FILE *fp = fopen(f->log_path, "r");
    if (fp == NULL) {
        return false;
    }
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), fp)) {
        found = strstr(line, needle) != NULL;
    }
    fclose(fp);
    return found;
}

static int log_count(const struct h_featd *f, const char *needle)
{
    FILE *fp = fopen(f->log_path, "r");
    if (fp == NULL) {
        return 0;
    }
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), fp)) {
        n += strstr(line, needle) != NULL;
    }
    fclose(fp);
    return n;
}

/* Fields of the entity hashes (a SCAN over them, one pipelined command per
 * key and page): of the ng generations gens, or all of them (ng 0). Stops
 * early once stop_at are counted. */
static long long count_fields(redisContext *c, const uint64_t *gens, size_t ng, long long stop_at)
{
    struct fbuf pat = { 0 };
    ck_assert_int_eq(online_key_row_pattern(&pat, PREFIX), FEATD_OK);
    long long n = 0;
    char cursor[32] = "0";
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %b COUNT 5000", cursor, pat.data, pat.len);
        ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        size_t sent = 0;
        for (size_t k = 0; k < r->element[1]->elements; k++) {
            const redisReply *key = r->element[1]->element[k];
            for (size_t i = 0; i < (ng ? ng : 1); i++, sent++) {
                char field[ONLINE_FIELD_MAX];
                size_t flen = ng ? online_key_field(field, gens[i]) : 0;
                ck_assert_int_eq(ng ? redisAppendCommand(c, "HEXISTS %b %b", key->str, key->len,
                                                         field, flen)
                                    : redisAppendCommand(c, "HLEN %b", key->str, key->len),
                                 REDIS_OK);
            }
        }
        for (size_t k = 0; k < sent; k++) {
            void *rv = NULL;
            ck_assert_int_eq(redisGetReply(c, &rv), REDIS_OK);
            redisReply *e = rv;
            ck_assert(e && e->type == REDIS_REPLY_INTEGER);
            n += e->integer;
            freeReplyObject(e);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && n < stop_at);
    fbuf_free(&pat);
    return n;
}

/* Rows of the view in Redis, in every generation it may still have: the
 * current one and those its progress hash names (previous, pending, left
 * to reclaim), counted as those generations' fields in the entity hashes. */
static long long count_row_keys(const char *vname)
{
    redisContext *c = rconn();
    uint64_t gens[4];
    size_t ng = 0;
    uint64_t cand[4] = { current_gen(c, vname), (uint64_t)prog_i64(c, vname, "prev_generation"),
                         (uint64_t)prog_i64(c, vname, "pending_generation"),
                         (uint64_t)prog_i64(c, vname, "reclaim_generation") };
    for (size_t i = 0; i < 4; i++) {
        bool dup = cand[i] == 0;
        for (size_t j = 0; j < ng && !dup; j++) {
            dup = gens[j] == cand[i];
        }
        if (!dup) {
            gens[ng++] = cand[i];
        }
    }
    long long n = ng ? count_fields(c, gens, ng, LLONG_MAX) : 0;
    redisFree(c);
    return n;
}

/* The previous generation is deleted (paced, ONLINE_RECLAIM_DELAY_MS after
 * the flip) after a run is recorded: waits until the view holds exactly n
 * rows. */
static void wait_row_keys(const char *vname, long long n)
{
    long long end = now_ms() + 60000, got;
    while ((got = count_row_keys(vname)) != n) {
        ck_assert_msg(now_ms() < end, "view %s: %lld row keys, waited for %lld", vname, got, n);
        sleep_ms(50);
    }
}

static struct featd_client *cli(int p)
{
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", p, 5000, err, sizeof(err));
    ck_assert_msg(c != NULL, "connect: %s", err);
    return c;
}

/* ---- comparing lookups with the expected JSON (harness_expect.h) ---- */

static size_t check_expected(int p, const char *vname, const char *expected_file,
                             const struct harness_ent *universe, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), FIX "/%s", expected_file);
    return harness_expect_lookups(p, view(vname), path, universe, n);
}

static struct harness_ent *int_universe(int64_t lo, int64_t hi, size_t *n)
{
    return harness_expect_int_universe(lo, hi, n);
}

/* ---- fixtures ---- */

static void write_config(void)
{
    port = h_free_port();
    admin = h_free_port();
    snprintf(cfg_json, sizeof(cfg_json), CFG_FMT, port, admin, R.port, src, src, src,
             (long long)fresh_ttl, src, src);
    char err[4096];
    config_free(cfg);
    cfg = NULL;
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s",
                  err);
}

static void setup(void)
{
    FILE *fp = fopen(FIX "/T0", "r");
    ck_assert_msg(fp != NULL, FIX "/T0 missing (run from the repository root)");
    long long t0 = 0;
    ck_assert_int_eq(fscanf(fp, "%lld", &t0), 1);
    fclose(fp);
    T0 = t0;
    /* the row at T0 - 1 h is 3 h older than the ttl: OUTSIDE_MAX_AGE, still
     * inside the storage grace (grace = ttl); T0 + 1 day is fresh; 1990 is
     * past the grace: not written */
    fresh_ttl = (util_now_us() - T0) / 1000000 - 7200;
    h_redis_start(&R);
    h_tempdir(src, "matsrc");
    sh("mkdir -p '%s/cust' '%s/ui' '%s/inc' '%s/ttl' '%s/big'", src, src, src, src, src);
    write_config();
}

static void teardown(void)
{
    h_featd_stop(&F);
    h_redis_stop(&R);
    config_free(cfg);
    cfg = NULL;
    if (getenv("FEATD_KEEP_TMP") == NULL) {
        sh("rm -rf '%s'", src);
    }
}

/* ---- tests ---- */

/* Runs `featd-cli materialize status --config F ARGS`; returns the exit
 * status, stdout in out. */
static int run_status(const char *config_path, const char *args, char *out, size_t cap)
{
    char cmd[1024], outp[300];
    snprintf(outp, sizeof(outp), "%s/status.out", src);
    snprintf(cmd, sizeof(cmd), "'%s' materialize status --config '%s' %s > '%s'",
             h_bin("featd-cli"), config_path, args, outp);
    int st = system(cmd);
    FILE *fp = fopen(outp, "r");
    size_t n = fp ? fread(out, 1, cap - 1, fp) : 0;
    out[n] = '\0';
    if (fp) {
        fclose(fp);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The status JSON of one view (a new reference). */
static json_t *status_json(const char *config_path, const char *vname, int want_rc)
{
    static char out[65536];
    char args[200];
    snprintf(args, sizeof(args), "--view %s --json", vname);
    ck_assert_int_eq(run_status(config_path, args, out, sizeof(out)), want_rc);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    ck_assert_msg(root != NULL, "status JSON: %s\n%s", jerr.text, out);
    json_t *v = json_incref(json_array_get(json_object_get(root, "views"), 0));
    json_decref(root);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(v, "view")), vname);
    return v;
}


/* GET /readyz with curl: the status code; the body into body[0..cap). */
static int readyz(char *body, size_t cap)
{
    char path[300], cmd[1024];
    snprintf(path, sizeof(path), "%s/readyz.txt", src);
    snprintf(cmd, sizeof(cmd), "curl -s -o '%s' -w '%%{http_code}' http://127.0.0.1:%d/readyz", path,
             admin);
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(pp);
    int code = 0;
    ck_assert_int_eq(fscanf(pp, "%d", &code), 1);
    pclose(pp);
    FILE *fp = fopen(path, "r");
    size_t n = fp ? fread(body, 1, cap - 1, fp) : 0;
    body[n] = '\0';
    if (fp) {
        fclose(fp);
    }
    return code;
}

/* Waits until /readyz answers code with needle in its body. */
static void wait_readyz(int code, const char *needle)
{
    char body[2048];
    int got = 0;
    for (int i = 0; i < 200; i++) {
        got = readyz(body, sizeof(body));
        if (got == code && (strcmp(needle, "ready\n") == 0 ? strcmp(body, needle) == 0
                                                           : strstr(body, needle) != NULL)) {
            return;
        }
        sleep_ms(100);
    }
    ck_abort_msg("/readyz: want %d with \"%s\", got %d: %s", code, needle, got, body);
}

/* Upgrading from online layout v1: a view whose data is only in v1 makes
 * featd unready (saying why) until it is re-materialized into v2; then
 * ready, naming the v1 keys left; `featd-cli materialize purge-old-layout`
 * removes exactly those keys, and /readyz says plain "ready". */
START_TEST(test_upgrade_from_layout_v1)
{
    redisContext *c = rconn();
    const struct cfg_view *v = view("cust");
    char k[256];
    snprintf(k, sizeof(k), "%s:v1:cust:%s:current", PREFIX, v->fingerprint_hex);
    redisReply *r = redisCommand(c, "SET %s 3", k);
    freeReplyObject(r);
    for (int i = 1; i <= 50; i++) {
        r = redisCommand(c, "SET %s:v1:cust:%s:g3:i%d row", PREFIX, v->fingerprint_hex, i);
        freeReplyObject(r);
    }
    r = redisCommand(c, "SET %s:v1:cust:lease someone", PREFIX);
    freeReplyObject(r);
    r = redisCommand(c, "SET %s:v1:custard:%s:current 9", PREFIX, v->fingerprint_hex);   /* another view's */
    freeReplyObject(r);

    h_featd_start(&F, cfg_json);
    wait_readyz(503, "being re-materialized into online layout v2");
    wait_readyz(503, "cust");
    ck_assert(log_has(&F, "view cust: its data is in the previous online layout v1"));

    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 20000);
    wait_readyz(200, "still have online layout v1 keys");
    size_t n;
    struct harness_ent *u = int_universe(0, 305, &n);
    ck_assert_uint_eq(check_expected(F.port, "cust", "cust_snap1.expected.json", u, n), 299);
    free(u);

    char out[4096], cmd[1024], outp[300];
    snprintf(outp, sizeof(outp), "%s/purge.out", src);
    snprintf(cmd, sizeof(cmd), "'%s' materialize purge-old-layout --config '%s' --view cust > '%s'",
             h_bin("featd-cli"), F.config_path, outp);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    FILE *fp = fopen(outp, "r");
    ck_assert_ptr_nonnull(fp);
    size_t got = fread(out, 1, sizeof(out) - 1, fp);
    out[got] = '\0';
    fclose(fp);
    ck_assert_msg(strstr(out, "view cust: 52 keys of online layout v1 removed") != NULL, "%s", out);
    r = redisCommand(c, "EXISTS %s", k);
    ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS %s:v1:custard:%s:current", PREFIX, v->fingerprint_hex);
    ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);    /* not cust's: kept */
    freeReplyObject(r);
    wait_readyz(200, "ready\n");     /* at cust's next poll */
    char body[2048];
    ck_assert_int_eq(readyz(body, sizeof(body)), 200);
    ck_assert_str_eq(body, "ready\n");

    /* usage errors */
    snprintf(cmd, sizeof(cmd), "'%s' materialize purge-old-layout --config '%s' --view nosuch "
             ">/dev/null 2>&1", h_bin("featd-cli"), F.config_path);
    st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    redisFree(c);
}
END_TEST

START_TEST(test_snapshot_equals_duckdb)
{
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    put("ui/2025-01-01.parquet", "ui/2025-01-01.parquet");
    h_featd_start(&F, cfg_json);
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 20000);
    wait_prog("user_item", "snapshot", "2025-01-01.parquet", "idle", 20000);

    size_t n;
    struct harness_ent *u = int_universe(0, 305, &n);
    ck_assert_uint_eq(check_expected(F.port, "cust", "cust_snap1.expected.json", u, n), 299);
    /* featd-cli materialize status: text and JSON */
    char out[16384];
    ck_assert_int_eq(run_status(F.config_path, "", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "view cust (snapshot, every 1 s") && strstr(out, "state          idle") &&
                  strstr(out, "snapshot snap_2025-01-01") && strstr(out, "746 rows read, 299 written") &&
                  strstr(out, "view user_item") && strstr(out, "lag "), "%s", out);
    json_t *st = status_json(F.config_path, "cust", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "rows_written")), 299);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "rows_rejected")), 3);
    ck_assert(json_is_true(json_object_get(st, "healthy")));
    ck_assert(json_real_value(json_object_get(st, "lag_seconds")) > 0);
    ck_assert(json_integer_value(json_object_get(st, "duration_ms")) >= 0);
    json_decref(st);
    redisContext *c = rconn();
    ck_assert_int_eq(prog_i64(c, "cust", "rows_read"), 746);
    ck_assert_int_eq(prog_i64(c, "cust", "rows_written"), 299);
    ck_assert_int_eq(prog_i64(c, "cust", "rows_rejected"), 3);
    ck_assert_int_eq(prog_i64(c, "cust", "rows_skipped_stale"), 746 - 299 - 3);
    ck_assert_int_eq(prog_i64(c, "cust", "files"), 2);
    uint64_t g1 = current_gen(c, "cust");
    ck_assert_uint_eq((uint64_t)prog_i64(c, "cust", "generation"), g1);

    /* composite keys: every (user, item) pair incl. "", ":" and absent ones */
    const char *items[] = { "a", "b", "with:colon", "s3:x", "", "zzz" };
    struct harness_ent cu[21 * 6];
    size_t k = 0;
    for (int64_t us = 1; us <= 21; us++) {
        for (size_t it = 0; it < 6; it++) {
            cu[k].i = us;
            cu[k].s = items[it];
            k++;
        }
    }
    ck_assert_uint_eq(check_expected(F.port, "user_item", "ui.expected.json", cu, k), 66);

    /* the next snapshot: all values differ, every third entity gone */
    put("cust/snap_2025-01-02", "cust/snap_2025-01-02");
    wait_prog("cust", "snapshot", "snap_2025-01-02", "idle", 20000);
    ck_assert_uint_eq(check_expected(F.port, "cust", "cust_snap2.expected.json", u, n), 200);
    uint64_t g2 = current_gen(c, "cust");
    ck_assert_uint_gt(g2, g1);
    /* the previous generation was reclaimed: only the 200 rows remain */
    wait_row_keys("cust", 200);
    ck_assert(log_has(&F, "snapshot snap_2025-01-02 applied as generation"));
    /* nothing new: no further run, no writes */
    sleep_ms(2500);
    ck_assert_uint_eq(current_gen(c, "cust"), g2);
    ck_assert_int_eq(prog_i64(c, "cust", "runs_ok"), 2);
    redisFree(c);
    free(u);
}
END_TEST

/* The value of "<family>{view=\"<vname>\"} v" (vname NULL: "<family> v")
 * on the admin /metrics page
 * (fetched with curl into <src>/metrics.txt, checked by promtool when it is
 * installed); NAN when absent. */
static double scrape(const char *family, const char *vname)
{
    char path[300], cmd[1024];
    snprintf(path, sizeof(path), "%s/metrics.txt", src);
    sh("curl -sf -o '%s' http://127.0.0.1:%d/metrics", path, admin);
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s.out' 2>&1", path, path);
        ck_assert_msg(system(cmd) == 0, "promtool check metrics failed (see %s.out)", path);
        struct stat st;
        ck_assert(stat(strcat(strcpy(cmd, path), ".out"), &st) == 0 && st.st_size == 0);
    }
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    char pre[256], line[1024];
    if (vname != NULL) {
        snprintf(pre, sizeof(pre), "%s{view=\"%s\"} ", family, vname);
    } else {
        snprintf(pre, sizeof(pre), "%s ", family);
    }
    double d = NAN;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, pre, strlen(pre)) == 0) {
            char *end;
            d = strtod(line + strlen(pre), &end);
            ck_assert_msg(*end == '\n', "bad sample: %s", line);
        }
    }
    fclose(fp);
    return d;
}

/* Scrapes family{view} until its value is in [lo, hi] (up to 10 s: the
 * statistics follow the progress hash at the next poll); returns the last
 * value seen. */
static double scrape_until(const char *family, const char *vname, double lo, double hi)
{
    long long t0 = now_ms();
    double d;
    while (!((d = scrape(family, vname)) >= lo && d <= hi) && now_ms() - t0 < 10000) {
        sleep_ms(200);
    }
    return d;
}

/* Issue #12 failure 5: extreme, negative and future event times in the
 * progress hash (as any replica or a data file can put there) give a
 * /metrics page that parses, with finite non-negative lag gauges; the
 * materialization clock (seconds since success) is unaffected by them. */
START_TEST(test_lag_metrics_extreme_times)
{
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 20000);
    double since = scrape_until("featd_materializer_seconds_since_success", "cust", 0, 30);
    ck_assert_msg(since >= 0 && since < 30, "%g", since);
    double lag0 = scrape_until("featd_materializer_lag_seconds", "cust", 1, 1e10);
    ck_assert_msg(lag0 >= 1 && isfinite(lag0), "%g", lag0);

    int64_t now = util_now_us();
    static const int64_t hour = INT64_C(3600000000);
    const struct {
        int64_t ev;
        double min_lag, max_lag, min_ahead, max_ahead;
    } cases[] = {
        { INT64_MIN + 1, 9.2e12, 9.3e12, 0, 0 },
        { INT64_MAX, 0, 0, 9.2e12 - 2e9, 9.3e12 },
        { INT64_C(253402300799999999), 0, 0, 2.4e11, 2.6e11 },     /* year 9999 */
        { -INT64_C(1000000), 1.7e9, 1e10, 0, 0 },                  /* 1969 */
        { now + hour, 0, 0, 3000, 3600 },                           /* future-dated */
        { now - hour, 3600, 4000, 0, 0 },
    };
    redisContext *c = rconn();
    struct fbuf k = { 0 };
    ck_assert_int_eq(online_key_meta(&k, PREFIX, view("cust"), "progress"), FEATD_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply *r = redisCommand(c, "HSET %b max_event_ts_us %lld", k.data, k.len,
                                     (long long)cases[i].ev);
        ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        double lag = scrape_until("featd_materializer_lag_seconds", "cust", cases[i].min_lag,
                                  cases[i].max_lag);
        double ahead = scrape_until("featd_materializer_event_time_ahead_seconds", "cust",
                                    cases[i].min_ahead, cases[i].max_ahead);
        ck_assert_msg(lag >= cases[i].min_lag && lag <= cases[i].max_lag, "case %zu: lag %g", i, lag);
        ck_assert_msg(ahead >= cases[i].min_ahead && ahead <= cases[i].max_ahead,
                      "case %zu: ahead %g", i, ahead);
        since = scrape("featd_materializer_seconds_since_success", "cust");
        ck_assert_msg(since >= 0 && since < 60, "case %zu: since %g", i, since);
    }
    /* a success time from a replica whose clock runs ahead: 0, not negative */
    redisReply *r = redisCommand(c, "HSET %b last_success_at_us %lld", k.data, k.len,
                                 (long long)INT64_MAX);
    ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    since = scrape_until("featd_materializer_seconds_since_success", "cust", 0, 0);
    ck_assert_msg(since == 0, "%g", since);
    fbuf_free(&k);
    redisFree(c);
}
END_TEST

START_TEST(test_ttl_statuses)
{
    put("ttl/data.parquet", "ttl/data.parquet");
    h_featd_start(&F, cfg_json);
    wait_prog("fresh", "snapshot", "data.parquet", "idle", 20000);
    redisContext *c = rconn();
    ck_assert_int_eq(prog_i64(c, "fresh", "rows_skipped_expired"), 1);
    ck_assert_int_eq(prog_i64(c, "fresh", "rows_written"), 2);
    ck_assert_int_eq(prog_i64(c, "fresh", "rows_outside_max_age"), 1);
    redisFree(c);
    struct featd_client *fc = cli(F.port);
    struct featd_get *g = featd_get_new();
    featd_get_add_feature(g, "fresh:x");
    for (int i = 1; i <= 3; i++) {
        featd_get_add_int64(g, "id", i);
    }
    Featd__V1__Response *resp = NULL;
    ck_assert_msg(featd_lookup(fc, g, &resp) == FEATD_OK, "%s", featd_errmsg(fc));
    const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
    ck_assert_int_eq(featd_resp_status(r, 0, 0), FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE);
    ck_assert_int_eq(featd_resp_value(r, 0, 0)->int64_val, 10);    /* value still returned */
    ck_assert_int_eq(featd_resp_status(r, 0, 1), FEATD__V1__FIELD_STATUS__PRESENT);
    ck_assert_int_eq(featd_resp_value(r, 0, 1)->int64_val, 20);
    ck_assert_int_eq(featd_resp_status(r, 0, 2), FEATD__V1__FIELD_STATUS__NOT_FOUND);
    featd_response_free(resp);
    featd_get_free(g);
    featd_close(fc);
    /* storage expiry: event + ttl + grace (grace = ttl here) */
    c = rconn();
    struct fbuf key = { 0 };
    struct online_key k1 = { .i = 2 };
    ck_assert_int_eq(online_key_row(&key, PREFIX, view("fresh"), &k1), FEATD_OK);
    char field[ONLINE_FIELD_MAX];
    size_t flen = online_key_field(field, current_gen(c, "fresh"));
    redisReply *pt = redisCommand(c, "HLEN %b", key.data, key.len);
    ck_assert(pt && pt->type == REDIS_REPLY_INTEGER);
    ck_assert_int_eq(pt->integer, 1);     /* the entity's hash holds fresh's row alone... */
    freeReplyObject(pt);
    pt = redisCommand(c, "HEXISTS %b %b", key.data, key.len, field, flen);
    ck_assert(pt && pt->type == REDIS_REPLY_INTEGER);
    ck_assert_int_eq(pt->integer, 1);     /* ... in the current generation ... */
    freeReplyObject(pt);
    pt = redisCommand(c, "PEXPIRETIME %b", key.data, key.len);    /* ... so the key expires with it */
    ck_assert(pt && pt->type == REDIS_REPLY_INTEGER);
    ck_assert_int_eq(pt->integer, (T0 + 86400LL * 1000000) / 1000 + 2 * fresh_ttl * 1000);
    freeReplyObject(pt);
    fbuf_free(&key);
    redisFree(c);
}
END_TEST

START_TEST(test_incremental_lww_and_restart)
{
    put("inc/001.parquet", "inc/001.parquet");
    h_featd_start(&F, cfg_json);
    wait_prog("events", "snapshot", "001.parquet", "idle", 20000);
    size_t n;
    struct harness_ent *u = int_universe(1, 165, &n);
    ck_assert_uint_eq(check_expected(F.port, "events", "inc_001.expected.json", u, n), 100);
    /* 002 is newer for 50..150; 003 is older for 1..150 (must lose) and
     * adds 151..160 */
    put("inc/002.parquet", "inc/002.parquet");
    put("inc/003.parquet", "inc/003.parquet");
    wait_prog("events", "snapshot", "003.parquet", "idle", 20000);
    ck_assert_uint_eq(check_expected(F.port, "events", "inc_all.expected.json", u, n), 160);
    redisContext *c = rconn();
    struct fbuf fk = { 0 };
    ck_assert_int_eq(online_key_meta(&fk, PREFIX, view("events"), "files"), FEATD_OK);
    redisReply *before = redisCommand(c, "HGETALL %b", fk.data, fk.len);
    ck_assert(before && before->type == REDIS_REPLY_ARRAY && before->elements == 6);
    int64_t runs = prog_i64(c, "events", "runs_ok");
    uint64_t gen = current_gen(c, "events");
    /* a restarted daemon does not redo finished files */
    h_featd_stop(&F);
    h_featd_start(&F, cfg_json);
    sleep_ms(3000);
    redisReply *after = redisCommand(c, "HGETALL %b", fk.data, fk.len);
    ck_assert(after && after->type == REDIS_REPLY_ARRAY && after->elements == before->elements);
    for (size_t i = 0; i < after->elements; i++) {
        ck_assert_str_eq(after->element[i]->str, before->element[i]->str);
    }
    ck_assert_int_eq(prog_i64(c, "events", "runs_ok"), runs);
    ck_assert_uint_eq(current_gen(c, "events"), gen);
    ck_assert(!log_has(&F, "upserted into generation"));
    freeReplyObject(before);
    freeReplyObject(after);
    /* a bad file is rejected alone; the others stay applied */
    sh("printf 'PAR1garbagePAR1' > '%s/inc/004.parquet'", src);
    wait_prog("events", "state", "rejected", NULL, 20000);
    char why[1200];
    prog(c, "events", "rejected_reason", why, sizeof(why));
    ck_assert_msg(strstr(why, "004.parquet") != NULL, "%s", why);
    ck_assert_uint_eq(check_expected(F.port, "events", "inc_all.expected.json", u, n), 160);
    fbuf_free(&fk);
    redisFree(c);
    free(u);
}
END_TEST

/* One bad snapshot after a good one: not applied, old data served, reason
 * in status and log. */
static void bad_case(const char *name, const char *reason_part)
{
    wait_prog("cust", "rejected_snapshot", name, "rejected", 20000);
    redisContext *c = rconn();
    char why[1200];
    prog(c, "cust", "rejected_reason", why, sizeof(why));
    ck_assert_msg(strstr(why, reason_part) != NULL, "%s: reason \"%s\" lacks \"%s\"", name, why,
                  reason_part);
    char snap[300];
    prog(c, "cust", "snapshot", snap, sizeof(snap));
    ck_assert_str_eq(snap, "snap_2025-01-01");
    redisFree(c);
    ck_assert_msg(log_has(&F, reason_part), "the log does not say \"%s\"", reason_part);
    json_t *st = status_json(F.config_path, "cust", 1);
    ck_assert_str_eq(json_string_value(json_object_get(st, "state")), "rejected");
    ck_assert_str_eq(json_string_value(json_object_get(st, "rejected_snapshot")), name);
    ck_assert_msg(strstr(json_string_value(json_object_get(st, "rejected_reason")), reason_part),
                  "status JSON reason");
    ck_assert_str_eq(json_string_value(json_object_get(st, "snapshot")), "snap_2025-01-01");
    json_decref(st);
    size_t n;
    struct harness_ent *u = int_universe(0, 305, &n);
    check_expected(F.port, "cust", "cust_snap1.expected.json", u, n);
    free(u);
}

START_TEST(test_bad_snapshots_rejected)
{
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 20000);
    redisContext *c = rconn();
    uint64_t g1 = current_gen(c, "cust");

    put("cust_bad/missing_column", "cust/snap_2025-02-01");
    bad_case("snap_2025-02-01", "missing column 'rev'");
    rm_src("cust/snap_2025-02-01");

    put("cust_bad/wrong_type", "cust/snap_2025-02-02");
    bad_case("snap_2025-02-02", "column 'name' is INT64");
    rm_src("cust/snap_2025-02-02");

    put("cust_bad/lossy_list", "cust/snap_2025-02-03");
    bad_case("snap_2025-02-03", "not readable as float_list");
    rm_src("cust/snap_2025-02-03");

    put("cust_bad/lossy_int", "cust/snap_2025-02-04");
    bad_case("snap_2025-02-04", "not readable as int32");
    rm_src("cust/snap_2025-02-04");

    /* truncated: a real file cut in half (second file of the snapshot) */
    sh("mkdir -p '%s/cust/.t' && cp " FIX "/cust/snap_2025-01-01/part-0.parquet '%s/cust/.t/' && "
       "head -c 10000 " FIX "/cust/snap_2025-01-01/part-1.parquet > '%s/cust/.t/part-1.parquet' && "
       "touch '%s/cust/.t/_SUCCESS' && mv '%s/cust/.t' '%s/cust/snap_2025-02-05'",
       src, src, src, src, src, src);
    bad_case("snap_2025-02-05", "part-1.parquet");
    rm_src("cust/snap_2025-02-05");

    /* corrupt: the middle of a real file overwritten (page data) */
    sh("mkdir -p '%s/cust/.t' && cp " FIX "/cust/snap_2025-01-01/part-0.parquet '%s/cust/.t/' && "
       "printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of='%s/cust/.t/part-0.parquet' "
       "bs=1 seek=4 conv=notrunc status=none && touch '%s/cust/.t/_SUCCESS' && "
       "mv '%s/cust/.t' '%s/cust/snap_2025-02-06'", src, src, src, src, src, src);
    bad_case("snap_2025-02-06", "part-0.parquet");
    rm_src("cust/snap_2025-02-06");

    /* an empty file (a single-file snapshot) */
    sh(": > '%s/cust/.e' && mv '%s/cust/.e' '%s/cust/snap_2025-02-07.parquet'", src, src, src);
    bad_case("snap_2025-02-07.parquet", "is empty");
    rm_src("cust/snap_2025-02-07.parquet");

    /* not Parquet at all */
    sh("printf 'hello, world' > '%s/cust/.g' && mv '%s/cust/.g' '%s/cust/snap_2025-02-08.parquet'",
       src, src, src);
    bad_case("snap_2025-02-08.parquet", "snap_2025-02-08.parquet");
    rm_src("cust/snap_2025-02-08.parquet");

    /* a valid Parquet file with no rows: applying it would empty the view */
    put("cust_bad/zero_rows", "cust/snap_2025-02-09");
    bad_case("snap_2025-02-09", "has no rows; refusing to empty the view");
    rm_src("cust/snap_2025-02-09");

    /* a complete directory without data files */
    sh("mkdir -p '%s/cust/.z' && touch '%s/cust/.z/_SUCCESS' && "
       "mv '%s/cust/.z' '%s/cust/snap_2025-02-10'", src, src, src, src);
    bad_case("snap_2025-02-10", "no data files");
    rm_src("cust/snap_2025-02-10");

    /* a directory without _SUCCESS: not applied, status says it waits */
    sh("mkdir -p '%s/cust/.w' && cp " FIX "/cust/snap_2025-01-02/part-0.parquet '%s/cust/.w/' && "
       "mv '%s/cust/.w' '%s/cust/snap_2025-03-01'", src, src, src, src);
    wait_prog("cust", "waiting_for", "snap_2025-03-01", NULL, 20000);
    sleep_ms(1500);
    char snap[300], st[64];
    prog(c, "cust", "snapshot", snap, sizeof(snap));
    prog(c, "cust", "state", st, sizeof(st));
    ck_assert_str_eq(snap, "snap_2025-01-01");
    ck_assert_str_eq(st, "idle");
    ck_assert(log_has(&F, "snap_2025-03-01 has no _SUCCESS marker yet"));
    size_t n;
    struct harness_ent *u = int_universe(0, 305, &n);
    check_expected(F.port, "cust", "cust_snap1.expected.json", u, n);
    ck_assert_uint_eq(current_gen(c, "cust"), g1);
    /* ... until the marker arrives */
    sh("touch '%s/cust/snap_2025-03-01/_SUCCESS'", src);
    wait_prog("cust", "snapshot", "snap_2025-03-01", "idle", 20000);
    check_expected(F.port, "cust", "cust_snap2.expected.json", u, n);
    char wf[300];
    prog(c, "cust", "waiting_for", wf, sizeof(wf));
    ck_assert_str_eq(wf, "");
    /* nothing of the rejected snapshots lingers: one generation of rows */
    wait_row_keys("cust", 200);
    ck_assert_int_eq(prog_i64(c, "cust", "runs_rejected"), 10);
    free(u);
    redisFree(c);
}
END_TEST

/* ---- a reader loop checking that no response mixes snapshots ---- */

struct reader {
    int port;
    atomic_int stop;
    long responses, seen[3], mixed, notfound, errors;
    char problem[300];
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct featd_client *c = NULL;
    struct featd_get *g = featd_get_new();
    uint32_t st = 777;
    while (!atomic_load(&rd->stop)) {
        if (c == NULL) {
            char err[256];
            c = featd_connect("127.0.0.1", rd->port, 2000, err, sizeof(err));
            if (c == NULL) {
                rd->errors++;
                sleep_ms(20);
                continue;
            }
        }
        featd_get_reset(g);
        featd_get_add_feature(g, "big:v");
        featd_get_add_feature(g, "big:s");
        int64_t ids[200];
        for (int i = 0; i < 200; i++) {
            st = st * 1103515245u + 12345u;
            ids[i] = 1 + (int64_t)((st >> 8) % BIG_N);
            featd_get_add_int64(g, "id", ids[i]);
        }
        Featd__V1__Response *resp = NULL;
        if (featd_lookup(c, g, &resp) != FEATD_OK) {
            rd->errors++;      /* featd killed or restarting: reconnect */
            featd_close(c);
            c = NULL;
            featd_response_free(resp);
            sleep_ms(20);
            continue;
        }
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        int gen = 0;
        for (int i = 0; i < 200; i++) {
            int s0 = featd_resp_status(r, 0, (size_t)i), s1 = featd_resp_status(r, 1, (size_t)i);
            if (s0 != FEATD__V1__FIELD_STATUS__PRESENT || s1 != FEATD__V1__FIELD_STATUS__PRESENT) {
                if (rd->notfound++ == 0) {
                    snprintf(rd->problem, sizeof(rd->problem), "id %" PRId64 ": status %s/%s",
                             ids[i], featd_status_name(s0), featd_status_name(s1));
                }
                gen = -1;
                break;
            }
            int64_t v = featd_resp_value(r, 0, (size_t)i)->int64_val;
            const char *s = featd_resp_value(r, 1, (size_t)i)->string_val;
            int gv = (int)(v - ids[i] * 10);
            char want[32];
            snprintf(want, sizeof(want), "%c%" PRId64, gv == 1 ? 'a' : 'b', ids[i]);
            if ((gv != 1 && gv != 2) || strcmp(s, want) != 0 || (gen != 0 && gv != gen)) {
                if (rd->mixed++ == 0) {
                    snprintf(rd->problem, sizeof(rd->problem), "id %" PRId64 ": v=%" PRId64
                             " s=%s in a response of snapshot %d", ids[i], v, s, gen);
                }
                gen = -1;
                break;
            }
            gen = gv;
        }
        if (gen > 0) {
            rd->seen[gen]++;
        }
        rd->responses++;
        featd_response_free(resp);
    }
    featd_get_free(g);
    featd_close(c);
    return NULL;
}

static void check_big_all(int p, int gen)
{
    struct featd_client *c = cli(p);
    struct featd_get *g = featd_get_new();
    for (int64_t off = 1; off <= BIG_N; off += 1000) {
        featd_get_reset(g);
        featd_get_add_feature(g, "big:v");
        featd_get_add_feature(g, "big:s");
        for (int64_t id = off; id < off + 1000; id++) {
            featd_get_add_int64(g, "id", id);
        }
        Featd__V1__Response *resp = NULL;
        ck_assert_msg(featd_lookup(c, g, &resp) == FEATD_OK, "%s", featd_errmsg(c));
        const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
        for (size_t i = 0; i < 1000; i++) {
            int64_t id = off + (int64_t)i;
            ck_assert_msg(featd_resp_status(r, 0, i) == FEATD__V1__FIELD_STATUS__PRESENT,
                          "id %" PRId64 ": %s", id, featd_status_name(featd_resp_status(r, 0, i)));
            ck_assert_int_eq(featd_resp_value(r, 0, i)->int64_val, id * 10 + gen);
            char want[32];
            snprintf(want, sizeof(want), "%c%" PRId64, gen == 1 ? 'a' : 'b', id);
            ck_assert_str_eq(featd_resp_value(r, 1, i)->string_val, want);
        }
        featd_response_free(resp);
    }
    featd_get_free(g);
    featd_close(c);
}

static void reader_start(struct reader *rd, pthread_t *th, int p)
{
    memset(rd, 0, sizeof(*rd));
    rd->port = p;
    ck_assert_int_eq(pthread_create(th, NULL, reader_main, rd), 0);
    /* let it see the first snapshot */
    long long end = now_ms() + 10000;
    while (rd->seen[1] < 5 && now_ms() < end) {
        sleep_ms(10);
    }
}

static void reader_finish(struct reader *rd, pthread_t th, bool expect_b)
{
    /* keep reading the new snapshot for a while */
    long b0 = rd->seen[2];
    long long end = now_ms() + 10000;
    while (rd->seen[2] < b0 + 5 && now_ms() < end) {
        sleep_ms(10);
    }
    atomic_store(&rd->stop, 1);
    pthread_join(th, NULL);
    printf("reader: %ld responses (%ld snapshot a, %ld snapshot b), %ld mixed, %ld not found, "
           "%ld errors\n", rd->responses, rd->seen[1], rd->seen[2], rd->mixed, rd->notfound,
           rd->errors);
    ck_assert_msg(rd->mixed == 0 && rd->notfound == 0, "reader saw a partial or mixed snapshot: %s",
                  rd->problem);
    ck_assert_msg(rd->seen[1] > 0, "reader never saw snapshot a");
    if (expect_b) {
        ck_assert_msg(rd->seen[2] > 0, "reader never saw snapshot b");
    }
}

START_TEST(test_atomic_flip_under_reads)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    check_big_all(F.port, 1);
    struct reader rd;
    pthread_t th;
    reader_start(&rd, &th, F.port);
    put("big/b", "big/2025-01-02");
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    reader_finish(&rd, th, true);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
}
END_TEST

/* Rows of generation gen in the entity hashes, counting up to at least
 * stop_at (the scan stops early once there are that many). */
static long long count_gen_rows(redisContext *c, uint64_t gen, long long stop_at)
{
    return count_fields(c, &gen, 1, stop_at);
}

/* Waits until big is in its write phase with at least 2000 rows of the new
 * generation in Redis, then pauses Redis writes; returns with writes paused
 * and the run provably unfinished (a partial generation exists). */
static void catch_write_phase(redisContext *c)
{
    long long end = now_ms() + 60000;
    char ph[64];
    for (;;) {
        prog(c, "big", "phase", ph, sizeof(ph));
        uint64_t pending = (uint64_t)prog_i64(c, "big", "pending_generation");
        if (strcmp(ph, "write") == 0 && pending != 0) {
            /* pause first, count then (the count scans the keyspace: a run
             * could finish meanwhile on a slow machine); too few rows yet:
             * let it write on and look again */
            redisReply *r = redisCommand(c, "CLIENT PAUSE 30000 WRITE");
            ck_assert(r && r->type == REDIS_REPLY_STATUS);
            freeReplyObject(r);
            if (count_gen_rows(c, pending, 2000) >= 2000) {
                break;
            }
            r = redisCommand(c, "CLIENT UNPAUSE");
            freeReplyObject(r);
        }
        ck_assert_msg(now_ms() < end, "never saw the write phase");
        sleep_ms(1);
    }
    /* the flip is a write: it cannot have happened after the pause */
    ck_assert_msg(prog_i64(c, "big", "pending_generation") != 0 &&
                  (uint64_t)prog_i64(c, "big", "pending_generation") != current_gen(c, "big"),
                  "the run finished before the pause");
}

START_TEST(test_kill9_midway_then_restart)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    redisContext *c = rconn();
    uint64_t g1 = current_gen(c, "big");
    struct reader rd;
    pthread_t th;
    reader_start(&rd, &th, F.port);
    put("big/b", "big/2025-01-02");
    catch_write_phase(c);
    uint64_t pending = (uint64_t)prog_i64(c, "big", "pending_generation");
    ck_assert_int_eq(h_featd_signal_wait(&F, SIGKILL), 128 + SIGKILL);
    redisReply *r = redisCommand(c, "CLIENT UNPAUSE");
    freeReplyObject(r);
    ck_assert_uint_eq(current_gen(c, "big"), g1);
    /* part of the new generation exists, unseen */
    long long keys = count_row_keys("big");
    printf("kill -9 mid-write: %lld row keys (old generation %d + part of the new)\n", keys, BIG_N);
    ck_assert_int_ge(keys, BIG_N + 2000);
    ck_assert_int_lt(keys, 2 * BIG_N);
    /* restart: the lease of the dead process is taken over at once, the
     * pending generation reused, the snapshot finished */
    long long t0 = now_ms();
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    printf("restart to applied: %lld ms\n", now_ms() - t0);
    ck_assert(log_has(&F, "resuming generation"));
    ck_assert_uint_eq(current_gen(c, "big"), pending);
    reader_finish(&rd, th, true);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    redisFree(c);
}
END_TEST

/* Starts featd on big/a, then puts big/c (two files) and kills featd -9
 * while it writes the second file (writes paused first, so the run is
 * provably unfinished). Returns the pending generation; c stays open. */
static uint64_t kill_in_second_file(redisContext *c)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    put("big/c", "big/2025-01-03");
    long long end = now_ms() + 60000;
    uint64_t pending;
    for (;;) {
        pending = (uint64_t)prog_i64(c, "big", "pending_generation");
        if (pending != 0 && prog_i64(c, "big", "pending_files_done") >= 1) {
            break;      /* the second file's 30000 rows take far longer than this loop */
        }
        ck_assert_msg(now_ms() < end, "never saw the second file being written");
        sleep_ms(1);
    }
    redisReply *r = redisCommand(c, "CLIENT PAUSE 30000 WRITE");
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    ck_assert_uint_ne(current_gen(c, "big"), pending);
    ck_assert_int_eq(h_featd_signal_wait(&F, SIGKILL), 128 + SIGKILL);
    r = redisCommand(c, "CLIENT UNPAUSE");
    freeReplyObject(r);
    ck_assert_int_eq(prog_i64(c, "big", "pending_files_done"), 1);
    ck_assert_int_eq(prog_i64(c, "big", "pending_rows_done"), 30000);
    return pending;
}

START_TEST(test_resume_counts_rows)
{
    /* All rows of the complete first file are there: the restart resumes
     * after it (having counted them) and the result is exact. */
    redisContext *c = rconn();
    uint64_t pending = kill_in_second_file(c);
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-03", "idle", 60000);
    ck_assert(log_has(&F, "recorded for its 1 complete files"));
    ck_assert(log_has(&F, "(1 of 2 files already written)"));
    ck_assert_uint_eq(current_gen(c, "big"), pending);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    redisFree(c);
}
END_TEST

START_TEST(test_resume_refused_when_rows_lost)
{
    /* Rows of the first file vanish while featd is down (deleted here; an
     * eviction or a failover to a lagging replica does the same): the
     * progress record says the file is done, Redis says otherwise, and
     * Redis wins — the snapshot is written anew, never flipped with holes. */
    redisContext *c = rconn();
    uint64_t pending = kill_in_second_file(c);
    char field[ONLINE_FIELD_MAX];
    size_t flen = online_key_field(field, pending);
    for (int64_t id = 1; id <= 5000; id++) {  /* more than the second file can have written */
        struct fbuf k = { 0 };
        struct online_key key = { .i = id };
        ck_assert_int_eq(online_key_row(&k, PREFIX, view("big"), &key), FEATD_OK);
        redisReply *r = redisCommand(c, "HDEL %b %b", k.data, k.len, field, flen);
        ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
        freeReplyObject(r);
        fbuf_free(&k);
    }
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-03", "idle", 60000);
    ck_assert(log_has(&F, "rows recorded as written are in Redis"));
    ck_assert(!log_has(&F, "files already written)"));
    ck_assert_uint_ne(current_gen(c, "big"), pending);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    redisFree(c);
}
END_TEST

START_TEST(test_sigterm_midway_then_restart)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    redisContext *c = rconn();
    uint64_t g1 = current_gen(c, "big");
    put("big/b", "big/2025-01-02");
    catch_write_phase(c);
    kill(F.pid, SIGTERM);
    sleep_ms(300);
    redisReply *r = redisCommand(c, "CLIENT UNPAUSE");
    freeReplyObject(r);
    /* the materializer stops at a safe point; featd exits 0 */
    ck_assert_int_eq(h_featd_signal_wait(&F, 0), 0);
    ck_assert_uint_eq(current_gen(c, "big"), g1);
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    redisFree(c);
}
END_TEST

START_TEST(test_redis_restart_midway)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    redisContext *c = rconn();
    put("big/b", "big/2025-01-02");
    catch_write_phase(c);
    redisFree(c);
    /* Redis goes away mid-write (and comes back empty: no persistence) */
    h_redis_stop(&R);
    sleep_ms(500);
    h_redis_restart(&R);
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    ck_assert(log_has(&F, "materialization failed (will retry"));
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    /* a Redis that stalls (SIGSTOP) longer than the command timeout */
    put("big/a", "big/2025-01-03");
    c = rconn();
    long long end = now_ms() + 60000;
    char ph[64];
    do {
        prog(c, "big", "phase", ph, sizeof(ph));
        ck_assert(now_ms() < end);
    } while (strcmp(ph, "write") != 0);
    redisFree(c);
    h_redis_pause(&R);
    sleep_ms(6500);
    h_redis_resume(&R);
    wait_prog("big", "snapshot", "2025-01-03", "idle", 60000);
    check_big_all(F.port, 1);
    wait_row_keys("big", BIG_N);
}
END_TEST

/* An evicting Redis: with redis.eviction "refuse" (the default) featd is
 * unready and writes nothing; with "allow", a snapshot during which keys
 * were evicted is not flipped (its partial generation is removed) and
 * /readyz says how many keys went; after the operator fixes Redis and
 * reloads, the snapshot is applied. */
START_TEST(test_evicting_redis_refused)
{
    redisContext *c = rconn();
    redisReply *r = redisCommand(c, "CONFIG SET maxmemory-policy allkeys-lru");
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_readyz(503, "maxmemory-policy is allkeys-lru");
    json_t *st = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref(st);
        st = status_json(F.config_path, "big", 1);
        const char *e = json_string_value(json_object_get(st, "last_error"));
        if (e != NULL && strstr(e, "not materializing: redis maxmemory-policy is allkeys-lru")) {
            break;
        }
        sleep_ms(100);
    }
    ck_assert_str_eq(json_string_value(json_object_get(st, "state")), "failed");
    json_decref(st);
    ck_assert_uint_eq(current_gen(c, "big"), 0);
    h_featd_stop(&F);

    /* allowed, but too little memory: keys are evicted while writing */
    r = redisCommand(c, "CONFIG SET maxmemory 3mb");
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    char allow[sizeof(cfg_json)];
    char *at = strstr(cfg_json, "\"key_prefix\"");
    ck_assert_ptr_nonnull(at);
    snprintf(allow, sizeof(allow), "%.*s\"eviction\": \"allow\", %s", (int)(at - cfg_json), cfg_json, at);
    h_featd_start(&F, allow);
    wait_readyz(503, "keys since featd started");
    /* the run stops before its flip: at the eviction check, or earlier when
     * its lease was evicted too (LRU picks keys at random) */
    bool stopped = false;
    for (int i = 0; i < 200 && !stopped; i++) {
        stopped = log_has(&F, "not flipping to a generation that may miss rows") ||
                  log_has(&F, "lease was lost");
        sleep_ms(stopped ? 0 : 100);
    }
    ck_assert(stopped);
    ck_assert(log_has(&F, "redis.eviction is \"allow\""));
    ck_assert(log_has(&F, ": not materializing: redis evicted"));
    sleep_ms(1500);
    ck_assert_uint_eq(current_gen(c, "big"), 0);    /* never a silent flip */
    ck_assert(scrape("featd_redis_evicted_keys_since_start", NULL) > 0);

    /* fixed: enough memory, no eviction; a reload forgets the evictions */
    r = redisCommand(c, "CONFIG SET maxmemory 0");
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG SET maxmemory-policy noeviction");
    freeReplyObject(r);
    kill(F.pid, SIGHUP);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    ck_assert_uint_ne(current_gen(c, "big"), 0);
    check_big_all(F.port, 1);
    wait_readyz(200, "ready\n");
    redisFree(c);
}
END_TEST

/* Redis full (maxmemory with noeviction): the snapshot that hits OOM fails,
 * the old one keeps serving, its partial generation is removed at once (so
 * Redis has room again), and once there is room another view's snapshot and
 * the failed one are applied. */
START_TEST(test_redis_oom_partial_generation_removed)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    redisContext *c = rconn();
    uint64_t g1 = current_gen(c, "big");
    redisReply *r = redisCommand(c, "INFO memory");
    ck_assert(r && r->type == REDIS_REPLY_STRING);
    long long used = atoll(strstr(r->str, "used_memory:") + strlen("used_memory:"));
    freeReplyObject(r);
    r = redisCommand(c, "CONFIG SET maxmemory %lld", used + 1500000);
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);

    put("big/b", "big/2025-01-02");
    for (int i = 0; i < 300 && !log_has(&F, "reclaimed incomplete generation"); i++) {
        sleep_ms(100);
    }
    ck_assert(log_has(&F, "OOM"));
    ck_assert(log_has(&F, "reclaimed incomplete generation"));
    ck_assert_uint_eq(current_gen(c, "big"), g1);
    check_big_all(F.port, 1);                   /* the old snapshot serves */
    ck_assert_int_eq(prog_i64(c, "big", "pending_generation"), 0);
    ck_assert_int_eq(count_row_keys("big"), BIG_N);   /* nothing of the partial one left */

    /* room again: another view's snapshot and the failed one are applied */
    r = redisCommand(c, "CONFIG SET maxmemory 0");
    freeReplyObject(r);
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 60000);
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    check_big_all(F.port, 2);
    wait_row_keys("big", BIG_N);
    /* the status counted every run the metric counted, also those whose
     * status Redis refused while it was full */
    char *page = h_admin_get(F.admin_port, "/metrics");
    double failed = h_metric(page, "featd_materializer_runs_total{view=\"big\",result=\"failed\"}");
    double applied = h_metric(page, "featd_materializer_runs_total{view=\"big\",result=\"applied\"}");
    free(page);
    ck_assert_double_ge(failed, 1);
    ck_assert_double_eq(failed, (double)prog_i64(c, "big", "runs_failed"));
    ck_assert_double_eq(applied, (double)prog_i64(c, "big", "runs_ok"));
    redisFree(c);
}
END_TEST

/* A view whose polls keep failing (its source directory vanished) makes
 * /readyz 503 after materialize.unready_after_intervals (5) of its 1 s
 * intervals, naming it; ready again once a poll succeeds. */
START_TEST(test_view_failing_makes_unready)
{
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("cust", "snapshot", "snap_2025-01-01", "idle", 20000);
    wait_readyz(200, "ready\n");
    sh("mv '%s/ttl' '%s/ttl.gone'", src, src);
    long long t0 = now_ms();
    wait_readyz(503, "1 view(s) failing to materialize for over 5 intervals");
    wait_readyz(503, ": fresh");
    ck_assert_int_ge(now_ms() - t0, 4000);      /* not at the first failure */
    sh("mv '%s/ttl.gone' '%s/ttl'", src, src);
    wait_readyz(200, "ready\n");
}
END_TEST

/* FLUSHALL while a snapshot is being written (issue 12, failure 1): the
 * run notices (lost lease, its generation no longer registered), removes
 * the rows it wrote after the flush, and the next run writes the snapshot
 * into a new generation: every entity exact, no leftover rows. */
START_TEST(test_flushall_mid_run)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    redisContext *c = rconn();
    uint64_t g1 = current_gen(c, "big");
    put("big/b", "big/2025-01-02");
    long long end = now_ms() + 60000;
    uint64_t pending = 0;
    char ph[64];
    for (;;) {
        prog(c, "big", "phase", ph, sizeof(ph));
        pending = (uint64_t)prog_i64(c, "big", "pending_generation");
        if (strcmp(ph, "write") == 0 && pending != 0 && count_gen_rows(c, pending, 2000) >= 2000) {
            break;
        }
        ck_assert_msg(now_ms() < end, "never saw the write phase");
        sleep_ms(1);
    }
    redisReply *r = redisCommand(c, "FLUSHALL");
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    uint64_t g2 = current_gen(c, "big");
    ck_assert_uint_ne(g2, pending);         /* never the interrupted generation again */
    ck_assert_uint_gt(g2, g1);
    check_big_all(F.port, 2);
    /* nothing of the interrupted run is left (once its reclaim is done) */
    long long got = 0;
    for (int i = 0; i < 200 && (got = count_fields(c, NULL, 0, LLONG_MAX)) != BIG_N; i++) {
        sleep_ms(100);
    }
    ck_assert_int_eq(got, BIG_N);
    ck_assert_int_eq(count_gen_rows(c, pending, 1), 0);
    redisFree(c);
}
END_TEST

START_TEST(test_two_replicas_one_materializes)
{
    put("big/a", "big/2025-01-01");
    h_featd_start(&F, cfg_json);
    char cfg2[sizeof(cfg_json)];
    int p2 = h_free_port(), a2 = h_free_port();
    snprintf(cfg2, sizeof(cfg2), CFG_FMT, p2, a2, R.port, src, src, src, (long long)fresh_ttl,
             src, src);
    struct h_featd F2;
    h_featd_start(&F2, cfg2);
    wait_prog("big", "snapshot", "2025-01-01", "idle", 60000);
    put("big/b", "big/2025-01-02");
    wait_prog("big", "snapshot", "2025-01-02", "idle", 60000);
    sleep_ms(2500);     /* both poll again: nothing to do */
    int n1 = log_count(&F, "view big: applying snapshot");
    int n2 = log_count(&F2, "view big: applying snapshot");
    printf("replica 1 applied %d, replica 2 applied %d snapshots of big\n", n1, n2);
    ck_assert_int_eq(n1 + n2, 2);
    check_big_all(F.port, 2);
    check_big_all(p2, 2);
    h_featd_stop(&F2);
}
END_TEST

/* Runs `featd materialize ARGS`; returns the exit status, output in out. */
static int run_oneshot(const char *config_path, const char *extra, char *out, size_t cap)
{
    char cmd[1024], outp[300];
    snprintf(outp, sizeof(outp), "%s/oneshot.out", src);
    snprintf(cmd, sizeof(cmd), "'%s' materialize --config '%s' %s > '%s' 2>&1", h_bin("featd"),
             config_path, extra, outp);
    int st = system(cmd);
    FILE *fp = fopen(outp, "r");
    size_t n = fp ? fread(out, 1, cap - 1, fp) : 0;
    out[n] = '\0';
    if (fp) {
        fclose(fp);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(test_oneshot_command)
{
    char path[300], out[8192];
    snprintf(path, sizeof(path), "%s/config.json", src);
    FILE *fp = fopen(path, "w");
    fputs(cfg_json, fp);
    fclose(fp);
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    put("ui/2025-01-01.parquet", "ui/2025-01-01.parquet");
    ck_assert_int_eq(run_oneshot(path, "", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "cust: applied snapshot snap_2025-01-01") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "user_item: applied snapshot 2025-01-01.parquet") != NULL, "%s", out);
    ck_assert_int_eq(run_oneshot(path, "--view cust", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "cust: up to date") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "user_item") == NULL, "%s", out);
    put("cust_bad/missing_column", "cust/snap_2025-02-01");
    ck_assert_int_eq(run_oneshot(path, "--view cust", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "rejected snap_2025-02-01") && strstr(out, "missing column 'rev'"),
                  "%s", out);
    /* still rejected (and still exit 1) on the next pass */
    ck_assert_int_eq(run_oneshot(path, "--view cust", out, sizeof(out)), 1);
    ck_assert_int_eq(run_oneshot(path, "--view nope", out, sizeof(out)), 2);
    ck_assert_int_eq(run_oneshot(path, "--bogus", out, sizeof(out)), 2);
    rm_src("cust/snap_2025-02-01");
    ck_assert_int_eq(run_oneshot(path, "--view cust", out, sizeof(out)), 0);
    /* the daemon serves what the one-shot run wrote */
    h_featd_start(&F, cfg_json);
    size_t n;
    struct harness_ent *u = int_universe(0, 305, &n);
    check_expected(F.port, "cust", "cust_snap1.expected.json", u, n);
    free(u);
    /* Redis down: exit 1 with the reason */
    h_featd_stop(&F);
    h_redis_stop(&R);
    ck_assert_int_eq(run_oneshot(path, "--view cust", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "failed") != NULL, "%s", out);
    h_redis_restart(&R);
}
END_TEST

static Suite *mat_suite(void)
{
    Suite *s = suite_create("e2e_materialize");
    TCase *tc = tcase_create("materialize");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_snapshot_equals_duckdb);
    tcase_add_test(tc, test_lag_metrics_extreme_times);
    tcase_add_test(tc, test_ttl_statuses);
    tcase_add_test(tc, test_incremental_lww_and_restart);
    tcase_add_test(tc, test_bad_snapshots_rejected);
    tcase_add_test(tc, test_atomic_flip_under_reads);
    tcase_add_test(tc, test_kill9_midway_then_restart);
    tcase_add_test(tc, test_resume_counts_rows);
    tcase_add_test(tc, test_resume_refused_when_rows_lost);
    tcase_add_test(tc, test_sigterm_midway_then_restart);
    tcase_add_test(tc, test_redis_restart_midway);
    tcase_add_test(tc, test_two_replicas_one_materializes);
    tcase_add_test(tc, test_oneshot_command);
    tcase_add_test(tc, test_upgrade_from_layout_v1);
    tcase_add_test(tc, test_evicting_redis_refused);
    tcase_add_test(tc, test_redis_oom_partial_generation_removed);
    tcase_add_test(tc, test_view_failing_makes_unready);
    tcase_add_test(tc, test_flushall_mid_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
