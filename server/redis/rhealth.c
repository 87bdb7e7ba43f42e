/*
 * rhealth.c — Redis eviction state from INFO (contract in rhealth.h).
 */
#include "redis/rhealth.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* The value of "name:" on its own line in s[0..len), into out (cap). */
static bool rhealth_field(const char *s, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 <= len; ) {
        const char *eol = memchr(s + i, '\n', len - i);
        size_t end = eol ? (size_t)(eol - s) : len;
        if (end - i > nl && memcmp(s + i, name, nl) == 0 && s[i + nl] == ':') {
            size_t vs = i + nl + 1, ve = end;
            while (ve > vs && (s[ve - 1] == '\r' || s[ve - 1] == ' ')) {
                ve--;
            }
            size_t n = ve - vs < cap - 1 ? ve - vs : cap - 1;
            memcpy(out, s + vs, n);
            out[n] = '\0';
            return true;
        }
        i = end + 1;
    }
    return false;
}

void rhealth_parse(const char *s, size_t len, struct rhealth_sample *out)
{
    memset(out, 0, sizeof(*out));
    if (!rhealth_field(s, len, "maxmemory_policy", out->policy, sizeof(out->policy))) {
        out->policy[0] = '\0';
    }
    char num[32];
    int64_t v = 0;
    if (rhealth_field(s, len, "evicted_keys", num, sizeof(num)) &&
        util_parse_i64(num, 0, INT64_MAX, &v)) {
        out->have_evicted = true;
        out->evicted_keys = (uint64_t)v;
    }
}

bool rhealth_policy_evicts(const char *policy)
{
    return policy[0] != '\0' && strcmp(policy, "noeviction") != 0;
}

static pthread_mutex_t rh_lock = PTHREAD_MUTEX_INITIALIZER;
/* One node's readings; slot 0 is the single node ("" name). */
struct rh_node {
    char name[RHEALTH_NODE_NAME];
    char policy[32];
    bool have;              /* a reading with evicted_keys was seen */
    bool rebase;            /* the next reading is the baseline (a reload) */
    uint64_t baseline;
    uint64_t latest;
};
static struct {
    struct rh_node n[RHEALTH_MAX_NODES];
    size_t nn;
    uint64_t bound_hits;
} rh;

/* The entry of name (added when new), or NULL when the table is full
 * (counted). Under rh_lock. */
static struct rh_node *rh_find(const char *name)
{
    for (size_t i = 0; i < rh.nn; i++) {
        if (strcmp(rh.n[i].name, name) == 0) {
            return &rh.n[i];
        }
    }
    if (rh.nn >= RHEALTH_MAX_NODES) {
        rh.bound_hits++;
        return NULL;
    }
    struct rh_node *e = &rh.n[rh.nn++];
    memset(e, 0, sizeof(*e));
    util_strlcpy(e->name, name, sizeof(e->name));
    return e;
}

void rhealth_note_node(const char *node, const struct rhealth_sample *s)
{
    pthread_mutex_lock(&rh_lock);
    struct rh_node *e = rh_find(node ? node : "");
    if (e != NULL) {
        if (s->policy[0]) {
            util_strlcpy(e->policy, s->policy, sizeof(e->policy));
        }
        if (s->have_evicted) {
            if (!e->have || e->rebase || s->evicted_keys < e->baseline) {
                e->baseline = s->evicted_keys;
            }
            e->rebase = false;
            e->have = true;
            e->latest = s->evicted_keys;
        }
    }
    pthread_mutex_unlock(&rh_lock);
}

void rhealth_note(const struct rhealth_sample *s)
{
    rhealth_note_node("", s);
}

void rhealth_reset(void)
{
    pthread_mutex_lock(&rh_lock);
    for (size_t i = 0; i < rh.nn; i++) {
        rh.n[i].baseline = rh.n[i].latest;
        rh.n[i].rebase = true;
    }
    pthread_mutex_unlock(&rh_lock);
}

/* Sums over the nodes; the first evicting policy (else the first known)
 * into policy. Under rh_lock. */
static bool rh_sum(uint64_t *since, uint64_t *total, char *policy, size_t cap)
{
    bool have = false;
    *since = *total = 0;
    if (policy != NULL) {
        policy[0] = '\0';
    }
    for (size_t i = 0; i < rh.nn; i++) {
        const struct rh_node *e = &rh.n[i];
        if (e->have) {
            have = true;
            *since += e->latest - e->baseline;
            *total += e->latest;
        }
        if (policy != NULL && e->policy[0] &&
            (policy[0] == '\0' || (!rhealth_policy_evicts(policy) &&
                                   rhealth_policy_evicts(e->policy)))) {
            util_strlcpy(policy, e->policy, cap);
        }
    }
    return have;
}

bool rhealth_evicted(uint64_t *since_baseline, uint64_t *total)
{
    pthread_mutex_lock(&rh_lock);
    bool have = rh_sum(since_baseline, total, NULL, 0);
    pthread_mutex_unlock(&rh_lock);
    return have;
}

uint64_t rhealth_bound_hits(void)
{
    pthread_mutex_lock(&rh_lock);
    uint64_t n = rh.bound_hits;
    pthread_mutex_unlock(&rh_lock);
    return n;
}

bool rhealth_problem(bool allow_evicting_policy, char *why, size_t whylen)
{
    pthread_mutex_lock(&rh_lock);
    char policy[32];
    uint64_t evicted = 0, total = 0;
    (void)rh_sum(&evicted, &total, policy, sizeof(policy));
    pthread_mutex_unlock(&rh_lock);
    if (evicted > 0) {
        util_seterr(why, whylen, "redis evicted %" PRIu64 " keys since featd started (INFO "
                    "evicted_keys): served rows may be missing; give Redis more memory or set "
                    "maxmemory-policy noeviction, then reload featd (SIGHUP) or restart it",
                    evicted);
        return true;
    }
    if (!allow_evicting_policy && rhealth_policy_evicts(policy)) {
        util_seterr(why, whylen, "redis maxmemory-policy is %s, which may evict featd's rows "
                    "without a trace; set it to noeviction (or redis.eviction \"allow\" to "
                    "accept the risk)", policy);
        return true;
    }
    return false;
}
