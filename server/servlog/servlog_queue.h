/*
 * servlog_queue.h — the serving log's bounded queue: many producers (the
 * worker threads and the admin thread's lookups), one consumer (the
 * writer thread). Lock-free and never blocking: a slot ring with a sequence
 * number per slot (each producer claims a position with one compare-and-
 * swap; the consumer takes slots in order). A line that finds the ring
 * full, or the queued bytes at their bound, is dropped and counted.
 */
#ifndef FEATD_SERVLOG_QUEUE_H
#define FEATD_SERVLOG_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct servlog_slot {
    _Atomic size_t seq;     /* == pos: free for the producer of pos; == pos + 1: holds pos's line */
    char *line;
    size_t len;
};

struct servlog_queue {
    struct servlog_slot *slots;
    size_t mask;                    /* slots - 1 (a power of two) */
    _Atomic size_t head;            /* next position a producer claims */
    size_t tail;                    /* next position the consumer takes (consumer only) */
    _Atomic size_t bytes;           /* bytes of the lines queued */
    size_t max_bytes;               /* bound on bytes */
    _Atomic uint64_t dropped;       /* lines refused: ring full or max_bytes reached */
};

/* A queue of nslots (rounded up to a power of two, at least 2) holding at
 * most max_bytes of lines. FEATD_OK or FEATD_ENOMEM. */
int servlog_queue_init(struct servlog_queue *q, size_t nslots, size_t max_bytes);
/* Frees the queue and every line still in it (no thread may use it). */
void servlog_queue_free(struct servlog_queue *q);

/* Any thread, never blocks: queues line[0..len) (malloc'd; the queue takes
 * it). False when it was dropped (full): the line is freed, dropped counted. */
bool servlog_queue_push(struct servlog_queue *q, char *line, size_t len);
/* The consumer only: the oldest line (the caller frees it) into *line and
 * *len; false when the queue is empty. */
bool servlog_queue_pop(struct servlog_queue *q, char **line, size_t *len);

#endif
