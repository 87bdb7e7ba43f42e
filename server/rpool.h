/*
 * rpool.h — a worker's asynchronous link to Redis: one hiredis async context
 * attached to the worker's event_base with the libevent adapter, AUTH and
 * SELECT on connect, reconnect with exponential backoff, and a cap on
 * commands in flight. Only the owning worker thread touches it.
 */
#ifndef FEATD_RPOOL_H
#define FEATD_RPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "config.h"
#include "featd.h"
#include "metrics.h"

struct rpool;

/* Endpoint and auth come from rc (copied; redis settings are not reloadable).
 * unix_override, when not NULL, replaces the endpoint (embedded Redis).
 * Starts connecting at once; never blocks. */
struct rpool *rpool_new(struct event_base *base, const struct cfg_redis *rc,
                        const char *unix_override, struct metrics *m);
void rpool_free(struct rpool *rp);

bool rpool_ready(const struct rpool *rp);
/* A short text for errors: "redis 127.0.0.1:6379 is unreachable (Connection refused)". */
const char *rpool_status(const struct rpool *rp);
const char *rpool_endpoint(const struct rpool *rp);

/*
 * Sends one command. On FEATD_OK, cb(ac, reply, priv) runs exactly once on
 * this worker's loop: with the reply, or with reply NULL when the link fails
 * (the caller must keep priv alive until then). FEATD_EAGAIN when the link is
 * down (cb will not run).
 */
int rpool_command_argv(struct rpool *rp, redisCallbackFn *cb, void *priv, int argc,
                       const char **argv, const size_t *argvlen) FEATD_MUSTCHECK;

/* µs since Redis last made progress while commands are pending (0 when
 * nothing is pending): hiredis 0.14 has no command timeout, so a stopped or
 * half-open Redis would otherwise hold commands forever. */
int64_t rpool_stalled_us(const struct rpool *rp);
/* Drops the link (pending callbacks get NULL replies) and reconnects with
 * backoff. Must not be called from inside a hiredis callback. */
void rpool_reset(struct rpool *rp, const char *why);

/* Disconnects (pending callbacks get NULL) and stops reconnecting. */
void rpool_shutdown(struct rpool *rp);

#endif
