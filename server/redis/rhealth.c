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
static struct {
    char policy[32];
    bool have;              /* a reading with evicted_keys was seen */
    bool rebase;            /* the next reading is the baseline (a reload) */
    uint64_t baseline;
    uint64_t latest;
} rh;

void rhealth_note(const struct rhealth_sample *s)
{
    pthread_mutex_lock(&rh_lock);
    if (s->policy[0]) {
        util_strlcpy(rh.policy, s->policy, sizeof(rh.policy));
    }
    if (s->have_evicted) {
        if (!rh.have || rh.rebase || s->evicted_keys < rh.baseline) {
            rh.baseline = s->evicted_keys;
        }
        rh.rebase = false;
        rh.have = true;
        rh.latest = s->evicted_keys;
    }
    pthread_mutex_unlock(&rh_lock);
}

void rhealth_reset(void)
{
    pthread_mutex_lock(&rh_lock);
    rh.baseline = rh.latest;
    rh.rebase = true;
    pthread_mutex_unlock(&rh_lock);
}

bool rhealth_evicted(uint64_t *since_baseline, uint64_t *total)
{
    pthread_mutex_lock(&rh_lock);
    bool have = rh.have;
    *since_baseline = rh.latest - rh.baseline;
    *total = rh.latest;
    pthread_mutex_unlock(&rh_lock);
    return have;
}

bool rhealth_problem(bool allow_evicting_policy, char *why, size_t whylen)
{
    pthread_mutex_lock(&rh_lock);
    char policy[32];
    util_strlcpy(policy, rh.policy, sizeof(policy));
    uint64_t evicted = rh.have ? rh.latest - rh.baseline : 0;
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
