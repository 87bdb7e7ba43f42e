/*
 * online_check.h — what the online layout needs of the Redis server:
 * Redis >= 7.0 (PEXPIREAT ... NX|GT and PEXPIRETIME, which the writers use
 * to give an entity's hash the longest expiry of its rows), and a
 * hash-max-listpack-value that holds the views' rows, without which Redis
 * keeps entity hashes in its larger hashtable encoding (docs/online-layout.md).
 */
#ifndef FEATD_ONLINE_CHECK_H
#define FEATD_ONLINE_CHECK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config/config.h"
#include "core/featd.h"

/*
 * Blocking, on a caller-owned connected context (the materializer thread,
 * featd-cli). FEATD_ERR with the reason in err when the server is too old
 * or cannot be asked (INFO server); the listpack limit is only advised: a
 * view whose smallest row exceeds it gets one warning log line (CONFIG GET
 * refused, as on managed Redis services, is not an error).
 */
int online_check_server(redisContext *c, const struct featd_config *cfg, char *err,
                        size_t errlen) FEATD_MUSTCHECK;

/*
 * Reads Redis's eviction state (INFO memory stats) into *out and the
 * process-wide record (redis/rhealth.h). Blocking, like the above.
 * FEATD_ERR with the reason in err when INFO fails.
 */
struct rhealth_sample;
int online_check_eviction(redisContext *c, struct rhealth_sample *out, char *err,
                          size_t errlen) FEATD_MUSTCHECK;

/*
 * The same on every master of a deployment (redis/rbcluster; one node is
 * the single master): the server check passes only when every master
 * passes (the listpack advice is logged per master that needs it); the
 * eviction reading notes each master (rhealth_note_node; the single node
 * as rhealth_note) and returns their sum of evicted_keys and the first
 * evicting policy found (keys evicted on any master count).
 */
struct rbcluster;
int online_check_server_rb(struct rbcluster *rc, const struct featd_config *cfg, char *err,
                           size_t errlen) FEATD_MUSTCHECK;
int online_check_eviction_rb(struct rbcluster *rc, struct rhealth_sample *out, char *err,
                             size_t errlen) FEATD_MUSTCHECK;

#endif
