/*
 * rblock.h — blocking ("sync") hiredis connections to the online tier for
 * the users that may block: the materializer thread and featd-cli load.
 * Workers never use this; they have their async connections (rlink).
 *
 * The endpoint comes from the config's redis section:
 *   - redis.embedded      the private redis-server of the daemon, reached on
 *                         the unix socket rblock_embedded_socket_path():
 *                         "<realpath(server.data_dir)>/redis.sock"
 *                         (server.data_dir as given when it does not exist yet)
 *   - redis.unix_path     a unix socket
 *   - redis.host/port     TCP (a name, IPv4 or IPv6 literal)
 * then AUTH redis.password when set, SELECT redis.db when not 0, and a PING
 * that proves the connection usable.
 * redis.timeout_ms bounds the connect and, via redisSetTimeout, every
 * command's socket reads and writes.
 */
#ifndef FEATD_RBLOCK_H
#define FEATD_RBLOCK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config/config.h"

/*
 * Connects, authenticates and selects the database. Returns a context ready
 * for commands (the caller frees it with redisFree), or NULL with a message
 * that names the endpoint in err, e.g.
 *   "redis 127.0.0.1:6379: connect: Connection refused"
 *   "redis unix:/data/redis.sock: AUTH failed: WRONGPASS invalid username-password pair"
 */
redisContext *rblock_connect(const struct featd_config *cfg, char *err, size_t errlen);

/* The embedded redis-server's socket path into buf. FEATD_ERR (with buf
 * holding a reason) when it does not fit buf or a unix socket address. */
int rblock_embedded_socket_path(const struct featd_config *cfg, char *buf,
                               size_t cap) FEATD_MUSTCHECK;

/* A printable endpoint for messages: "host:port", "[v6]:port", "unix:/path"
 * (embedded: "unix:/path (embedded)"). */
void rblock_endpoint(const struct featd_config *cfg, char *buf, size_t cap);

#endif
