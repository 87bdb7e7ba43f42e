/*
 * rtopo.h — a Redis deployment's topology as featd routes by it: the nodes
 * and, for a cluster, which master (and replicas) serve each of the 16384
 * slots. A single node (redis.url, embedded, or the Sentinel master) is the
 * degenerate map: one master owning every slot, so one routing code path
 * serves all deployments.
 *
 * Built from a CLUSTER SLOTS reply (rtopo_parse_slots), or for one node
 * (rtopo_single). Redirect errors (MOVED/ASK) are parsed here too.
 *
 * Ownership: a struct rtopo is a plain value owned by whoever built it (a
 * worker's router, the materializer's blocking cluster client); it is never
 * shared between threads — each owner builds and refreshes its own.
 */
#ifndef FEATD_RTOPO_H
#define FEATD_RTOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "core/featd.h"
#include "redis/rslot.h"

#define RTOPO_MAX_NODES 256     /* masters + replicas; more is a config error */
#define RTOPO_HOST_MAX 256

struct rtopo_node {
    char host[RTOPO_HOST_MAX];  /* as the cluster announces it (IP or name) */
    int port;
    char id[48];                /* node id when announced, else "" */
    int master;                 /* -1 for a master, else index of its master */
};

struct rtopo {
    struct rtopo_node nodes[RTOPO_MAX_NODES];
    size_t nnodes;
    size_t nmasters;
    int16_t slot_master[RSLOT_COUNT];   /* node index owning the slot, -1 = none */
    bool cluster;                       /* false: single node, slot map unused */
};

/* One node owning everything (host NULL with unix_path for a unix socket:
 * host is then the path and port 0). */
void rtopo_single(struct rtopo *t, const char *host, int port);

/*
 * Fills t from a CLUSTER SLOTS reply r: every range's first entry is the
 * master, the rest its replicas; nodes are deduplicated by host:port.
 * FEATD_ERR with err naming what is wrong (not an array, too many nodes,
 * slot out of range, ...). t is left valid (possibly empty) on error.
 * Slots no range covers stay -1 (a cluster being set up or degraded).
 */
int rtopo_parse_slots(struct rtopo *t, const redisReply *r, char *err, size_t errlen) FEATD_MUSTCHECK;
/* The same, for a reply that node via_host answered: a node announced with
 * an unknown endpoint (nil, "" or "?") is reached at via_host and its port,
 * as the specification tells clients. rtopo_parse_slots is this with
 * via_host NULL (such nodes then keep host ""). */
int rtopo_parse_slots_via(struct rtopo *t, const redisReply *r, const char *via_host, char *err,
                          size_t errlen) FEATD_MUSTCHECK;

/* The node index serving slot: its master, or when replica_ok one of its
 * replicas chosen by pick (round robin by the caller; the master when it
 * has none). -1 when no node owns the slot. */
int rtopo_node_for_slot(const struct rtopo *t, unsigned slot, bool replica_ok, unsigned pick);

/* Empties t (no nodes, no owners; cluster stays as it was). */
void rtopo_clear(struct rtopo *t);

/* Index of host:port in t, or -1. */
int rtopo_find(const struct rtopo *t, const char *host, int port);

enum rtopo_redirect { RTOPO_NOT_REDIRECT = 0, RTOPO_MOVED, RTOPO_ASK };

/*
 * Parses an error reply's text "MOVED 3999 127.0.0.1:6381" or
 * "ASK 3999 [::1]:6381" (an empty host, "MOVED 1 :6380", means the node that
 * answered; "[::1]:6381" and "::1:6381" both give host "::1"). Returns the
 * kind and fills slot, host (NUL-terminated, cap hostcap) and port.
 * RTOPO_NOT_REDIRECT for any other error, and for a MOVED/ASK that does not
 * parse (bad slot, port, or a host longer than hostcap): the caller then
 * reports it as the error reply it is.
 */
enum rtopo_redirect rtopo_parse_redirect(const char *str, size_t len, unsigned *slot, char *host,
                                         size_t hostcap, int *port);

/* True for error replies that deserve a bounded retry on the same node:
 * "TRYAGAIN ..." and "LOADING ...". "CLUSTERDOWN ..." is not (UNAVAILABLE). */
bool rtopo_retryable_error(const char *str, size_t len);

#endif
