/*
 * rroute.h — a serving thread's (worker's or admin thread's) asynchronous
 * route to Redis, whatever the deployment: a single node (redis.url,
 * embedded), a Redis Cluster (redis.cluster_nodes) or the master a Sentinel
 * group names (redis.sentinel). Callers address a command by its key's slot
 * (rroute_slot); the router picks the link. Never blocks.
 *
 * Single node and Sentinel: one data link owns every slot; a command goes
 * straight to rlink (no copy, no allocation: the benchmarked fast path).
 * Sentinel: the master comes from "SENTINEL get-master-addr-by-name" asked
 * of the sentinels in turn, followed by a "+switch-master" subscription on
 * one sentinel link, re-asked on any data-link loss and every
 * RROUTE_REFRESH_MS.
 *
 * Cluster: the slot map (redis/rtopo.h) comes from CLUSTER SLOTS on any
 * link that is up, refreshed every RROUTE_REFRESH_MS (every
 * RROUTE_DEGRADED_REFRESH_MS while a master's link is down), on a link loss
 * and on MOVED (at most one refresh in flight, at most one per
 * RROUTE_REFRESH_MIN_MS). One rlink per node (created when the map names
 * it, or a redirect does; at most RTOPO_MAX_NODES, counted when hit). A
 * command is copied once so that it can be resent: MOVED → to the node
 * named (and the map refreshed), ASK → "ASKING" + the command on the node
 * named, TRYAGAIN/LOADING → again after RROUTE_RETRY_MS, at most
 * RROUTE_MAX_TRIES sends in all. CLUSTERDOWN, a slot without owner or an
 * owner that is unreachable fail the command: the callback gets a NULL
 * reply and rroute_error() names the slot and the node. With
 * read_from_replicas, reads go round robin to the slot's replicas (their
 * links send READONLY), to the master when no replica link is up.
 *
 * Commands sent in one loop iteration leave in one write per node (rlink
 * flushes once per iteration). Owning thread only, like every rlink.
 */
#ifndef FEATD_RROUTE_H
#define FEATD_RROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "config/config.h"
#include "core/featd.h"
#include "core/metrics.h"

#define RROUTE_REFRESH_MS 10000     /* periodic slot map / sentinel refresh */
#define RROUTE_REFRESH_MIN_MS 200   /* at most one refresh per this */
#define RROUTE_DEGRADED_REFRESH_MS 500  /* refresh while a master's link is down */
#define RROUTE_RETRY_MS 20          /* TRYAGAIN / LOADING: resend after this */
#define RROUTE_MAX_TRIES 6          /* sends of one command (redirects + retries) */

struct rroute;

/* Builds the route for rc's mode (strings copied; redis settings are not
 * reloadable). unix_override (embedded Redis) replaces a single node's
 * endpoint. Starts connecting (and discovering) at once. The router keeps
 * m->redis_connected (1 when every master's link is up), m->redis_nodes and
 * the redirect / refresh counters. NULL when out of memory. */
struct rroute *rroute_new(struct event_base *base, const struct cfg_redis *rc,
                          const char *unix_override, struct metrics *m);
/* Drops every link (pending callbacks get NULL replies, resends waiting on
 * their timer too) and stops reconnecting. */
void rroute_shutdown(struct rroute *rr);
void rroute_free(struct rroute *rr);

/* True on a cluster (commands are routed by slot; one slot per command). */
bool rroute_is_cluster(const struct rroute *rr);
/* The slot of key[0..len) on a cluster; 0 otherwise (no hashing). */
unsigned rroute_slot(const struct rroute *rr, const char *key, size_t len);

/*
 * Sends one command (RESP in cmd[0..len), every key in slot). On FEATD_OK,
 * cb(ac, reply, priv) runs exactly once on this thread: with the reply, or
 * with NULL when the command failed (rroute_error() tells why, read it in
 * the callback). FEATD_EAGAIN when it cannot be sent now (cb will not run;
 * rroute_error() tells why). Redirects are followed inside (see above).
 */
int rroute_command_formatted(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv,
                             const char *cmd, size_t len) FEATD_MUSTCHECK;
/* The same for a write: always sent to the slot's master, also with
 * redis.read_from_replicas (a replica would refuse it). */
int rroute_write_formatted(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv,
                           const char *cmd, size_t len) FEATD_MUSTCHECK;
/* The same from an argument vector. */
int rroute_command_argv(struct rroute *rr, unsigned slot, redisCallbackFn *cb, void *priv, int argc,
                        const char **argv, const size_t *argvlen) FEATD_MUSTCHECK;

/* Why the last command failed (valid until the next rroute call): e.g.
 * "slot 5798 (node 127.0.0.1:7001): redis 127.0.0.1:7001 connection lost (closed)". */
const char *rroute_error(const struct rroute *rr);

/* True when the map (cluster) or master (Sentinel) is known and every
 * master's link is up. */
bool rroute_ready(const struct rroute *rr);
/* When not ready, why: names the first master whose link is down, or the
 * missing map / master. */
const char *rroute_status(const struct rroute *rr);

/* "embedded", "single", "cluster" or "sentinel". */
const char *rroute_mode(const struct rroute *rr);
/* A short description for logs and ServerInfo.redis: the node
 * ("127.0.0.1:6379"), "cluster (seeds 127.0.0.1:7000, ...)", or
 * "sentinel featd at 127.0.0.1:6380". */
const char *rroute_endpoint(const struct rroute *rr);
/* Nodes of the current map (masters + replicas; 1 for a single node). */
size_t rroute_nodes(const struct rroute *rr);
/* The masters of the current map: how many, and master i's endpoint and
 * whether its link is up. */
size_t rroute_nmasters(const struct rroute *rr);
const char *rroute_master_endpoint(const struct rroute *rr, size_t i);
bool rroute_master_up(const struct rroute *rr, size_t i);
/* Sends a command to master i itself (INFO for /readyz), like
 * rroute_command_argv but without redirects. */
int rroute_command_master(struct rroute *rr, size_t i, redisCallbackFn *cb, void *priv, int argc,
                          const char **argv, const size_t *argvlen) FEATD_MUSTCHECK;

/* Resets (reconnects) every link whose pending commands saw no progress
 * for more than limit_us (hiredis 0.14 has no command timeout). Not from
 * inside a hiredis callback. Returns the number reset. */
int rroute_reset_stalled(struct rroute *rr, int64_t limit_us);

#endif
