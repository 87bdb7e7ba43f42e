/*
 * rbcluster.h — the blocking client of a Redis deployment as one API for a
 * single node (redis.url, embedded, the Sentinel master) and for a Redis
 * Cluster: the users that may block (the materializer thread, featd-cli
 * load/status) route every key by it.
 *
 * A cluster client discovers the slot map with CLUSTER SLOTS from the first
 * seed (or known node) that answers (redis/rtopo), keeps one blocking
 * hiredis context per node it talks to, connected lazily (AUTH
 * [user] password, a PING), and sends each command to the master owning
 * its key's slot (redis/rslot). A single-node client is the degenerate map:
 * every key goes to its one node.
 *
 * Pipelines (rbcluster_append + rbcluster_exec): commands are queued with
 * their routing key, then written as one pipeline per node — every node's
 * batch written before any reply is read — and the replies returned in the
 * caller's order. Per command, transparently:
 *   MOVED  -> the slot map is refreshed (once per round) and the command
 *             resent to the node the redirect names;
 *   ASK    -> ASKING + the command on the node the redirect names;
 *   TRYAGAIN / LOADING -> resent after a short sleep, at most
 *             RBCLUSTER_MAX_RETRIES times (then the error reply is returned);
 * at most RBCLUSTER_MAX_REDIRECTS redirects per command. Any other error
 * reply (WRONGTYPE, ...) is returned as the command's reply. A connection
 * failure fails the whole exec (the commands are dropped: the caller
 * decides whether to rbcluster_refresh and resend, e.g. after a failover).
 *
 * Error wording: redis/rblock ("redis EP: WHAT: reason"); cluster-level
 * failures read "redis cluster: ...".
 *
 * Threads: one owner thread per client (the materializer thread,
 * featd-cli); never shared. The client owns its contexts: a context
 * returned by rbcluster_ctx_* stays valid until the next rbcluster_* call
 * that may reconnect (refresh, exec, ctx_*, free) — do not redisFree it.
 */
#ifndef FEATD_RBCLUSTER_H
#define FEATD_RBCLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "core/featd.h"
#include "redis/rtopo.h"

#define RBCLUSTER_MAX_SEEDS 64
#define RBCLUSTER_MAX_LINKS RTOPO_MAX_NODES   /* open node contexts */
#define RBCLUSTER_MAX_REDIRECTS 8             /* per command per exec */
#define RBCLUSTER_MAX_RETRIES 10              /* TRYAGAIN/LOADING per command per exec */
#define RBCLUSTER_MAX_PIPELINE 4000000u       /* queued commands per exec */

/* A node address: host (name, IPv4 or IPv6 literal) and port, or a unix
 * socket path as host with port 0. */
struct rbcluster_addr {
    const char *host;
    int port;
};

struct rbcluster_opts {
    const struct rbcluster_addr *seeds;  /* cluster: seed nodes; single: seeds[0] */
    size_t nseeds;
    const char *username;   /* NULL: "AUTH password" (or none); else "AUTH user password" */
    const char *password;   /* NULL or "": no AUTH */
    int db;                 /* single node only: SELECT db when not 0 */
    int timeout_ms;         /* connect and per-command socket timeout; <= 0: none */
};

/* Counters since rbcluster_new_*; a bound hit is any RBCLUSTER_MAX_* reached. */
struct rbcluster_stats {
    uint64_t moved;          /* MOVED redirects followed */
    uint64_t ask;            /* ASK redirects followed */
    uint64_t retries;        /* TRYAGAIN/LOADING resends */
    uint64_t refreshes;      /* slot maps fetched (discovery included) */
    uint64_t refresh_failures;   /* refreshes that found no node to answer */
    uint64_t connects;       /* node contexts opened */
    uint64_t bound_hits;
};

struct rbcluster;

/*
 * A cluster client: copies the options, asks the seeds in turn for CLUSTER
 * SLOTS and keeps the first good map. NULL with err naming every seed tried
 * and why, e.g. "redis cluster: no seed gave a slot map: 10.0.0.1:7000:
 * connect: Connection refused; 10.0.0.2:7000: CLUSTER SLOTS failed: ERR This
 * instance has cluster support disabled".
 */
struct rbcluster *rbcluster_new_cluster(const struct rbcluster_opts *o, char *err,
                                        size_t errlen);
/* A single-node client for o->seeds[0] (connects now, so a bad endpoint or
 * password fails here). NULL with err. */
struct rbcluster *rbcluster_new_single(const struct rbcluster_opts *o, char *err, size_t errlen);
void rbcluster_free(struct rbcluster *c);

bool rbcluster_is_cluster(const struct rbcluster *c);
/* False when an open node context has failed (I/O error, timeout) since it
 * was connected: its node may be gone (a failover), so the owner refreshes
 * the map or rebuilds the client before trusting it (the failed context is
 * replaced on its next use). */
bool rbcluster_healthy(const struct rbcluster *c);
/* The current map (valid until the next refresh). */
const struct rtopo *rbcluster_topo(const struct rbcluster *c);
const struct rbcluster_stats *rbcluster_stats(const struct rbcluster *c);

/*
 * Fetches the slot map again, asking the known masters, then the other
 * known nodes, then the seeds, until one answers with a map owning at least
 * one slot. The old map stays when none does (FEATD_ERR with err). A single
 * node: no-op.
 */
int rbcluster_refresh(struct rbcluster *c, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Sets the per-command socket timeout of every open and future context
 * (bulk writers: RBLOCK_BULK_TIMEOUT_MS, see rblock.h). */
void rbcluster_set_timeout(struct rbcluster *c, int timeout_ms);

/*
 * One blocking connection with plain parameters (also used for sentinels):
 * connect (host:port, or the unix socket host when port is 0) within
 * timeout_ms, the same per-command timeout, AUTH [username] password when a
 * password is given, SELECT db when not 0, PING. NULL with err in the
 * rblock wording ("redis EP: AUTH failed: WRONGPASS ..."). Any thread; the
 * caller owns the context.
 */
redisContext *rbcluster_connect_one(const char *host, int port, const char *username,
                                   const char *password, int db, int timeout_ms, char *err,
                                   size_t errlen);

/* The context of the master owning key's slot (connected on demand), or
 * NULL with err ("redis cluster: slot N has no owner ..." or the connect
 * failure). */
redisContext *rbcluster_ctx_for_key(struct rbcluster *c, const char *key, size_t len, char *err,
                                    size_t errlen);
/* Masters of the current map, for per-node work (SCAN-based reclaim):
 * k in [0, rbcluster_nmasters) -> a connected context, or NULL with err. */
size_t rbcluster_nmasters(const struct rbcluster *c);
redisContext *rbcluster_master_ctx(struct rbcluster *c, size_t k, char *err, size_t errlen);
/* The topology node index of the k-th master (-1 when out of range). */
int rbcluster_master_node(const struct rbcluster *c, size_t k);
/* A connected context to node index i of the current map, or NULL with err. */
redisContext *rbcluster_ctx_for_node(struct rbcluster *c, int i, char *err, size_t errlen);

/*
 * Queues one command (argv is copied, formatted as RESP) routed by
 * key[0..keylen) (for a keyless command pass any key on the node wanted).
 * FEATD_ERR with err when RBCLUSTER_MAX_PIPELINE commands are queued
 * (counted) or out of memory.
 */
int rbcluster_append(struct rbcluster *c, const char *key, size_t keylen, int argc,
                     const char **argv, const size_t *lens, char *err,
                     size_t errlen) FEATD_MUSTCHECK;
/* The same for a command already formatted as RESP (resp[0..len) is
 * copied), routed by its key's slot (rslot_of_key): writers that build
 * their commands once and may resend them. */
int rbcluster_append_resp(struct rbcluster *c, unsigned slot, const char *resp, size_t len,
                          char *err, size_t errlen) FEATD_MUSTCHECK;
/* Commands queued and not yet executed. */
size_t rbcluster_pending(const struct rbcluster *c);
/*
 * Executes the queued commands (see the top of this file) and empties the
 * queue. On FEATD_OK *replies is an array of *n replies in append order
 * (free with rbcluster_replies_free); error replies other than redirects
 * and exhausted retries are among them. FEATD_ERR with err (and *replies
 * NULL, *n 0) on a connection failure, a slot with no owner, or too many
 * redirects; the queue is emptied either way.
 */
int rbcluster_exec(struct rbcluster *c, redisReply ***replies, size_t *n, char *err,
                   size_t errlen) FEATD_MUSTCHECK;
void rbcluster_replies_free(redisReply **replies, size_t n);
/* Drops the queued commands without running them. */
void rbcluster_discard(struct rbcluster *c);

#endif
