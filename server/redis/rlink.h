/*
 * rlink.h — a worker's asynchronous link to Redis: one hiredis async context
 * attached to the worker's event_base with the libevent adapter, AUTH and
 * SELECT on connect, reconnect with exponential backoff, and a cap on
 * commands in flight. Only the owning worker thread touches it.
 */
#ifndef FEATD_RLINK_H
#define FEATD_RLINK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "config/config.h"
#include "core/featd.h"
#include "core/metrics.h"

struct rlink;

/* Called on the owning thread when the link comes up (up true: connected;
 * AUTH/SELECT/READONLY queued) or goes down (a failed connect, a lost or
 * reset link). It runs inside hiredis's callbacks: it must not free or
 * reset the link (defer that to an event). */
typedef void (*rlink_state_fn)(void *arg, struct rlink *rp, bool up);

/* One endpoint (for the router, server/redis/rroute.h). Strings are copied. */
struct rlink_opts {
    const char *host;           /* NULL: unix_path */
    int port;
    const char *unix_path;
    const char *username;       /* ACL user, NULL = AUTH password only */
    const char *password;       /* NULL = no AUTH */
    int db;                     /* SELECT when != 0 */
    bool readonly;              /* READONLY on connect (cluster replica reads) */
    bool queue_early;           /* accept commands while connecting: they leave
                                   once connected (NULL replies if it fails) */
    bool own_gauge;             /* this link alone sets m->redis_connected */
    rlink_state_fn on_state;    /* NULL: none */
    void *state_arg;
};

/* Endpoint and auth come from rc (copied; redis settings are not reloadable).
 * unix_override, when not NULL, replaces the endpoint (embedded Redis).
 * Starts connecting at once; never blocks. Sets m->redis_connected. */
struct rlink *rlink_new(struct event_base *base, const struct cfg_redis *rc,
                        const char *unix_override, struct metrics *m);
/* The same for an explicit endpoint and options. */
struct rlink *rlink_new_opts(struct event_base *base, const struct rlink_opts *o,
                             struct metrics *m);
void rlink_free(struct rlink *rp);

/* True while the link is connected and authenticated (commands are sent
 * now); false while connecting or backing off (rlink_command_argv answers
 * FEATD_EAGAIN). Owning worker thread only, like every rlink call. */
bool rlink_ready(const struct rlink *rp);
/* A short text for errors: "redis 127.0.0.1:6379 is unreachable (Connection refused)". */
const char *rlink_status(const struct rlink *rp);
const char *rlink_endpoint(const struct rlink *rp);
/* True when a command sent now is accepted: the link is up, or connecting
 * with queue_early. */
bool rlink_accepting(const struct rlink *rp);

/*
 * Sends one command. On FEATD_OK, cb(ac, reply, priv) runs exactly once on
 * this worker's loop: with the reply, or with reply NULL when the link fails
 * (the caller must keep priv alive until then). FEATD_EAGAIN when the link is
 * down (cb will not run).
 */
int rlink_command_argv(struct rlink *rp, redisCallbackFn *cb, void *priv, int argc,
                       const char **argv, const size_t *argvlen) FEATD_MUSTCHECK;
/* The same for a command already in RESP (cmd[0..len), one command; hiredis
 * copies it). Several sent in one loop iteration go out in one write. */
int rlink_command_formatted(struct rlink *rp, redisCallbackFn *cb, void *priv, const char *cmd,
                            size_t len) FEATD_MUSTCHECK;

/* µs since Redis last made progress while commands are pending (0 when
 * nothing is pending): hiredis 0.14 has no command timeout, so a stopped or
 * half-open Redis would otherwise hold commands forever. */
int64_t rlink_stalled_us(const struct rlink *rp);
/* Drops the link (pending callbacks get NULL replies) and reconnects with
 * backoff. Must not be called from inside a hiredis callback. */
void rlink_reset(struct rlink *rp, const char *why);

/* Disconnects (pending callbacks get NULL) and stops reconnecting. */
void rlink_shutdown(struct rlink *rp);

#endif
