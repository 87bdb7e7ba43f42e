/*
 * rblock.c — blocking hiredis connections to the online tier, the one
 * blocking command helper and the one hiredis error wording (see rblock.h).
 */
#include "redis/rblock.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#define DEFAULT_DATA_DIR "./featd-data"

int rblock_embedded_socket_path(const struct featd_config *cfg, char *buf, size_t cap)
{
    const char *dir = cfg->server.data_dir ? cfg->server.data_dir : DEFAULT_DATA_DIR;
    char real[PATH_MAX];
    const char *base = realpath(dir, real) != NULL ? real : dir;
    struct sockaddr_un sa;
    size_t max = sizeof sa.sun_path - 1;
    int n = snprintf(buf, cap, "%s/redis.sock", base);
    if (n < 0 || (size_t)n >= cap || (size_t)n > max) {
        snprintf(buf, cap, "embedded redis socket path \"%s/redis.sock\" is too long "
                 "(a unix socket path has at most %zu bytes); use a shorter server.data_dir",
                 base, max);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* "a:1,[::1]:2" for a node list, cut with "..." when it does not fit. */
static void rblock_addrs(const struct cfg_addrs *a, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->n && off + 1 < cap; i++) {
        const struct cfg_addr *x = &a->v[i];
        int n = snprintf(buf + off, cap - off, strchr(x->host, ':') ? "%s[%s]:%d" : "%s%s:%d",
                         i ? "," : "", x->host, x->port);
        if (n < 0 || (size_t)n >= cap - off) {
            if (cap > 4) {
                snprintf(buf + (off < cap - 4 ? off : cap - 4), 4, "...");
            }
            return;
        }
        off += (size_t)n;
    }
}

void rblock_endpoint(const struct featd_config *cfg, char *buf, size_t cap)
{
    const struct cfg_redis *r = &cfg->redis;
    if (r->mode == REDIS_MODE_CLUSTER || r->mode == REDIS_MODE_SENTINEL) {
        char nodes[256];
        rblock_addrs(r->mode == REDIS_MODE_CLUSTER ? &r->cluster_nodes : &r->sentinel.nodes, nodes,
                     sizeof(nodes));
        if (r->mode == REDIS_MODE_CLUSTER) {
            snprintf(buf, cap, "cluster (seeds %s)", nodes);
        } else {
            snprintf(buf, cap, "sentinel master %s (sentinels %s)", r->sentinel.master_name, nodes);
        }
    } else if (r->embedded) {
        char path[PATH_MAX + 32];
        if (rblock_embedded_socket_path(cfg, path, sizeof path) != FEATD_OK) {
            snprintf(buf, cap, "embedded redis");
            return;
        }
        snprintf(buf, cap, "unix:%s (embedded)", path);
    } else if (r->unix_path != NULL) {
        snprintf(buf, cap, "unix:%s", r->unix_path);
    } else if (r->host != NULL && strchr(r->host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%d", r->host, r->port);
    } else {
        snprintf(buf, cap, "%s:%d", r->host ? r->host : "127.0.0.1", r->port);
    }
}

void rblock_ctx_endpoint(const redisContext *c, char *buf, size_t cap)
{
    if (c == NULL) {
        snprintf(buf, cap, "cluster");   /* a reply routed by redis/rbcluster */
    } else if (c->connection_type == REDIS_CONN_UNIX) {
        snprintf(buf, cap, "unix:%s", c->unix_sock.path ? c->unix_sock.path : "?");
    } else if (c->tcp.host != NULL && strchr(c->tcp.host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%d", c->tcp.host, c->tcp.port);
    } else {
        snprintf(buf, cap, "%s:%d", c->tcp.host ? c->tcp.host : "?", c->tcp.port);
    }
}

/* The socket read timeout of c in ms (0 = none or unknown). */
static int ctx_timeout_ms(const redisContext *c)
{
    struct timeval tv = { 0, 0 };
    socklen_t len = sizeof tv;
    if (c->fd < 0 || getsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) != 0) {
        return 0;
    }
    return (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/* Why a command on c failed (hiredis reports a socket timeout as EAGAIN).
 * tmo < 0: read it from the socket. */
static const char *ctx_reason(const redisContext *c, int tmo, char *buf, size_t cap)
{
    if (c->err == REDIS_ERR_IO && (strcmp(c->errstr, strerror(EAGAIN)) == 0
                                   || strcmp(c->errstr, strerror(EWOULDBLOCK)) == 0)) {
        snprintf(buf, cap, "no answer within %d ms (redis.timeout_ms)",
                 tmo >= 0 ? tmo : ctx_timeout_ms(c));
    } else if (c->err == REDIS_ERR_EOF) {
        snprintf(buf, cap, "connection closed by redis");
    } else {
        snprintf(buf, cap, "%s", c->errstr[0] ? c->errstr : "no reply");
    }
    return buf;
}

static void seterr_ep(const redisContext *c, const char *ep, int tmo, const char *what,
                      char *err, size_t errlen)
{
    char why[256];
    snprintf(err, errlen, "redis %s: %s: %s", ep, what, ctx_reason(c, tmo, why, sizeof why));
}

static void seterr_reply_ep(const char *ep, const char *what, const redisReply *r, char *err,
                            size_t errlen)
{
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s: %s failed: %.*s", ep, what,
                 (int)(r->len > 400 ? 400 : r->len), r->str ? r->str : "");
    } else {
        snprintf(err, errlen, "redis %s: %s failed: unexpected reply type %d", ep, what, r->type);
    }
}

void rblock_seterr(const redisContext *c, const char *what, char *err, size_t errlen)
{
    if (c == NULL) {
        snprintf(err, errlen, "redis: %s: no connection", what);
        return;
    }
    char ep[PATH_MAX + 64];
    rblock_ctx_endpoint(c, ep, sizeof ep);
    seterr_ep(c, ep, -1, what, err, errlen);
}

void rblock_seterr_reply(const redisContext *c, const char *what, const redisReply *r,
                         char *err, size_t errlen)
{
    char ep[PATH_MAX + 64];
    rblock_ctx_endpoint(c, ep, sizeof ep);
    seterr_reply_ep(ep, what, r, err, errlen);
}

/* The reply of a command just run, or NULL with err set. */
static redisReply *checked(redisContext *c, redisReply *r, const char *what, char *err,
                           size_t errlen)
{
    if (r == NULL) {
        rblock_seterr(c, what, err, errlen);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rblock_seterr_reply(c, what, r, err, errlen);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *rblock_command(redisContext *c, char *err, size_t errlen, const char *what,
                           const char *fmt, ...)
{
    if (c == NULL) {
        rblock_seterr(NULL, what, err, errlen);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return checked(c, r, what, err, errlen);
}

redisReply *rblock_command_argv(redisContext *c, char *err, size_t errlen, const char *what,
                                int argc, const char **argv, const size_t *lens)
{
    if (c == NULL) {
        rblock_seterr(NULL, what, err, errlen);
        return NULL;
    }
    return checked(c, redisCommandArgv(c, argc, argv, lens), what, err, errlen);
}

/* Runs one command during connect; FEATD_ERR with the wording above. */
static int simple_command(redisContext *c, const char *ep, int tmo, const char *what, char *err,
                          size_t errlen, const char *fmt, const char *arg)
{
    redisReply *reply = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    if (reply == NULL) {
        seterr_ep(c, ep, tmo, what, err, errlen);
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (reply->type == REDIS_REPLY_ERROR) {
        seterr_reply_ep(ep, what, reply, err, errlen);
        rc = FEATD_ERR;
    }
    freeReplyObject(reply);
    return rc;
}

/*
 * AUTH on a fresh connection: "AUTH username password" when redis.username
 * is set (ACL), else "AUTH password"; argv form, so any byte of the
 * password (spaces too) goes through. Messages name the user, never the
 * password: "redis EP: AUTH as user "featd" failed: WRONGPASS ...".
 */
static int rblock_auth(redisContext *c, const struct cfg_redis *r, const char *ep, int tmo,
                       char *err, size_t errlen)
{
    const char *argv[3] = { "AUTH", r->username, r->password };
    size_t lens[3] = { 4, r->username ? strlen(r->username) : 0, strlen(r->password) };
    int argc = 3;
    char what[320];
    if (r->username == NULL) {
        argv[1] = r->password;
        lens[1] = lens[2];
        argc = 2;
        snprintf(what, sizeof what, "AUTH");
    } else {
        snprintf(what, sizeof what, "AUTH as user \"%.256s\"", r->username);
    }
    redisReply *reply = redisCommandArgv(c, argc, argv, lens);
    if (reply == NULL) {
        seterr_ep(c, ep, tmo, what, err, errlen);
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (reply->type == REDIS_REPLY_ERROR) {
        seterr_reply_ep(ep, what, reply, err, errlen);
        rc = FEATD_ERR;
    }
    freeReplyObject(reply);
    return rc;
}

redisContext *rblock_connect(const struct featd_config *cfg, char *err, size_t errlen)
{
    const struct cfg_redis *r = &cfg->redis;
    if (r->mode == REDIS_MODE_CLUSTER || r->mode == REDIS_MODE_SENTINEL) {
        /* one node only: cluster and sentinel deployments need their own client */
        snprintf(err, errlen, "redis: %s: a blocking connection to one node cannot serve a "
                 "Redis %s deployment", r->mode == REDIS_MODE_CLUSTER ? "redis.cluster_nodes"
                 : "redis.sentinel", config_redis_mode_name(r->mode));
        return NULL;
    }
    char ep[PATH_MAX + 64];
    rblock_endpoint(cfg, ep, sizeof ep);

    int tmo = r->timeout_ms > 0 ? r->timeout_ms : 0;
    struct timeval tv = { tmo / 1000, (tmo % 1000) * 1000 };
    redisContext *c;
    if (r->embedded || r->unix_path != NULL) {
        char path[PATH_MAX + 32];
        if (r->embedded) {
            if (rblock_embedded_socket_path(cfg, path, sizeof path) != FEATD_OK) {
                snprintf(err, errlen, "redis: %s", path);
                return NULL;
            }
        } else {
            snprintf(path, sizeof path, "%s", r->unix_path);
        }
        c = tmo > 0 ? redisConnectUnixWithTimeout(path, tv) : redisConnectUnix(path);
    } else {
        const char *host = r->host ? r->host : "127.0.0.1";
        c = tmo > 0 ? redisConnectWithTimeout(host, r->port, tv) : redisConnect(host, r->port);
    }
    if (c == NULL) {
        snprintf(err, errlen, "redis %s: connect: out of memory", ep);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "redis %s: connect: %s%s", ep, c->errstr,
                 r->embedded ? " (the embedded redis-server runs only while featd runs "
                               "with this config's server.data_dir)" : "");
        redisFree(c);
        return NULL;
    }
    if (tmo > 0 && redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s: cannot set a %d ms timeout: %s", ep, tmo,
                 c->errstr[0] ? c->errstr : strerror(errno));
        redisFree(c);
        return NULL;
    }
    if (r->password != NULL && r->password[0] != '\0'
        && rblock_auth(c, r, ep, tmo, err, errlen) != FEATD_OK) {
        redisFree(c);
        return NULL;
    }
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        if (simple_command(c, ep, tmo, "SELECT", err, errlen, "SELECT %s", db) != FEATD_OK) {
            redisFree(c);
            return NULL;
        }
    }
    /* Prove the connection works now (NOAUTH, a paused server, ...). */
    if (simple_command(c, ep, tmo, "PING", err, errlen, "PING", NULL) != FEATD_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

int rblock_bulk_timeout(redisContext *c, int cfg_ms, char *err, size_t errlen)
{
    int ms = cfg_ms > RBLOCK_BULK_TIMEOUT_MS ? cfg_ms : RBLOCK_BULK_TIMEOUT_MS;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis: cannot set a %d ms command timeout", ms);
        return FEATD_ERR;
    }
    return FEATD_OK;
}
