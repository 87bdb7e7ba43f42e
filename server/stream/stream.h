/*
 * stream.h — the stream consumer thread (DESIGN §11): every view with a
 * source.stream is read through its consumer group by one thread with its
 * own blocking Redis client (stream_view.h does one view's rounds).
 *
 *   main thread                      stream thread
 *   stream_start ─ pthread ────────► connect (rbconf), round-robin over the
 *   stream_set_registry (SIGHUP) ──►   stream views: a round each; blocks
 *                                      in XREADGROUP only when one view
 *   stream_stop ─ flag ────────────►   streams (else short blocks)
 *   stream_join ◄───────────────────  loop ends within a block + timeout
 *
 * The consumer name is "featd@<hostname>:<serving port>": stable across
 * restarts of one replica (its own pending entries are read again first),
 * different between replicas (each a consumer of the same group). Redis
 * errors (outage, failover, resharding) fail the round, are logged
 * (rate-limited) and recorded as the view's last error; the thread
 * reconnects with a backoff of 0.1 s doubling to 5 s and carries on.
 */
#ifndef FEATD_STREAM_H
#define FEATD_STREAM_H

#include <stddef.h>

#include "core/featd.h"

struct registry;

/* Starts the thread (also when no view has a stream yet: a reload may add
 * one). Main thread. */
int stream_start(struct registry *reg, char *err, size_t errlen) FEATD_MUSTCHECK;
/* The next rounds use reg (main thread, at reload). */
void stream_set_registry(struct registry *reg);
/* Asks the thread to stop (main thread; returns at once). */
void stream_stop(void);
/* Waits for the thread (main thread, after stream_stop). */
void stream_join(void);

#endif
