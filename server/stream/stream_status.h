/*
 * stream_status.h — a stream view's consumer state as Redis holds it, for
 * featd-cli materialize status: the group's lag, pending entries and
 * consumers (XINFO GROUPS), the dead letters (XLEN <key>:dead), and the
 * status hash the consumers keep (stream_view.h: counts, last error).
 * Blocking; the caller's thread and client.
 */
#ifndef FEATD_STREAM_STATUS_H
#define FEATD_STREAM_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/featd.h"

struct rbcluster;

struct stream_status {
    bool group_exists;          /* the view's group is on the stream */
    int64_t length;             /* XLEN of the stream */
    int64_t lag;                /* entries not yet delivered to the group; -1 unknown */
    int64_t pending;            /* delivered, not acknowledged */
    int64_t consumers;
    char last_delivered[48];    /* the group's last-delivered-id */
    int64_t dead;               /* entries in <key>:dead */
    int64_t written, stale, rejected;   /* all consumers together */
    char last_error[512];
    int64_t last_error_at_us;   /* 0 = never */
    char last_error_consumer[300];
};

int stream_status_load(struct rbcluster *c, const struct featd_config *cfg, const struct cfg_view *v,
                       struct stream_status *out, char *err, size_t errlen) FEATD_MUSTCHECK;

#endif
