/*
 * embedded.h — the private redis-server featd runs when redis.url is omitted
 * or "embedded": a child process listening only on the unix socket
 * <data_dir>/redis.sock (no TCP), persisting to <data_dir>/featd-redis.rdb,
 * logging to <data_dir>/redis.log, stopped when featd exits.
 */
#ifndef FEATD_EMBEDDED_H
#define FEATD_EMBEDDED_H

#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

/* Starts it and waits (up to 10 s) until it answers PING. sock gets the
 * socket path. Startup only: FEATD_ERR with a reason on failure. */
int embedded_start(const struct featd_config *cfg, char *sock, size_t cap,
                   char *err, size_t errlen) FEATD_MUSTCHECK;
/* SIGTERM, wait up to 5 s, then SIGKILL. Safe to call when not running. */
void embedded_stop(void);
/* Called by the main loop on SIGCHLD: restarts a child that died (returns 1
 * when it did). */
int embedded_reap(void);

#endif
