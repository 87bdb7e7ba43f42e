/*
 * rhealth.h — what featd knows of the Redis server's eviction state, from
 * INFO: its maxmemory-policy and evicted_keys. Anything that evicts keys
 * drops featd's rows silently, so /readyz, the materializer and /metrics
 * consult this.
 *
 * rhealth_parse is pure. The process-wide state (rhealth_note, rhealth_*)
 * is thread-safe: the admin thread (/readyz) and the materializer thread
 * feed it, /metrics reads it.
 */
#ifndef FEATD_RHEALTH_H
#define FEATD_RHEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One INFO reading ("INFO memory stats"). */
struct rhealth_sample {
    char policy[32];            /* maxmemory_policy; "" = not in the text */
    bool have_evicted;
    uint64_t evicted_keys;      /* since the Redis server started */
};

/* Parses the INFO text s[0..len). */
void rhealth_parse(const char *s, size_t len, struct rhealth_sample *out);
/* True for every policy but noeviction (volatile-* evicts featd's keys too:
 * they all carry an expiry). False for "" (unknown). */
bool rhealth_policy_evicts(const char *policy);

#define RHEALTH_MAX_NODES 64     /* nodes tracked (a cluster's masters) */
#define RHEALTH_NODE_NAME 80

/* Records a reading of the single node (rhealth_note_node with ""). The
 * first evicted_keys seen is the baseline; a lower value later (a
 * restarted Redis, a promoted replica) becomes the new baseline. */
void rhealth_note(const struct rhealth_sample *s);
/* The same for one node of a cluster, by its "host:port": each node keeps
 * its own baseline; the state below sums them (keys evicted on any master
 * count) and reports an evicting policy when any node has one. Nodes past
 * RHEALTH_MAX_NODES are not tracked (counted: rhealth_bound_hits). */
void rhealth_note_node(const char *node, const struct rhealth_sample *s);
uint64_t rhealth_bound_hits(void);
/* Forgets every node's baseline (a reload): evictions before now, and up to the
 * next reading, no longer count. */
void rhealth_reset(void);
/* Keys evicted since the baseline, and the latest evicted_keys (false when
 * nothing was read yet). */
bool rhealth_evicted(uint64_t *since_baseline, uint64_t *total);
/*
 * Why featd's data cannot be trusted now, or false: an evicting policy
 * (unless allow_evicting_policy), or keys evicted since the baseline.
 * why gets one line for /readyz and logs.
 */
bool rhealth_problem(bool allow_evicting_policy, char *why, size_t whylen);

#endif
