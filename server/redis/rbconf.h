/*
 * rbconf.h — the blocking Redis client of a config (redis/rbcluster) for
 * every user that may block: the materializer thread, `featd materialize`
 * and featd-cli. One constructor whatever redis.mode says:
 *   embedded   a single-node client on the embedded socket
 *              (rblock_embedded_socket_path)
 *   single     a single-node client on redis.url (TCP or unix, db)
 *   cluster    a cluster client seeded by redis.cluster_nodes
 *   sentinel   rsentinel_discover over redis.sentinel.nodes, then a
 *              single-node client on the master it names
 * with redis.username/password on every data node. A client whose links
 * failed is rebuilt by the caller with rbconf_connect again, which
 * re-discovers (a failover promoted a replica, Sentinel switched master).
 *
 * Threads: the caller's (any thread that may block); the client belongs to
 * it (redis/rbcluster.h).
 */
#ifndef FEATD_RBCONF_H
#define FEATD_RBCONF_H

#include <stddef.h>

#include "config/config.h"
#include "core/featd.h"
#include "redis/rbcluster.h"

/* A connected client for cfg's redis section, connect and command
 * timeout redis.timeout_ms; NULL with err naming the endpoint(s) tried. */
struct rbcluster *rbconf_connect(const struct featd_config *cfg, char *err, size_t errlen);

/* The per-command timeout of bulk writers: max(redis.timeout_ms,
 * RBLOCK_BULK_TIMEOUT_MS) (redis/rblock.h). */
int rbconf_bulk_timeout_ms(const struct featd_config *cfg);

/*
 * The write guard before a run: in Sentinel mode, FEATD_OK when the node
 * c talks to still says ROLE master (rsentinel_check_master), else
 * FEATD_ERR with err (the caller frees c and reconnects). Other modes: a
 * cheap no-op (FEATD_OK).
 */
int rbconf_check_writable(const struct featd_config *cfg, struct rbcluster *c, char *err,
                          size_t errlen) FEATD_MUSTCHECK;

#endif
