/*
 * rroute.c — a serving thread's route to Redis (see rroute.h): the single
 * node / Sentinel data link, the cluster's slot map and per-node links,
 * redirects and retries, the Sentinel discovery and subscription.
 *
 * Deferred work: hiredis callbacks must not free the link they run on, so
 * freeing a retired link, re-pointing the sentinel subscription, asking a
 * sentinel and refreshing the slot map all happen in rroute_soon_cb (a
 * timer, armed by rroute_kick), never inside a link's callback.
 */
#include "redis/rroute.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fbuf.h"
#include "core/log.h"
#include "core/util.h"
#include "redis/rcmd.h"
#include "redis/rlink.h"
#include "redis/rslot.h"
#include "redis/rtopo.h"

#define RROUTE_MAX_SENTINELS 16
#define RROUTE_ASK_RETRY_MS 100     /* sentinel asked again after a failed round */

/* A cluster node featd has (or had) a link to; host[0] == '\0': free entry. */
struct rroute_node {
    char host[RTOPO_HOST_MAX];
    int port;
    struct rlink *link;
    bool seed;                  /* from redis.cluster_nodes: kept */
    bool in_map;
};

/* A cluster command in flight: its own copy, so that it can be resent. */
struct rroute_cmd {
    struct rroute *rr;
    redisCallbackFn *cb;
    void *priv;
    struct rroute_cmd *next;    /* the retry list */
    unsigned slot;
    int node;                   /* node it was last sent to */
    int to_node;                /* -1: route by the map; else a redirect's node */
    bool asking;                /* send ASKING first (an ASK redirect) */
    bool master;                /* a write: never to a replica (read_from_replicas) */
    uint8_t tries;
    size_t len;
    char cmd[];
};

struct rroute {
    struct event_base *base;
    struct metrics *m;
    enum featd_redis_mode mode;
    char *username, *password;
    int db;
    bool rfr;                   /* read_from_replicas */
    bool stopped;
    struct event *tick;         /* periodic refresh */
    struct event *soon;         /* deferred work */
    struct fbuf fmt;            /* rroute_command_argv's formatting buffer */
    char endpoint[600];
    char err[700];
    char status[700];

    /* single node, Sentinel: the data link */
    struct rlink *one;
    struct rlink *retired;      /* Sentinel: the previous master's link, freed soon */
    char one_host[RTOPO_HOST_MAX];
    int one_port;

    /* Sentinel */
    char *master_name;
    char *sent_password;
    struct rlink *sent[RROUTE_MAX_SENTINELS];
    struct cfg_addr sent_addr[RROUTE_MAX_SENTINELS];
    size_t nsent;
    struct rlink *sub;          /* the +switch-master subscription */
    size_t sub_idx;
    bool sub_need, sub_rotate;
    bool ask_inflight, ask_wanted;
    size_t ask_idx;
    unsigned ask_fails;

    /* Cluster */
    struct rroute_node *nodes;  /* RTOPO_MAX_NODES entries */
    struct rtopo *topo, *spare;
    int16_t tnode[RTOPO_MAX_NODES];     /* topo node -> nodes index, -1 none */
    uint16_t masters[RTOPO_MAX_NODES];  /* topo indexes of the masters */
    size_t nmasters;
    bool map_known;
    bool refresh_inflight, refresh_wanted;
    int refresh_node;
    size_t refresh_rot;
    int64_t last_refresh_us;
    unsigned pick;
    struct rroute_cmd *retry_head, *retry_tail;
    struct event *retry_ev;
};

static void rroute_kick(struct rroute *rr, int ms);

/* ---- shared ---- */

static void rroute_gauge(struct rroute *rr)
{
    METRICS_SET(rr->m->redis_connected, rroute_ready(rr) ? 1 : 0);
    METRICS_SET(rr->m->redis_nodes, rroute_nodes(rr));
}

static void rroute_link_state(void *arg, struct rlink *rp, bool up)
{
    struct rroute *rr = arg;
    if (rr->stopped) {
        return;
    }
    rroute_gauge(rr);
    if (rr->mode == REDIS_MODE_CLUSTER) {
        if (!up) {
            rr->refresh_wanted = true;      /* a failover may be under way */
            rroute_kick(rr, 0);
        }
        return;
    }
    if (rr->mode != REDIS_MODE_SENTINEL) {
        return;
    }
    if (rp == rr->sub) {
        if (up) {
            rr->sub_need = true;
        } else {
            rr->sub_rotate = true;
        }
        rroute_kick(rr, 0);
    } else if (rp == rr->one && !up) {
        rr->ask_wanted = true;
        rroute_kick(rr, 0);
    }
}

static struct rlink *rroute_link_new(struct rroute *rr, const char *host, int port, bool sentinel,
                                     bool early)
{
    struct rlink_opts o = {
        .host = host, .port = port, .db = sentinel || rr->mode == REDIS_MODE_CLUSTER ? 0 : rr->db,
        .username = sentinel ? NULL : rr->username,
        .password = sentinel ? rr->sent_password : rr->password,
        .readonly = !sentinel && rr->rfr && rr->mode == REDIS_MODE_CLUSTER,
        .queue_early = early, .on_state = rroute_link_state, .state_arg = rr,
    };
    return rlink_new_opts(rr->base, &o, rr->m);
}

/* ---- cluster: nodes and the map ---- */

/* The entry of host:port, created (with its link) when create and there is
 * room; -1 when absent or the RTOPO_MAX_NODES bound is hit (counted). */
static int rroute_node_get(struct rroute *rr, const char *host, int port, bool create)
{
    int free_i = -1;
    for (int i = 0; i < RTOPO_MAX_NODES; i++) {
        struct rroute_node *n = &rr->nodes[i];
        if (n->host[0] == '\0') {
            if (free_i < 0) {
                free_i = i;
            }
        } else if (n->port == port && strcmp(n->host, host) == 0) {
            return i;
        }
    }
    if (!create) {
        return -1;
    }
    if (free_i < 0 || strlen(host) >= RTOPO_HOST_MAX) {
        METRICS_INC(rr->m->redis_node_limit_hits_total);
        return -1;
    }
    struct rroute_node *n = &rr->nodes[free_i];
    n->link = rroute_link_new(rr, host, port, false, true);
    if (n->link == NULL) {
        return -1;
    }
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    return free_i;
}

/* Adopts rr->topo: links for every master (and replica when reading from
 * replicas); links to nodes no longer named, not seeds and down are freed
 * (a down link has no command pending). */
static void rroute_apply_map(struct rroute *rr)
{
    const struct rtopo *t = rr->topo;
    for (int i = 0; i < RTOPO_MAX_NODES; i++) {
        rr->nodes[i].in_map = false;
    }
    rr->nmasters = 0;
    for (size_t i = 0; i < t->nnodes; i++) {
        bool master = t->nodes[i].master < 0;
        int ni = rroute_node_get(rr, t->nodes[i].host, t->nodes[i].port, master || rr->rfr);
        rr->tnode[i] = (int16_t)ni;
        if (ni >= 0) {
            rr->nodes[ni].in_map = true;
        }
        if (master) {
            rr->masters[rr->nmasters++] = (uint16_t)i;
        }
    }
    for (int i = 0; i < RTOPO_MAX_NODES; i++) {
        struct rroute_node *n = &rr->nodes[i];
        if (n->host[0] && !n->in_map && !n->seed && n->link && !rlink_accepting(n->link)) {
            rlink_free(n->link);
            memset(n, 0, sizeof(*n));
        }
    }
    rr->map_known = true;
    rroute_gauge(rr);
    if (!rroute_ready(rr)) {
        /* a master is down or still connecting: look again soon, so a
         * promoted replica is found even when no command fails meanwhile */
        rr->refresh_wanted = true;
        rroute_kick(rr, RROUTE_DEGRADED_REFRESH_MS);
    }
}

static void rroute_slots_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rroute *rr = priv;
    const redisReply *reply = r;
    (void)ac;
    rr->refresh_inflight = false;
    if (rr->stopped) {
        return;
    }
    const char *via = rr->nodes[rr->refresh_node].host;
    char why[512] = "";
    if (reply == NULL) {
        snprintf(why, sizeof(why), "the node did not answer");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "%.*s", (int)(reply->len > 300 ? 300 : reply->len), reply->str);
    } else if (rtopo_parse_slots_via(rr->spare, reply, via, why, sizeof(why)) == FEATD_OK &&
               rr->spare->nmasters > 0) {
        struct rtopo *t = rr->topo;
        rr->topo = rr->spare;
        rr->spare = t;
        METRICS_INC(rr->m->redis_topology_refreshes_total);
        rroute_apply_map(rr);
        return;
    } else if (rr->spare->nmasters == 0 && why[0] == '\0') {
        snprintf(why, sizeof(why), "no slot has an owner");
    }
    static _Thread_local struct log_limit limit;
    uint64_t suppressed;
    if (log_limit_take(&limit, 1, util_mono_us(), &suppressed)) {
        log_warn("redis", "cluster: CLUSTER SLOTS on %s:%d failed: %s (%" PRIu64 " more since)", via,
                 rr->nodes[rr->refresh_node].port, why, suppressed);
    }
    if (rr->map_known) {
        snprintf(rr->status, sizeof(rr->status), "redis cluster: CLUSTER SLOTS on %s:%d failed: %s", via,
                 rr->nodes[rr->refresh_node].port, why);
    } else {
        /* no map yet: name every seed, not only the last one asked (an
         * operator's first question is which addresses featd tries) */
        snprintf(rr->status, sizeof(rr->status), "redis cluster: no slot map yet from %.300s: CLUSTER SLOTS on %.64s:%d "
                 "failed: %.200s", rr->endpoint, via, rr->nodes[rr->refresh_node].port, why);
    }
    rr->refresh_wanted = true;      /* ask another node next */
    rroute_kick(rr, RROUTE_REFRESH_MIN_MS);
}

/* Sends CLUSTER SLOTS to the next node whose link takes commands. */
static void rroute_refresh(struct rroute *rr)
{
    static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    if (rr->refresh_inflight) {
        return;
    }
    for (int k = 0; k < RTOPO_MAX_NODES; k++) {
        int i = (int)((rr->refresh_rot + (size_t)k) % RTOPO_MAX_NODES);
        struct rroute_node *n = &rr->nodes[i];
        if (n->host[0] == '\0' || n->link == NULL || !rlink_accepting(n->link)) {
            continue;
        }
        rr->refresh_rot = (size_t)i + 1;
        if (rlink_command_formatted(n->link, rroute_slots_cb, rr, cmd, sizeof(cmd) - 1) == FEATD_OK) {
            rr->refresh_inflight = true;
            rr->refresh_wanted = false;
            rr->refresh_node = i;
            rr->last_refresh_us = util_mono_us();
            return;
        }
    }
    /* no link takes commands: the links reconnect; try again */
    if (!rr->map_known) {
        snprintf(rr->status, sizeof(rr->status), "redis cluster: no slot map yet: no seed reachable in %.300s",
                 rr->endpoint);
    }
    rroute_kick(rr, RROUTE_REFRESH_MIN_MS);
}

/* ---- cluster: commands ---- */

/* The node serving slot now, or -1 with rr->err set. */
static int rroute_pick(struct rroute *rr, unsigned slot, bool master)
{
    if (!rr->map_known) {
        snprintf(rr->err, sizeof(rr->err), "slot %u: %.600s", slot,
                 rr->status[0] ? rr->status : "redis cluster: slot map not known yet");
        return -1;
    }
    const struct rtopo *t = rr->topo;
    bool rfr = rr->rfr && !master;
    int ti = rtopo_node_for_slot(t, slot, rfr, rr->pick++);
    if (rfr && ti >= 0 && (rr->tnode[ti] < 0 || !rlink_ready(rr->nodes[rr->tnode[ti]].link))) {
        ti = rtopo_node_for_slot(t, slot, false, 0);    /* the replica is down: its master */
    }
    if (ti < 0) {
        snprintf(rr->err, sizeof(rr->err), "slot %u has no owner in the cluster's slot map", slot);
        rr->refresh_wanted = true;
        rroute_kick(rr, 0);
        return -1;
    }
    if (rr->tnode[ti] < 0) {
        snprintf(rr->err, sizeof(rr->err), "slot %u (node %s:%d): no link (more than %d nodes)", slot,
                 t->nodes[ti].host, t->nodes[ti].port, RTOPO_MAX_NODES);
        return -1;
    }
    return rr->tnode[ti];
}

static void rroute_noop_cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)r;
    (void)priv;
}

static void rroute_cmd_cb(redisAsyncContext *ac, void *r, void *priv);

/* Sends c (again). FEATD_EAGAIN with rr->err set when it cannot go out. */
static int rroute_send(struct rroute *rr, struct rroute_cmd *c)
{
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    if (c->to_node >= 0 && rr->nodes[c->to_node].link == NULL) {
        c->to_node = -1;        /* that node left the map meanwhile */
        c->asking = false;
    }
    int ni = c->to_node >= 0 ? c->to_node : rroute_pick(rr, c->slot, c->master);
    if (ni < 0) {
        return FEATD_EAGAIN;
    }
    struct rlink *l = rr->nodes[ni].link;
    c->node = ni;
    c->tries++;
    if ((!c->asking || rlink_command_formatted(l, rroute_noop_cb, NULL, asking, sizeof(asking) - 1) == FEATD_OK) &&
        rlink_command_formatted(l, rroute_cmd_cb, c, c->cmd, c->len) == FEATD_OK) {
        return FEATD_OK;
    }
    snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): %s", c->slot, rlink_endpoint(l),
             rlink_status(l));
    rr->refresh_wanted = true;
    rroute_kick(rr, 0);
    return FEATD_EAGAIN;
}

static void rroute_deliver(struct rroute_cmd *c, redisAsyncContext *ac, redisReply *reply)
{
    c->cb(ac, reply, c->priv);
    free(c);
}

static void rroute_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rroute *rr = arg;
    (void)fd;
    (void)what;
    struct rroute_cmd *c = rr->retry_head;
    rr->retry_head = rr->retry_tail = NULL;
    while (c) {
        struct rroute_cmd *next = c->next;
        c->next = NULL;
        if (rr->stopped || rroute_send(rr, c) != FEATD_OK) {
            rroute_deliver(c, NULL, NULL);
        }
        c = next;
    }
}

static void rroute_cmd_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rroute_cmd *c = priv;
    struct rroute *rr = c->rr;
    redisReply *reply = r;
    const char *ep = rr->nodes[c->node].link ? rlink_endpoint(rr->nodes[c->node].link) : "?";
    if (rr->stopped) {
        snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): featd is stopping", c->slot, ep);
        rroute_deliver(c, ac, NULL);
        return;
    }
    if (reply == NULL) {
        snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): %s", c->slot, ep,
                 rlink_status(rr->nodes[c->node].link));
        rr->refresh_wanted = true;
        rroute_kick(rr, 0);
        rroute_deliver(c, ac, NULL);
        return;
    }
    if (reply->type != REDIS_REPLY_ERROR) {
        rroute_deliver(c, ac, reply);
        return;
    }
    unsigned slot;
    char host[RTOPO_HOST_MAX];
    int port;
    enum rtopo_redirect k = rtopo_parse_redirect(reply->str, reply->len, &slot, host, sizeof(host), &port);
    int elen = (int)(reply->len > 300 ? 300 : reply->len);
    if (k != RTOPO_NOT_REDIRECT) {
        METRICS_INC(rr->m->redis_redirects[k == RTOPO_MOVED ? 0 : 1]);
        if (host[0] == '\0') {
            snprintf(host, sizeof(host), "%s", rr->nodes[c->node].host);
        }
        if (k == RTOPO_MOVED) {
            rr->refresh_wanted = true;      /* the map is out of date */
            rroute_kick(rr, 0);
        }
        int ni = c->tries < RROUTE_MAX_TRIES ? rroute_node_get(rr, host, port, true) : -1;
        if (ni < 0) {
            snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): %s after %u tries: %.*s", c->slot, ep,
                     c->tries < RROUTE_MAX_TRIES ? "no link to the node named" : "still redirected",
                     (unsigned)c->tries, elen, reply->str);
            rroute_deliver(c, ac, NULL);
            return;
        }
        c->to_node = ni;
        c->asking = k == RTOPO_ASK;
        if (rroute_send(rr, c) != FEATD_OK) {
            rroute_deliver(c, ac, NULL);
        }
        return;
    }
    if (rtopo_retryable_error(reply->str, reply->len)) {
        if (c->tries < RROUTE_MAX_TRIES) {
            METRICS_INC(rr->m->redis_cluster_retries_total);
            if (rr->retry_tail) {
                rr->retry_tail->next = c;
            } else {
                rr->retry_head = c;
            }
            rr->retry_tail = c;
            if (!evtimer_pending(rr->retry_ev, NULL)) {
                struct timeval tv = { 0, RROUTE_RETRY_MS * 1000 };
                evtimer_add(rr->retry_ev, &tv);
            }
            return;
        }
        snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): %.*s (after %u tries)", c->slot, ep, elen,
                 reply->str, (unsigned)c->tries);
        rroute_deliver(c, ac, NULL);
        return;
    }
    if (reply->len >= 11 && memcmp(reply->str, "CLUSTERDOWN", 11) == 0) {
        snprintf(rr->err, sizeof(rr->err), "slot %u (node %s): %.*s", c->slot, ep, elen, reply->str);
        rr->refresh_wanted = true;
        rroute_kick(rr, 0);
        rroute_deliver(c, ac, NULL);
        return;
    }
    rroute_deliver(c, ac, reply);   /* any other error is the caller's */
}

/* ---- Sentinel ---- */

/* The data link goes to host:port (unless it already does). */
static void rroute_adopt(struct rroute *rr, const char *host, int port)
{
    if (rr->one && rr->one_port == port && strcmp(rr->one_host, host) == 0) {
        return;
    }
    if (strlen(host) >= sizeof(rr->one_host)) {
        return;
    }
    struct rlink *l = rroute_link_new(rr, host, port, false, true);
    if (l == NULL) {
        return;
    }
    if (rr->one) {
        log_info("redis", "sentinel: master \"%s\" is now %s:%d (was %s:%d)", rr->master_name, host, port,
                 rr->one_host, rr->one_port);
        if (rr->retired) {
            rlink_free(rr->retired);    /* retired a loop iteration ago at least */
        }
        rr->retired = rr->one;
        rroute_kick(rr, 0);
    }
    rr->one = l;
    snprintf(rr->one_host, sizeof(rr->one_host), "%s", host);
    rr->one_port = port;
    snprintf(rr->endpoint, sizeof(rr->endpoint), "sentinel %s at %s", rr->master_name, rlink_endpoint(l));
    METRICS_INC(rr->m->redis_topology_refreshes_total);
    rroute_gauge(rr);
}

static void rroute_ask_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rroute *rr = priv;
    const redisReply *reply = r;
    (void)ac;
    rr->ask_inflight = false;
    if (rr->stopped) {
        return;
    }
    const struct cfg_addr *s = &rr->sent_addr[rr->ask_idx];
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING) {
        int port = atoi(reply->element[1]->str);
        if (port > 0 && port < 65536) {
            rr->ask_fails = 0;
            rroute_adopt(rr, reply->element[0]->str, port);
            return;
        }
    }
    snprintf(rr->status, sizeof(rr->status), "sentinel %s:%d: %s", s->host, s->port,
             reply == NULL ? "no answer"
             : reply->type == REDIS_REPLY_NIL ? "does not know the master name"
             : reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    if (rr->ask_fails++ % 16 == 0) {
        log_warn("redis", "sentinel: asking for master \"%s\": %s", rr->master_name, rr->status);
    }
    rr->ask_idx = (rr->ask_idx + 1) % rr->nsent;
    rr->ask_wanted = true;
    rroute_kick(rr, RROUTE_ASK_RETRY_MS);
}

static void rroute_ask(struct rroute *rr)
{
    if (rr->ask_inflight) {
        return;
    }
    const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", rr->master_name };
    size_t lens[3] = { 8, 23, strlen(rr->master_name) };
    for (size_t k = 0; k < rr->nsent; k++) {
        size_t i = (rr->ask_idx + k) % rr->nsent;
        if (rlink_accepting(rr->sent[i]) &&
            rlink_command_argv(rr->sent[i], rroute_ask_cb, rr, 3, argv, lens) == FEATD_OK) {
            rr->ask_idx = i;
            rr->ask_inflight = true;
            rr->ask_wanted = false;
            return;
        }
    }
    rroute_kick(rr, RROUTE_ASK_RETRY_MS);     /* none takes commands yet */
}

/* "+switch-master" messages: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
static void rroute_sub_cb(redisAsyncContext *ac, void *r, void *priv)
{
    struct rroute *rr = priv;
    const redisReply *reply = r;
    (void)ac;
    if (reply == NULL || rr->stopped || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING) {
        return;
    }
    char name[300], oh[RTOPO_HOST_MAX], nh[RTOPO_HOST_MAX];
    int op, np;
    if (sscanf(reply->element[2]->str, "%299s %255s %d %255s %d", name, oh, &op, nh, &np) == 5 &&
        strcmp(name, rr->master_name) == 0 && np > 0 && np < 65536) {
        log_info("redis", "sentinel: +switch-master %s", reply->element[2]->str);
        rroute_adopt(rr, nh, np);
    }
}

/* ---- deferred work ---- */

static void rroute_soon_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rroute *rr = arg;
    (void)fd;
    (void)what;
    if (rr->stopped) {
        return;
    }
    if (rr->retired) {
        rlink_free(rr->retired);    /* its pending callbacks get NULL replies */
        rr->retired = NULL;
    }
    if (rr->mode == REDIS_MODE_SENTINEL) {
        if (rr->sub_rotate) {
            rr->sub_rotate = false;
            rr->sub_need = false;
            rlink_free(rr->sub);
            rr->sub = NULL;
            rr->sub_idx = (rr->sub_idx + 1) % rr->nsent;
            rr->sub = rroute_link_new(rr, rr->sent_addr[rr->sub_idx].host, rr->sent_addr[rr->sub_idx].port,
                                      true, false);
        }
        if (rr->sub_need && rr->sub && rlink_ready(rr->sub)) {
            /* a NUL-terminated literal: hiredis 0.14 scans a (P)SUBSCRIBE's
             * arguments with strchr, past the end of an unterminated buffer */
            static const char sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n";
            if (rlink_command_formatted(rr->sub, rroute_sub_cb, rr, sub, sizeof(sub) - 1) == FEATD_OK) {
                rr->sub_need = false;
                rr->ask_wanted = true;   /* anything missed before the subscription */
            }
        }
        if (rr->ask_wanted) {
            rroute_ask(rr);
        }
        return;
    }
    if (rr->mode == REDIS_MODE_CLUSTER && rr->refresh_wanted && !rr->refresh_inflight) {
        int64_t wait_us = rr->last_refresh_us + RROUTE_REFRESH_MIN_MS * 1000 - util_mono_us();
        if (wait_us > 0) {
            rroute_kick(rr, (int)(wait_us / 1000) + 1);
        } else {
            rroute_refresh(rr);
        }
    }
}

/* Runs the deferred work in ms (0: after this loop iteration's callbacks),
 * unless it is already due. */
static void rroute_kick(struct rroute *rr, int ms)
{
    if (rr->stopped || evtimer_pending(rr->soon, NULL)) {
        return;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(rr->soon, &tv);
}

static void rroute_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rroute *rr = arg;
    (void)fd;
    (void)what;
    rr->refresh_wanted = rr->mode == REDIS_MODE_CLUSTER;
    rr->ask_wanted = rr->mode == REDIS_MODE_SENTINEL;
    rroute_gauge(rr);
    rroute_kick(rr, 0);
}

/* ---- lifecycle ---- */

struct rroute *rroute_new(struct event_base *base, const struct cfg_redis *rc,
                          const char *unix_override, struct metrics *m)
{
    struct rroute *rr = calloc(1, sizeof(*rr));
    if (rr == NULL) {
        return NULL;
    }
    rr->base = base;
    rr->m = m;
    rr->mode = rc->mode;
    rr->db = rc->db;
    rr->rfr = rc->read_from_replicas;
    rr->username = rc->username ? util_xstrdup(rc->username) : NULL;
    rr->password = rc->password ? util_xstrdup(rc->password) : NULL;
    rr->tick = event_new(base, -1, EV_PERSIST, rroute_tick_cb, rr);
    rr->soon = evtimer_new(base, rroute_soon_cb, rr);
    rr->retry_ev = evtimer_new(base, rroute_retry_cb, rr);
    if (rr->tick == NULL || rr->soon == NULL || rr->retry_ev == NULL) {
        rroute_free(rr);
        return NULL;
    }
    if (rr->mode == REDIS_MODE_CLUSTER) {
        rr->nodes = calloc(RTOPO_MAX_NODES, sizeof(*rr->nodes));
        rr->topo = calloc(1, sizeof(*rr->topo));
        rr->spare = calloc(1, sizeof(*rr->spare));
        if (!rr->nodes || !rr->topo || !rr->spare) {
            rroute_free(rr);
            return NULL;
        }
        size_t o = (size_t)snprintf(rr->endpoint, sizeof(rr->endpoint), "cluster (seeds");
        for (size_t i = 0; i < rc->cluster_nodes.n && i < RTOPO_MAX_NODES; i++) {
            const struct cfg_addr *a = &rc->cluster_nodes.v[i];
            int ni = rroute_node_get(rr, a->host, a->port, true);
            if (ni >= 0) {
                rr->nodes[ni].seed = true;
            }
            if (o < sizeof(rr->endpoint)) {
                o += (size_t)snprintf(rr->endpoint + o, sizeof(rr->endpoint) - o, "%s %s:%d", i ? "," : "",
                                      a->host, a->port);
            }
        }
        if (o < sizeof(rr->endpoint)) {
            snprintf(rr->endpoint + o, sizeof(rr->endpoint) - o, ")");
        }
        snprintf(rr->status, sizeof(rr->status), "redis cluster: slot map not known yet (asking the seeds)");
        rr->refresh_wanted = true;
        rroute_refresh(rr);     /* queued on a seed link while it connects */
    } else if (rr->mode == REDIS_MODE_SENTINEL) {
        rr->master_name = util_xstrdup(rc->sentinel.master_name);
        rr->sent_password = rc->sentinel.password ? util_xstrdup(rc->sentinel.password) : NULL;
        for (size_t i = 0; i < rc->sentinel.nodes.n && i < RROUTE_MAX_SENTINELS; i++) {
            rr->sent_addr[i].host = util_xstrdup(rc->sentinel.nodes.v[i].host);
            rr->sent_addr[i].port = rc->sentinel.nodes.v[i].port;
            rr->sent[i] = rroute_link_new(rr, rr->sent_addr[i].host, rr->sent_addr[i].port, true, true);
            if (rr->sent[i] == NULL) {
                rroute_free(rr);
                return NULL;
            }
            rr->nsent++;
        }
        if (rr->nsent == 0) {
            rroute_free(rr);
            return NULL;
        }
        snprintf(rr->endpoint, sizeof(rr->endpoint), "sentinel %s (master not known yet)", rr->master_name);
        snprintf(rr->status, sizeof(rr->status), "sentinel: master \"%s\" not known yet", rr->master_name);
        rr->sub = rroute_link_new(rr, rr->sent_addr[0].host, rr->sent_addr[0].port, true, false);
        rroute_ask(rr);
    } else {
        struct rlink_opts o = {
            .host = rc->host, .port = rc->port, .username = rc->username, .password = rc->password,
            .db = rc->db, .on_state = rroute_link_state, .state_arg = rr,
        };
        if (unix_override || rc->unix_path) {
            o.host = NULL;
            o.unix_path = unix_override ? unix_override : rc->unix_path;
        }
        rr->one = rlink_new_opts(base, &o, m);
        if (rr->one == NULL) {
            rroute_free(rr);
            return NULL;
        }
        snprintf(rr->endpoint, sizeof(rr->endpoint), "%s", rlink_endpoint(rr->one));
    }
    struct timeval tv = { RROUTE_REFRESH_MS / 1000, (RROUTE_REFRESH_MS % 1000) * 1000 };
    if (rr->mode == REDIS_MODE_CLUSTER || rr->mode == REDIS_MODE_SENTINEL) {
        event_add(rr->tick, &tv);
    }
    rroute_gauge(rr);
    return rr;
}

void rroute_shutdown(struct rroute *rr)
{
    if (rr == NULL || rr->stopped) {
        return;
    }
    rr->stopped = true;
    if (rr->tick) {
        event_del(rr->tick);
    }
    if (rr->soon) {
        event_del(rr->soon);
    }
    if (rr->retry_ev) {
        event_del(rr->retry_ev);
    }
    struct rroute_cmd *c = rr->retry_head;
    rr->retry_head = rr->retry_tail = NULL;
    while (c) {
        struct rroute_cmd *next = c->next;
        snprintf(rr->err, sizeof(rr->err), "slot %u: featd is stopping", c->slot);
        rroute_deliver(c, NULL, NULL);
        c = next;
    }
    rlink_shutdown(rr->one);
    rlink_shutdown(rr->retired);
    rlink_shutdown(rr->sub);
    for (size_t i = 0; i < rr->nsent; i++) {
        rlink_shutdown(rr->sent[i]);
    }
    if (rr->nodes) {
        for (int i = 0; i < RTOPO_MAX_NODES; i++) {
            rlink_shutdown(rr->nodes[i].link);
        }
    }
    METRICS_SET(rr->m->redis_connected, 0);
}

void rroute_free(struct rroute *rr)
{
    if (rr == NULL) {
        return;
    }
    rroute_shutdown(rr);
    rlink_free(rr->one);
    rlink_free(rr->retired);
    rlink_free(rr->sub);
    for (size_t i = 0; i < rr->nsent; i++) {
        rlink_free(rr->sent[i]);
        free(rr->sent_addr[i].host);
    }
    if (rr->nodes) {
        for (int i = 0; i < RTOPO_MAX_NODES; i++) {
            rlink_free(rr->nodes[i].link);
        }
    }
    if (rr->tick) {
        event_free(rr->tick);
    }
    if (rr->soon) {
        event_free(rr->soon);
    }
    if (rr->retry_ev) {
        event_free(rr->retry_ev);
    }
    free(rr->nodes);
    free(rr->topo);
    free(rr->spare);
    free(rr->master_name);
    free(rr->sent_password);
    free(rr->username);
    free(rr->password);
    fbuf_free(&rr->fmt);
    free(rr);
}

/* ---- commands ---- */

bool rroute_is_cluster(const struct rroute *rr)
{
    return rr->mode == REDIS_MODE_CLUSTER;
}

unsigned rroute_slot(const struct rroute *rr, const char *key, size_t len)
{
    return rr->mode == REDIS_MODE_CLUSTER ? rslot_of_key(key, len) : 0;
}

/* rroute_command_formatted and rroute_write_formatted. */
static int rroute_submit(struct rroute *rr, unsigned slot, bool master, redisCallbackFn *cb, void *priv,
                         const char *cmd, size_t len)
{
    if (rr->mode != REDIS_MODE_CLUSTER) {
        if (rr->one == NULL) {
            snprintf(rr->err, sizeof(rr->err), "%s", rr->status);
            return FEATD_EAGAIN;
        }
        return rlink_command_formatted(rr->one, cb, priv, cmd, len);    /* the fast path */
    }
    if (rr->stopped) {
        snprintf(rr->err, sizeof(rr->err), "featd is stopping");
        return FEATD_EAGAIN;
    }
    struct rroute_cmd *c = malloc(sizeof(*c) + len);
    if (c == NULL) {
        snprintf(rr->err, sizeof(rr->err), "out of memory");
        return FEATD_EAGAIN;
    }
    *c = (struct rroute_cmd){ .rr = rr, .cb = cb, .priv = priv, .slot = slot, .to_node = -1, .len = len,
                              .master = master };
    memcpy(c->cmd, cmd, len);
    if (rroute_send(rr, c) != FEATD_OK) {
        free(c);
        return FEATD_EAGAIN;
    }
    return FEATD_OK;
}

int rroute_command_formatted(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv,
                             const char *cmd, size_t len)
{
    return rroute_submit(rr, slot, false, cb, priv, cmd, len);
}

int rroute_write_formatted(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv,
                           const char *cmd, size_t len)
{
    return rroute_submit(rr, slot, true, cb, priv, cmd, len);
}

int rroute_command_argv(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv, int argc,
                        const char **argv, const size_t *argvlen)
{
    if (rcmd_format_argv(&rr->fmt, argc, argv, argvlen) != FEATD_OK) {
        snprintf(rr->err, sizeof(rr->err), "out of memory");
        return FEATD_EAGAIN;
    }
    int rc = rroute_command_formatted(rr, slot, cb, priv, rr->fmt.data, rr->fmt.len);
    if (rr->fmt.cap > (1u << 20)) {
        fbuf_free(&rr->fmt);
    }
    return rc;
}

const char *rroute_error(const struct rroute *rr)
{
    if (rr->mode != REDIS_MODE_CLUSTER && rr->one) {
        return rlink_status(rr->one);
    }
    return rr->err[0] ? rr->err : rroute_status(rr);
}

/* ---- state ---- */

static struct rlink *rroute_master_link(const struct rroute *rr, size_t i)
{
    if (rr->mode != REDIS_MODE_CLUSTER) {
        return i == 0 ? rr->one : NULL;
    }
    if (i >= rr->nmasters || rr->tnode[rr->masters[i]] < 0) {
        return NULL;
    }
    return rr->nodes[rr->tnode[rr->masters[i]]].link;
}

bool rroute_ready(const struct rroute *rr)
{
    size_t n = rroute_nmasters(rr);
    for (size_t i = 0; i < n; i++) {
        struct rlink *l = rroute_master_link(rr, i);
        if (l == NULL || !rlink_ready(l)) {
            return false;
        }
    }
    return n > 0;
}

const char *rroute_status(const struct rroute *rr)
{
    size_t n = rroute_nmasters(rr);
    if (n == 0) {
        return rr->status[0] ? rr->status : "redis: no master known";
    }
    for (size_t i = 0; i < n; i++) {
        struct rlink *l = rroute_master_link(rr, i);
        if (l == NULL) {
            return "redis cluster: a master has no link (node limit)";
        }
        if (!rlink_ready(l)) {
            return rlink_status(l);
        }
    }
    return "redis connection is up";
}

const char *rroute_mode(const struct rroute *rr)
{
    return config_redis_mode_name(rr->mode);
}

const char *rroute_endpoint(const struct rroute *rr)
{
    return rr->endpoint;
}

size_t rroute_nodes(const struct rroute *rr)
{
    if (rr->mode == REDIS_MODE_CLUSTER) {
        return rr->map_known ? rr->topo->nnodes : 0;
    }
    return rr->one ? 1 : 0;
}

size_t rroute_nmasters(const struct rroute *rr)
{
    if (rr->mode == REDIS_MODE_CLUSTER) {
        return rr->map_known ? rr->nmasters : 0;
    }
    return rr->one ? 1 : 0;
}

const char *rroute_master_endpoint(const struct rroute *rr, size_t i)
{
    struct rlink *l = rroute_master_link(rr, i);
    return l ? rlink_endpoint(l) : "?";
}

bool rroute_master_up(const struct rroute *rr, size_t i)
{
    struct rlink *l = rroute_master_link(rr, i);
    return l != NULL && rlink_ready(l);
}

int rroute_command_master(struct rroute *rr, size_t i, redisCallbackFn *cb, void *priv, int argc,
                          const char **argv, const size_t *argvlen)
{
    struct rlink *l = rroute_master_link(rr, i);
    if (l == NULL) {
        snprintf(rr->err, sizeof(rr->err), "no master %zu", i);
        return FEATD_EAGAIN;
    }
    return rlink_command_argv(l, cb, priv, argc, argv, argvlen);
}

int rroute_reset_stalled(struct rroute *rr, int64_t limit_us)
{
    int n = 0;
    char why[96];
    struct rlink *single[2] = { rr->one, rr->retired };
    for (int i = 0; i < 2; i++) {
        int64_t s = single[i] ? rlink_stalled_us(single[i]) : 0;
        if (s > limit_us) {
            snprintf(why, sizeof(why), "no reply for %" PRId64 " ms", s / 1000);
            rlink_reset(single[i], why);
            n++;
        }
    }
    for (int i = 0; rr->nodes && i < RTOPO_MAX_NODES; i++) {
        struct rlink *l = rr->nodes[i].link;
        int64_t s = l ? rlink_stalled_us(l) : 0;
        if (s > limit_us) {
            snprintf(why, sizeof(why), "no reply for %" PRId64 " ms", s / 1000);
            rlink_reset(l, why);
            n++;
        }
    }
    return n;
}
