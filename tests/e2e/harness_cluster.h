/*
 * harness_cluster.h — end-to-end harness for the scale-out deployments: a
 * real local Redis Cluster (redis-server --cluster-enabled yes, joined by
 * `redis-cli --cluster create`) and a real Sentinel group (a master, one
 * replica, three sentinels), all on free loopback ports with private temp
 * dirs, torn down completely by the stop functions.
 *
 * Builds on harness.h (h_free_port, h_tempdir). Every child dies with the
 * test process (PR_SET_PDEATHSIG), so a failing Check test leaks nothing.
 * Failures abort the running Check test with a message; the start functions
 * return false (after printing why) only when redis-server or redis-cli is
 * not installed, so a test can skip cleanly.
 *
 * Linking: tests/e2e/e2e_cluster.c includes harness_cluster.c directly while
 * the Makefile links only tests/e2e/harness.o into the e2e binaries.
 */
#ifndef FEATD_HARNESS_CLUSTER_H
#define FEATD_HARNESS_CLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

#define HC_MAX_NODES 16

struct hc_node {
    pid_t pid;              /* 0 when not running */
    int port;
    char dir[300];          /* the node's own dir: nodes.conf, dump files, log */
};

struct hcluster {
    struct hc_node nodes[HC_MAX_NODES];
    int nnodes;             /* masters * (1 + replicas_per_master) */
    int masters;            /* as created; roles change with failovers */
    int replicas_per_master;
    char dir[256];          /* parent temp dir of the node dirs */
};

/*
 * Starts masters * (1 + replicas_per_master) cluster nodes (--cluster-enabled
 * yes, --cluster-node-timeout 2000, no persistence), creates the cluster with
 * redis-cli --cluster create and waits (up to 30 s) until every node reports
 * cluster_state:ok, knows every node with the created roles, and every replica
 * is in sync. Returns false (reason printed) when the binaries are missing.
 */
bool harness_cluster_start(struct hcluster *c, int masters, int replicas_per_master);
/* Stops every node (SIGTERM, then SIGKILL), removes all files. Idempotent. */
void harness_cluster_stop(struct hcluster *c);
/* SIGKILL node i (its dir and nodes.conf stay for a restart). */
void harness_cluster_kill(struct hcluster *c, int i);
/* SIGTERM node i and wait for its exit. */
void harness_cluster_node_stop(struct hcluster *c, int i);
/* Starts a stopped/killed node i again on its port with its nodes.conf. */
void harness_cluster_restart(struct hcluster *c, int i);

/* One blocking command on node i (NULL on a connection error); the caller
 * frees the reply with freeReplyObject. */
void *harness_cluster_cmd(const struct hcluster *c, int i, const char *fmt, ...);
/* The index of the node answering ROLE "master" that owns slot (asked
 * through node `via`, which must be up), or -1. */
int harness_cluster_slot_owner(const struct hcluster *c, int via, unsigned slot);
/* True when node i (running) answers ROLE with "master". */
bool harness_cluster_is_master(const struct hcluster *c, int i);
/* Index of the node on port, or -1. */
int harness_cluster_node_by_port(const struct hcluster *c, int port);
/*
 * Waits (up to timeout_ms) until every running node reports cluster_state:ok
 * and all 16384 slots are served by running masters that every running node
 * agrees on (e.g. after a master was killed and its replica promoted).
 * Aborts the test on timeout.
 */
void harness_cluster_wait_ok(struct hcluster *c, int timeout_ms);

/* The running node that ROLE says replicates master (index), or -1. */
int harness_cluster_replica_of(const struct hcluster *c, int master);
/* Waits (up to timeout_ms) until every running master's replicas are at
 * its replication offset (so a failover loses no written row). */
void harness_cluster_wait_synced(const struct hcluster *c, int timeout_ms);
/* CLUSTER MYID of node i into out. */
void harness_cluster_node_id(const struct hcluster *c, int i, char *out, size_t cap);

/* ---- Sentinel ---- */

#define HS_MASTER_NAME "featd"
#define HS_SENTINELS 3

struct hsentinel {
    struct hc_node data[2];                 /* data nodes: one master, one replica */
    struct hc_node sentinels[HS_SENTINELS];
    int master;                             /* index into data[] of the current master */
    char dir[256];
};

/*
 * Starts data[0] (master) and data[1] (its replica), waits for the sync,
 * then three sentinels (`redis-server sentinel-PORT.conf --sentinel`,
 * monitor HS_MASTER_NAME with quorum 2, down-after 1000 ms, failover-timeout
 * 5000 ms) and waits (up to 30 s) until every sentinel names the master,
 * knows the replica and the two other sentinels. False (reason printed)
 * when redis-server is missing.
 */
bool harness_sentinel_start(struct hsentinel *s);
void harness_sentinel_stop(struct hsentinel *s);   /* everything, idempotent */
/* Port of the master as sentinel i names it (0 on error). */
int harness_sentinel_master_port(const struct hsentinel *s, int i);
/*
 * SENTINEL FAILOVER on sentinel 0, then waits (up to timeout_ms) until every
 * sentinel names the other data node, that node's ROLE is master and the old
 * master's ROLE is slave (reconfigured). Updates s->master.
 */
void harness_sentinel_failover(struct hsentinel *s, int timeout_ms);
/*
 * Waits (up to timeout_ms) until every running sentinel names a data node
 * other than old_master_index as master and that node's ROLE is master
 * (after the master was killed). Updates s->master.
 */
void harness_sentinel_wait_new_master(struct hsentinel *s, int old_master_index, int timeout_ms);
/* One blocking command on a data node / sentinel (NULL on connection error). */
void *harness_sentinel_data_cmd(const struct hsentinel *s, int i, const char *fmt, ...);
void *harness_sentinel_cmd(const struct hsentinel *s, int i, const char *fmt, ...);
/* Waits until the current master's replica is at its offset. */
void harness_sentinel_wait_synced(const struct hsentinel *s, int timeout_ms);
/* Starts killed data node i again on its port as a master with no
 * replicaof (a crashed master coming back: the sentinels reconfigure it). */
void harness_sentinel_restart_data(struct hsentinel *s, int i);
/* True when data node i answers ROLE "master". */
bool harness_sentinel_is_master(const struct hsentinel *s, int i);
/* SIGKILL data node i. */
void harness_sentinel_kill_data(struct hsentinel *s, int i);

#endif
