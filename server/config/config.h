/*
 * config.h — the configuration: one JSON file (sections "server", "redis",
 * "materialize", "entities", "feature_views"; docs/config.md) parsed with jansson into an
 * immutable struct featd_config. A loaded config is never mutated; reload
 * builds a new one and swaps it in (config/registry.h wraps it in a
 * reference count). Loading, env overrides and the reload check run on one
 * thread at a time; the lookups (config_find_view*, config_feature_index,
 * config_type_*) may be called from any thread holding the config.
 */
#ifndef FEATD_CONFIG_H
#define FEATD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

/* Value types of features and join keys (config spelling in comments). */
enum featd_type {
    FT_BOOL = 0,     /* "bool" */
    FT_INT32,        /* "int32" */
    FT_INT64,        /* "int64" */
    FT_FLOAT,        /* "float" */
    FT_DOUBLE,       /* "double" */
    FT_STRING,       /* "string" */
    FT_BYTES,        /* "bytes" */
    FT_TIMESTAMP,    /* "timestamp" (µs since the epoch, UTC) */
    FT_FLOAT_LIST,   /* "float_list" */
    FT_DOUBLE_LIST,  /* "double_list" */
    FT_INT64_LIST,   /* "int64_list" */
    FT_STRING_LIST,  /* "string_list" */
    FT__COUNT
};

enum featd_mat_mode {
    MAT_SNAPSHOT = 0,   /* "snapshot" */
    MAT_INCREMENTAL     /* "incremental" */
};

enum featd_log_format {
    LOGF_TEXT = 0,      /* "text" */
    LOGF_JSON           /* "json" */
};

/* materialize.pacing (the materializer's write pacing, materialize/mat_pace.h). */
/* redis.eviction: what featd does with a Redis that may evict its keys. */
enum featd_eviction {
    EVICT_REFUSE = 0,   /* "refuse": unready and no materialization unless maxmemory-policy is noeviction */
    EVICT_ALLOW         /* "allow": a loud warning; evictions still make /readyz fail */
};

enum featd_mat_pacing {
    MATP_ADAPTIVE = 0,  /* "adaptive": back off when the workers' Redis p99 is over budget */
    MATP_FIXED,         /* "fixed": at most max_rows_per_sec (0 = unpaced) */
    MATP_OFF            /* "off": unpaced */
};

struct cfg_join_key {
    char *name;             /* join key name == Parquet column name */
    enum featd_type type;   /* FT_INT64 or FT_STRING only */
};

struct cfg_entity {
    char *name;
    struct cfg_join_key *keys;  /* composite keys allowed, in declared order */
    size_t nkeys;
};

/* A feature's "expect" rules (DESIGN §12); has = false: none given. */
struct cfg_expect {
    bool has;
    bool has_min, has_max;
    double min, max;        /* numeric features (bool 0/1, timestamps in µs) */
    bool not_null;
    double max_null_fraction;   /* 0..1; 1 = no limit (default) */
    char **allowed;         /* string features: the allowed values; NULL = any */
    size_t nallowed;
};

struct cfg_feature {
    char *name;
    enum featd_type type;
    char *column;           /* source column (after "columns" renames); never NULL */
    struct cfg_expect expect;
};

enum featd_on_violation { VIOLATION_HOLD = 0, VIOLATION_WARN };

/* A view's "quality" gate (DESIGN §12); has = false: none. Snapshot mode only. */
struct cfg_quality {
    bool has;
    int64_t min_rows;           /* 0 = no minimum */
    double max_row_change;      /* relative change against the current generation; < 0 = none */
    double max_psi;             /* 0..10; < 0 = none */
    char *baseline;             /* baseline profile file (featd-cli profile), NULL = previous */
    enum featd_on_violation on_violation;   /* default hold */
    int keep_generations;       /* 1..2, default 2: 2 keeps the replaced generation (rollback) */
};


struct cfg_view {
    char *name;
    char **entities;        /* entity names, declared order */
    size_t nentities;
    struct cfg_join_key *keys;  /* all join keys of all entities, flattened in order
                                   (copies; owned by the view) */
    size_t nkeys;
    int64_t ttl_seconds;    /* 0 = never stale */
    struct cfg_feature *features;
    size_t nfeatures;
    char *source_path;      /* directory or glob; NULL when no "source" */
    char *event_ts_column;  /* default "event_timestamp" */
    char *created_ts_column;/* NULL when not configured */
    char *stream_key;       /* source.stream.key: a Redis Stream of rows; NULL = none */
    char *stream_group;     /* source.stream.group (default "featd") */
    enum featd_mat_mode mat_mode;
    int64_t mat_interval_seconds;   /* default 60, >= 1 */
    struct cfg_quality quality;
    uint64_t fingerprint;   /* FNV-1a 64 over name, join keys (name+type) and
                               features (name+type) in order: any schema change
                               changes it */
    char fingerprint_hex[17];
    int metrics_slot;       /* per-view metric series (core/metrics_view.h), -1 = none;
                               set by registry_new, meaningless in a config outside a registry */
};

struct cfg_server {
    char *listen;                   /* "host:port", default "127.0.0.1:6566" */
    char *admin_listen;             /* default "127.0.0.1:6567"; "" disables */
    int workers;                    /* 1..64, default 2 */
    int max_connections;            /* 1..1000000, default 10000 */
    int admin_max_connections;      /* 1..10000, default 64 (admin HTTP) */
    uint32_t max_frame_bytes;       /* 64..1073741824, default 4194304 */
    int max_entities_per_request;   /* 1..1000000, default 1000 */
    int request_timeout_ms;         /* 1..600000, default 1000 */
    size_t max_output_bytes;        /* per-connection bound on unread answers,
                                       default 16 MiB (net/conn.h) */
    size_t max_client_memory_bytes; /* process-wide connection-buffer budget, default 1 GiB */
    int idle_timeout_ms;            /* close idle client connections after it; 0 = never */
    int frame_timeout_ms;           /* a started frame must complete within it; 0 = no limit */
    int max_inflight_requests;      /* per worker, in flight to Redis; default 10000 */
    int slow_request_ms;            /* 0..600000, default 10; 0 = no slow-request accounting */
    int busy_poll_us;               /* 0..10000, default 0: spin while requests wait on Redis */
    int shutdown_timeout_ms;        /* drain deadline on SIGTERM, default 10000 */
    char *data_dir;                 /* default "./featd-data" (embedded redis lives here) */
    char *log_level;                /* "error","warn","info","debug", default "info" */
    enum featd_log_format log_format;
};

/* Which Redis deployment the redis section describes (resolved at load from
 * redis.url, redis.cluster_nodes and redis.sentinel: at most one is given). */
enum featd_redis_mode {
    REDIS_MODE_EMBEDDED = 0,    /* none given (or url "embedded"): private redis-server */
    REDIS_MODE_SINGLE,          /* redis.url redis://... or unix://...: one node */
    REDIS_MODE_CLUSTER,         /* redis.cluster_nodes: Redis Cluster, these are seeds */
    REDIS_MODE_SENTINEL         /* redis.sentinel: the master Sentinel names */
};

/* One "host:port" of a node list (host without IPv6 brackets). */
struct cfg_addr {
    char *host;
    int port;                   /* 1..65535 */
};

/* A list of nodes; n == 0 (v NULL) when the key is null or omitted. Entries
 * are distinct (same port and same host name or IP address). */
struct cfg_addrs {
    struct cfg_addr *v;
    size_t n;
};

/* redis.sentinel (DESIGN.md §10). */
struct cfg_redis_sentinel {
    bool given;                 /* the object was given (not null/omitted) */
    char *master_name;          /* 1..256 bytes; required when given */
    struct cfg_addrs nodes;     /* 1..16 sentinels; required when given */
    char *password;             /* the sentinels' own AUTH password; NULL = none */
};

struct cfg_redis {
    enum featd_redis_mode mode;
    char *url;              /* as given; NULL or "embedded" = private redis-server */
    bool embedded;          /* mode == REDIS_MODE_EMBEDDED */
    char *host;             /* parsed from redis://host:port/db; NULL for unix */
    int port;
    char *unix_path;        /* redis+unix:///path/to.sock?db=N or unix:///path */
    int db;                 /* 0..15 */
    char *username;         /* ACL user (AUTH username password); NULL = AUTH password;
                               never without a password, never with the embedded store */
    char *password;         /* NULL = no AUTH */
    char *password_file;    /* the password's file (read into password at load), or NULL */
    bool password_from_file;    /* password came from password_file */
    struct cfg_addrs cluster_nodes;  /* cluster seed nodes (1..64); n == 0 unless CLUSTER */
    bool read_from_replicas;        /* cluster only: lookups may go to replicas (READONLY) */
    struct cfg_redis_sentinel sentinel;  /* given only in SENTINEL mode */
    int timeout_ms;         /* connect/command timeout for blocking users, default 200 */
    char *key_prefix;       /* default "featd"; [A-Za-z0-9_.-]{1,64} */
    char *server_bin;       /* embedded: redis-server binary, default "redis-server" */
    enum featd_eviction eviction;   /* default refuse */
};

/* The materializer's process-wide settings (section "materialize"). */
struct cfg_materialize {
    int max_rows_per_sec;           /* write cap, rows/s; 0 = none (default) */
    enum featd_mat_pacing pacing;   /* default adaptive */
    int pacing_latency_budget_us;   /* adaptive: workers' Redis p99 budget; 0 = auto (default) */
    int pacing_min_rows_per_sec;    /* adaptive: the floor, default 10000 */
    int unready_after_intervals;    /* /readyz fails for a view failing this many intervals; 0 = never */
};

/* One client token of "auth" (DESIGN §14): only its SHA-256 is kept. */
struct cfg_token {
    char *name;             /* the principal, in logs and errors */
    uint8_t sha256[32];
    char **views;           /* view names it may read; "*" = all */
    size_t nviews;
    bool all_views;         /* "*" among views */
    bool write;             /* may write (push) to the views it may read */
};

/* Section "auth": with tokens, every client authenticates first. */
struct cfg_auth {
    bool enabled;           /* at least one token */
    struct cfg_token *tokens;
    size_t ntokens;
    bool protect_metrics;   /* /metrics needs a token too */
};

/* The serving listener's TLS (section "tls", DESIGN §14); all NULL = plaintext. */
struct cfg_tls {
    char *cert_file;        /* PEM certificate chain; with key_file: TLS on */
    char *key_file;         /* PEM private key */
    char *client_ca_file;   /* PEM CA bundle: client certificates required (mTLS) */
    bool admin;             /* the admin port speaks TLS too */
};

/* The serving log (top-level "serving_log", DESIGN §12; servlog/servlog.h).
 * Absent or null: enabled false, sample_rate 0. Every key reloadable. */
#define CFG_SERVLOG_DEFAULT_RATE 0.01
#define CFG_SERVLOG_DEFAULT_MAX_BYTES 104857600u
#define CFG_SERVLOG_DEFAULT_KEEP 5
struct cfg_serving_log {
    bool enabled;           /* the key is given (with its path) */
    char *path;             /* the log file; NULL when not enabled */
    double sample_rate;     /* 0..1, share of lookups logged; default 0.01 */
    uint64_t max_bytes;     /* rotate when the file would pass it; 4096..2^40, default 100 MiB */
    int keep;               /* rotated files kept (path.1 .. path.keep); 1..100, default 5 */
};

struct featd_config {
    char *path;             /* file it was loaded from, or NULL */
    struct cfg_server server;
    struct cfg_redis redis;
    struct cfg_materialize materialize;
    struct cfg_tls tls;
    struct cfg_auth auth;
    struct cfg_entity *entities;
    size_t nentities;
    struct cfg_view *views;
    size_t nviews;
    struct cfg_serving_log serving_log; /* "serving_log" (config_servlog.c) */
};

/*
 * Parse and validate. On success returns FEATD_OK and *out owns a new config.
 * On failure returns FEATD_ERR, *out is NULL, and err holds one line per
 * problem found (up to a limit), each "PATH: what is wrong (expected ...)",
 * where PATH is a JSON path like $.feature_views[0].features[2].type.
 * Unknown keys, duplicate names, unknown entity references, bad types, bad
 * ports are all errors. Environment overrides (config_env_apply) are applied
 * by config_load_file only when apply_env is true.
 */
int config_load_file(const char *path, bool apply_env, struct featd_config **out,
                     char *err, size_t errlen) FEATD_MUSTCHECK;
/* The same from JSON text (no environment overrides). config_load_file
 * uses it; the unit tests (check_config.c, check_mat.c) load inline
 * configs through it. */
int config_load_string(const char *json, struct featd_config **out,
                       char *err, size_t errlen) FEATD_MUSTCHECK;
void config_free(struct featd_config *cfg);

/*
 * Overrides from the environment, applied after parsing and re-validated:
 * FEATD_LISTEN, FEATD_ADMIN_LISTEN, FEATD_REDIS_URL, FEATD_REDIS_PASSWORD,
 * FEATD_LOG_LEVEL, FEATD_LOG_FORMAT, FEATD_WORKERS, FEATD_DATA_DIR, ... (the
 * env column of the key table, e.g. FEATD_MATERIALIZE_MAX_ROWS_PER_SEC).
 */
int config_env_apply(struct featd_config *cfg, char *err, size_t errlen) FEATD_MUSTCHECK;

/* The view named name (NUL-terminated, or name[0..len) for the n form), or
 * NULL; the feature's index in v, or -1. No allocation (request path). */
const struct cfg_view *config_find_view(const struct featd_config *cfg, const char *name);
const struct cfg_view *config_find_viewn(const struct featd_config *cfg, const char *name,
                                         size_t len);
int config_feature_index(const struct cfg_view *v, const char *name, size_t len);

/* Static name of a feature type ("int64", ...); "?" when out of range. */
const char *config_type_name(enum featd_type t);
int config_type_parse(const char *s);   /* -1 when unknown */
bool config_type_is_list(enum featd_type t);

/* "an object", "an array", "a string", "an integer", "a real number",
 * "a boolean" or "null": for "expected X (got <kind>)" messages about JSON
 * input (config files, featd-cli load rows, the admin JSON lookup). */
struct json_t;
const char *config_json_kind(const struct json_t *v);

/* "embedded", "single", "cluster" or "sentinel"; "?" when out of range. Any
 * thread (static strings). */
const char *config_redis_mode_name(enum featd_redis_mode m);

/* "host:port" -> host (malloc'd) and port. FEATD_ERR on bad form or port. */
int config_addr_parse_hostport(const char *s, char **host, int *port) FEATD_MUSTCHECK;

/* ---- driven by the server/redis/materialize key table ---- */

struct fbuf;

/*
 * Reload check: compares the keys that cannot change without a restart
 * (workers, listen addresses, redis.*, data_dir, ...). Returns how many
 * differ and writes one line per key into out
 * ("$.server.workers: changed from 2 to 4; needs a restart (running value
 * kept)"; passwords masked). The caller then keeps the running values of
 * those keys (config_reload_keep_restart_only).
 */
int config_reload_restart_needed(const struct featd_config *running,
                                 const struct featd_config *next, char *out, size_t outlen);
/* Keeps the running value of every restart-only key (and what redis.url
 * resolved to) in next, the config a reload is about to swap in. */
void config_reload_keep_restart_only(const struct featd_config *running, struct featd_config *next);

/* Appends the markdown reference table of every server/redis/materialize key (type,
 * default, range, reloadable, env, meaning); docs/config.md embeds it and
 * check_config fails when the two differ. */
int config_doc_markdown(struct fbuf *out) FEATD_MUSTCHECK;

/* For a file path in an error: " (relative to the working directory DIR)"
 * into buf[0..cap) when path is relative (featd opens it from its working
 * directory, not the config file's), "" otherwise; returns buf. */
const char *config_err_relative(const char *path, char *buf, size_t cap);

#endif
