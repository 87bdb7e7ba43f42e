/*
 * servlog_queue.c — the serving log's bounded many-producer, one-consumer
 * queue (contract in servlog_queue.h). A position's slot is free while its
 * sequence number equals the position; a producer claims the position with
 * a CAS on head, fills the slot and publishes it (seq = pos + 1, release);
 * the consumer reads it (acquire) and frees the slot for the position one
 * lap later (seq = pos + slots).
 */
#include "servlog/servlog_queue.h"

#include <stdlib.h>

#include "core/featd.h"

int servlog_queue_init(struct servlog_queue *q, size_t nslots, size_t max_bytes)
{
    size_t n = 2;
    while (n < nslots) {
        n <<= 1;
    }
    q->slots = calloc(n, sizeof(*q->slots));
    if (q->slots == NULL) {
        return FEATD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        atomic_init(&q->slots[i].seq, i);
    }
    q->mask = n - 1;
    atomic_init(&q->head, 0);
    q->tail = 0;
    atomic_init(&q->bytes, 0);
    q->max_bytes = max_bytes;
    atomic_init(&q->dropped, 0);
    return FEATD_OK;
}

void servlog_queue_free(struct servlog_queue *q)
{
    char *line;
    size_t len;
    if (q->slots == NULL) {
        return;
    }
    while (servlog_queue_pop(q, &line, &len)) {
        free(line);
    }
    free(q->slots);
    q->slots = NULL;
}

static bool servlog_queue_drop(struct servlog_queue *q, char *line)
{
    free(line);
    atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
    return false;
}

bool servlog_queue_push(struct servlog_queue *q, char *line, size_t len)
{
    size_t before = atomic_fetch_add_explicit(&q->bytes, len, memory_order_relaxed);
    if (before + len > q->max_bytes) {
        atomic_fetch_sub_explicit(&q->bytes, len, memory_order_relaxed);
        return servlog_queue_drop(q, line);
    }
    size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    struct servlog_slot *s;
    for (;;) {
        s = &q->slots[pos & q->mask];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                break;
            }
        } else if (dif < 0) {   /* the slot still holds the line of pos - slots: full */
            atomic_fetch_sub_explicit(&q->bytes, len, memory_order_relaxed);
            return servlog_queue_drop(q, line);
        } else {
            pos = atomic_load_explicit(&q->head, memory_order_relaxed);
        }
    }
    s->line = line;
    s->len = len;
    atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
    return true;
}

bool servlog_queue_pop(struct servlog_queue *q, char **line, size_t *len)
{
    struct servlog_slot *s = &q->slots[q->tail & q->mask];
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != q->tail + 1) {
        return false;
    }
    *line = s->line;
    *len = s->len;
    s->line = NULL;
    atomic_fetch_sub_explicit(&q->bytes, *len, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q->tail + q->mask + 1, memory_order_release);
    q->tail++;
    return true;
}
