/*
 * config_table.c — the server, redis and materialize keys, defined once in
 * config_table[]: kind, bounds, default, reloadability, environment
 * variable and help text. The same table drives parsing and defaults (here),
 * env overrides (config_env.c), the reload rule (config_reload.c) and the
 * key reference in docs/config.md (config_doc.c; a unit test keeps the doc in sync).
 * Views and entities are structural and parsed by config_view.c instead.
 */
#include "config/config_int.h"
#include "core/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(enum featd_log_format) == sizeof(int), "CK_ENUM stores an int");
_Static_assert(sizeof(enum featd_mat_pacing) == sizeof(int), "CK_ENUM stores an int");

static const char *const config_table_log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const config_table_log_formats[] = { "text", "json", NULL };
/* in the order of enum featd_eviction */
static const char *const config_table_evictions[] = { "refuse", "allow", NULL };
/* in the order of enum featd_mat_pacing */
static const char *const config_table_pacings[] = { "adaptive", "fixed", "off", NULL };

static const char *config_table_check_path(const char *v, char *why, size_t whylen)
{
    return config_json_text_problem(v, CFG_PATH_STR_MAX, why, whylen);
}

static const char *config_table_check_key_prefix(const char *v, char *why, size_t whylen)
{
    for (size_t i = 0; v[i]; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-')) {
            snprintf(why, whylen, "invalid character at offset %zu (expected [A-Za-z0-9_.-]{1,64})", i);
            return why;
        }
    }
    return NULL;
}

static const char *config_table_check_password(const char *v, char *why, size_t whylen)
{
    return config_json_text_problem(v, 1024, why, whylen);
}

/* ACL user names: printable, no whitespace (Redis refuses spaces in them). */
static const char *config_table_check_username(const char *v, char *why, size_t whylen)
{
    for (size_t i = 0; v[i]; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c == 0x7f) {
            snprintf(why, whylen, "whitespace or control character at offset %zu", i);
            return why;
        }
    }
    return NULL;
}

static const char *config_table_check_master_name(const char *v, char *why, size_t whylen)
{
    return config_json_text_problem(v, 256, why, whylen);
}

const struct config_key config_table[] = {
    { "server", "listen", CK_STR, CFG_SRV(listen), 1, 300, "127.0.0.1:6566", false,
      "FEATD_LISTEN", NULL, config_addr_check_listen,
      "Serving address (protobuf over TCP): \"host:port\", IPv6 as \"[::1]:6566\"." },
    { "server", "admin_listen", CK_STR, CFG_SRV(admin_listen), 0, 300, "127.0.0.1:6567", false,
      "FEATD_ADMIN_LISTEN", NULL, config_addr_check_admin_listen,
      "Admin HTTP address (health, metrics, registry, JSON lookup); \"\" disables it." },
    { "server", "workers", CK_INT, CFG_SRV(workers), 1, 64, "2", false,
      "FEATD_WORKERS", NULL, NULL,
      "Worker threads, each with its own event loop, listener (`SO_REUSEPORT`; an accepting "
      "worker hands a connection to a less loaded one) and Redis connection. One worker serves "
      "78-93k single-entity lookups/s at 50 connections (suite and smoke runs); leave Redis a core: on a 2-core "
      "host shared with Redis, 1 worker has the shorter tail and 2 the higher throughput "
      "(`bench/results/latest.md`, \"Thread layout\")." },
    { "server", "max_connections", CK_INT, CFG_SRV(max_connections), 1, 1000000, "10000", true,
      NULL, NULL, NULL,
      "Client connections accepted at once; further connections are refused." },
    { "server", "admin_max_connections", CK_INT, CFG_SRV(admin_max_connections), 1, 10000, "64", true,
      "FEATD_ADMIN_MAX_CONNECTIONS", NULL, NULL,
      "Admin HTTP connections open at once; a connection over it (or accepted while fewer than "
      "1/8 of the process's open-file limit is left) gets 503 and is closed." },
    { "server", "max_frame_bytes", CK_U32, CFG_SRV(max_frame_bytes), 64, 1073741824, "4194304", true,
      NULL, NULL, NULL,
      "Largest request frame, and largest HTTP request body on either port; a bigger frame gets "
      "an error and the connection is closed (an HTTP body: 413)." },
    { "server", "max_entities_per_request", CK_INT, CFG_SRV(max_entities_per_request), 1, 1000000,
      "1000", true, NULL, NULL, NULL,
      "Entity rows per lookup, and rows per write (WriteFeatures, HTTP push); more is "
      "INVALID_ARGUMENT." },
    { "server", "request_timeout_ms", CK_INT, CFG_SRV(request_timeout_ms), 1, 600000, "1000", true,
      NULL, NULL, NULL,
      "Default lookup deadline when the request gives none (deadline_ms = 0)." },
    { "server", "max_output_bytes", CK_SIZE, CFG_SRV(max_output_bytes), 4096, 1073741824, "16777216",
      true, NULL, NULL, NULL,
      "Per-connection bound on unread answers: reading pauses while buffered plus expected "
      "answers pass half of it, and an answer that would push the unread output over it is "
      "replaced by a RESOURCE_EXHAUSTED error (an answer into an empty buffer is only bound by "
      "the 64 MiB response limit)." },
    { "server", "max_client_memory_bytes", CK_SIZE, CFG_SRV(max_client_memory_bytes), 1048576,
      68719476736, "1073741824", true, "FEATD_MAX_CLIENT_MEMORY_BYTES", NULL, NULL,
      "Process-wide budget for client connections' buffers (input, unread output, 1 KiB per "
      "pending request). Past it, a connection holding more than its share "
      "(budget / open connections, at least 1 MiB) is closed (logged) and counted in "
      "featd_client_memory_limit_closes_total." },
    { "server", "idle_timeout_ms", CK_INT, CFG_SRV(idle_timeout_ms), 0, 86400000, "300000", true,
      "FEATD_IDLE_TIMEOUT_MS", NULL, NULL,
      "A client connection with no request pending and nothing sent or received for this long is "
      "closed (featd_idle_timeouts_total). 0 keeps idle connections forever." },
    { "server", "frame_timeout_ms", CK_INT, CFG_SRV(frame_timeout_ms), 0, 3600000, "10000", true,
      "FEATD_FRAME_TIMEOUT_MS", NULL, NULL,
      "A request frame whose first bytes arrived must be complete within this many ms, else the "
      "connection gets an error and is closed (featd_frame_timeouts_total): slow or stalled "
      "senders cannot hold connections. Also an HTTP request's headers and body on the serving "
      "port (408). 0 = no limit." },
    { "server", "max_inflight_requests", CK_INT, CFG_SRV(max_inflight_requests), 1, 1000000, "10000",
      true, NULL, NULL, NULL,
      "Requests in flight to Redis per worker; beyond it requests get RESOURCE_EXHAUSTED." },
    { "server", "slow_request_ms", CK_INT, CFG_SRV(slow_request_ms), 0, 600000, "10", true,
      "FEATD_SLOW_REQUEST_MS", NULL, NULL,
      "A request whose phases (queued, decode, redis, encode, write) add up to this many ms or "
      "more is slow: counted in featd_slow_requests_total and featd_slow_request_phase_seconds, "
      "and logged (warn; at most 10 lines a second per worker). 0 disables it." },
    { "server", "busy_poll_us", CK_INT, CFG_SRV(busy_poll_us), 0, 10000, "0", true,
      "FEATD_BUSY_POLL_US", NULL, NULL,
      "While a worker has requests waiting on Redis it polls its sockets without sleeping for up "
      "to this many µs after its last event, instead of sleeping in epoll_wait: the Redis reply is "
      "picked up without a thread wake-up (a cost on virtual machines, see docs/operations.md) at "
      "the price of CPU spent spinning. 0 = off (the default)." },
    { "server", "shutdown_timeout_ms", CK_INT, CFG_SRV(shutdown_timeout_ms), 0, 600000, "10000", true,
      NULL, NULL, NULL,
      "On SIGTERM/SIGINT, how long in-flight requests may take to finish." },
    { "server", "data_dir", CK_STR, CFG_SRV(data_dir), 1, CFG_PATH_STR_MAX, "./featd-data", false,
      "FEATD_DATA_DIR", NULL, config_table_check_path,
      "Directory for local state; the embedded redis-server keeps its files here." },
    { "server", "log_level", CK_WORD, CFG_SRV(log_level), 0, 0, "info", true,
      "FEATD_LOG_LEVEL", config_table_log_levels, NULL,
      "Least severe level logged." },
    { "server", "log_format", CK_ENUM, CFG_SRV(log_format), 0, 0, "text", true,
      "FEATD_LOG_FORMAT", config_table_log_formats, NULL,
      "\"text\" lines or \"json\" lines (one object per event) for log shippers." },
    { "redis", "url", CK_NSTR, CFG_RDS(url), 1, CFG_PATH_STR_MAX, NULL, false,
      "FEATD_REDIS_URL", NULL, config_addr_check_redis_url,
      "Online store, one node. null/omitted/\"embedded\": a private redis-server under data_dir; "
      "redis://[[user]:password@]host[:port][/db] (port 6379, db 0..15); "
      "unix:///path/to.sock[?db=N]. At most one of url, cluster_nodes and sentinel is given." },
    { "redis", "cluster_nodes", CK_ADDRS, CFG_RDS(cluster_nodes), 1, 64, NULL, false,
      "FEATD_REDIS_CLUSTER_NODES", NULL, NULL,
      "Redis Cluster: seed nodes as \"host:port\" (IPv6 \"[::1]:7000\"), distinct; featd "
      "discovers the other nodes and the slot map from them. The environment variable is a "
      "comma-separated list (empty = null)." },
    { "redis", "read_from_replicas", CK_BOOL, CFG_RDS(read_from_replicas), 0, 0, "false", false,
      NULL, NULL, NULL,
      "Redis Cluster only: lookups may be served by replicas (READONLY), which can lag their "
      "master; true without cluster_nodes is an error." },
    { "redis", "sentinel", CK_SECTION, CFG_RDS(sentinel.given), 0, 0, NULL, false,
      NULL, NULL, NULL,
      "Redis Sentinel: an object {master_name, nodes, password}; featd asks the sentinels for "
      "the master's address and follows failovers." },
    { "redis.sentinel", "master_name", CK_NSTR, CFG_RDS(sentinel.master_name), 1, 256, NULL,
      false, NULL, NULL, config_table_check_master_name,
      "The name the sentinels monitor the master under (required with redis.sentinel)." },
    { "redis.sentinel", "nodes", CK_ADDRS, CFG_RDS(sentinel.nodes), 1, 16, NULL, false,
      NULL, NULL, NULL,
      "The sentinels as \"host:port\", distinct (required with redis.sentinel)." },
    { "redis.sentinel", "password", CK_NSTR, CFG_RDS(sentinel.password), 1, 1024, NULL, false,
      "FEATD_REDIS_SENTINEL_PASSWORD", NULL, config_table_check_password,
      "The sentinels' own AUTH password (null = none); redis.username/password are for the "
      "data nodes." },
    { "redis", "username", CK_NSTR, CFG_RDS(username), 1, 256, NULL, false,
      "FEATD_REDIS_USERNAME", NULL, config_table_check_username,
      "ACL user (AUTH username password) for every data node; needs a password; not with the "
      "embedded store. May instead be given in the url, not both differently." },
    { "redis", "password", CK_NSTR, CFG_RDS(password), 1, 1024, NULL, false,
      "FEATD_REDIS_PASSWORD", NULL, config_table_check_password,
      "AUTH password (null = none). May instead be given in the url, not both differently." },
    { "redis", "password_file", CK_NSTR, CFG_RDS(password_file), 1, 4096, NULL, false,
      "FEATD_REDIS_PASSWORD_FILE", NULL, NULL,
      "A file holding the AUTH password (surrounding whitespace dropped), read at startup: keeps "
      "the secret out of the config and the environment (mount it as a secret). Not with "
      "redis.password or a password in the url." },
    { "redis", "timeout_ms", CK_INT, CFG_RDS(timeout_ms), 1, 600000, "200", false,
      NULL, NULL, NULL,
      "Connect and command timeout of blocking Redis users (materializer, CLI); their bulk writes wait at least 5 s." },
    { "redis", "key_prefix", CK_STR, CFG_RDS(key_prefix), 1, 64, "featd", false,
      NULL, NULL, config_table_check_key_prefix,
      "First component of every Redis key ([A-Za-z0-9_.-]{1,64}); separates deployments "
      "sharing one Redis." },
    { "redis", "server_bin", CK_STR, CFG_RDS(server_bin), 1, CFG_PATH_STR_MAX, "redis-server", false,
      NULL, NULL, config_table_check_path,
      "redis-server binary started for the embedded store (looked up in PATH)." },
    { "redis", "eviction", CK_ENUM, CFG_RDS(eviction), 0, 0, "refuse", true,
      "FEATD_REDIS_EVICTION", config_table_evictions, NULL,
      "A Redis whose maxmemory-policy may evict keys drops rows silently. \"refuse\": while "
      "the policy is not noeviction, /readyz is 503 and the materializer writes nothing; "
      "\"allow\": a warning is logged and featd carries on. Either way, keys evicted since "
      "featd started (INFO evicted_keys) make /readyz 503 until a reload or restart, and a "
      "snapshot during which keys were evicted is not flipped." },
    { "tls", "cert_file", CK_NSTR, CFG_TLS(cert_file), 1, 4096, NULL, true, NULL, NULL, NULL,
      "PEM certificate (chain) of the serving listener; with key_file, clients must speak TLS "
      "1.2+. A SIGHUP reloads the files (new connections get the new certificate)." },
    { "tls", "key_file", CK_NSTR, CFG_TLS(key_file), 1, 4096, NULL, true, NULL, NULL, NULL,
      "PEM private key of cert_file (keep it out of the environment: mount it as a secret)." },
    { "tls", "client_ca_file", CK_NSTR, CFG_TLS(client_ca_file), 1, 4096, NULL, true, NULL, NULL,
      NULL,
      "PEM CA bundle: clients must present a certificate it signed (mTLS); the principal is the "
      "certificate's subject CN. null = no client certificates." },
    { "tls", "admin", CK_BOOL, CFG_TLS(admin), 0, 0, "false", true, NULL, NULL, NULL,
      "true: the admin port speaks TLS too, with the same certificate and client CA (health "
      "checkers and Prometheus must then use https); false: the admin port stays plaintext "
      "(bind it to a private address)." },
    { "materialize", "pacing", CK_ENUM, CFG_MAT(pacing), 0, 0, "adaptive", true,
      "FEATD_MATERIALIZE_PACING", config_table_pacings, NULL,
      "How the materializer paces its Redis writes so that serving keeps its latency. "
      "\"adaptive\": between pacing_min_rows_per_sec and max_rows_per_sec, slowing down (at "
      "most by half) while the serving workers' Redis p99 is over pacing_latency_budget_us and "
      "speeding up while under; \"fixed\": at most max_rows_per_sec; \"off\": as fast as Redis takes them "
      "(max_rows_per_sec ignored)." },
    { "materialize", "unready_after_intervals", CK_INT, CFG_MAT(unready_after_intervals), 0, 1000000,
      "5", true, "FEATD_MATERIALIZE_UNREADY_AFTER_INTERVALS", NULL, NULL,
      "/readyz answers 503 while a view's polls have kept failing (Redis errors, unreadable "
      "source, ...) for longer than this many of its materialization intervals: its data is "
      "going stale. 0: never (failures show only in metrics and the view status)." },
    { "materialize", "max_rows_per_sec", CK_INT, CFG_MAT(max_rows_per_sec), 0, 1000000000, "0",
      true, "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC", NULL, NULL,
      "Cap on the rows the materializer writes per second (both pacing modes); 0 = no cap." },
    { "materialize", "pacing_latency_budget_us", CK_INT, CFG_MAT(pacing_latency_budget_us), 0,
      10000000, "0", true, "FEATD_MATERIALIZE_PACING_LATENCY_BUDGET_US", NULL, NULL,
      "Adaptive pacing: the serving workers' Redis round-trip p99 (µs, over windows of at least "
      "0.25 s with 20 or more lookups) above which the materializer backs off. 0 = auto: 1.5 x "
      "their p99 while the materializer is not writing (at least 100 µs; 250 µs until such a "
      "second with 100 lookups was seen)." },
    { "materialize", "pacing_min_rows_per_sec", CK_INT, CFG_MAT(pacing_min_rows_per_sec), 1,
      1000000000, "10000", true, NULL, NULL, NULL,
      "Adaptive pacing: the rate it never backs off below, so that a snapshot always finishes "
      "(at most max_rows_per_sec when that is set)." },
};

const size_t config_table_len = FEATD_ARRAY_LEN(config_table);

static void *config_table_ptr(struct featd_config *cfg, const struct config_key *k)
{
    return (char *)cfg + k->off;
}

static const void *config_table_cptr(const struct featd_config *cfg, const struct config_key *k)
{
    return (const char *)cfg + k->off;
}

/* The word for enum value i of k, "?" when out of range. */
static const char *config_table_word(const struct config_key *k, int i)
{
    for (int j = 0; k->words[j] != NULL; j++) {
        if (j == i) {
            return k->words[j];
        }
    }
    return "?";
}

bool config_table_is_int(const struct config_key *k)
{
    return k->kind == CK_INT || k->kind == CK_U32 || k->kind == CK_SIZE;
}

/* Stores an integer already range-checked. */
static void config_table_store_int(struct featd_config *cfg, const struct config_key *k, int64_t v)
{
    void *p = config_table_ptr(cfg, k);
    switch (k->kind) {
    case CK_INT: *(int *)p = (int)v; break;
    case CK_U32: *(uint32_t *)p = (uint32_t)v; break;
    case CK_SIZE: *(size_t *)p = (size_t)v; break;
    default: break;
    }
}

/* A CK_WORD/CK_ENUM value: stored when it is one of k->words. */
static void config_table_set_word(struct featd_config *cfg, const struct config_key *k,
                                  const char *s, const char *who, struct config_errs *e)
{
    for (int i = 0; k->words[i] != NULL; i++) {
        if (strcmp(s, k->words[i]) == 0) {
            if (k->kind == CK_ENUM) {
                *(int *)config_table_ptr(cfg, k) = i;
            } else {
                char **f = config_table_ptr(cfg, k);
                free(*f);
                *f = util_xstrdup(s);
            }
            return;
        }
    }
    char q[QBUF], wl[256];
    config_err_add(e, who, "unknown value %s (expected one of %s)",
                   config_err_quote(s, q, sizeof q), config_err_words(k->words, wl, sizeof wl));
}

/* A CK_ADDRS value from text: a comma-separated list (spaces around items
 * ignored); NULL or "" = null. */
static void config_table_set_addrs_text(struct featd_config *cfg, const struct config_key *k,
                                        const char *s, const char *who, struct config_errs *e)
{
    struct cfg_addrs *l = config_table_ptr(cfg, k);
    if (s == NULL || s[0] == '\0') {
        config_addr_list_free(l);
        return;
    }
    size_t n = 1;
    for (const char *p = s; *p; p++) {
        n += *p == ',';
    }
    char *items[CFG_MAX_LIST_ADDRS] = { NULL };
    if (n > (size_t)k->max || n > FEATD_ARRAY_LEN(items)) {
        config_err_add(e, who, "%zu entries (at most %" PRId64 " allowed)", n, k->max);
        return;
    }
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        items[i] = strndup(p, len);
        if (items[i] == NULL) {
            config_err_add(e, who, "out of memory");
            while (i-- > 0) {
                free(items[i]);
            }
            return;
        }
        p = end ? end + 1 : p + len;
    }
    config_addr_list_set(l, (const char *const *)items, n, (size_t)k->max, who, e);
    for (size_t i = 0; i < n; i++) {
        free(items[i]);
    }
}

void config_table_set_string(struct featd_config *cfg, const struct config_key *k, const char *s,
                             const char *who, struct config_errs *e)
{
    char q[QBUF], why[256];
    switch (k->kind) {
    case CK_BOOL:
        if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
            *(bool *)config_table_ptr(cfg, k) = s[0] == 't';
        } else {
            config_err_add(e, who, "invalid value %s (expected true or false)",
                           s ? config_err_quote(s, q, sizeof q) : "null");
        }
        return;
    case CK_ADDRS:
        config_table_set_addrs_text(cfg, k, s, who, e);
        return;
    case CK_SECTION:
        if (s != NULL) {
            config_err_add(e, who, "expected an object or null");
            return;
        }
        *(bool *)config_table_ptr(cfg, k) = false;
        return;
    default:
        break;
    }
    if (config_table_is_int(k)) {
        int64_t v;
        if (s == NULL || !util_parse_i64(s, k->min, k->max, &v)) {
            config_err_add(e, who, "invalid value %s (expected an integer in %" PRId64 "..%"
                           PRId64 ")", s ? config_err_quote(s, q, sizeof q) : "null", k->min,
                           k->max);
            return;
        }
        config_table_store_int(cfg, k, v);
        return;
    }
    if (s == NULL && k->kind != CK_NSTR) {
        config_err_add(e, who, "null is not allowed (expected a string)");
        return;
    }
    if (k->kind == CK_WORD || k->kind == CK_ENUM) {
        config_table_set_word(cfg, k, s, who, e);
        return;
    }
    char **f = config_table_ptr(cfg, k);
    if (s == NULL) {
        free(*f);
        *f = NULL;
        return;
    }
    size_t n = strlen(s);
    if ((int64_t)n < k->min || (int64_t)n > k->max) {
        if (n == 0) {
            config_err_add(e, who, "empty string (expected %s)",
                           k->kind == CK_NSTR ? "a non-empty string or null" : "a non-empty string");
        } else {
            config_err_add(e, who, "%zu bytes long (expected %" PRId64 "..%" PRId64 " bytes)",
                           n, k->min, k->max);
        }
        return;
    }
    if (k->check != NULL) {
        const char *p = k->check(s, why, sizeof why);
        if (p != NULL) {
            config_err_add(e, who, "%s: %s", config_err_quote(s, q, sizeof q), p);
            return;
        }
    }
    free(*f);
    *f = util_xstrdup(s);
}

/* A CK_ADDRS value from JSON: an array of "host:port" strings, or null. */
static void config_table_set_addrs_json(struct featd_config *cfg, const struct config_key *k,
                                        json_t *v, const char *who, struct config_errs *e)
{
    if (json_is_null(v)) {
        config_addr_list_free(config_table_ptr(cfg, k));
        return;
    }
    if (!json_is_array(v)) {
        config_err_add(e, who, "expected an array of \"host:port\" strings or null (got %s)",
                       config_json_kind(v));
        return;
    }
    size_t n = json_array_size(v);
    const char *items[CFG_MAX_LIST_ADDRS] = { NULL };
    if (n > (size_t)k->max || n > FEATD_ARRAY_LEN(items)) {
        config_err_add(e, who, "%zu entries (at most %" PRId64 " allowed)", n, k->max);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(v, i);
        items[i] = json_string_value(it);
        if (items[i] == NULL) {
            char iw[CFG_JPATH_MAX];
            config_err_path_idx(iw, who, i);
            config_err_add(e, iw, "expected a \"host:port\" string (got %s)", config_json_kind(it));
        }
    }
    config_addr_list_set(config_table_ptr(cfg, k), items, n, (size_t)k->max, who, e);
}

/* Validates and stores a JSON value for key k; who is its JSON path. */
static void config_table_set_json(struct featd_config *cfg, const struct config_key *k, json_t *v,
                                  const char *who, struct config_errs *e)
{
    switch (k->kind) {
    case CK_BOOL:
        if (json_is_boolean(v)) {
            *(bool *)config_table_ptr(cfg, k) = json_is_true(v);
        } else {
            config_err_add(e, who, "expected true or false (got %s)", config_json_kind(v));
        }
        return;
    case CK_ADDRS:
        config_table_set_addrs_json(cfg, k, v, who, e);
        return;
    case CK_SECTION: {
        if (json_is_null(v)) {
            *(bool *)config_table_ptr(cfg, k) = false;
            return;
        }
        if (!json_is_object(v)) {
            config_err_add(e, who, "expected an object or null (got %s)", config_json_kind(v));
            return;
        }
        *(bool *)config_table_ptr(cfg, k) = true;
        char sub[CFG_JPATH_MAX];
        snprintf(sub, sizeof sub, "%s.%s", k->section, k->name);
        config_table_section(cfg, v, sub, e);
        return;
    }
    default:
        break;
    }
    if (config_table_is_int(k)) {
        int64_t x;
        if (config_json_int_in(v, k->min, k->max, who, &x, e)) {
            config_table_store_int(cfg, k, x);
        }
        return;
    }
    if (json_is_null(v) && k->kind == CK_NSTR) {
        config_table_set_string(cfg, k, NULL, who, e);
        return;
    }
    if (!json_is_string(v)) {
        char wl[256];
        if (k->words != NULL) {
            config_err_add(e, who, "expected a string, one of %s (got %s)",
                           config_err_words(k->words, wl, sizeof wl), config_json_kind(v));
        } else {
            config_err_add(e, who, "expected %s (got %s)",
                           k->kind == CK_NSTR ? "a string or null" : "a string",
                           config_json_kind(v));
        }
        return;
    }
    config_table_set_string(cfg, k, json_string_value(v), who, e);
}

void config_table_format(const struct featd_config *cfg, const struct config_key *k, bool mask,
                         char *buf, size_t cap)
{
    const void *p = config_table_cptr(cfg, k);
    switch (k->kind) {
    case CK_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case CK_U32: snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)p); break;
    case CK_SIZE: snprintf(buf, cap, "%zu", *(const size_t *)p); break;
    case CK_ENUM: {
        int i = *(const int *)p;
        snprintf(buf, cap, "%s", config_table_word(k, i));
        break;
    }
    case CK_BOOL: snprintf(buf, cap, "%s", *(const bool *)p ? "true" : "false"); break;
    case CK_SECTION: snprintf(buf, cap, "%s", *(const bool *)p ? "{...}" : "null"); break;
    case CK_ADDRS: {
        const struct cfg_addrs *l = p;
        if (l->n == 0) {
            snprintf(buf, cap, "null");
            break;
        }
        /* ["h:1", "h:2"]; cut with "...]" when it does not fit (only a
         * rendering: equality is config_table_equal's) */
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < l->n; i++) {
            char a[320];
            config_addr_format(&l->v[i], a, sizeof a);
            int w = snprintf(buf + o, cap - o, "%s\"%s\"%s", i ? ", " : "[", a,
                             i + 1 == l->n ? "]" : "");
            if (w < 0 || (size_t)w >= cap - o) {
                if (cap > 5) {
                    memcpy(buf + (o < cap - 5 ? o : cap - 5), "...]", 5);
                }
                break;
            }
            o += (size_t)w;
        }
        break;
    }
    default: {
        const char *s = *(char *const *)p;
        if (s == NULL) {
            snprintf(buf, cap, "null");
        } else if (mask && strcmp(k->name, "password") == 0) {
            snprintf(buf, cap, "\"***\"");
        } else {
            char q[QBUF];
            snprintf(buf, cap, "%s", config_err_quote(s, q, sizeof q));
        }
        break;
    }
    }
}

void config_table_copy(struct featd_config *dst, const struct featd_config *src,
                       const struct config_key *k)
{
    void *d = config_table_ptr(dst, k);
    const void *s = config_table_cptr(src, k);
    switch (k->kind) {
    case CK_INT:
    case CK_ENUM: *(int *)d = *(const int *)s; break;
    case CK_U32: *(uint32_t *)d = *(const uint32_t *)s; break;
    case CK_SIZE: *(size_t *)d = *(const size_t *)s; break;
    case CK_BOOL:
    case CK_SECTION: *(bool *)d = *(const bool *)s; break;
    case CK_ADDRS: config_addr_list_copy(d, s); break;
    default: {
        char **df = d;
        const char *sv = *(char *const *)s;
        free(*df);
        *df = sv ? util_xstrdup(sv) : NULL;
        break;
    }
    }
}

void config_table_defaults(struct featd_config *cfg, struct config_errs *e)
{
    for (size_t i = 0; i < config_table_len; i++) {
        const struct config_key *k = &config_table[i];
        char who[CFG_JPATH_MAX];
        snprintf(who, sizeof who, "default of $.%s.%s", k->section, k->name);
        config_table_set_string(cfg, k, k->def, who, e);
    }
}

const struct config_key *config_table_key(const char *section, const char *name)
{
    for (size_t i = 0; i < config_table_len; i++) {
        if (strcmp(config_table[i].section, section) == 0 &&
            strcmp(config_table[i].name, name) == 0) {
            return &config_table[i];
        }
    }
    return NULL;
}

void config_table_section(struct featd_config *cfg, json_t *obj, const char *section,
                          struct config_errs *e)
{
    char base[CFG_JPATH_MAX], who[CFG_JPATH_MAX];
    snprintf(base, sizeof base, "$.%s", section);
    if (!json_is_object(obj)) {
        config_err_add(e, base, "expected an object (got %s)", config_json_kind(obj));
        return;
    }
    const char *cands[FEATD_ARRAY_LEN(config_table)];
    size_t nc = 0;
    for (size_t i = 0; i < config_table_len; i++) {
        if (strcmp(config_table[i].section, section) == 0) {
            cands[nc++] = config_table[i].name;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        config_err_path_key(who, base, key);
        const struct config_key *k = config_table_key(section, key);
        if (k == NULL) {
            char where[64];
            snprintf(where, sizeof where, " in the %s section", section);
            config_err_unknown(e, who, "key", key, cands, nc, where);
            continue;
        }
        config_table_set_json(cfg, k, v, who, e);
    }
}

bool config_table_equal(const struct featd_config *a, const struct featd_config *b,
                        const struct config_key *k)
{
    const void *pa = config_table_cptr(a, k), *pb = config_table_cptr(b, k);
    switch (k->kind) {
    case CK_INT:
    case CK_ENUM: return *(const int *)pa == *(const int *)pb;
    case CK_U32: return *(const uint32_t *)pa == *(const uint32_t *)pb;
    case CK_SIZE: return *(const size_t *)pa == *(const size_t *)pb;
    case CK_BOOL:
    case CK_SECTION: return *(const bool *)pa == *(const bool *)pb;
    case CK_ADDRS: return config_addr_list_equal(pa, pb);
    default: {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
    }
    }
}

void config_table_free(struct featd_config *cfg)
{
    for (size_t i = 0; i < config_table_len; i++) {
        const struct config_key *k = &config_table[i];
        switch (k->kind) {
        case CK_STR:
        case CK_NSTR:
        case CK_WORD:
            free(*(char **)config_table_ptr(cfg, k));
            break;
        case CK_ADDRS:
            config_addr_list_free(config_table_ptr(cfg, k));
            break;
        default:
            break;
        }
    }
}
