/*
 * rblock.h — blocking ("sync") hiredis connections to one Redis node, and
 * the blocking command helpers and error wording of every user that may
 * block (the materializer thread, featd-cli). Those users reach the
 * deployment through redis/rbconf (one node, a cluster or the Sentinel
 * master); rblock_connect is the plain one-node connection (tests, the
 * bench). Workers never use this; they have their async connections (rlink).
 *
 * The endpoint comes from the config's redis section:
 *   - redis.embedded      the private redis-server of the daemon, reached on
 *                         the unix socket rblock_embedded_socket_path():
 *                         "<realpath(server.data_dir)>/redis.sock"
 *                         (server.data_dir as given when it does not exist yet)
 *   - redis.unix_path     a unix socket
 *   - redis.host/port     TCP (a name, IPv4 or IPv6 literal)
 * then AUTH when redis.password is set ("AUTH redis.username password" with
 * an ACL user, else "AUTH password"), SELECT redis.db when not 0, and a PING
 * that proves the connection usable. One node only: a config in cluster or
 * sentinel mode (redis.mode) is refused with a message.
 * redis.timeout_ms bounds the connect and, via redisSetTimeout, every
 * command's socket reads and writes.
 *
 * It also holds the project's one blocking command helper (rblock_command)
 * and its one hiredis error wording (rblock_seterr, rblock_seterr_reply):
 *   "redis EP: WHAT: reason"          the connection failed (I/O, EOF, timeout)
 *   "redis EP: WHAT failed: <reply>"  Redis answered with an error reply
 * EP is the endpoint as rblock_endpoint prints it, WHAT names the command.
 *
 * Threads: any thread that owns the context (the materializer thread,
 * featd-cli); a context is never shared between threads.
 */
#ifndef FEATD_RBLOCK_H
#define FEATD_RBLOCK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"

/*
 * Connects, authenticates and selects the database. Returns a context ready
 * for commands (the caller frees it with redisFree), or NULL with a message
 * that names the endpoint in err, e.g.
 *   "redis 127.0.0.1:6379: connect: Connection refused"
 *   "redis unix:/data/redis.sock: AUTH failed: WRONGPASS invalid username-password pair"
 *   "redis 10.0.0.5:6379: AUTH as user "featd" failed: WRONGPASS invalid ..."
 */
redisContext *rblock_connect(const struct featd_config *cfg, char *err, size_t errlen);

/*
 * Bulk writers (the materializer, featd-cli load) wait for Redis at least
 * RBLOCK_BULK_TIMEOUT_MS per command, whatever redis.timeout_ms says (a
 * lookup budget): a Redis busy with a big pipeline or growing its keyspace
 * pauses for longer than that, and a bulk write must ride it out rather
 * than abandon a half-written generation. Sets c's command timeout to
 * max(cfg_ms, RBLOCK_BULK_TIMEOUT_MS); FEATD_ERR with a message otherwise.
 */
#define RBLOCK_BULK_TIMEOUT_MS 5000
int rblock_bulk_timeout(redisContext *c, int cfg_ms, char *err, size_t errlen) FEATD_MUSTCHECK;

/* The embedded redis-server's socket path into buf (also checked directly
 * by tests/unit/check_client.c). FEATD_ERR (with buf
 * holding a reason) when it does not fit buf or a unix socket address. */
int rblock_embedded_socket_path(const struct featd_config *cfg, char *buf,
                               size_t cap) FEATD_MUSTCHECK;

/* A printable endpoint for messages: "host:port", "[v6]:port", "unix:/path"
 * (embedded: "unix:/path (embedded)"). Used by rblock_connect's messages;
 * exported for tests/unit/check_client.c, which checks the formats. */
void rblock_endpoint(const struct featd_config *cfg, char *buf, size_t cap);

/* The endpoint of a connected context, as rblock_endpoint prints it
 * (without the "(embedded)" mark; "cluster" for NULL: a reply that came
 * through redis/rbcluster's routing). Used by the error wording below;
 * exported for tests/unit/check_rblock.c, which checks the formats. */
void rblock_ctx_endpoint(const redisContext *c, char *buf, size_t cap);

/* err = "redis EP: WHAT: reason" for the failure recorded in c (a timeout
 * reads "no answer within N ms (redis.timeout_ms)"); c may be NULL ("no
 * connection"). */
void rblock_seterr(const redisContext *c, const char *what, char *err, size_t errlen);
/* err = "redis EP: WHAT failed: <text>" for an error reply r (text cut at
 * 400 bytes), or "... unexpected reply type N" for a reply of another type. */
void rblock_seterr_reply(const redisContext *c, const char *what, const redisReply *r,
                         char *err, size_t errlen);

/*
 * Runs one blocking command (hiredis printf-style fmt). Returns the reply,
 * which the caller frees with freeReplyObject, or NULL with err set (by the
 * wording above) when c is NULL, the connection failed or Redis answered
 * with an error reply. Must not be called while pipelined replies are
 * outstanding on c.
 */
redisReply *rblock_command(redisContext *c, char *err, size_t errlen, const char *what,
                           const char *fmt, ...);
/* The same with an argument vector (binary-safe, no formatting). */
redisReply *rblock_command_argv(redisContext *c, char *err, size_t errlen, const char *what,
                                int argc, const char **argv, const size_t *lens);

#endif
