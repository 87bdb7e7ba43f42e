/*
 * rsentinel.h — blocking master discovery through Redis Sentinel: ask the
 * sentinels in turn "SENTINEL get-master-addr-by-name NAME" (AUTH with the
 * sentinel password when given), connect to the node named and accept it
 * only when its ROLE says master (a sentinel may still name a demoted node
 * during a failover). Errors name every sentinel tried and what each said.
 *
 * Threads: any thread that may block (the materializer thread, featd-cli,
 * startup); nothing is kept between calls.
 */
#ifndef FEATD_RSENTINEL_H
#define FEATD_RSENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "core/featd.h"
#include "redis/rbcluster.h"

#define RSENTINEL_MAX 32     /* sentinels asked per round */

struct rsentinel_opts {
    const struct rbcluster_addr *sentinels;
    size_t nsentinels;
    const char *master_name;
    const char *sentinel_username;  /* NULL: "AUTH sentinel_password" */
    const char *sentinel_password;  /* NULL or "": sentinels need no AUTH */
    const char *username;           /* the data nodes' AUTH (redis.username/password) */
    const char *password;
    int timeout_ms;                 /* per connect and command; <= 0: none */
    int rounds;                     /* passes over all sentinels; <= 0: 1 */
    int retry_ms;                   /* sleep between rounds */
};

/*
 * Finds the current master: host (cap hostcap) and port. FEATD_OK, or
 * FEATD_ERR with err like
 *   "sentinel: no master \"featd\" found: 127.0.0.1:26379: connect:
 *    Connection refused; 127.0.0.1:26380 named 127.0.0.1:7001, whose ROLE
 *    is slave"
 * When ctx_out is not NULL, the verified connection to the master is
 * handed over (the caller redisFrees it).
 */
int rsentinel_discover(const struct rsentinel_opts *o, char *host, size_t hostcap, int *port,
                       redisContext **ctx_out, char *err, size_t errlen) FEATD_MUSTCHECK;

/*
 * The write guard: FEATD_OK when ROLE on ctx answers "master", else
 * FEATD_ERR with err ("redis EP: ROLE is slave, not master" or the
 * command's failure). Any thread owning ctx.
 */
int rsentinel_check_master(redisContext *ctx, char *err, size_t errlen) FEATD_MUSTCHECK;

#endif
