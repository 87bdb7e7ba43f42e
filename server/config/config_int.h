/*
 * config_int.h — private to server/config/: what the files of the config
 * loader share. Nothing outside server/config/ includes it (the API is
 * config/config.h).
 *
 *   config.c        load: file -> jansson -> struct featd_config; free;
 *                   the request-path lookups (views, features)
 *   config_err.c    the error list, quoted values, JSON paths, suggestions
 *   config_json.c   typed access to JSON members, name and text rules
 *   config_table.c  the server/redis/materialize key table and the generic key parsing
 *   config_addr.c   listen addresses, node lists, the redis url, cross-key checks
 *   config_redis.c  the redis deployment: exactly one of url / cluster_nodes /
 *                   sentinel, keys that need another key, the mode
 *   config_view.c   entities and feature views (and their fingerprints)
 *   config_type.c   the value types of features and join keys
 *   config_env.c    FEATD_* environment overrides
 *   config_reload.c the reload rule: restart-only keys
 *   config_doc.c    the generated key table of docs/config.md
 *
 * Everything here runs on the thread that loads a config (the main thread at
 * startup and on SIGHUP, or a CLI); none of it is on the request path.
 */
#ifndef FEATD_CONFIG_INT_H
#define FEATD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "core/fbuf.h"

#define CFG_MAX_ERRORS       50         /* error lines kept */
#define CFG_MAX_FILE_BYTES   (16u << 20)
#define CFG_NAME_MAX         128        /* entity/view/feature/join key names */
#define CFG_COLUMN_MAX       256        /* Parquet column names */
#define CFG_PATH_STR_MAX     4096       /* filesystem paths */
#define CFG_MAX_ENTITIES     4096
#define CFG_MAX_VIEWS        4096
#define CFG_MAX_FEATURES     4096       /* per view */
#define CFG_MAX_ENTITY_KEYS  16         /* join keys per entity */
#define CFG_MAX_VIEW_ENTS    16         /* entities per view */
#define CFG_JPATH_MAX        384        /* one rendered JSON path */
#define CFG_QUOTE_MAX        64         /* user text quoted in messages */
#define CFG_TTL_MAX          3153600000LL   /* 100 years */
#define CFG_MAX_VIEW_KEYS    64             /* join keys of all of a view's entities */
#define CFG_INTERVAL_MAX     31536000LL     /* 1 year */
#define CFG_UNIX_PATH_MAX    107        /* sun_path minus the NUL */
#define CFG_MAX_LIST_ADDRS   64         /* entries of a node list (CK_ADDRS max) */

/* Size of a buffer for config_err_quote (a quoted, escaped, capped value). */
#define QBUF (CFG_QUOTE_MAX * 4 + 16)

/* ---- config_err.c: collecting and rendering problems ---- */

/* The problems found while loading one config (or applying overrides). */
struct config_errs {
    struct fbuf buf;    /* kept lines, '\n'-separated */
    int n;              /* errors seen (may exceed the lines kept) */
    bool oom;
    bool entities_broken;   /* an entity lacks a usable name: references to
                               unknown entities are not reported (cascade) */
};

/* Appends the line "PATH: message"; counts beyond CFG_MAX_ERRORS but keeps
 * only that many lines. */
void config_err_add(struct config_errs *e, const char *path, const char *fmt, ...)
    FEATD_PRINTF(3, 4);
/* Copies the collected lines into err (when not NULL) and releases them. */
void config_err_finish(struct config_errs *e, char *err, size_t errlen);

/* Renders s as a double-quoted, escaped, length-capped string into out
 * (cap >= QBUF is never exceeded) and returns out. */
const char *config_err_quote(const char *s, char *out, size_t cap);
/* snprintf into a CFG_JPATH_MAX path buffer (truncation is acceptable). */
void config_err_pathf(char *out, const char *fmt, ...) FEATD_PRINTF(2, 3);
/* out = base + ".key" (or base + "[\"key\"]" for keys that are not plain
 * identifiers); out = base + "[i]". out has CFG_JPATH_MAX bytes. */
void config_err_path_key(char *out, const char *base, const char *key);
void config_err_path_idx(char *out, const char *base, size_t i);
/* The candidate closest to s when it is plausibly a typo, else NULL.
 * NULL entries of cands are skipped. */
const char *config_err_suggest(const char *s, const char *const *cands, size_t n);
/* Adds "PATH: unknown WHAT "NAME" (did you mean "X"?)" when one of cands is
 * close to name, else "PATH: unknown WHAT "NAME"" followed by otherwise
 * (e.g. " in the server section"). */
void config_err_unknown(struct config_errs *e, const char *path, const char *what,
                        const char *name, const char *const *cands, size_t nc,
                        const char *otherwise);
/* Joins a NULL-terminated word list as "a, b, c" into buf; returns buf. */
const char *config_err_words(const char *const *words, char *buf, size_t cap);

/* ---- config_json.c: reading the JSON document ---- */

/* Reports every key of obj that is not in allowed (what = "an entity", ...). */
void config_json_check_keys(json_t *obj, const char *base, const char *const *allowed,
                            const char *what, struct config_errs *e);
/*
 * Member key of obj when present with JSON type want; JSON null is returned
 * as NULL without error when nullable. Missing: error when required. Wrong
 * type: error, NULL.
 */
json_t *config_json_member(json_t *obj, const char *key, json_type want, bool required,
                           bool nullable, const char *base, struct config_errs *e);
/*
 * The required array member key of obj (at most max elements) with a new
 * zeroed C array of as many elsize-byte items in *items. path receives the
 * member's JSON path (CFG_JPATH_MAX bytes). Returns the count, or 0 with
 * *items NULL when the member is missing or bad (reported), empty (reported
 * as "PATH: empty_why" unless empty_why is NULL) or memory ran out
 * (reported). *arr (may be NULL) gets the array, or NULL when missing or bad.
 */
size_t config_json_list(json_t *obj, const char *key, const char *base, size_t max,
                        const char *empty_why, size_t elsize, void **items, json_t **arr,
                        char *path, struct config_errs *e);
/* An integer value in [min, max] into *out; false (after an error at path)
 * when v is not an integer or out of range. */
bool config_json_int_in(json_t *v, int64_t min, int64_t max, const char *path, int64_t *out,
                        struct config_errs *e);
/* Name rule check: NULL when fine, else a reason (static or in why). */
const char *config_json_name_problem(const char *s, char *why, size_t whylen);
/* Column names (Parquet) and paths: non-empty, at most max bytes, no control
 * characters. NULL when fine, else a reason (static or in why). */
const char *config_json_text_problem(const char *s, size_t max, char *why, size_t whylen);

#define NAME_RULE "names are [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 bytes"

/* ---- config_table.c: the server/redis/materialize key table ---- */

enum config_key_kind {
    CK_INT,     /* int field; JSON integer in [min, max] */
    CK_U32,     /* uint32_t field */
    CK_SIZE,    /* size_t field */
    CK_STR,     /* char * field, never NULL; length in [min, max] */
    CK_NSTR,    /* char * field, JSON null allowed (-> NULL) */
    CK_WORD,    /* char * field, one of words[] */
    CK_ENUM,    /* int-sized enum field, index into words[] */
    CK_BOOL,    /* bool field; JSON true/false, env "true"/"false" */
    CK_ADDRS,   /* struct cfg_addrs field; JSON array of "host:port" (min..max
                   entries) or null, env a comma-separated list ("" = null) */
    CK_SECTION, /* bool field: a nested object (true) or null (false) whose keys
                   are the rows of section "<section>.<name>" */
};

/* One server/redis/materialize key: everything parsing, defaults, env overrides, the
 * reload rule and the docs need to know about it. */
struct config_key {
    const char *section;    /* "server", "redis" or "materialize" */
    const char *name;       /* key within the section */
    enum config_key_kind kind;
    size_t off;             /* offsetof(struct featd_config, section.field) */
    int64_t min, max;       /* integers: value range; strings: length range */
    const char *def;        /* default in string form (NULL = null) */
    bool reloadable;        /* a SIGHUP may change it without a restart */
    const char *env;        /* overriding environment variable, or NULL */
    const char *const *words;   /* CK_WORD/CK_ENUM values */
    /* extra validation of string values: NULL when fine, else the reason */
    const char *(*check)(const char *v, char *why, size_t whylen);
    const char *help;
};

#define CFG_SRV(f) offsetof(struct featd_config, server.f)
#define CFG_RDS(f) offsetof(struct featd_config, redis.f)
#define CFG_MAT(f) offsetof(struct featd_config, materialize.f)
#define CFG_TLS(f) offsetof(struct featd_config, tls.f)

extern const struct config_key config_table[];
extern const size_t config_table_len;

/* The row of section.name, or NULL. */
const struct config_key *config_table_key(const char *section, const char *name);
/* True for the integer kinds (stored as int64_t), false for strings and
 * enums. Pure. */
bool config_table_is_int(const struct config_key *k);
/*
 * Validates and stores a string value for key k (every kind; integers are
 * parsed from decimal text). s == NULL means null (CK_NSTR only). who names
 * the value in errors (a JSON path or an environment variable).
 */
void config_table_set_string(struct featd_config *cfg, const struct config_key *k, const char *s,
                             const char *who, struct config_errs *e);
/* Stores every key's default. */
void config_table_defaults(struct featd_config *cfg, struct config_errs *e);
/* Parses one table-driven section object ("server", "redis" or "materialize"). */
void config_table_section(struct featd_config *cfg, json_t *obj, const char *section,
                          struct config_errs *e);
/* Renders the current value of k (password masked when mask). */
void config_table_format(const struct featd_config *cfg, const struct config_key *k, bool mask,
                         char *buf, size_t cap);
/* True when a and b hold the same value of k (full values, not renderings). */
bool config_table_equal(const struct featd_config *a, const struct featd_config *b,
                        const struct config_key *k);
/* Copies the value of k from src to dst (strings duplicated, dst's freed). */
void config_table_copy(struct featd_config *dst, const struct featd_config *src,
                       const struct config_key *k);
/* Frees every string-valued key of cfg. */
void config_table_free(struct featd_config *cfg);

/* ---- config_addr.c: addresses and the redis url ---- */

/* The result of parsing redis.url. */
struct config_redis_url {
    bool embedded;
    char *host;
    int port;
    char *unix_path;
    int db;
    char *username;     /* from the url's userinfo (not "default"), percent-decoded */
    char *password;     /* from the url's userinfo, percent-decoded */
};

/* Parses a redis.url value (NULL = embedded). FEATD_ERR with a reason in
 * why; u is to be cleared either way. */
int config_addr_url_parse(const char *url, struct config_redis_url *u, char *why, size_t whylen);
void config_addr_url_clear(struct config_redis_url *u);
/* Key-table checks of server.listen, server.admin_listen and redis.url. */
const char *config_addr_check_listen(const char *v, char *why, size_t whylen);
const char *config_addr_check_admin_listen(const char *v, char *why, size_t whylen);
const char *config_addr_check_redis_url(const char *v, char *why, size_t whylen);
/*
 * Resolves redis.url into embedded/host/port/unix_path/db and merges the
 * url's user name and password with redis.username and redis.password.
 * url_who names the url in errors; when pw_wins (FEATD_REDIS_PASSWORD is
 * set, even empty) the url's password is ignored, when user_wins
 * (FEATD_REDIS_USERNAME is set) its user name.
 */
void config_addr_resolve_redis(struct featd_config *cfg, const char *url_who, bool pw_wins,
                               bool user_wins, struct config_errs *e);
/*
 * A node list value: items[0..n) (NULL entries were not strings and are
 * already reported) must be 1..max distinct "host:port" addresses. Stores
 * the list into *out (the old one freed) when all are good; otherwise adds
 * one error per problem, who naming the list ("$.redis.cluster_nodes",
 * items as who[i]).
 */
void config_addr_list_set(struct cfg_addrs *out, const char *const *items, size_t n, size_t max,
                          const char *who, struct config_errs *e);
/* Frees the entries of l and empties it; deep copy (dst emptied first). */
void config_addr_list_free(struct cfg_addrs *l);
void config_addr_list_copy(struct cfg_addrs *dst, const struct cfg_addrs *src);
/* Same list (same order, same hosts and ports)? */
bool config_addr_list_equal(const struct cfg_addrs *a, const struct cfg_addrs *b);
/* "host:port", "[v6]:port" into buf. */
void config_addr_format(const struct cfg_addr *a, char *buf, size_t cap);
/* Checks that need several server keys at once (the admin port must differ
 * from the serving port); admin_who names the culprit in errors. */
void config_addr_cross_check(const struct featd_config *cfg, const char *admin_who,
                             struct config_errs *e);

/* ---- config_redis.c: the redis deployment ---- */

/*
 * After redis.url was resolved (config_addr_resolve_redis): checks that at
 * most one of redis.url, redis.cluster_nodes, redis.sentinel is given, that
 * the keys needing another key have it (username -> password, not embedded;
 * read_from_replicas -> cluster_nodes; sentinel keys only with sentinel),
 * and sets cfg->redis.mode (and embedded). Errors name the JSON paths, or
 * the environment variable of a key it set when from_env.
 */
void config_redis_resolve(struct featd_config *cfg, bool from_env, struct config_errs *e);
/* The required keys of a given $.redis.sentinel object (master_name, nodes;
 * null counts as missing). sentinel may be NULL or not an object (then
 * nothing is checked: that was reported by the key table). */
void config_redis_sentinel_required(json_t *sentinel, struct config_errs *e);

/* ---- config_view.c: entities and feature views ---- */

/*
 * Parse $.entities and then $.feature_views of root into cfg (in that
 * order: views resolve their entity names against cfg->entities). cfg owns
 * everything allocated (config_free releases it), also when errors were
 * added to e; loading goes on after an error so that one run reports all.
 */
void config_view_parse_entities(struct featd_config *cfg, json_t *root, struct config_errs *e);

/* ---- config_quality.c: "expect", "quality" (DESIGN §12) ---- */
void config_quality_expect(json_t *feature, const char *base, struct cfg_feature *f,
                           struct config_errs *e);
void config_quality_expect_free(struct cfg_expect *x);
void config_quality_view(json_t *view, const char *base, struct cfg_view *v, struct config_errs *e);

/* ---- config_stream.c: source.stream (DESIGN §11) ---- */
/* Parses src's "stream" member into v->stream_key/stream_group; true when
 * one was given (even with errors). */
bool config_stream_parse(json_t *src, const char *srcbase, struct cfg_view *v, struct config_errs *e);
/* The checks that need the whole configuration (Redis mode, other views). */
void config_stream_check(const struct featd_config *cfg, struct config_errs *e);

/* ---- config_servlog.c: "serving_log" (DESIGN §12) ---- */
void config_servlog_parse(struct featd_config *cfg, json_t *root, struct config_errs *e);
void config_servlog_free(struct cfg_serving_log *s);

/* ---- config_auth.c: the "auth" section (after the views) ---- */
void config_auth_parse(struct featd_config *cfg, json_t *root, struct config_errs *e);
void config_auth_free(struct cfg_auth *a);
void config_view_parse_views(struct featd_config *cfg, json_t *root, struct config_errs *e);
/* Sets every view's fingerprint (only on a config without errors). */
void config_view_fingerprints(struct featd_config *cfg);
void config_view_free(struct featd_config *cfg);

/* ---- config_type.c ---- */

extern const char *const config_type_names[FT__COUNT];

#define TYPE_LIST "bool, int32, int64, float, double, string, bytes, timestamp, " \
                  "float_list, double_list, int64_list, string_list"

#endif
