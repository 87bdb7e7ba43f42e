/*
 * rbcluster.c — the blocking single-node / cluster client (contract in
 * rbcluster.h): seed discovery, lazily connected node links, key routing,
 * and the per-node pipeline that follows MOVED / ASK / TRYAGAIN / LOADING.
 */
#include "redis/rbcluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/util.h"
#include "redis/rblock.h"
#include "redis/rslot.h"

/* One open (or failed and closed) connection to a node, by address. */
struct rbc_link {
    char host[RTOPO_HOST_MAX];
    int port;
    redisContext *ctx;    /* NULL: not connected */
};

/* A queued command. */
struct rbc_cmd {
    char *buf;            /* RESP, redisFormatCommandArgv */
    size_t len;
    unsigned slot;
    redisReply *reply;    /* final reply, NULL while pending */
    int redirects;
    int retries;
    int link;             /* link of this round */
    bool has_target;      /* a MOVED/ASK named the node: use it next round */
    bool asking;          /* ... and send ASKING first */
    char target_host[RTOPO_HOST_MAX];
    int target_port;
};

struct rbcluster {
    bool cluster;
    struct rtopo *topo, *scratch;    /* current map; the refresh's parse target */
    struct rbcluster_addr *seeds;    /* copies (hosts owned) */
    size_t nseeds;
    char *username, *password;
    int db;
    int connect_ms, timeout_ms;
    struct rbc_link *links;
    size_t nlinks;
    struct rbc_cmd *cmds;
    size_t ncmds, capcmds;
    struct rbcluster_stats stats;
};

/* ---- links ---- */

static void rbc_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void rbc_addr_str(const char *host, int port, char *buf, size_t cap)
{
    if (port == 0) {
        snprintf(buf, cap, "unix:%s", host);
    } else if (strchr(host, ':') != NULL) {
        snprintf(buf, cap, "[%s]:%d", host, port);
    } else {
        snprintf(buf, cap, "%s:%d", host, port);
    }
}

static struct timeval rbc_tv(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

/* Runs one setup command; FEATD_ERR with the rblock wording. */
static int rbc_setup_cmd(redisContext *ctx, const char *what, int argc, const char **argv,
                         char *err, size_t errlen)
{
    redisReply *r = rblock_command_argv(ctx, err, errlen, what, argc, argv, NULL);
    if (r == NULL) {
        return FEATD_ERR;
    }
    freeReplyObject(r);
    return FEATD_OK;
}

redisContext *rbcluster_connect_one(const char *host, int port, const char *username,
                                   const char *password, int db, int timeout_ms, char *err,
                                   size_t errlen)
{
    char ep[RTOPO_HOST_MAX + 32];
    rbc_addr_str(host, port, ep, sizeof ep);
    redisContext *ctx;
    if (port == 0) {
        ctx = timeout_ms > 0 ? redisConnectUnixWithTimeout(host, rbc_tv(timeout_ms))
                             : redisConnectUnix(host);
    } else {
        ctx = timeout_ms > 0 ? redisConnectWithTimeout(host, port, rbc_tv(timeout_ms))
                             : redisConnect(host, port);
    }
    if (ctx == NULL) {
        util_seterr(err, errlen, "redis %s: connect: out of memory", ep);
        return NULL;
    }
    if (ctx->err) {
        util_seterr(err, errlen, "redis %s: connect: %s", ep, ctx->errstr);
        redisFree(ctx);
        return NULL;
    }
    if (timeout_ms > 0 && redisSetTimeout(ctx, rbc_tv(timeout_ms)) != REDIS_OK) {
        util_seterr(err, errlen, "redis %s: cannot set a %d ms timeout", ep, timeout_ms);
        redisFree(ctx);
        return NULL;
    }
    if (password != NULL && password[0] != '\0') {
        /* rblock's wording: the user is named, never the password */
        const char *argv[3] = { "AUTH", username ? username : password, password };
        char what[320] = "AUTH";
        if (username != NULL) {
            snprintf(what, sizeof what, "AUTH as user \"%.256s\"", username);
        }
        if (rbc_setup_cmd(ctx, what, username ? 3 : 2, argv, err, errlen) != FEATD_OK) {
            redisFree(ctx);
            return NULL;
        }
    }
    if (db != 0) {
        char dbs[16];
        snprintf(dbs, sizeof dbs, "%d", db);
        if (rbc_setup_cmd(ctx, "SELECT", 2, (const char *[]){ "SELECT", dbs }, err, errlen) !=
            FEATD_OK) {
            redisFree(ctx);
            return NULL;
        }
    }
    if (rbc_setup_cmd(ctx, "PING", 1, (const char *[]){ "PING" }, err, errlen) != FEATD_OK) {
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* A new context to host:port with this client's credentials and timeouts. */
static redisContext *rbc_connect(struct rbcluster *c, const char *host, int port, char *err,
                                 size_t errlen)
{
    redisContext *ctx = rbcluster_connect_one(host, port, c->username, c->password,
                                              c->cluster ? 0 : c->db, c->connect_ms, err, errlen);
    if (ctx != NULL) {
        c->stats.connects++;
        if (c->timeout_ms != c->connect_ms) {
            (void)redisSetTimeout(ctx, rbc_tv(c->timeout_ms));
        }
    }
    return ctx;
}

/* The link index of host:port (added when new), or -1 when the link table
 * is full (counted, err set). */
static int rbc_link_find(struct rbcluster *c, const char *host, int port, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < c->nlinks; i++) {
        if (c->links[i].port == port && strcmp(c->links[i].host, host) == 0) {
            return (int)i;
        }
    }
    if (c->nlinks >= RBCLUSTER_MAX_LINKS) {
        c->stats.bound_hits++;
        util_seterr(err, errlen, "redis cluster: more than %d node connections",
                    RBCLUSTER_MAX_LINKS);
        return -1;
    }
    struct rbc_link *l = &c->links[c->nlinks];
    memset(l, 0, sizeof(*l));
    util_strlcpy(l->host, host, sizeof l->host);
    l->port = port;
    return (int)c->nlinks++;
}

/* The connected context of link i, connecting when needed. */
static redisContext *rbc_link_ctx(struct rbcluster *c, int i, char *err, size_t errlen)
{
    struct rbc_link *l = &c->links[i];
    if (l->ctx != NULL && l->ctx->err) {
        redisFree(l->ctx);
        l->ctx = NULL;
    }
    if (l->ctx == NULL) {
        l->ctx = rbc_connect(c, l->host, l->port, err, errlen);
    }
    return l->ctx;
}

static void rbc_link_close(struct rbcluster *c, int i)
{
    if (c->links[i].ctx != NULL) {
        redisFree(c->links[i].ctx);
        c->links[i].ctx = NULL;
    }
}

static redisContext *rbc_ctx_for(struct rbcluster *c, const char *host, int port, char *err,
                                 size_t errlen)
{
    int i = rbc_link_find(c, host, port, err, errlen);
    return i < 0 ? NULL : rbc_link_ctx(c, i, err, errlen);
}

/* ---- discovery ---- */

/* After a refresh: closes and forgets the links to nodes that are neither
 * in the new map nor seeds (replaced nodes), so the table never fills up
 * over failovers. Link indices change: callers re-route after a refresh. */
static void rbc_prune_links(struct rbcluster *c)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->nlinks; i++) {
        struct rbc_link *l = &c->links[i];
        bool wanted = rtopo_find(c->topo, l->host, l->port) >= 0;
        for (size_t k = 0; k < c->nseeds && !wanted; k++) {
            wanted = c->seeds[k].port == l->port && strcmp(c->seeds[k].host, l->host) == 0;
        }
        if (!wanted) {
            rbc_link_close(c, (int)i);
            continue;
        }
        if (keep != i) {
            c->links[keep] = *l;
        }
        keep++;
    }
    c->nlinks = keep;
}

/* Appends "; EP: why" to the running list of failures (bounded). */
static void rbc_note_failure(char *list, size_t cap, const char *why)
{
    size_t used = strlen(list);
    if (used + 3 < cap) {
        snprintf(list + used, cap - used, "%s%s", used ? "; " : "", why);
    }
}

/* Asks host:port for CLUSTER SLOTS into c->scratch; FEATD_OK when it gave a
 * map owning at least one slot. */
static int rbc_ask_slots(struct rbcluster *c, const char *host, int port, char *why, size_t cap)
{
    redisContext *ctx = rbc_ctx_for(c, host, port, why, cap);
    if (ctx == NULL) {
        return FEATD_ERR;
    }
    redisReply *r = redisCommand(ctx, "CLUSTER SLOTS");
    if (r == NULL) {
        rblock_seterr(ctx, "CLUSTER SLOTS", why, cap);
        int li = rbc_link_find(c, host, port, NULL, 0);
        if (li >= 0) {
            rbc_link_close(c, li);
        }
        return FEATD_ERR;
    }
    char perr[300];
    int rc = rtopo_parse_slots_via(c->scratch, r, host, perr, sizeof perr);
    freeReplyObject(r);
    char ep[RTOPO_HOST_MAX + 32];
    rbc_addr_str(host, port, ep, sizeof ep);
    if (rc != FEATD_OK) {
        util_seterr(why, cap, "redis %s: %s", ep, perr);
        return FEATD_ERR;
    }
    size_t owned = 0;
    for (unsigned s = 0; s < RSLOT_COUNT; s++) {
        owned += c->scratch->slot_master[s] >= 0;
    }
    if (owned == 0) {
        util_seterr(why, cap, "redis %s: CLUSTER SLOTS: no slot has an owner", ep);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* rbcluster_refresh; `label` starts the message when no node answers. */
static int rbc_refresh(struct rbcluster *c, const char *label, char *err, size_t errlen)
{
    char fails[1024] = "", why[400];
    const struct rtopo *t = c->topo;
    /* masters, then replicas, of the current map, then the seeds */
    for (int pass = 0; pass < 3; pass++) {
        size_t n = pass < 2 ? t->nnodes : c->nseeds;
        for (size_t i = 0; i < n; i++) {
            const char *host;
            int port;
            if (pass < 2) {
                if ((pass == 0) != (t->nodes[i].master < 0)) {
                    continue;
                }
                host = t->nodes[i].host;
                port = t->nodes[i].port;
            } else {
                host = c->seeds[i].host;
                port = c->seeds[i].port;
            }
            if (rbc_ask_slots(c, host, port, why, sizeof why) == FEATD_OK) {
                struct rtopo *tmp = c->topo;
                c->topo = c->scratch;
                c->scratch = tmp;
                c->stats.refreshes++;
                rbc_prune_links(c);
                return FEATD_OK;
            }
            rbc_note_failure(fails, sizeof fails, why);
        }
    }
    c->stats.refresh_failures++;
    util_seterr(err, errlen, "redis cluster: %s: %s", label, fails);
    return FEATD_ERR;
}

int rbcluster_refresh(struct rbcluster *c, char *err, size_t errlen)
{
    if (!c->cluster) {
        return FEATD_OK;
    }
    return rbc_refresh(c, "no node gave a slot map", err, errlen);
}

static struct rbcluster *rbc_alloc(const struct rbcluster_opts *o, bool cluster, char *err,
                                   size_t errlen)
{
    if (o->nseeds == 0 || o->nseeds > RBCLUSTER_MAX_SEEDS) {
        util_seterr(err, errlen, "redis cluster: %zu seed nodes (1 to %d)", o->nseeds,
                    RBCLUSTER_MAX_SEEDS);
        return NULL;
    }
    struct rbcluster *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        util_seterr(err, errlen, "redis cluster: out of memory");
        return NULL;
    }
    c->cluster = cluster;
    c->topo = calloc(1, sizeof(struct rtopo));
    c->scratch = calloc(1, sizeof(struct rtopo));
    c->seeds = calloc(o->nseeds, sizeof(struct rbcluster_addr));
    c->links = calloc(RBCLUSTER_MAX_LINKS, sizeof(struct rbc_link));
    c->username = o->username ? strdup(o->username) : NULL;
    c->password = o->password ? strdup(o->password) : NULL;
    bool oom = c->topo == NULL || c->scratch == NULL || c->seeds == NULL || c->links == NULL ||
               (o->username && c->username == NULL) || (o->password && c->password == NULL);
    for (size_t i = 0; i < o->nseeds && !oom; i++) {
        c->seeds[i].host = strdup(o->seeds[i].host ? o->seeds[i].host : "127.0.0.1");
        c->seeds[i].port = o->seeds[i].port;
        c->nseeds = i + 1;
        oom = c->seeds[i].host == NULL;
    }
    if (oom) {
        rbcluster_free(c);
        util_seterr(err, errlen, "redis cluster: out of memory");
        return NULL;
    }
    c->db = o->db;
    c->connect_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
    c->timeout_ms = c->connect_ms;
    rtopo_clear(c->topo);
    c->topo->cluster = cluster;
    return c;
}

struct rbcluster *rbcluster_new_cluster(const struct rbcluster_opts *o, char *err, size_t errlen)
{
    struct rbcluster *c = rbc_alloc(o, true, err, errlen);
    if (c == NULL) {
        return NULL;
    }
    if (rbc_refresh(c, "no seed gave a slot map", err, errlen) != FEATD_OK) {
        rbcluster_free(c);
        return NULL;
    }
    return c;
}

struct rbcluster *rbcluster_new_single(const struct rbcluster_opts *o, char *err, size_t errlen)
{
    struct rbcluster *c = rbc_alloc(o, false, err, errlen);
    if (c == NULL) {
        return NULL;
    }
    rtopo_single(c->topo, c->seeds[0].host, c->seeds[0].port);
    if (rbc_ctx_for(c, c->seeds[0].host, c->seeds[0].port, err, errlen) == NULL) {
        rbcluster_free(c);
        return NULL;
    }
    return c;
}

void rbcluster_free(struct rbcluster *c)
{
    if (c == NULL) {
        return;
    }
    rbcluster_discard(c);
    free(c->cmds);
    if (c->links != NULL) {
        for (size_t i = 0; i < c->nlinks; i++) {
            rbc_link_close(c, (int)i);
        }
    }
    free(c->links);
    for (size_t i = 0; i < c->nseeds; i++) {
        free((char *)c->seeds[i].host);
    }
    free(c->seeds);
    free(c->username);
    if (c->password != NULL) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    free(c->topo);
    free(c->scratch);
    free(c);
}

bool rbcluster_is_cluster(const struct rbcluster *c)
{
    return c->cluster;
}

bool rbcluster_healthy(const struct rbcluster *c)
{
    for (size_t i = 0; i < c->nlinks; i++) {
        if (c->links[i].ctx != NULL && c->links[i].ctx->err) {
            return false;
        }
    }
    return true;
}

const struct rtopo *rbcluster_topo(const struct rbcluster *c)
{
    return c->topo;
}

const struct rbcluster_stats *rbcluster_stats(const struct rbcluster *c)
{
    return &c->stats;
}

void rbcluster_set_timeout(struct rbcluster *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    for (size_t i = 0; i < c->nlinks; i++) {
        if (c->links[i].ctx != NULL) {
            (void)redisSetTimeout(c->links[i].ctx, rbc_tv(c->timeout_ms));
        }
    }
}

/* ---- routing ---- */

redisContext *rbcluster_ctx_for_node(struct rbcluster *c, int i, char *err, size_t errlen)
{
    if (i < 0 || (size_t)i >= c->topo->nnodes) {
        util_seterr(err, errlen, "redis cluster: no node %d in the map", i);
        return NULL;
    }
    return rbc_ctx_for(c, c->topo->nodes[i].host, c->topo->nodes[i].port, err, errlen);
}

/* The owner of slot, or -1 with err naming the slot. */
static int rbc_owner(struct rbcluster *c, unsigned slot, char *err, size_t errlen)
{
    int n = rtopo_node_for_slot(c->topo, slot, false, 0);
    if (n < 0) {
        util_seterr(err, errlen, "redis cluster: slot %u has no owner in the cluster map", slot);
    }
    return n;
}

redisContext *rbcluster_ctx_for_key(struct rbcluster *c, const char *key, size_t len, char *err,
                                    size_t errlen)
{
    int n = rbc_owner(c, rslot_of_key(key, len), err, errlen);
    return n < 0 ? NULL : rbcluster_ctx_for_node(c, n, err, errlen);
}

size_t rbcluster_nmasters(const struct rbcluster *c)
{
    return c->topo->nmasters;
}

int rbcluster_master_node(const struct rbcluster *c, size_t k)
{
    for (size_t i = 0; i < c->topo->nnodes; i++) {
        if (c->topo->nodes[i].master < 0 && k-- == 0) {
            return (int)i;
        }
    }
    return -1;
}

redisContext *rbcluster_master_ctx(struct rbcluster *c, size_t k, char *err, size_t errlen)
{
    int n = rbcluster_master_node(c, k);
    if (n < 0) {
        util_seterr(err, errlen, "redis cluster: no master %zu in the map (%zu masters)", k,
                    c->topo->nmasters);
        return NULL;
    }
    return rbcluster_ctx_for_node(c, n, err, errlen);
}

/* ---- pipelines ---- */

/* Room for one more queued command (bounded by RBCLUSTER_MAX_PIPELINE,
 * counted when hit). */
static int rbcluster_reserve(struct rbcluster *c, char *err, size_t errlen)
{
    if (c->ncmds >= RBCLUSTER_MAX_PIPELINE) {
        c->stats.bound_hits++;
        util_seterr(err, errlen, "redis cluster: more than %u commands in one pipeline",
                    RBCLUSTER_MAX_PIPELINE);
        return FEATD_ERR;
    }
    if (c->ncmds == c->capcmds) {
        size_t cap = c->capcmds ? c->capcmds * 2 : 256;
        struct rbc_cmd *n = realloc(c->cmds, cap * sizeof(*n));
        if (n == NULL) {
            util_seterr(err, errlen, "redis cluster: out of memory");
            return FEATD_ERR;
        }
        c->cmds = n;
        c->capcmds = cap;
    }
    return FEATD_OK;
}

int rbcluster_append(struct rbcluster *c, const char *key, size_t keylen, int argc,
                     const char **argv, const size_t *lens, char *err, size_t errlen)
{
    if (rbcluster_reserve(c, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    char *buf = NULL;
    int len = redisFormatCommandArgv(&buf, argc, argv, lens);
    if (len < 0 || buf == NULL) {
        util_seterr(err, errlen, "redis cluster: out of memory");
        return FEATD_ERR;
    }
    struct rbc_cmd *cmd = &c->cmds[c->ncmds++];
    memset(cmd, 0, sizeof(*cmd));
    cmd->buf = buf;
    cmd->len = (size_t)len;
    cmd->slot = rslot_of_key(key, keylen);
    cmd->link = -1;
    return FEATD_OK;
}

int rbcluster_append_resp(struct rbcluster *c, unsigned slot, const char *resp, size_t len,
                          char *err, size_t errlen)
{
    if (rbcluster_reserve(c, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    char *buf = malloc(len ? len : 1);   /* freed by redisFreeCommand (free) */
    if (buf == NULL) {
        util_seterr(err, errlen, "redis cluster: out of memory");
        return FEATD_ERR;
    }
    memcpy(buf, resp, len);
    struct rbc_cmd *cmd = &c->cmds[c->ncmds++];
    memset(cmd, 0, sizeof(*cmd));
    cmd->buf = buf;
    cmd->len = len;
    cmd->slot = slot % RSLOT_COUNT;
    cmd->link = -1;
    return FEATD_OK;
}

size_t rbcluster_pending(const struct rbcluster *c)
{
    return c->ncmds;
}

void rbcluster_discard(struct rbcluster *c)
{
    for (size_t i = 0; i < c->ncmds; i++) {
        redisFreeCommand(c->cmds[i].buf);
        if (c->cmds[i].reply != NULL) {
            freeReplyObject(c->cmds[i].reply);
        }
    }
    c->ncmds = 0;
}

void rbcluster_replies_free(redisReply **replies, size_t n)
{
    if (replies == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
        }
    }
    free(replies);
}

/* Closes the links that took part in a failed round (their reply streams
 * are out of step with the commands). */
static void rbc_close_round(struct rbcluster *c, const size_t *count)
{
    for (size_t i = 0; i < c->nlinks; i++) {
        if (count[i] > 0) {
            rbc_link_close(c, (int)i);
        }
    }
}

/*
 * Judges one reply of cmd: keeps it as final, or notes a redirect / retry.
 * Returns 1 when the map needs a refresh, 2 when the round needs a sleep,
 * 0 otherwise; -1 with err when the command ran out of redirects.
 */
static int rbc_judge(struct rbcluster *c, struct rbc_cmd *cmd, redisReply *r, const char *via,
                     char *err, size_t errlen)
{
    if (r->type == REDIS_REPLY_ERROR) {
        unsigned slot;
        char host[RTOPO_HOST_MAX];
        int port;
        enum rtopo_redirect k = rtopo_parse_redirect(r->str, (size_t)r->len, &slot, host,
                                                     sizeof host, &port);
        if (k != RTOPO_NOT_REDIRECT) {
            if (++cmd->redirects > RBCLUSTER_MAX_REDIRECTS) {
                c->stats.bound_hits++;
                util_seterr(err, errlen,
                            "redis cluster: slot %u: more than %d redirects (last: %.200s)",
                            cmd->slot, RBCLUSTER_MAX_REDIRECTS, r->str);
                freeReplyObject(r);
                return -1;
            }
            cmd->has_target = true;
            cmd->asking = k == RTOPO_ASK;
            util_strlcpy(cmd->target_host, host[0] ? host : via, sizeof cmd->target_host);
            cmd->target_port = port;
            freeReplyObject(r);
            if (k == RTOPO_MOVED) {
                c->stats.moved++;
                return 1;
            }
            c->stats.ask++;
            return 0;
        }
        if (rtopo_retryable_error(r->str, (size_t)r->len)) {
            if (cmd->retries < RBCLUSTER_MAX_RETRIES) {
                cmd->retries++;
                c->stats.retries++;
                freeReplyObject(r);
                return 2;
            }
            c->stats.bound_hits++;   /* the error reply becomes the answer */
        }
    }
    cmd->reply = r;
    return 0;
}

/* Moves the replies out into a caller-owned array and empties the queue. */
static int rbc_take_replies(struct rbcluster *c, redisReply ***replies, size_t *n, char *err,
                            size_t errlen)
{
    redisReply **out = calloc(c->ncmds ? c->ncmds : 1, sizeof(*out));
    if (out == NULL) {
        util_seterr(err, errlen, "redis cluster: out of memory");
        rbcluster_discard(c);
        return FEATD_ERR;
    }
    for (size_t i = 0; i < c->ncmds; i++) {
        out[i] = c->cmds[i].reply;
        c->cmds[i].reply = NULL;
    }
    *n = c->ncmds;
    *replies = out;
    rbcluster_discard(c);
    return FEATD_OK;
}

int rbcluster_exec(struct rbcluster *c, redisReply ***replies, size_t *n, char *err,
                   size_t errlen)
{
    *replies = NULL;
    *n = 0;
    size_t *count = calloc(RBCLUSTER_MAX_LINKS + 1, sizeof(size_t));
    size_t *start = calloc(RBCLUSTER_MAX_LINKS + 1, sizeof(size_t));
    size_t *order = malloc((c->ncmds ? c->ncmds : 1) * sizeof(size_t));
    int rc = FEATD_ERR;
    if (count == NULL || start == NULL || order == NULL) {
        util_seterr(err, errlen, "redis cluster: out of memory");
        goto done;
    }
    for (int round = 0;; round++) {
        /* 1. route every pending command to a link */
        memset(count, 0, (RBCLUSTER_MAX_LINKS + 1) * sizeof(size_t));
        size_t pending = 0;
        for (size_t i = 0; i < c->ncmds; i++) {
            struct rbc_cmd *cmd = &c->cmds[i];
            if (cmd->reply != NULL) {
                continue;
            }
            int li;
            if (cmd->has_target) {
                li = rbc_link_find(c, cmd->target_host, cmd->target_port, err, errlen);
            } else {
                int node = rbc_owner(c, cmd->slot, err, errlen);
                li = node < 0 ? -1
                              : rbc_link_find(c, c->topo->nodes[node].host,
                                              c->topo->nodes[node].port, err, errlen);
            }
            if (li < 0) {
                goto done;
            }
            cmd->link = li;
            count[li]++;
            pending++;
        }
        if (pending == 0) {
            rc = rbc_take_replies(c, replies, n, err, errlen);
            goto done;
        }
        size_t sum = 0;
        for (size_t l = 0; l < c->nlinks; l++) {
            start[l] = sum;
            sum += count[l];
        }
        for (size_t i = 0; i < c->ncmds; i++) {
            if (c->cmds[i].reply == NULL) {
                order[start[c->cmds[i].link]++] = i;
            }
        }
        for (size_t l = 0; l < c->nlinks; l++) {
            start[l] -= count[l];
        }
        /* 2. append and write every node's batch before reading any */
        for (size_t l = 0; l < c->nlinks; l++) {
            if (count[l] == 0) {
                continue;
            }
            redisContext *ctx = rbc_link_ctx(c, (int)l, err, errlen);
            if (ctx == NULL) {
                rbc_close_round(c, count);
                goto done;
            }
            for (size_t k = start[l]; k < start[l] + count[l]; k++) {
                struct rbc_cmd *cmd = &c->cmds[order[k]];
                if ((cmd->asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
                    redisAppendFormattedCommand(ctx, cmd->buf, cmd->len) != REDIS_OK) {
                    rblock_seterr(ctx, "pipeline", err, errlen);
                    rbc_close_round(c, count);
                    goto done;
                }
            }
            int wdone = 0;
            while (!wdone) {
                if (redisBufferWrite(ctx, &wdone) != REDIS_OK) {
                    rblock_seterr(ctx, "pipeline write", err, errlen);
                    rbc_close_round(c, count);
                    goto done;
                }
            }
        }
        /* 3. read, in the same order */
        bool refresh = false, sleep = false;
        for (size_t l = 0; l < c->nlinks; l++) {
            if (count[l] == 0) {
                continue;
            }
            redisContext *ctx = c->links[l].ctx;
            for (size_t k = start[l]; k < start[l] + count[l]; k++) {
                struct rbc_cmd *cmd = &c->cmds[order[k]];
                bool asking = cmd->asking;
                cmd->has_target = false;
                cmd->asking = false;
                void *reply = NULL;
                if (asking) {
                    if (redisGetReply(ctx, &reply) != REDIS_OK || reply == NULL) {
                        rblock_seterr(ctx, "ASKING", err, errlen);
                        rbc_close_round(c, count);
                        goto done;
                    }
                    freeReplyObject(reply);   /* +OK; an error shows in the command's reply */
                    reply = NULL;
                }
                if (redisGetReply(ctx, &reply) != REDIS_OK || reply == NULL) {
                    rblock_seterr(ctx, "pipeline", err, errlen);
                    rbc_close_round(c, count);
                    goto done;
                }
                int j = rbc_judge(c, cmd, reply, c->links[l].host, err, errlen);
                if (j < 0) {
                    rbc_close_round(c, count);
                    goto done;
                }
                refresh |= j == 1;
                sleep |= j == 2;
            }
        }
        /* 4. refresh the map after a MOVED (the redirected commands already
         * know their node); back off for TRYAGAIN/LOADING */
        if (refresh) {
            char why[600];
            int frc = rbcluster_refresh(c, why, sizeof why);   /* failures are counted */
            (void)frc;   /* the redirect targets still route this exec */
        }
        if (sleep) {
            int ms = 10 << (round < 4 ? round : 4);
            rbc_sleep_ms(ms > 200 ? 200 : ms);
        }
    }
done:
    if (rc != FEATD_OK) {
        rbcluster_discard(c);
    }
    free(count);
    free(start);
    free(order);
    return rc;
}
