/*
 * config_addr.c — addresses in the config: "host:port" listen addresses
 * (IPv6 as "[::1]:port"), node lists (redis.cluster_nodes,
 * redis.sentinel.nodes), the redis url (embedded, redis://, unix://) and
 * what it resolves to, and the checks that compare addresses across keys.
 * config_addr_parse_hostport is also used by the daemon and the CLI (any thread;
 * the host is malloc'd for the caller).
 */
#include "config/config_int.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number of 1..maxdigits digits in [min, max] (p[0..n), no sign). */
static bool config_addr_number(const char *p, size_t n, size_t maxdigits, int min, int max,
                               int *out)
{
    if (n == 0 || n > maxdigits) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (p[i] - '0');
    }
    if (v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool config_addr_port(const char *p, size_t n, int *port)
{
    return config_addr_number(p, n, 5, 1, 65535, port);
}

static bool config_addr_db(const char *p, size_t n, int *db)
{
    return config_addr_number(p, n, 2, 0, 15, db);
}

/* Splits "host:port" or "[v6]:port" (length n, not necessarily
 * NUL-terminated). Host is malloc'd without brackets. */
static int config_addr_hostport_n(const char *s, size_t n, char **host, int *port)
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
    if (!config_addr_port(colon + 1, (size_t)(s + n - colon - 1), port)) {
        return FEATD_ERR;
    }
    *host = strndup(hs, (size_t)(he - hs));
    if (*host == NULL) {
        *port = 0;
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int config_addr_parse_hostport(const char *s, char **host, int *port)
{
    if (s == NULL) {
        *host = NULL;
        *port = 0;
        return FEATD_ERR;
    }
    return config_addr_hostport_n(s, strlen(s), host, port);
}

/* ------------------------------------------------------------------------ */
/* The redis url                                                            */
/* ------------------------------------------------------------------------ */

void config_addr_url_clear(struct config_redis_url *u)
{
    free(u->host);
    free(u->unix_path);
    free(u->username);
    free(u->password);
    memset(u, 0, sizeof *u);
}

static int config_addr_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or %00. */
static char *config_addr_pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? config_addr_hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? config_addr_hexval(s[i + 2]) : -1;
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

#define URL_FORMS "\"embedded\", redis://[[user]:password@]host[:port][/db] or " \
                  "unix:///path/to.sock[?db=N]"

/* rest = what follows "unix://" or "redis+unix://". */
static int config_addr_url_unix(const char *rest, struct config_redis_url *u, char *why,
                                size_t whylen)
{
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
        if (strncmp(q, "?db=", 4) != 0 || !config_addr_db(q + 4, strlen(q + 4), &u->db)) {
            snprintf(why, whylen, "bad query %s (expected ?db=N with N in 0..15)", q);
            return FEATD_ERR;
        }
    }
    u->unix_path = strndup(rest, plen);
    if (u->unix_path == NULL) {
        snprintf(why, whylen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* The userinfo of a redis:// url (everything before the last '@', if any):
 * ":password" or "user:password" ("default" is the default user: no user
 * name kept, AUTH password as before ACLs). *rest moves past it. */
static int config_addr_url_userinfo(const char **rest, struct config_redis_url *u, char *why,
                                    size_t whylen)
{
    const char *r = *rest;
    const char *at = strrchr(r, '@');
    if (at == NULL) {
        return FEATD_OK;
    }
    const char *colon = memchr(r, ':', (size_t)(at - r));
    if (colon == NULL) {
        snprintf(why, whylen, "url names a user but no password (expected redis://:password@host:port)");
        return FEATD_ERR;
    }
    size_t ulen = (size_t)(colon - r);
    if (ulen != 0 && !(ulen == 7 && strncmp(r, "default", 7) == 0)) {
        u->username = config_addr_pct_decode(r, ulen);
        if (u->username == NULL) {
            snprintf(why, whylen, "bad percent-escape in the url's user name");
            return FEATD_ERR;
        }
    }
    size_t plen = (size_t)(at - colon - 1);
    if (plen == 0) {
        snprintf(why, whylen, "empty password in url");
        return FEATD_ERR;
    }
    u->password = config_addr_pct_decode(colon + 1, plen);
    if (u->password == NULL) {
        snprintf(why, whylen, "bad percent-escape in the url's password");
        return FEATD_ERR;
    }
    *rest = at + 1;
    return FEATD_OK;
}

/* rest = host[:port][/db] of a redis:// url (the userinfo removed). */
static int config_addr_url_tcp(const char *rest, struct config_redis_url *u, char *why,
                               size_t whylen)
{
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
        return FEATD_ERR;
    }
    memcpy(hp, rest, hlen);
    hp[hlen] = '\0';
    if (!has_port) {
        snprintf(hp + hlen, sizeof hp - hlen, ":6379");
    }
    if (config_addr_parse_hostport(hp, &u->host, &u->port) != FEATD_OK) {
        snprintf(why, whylen, "bad host or port in url (expected host[:port] with port 1..65535; "
                 "IPv6 as [::1]:6379)");
        return FEATD_ERR;
    }
    if (slash != NULL && slash[1] != '\0') {
        if (!config_addr_db(slash + 1, strlen(slash + 1), &u->db)) {
            snprintf(why, whylen, "bad database number (expected /N with N in 0..15)");
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

int config_addr_url_parse(const char *url, struct config_redis_url *u, char *why, size_t whylen)
{
    memset(u, 0, sizeof *u);
    if (url == NULL || strcmp(url, "embedded") == 0) {
        u->embedded = true;
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
    if (strncmp(url, "unix://", 7) == 0 || strncmp(url, "redis+unix://", 13) == 0) {
        return config_addr_url_unix(url + (url[0] == 'u' ? 7 : 13), u, why, whylen);
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(why, whylen, "TLS (rediss://) is not supported (expected " URL_FORMS ")");
        return FEATD_ERR;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(why, whylen, "unsupported url (expected " URL_FORMS ")");
        return FEATD_ERR;
    }
    const char *rest = url + 8;
    if (strchr(rest, '?') != NULL || strchr(rest, '#') != NULL) {
        snprintf(why, whylen, "query strings are not supported in redis:// urls");
        return FEATD_ERR;
    }
    if (config_addr_url_userinfo(&rest, u, why, whylen) != FEATD_OK ||
        config_addr_url_tcp(rest, u, why, whylen) != FEATD_OK) {
        config_addr_url_clear(u);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* ------------------------------------------------------------------------ */
/* Key-table checks and cross-key checks                                    */
/* ------------------------------------------------------------------------ */

const char *config_addr_check_listen(const char *v, char *why, size_t whylen)
{
    char *host;
    int port;
    if (config_addr_parse_hostport(v, &host, &port) != FEATD_OK) {
        snprintf(why, whylen, "bad address (expected \"host:port\" with port 1..65535, "
                 "IPv6 as \"[::1]:6566\")");
        return why;
    }
    free(host);
    return NULL;
}

const char *config_addr_check_admin_listen(const char *v, char *why, size_t whylen)
{
    if (v[0] == '\0') {
        return NULL;
    }
    if (config_addr_check_listen(v, why, whylen) != NULL) {
        snprintf(why, whylen, "bad address (expected \"host:port\" with port 1..65535, "
                 "IPv6 as \"[::1]:6567\", or \"\" to disable)");
        return why;
    }
    return NULL;
}

const char *config_addr_check_redis_url(const char *v, char *why, size_t whylen)
{
    struct config_redis_url u;
    if (config_addr_url_parse(v, &u, why, whylen) != FEATD_OK) {
        config_addr_url_clear(&u);
        return why;
    }
    config_addr_url_clear(&u);
    return NULL;
}

/* Merges a credential from the url (*from_url, taken when kept) into *field:
 * the url's wins when the field is unset, the same value twice is fine, two
 * different values are an error (what = "password", "user name"). */
static void config_addr_merge_cred(char **field, char **from_url, bool field_wins,
                                   const char *url_who, const char *field_who, const char *what,
                                   struct config_errs *e)
{
    if (*from_url == NULL || field_wins) {
        return;
    }
    if (*field == NULL) {
        *field = *from_url;
        *from_url = NULL;
    } else if (strcmp(*field, *from_url) != 0) {
        config_err_add(e, url_who, "the url's %s differs from %s (give the %s once)", what,
                       field_who, what);
    }
}

void config_addr_resolve_redis(struct featd_config *cfg, const char *url_who, bool pw_wins,
                               bool user_wins, struct config_errs *e)
{
    struct cfg_redis *r = &cfg->redis;
    struct config_redis_url u;
    char why[256];
    free(r->host);
    free(r->unix_path);
    r->host = r->unix_path = NULL;
    r->port = r->db = 0;
    r->embedded = false;
    if (config_addr_url_parse(r->url, &u, why, sizeof why) != FEATD_OK) {
        config_addr_url_clear(&u);     /* reported when the value was set */
        return;
    }
    r->embedded = u.embedded;
    r->host = u.host;
    r->port = u.port;
    r->unix_path = u.unix_path;
    r->db = u.db;
    u.host = u.unix_path = NULL;
    config_addr_merge_cred(&r->password, &u.password, pw_wins, url_who, "$.redis.password",
                           "password", e);
    config_addr_merge_cred(&r->username, &u.username, user_wins, url_who, "$.redis.username",
                           "user name", e);
    config_addr_url_clear(&u);
}

/* ------------------------------------------------------------------------ */
/* Node lists                                                               */
/* ------------------------------------------------------------------------ */

/* calloc that aborts on OOM, like util_xstrdup (config loading only). */
static struct cfg_addr *config_addr_xalloc(size_t n)
{
    struct cfg_addr *v = calloc(n, sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "featd: out of memory\n");
        abort();
    }
    return v;
}

void config_addr_list_free(struct cfg_addrs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].host);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void config_addr_list_copy(struct cfg_addrs *dst, const struct cfg_addrs *src)
{
    config_addr_list_free(dst);
    if (src->n == 0) {
        return;
    }
    dst->v = config_addr_xalloc(src->n);
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i].host = util_xstrdup(src->v[i].host);
        dst->v[i].port = src->v[i].port;
    }
    dst->n = src->n;
}

bool config_addr_list_equal(const struct cfg_addrs *a, const struct cfg_addrs *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].port != b->v[i].port || strcmp(a->v[i].host, b->v[i].host) != 0) {
            return false;
        }
    }
    return true;
}

void config_addr_format(const struct cfg_addr *a, char *buf, size_t cap)
{
    if (strchr(a->host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%d", a->host, a->port);
    } else {
        snprintf(buf, cap, "%s:%d", a->host, a->port);
    }
}

/* The same node: same port, and the same IP address (both literals) or the
 * same host name (case-insensitive). Names are not resolved. */
static bool config_addr_same(const struct cfg_addr *a, const struct cfg_addr *b)
{
    if (a->port != b->port) {
        return false;
    }
    unsigned char ba[16], bb[16];
    int af = strchr(a->host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, a->host, ba) == 1 && inet_pton(af, b->host, bb) == 1) {
        return memcmp(ba, bb, af == AF_INET6 ? 16 : 4) == 0;
    }
    return strcasecmp(a->host, b->host) == 0;
}

void config_addr_list_set(struct cfg_addrs *out, const char *const *items, size_t n, size_t max,
                          const char *who, struct config_errs *e)
{
    if (n == 0) {
        config_err_add(e, who, "empty list (expected 1..%zu \"host:port\" entries, or null)", max);
        return;
    }
    if (n > max) {
        config_err_add(e, who, "%zu entries (at most %zu allowed)", n, max);
        return;
    }
    struct cfg_addrs l = { config_addr_xalloc(n), 0 };
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        char iw[CFG_JPATH_MAX], q[QBUF];
        config_err_path_idx(iw, who, i);
        if (items[i] == NULL) {
            ok = false;     /* not a string: reported by the caller */
            continue;
        }
        struct cfg_addr a;
        if (config_addr_parse_hostport(items[i], &a.host, &a.port) != FEATD_OK) {
            config_err_add(e, iw, "%s: bad address (expected \"host:port\" with port 1..65535, "
                           "IPv6 as \"[::1]:7000\")", config_err_quote(items[i], q, sizeof q));
            ok = false;
            continue;
        }
        for (size_t j = 0; j < l.n; j++) {
            if (config_addr_same(&l.v[j], &a)) {
                config_err_add(e, iw, "%s: duplicate node (the same as an earlier entry)",
                               config_err_quote(items[i], q, sizeof q));
                ok = false;
                break;
            }
        }
        l.v[l.n++] = a;
    }
    if (!ok) {
        config_addr_list_free(&l);
        return;
    }
    config_addr_list_free(out);
    *out = l;
}

void config_addr_cross_check(const struct featd_config *cfg, const char *admin_who,
                             struct config_errs *e)
{
    const struct cfg_server *s = &cfg->server;
    if (s->listen != NULL && s->admin_listen != NULL && s->admin_listen[0] != '\0') {
        char *h1 = NULL, *h2 = NULL;
        int p1, p2;
        if (config_addr_parse_hostport(s->listen, &h1, &p1) == FEATD_OK &&
            config_addr_parse_hostport(s->admin_listen, &h2, &p2) == FEATD_OK && p1 == p2) {
            bool wild1 = strcmp(h1, "0.0.0.0") == 0 || strcmp(h1, "::") == 0;
            bool wild2 = strcmp(h2, "0.0.0.0") == 0 || strcmp(h2, "::") == 0;
            if (strcmp(h1, h2) == 0 || wild1 || wild2) {
                config_err_add(e, admin_who, "same address as server.listen (%s); the admin port "
                               "must differ", s->listen);
            }
        }
        free(h1);
        free(h2);
    }
}
