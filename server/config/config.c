/*
 * config.c — the registry: parse, validate and hold the JSON configuration
 * (DESIGN.md §3; the contract is config.h).
 *
 *   file (bounded read) -> jansson (duplicate keys rejected)
 *     -> defaults from ckeys[] -> "server" and "redis" through ckeys[]
 *     -> redis url resolved (embedded / tcp / unix) -> cross-key checks
 *     -> "entities" -> "feature_views" (names, types, join-key flattening,
 *        source columns and renames, materialization, fingerprints)
 *
 * Every problem is appended to an error list as one line
 * "PATH: what is wrong (expected ...)", PATH being a JSON path such as
 * $.feature_views[0].features[2].type (or the environment variable for
 * overrides). Parsing goes on after an error so that one run reports
 * everything (up to CFG_MAX_ERRORS lines); only a config without any error
 * is handed out.
 *
 * The server and redis keys are defined once, in ckeys[]: kind, bounds,
 * default, reloadability, environment variable and help text. That table
 * drives parsing, defaults, env overrides, the reload check
 * (config_restart_needed), the settings dump (config_settings_json) and the
 * reference table in docs/config.md (config_keys_markdown; a unit test keeps
 * the doc in sync).
 *
 * Views and entities are structural and parsed by hand below; their keys are
 * listed in the *_keys[] arrays used for the unknown-key check.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/util.h"

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

/* ------------------------------------------------------------------------ */
/* Error collection                                                         */
/* ------------------------------------------------------------------------ */

struct errs {
    struct fbuf buf;    /* kept lines, '\n'-separated */
    int n;              /* errors seen (may exceed the lines kept) */
    bool oom;
    bool entities_broken;   /* an entity lacks a usable name: references to
                               unknown entities are not reported (cascade) */
};

static void errs_add(struct errs *e, const char *path, const char *fmt, ...) FEATD_PRINTF(3, 4);

static void errs_add(struct errs *e, const char *path, const char *fmt, ...)
{
    e->n++;
    if (e->n > CFG_MAX_ERRORS) {
        return;
    }
    char line[1024];
    int off = snprintf(line, sizeof line, "%s: ", path);
    if (off < 0 || (size_t)off >= sizeof line) {
        off = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    va_end(ap);
    if (e->buf.len > 0 && fbuf_putc(&e->buf, '\n') != FEATD_OK) {
        e->oom = true;
    }
    if (fbuf_append(&e->buf, line, strlen(line)) != FEATD_OK) {
        e->oom = true;
    }
}

/* Copies the collected lines into err and releases them. */
static void errs_finish(struct errs *e, char *err, size_t errlen)
{
    if (e->n > CFG_MAX_ERRORS &&
        fbuf_appendf(&e->buf, "\n... and %d more errors", e->n - CFG_MAX_ERRORS) != FEATD_OK) {
        e->oom = true;
    }
    if (err != NULL && errlen > 0) {
        if (e->oom) {
            util_strlcpy(err, "out of memory while reporting config errors", errlen);
        } else {
            util_strlcpy(err, e->buf.data ? e->buf.data : "", errlen);
        }
    }
    fbuf_free(&e->buf);
}

/* ------------------------------------------------------------------------ */
/* Small helpers: quoting, JSON paths, names, suggestions                    */
/* ------------------------------------------------------------------------ */

/* Renders s as a double-quoted, escaped, length-capped string into out
 * (cap >= CFG_QUOTE_MAX * 4 + 8 is never exceeded). */
static const char *quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return out;
    }
    out[o++] = '"';
    size_t i = 0;
    for (; s[i] != '\0' && i < CFG_QUOTE_MAX && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i] != '\0' && o + 5 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define QBUF (CFG_QUOTE_MAX * 4 + 16)

static bool is_ident(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (size_t i = 1; s[i]; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) {
            return false;
        }
        if (i >= CFG_QUOTE_MAX) {
            return false;
        }
    }
    return true;
}

/* snprintf into a CFG_JPATH_MAX path buffer (truncation is acceptable). */
static void jpathf(char *out, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void jpathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, CFG_JPATH_MAX, fmt, ap);
    va_end(ap);
}

/* out = base + ".key" (or base + "[\"key\"]" for keys that are not plain
 * identifiers). out has CFG_JPATH_MAX bytes. */
static void path_key(char *out, const char *base, const char *key)
{
    if (is_ident(key)) {
        jpathf(out, "%s.%s", base, key);
    } else {
        char q[QBUF];
        jpathf(out, "%s[%s]", base, quote(key, q, sizeof q));
    }
}

static void path_idx(char *out, const char *base, size_t i)
{
    jpathf(out, "%s[%zu]", base, i);
}

const char *config_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}


static const char *want_kind(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    default: return "a value";
    }
}

/* Optimal-string-alignment distance (edits and adjacent transpositions)
 * of two short strings; strings over 64 bytes are "far". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    uint8_t d[65][65];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = (uint8_t)i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = (uint8_t)j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u);
            if (d[i - 1][j] + 1u < best) {
                best = d[i - 1][j] + 1u;
            }
            if (d[i][j - 1] + 1u < best) {
                best = d[i][j - 1] + 1u;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best) {
                best = d[i - 2][j - 2] + 1u;
            }
            d[i][j] = (uint8_t)best;
        }
    }
    return d[la][lb];
}

/* The candidate closest to s when it is plausibly a typo, else NULL. */
static const char *suggest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (cands[i] == NULL) {
            continue;
        }
        size_t d = edit_distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
    return bestd <= limit ? best : NULL;
}

/* Checks the name rule; NULL when fine, else a reason (static or in why). */
static const char *name_problem(const char *s, char *why, size_t whylen)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "empty name";
    }
    if (n > CFG_NAME_MAX) {
        snprintf(why, whylen, "name longer than %d bytes", CFG_NAME_MAX);
        return why;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok) {
            if (c >= 0x20 && c < 0x7f) {
                snprintf(why, whylen, "invalid character '%c' at offset %zu", c, i);
            } else {
                snprintf(why, whylen, "invalid character 0x%02x at offset %zu", c, i);
            }
            return why;
        }
    }
    return NULL;
}

#define NAME_RULE "names are [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 bytes"

/* Column names (Parquet) and paths: non-empty, bounded, no control chars. */
static const char *text_problem(const char *s, size_t max, char *why, size_t whylen)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "empty string";
    }
    if (n > max) {
        snprintf(why, whylen, "longer than %zu bytes", max);
        return why;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, whylen, "control character 0x%02x at offset %zu", c, i);
            return why;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Types                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const type_names[FT__COUNT] = {
    [FT_BOOL] = "bool", [FT_INT32] = "int32", [FT_INT64] = "int64",
    [FT_FLOAT] = "float", [FT_DOUBLE] = "double", [FT_STRING] = "string",
    [FT_BYTES] = "bytes", [FT_TIMESTAMP] = "timestamp",
    [FT_FLOAT_LIST] = "float_list", [FT_DOUBLE_LIST] = "double_list",
    [FT_INT64_LIST] = "int64_list", [FT_STRING_LIST] = "string_list",
};

#define TYPE_LIST "bool, int32, int64, float, double, string, bytes, timestamp, " \
                  "float_list, double_list, int64_list, string_list"

const char *config_type_name(enum featd_type t)
{
    if ((unsigned)t >= FT__COUNT) {
        return "?";
    }
    return type_names[t];
}

int config_type_parse(const char *s)
{
    if (s == NULL) {
        return -1;
    }
    for (int i = 0; i < FT__COUNT; i++) {
        if (strcmp(s, type_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

bool config_type_is_list(enum featd_type t)
{
    return t == FT_FLOAT_LIST || t == FT_DOUBLE_LIST || t == FT_INT64_LIST ||
           t == FT_STRING_LIST;
}

/* ------------------------------------------------------------------------ */
/* Addresses and redis urls                                                 */
/* ------------------------------------------------------------------------ */

static bool parse_port(const char *p, size_t n, int *port)
{
    if (n == 0 || n > 5) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535) {
        return false;
    }
    *port = v;
    return true;
}

/* Splits "host:port" or "[v6]:port" (length n, not necessarily
 * NUL-terminated). Host is malloc'd without brackets. */
static int hostport_n(const char *s, size_t n, char **host, int *port)
{
    *host = NULL;
    *port = 0;
    if (n == 0 || n > 300) {
        return FEATD_ERR;
    }
    const char *hs, *he, *colon;
    if (s[0] == '[') {
        he = memchr(s, ']', n);
        if (he == NULL || he + 1 >= s + n || he[1] != ':') {
            return FEATD_ERR;
        }
        hs = s + 1;
        colon = he + 1;
        if (he == hs || memchr(hs, ':', (size_t)(he - hs)) == NULL) {
            return FEATD_ERR;
        }
        for (const char *c = hs; c < he; c++) {
            if (!(isxdigit((unsigned char)*c) || *c == ':' || *c == '.')) {
                return FEATD_ERR;
            }
        }
    } else {
        colon = NULL;
        for (const char *c = s + n; c > s; c--) {
            if (c[-1] == ':') {
                colon = c - 1;
                break;
            }
        }
        if (colon == NULL || colon == s) {
            return FEATD_ERR;
        }
        hs = s;
        he = colon;
        if (*hs == '-' || *hs == '.') {
            return FEATD_ERR;
        }
        for (const char *c = hs; c < he; c++) {
            if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == '_')) {
                return FEATD_ERR;   /* includes a second ':' (unbracketed v6) */
            }
        }
    }
    if (!parse_port(colon + 1, (size_t)(s + n - colon - 1), port)) {
        return FEATD_ERR;
    }
    *host = strndup(hs, (size_t)(he - hs));
    if (*host == NULL) {
        *port = 0;
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int config_parse_hostport(const char *s, char **host, int *port)
{
    if (s == NULL) {
        *host = NULL;
        *port = 0;
        return FEATD_ERR;
    }
    return hostport_n(s, strlen(s), host, port);
}

/* The result of parsing redis.url. */
struct rurl {
    bool embedded;
    char *host;
    int port;
    char *unix_path;
    int db;
    char *password;     /* from the url's userinfo, percent-decoded */
};

static void rurl_clear(struct rurl *r)
{
    free(r->host);
    free(r->unix_path);
    free(r->password);
    memset(r, 0, sizeof *r);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or %00. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static bool parse_db(const char *p, size_t n, int *db)
{
    if (n == 0 || n > 2) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (p[i] - '0');
    }
    if (v > 15) {
        return false;
    }
    *db = v;
    return true;
}

#define URL_FORMS "\"embedded\", redis://[:password@]host[:port][/db] or " \
                  "unix:///path/to.sock[?db=N]"

/* Parses a redis.url value (NULL = embedded). FEATD_ERR with a reason. */
static int rurl_parse(const char *url, struct rurl *r, char *why, size_t whylen)
{
    memset(r, 0, sizeof *r);
    if (url == NULL || strcmp(url, "embedded") == 0) {
        r->embedded = true;
        return FEATD_OK;
    }
    size_t ulen = strlen(url);
    if (ulen > CFG_PATH_STR_MAX) {
        snprintf(why, whylen, "url longer than %d bytes", CFG_PATH_STR_MAX);
        return FEATD_ERR;
    }
    for (size_t i = 0; i < ulen; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f) {
            snprintf(why, whylen, "whitespace or control character in url (expected " URL_FORMS ")");
            return FEATD_ERR;
        }
    }
    const char *rest;
    if (strncmp(url, "unix://", 7) == 0 || strncmp(url, "redis+unix://", 13) == 0) {
        rest = url + (url[0] == 'u' ? 7 : 13);
        if (rest[0] != '/') {
            snprintf(why, whylen, "unix socket path must be absolute (expected unix:///path/to.sock[?db=N])");
            return FEATD_ERR;
        }
        const char *q = strchr(rest, '?');
        size_t plen = q ? (size_t)(q - rest) : strlen(rest);
        if (plen < 2 || rest[plen - 1] == '/') {
            snprintf(why, whylen, "unix socket path names no file (expected unix:///path/to.sock[?db=N])");
            return FEATD_ERR;
        }
        if (plen > CFG_UNIX_PATH_MAX) {
            snprintf(why, whylen, "unix socket path longer than %d bytes", CFG_UNIX_PATH_MAX);
            return FEATD_ERR;
        }
        if (q != NULL) {
            if (strncmp(q, "?db=", 4) != 0 || !parse_db(q + 4, strlen(q + 4), &r->db)) {
                snprintf(why, whylen, "bad query %s (expected ?db=N with N in 0..15)", q);
                return FEATD_ERR;
            }
        }
        r->unix_path = strndup(rest, plen);
        if (r->unix_path == NULL) {
            snprintf(why, whylen, "out of memory");
            return FEATD_ERR;
        }
        return FEATD_OK;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(why, whylen, "TLS (rediss://) is not supported (expected " URL_FORMS ")");
        return FEATD_ERR;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(why, whylen, "unsupported url (expected " URL_FORMS ")");
        return FEATD_ERR;
    }
    rest = url + 8;
    if (strchr(rest, '?') != NULL || strchr(rest, '#') != NULL) {
        snprintf(why, whylen, "query strings are not supported in redis:// urls");
        return FEATD_ERR;
    }
    /* userinfo: everything before the last '@' */
    const char *at = strrchr(rest, '@');
    if (at != NULL) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon == NULL) {
            snprintf(why, whylen, "url names a user but no password (expected redis://:password@host:port)");
            return FEATD_ERR;
        }
        size_t ulen2 = (size_t)(colon - rest);
        if (ulen2 != 0 && !(ulen2 == 7 && strncmp(rest, "default", 7) == 0)) {
            snprintf(why, whylen, "ACL user names are not supported, only the default user "
                     "(expected redis://:password@host:port)");
            return FEATD_ERR;
        }
        size_t plen = (size_t)(at - colon - 1);
        if (plen == 0) {
            snprintf(why, whylen, "empty password in url");
            return FEATD_ERR;
        }
        r->password = pct_decode(colon + 1, plen);
        if (r->password == NULL) {
            snprintf(why, whylen, "bad percent-escape in the url's password");
            return FEATD_ERR;
        }
        rest = at + 1;
    }
    /* host[:port] up to the path */
    const char *slash;
    if (rest[0] == '[') {
        const char *rb = strchr(rest, ']');
        slash = rb ? strchr(rb, '/') : strchr(rest, '/');
    } else {
        slash = strchr(rest, '/');
    }
    size_t hlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (hlen == 0) {
        snprintf(why, whylen, "url has no host (expected " URL_FORMS ")");
        rurl_clear(r);
        return FEATD_ERR;
    }
    bool has_port;
    if (rest[0] == '[') {
        const char *rb = memchr(rest, ']', hlen);
        has_port = rb != NULL && rb + 1 < rest + hlen;
    } else {
        has_port = memchr(rest, ':', hlen) != NULL;
    }
    char hp[320];
    if (hlen > 300) {
        snprintf(why, whylen, "url host too long");
        rurl_clear(r);
        return FEATD_ERR;
    }
    memcpy(hp, rest, hlen);
    hp[hlen] = '\0';
    if (!has_port) {
        snprintf(hp + hlen, sizeof hp - hlen, ":6379");
    }
    if (config_parse_hostport(hp, &r->host, &r->port) != FEATD_OK) {
        snprintf(why, whylen, "bad host or port in url (expected host[:port] with port 1..65535; "
                 "IPv6 as [::1]:6379)");
        rurl_clear(r);
        return FEATD_ERR;
    }
    if (slash != NULL && slash[1] != '\0') {
        if (!parse_db(slash + 1, strlen(slash + 1), &r->db)) {
            snprintf(why, whylen, "bad database number (expected /N with N in 0..15)");
            rurl_clear(r);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* ------------------------------------------------------------------------ */
/* The server/redis key table                                               */
/* ------------------------------------------------------------------------ */

enum ck_kind {
    CK_INT,     /* int field; JSON integer in [min, max] */
    CK_U32,     /* uint32_t field */
    CK_SIZE,    /* size_t field */
    CK_STR,     /* char * field, never NULL; length in [min, max] */
    CK_NSTR,    /* char * field, JSON null allowed (-> NULL) */
    CK_WORD,    /* char * field, one of words[] */
    CK_ENUM,    /* int-sized enum field, index into words[] */
};

struct ckey {
    const char *section;    /* "server" or "redis" */
    const char *name;       /* key within the section */
    enum ck_kind kind;
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

_Static_assert(sizeof(enum featd_log_format) == sizeof(int), "CK_ENUM stores an int");

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const log_formats[] = { "text", "json", NULL };

static const char *check_hostport(const char *v, char *why, size_t whylen)
{
    char *host;
    int port;
    if (config_parse_hostport(v, &host, &port) != FEATD_OK) {
        snprintf(why, whylen, "bad address (expected \"host:port\" with port 1..65535, "
                 "IPv6 as \"[::1]:6566\")");
        return why;
    }
    free(host);
    return NULL;
}

static const char *check_admin_listen(const char *v, char *why, size_t whylen)
{
    if (v[0] == '\0') {
        return NULL;
    }
    if (check_hostport(v, why, whylen) != NULL) {
        snprintf(why, whylen, "bad address (expected \"host:port\" with port 1..65535, "
                 "IPv6 as \"[::1]:6567\", or \"\" to disable)");
        return why;
    }
    return NULL;
}

static const char *check_path(const char *v, char *why, size_t whylen)
{
    return text_problem(v, CFG_PATH_STR_MAX, why, whylen);
}

static const char *check_key_prefix(const char *v, char *why, size_t whylen)
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

static const char *check_redis_url(const char *v, char *why, size_t whylen)
{
    struct rurl r;
    if (rurl_parse(v, &r, why, whylen) != FEATD_OK) {
        rurl_clear(&r);
        return why;
    }
    rurl_clear(&r);
    return NULL;
}

static const char *check_password(const char *v, char *why, size_t whylen)
{
    return text_problem(v, 1024, why, whylen);
}

#define SRV(f) offsetof(struct featd_config, server.f)
#define RDS(f) offsetof(struct featd_config, redis.f)

static const struct ckey ckeys[] = {
    { "server", "listen", CK_STR, SRV(listen), 1, 300, "127.0.0.1:6566", false,
      "FEATD_LISTEN", NULL, check_hostport,
      "Serving address (protobuf over TCP): \"host:port\", IPv6 as \"[::1]:6566\"." },
    { "server", "admin_listen", CK_STR, SRV(admin_listen), 0, 300, "127.0.0.1:6567", false,
      "FEATD_ADMIN_LISTEN", NULL, check_admin_listen,
      "Admin HTTP address (health, metrics, registry, JSON lookup); \"\" disables it." },
    { "server", "workers", CK_INT, SRV(workers), 1, 64, "2", false,
      "FEATD_WORKERS", NULL, NULL,
      "Worker threads, each with its own event loop, listener (`SO_REUSEPORT`; an accepting "
      "worker hands a connection to a less loaded one) and Redis connection. One worker serves "
      "78-93k single-entity lookups/s at 50 connections (suite and smoke runs); leave Redis a core: on a 2-core "
      "host shared with Redis, 1 worker has the shorter tail and 2 the higher throughput "
      "(`bench/results/latest.md`, \"Thread layout\")." },
    { "server", "max_connections", CK_INT, SRV(max_connections), 1, 1000000, "10000", true,
      NULL, NULL, NULL,
      "Client connections accepted at once; further connections are refused." },
    { "server", "max_frame_bytes", CK_U32, SRV(max_frame_bytes), 64, 1073741824, "4194304", true,
      NULL, NULL, NULL,
      "Largest request frame; a bigger frame gets an error and the connection is closed." },
    { "server", "max_entities_per_request", CK_INT, SRV(max_entities_per_request), 1, 1000000,
      "1000", true, NULL, NULL, NULL,
      "Entity rows per lookup; more is INVALID_ARGUMENT." },
    { "server", "request_timeout_ms", CK_INT, SRV(request_timeout_ms), 1, 600000, "1000", true,
      NULL, NULL, NULL,
      "Default lookup deadline when the request gives none (deadline_ms = 0)." },
    { "server", "max_output_bytes", CK_SIZE, SRV(max_output_bytes), 4096, 1073741824, "16777216",
      true, NULL, NULL, NULL,
      "Per-connection output high watermark: reading stops above it until it drains." },
    { "server", "max_inflight_requests", CK_INT, SRV(max_inflight_requests), 1, 1000000, "10000",
      true, NULL, NULL, NULL,
      "Requests in flight to Redis per worker; beyond it requests get RESOURCE_EXHAUSTED." },
    { "server", "shutdown_timeout_ms", CK_INT, SRV(shutdown_timeout_ms), 0, 600000, "10000", true,
      NULL, NULL, NULL,
      "On SIGTERM/SIGINT, how long in-flight requests may take to finish." },
    { "server", "data_dir", CK_STR, SRV(data_dir), 1, CFG_PATH_STR_MAX, "./featd-data", false,
      "FEATD_DATA_DIR", NULL, check_path,
      "Directory for local state; the embedded redis-server keeps its files here." },
    { "server", "log_level", CK_WORD, SRV(log_level), 0, 0, "info", true,
      "FEATD_LOG_LEVEL", log_levels, NULL,
      "Least severe level logged." },
    { "server", "log_format", CK_ENUM, SRV(log_format), 0, 0, "text", true,
      "FEATD_LOG_FORMAT", log_formats, NULL,
      "\"text\" lines or \"json\" lines (one object per event) for log shippers." },
    { "redis", "url", CK_NSTR, RDS(url), 1, CFG_PATH_STR_MAX, NULL, false,
      "FEATD_REDIS_URL", NULL, check_redis_url,
      "Online store. null/omitted/\"embedded\": a private redis-server under data_dir; "
      "redis://[:password@]host[:port][/db] (port 6379, db 0..15); "
      "unix:///path/to.sock[?db=N]." },
    { "redis", "password", CK_NSTR, RDS(password), 1, 1024, NULL, false,
      "FEATD_REDIS_PASSWORD", NULL, check_password,
      "AUTH password (null = none). May instead be given in the url, not both differently." },
    { "redis", "timeout_ms", CK_INT, RDS(timeout_ms), 1, 600000, "200", false,
      NULL, NULL, NULL,
      "Connect and command timeout of blocking Redis users (materializer, CLI)." },
    { "redis", "key_prefix", CK_STR, RDS(key_prefix), 1, 64, "featd", false,
      NULL, NULL, check_key_prefix,
      "First component of every Redis key ([A-Za-z0-9_.-]{1,64}); separates deployments "
      "sharing one Redis." },
    { "redis", "server_bin", CK_STR, RDS(server_bin), 1, CFG_PATH_STR_MAX, "redis-server", false,
      NULL, NULL, check_path,
      "redis-server binary started for the embedded store (looked up in PATH)." },
};

#define NCKEYS FEATD_ARRAY_LEN(ckeys)

static void *ck_ptr(struct featd_config *cfg, const struct ckey *k)
{
    return (char *)cfg + k->off;
}

static const void *ck_cptr(const struct featd_config *cfg, const struct ckey *k)
{
    return (const char *)cfg + k->off;
}

/* The word for enum value i of k, "?" when out of range. */
static const char *ck_word(const struct ckey *k, int i)
{
    for (int j = 0; k->words[j] != NULL; j++) {
        if (j == i) {
            return k->words[j];
        }
    }
    return "?";
}

static const char *ck_words_list(const struct ckey *k, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->words[i] != NULL && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", k->words[i]);
        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
    return buf;
}

/* Stores an integer already range-checked. */
static void ck_store_int(struct featd_config *cfg, const struct ckey *k, int64_t v)
{
    void *p = ck_ptr(cfg, k);
    switch (k->kind) {
    case CK_INT: *(int *)p = (int)v; break;
    case CK_U32: *(uint32_t *)p = (uint32_t)v; break;
    case CK_SIZE: *(size_t *)p = (size_t)v; break;
    default: break;
    }
}

static bool ck_is_int(const struct ckey *k)
{
    return k->kind == CK_INT || k->kind == CK_U32 || k->kind == CK_SIZE;
}

/*
 * Validates and stores a string value for key k (every kind; integers are
 * parsed from decimal text). s == NULL means null (CK_NSTR only). who names
 * the value in errors (a JSON path or an environment variable).
 */
static void ck_set_string(struct featd_config *cfg, const struct ckey *k, const char *s,
                          const char *who, struct errs *e)
{
    char q[QBUF], why[256];
    if (ck_is_int(k)) {
        int64_t v;
        if (s == NULL || !util_parse_i64(s, k->min, k->max, &v)) {
            errs_add(e, who, "invalid value %s (expected an integer in %" PRId64 "..%" PRId64 ")",
                     s ? quote(s, q, sizeof q) : "null", k->min, k->max);
            return;
        }
        ck_store_int(cfg, k, v);
        return;
    }
    if (s == NULL && k->kind != CK_NSTR) {
        errs_add(e, who, "null is not allowed (expected a string)");
        return;
    }
    if (k->kind == CK_WORD || k->kind == CK_ENUM) {
        for (int i = 0; k->words[i] != NULL; i++) {
            if (strcmp(s, k->words[i]) == 0) {
                if (k->kind == CK_ENUM) {
                    *(int *)ck_ptr(cfg, k) = i;
                } else {
                    char **f = ck_ptr(cfg, k);
                    free(*f);
                    *f = util_xstrdup(s);
                }
                return;
            }
        }
        char wl[256];
        errs_add(e, who, "unknown value %s (expected one of %s)", quote(s, q, sizeof q),
                 ck_words_list(k, wl, sizeof wl));
        return;
    }
    char **f = ck_ptr(cfg, k);
    if (s == NULL) {
        free(*f);
        *f = NULL;
        return;
    }
    size_t n = strlen(s);
    if ((int64_t)n < k->min || (int64_t)n > k->max) {
        if (n == 0) {
            errs_add(e, who, "empty string (expected %s)",
                     k->kind == CK_NSTR ? "a non-empty string or null" : "a non-empty string");
        } else {
            errs_add(e, who, "%zu bytes long (expected %" PRId64 "..%" PRId64 " bytes)",
                     n, k->min, k->max);
        }
        return;
    }
    if (k->check != NULL) {
        const char *p = k->check(s, why, sizeof why);
        if (p != NULL) {
            errs_add(e, who, "%s: %s", quote(s, q, sizeof q), p);
            return;
        }
    }
    free(*f);
    *f = util_xstrdup(s);
}

/* Validates and stores a JSON value for key k. */
static void ck_set_json(struct featd_config *cfg, const struct ckey *k, json_t *v,
                        const char *who, struct errs *e)
{
    if (ck_is_int(k)) {
        if (!json_is_integer(v)) {
            errs_add(e, who, "expected an integer in %" PRId64 "..%" PRId64 " (got %s)",
                     k->min, k->max, config_json_kind(v));
            return;
        }
        json_int_t x = json_integer_value(v);
        if (x < k->min || x > k->max) {
            errs_add(e, who, "%" JSON_INTEGER_FORMAT " is out of range (expected %" PRId64
                     "..%" PRId64 ")", x, k->min, k->max);
            return;
        }
        ck_store_int(cfg, k, x);
        return;
    }
    if (json_is_null(v) && k->kind == CK_NSTR) {
        ck_set_string(cfg, k, NULL, who, e);
        return;
    }
    if (!json_is_string(v)) {
        char wl[256];
        if (k->words != NULL) {
            errs_add(e, who, "expected a string, one of %s (got %s)",
                     ck_words_list(k, wl, sizeof wl), config_json_kind(v));
        } else {
            errs_add(e, who, "expected %s (got %s)",
                     k->kind == CK_NSTR ? "a string or null" : "a string", config_json_kind(v));
        }
        return;
    }
    ck_set_string(cfg, k, json_string_value(v), who, e);
}

/* Renders the current value of k (password masked when mask). */
static void ck_format(const struct featd_config *cfg, const struct ckey *k, bool mask,
                      char *buf, size_t cap)
{
    const void *p = ck_cptr(cfg, k);
    switch (k->kind) {
    case CK_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case CK_U32: snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)p); break;
    case CK_SIZE: snprintf(buf, cap, "%zu", *(const size_t *)p); break;
    case CK_ENUM: {
        int i = *(const int *)p;
        snprintf(buf, cap, "%s", ck_word(k, i));
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
            snprintf(buf, cap, "%s", quote(s, q, sizeof q));
        }
        break;
    }
    }
}

static void ck_defaults(struct featd_config *cfg, struct errs *e)
{
    for (size_t i = 0; i < NCKEYS; i++) {
        char who[CFG_JPATH_MAX];
        snprintf(who, sizeof who, "default of $.%s.%s", ckeys[i].section, ckeys[i].name);
        ck_set_string(cfg, &ckeys[i], ckeys[i].def, who, e);
    }
}

static const struct ckey *ck_find(const char *section, const char *name)
{
    for (size_t i = 0; i < NCKEYS; i++) {
        if (strcmp(ckeys[i].section, section) == 0 && strcmp(ckeys[i].name, name) == 0) {
            return &ckeys[i];
        }
    }
    return NULL;
}

/* Parses one table-driven section object ("server" or "redis"). */
static void ck_section(struct featd_config *cfg, json_t *obj, const char *section,
                       struct errs *e)
{
    char base[CFG_JPATH_MAX], who[CFG_JPATH_MAX];
    snprintf(base, sizeof base, "$.%s", section);
    if (!json_is_object(obj)) {
        errs_add(e, base, "expected an object (got %s)", config_json_kind(obj));
        return;
    }
    const char *cands[NCKEYS];
    size_t nc = 0;
    for (size_t i = 0; i < NCKEYS; i++) {
        if (strcmp(ckeys[i].section, section) == 0) {
            cands[nc++] = ckeys[i].name;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        path_key(who, base, key);
        const struct ckey *k = ck_find(section, key);
        if (k == NULL) {
            char q[QBUF];
            const char *s = suggest(key, cands, nc);
            if (s != NULL) {
                errs_add(e, who, "unknown key %s (did you mean \"%s\"?)", quote(key, q, sizeof q), s);
            } else {
                errs_add(e, who, "unknown key %s in the %s section", quote(key, q, sizeof q), section);
            }
            continue;
        }
        ck_set_json(cfg, k, v, who, e);
    }
}

/*
 * Resolves redis.url into embedded/host/port/unix_path/db and merges the
 * url's password with redis.password. url_who/pw_who name the two values in
 * errors; when pw_wins (FEATD_REDIS_PASSWORD is set, even empty), the url's
 * password is ignored.
 */
static void redis_resolve(struct featd_config *cfg, const char *url_who, const char *pw_who,
                          bool pw_wins, struct errs *e)
{
    struct cfg_redis *r = &cfg->redis;
    struct rurl u;
    char why[256];
    free(r->host);
    free(r->unix_path);
    r->host = r->unix_path = NULL;
    r->port = r->db = 0;
    r->embedded = false;
    if (rurl_parse(r->url, &u, why, sizeof why) != FEATD_OK) {
        rurl_clear(&u);     /* reported when the value was set */
        return;
    }
    r->embedded = u.embedded;
    r->host = u.host;
    r->port = u.port;
    r->unix_path = u.unix_path;
    r->db = u.db;
    if (u.password != NULL && !pw_wins) {
        if (r->password == NULL) {
            r->password = u.password;
            u.password = NULL;
        } else if (strcmp(r->password, u.password) != 0) {
            errs_add(e, url_who, "the url's password differs from %s (give the password once)",
                     pw_who);
        }
    }
    free(u.password);
}

/* Checks that need several server/redis keys at once. */
static void cross_checks(const struct featd_config *cfg, const char *admin_who, struct errs *e)
{
    const struct cfg_server *s = &cfg->server;
    if (s->listen != NULL && s->admin_listen != NULL && s->admin_listen[0] != '\0') {
        char *h1 = NULL, *h2 = NULL;
        int p1, p2;
        if (config_parse_hostport(s->listen, &h1, &p1) == FEATD_OK &&
            config_parse_hostport(s->admin_listen, &h2, &p2) == FEATD_OK && p1 == p2) {
            bool wild1 = strcmp(h1, "0.0.0.0") == 0 || strcmp(h1, "::") == 0;
            bool wild2 = strcmp(h2, "0.0.0.0") == 0 || strcmp(h2, "::") == 0;
            if (strcmp(h1, h2) == 0 || wild1 || wild2) {
                errs_add(e, admin_who, "same address as server.listen (%s); the admin port "
                         "must differ", s->listen);
            }
        }
        free(h1);
        free(h2);
    }
}

/* ------------------------------------------------------------------------ */
/* Generic JSON member access                                               */
/* ------------------------------------------------------------------------ */

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static size_t list_len(const char *const *list)
{
    size_t n = 0;
    while (list[n] != NULL) {
        n++;
    }
    return n;
}

/* Reports every key of obj that is not in allowed (what = "an entity", ...). */
static void check_unknown(json_t *obj, const char *base, const char *const *allowed,
                          const char *what, struct errs *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (in_list(key, allowed)) {
            continue;
        }
        char p[CFG_JPATH_MAX], q[QBUF], wl[256];
        path_key(p, base, key);
        const char *s = suggest(key, allowed, list_len(allowed));
        if (s != NULL) {
            errs_add(e, p, "unknown key %s in %s (did you mean \"%s\"?)",
                     quote(key, q, sizeof q), what, s);
        } else {
            size_t o = 0;
            wl[0] = '\0';
            for (size_t i = 0; allowed[i] != NULL && o < sizeof wl; i++) {
                int w = snprintf(wl + o, sizeof wl - o, "%s%s", i ? ", " : "", allowed[i]);
                if (w < 0) {
                    break;
                }
                o += (size_t)w;
            }
            errs_add(e, p, "unknown key %s in %s (expected %s)", quote(key, q, sizeof q), what, wl);
        }
    }
}

/*
 * Member key of obj when present with JSON type want; JSON null is returned
 * as NULL without error when nullable. Missing: error when required. Wrong
 * type: error. *present tells whether the key exists (may be NULL).
 */
static json_t *member(json_t *obj, const char *key, json_type want, bool required,
                      bool nullable, const char *base, struct errs *e)
{
    char p[CFG_JPATH_MAX];
    path_key(p, base, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required) {
            errs_add(e, p, "missing (expected %s)", want_kind(want));
        }
        return NULL;
    }
    if (json_is_null(v) && nullable) {
        return NULL;
    }
    bool ok = want == JSON_INTEGER ? json_is_integer(v) : json_typeof(v) == want;
    if (!ok) {
        errs_add(e, p, "expected %s%s (got %s)", want_kind(want), nullable ? " or null" : "",
                 config_json_kind(v));
        return NULL;
    }
    return v;
}

/* A required name member; NULL when missing or not a string. A string that
 * breaks the name rule is reported but still returned, so that references to
 * it do not cascade into more errors (the load fails anyway). */
static const char *get_name(json_t *obj, const char *base, struct errs *e)
{
    json_t *v = member(obj, "name", JSON_STRING, true, false, base, e);
    if (v == NULL) {
        return NULL;
    }
    const char *s = json_string_value(v);
    char why[128], p[CFG_JPATH_MAX], q[QBUF];
    const char *bad = name_problem(s, why, sizeof why);
    if (bad != NULL) {
        path_key(p, base, "name");
        errs_add(e, p, "%s: %s (" NAME_RULE ")", quote(s, q, sizeof q), bad);
    }
    return s;
}

/* A type member; -1 (after an error) when bad. join_key restricts to
 * int64/string. */
static int get_type(json_t *obj, const char *base, bool join_key, struct errs *e)
{
    json_t *v = member(obj, "type", JSON_STRING, true, false, base, e);
    if (v == NULL) {
        return -1;
    }
    char p[CFG_JPATH_MAX], q[QBUF];
    path_key(p, base, "type");
    const char *s = json_string_value(v);
    int t = config_type_parse(s);
    if (t < 0) {
        const char *sug = suggest(s, type_names, FT__COUNT);
        if (join_key) {
            errs_add(e, p, "unknown type %s (expected int64 or string)", quote(s, q, sizeof q));
        } else if (sug != NULL) {
            errs_add(e, p, "unknown type %s (did you mean \"%s\"? expected one of " TYPE_LIST ")",
                     quote(s, q, sizeof q), sug);
        } else {
            errs_add(e, p, "unknown type %s (expected one of " TYPE_LIST ")",
                     quote(s, q, sizeof q));
        }
        return -1;
    }
    if (join_key && t != FT_INT64 && t != FT_STRING) {
        errs_add(e, p, "type %s is not allowed for a join key (expected int64 or string)",
                 quote(s, q, sizeof q));
        return -1;
    }
    return t;
}

/* An optional integer member in [min, max]; *out keeps its default when
 * absent or bad. */
static void get_int(json_t *obj, const char *key, const char *base, int64_t min, int64_t max,
                    int64_t *out, struct errs *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return;
    }
    char p[CFG_JPATH_MAX];
    path_key(p, base, key);
    if (!json_is_integer(v)) {
        errs_add(e, p, "expected an integer in %" PRId64 "..%" PRId64 " (got %s)", min, max,
                 config_json_kind(v));
        return;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        errs_add(e, p, "%" JSON_INTEGER_FORMAT " is out of range (expected %" PRId64 "..%"
                 PRId64 ")", x, min, max);
        return;
    }
    *out = x;
}

/* A column-name member: malloc'd copy, or NULL when absent/null/bad. */
static char *get_column(json_t *obj, const char *key, const char *base, bool nullable,
                        struct errs *e)
{
    json_t *v = member(obj, key, JSON_STRING, false, nullable, base, e);
    if (v == NULL) {
        return NULL;
    }
    char p[CFG_JPATH_MAX], why[128], q[QBUF];
    const char *s = json_string_value(v);
    const char *bad = text_problem(s, CFG_COLUMN_MAX, why, sizeof why);
    if (bad != NULL) {
        path_key(p, base, key);
        errs_add(e, p, "%s: bad column name: %s", quote(s, q, sizeof q), bad);
        return NULL;
    }
    return util_xstrdup(s);
}

/* An array member with at most max elements (error when over). */
static json_t *get_array(json_t *obj, const char *key, const char *base, bool required,
                         size_t max, struct errs *e)
{
    json_t *a = member(obj, key, JSON_ARRAY, required, false, base, e);
    if (a != NULL && json_array_size(a) > max) {
        char p[CFG_JPATH_MAX];
        path_key(p, base, key);
        errs_add(e, p, "%zu elements (at most %zu allowed)", json_array_size(a), max);
        return NULL;
    }
    return a;
}

/* ------------------------------------------------------------------------ */
/* Entities                                                                 */
/* ------------------------------------------------------------------------ */

static const char *const top_keys[] = { "server", "redis", "entities", "feature_views", NULL };
static const char *const entity_keys[] = { "name", "join_keys", NULL };
static const char *const join_key_keys[] = { "name", "type", NULL };
static const char *const view_keys[] = { "name", "entities", "ttl_seconds", "features", "source",
                                         "materialization", NULL };
static const char *const feature_keys[] = { "name", "type", NULL };
static const char *const source_keys[] = { "path", "event_timestamp_column",
                                           "created_timestamp_column", "columns", NULL };
static const char *const mat_keys[] = { "mode", "interval_seconds", NULL };

/* Parses one entity into ent (fields left NULL/0 when bad). */
static void parse_entity(json_t *obj, const char *base, struct cfg_entity *ent, struct errs *e)
{
    if (!json_is_object(obj)) {
        errs_add(e, base, "expected an entity object (got %s)", config_json_kind(obj));
        e->entities_broken = true;
        return;
    }
    check_unknown(obj, base, entity_keys, "an entity", e);
    const char *name = get_name(obj, base, e);
    if (name != NULL) {
        ent->name = util_xstrdup(name);
    } else {
        e->entities_broken = true;
    }
    json_t *keys = get_array(obj, "join_keys", base, true, CFG_MAX_ENTITY_KEYS, e);
    if (keys == NULL) {
        return;
    }
    char kbase[CFG_JPATH_MAX];
    path_key(kbase, base, "join_keys");
    size_t n = json_array_size(keys);
    if (n == 0) {
        errs_add(e, kbase, "empty (an entity needs at least one join key)");
        return;
    }
    ent->keys = calloc(n, sizeof *ent->keys);
    if (ent->keys == NULL) {
        errs_add(e, kbase, "out of memory");
        return;
    }
    ent->nkeys = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        path_idx(p, kbase, i);
        json_t *k = json_array_get(keys, i);
        if (!json_is_object(k)) {
            errs_add(e, p, "expected a join key object {\"name\", \"type\"} (got %s)", config_json_kind(k));
            continue;
        }
        check_unknown(k, p, join_key_keys, "a join key", e);
        const char *kn = get_name(k, p, e);
        int t = get_type(k, p, true, e);
        ent->keys[i].type = t < 0 ? FT_INT64 : (enum featd_type)t;
        if (kn == NULL) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (ent->keys[j].name != NULL && strcmp(ent->keys[j].name, kn) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                path_key(np, p, "name");
                errs_add(e, np, "duplicate join key %s (also join_keys[%zu])",
                         quote(kn, q, sizeof q), j);
                break;
            }
        }
        ent->keys[i].name = util_xstrdup(kn);
    }
}

static void parse_entities(struct featd_config *cfg, json_t *arr, struct errs *e)
{
    size_t n = json_array_size(arr);
    if (n == 0) {
        return;
    }
    cfg->entities = calloc(n, sizeof *cfg->entities);
    if (cfg->entities == NULL) {
        errs_add(e, "$.entities", "out of memory");
        return;
    }
    cfg->nentities = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        path_idx(p, "$.entities", i);
        parse_entity(json_array_get(arr, i), p, &cfg->entities[i], e);
        const char *name = cfg->entities[i].name;
        for (size_t j = 0; name != NULL && j < i; j++) {
            if (cfg->entities[j].name != NULL && strcmp(cfg->entities[j].name, name) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                path_key(np, p, "name");
                errs_add(e, np, "duplicate entity name %s (also $.entities[%zu])",
                         quote(name, q, sizeof q), j);
                break;
            }
        }
    }
}

static const struct cfg_entity *find_entity(const struct featd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nentities; i++) {
        if (cfg->entities[i].name != NULL && strcmp(cfg->entities[i].name, name) == 0) {
            return &cfg->entities[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Feature views                                                            */
/* ------------------------------------------------------------------------ */

/* The view's entity list; fills v->entities and the flattened v->keys. */
static void view_entities(const struct featd_config *cfg, json_t *obj, const char *base,
                          struct cfg_view *v, struct errs *e)
{
    json_t *arr = get_array(obj, "entities", base, true, CFG_MAX_VIEW_ENTS, e);
    if (arr == NULL) {
        return;
    }
    char abase[CFG_JPATH_MAX];
    path_key(abase, base, "entities");
    size_t n = json_array_size(arr);
    if (n == 0) {
        errs_add(e, abase, "empty: the view has no join keys (expected at least one entity name)");
        return;
    }
    v->entities = calloc(n, sizeof *v->entities);
    const struct cfg_entity **ents = calloc(n, sizeof *ents);
    size_t maxkeys = n * CFG_MAX_ENTITY_KEYS;
    v->keys = calloc(maxkeys, sizeof *v->keys);
    size_t *owner = calloc(maxkeys, sizeof *owner);     /* entity index per key */
    if (v->entities == NULL || ents == NULL || v->keys == NULL || owner == NULL) {
        free(ents);
        free(owner);
        errs_add(e, abase, "out of memory");
        return;
    }
    v->nentities = n;
    bool all_known = true;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX], q[QBUF];
        path_idx(p, abase, i);
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            errs_add(e, p, "expected an entity name string (got %s)", config_json_kind(s));
            all_known = false;
            continue;
        }
        const char *name = json_string_value(s);
        v->entities[i] = util_xstrdup(name);
        ents[i] = find_entity(cfg, name);
        if (ents[i] == NULL && e->entities_broken) {
            all_known = false;
            continue;
        }
        if (ents[i] == NULL) {
            const char *cands[CFG_MAX_ENTITIES];
            size_t nc = 0;
            for (size_t j = 0; j < cfg->nentities && nc < CFG_MAX_ENTITIES; j++) {
                cands[nc++] = cfg->entities[j].name;
            }
            const char *sug = suggest(name, cands, nc);
            if (sug != NULL) {
                errs_add(e, p, "unknown entity %s (did you mean \"%s\"?)", quote(name, q, sizeof q),
                         sug);
            } else {
                errs_add(e, p, "unknown entity %s (not declared in $.entities)",
                         quote(name, q, sizeof q));
            }
            all_known = false;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (v->entities[j] != NULL && strcmp(v->entities[j], name) == 0) {
                errs_add(e, p, "duplicate entity %s in the view (also entities[%zu])",
                         quote(name, q, sizeof q), j);
                ents[i] = NULL;
                break;
            }
        }
    }
    /* flatten join keys, in entity order then key order */
    for (size_t i = 0; i < n; i++) {
        const struct cfg_entity *ent = ents[i];
        if (ent == NULL) {
            continue;
        }
        for (size_t k = 0; k < ent->nkeys; k++) {
            const struct cfg_join_key *jk = &ent->keys[k];
            if (jk->name == NULL) {
                continue;
            }
            bool dup = false;
            for (size_t j = 0; j < v->nkeys; j++) {
                if (strcmp(v->keys[j].name, jk->name) == 0 && owner[j] == i) {
                    dup = true;     /* duplicate inside the entity: reported there */
                    break;
                }
                if (strcmp(v->keys[j].name, jk->name) == 0) {
                    char q[QBUF];
                    errs_add(e, abase, "join key %s appears in more than one of the view's "
                             "entities (entity \"%s\"); join key names must be unique in a view",
                             quote(jk->name, q, sizeof q), ent->name);
                    dup = true;
                    break;
                }
            }
            if (!dup && v->nkeys < maxkeys) {
                owner[v->nkeys] = i;
                v->keys[v->nkeys].name = util_xstrdup(jk->name);
                v->keys[v->nkeys].type = jk->type;
                v->nkeys++;
            }
        }
    }
    bool keyless_entity = false;   /* already reported at the entity */
    for (size_t i = 0; i < n; i++) {
        keyless_entity |= ents[i] != NULL && ents[i]->nkeys == 0;
    }
    if (v->nkeys == 0 && all_known && !keyless_entity) {
        errs_add(e, abase, "the view's entities have no join keys");
    }
    if (v->nkeys > CFG_MAX_VIEW_KEYS) {
        errs_add(e, abase, "the view's entities have %zu join keys together (at most %d)", v->nkeys,
                 CFG_MAX_VIEW_KEYS);
    }
    free(owner);
    free(ents);
}

static void view_features(json_t *obj, const char *base, struct cfg_view *v, struct errs *e)
{
    json_t *arr = get_array(obj, "features", base, true, CFG_MAX_FEATURES, e);
    if (arr == NULL) {
        return;
    }
    char fbase[CFG_JPATH_MAX];
    path_key(fbase, base, "features");
    size_t n = json_array_size(arr);
    if (n == 0) {
        errs_add(e, fbase, "empty (a feature view needs at least one feature)");
        return;
    }
    v->features = calloc(n, sizeof *v->features);
    if (v->features == NULL) {
        errs_add(e, fbase, "out of memory");
        return;
    }
    v->nfeatures = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX], np[CFG_JPATH_MAX], q[QBUF];
        path_idx(p, fbase, i);
        path_key(np, p, "name");
        json_t *f = json_array_get(arr, i);
        if (!json_is_object(f)) {
            errs_add(e, p, "expected a feature object {\"name\", \"type\"} (got %s)", config_json_kind(f));
            continue;
        }
        check_unknown(f, p, feature_keys, "a feature", e);
        const char *name = get_name(f, p, e);
        int t = get_type(f, p, false, e);
        v->features[i].type = t < 0 ? FT_BOOL : (enum featd_type)t;
        if (name == NULL) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (v->features[j].name != NULL && strcmp(v->features[j].name, name) == 0) {
                errs_add(e, np, "duplicate feature name %s (also features[%zu])",
                         quote(name, q, sizeof q), j);
                break;
            }
        }
        for (size_t j = 0; j < v->nkeys; j++) {
            if (strcmp(v->keys[j].name, name) == 0) {
                errs_add(e, np, "feature %s clashes with the view's join key of the same name",
                         quote(name, q, sizeof q));
                break;
            }
        }
        v->features[i].name = util_xstrdup(name);
    }
}

static struct cfg_feature *view_feature(struct cfg_view *v, const char *name)
{
    for (size_t i = 0; i < v->nfeatures; i++) {
        if (v->features[i].name != NULL && strcmp(v->features[i].name, name) == 0) {
            return &v->features[i];
        }
    }
    return NULL;
}

/* source: path, timestamp columns, renames; then the column-level checks
 * (run even without a source, against the defaults). */
static void view_source(json_t *obj, const char *base, struct cfg_view *v, struct errs *e)
{
    char sbase[CFG_JPATH_MAX];
    path_key(sbase, base, "source");
    json_t *src = member(obj, "source", JSON_OBJECT, false, true, base, e);
    json_t *cols = NULL;
    char *event_col = NULL;
    if (src != NULL) {
        check_unknown(src, sbase, source_keys, "a source", e);
        json_t *p = member(src, "path", JSON_STRING, true, false, sbase, e);
        if (p != NULL) {
            char why[128], q[QBUF], pp[CFG_JPATH_MAX];
            const char *bad = text_problem(json_string_value(p), CFG_PATH_STR_MAX, why, sizeof why);
            if (bad != NULL) {
                path_key(pp, sbase, "path");
                errs_add(e, pp, "%s: bad path: %s", quote(json_string_value(p), q, sizeof q), bad);
            } else {
                v->source_path = util_xstrdup(json_string_value(p));
            }
        }
        event_col = get_column(src, "event_timestamp_column", sbase, false, e);
        v->created_ts_column = get_column(src, "created_timestamp_column", sbase, true, e);
        cols = member(src, "columns", JSON_OBJECT, false, true, sbase, e);
    }
    v->event_ts_column = event_col ? event_col : util_xstrdup("event_timestamp");

    /* renames */
    char cbase[CFG_JPATH_MAX];
    path_key(cbase, sbase, "columns");
    if (cols != NULL) {
        const char *key;
        json_t *val;
        json_object_foreach(cols, key, val) {
            char p[CFG_JPATH_MAX], q[QBUF], why[128];
            path_key(p, cbase, key);
            struct cfg_feature *f = view_feature(v, key);
            if (f == NULL) {
                errs_add(e, p, "%s is not a feature of view \"%s\" (renames map feature name -> "
                         "column name)", quote(key, q, sizeof q), v->name ? v->name : "?");
                continue;
            }
            if (!json_is_string(val)) {
                errs_add(e, p, "expected a column name string (got %s)", config_json_kind(val));
                continue;
            }
            const char *bad = text_problem(json_string_value(val), CFG_COLUMN_MAX, why, sizeof why);
            if (bad != NULL) {
                errs_add(e, p, "%s: bad column name: %s",
                         quote(json_string_value(val), q, sizeof q), bad);
                continue;
            }
            free(f->column);
            f->column = util_xstrdup(json_string_value(val));
        }
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        struct cfg_feature *f = &v->features[i];
        if (f->column == NULL && f->name != NULL) {
            f->column = util_xstrdup(f->name);
        }
    }

    /* column-level clashes */
    char ep[CFG_JPATH_MAX], cp[CFG_JPATH_MAX];
    path_key(ep, sbase, "event_timestamp_column");
    path_key(cp, sbase, "created_timestamp_column");
    const char *ev = v->event_ts_column, *cr = v->created_ts_column;
    char q[QBUF];
    if (cr != NULL && strcmp(ev, cr) == 0) {
        errs_add(e, cp, "same column as event_timestamp_column %s (expected a different column "
                 "or null)", quote(ev, q, sizeof q));
    }
    for (size_t j = 0; j < v->nkeys; j++) {
        if (strcmp(v->keys[j].name, ev) == 0) {
            errs_add(e, src ? ep : sbase, "event-time column %s clashes with join key of the "
                     "same name", quote(ev, q, sizeof q));
        }
        if (cr != NULL && strcmp(v->keys[j].name, cr) == 0) {
            errs_add(e, cp, "created-time column %s clashes with join key of the same name",
                     quote(cr, q, sizeof q));
        }
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        const struct cfg_feature *f = &v->features[i];
        if (f->name == NULL || f->column == NULL) {
            continue;
        }
        char fp[CFG_JPATH_MAX], fb[CFG_JPATH_MAX];
        jpathf(fb, "%s.features[%zu]", base, i);
        path_key(fp, fb, "name");
        bool renamed = strcmp(f->name, f->column) != 0;
        char rp[CFG_JPATH_MAX];
        path_key(rp, cbase, f->name);
        const char *where = renamed ? rp : fp;
        if (strcmp(f->name, ev) == 0) {
            errs_add(e, fp, "feature %s clashes with the event-time column", quote(f->name, q, sizeof q));
        } else if (cr != NULL && strcmp(f->name, cr) == 0) {
            errs_add(e, fp, "feature %s clashes with the created-time column",
                     quote(f->name, q, sizeof q));
        } else if (renamed && strcmp(f->column, ev) == 0) {
            errs_add(e, where, "column %s is the event-time column", quote(f->column, q, sizeof q));
        } else if (renamed && cr != NULL && strcmp(f->column, cr) == 0) {
            errs_add(e, where, "column %s is the created-time column", quote(f->column, q, sizeof q));
        }
        if (renamed) {
            for (size_t j = 0; j < v->nkeys; j++) {
                if (strcmp(v->keys[j].name, f->column) == 0) {
                    errs_add(e, where, "column %s is the join key column of the same name",
                             quote(f->column, q, sizeof q));
                }
            }
        }
        for (size_t j = 0; j < i; j++) {
            const struct cfg_feature *g = &v->features[j];
            if (g->name != NULL && g->column != NULL && strcmp(g->column, f->column) == 0 &&
                strcmp(g->name, f->name) != 0) {
                errs_add(e, where, "features \"%s\" and \"%s\" both read column %s",
                         g->name, f->name, quote(f->column, q, sizeof q));
                break;
            }
        }
    }
}

static void view_materialization(json_t *obj, const char *base, struct cfg_view *v,
                                 struct errs *e)
{
    v->mat_mode = MAT_SNAPSHOT;
    v->mat_interval_seconds = 60;
    char mbase[CFG_JPATH_MAX];
    path_key(mbase, base, "materialization");
    json_t *m = member(obj, "materialization", JSON_OBJECT, false, true, base, e);
    if (m == NULL) {
        return;
    }
    check_unknown(m, mbase, mat_keys, "materialization", e);
    json_t *mode = json_object_get(m, "mode");
    if (mode != NULL) {
        char p[CFG_JPATH_MAX], q[QBUF];
        path_key(p, mbase, "mode");
        if (!json_is_string(mode)) {
            errs_add(e, p, "expected a string, snapshot or incremental (got %s)", config_json_kind(mode));
        } else if (strcmp(json_string_value(mode), "snapshot") == 0) {
            v->mat_mode = MAT_SNAPSHOT;
        } else if (strcmp(json_string_value(mode), "incremental") == 0) {
            v->mat_mode = MAT_INCREMENTAL;
        } else {
            errs_add(e, p, "unknown mode %s (expected snapshot or incremental)",
                     quote(json_string_value(mode), q, sizeof q));
        }
    }
    get_int(m, "interval_seconds", mbase, 1, CFG_INTERVAL_MAX, &v->mat_interval_seconds, e);
}

static uint64_t fnv_field(uint64_t h, char tag, const char *s)
{
    h = util_fnv1a(h, &tag, 1);
    return util_fnv1a(h, s, strlen(s) + 1);   /* the NUL separates fields */
}

/*
 * Schema fingerprint: FNV-1a 64 over 'V' name NUL, then per join key
 * 'K' name NUL 'T' type-name NUL, then per feature 'F' name NUL 'T'
 * type-name NUL. Type names (not enum values) keep it stable across
 * recompiles; order matters because rows are packed in schema order.
 */
static void view_fingerprint(struct cfg_view *v)
{
    uint64_t h = UTIL_FNV_INIT;
    h = fnv_field(h, 'V', v->name);
    for (size_t i = 0; i < v->nkeys; i++) {
        h = fnv_field(h, 'K', v->keys[i].name);
        h = fnv_field(h, 'T', config_type_name(v->keys[i].type));
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        h = fnv_field(h, 'F', v->features[i].name);
        h = fnv_field(h, 'T', config_type_name(v->features[i].type));
    }
    v->fingerprint = h;
    snprintf(v->fingerprint_hex, sizeof v->fingerprint_hex, "%016" PRIx64, h);
}

static void parse_view(const struct featd_config *cfg, json_t *obj, const char *base,
                       struct cfg_view *v, struct errs *e)
{
    if (!json_is_object(obj)) {
        errs_add(e, base, "expected a feature view object (got %s)", config_json_kind(obj));
        return;
    }
    check_unknown(obj, base, view_keys, "a feature view", e);
    const char *name = get_name(obj, base, e);
    if (name != NULL) {
        v->name = util_xstrdup(name);
    }
    view_entities(cfg, obj, base, v, e);
    v->ttl_seconds = 0;
    get_int(obj, "ttl_seconds", base, 0, CFG_TTL_MAX, &v->ttl_seconds, e);
    view_features(obj, base, v, e);
    view_source(obj, base, v, e);
    view_materialization(obj, base, v, e);
}

static void parse_views(struct featd_config *cfg, json_t *arr, struct errs *e)
{
    size_t n = json_array_size(arr);
    if (n == 0) {
        errs_add(e, "$.feature_views", "empty (expected at least one feature view)");
        return;
    }
    cfg->views = calloc(n, sizeof *cfg->views);
    if (cfg->views == NULL) {
        errs_add(e, "$.feature_views", "out of memory");
        return;
    }
    cfg->nviews = n;
    for (size_t i = 0; i < n; i++) {
        char p[CFG_JPATH_MAX];
        path_idx(p, "$.feature_views", i);
        struct cfg_view *v = &cfg->views[i];
        parse_view(cfg, json_array_get(arr, i), p, v, e);
        for (size_t j = 0; v->name != NULL && j < i; j++) {
            if (cfg->views[j].name != NULL && strcmp(cfg->views[j].name, v->name) == 0) {
                char np[CFG_JPATH_MAX], q[QBUF];
                path_key(np, p, "name");
                errs_add(e, np, "duplicate feature view name %s (also $.feature_views[%zu])",
                         quote(v->name, q, sizeof q), j);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Load / free                                                              */
/* ------------------------------------------------------------------------ */

static void free_keys(struct cfg_join_key *k, size_t n)
{
    for (size_t i = 0; k != NULL && i < n; i++) {
        free(k[i].name);
    }
    free(k);
}

void config_free(struct featd_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free(cfg->path);
    for (size_t i = 0; i < NCKEYS; i++) {
        if (!ck_is_int(&ckeys[i]) && ckeys[i].kind != CK_ENUM) {
            free(*(char **)ck_ptr(cfg, &ckeys[i]));
        }
    }
    free(cfg->redis.host);
    free(cfg->redis.unix_path);
    for (size_t i = 0; cfg->entities != NULL && i < cfg->nentities; i++) {
        free(cfg->entities[i].name);
        free_keys(cfg->entities[i].keys, cfg->entities[i].nkeys);
    }
    free(cfg->entities);
    for (size_t i = 0; cfg->views != NULL && i < cfg->nviews; i++) {
        struct cfg_view *v = &cfg->views[i];
        free(v->name);
        for (size_t j = 0; v->entities != NULL && j < v->nentities; j++) {
            free(v->entities[j]);
        }
        free(v->entities);
        free_keys(v->keys, v->nkeys);
        for (size_t j = 0; v->features != NULL && j < v->nfeatures; j++) {
            free(v->features[j].name);
            free(v->features[j].column);
        }
        free(v->features);
        free(v->source_path);
        free(v->event_ts_column);
        free(v->created_ts_column);
    }
    free(cfg->views);
    free(cfg);
}

/* Builds a config from a parsed document; errors into e. */
static struct featd_config *config_from_json(json_t *root, struct errs *e)
{
    struct featd_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        errs_add(e, "$", "out of memory");
        return NULL;
    }
    ck_defaults(cfg, e);
    if (!json_is_object(root)) {
        errs_add(e, "$", "expected an object at the top level (got %s)", config_json_kind(root));
        return cfg;
    }
    check_unknown(root, "$", top_keys, "the top level", e);
    json_t *srv = json_object_get(root, "server");
    if (srv != NULL) {
        ck_section(cfg, srv, "server", e);
    }
    json_t *rds = json_object_get(root, "redis");
    if (rds != NULL) {
        ck_section(cfg, rds, "redis", e);
    }
    redis_resolve(cfg, "$.redis.url", "$.redis.password", false, e);
    cross_checks(cfg, "$.server.admin_listen", e);

    json_t *ents = get_array(root, "entities", "$", true, CFG_MAX_ENTITIES, e);
    if (ents != NULL) {
        parse_entities(cfg, ents, e);
    } else {
        e->entities_broken = true;
    }
    json_t *views = get_array(root, "feature_views", "$", true, CFG_MAX_VIEWS, e);
    if (views != NULL) {
        parse_views(cfg, views, e);
    }
    if (e->n == 0) {
        for (size_t i = 0; i < cfg->nviews; i++) {
            view_fingerprint(&cfg->views[i]);
        }
    }
    return cfg;
}

int config_load_string(const char *json, struct featd_config **out, char *err, size_t errlen)
{
    *out = NULL;
    struct errs e = { { 0 }, 0, false, false };
    json_error_t jerr;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        errs_add(&e, "$", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        errs_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    struct featd_config *cfg = config_from_json(root, &e);
    json_decref(root);
    if (e.n > 0) {
        config_free(cfg);
        errs_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    errs_finish(&e, NULL, 0);
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    *out = cfg;
    return FEATD_OK;
}

/* Reads a whole file (at most CFG_MAX_FILE_BYTES) into a NUL-terminated
 * buffer. */
static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct fbuf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > CFG_MAX_FILE_BYTES) {
            snprintf(err, errlen, "%s: larger than %u bytes", path, CFG_MAX_FILE_BYTES);
            fbuf_free(&b);
            fclose(f);
            return NULL;
        }
        if (fbuf_append(&b, chunk, n) != FEATD_OK) {
            snprintf(err, errlen, "%s: out of memory", path);
            fbuf_free(&b);
            fclose(f);
            return NULL;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        fbuf_free(&b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (b.data == NULL && fbuf_append(&b, "", 0) != FEATD_OK) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        snprintf(err, errlen, "%s: contains a NUL byte (not a JSON text file)", path);
        fbuf_free(&b);
        return NULL;
    }
    return b.data;
}

int config_load_file(const char *path, bool apply_env, struct featd_config **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    char *text = read_file(path, err, errlen);
    if (text == NULL) {
        return FEATD_ERR;
    }
    struct featd_config *cfg;
    int rc = config_load_string(text, &cfg, err, errlen);
    free(text);
    if (rc != FEATD_OK) {
        return rc;
    }
    cfg->path = util_xstrdup(path);
    if (apply_env && config_apply_env(cfg, err, errlen) != FEATD_OK) {
        config_free(cfg);
        return FEATD_ERR;
    }
    *out = cfg;
    return FEATD_OK;
}

int config_apply_env(struct featd_config *cfg, char *err, size_t errlen)
{
    struct errs e = { { 0 }, 0, false, false };
    bool redis_touched = false;
    const char *pw_env = getenv("FEATD_REDIS_PASSWORD");
    for (size_t i = 0; i < NCKEYS; i++) {
        const struct ckey *k = &ckeys[i];
        const char *v = k->env ? getenv(k->env) : NULL;
        if (v == NULL) {
            continue;
        }
        if (strcmp(k->section, "redis") == 0) {
            redis_touched = true;
        }
        if (k->kind == CK_NSTR && v[0] == '\0' && strcmp(k->name, "password") == 0) {
            ck_set_string(cfg, k, NULL, k->env, &e);    /* "" = no password */
            continue;
        }
        if (k->off == RDS(url) && pw_env == NULL && cfg->redis.password != NULL) {
            /* a password that came from the old url goes with it */
            struct rurl old;
            char why[256];
            if (rurl_parse(cfg->redis.url, &old, why, sizeof why) == FEATD_OK &&
                old.password != NULL && strcmp(old.password, cfg->redis.password) == 0) {
                free(cfg->redis.password);
                cfg->redis.password = NULL;
            }
            rurl_clear(&old);
        }
        ck_set_string(cfg, k, v, k->env, &e);
    }
    if (redis_touched) {
        redis_resolve(cfg, "FEATD_REDIS_URL", "$.redis.password", pw_env != NULL, &e);
    }
    cross_checks(cfg, getenv("FEATD_ADMIN_LISTEN") ? "FEATD_ADMIN_LISTEN" :
                 (getenv("FEATD_LISTEN") ? "FEATD_LISTEN" : "$.server.admin_listen"), &e);
    if (e.n > 0) {
        errs_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    errs_finish(&e, NULL, 0);
    return FEATD_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups (request path: no allocation)                                    */
/* ------------------------------------------------------------------------ */

/* z (NUL-terminated) equals s[0..len)? Never reads z past its NUL, whatever
 * s holds. */
static bool name_eq(const char *z, const char *s, size_t len)
{
    size_t k = 0;
    while (k < len && z[k] != '\0' && z[k] == s[k]) {
        k++;
    }
    return k == len && z[k] == '\0';
}

const struct cfg_view *config_find_view(const struct featd_config *cfg, const char *name)
{
    return name ? config_find_viewn(cfg, name, strlen(name)) : NULL;
}

const struct cfg_view *config_find_viewn(const struct featd_config *cfg, const char *name,
                                         size_t len)
{
    if (cfg == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->nviews; i++) {
        if (name_eq(cfg->views[i].name, name, len)) {
            return &cfg->views[i];
        }
    }
    return NULL;
}

int config_feature_index(const struct cfg_view *v, const char *name, size_t len)
{
    if (v == NULL || name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        if (name_eq(v->features[i].name, name, len)) {
            return (int)i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Table-driven extras: reload check, settings dump, docs                   */
/* ------------------------------------------------------------------------ */

int config_restart_needed(const struct featd_config *running, const struct featd_config *next,
                          char *out, size_t outlen)
{
    struct fbuf b = { 0 };
    int n = 0;
    for (size_t i = 0; i < NCKEYS; i++) {
        const struct ckey *k = &ckeys[i];
        if (k->reloadable) {
            continue;
        }
        char a[QBUF], c[QBUF];
        ck_format(running, k, false, a, sizeof a);
        ck_format(next, k, false, c, sizeof c);
        if (strcmp(a, c) == 0) {
            continue;
        }
        ck_format(running, k, true, a, sizeof a);
        ck_format(next, k, true, c, sizeof c);
        n++;
        if (fbuf_appendf(&b, "%s$.%s.%s: changed from %s to %s; needs a restart (running value "
                         "kept)", b.len ? "\n" : "", k->section, k->name, a, c) != FEATD_OK) {
            break;
        }
    }
    if (out != NULL && outlen > 0) {
        util_strlcpy(out, b.data ? b.data : "", outlen);
    }
    fbuf_free(&b);
    return n;
}

char *config_settings_json(const struct featd_config *cfg)
{
    json_t *root = json_object();
    json_t *srv = json_object();
    json_t *rds = json_object();
    if (root == NULL || srv == NULL || rds == NULL) {
        json_decref(root);
        json_decref(srv);
        json_decref(rds);
        return NULL;
    }
    json_object_set_new(root, "server", srv);
    json_object_set_new(root, "redis", rds);
    for (size_t i = 0; i < NCKEYS; i++) {
        const struct ckey *k = &ckeys[i];
        json_t *sec = strcmp(k->section, "server") == 0 ? srv : rds;
        const void *p = ck_cptr(cfg, k);
        json_t *v;
        switch (k->kind) {
        case CK_INT: v = json_integer(*(const int *)p); break;
        case CK_U32: v = json_integer(*(const uint32_t *)p); break;
        case CK_SIZE: v = json_integer((json_int_t) * (const size_t *)p); break;
        case CK_ENUM: {
            int x = *(const int *)p;
            v = json_string(ck_word(k, x));
            break;
        }
        default: {
            const char *s = *(char *const *)p;
            if (s != NULL && strcmp(k->name, "password") == 0) {
                s = "***";
            }
            v = s ? json_string(s) : json_null();
            break;
        }
        }
        json_object_set_new(sec, k->name, v);
    }
    char *s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(root);
    return s;
}

/* Escapes '|' for markdown table cells. */
static int md_cell(struct fbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' && fbuf_putc(out, '\\') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        if (fbuf_putc(out, *s) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

int config_keys_markdown(struct fbuf *out)
{
    if (fbuf_appendf(out, "| key | type | default | range / values | reloadable | env | meaning |\n"
                     "|---|---|---|---|---|---|---|\n") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t i = 0; i < NCKEYS; i++) {
        const struct ckey *k = &ckeys[i];
        const char *type;
        char range[256];
        switch (k->kind) {
        case CK_INT:
        case CK_U32:
        case CK_SIZE:
            type = "integer";
            snprintf(range, sizeof range, "%" PRId64 "..%" PRId64, k->min, k->max);
            break;
        case CK_NSTR:
            type = "string or null";
            snprintf(range, sizeof range, "%" PRId64 "..%" PRId64 " bytes", k->min, k->max);
            break;
        case CK_WORD:
        case CK_ENUM:
            type = "string";
            ck_words_list(k, range, sizeof range);
            break;
        default:
            type = "string";
            snprintf(range, sizeof range, "%" PRId64 "..%" PRId64 " bytes", k->min, k->max);
            break;
        }
        char def[128];
        if (k->def == NULL) {
            snprintf(def, sizeof def, "null");
        } else if (ck_is_int(k)) {
            snprintf(def, sizeof def, "%s", k->def);
        } else {
            snprintf(def, sizeof def, "\"%s\"", k->def);
        }
        if (fbuf_appendf(out, "| `%s.%s` | %s | `%s` | ", k->section, k->name, type, def) != FEATD_OK ||
            md_cell(out, range) != FEATD_OK ||
            fbuf_appendf(out, " | %s | %s%s%s | ", k->reloadable ? "yes" : "no",
                         k->env ? "`" : "", k->env ? k->env : "-", k->env ? "`" : "") != FEATD_OK ||
            md_cell(out, k->help) != FEATD_OK ||
            fbuf_appendf(out, " |\n") != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}
