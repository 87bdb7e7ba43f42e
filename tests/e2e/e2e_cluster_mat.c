/*
 * e2e_cluster_mat.c — the blocking Redis users on a real Redis Cluster
 * (3 masters + 3 replicas) and a real Sentinel group (tests/e2e/
 * harness_cluster.h): `featd materialize` (the one-shot materializer, the
 * same code as the daemon's thread) writes DuckDB-made snapshots
 * (tests/fixtures/materialize) and every stored row, read back from the
 * cluster with rbcluster and decoded with online_row, equals DuckDB's
 * latest row per entity (*.expected.json); keys land on every master; a
 * second snapshot flips and the old generation is reclaimed on every
 * master; `featd-cli materialize status` and `featd-cli load` work on the
 * cluster; a master SIGKILLed mid-run never leads to a flipped incomplete
 * generation and the snapshot is applied by the end; on Sentinel, a
 * snapshot after SENTINEL FAILOVER goes to the new master.
 *
 * Lookups through the workers are not used here (their cluster routing is
 * tested elsewhere).
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "core/util.h"
#include "harness.h"
#include "harness_cluster.h"
#include "harness_expect.h"
#include "online/online.h"
#include "redis/rbcluster.h"

#define FIX "tests/fixtures/materialize"
#define PREFIX "cm"
#define BIG_N 60000

static struct hcluster C;
static bool have_cluster;
static char src[256];
static char cfg_path[400];
static struct featd_config *cfg;

#define VIEWS_FMT \
    "  \"entities\": [" \
    "    { \"name\": \"customer\", \"join_keys\": [ { \"name\": \"customer_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] }," \
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
    "    { \"name\": \"big\", \"entities\": [\"thing\"], \"features\": [" \
    "      {\"name\":\"v\",\"type\":\"int64\"},{\"name\":\"s\",\"type\":\"string\"} ]," \
    "      \"source\": { \"path\": \"%s/big\", \"event_timestamp_column\": \"event_ts\" }," \
    "      \"materialization\": { \"mode\": \"snapshot\", \"interval_seconds\": 1 } }," \
    "    { \"name\": \"notes\", \"entities\": [\"user\"], \"features\": [" \
    "      {\"name\":\"x\",\"type\":\"int64\"} ] } ] }"

/* ---- helpers ---- */

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

/* Copies fixture rel to <src>/<dst> like a writer (hidden name, rename). */
static void put(const char *rel, const char *dst)
{
    char d[512];
    snprintf(d, sizeof(d), "%s/%s", src, dst);
    char *slash = strrchr(d, '/');
    *slash = '\0';
    sh("mkdir -p '%s' && cp -r '" FIX "/%s' '%s/.incoming' && mv '%s/.incoming' '%s/%s'", d, rel,
       d, d, d, slash + 1);
}

static char cfg_text[16384];     /* the last config written */

/* Writes the config (redis section given) to cfg_path and loads it. */
static void write_config(const char *redis_json, const char *extra)
{
    char *text = cfg_text;
    size_t textcap = sizeof(cfg_text);
    char views[12288];
    snprintf(views, sizeof(views), VIEWS_FMT, src, src, src);
    snprintf(text, textcap,
             "{ \"server\": { \"listen\": \"127.0.0.1:%d\", \"admin_listen\": \"127.0.0.1:%d\"},"
             "  \"redis\": %s, %s %s", h_free_port(), h_free_port(), redis_json,
             extra ? extra : "", views);
    snprintf(cfg_path, sizeof(cfg_path), "%s/featd.json", src);
    FILE *fp = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    char err[4096];
    config_free(cfg);
    cfg = NULL;
    ck_assert_msg(config_load_string(text, &cfg, err, sizeof(err)) == FEATD_OK, "config: %s", err);
}

static void cluster_config(const char *extra)
{
    char redis[1024] = "{ \"key_prefix\": \"" PREFIX "\", \"cluster_nodes\": [";
    for (int i = 0; i < C.nnodes; i++) {
        size_t n = strlen(redis);
        snprintf(redis + n, sizeof(redis) - n, "%s\"127.0.0.1:%d\"", i ? ", " : "",
                 C.nodes[i].port);
    }
    strcat(redis, "] }");
    write_config(redis, extra);
}

static const struct cfg_view *view(const char *name)
{
    const struct cfg_view *v = config_find_view(cfg, name);
    ck_assert_msg(v != NULL, "view %s", name);
    return v;
}

/* A cluster client seeded by every running node. */
static struct rbcluster *cl_client(void)
{
    struct rbcluster_addr seeds[HC_MAX_NODES];
    size_t n = 0;
    for (int i = 0; i < C.nnodes; i++) {
        if (C.nodes[i].pid != 0) {
            seeds[n++] = (struct rbcluster_addr){ "127.0.0.1", C.nodes[i].port };
        }
    }
    struct rbcluster_opts o = { .seeds = seeds, .nseeds = n, .timeout_ms = 5000 };
    char err[2048];
    struct rbcluster *c = rbcluster_new_cluster(&o, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

/* `featd materialize --config F --view V`: exit status, output in out. */
static int materialize(const char *vname, char *out, size_t cap)
{
    return run(out, cap, "'%s' materialize --config '%s' --view %s --log-level warn 2>&1",
               h_bin("featd"), cfg_path, vname);
}

static uint64_t current_gen(struct rbcluster *rc, const char *vname)
{
    char err[512];
    uint64_t g = 0;
    redisContext *vc = online_gen_view_ctx(rc, PREFIX, view(vname), err, sizeof(err));
    ck_assert_msg(vc != NULL, "%s", err);
    ck_assert_msg(online_gen_current(vc, PREFIX, view(vname), &g, err, sizeof(err)) == FEATD_OK,
                  "%s", err);
    return g;
}

static uint64_t count_rows(struct rbcluster *rc, const char *vname, uint64_t gen)
{
    char err[512];
    uint64_t n = 0;
    ck_assert_msg(online_gen_count_rows_rb(rc, PREFIX, view(vname), gen, NULL, &n, err,
                                           sizeof(err)) == FEATD_OK, "%s", err);
    return n;
}

/* Keys under the prefix on each master: every master must hold some. */
static void check_spread(struct rbcluster *rc)
{
    size_t nm = rbcluster_nmasters(rc);
    ck_assert_uint_eq(nm, 3);
    for (size_t k = 0; k < nm; k++) {
        char err[512];
        redisContext *c = rbcluster_master_ctx(rc, k, err, sizeof(err));
        ck_assert_msg(c != NULL, "%s", err);
        redisReply *r = redisCommand(c, "DBSIZE");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
        fprintf(stderr, "  master %zu holds %lld keys\n", k, r->integer);
        ck_assert_msg(r->integer > 10, "master %zu holds only %lld keys", k, r->integer);
        freeReplyObject(r);
    }
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static int64_t jint(const json_t *j)
{
    return json_is_string(j) ? strtoll(json_string_value(j), NULL, 10)
                             : (int64_t)json_integer_value(j);
}

/* One decoded value against the expected JSON (DuckDB's). */
static void check_value(const char *what, enum featd_type t, const struct online_value *val,
                        const json_t *exp)
{
    if (json_is_null(exp)) {
        ck_assert_msg(val->is_null, "%s: expected null", what);
        return;
    }
    ck_assert_msg(!val->is_null, "%s: null, expected a value", what);
    switch (t) {
    case FT_BOOL:
        ck_assert_msg(val->u.b == json_is_true(exp), "%s: bool", what);
        break;
    case FT_INT32:
        ck_assert_msg(val->u.i32 == jint(exp), "%s: %d", what, val->u.i32);
        break;
    case FT_INT64:
    case FT_TIMESTAMP:
        ck_assert_msg(val->u.i64 == jint(exp), "%s: %" PRId64, what, val->u.i64);
        break;
    case FT_FLOAT:
        ck_assert_msg(val->u.f == (float)json_number_value(exp), "%s: %g", what, val->u.f);
        break;
    case FT_DOUBLE:
        ck_assert_msg(val->u.d == json_number_value(exp), "%s: %.17g", what, val->u.d);
        break;
    case FT_STRING:
        ck_assert_msg(val->slen == strlen(json_string_value(exp)) &&
                      memcmp(val->s, json_string_value(exp), val->slen) == 0, "%s: string", what);
        break;
    case FT_BYTES: {
        const char *hx = json_string_value(exp);
        ck_assert_uint_eq(val->slen * 2, strlen(hx));
        for (size_t i = 0; i < val->slen; i++) {
            int b = hexval(hx[2 * i]) * 16 + hexval(hx[2 * i + 1]);
            ck_assert_msg((unsigned char)val->s[i] == b, "%s: byte %zu", what, i);
        }
        break;
    }
    case FT_FLOAT_LIST:
    case FT_DOUBLE_LIST:
    case FT_INT64_LIST:
    case FT_STRING_LIST: {
        ck_assert_msg(val->count == json_array_size(exp), "%s: %u elements", what, val->count);
        const uint8_t *cur = val->raw, *end = val->raw + val->rawlen;
        for (uint32_t i = 0; i < val->count; i++) {
            const json_t *e = json_array_get(exp, i);
            if (t == FT_FLOAT_LIST) {
                ck_assert(online_row_list_float(val, i) == (float)json_number_value(e));
            } else if (t == FT_DOUBLE_LIST) {
                ck_assert(online_row_list_double(val, i) == json_number_value(e));
            } else if (t == FT_INT64_LIST) {
                ck_assert(online_row_list_int64(val, i) == jint(e));
            } else {
                const char *s;
                size_t n;
                ck_assert_int_eq(online_row_list_next_string(&cur, end, &s, &n), FEATD_OK);
                ck_assert(n == strlen(json_string_value(e)) &&
                          memcmp(s, json_string_value(e), n) == 0);
            }
        }
        break;
    }
    default:
        ck_abort_msg("%s: type %d not handled", what, (int)t);
    }
}

/*
 * Every entity of the expected file: its row of generation gen, read from
 * the cluster node owning its key, equals DuckDB's latest row (event time
 * and every feature). Returns the number of entities checked.
 */
static size_t check_expected(struct rbcluster *rc, const char *vname, const char *file,
                             uint64_t gen)
{
    const struct cfg_view *v = view(vname);
    char path[512];
    snprintf(path, sizeof(path), FIX "/%s", file);
    json_error_t jerr;
    json_t *exp = json_load_file(path, 0, &jerr);
    ck_assert_msg(exp != NULL, "%s: %s", path, jerr.text);
    char field[ONLINE_FIELD_MAX];
    size_t fieldlen = online_key_field(field, gen);
    /* pipelined through rbcluster: one batch per node */
    for (size_t i = 0; i < json_array_size(exp); i++) {
        json_t *ks = json_object_get(json_array_get(exp, i), "keys");
        struct online_key keys[2] = { { 0 } };
        for (size_t k = 0; k < v->nkeys; k++) {
            const char *s = json_string_value(json_object_get(ks, v->keys[k].name));
            if (v->keys[k].type == FT_INT64) {
                keys[k].i = strtoll(s, NULL, 10);
            } else {
                keys[k].s = s;
                keys[k].slen = strlen(s);
            }
        }
        struct fbuf key = { 0 };
        ck_assert_int_eq(online_key_row(&key, PREFIX, v, keys), FEATD_OK);
        const char *argv[3] = { "HGET", key.data, field };
        size_t lens[3] = { 4, key.len, fieldlen };
        char err[512];
        ck_assert_int_eq(rbcluster_append(rc, key.data, key.len, 3, argv, lens, err,
                                          sizeof(err)), FEATD_OK);
        fbuf_free(&key);
    }
    redisReply **rep = NULL;
    size_t nrep = 0;
    char err[1024];
    ck_assert_msg(rbcluster_exec(rc, &rep, &nrep, err, sizeof(err)) == FEATD_OK, "%s", err);
    ck_assert_uint_eq(nrep, json_array_size(exp));
    struct online_value vals[32];
    ck_assert_uint_le(v->nfeatures, 32);
    for (size_t i = 0; i < nrep; i++) {
        json_t *row = json_array_get(exp, i);
        char what[300];
        char *kt = json_dumps(json_object_get(row, "keys"), JSON_COMPACT);
        snprintf(what, sizeof(what), "%s row %zu (%s)", vname, i, kt ? kt : "?");
        free(kt);
        ck_assert_msg(rep[i]->type == REDIS_REPLY_STRING, "%s: no row (reply type %d)", what,
                      rep[i]->type);
        int64_t ev = 0, cr = 0;
        ck_assert_msg(online_row_decode((const uint8_t *)rep[i]->str, rep[i]->len, v, &ev, &cr,
                                        vals, err, sizeof(err)) == FEATD_OK, "%s: %s", what, err);
        ck_assert_msg(ev == jint(json_object_get(row, "event_ts_us")), "%s: event time", what);
        json_t *ev_vals = json_object_get(row, "values");
        for (size_t f = 0; f < v->nfeatures; f++) {
            char fw[400];
            snprintf(fw, sizeof(fw), "%s feature %s", what, v->features[f].name);
            check_value(fw, v->features[f].type, &vals[f],
                        json_object_get(ev_vals, v->features[f].name));
        }
    }
    rbcluster_replies_free(rep, nrep);
    size_t n = json_array_size(exp);
    json_decref(exp);
    return n;
}

/* ---- fixtures ---- */

static void setup_cluster(void)
{
    have_cluster = harness_cluster_start(&C, 3, 1);
    h_tempdir(src, "clmat");
    sh("mkdir -p '%s/cust' '%s/ui' '%s/big'", src, src, src);
}

static void teardown_cluster(void)
{
    harness_cluster_stop(&C);
    config_free(cfg);
    cfg = NULL;
    if (getenv("FEATD_KEEP_TMP") == NULL) {
        sh("rm -rf '%s'", src);
    }
}

/* ---- tests ---- */

START_TEST(test_cluster_snapshots_flip_reclaim_status_load)
{
    if (!have_cluster) {
        return;
    }
    cluster_config(NULL);
    struct rbcluster *rc = cl_client();
    static char out[65536];

    /* two views' snapshots, each row equal to DuckDB's */
    put("ui/2025-01-01.parquet", "ui/2025-01-01.parquet");
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    ck_assert_msg(materialize("user_item", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(materialize("cust", out, sizeof(out)) == 0, "%s", out);
    uint64_t gu = current_gen(rc, "user_item"), g1 = current_gen(rc, "cust");
    ck_assert(gu != 0 && g1 != 0 && gu != g1);
    ck_assert_uint_eq(check_expected(rc, "user_item", "ui.expected.json", gu), 66);
    ck_assert_uint_eq(check_expected(rc, "cust", "cust_snap1.expected.json", g1), 299);
    ck_assert_uint_eq(count_rows(rc, "cust", g1), 299);
    ck_assert_uint_eq(count_rows(rc, "user_item", gu), 66);
    check_spread(rc);

    /* the next snapshot flips; the old generation is gone from every master */
    put("cust/snap_2025-01-02", "cust/snap_2025-01-02");
    ck_assert_msg(materialize("cust", out, sizeof(out)) == 0, "%s", out);
    uint64_t g2 = current_gen(rc, "cust");
    ck_assert_uint_gt(g2, g1);
    ck_assert_uint_eq(check_expected(rc, "cust", "cust_snap2.expected.json", g2), 200);
    ck_assert_uint_eq(count_rows(rc, "cust", g2), 200);
    ck_assert_uint_eq(count_rows(rc, "cust", g1), 0);
    ck_assert_msg(materialize("cust", out, sizeof(out)) == 0, "%s", out);   /* unchanged */
    ck_assert_uint_eq(current_gen(rc, "cust"), g2);

    /* featd-cli materialize status: the progress and lease keys on the view's node */
    int st = run(out, sizeof(out), "'%s' materialize status --config '%s' --view cust --json",
                 h_bin("featd-cli"), cfg_path);
    ck_assert_msg(st == 0, "status exited %d: %s", st, out);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", jerr.text, out);
    json_t *vs = json_array_get(json_object_get(root, "views"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(vs, "state")), "idle");
    ck_assert_str_eq(json_string_value(json_object_get(vs, "snapshot")), "snap_2025-01-02");
    ck_assert_int_eq(json_integer_value(json_object_get(vs, "generation")), (json_int_t)g2);
    json_decref(root);

    /* featd-cli load: upserts spread over the masters, read back */
    char rows[400];
    snprintf(rows, sizeof(rows), "%s/notes.jsonl", src);
    FILE *fp = fopen(rows, "w");
    ck_assert_ptr_nonnull(fp);
    for (int i = 1; i <= 300; i++) {
        fprintf(fp, "{\"user_id\": %d, \"event_timestamp\": \"2026-11-21T10:00:00Z\", "
                    "\"x\": %d}\n", i, i * 7);
    }
    fclose(fp);
    st = run(out, sizeof(out), "'%s' load --config '%s' --view notes --file '%s' 2>&1",
             h_bin("featd-cli"), cfg_path, rows);
    ck_assert_msg(st == 0, "load exited %d: %s", st, out);
    uint64_t gn = current_gen(rc, "notes");
    ck_assert_uint_ne(gn, 0);
    ck_assert_uint_eq(count_rows(rc, "notes", gn), 300);
    /* a snapshot load flips and reclaims the upserted generation everywhere */
    st = run(out, sizeof(out), "'%s' load --config '%s' --view notes --mode snapshot "
             "--file '%s' 2>&1", h_bin("featd-cli"), cfg_path, rows);
    ck_assert_msg(st == 0, "load exited %d: %s", st, out);
    uint64_t gn2 = current_gen(rc, "notes");
    ck_assert_uint_gt(gn2, gn);
    ck_assert_uint_eq(count_rows(rc, "notes", gn2), 300);
    ck_assert_uint_eq(count_rows(rc, "notes", gn), 0);
    const struct rbcluster_stats *s = rbcluster_stats(rc);
    fprintf(stderr, "cluster: cust %" PRIu64 " -> %" PRIu64 ", notes %" PRIu64 " -> %" PRIu64
            " (%" PRIu64 " refreshes)\n", g1, g2, gn, gn2, s->refreshes);
    rbcluster_free(rc);
}
END_TEST

/* The master holding none of the view's meta keys and not the allocator's. */
static int victim_master(struct rbcluster *rc, const struct cfg_view *v)
{
    char err[256];
    redisContext *vc = online_gen_view_ctx(rc, PREFIX, v, err, sizeof(err));
    ck_assert_ptr_nonnull(vc);
    int meta_port = vc->tcp.port;
    struct fbuf k = { 0 };
    ck_assert_int_eq(online_key_genseq(&k, PREFIX), FEATD_OK);
    redisContext *gc = rbcluster_ctx_for_key(rc, k.data, k.len, err, sizeof(err));
    ck_assert_ptr_nonnull(gc);
    int gen_port = gc->tcp.port;
    fbuf_free(&k);
    for (int i = 0; i < C.nnodes; i++) {
        if (C.nodes[i].port != meta_port && C.nodes[i].port != gen_port &&
            harness_cluster_is_master(&C, i)) {
            return i;
        }
    }
    return -1;
}

START_TEST(test_cluster_master_killed_mid_run)
{
    if (!have_cluster) {
        return;
    }
    /* paced, so that the kill lands while rows are written */
    cluster_config("\"materialize\": { \"pacing\": \"fixed\", \"max_rows_per_sec\": 15000 },");
    static char out[65536];
    put("big/a", "big/a");
    ck_assert_msg(materialize("big", out, sizeof(out)) == 0, "%s", out);
    struct rbcluster *rc = cl_client();
    uint64_t ga = current_gen(rc, "big");
    ck_assert_uint_eq(count_rows(rc, "big", ga), BIG_N);
    int victim = victim_master(rc, view("big"));
    ck_assert_int_ge(victim, 0);
    rbcluster_free(rc);

    put("big/b", "big/b");
    char log[400];
    snprintf(log, sizeof(log), "%s/kill-run.log", src);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        FILE *o = freopen(log, "w", stdout);
        (void)o;
        dup2(1, 2);
        execl(h_bin("featd"), "featd", "materialize", "--config", cfg_path, "--view", "big",
              "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    h_sleep_ms(1500);   /* ~22000 of 60000 rows written */
    long long t_kill = h_now_ms();
    harness_cluster_kill(&C, victim);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    harness_cluster_wait_ok(&C, 30000);
    sh("cat '%s' >&2", log);
    fprintf(stderr, "killed master %d mid-run: the run exited %d after %lld ms\n", victim,
            WEXITSTATUS(st), h_now_ms() - t_kill);

    rc = cl_client();
    uint64_t g = current_gen(rc, "big");
    /* whatever the run did: the current generation is complete */
    ck_assert_uint_eq(count_rows(rc, "big", g), BIG_N);
    if (WEXITSTATUS(st) != 0) {
        ck_assert_uint_eq(g, ga);   /* not flipped */
        /* the next run applies the snapshot (resuming or writing afresh) */
        ck_assert_msg(materialize("big", out, sizeof(out)) == 0, "%s", out);
        g = current_gen(rc, "big");
        ck_assert_uint_eq(count_rows(rc, "big", g), BIG_N);
    }
    ck_assert_uint_gt(g, ga);
    ck_assert_uint_eq(count_rows(rc, "big", ga), 0);   /* the old one reclaimed everywhere */
    rbcluster_free(rc);
}
END_TEST

/* ---- Sentinel ---- */

static struct hsentinel S;

START_TEST(test_sentinel_failover_next_snapshot_on_new_master)
{
    h_tempdir(src, "sentmat");
    sh("mkdir -p '%s/cust' '%s/ui' '%s/big'", src, src, src);
    if (!harness_sentinel_start(&S)) {
        return;
    }
    char redis[512];
    snprintf(redis, sizeof(redis), "{ \"key_prefix\": \"" PREFIX "\", \"sentinel\": { "
             "\"master_name\": \"" HS_MASTER_NAME "\", \"nodes\": [\"127.0.0.1:%d\", "
             "\"127.0.0.1:%d\", \"127.0.0.1:%d\"] } }", S.sentinels[0].port, S.sentinels[1].port,
             S.sentinels[2].port);
    write_config(redis, NULL);
    static char out[65536];
    put("cust/snap_2025-01-01", "cust/snap_2025-01-01");
    ck_assert_msg(materialize("cust", out, sizeof(out)) == 0, "%s", out);
    int m0 = S.master;
    struct fbuf cur = { 0 }, prog = { 0 };
    ck_assert_int_eq(online_key_current(&cur, PREFIX, view("cust")), FEATD_OK);
    ck_assert_int_eq(online_key_meta(&prog, PREFIX, view("cust"), "progress"), FEATD_OK);
    ck_assert_int_eq(fbuf_putc(&cur, '\0'), FEATD_OK);
    ck_assert_int_eq(fbuf_putc(&prog, '\0'), FEATD_OK);
    redisReply *r = harness_sentinel_data_cmd(&S, m0, "GET %s", cur.data);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type == REDIS_REPLY_STRING, "no current pointer on the master");
    uint64_t g1 = strtoull(r->str, NULL, 10);
    freeReplyObject(r);

    harness_sentinel_failover(&S, 30000);
    ck_assert_int_ne(S.master, m0);
    put("cust/snap_2025-01-02", "cust/snap_2025-01-02");
    ck_assert_msg(materialize("cust", out, sizeof(out)) == 0, "%s", out);
    r = harness_sentinel_data_cmd(&S, S.master, "GET %s", cur.data);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    uint64_t g2 = strtoull(r->str, NULL, 10);
    freeReplyObject(r);
    ck_assert_uint_gt(g2, g1);
    r = harness_sentinel_data_cmd(&S, S.master, "HGET %s snapshot", prog.data);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "snap_2025-01-02");
    freeReplyObject(r);
    fbuf_free(&cur);
    fbuf_free(&prog);
    fprintf(stderr, "sentinel: generation %" PRIu64 " on the old master, %" PRIu64
            " written to the new one\n", g1, g2);
    harness_sentinel_stop(&S);
    config_free(cfg);
    cfg = NULL;
    if (getenv("FEATD_KEEP_TMP") == NULL) {
        sh("rm -rf '%s'", src);
    }
}
END_TEST

/* Waits until the daemon's materializer put view vname on a generation
 * other than not (0: any); returns it. */
static uint64_t wait_gen(struct rbcluster *rc, const char *vname, uint64_t not)
{
    int64_t end = util_mono_us() + 60000000;
    uint64_t g;
    while ((g = current_gen(rc, vname)) == 0 || g == not) {
        ck_assert_msg(util_mono_us() < end, "view %s never applied", vname);
        usleep(50000);
    }
    return g;
}

START_TEST(test_daemon_materializes_and_serves_on_cluster)
{
    /* The whole path on a cluster: the daemon's materializer applies the
     * snapshots, its workers answer lookups; every entity equals DuckDB's
     * latest row, the absent ones NOT_FOUND, before and after a flip. (The
     * cluster and the source directory are the suite's: earlier tests may
     * have applied snapshots of cust already.) */
    if (!have_cluster) {
        return;
    }
    cluster_config(NULL);
    struct rbcluster *rc = cl_client();
    sh("[ -d '%s/cust/snap_2025-01-02' ] || cp -r '" FIX "/cust/snap_2025-01-02' '%s/cust/'", src,
       src);
    struct h_featd F;
    h_featd_start(&F, cfg_text);
    /* ready: every worker knows the slot map and reaches every master (a
     * seed killed by the previous test answers nothing) */
    int64_t end = util_mono_us() + 30000000;
    for (;;) {
        char *page = h_admin_get(F.admin_port, "/readyz");
        bool ready = strstr(page, " 200 ") != NULL;
        free(page);
        if (ready) {
            break;
        }
        ck_assert_msg(util_mono_us() < end, "featd on the cluster never became ready");
        usleep(50000);
    }
    char out[4096];
    int64_t until = util_mono_us() + 60000000;
    for (;;) {      /* snap_2025-01-02 applied (now or by an earlier test) */
        int st = run(out, sizeof(out), "'%s' materialize status --config '%s' --view cust --json",
                     h_bin("featd-cli"), cfg_path);
        if (st == 0 && strstr(out, "\"snapshot\": \"snap_2025-01-02\"") != NULL &&
            strstr(out, "\"state\": \"idle\"") != NULL) {
            break;
        }
        ck_assert_msg(util_mono_us() < until, "snap_2025-01-02 never applied: %s", out);
        usleep(100000);
    }
    uint64_t g2 = current_gen(rc, "cust");
    size_t n;
    struct harness_ent *u = harness_expect_int_universe(0, 305, &n);
    ck_assert_uint_eq(harness_expect_lookups(F.port, view("cust"), FIX "/cust_snap2.expected.json",
                                             u, n), 200);
    /* a newer snapshot (snap1's rows under a later name) flips every worker */
    put("cust/snap_2025-01-01", "cust/snap_2025-01-03");
    wait_gen(rc, "cust", g2);
    ck_assert_uint_eq(harness_expect_lookups(F.port, view("cust"), FIX "/cust_snap1.expected.json",
                                             u, n), 299);
    free(u);
    h_featd_stop(&F);
    rbcluster_free(rc);
}
END_TEST

static Suite *cluster_mat_suite(void)
{
    Suite *s = suite_create("e2e_cluster_mat");
    TCase *tc = tcase_create("cluster");
    tcase_add_unchecked_fixture(tc, setup_cluster, teardown_cluster);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cluster_snapshots_flip_reclaim_status_load);
    tcase_add_test(tc, test_cluster_master_killed_mid_run);
    tcase_add_test(tc, test_daemon_materializes_and_serves_on_cluster);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("sentinel");
    tcase_set_timeout(ts, 90);
    tcase_add_test(ts, test_sentinel_failover_next_snapshot_on_new_master);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cluster_mat_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    harness_sentinel_stop(&S);
    harness_cluster_stop(&C);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
