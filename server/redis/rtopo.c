/*
 * rtopo.c — the topology map (contract in rtopo.h): a single node, or a
 * cluster's slot -> master map parsed from CLUSTER SLOTS; MOVED/ASK
 * redirect parsing; which error replies deserve a retry.
 *
 * CLUSTER SLOTS reply, per the cluster specification:
 *   [ [start, end, [host, port, id?, meta?], [replica...]...], ... ]
 * host may be nil, "" or "?" (unknown endpoint: the node that answered).
 */
#include "redis/rtopo.h"

#include <string.h>

#include "core/util.h"

void rtopo_clear(struct rtopo *t)
{
    t->nnodes = 0;
    t->nmasters = 0;
    for (unsigned s = 0; s < RSLOT_COUNT; s++) {
        t->slot_master[s] = -1;
    }
}

void rtopo_single(struct rtopo *t, const char *host, int port)
{
    rtopo_clear(t);
    t->cluster = false;
    struct rtopo_node *n = &t->nodes[0];
    memset(n, 0, sizeof(*n));
    util_strlcpy(n->host, host != NULL ? host : "", sizeof(n->host));
    n->port = port;
    n->master = -1;
    t->nnodes = 1;
    t->nmasters = 1;
    for (unsigned s = 0; s < RSLOT_COUNT; s++) {
        t->slot_master[s] = 0;
    }
}

int rtopo_find(const struct rtopo *t, const char *host, int port)
{
    for (size_t i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].port == port && strcmp(t->nodes[i].host, host) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * Finds or adds the node of one CLUSTER SLOTS node entry e; master is -1
 * for a range's first entry, else the index of that range's master.
 * Returns the node index, or -1 with err set.
 */
static int rtopo_add_node(struct rtopo *t, const redisReply *e, const char *via_host, int master,
                          size_t range, char *err, size_t errlen)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) {
        util_seterr(err, errlen, "CLUSTER SLOTS range %zu: a node entry is not [host, port, ...]",
                    range);
        return -1;
    }
    const redisReply *h = e->element[0], *p = e->element[1];
    const char *host;
    if (h->type == REDIS_REPLY_NIL) {
        host = "";
    } else if (h->type == REDIS_REPLY_STRING || h->type == REDIS_REPLY_STATUS) {
        host = h->str;
        if ((size_t)h->len != strlen(h->str) || h->len >= RTOPO_HOST_MAX) {
            util_seterr(err, errlen, "CLUSTER SLOTS range %zu: node host of %zu bytes is not a host",
                        range, (size_t)h->len);
            return -1;
        }
    } else {
        util_seterr(err, errlen, "CLUSTER SLOTS range %zu: node host has reply type %d", range,
                    h->type);
        return -1;
    }
    if (strcmp(host, "?") == 0) {
        host = "";
    }
    if (host[0] == '\0' && via_host != NULL) {
        host = via_host;
    }
    if (p->type != REDIS_REPLY_INTEGER || p->integer <= 0 || p->integer > 65535) {
        util_seterr(err, errlen, "CLUSTER SLOTS range %zu: node %s has no valid port", range,
                    host[0] ? host : "(unknown host)");
        return -1;
    }
    int port = (int)p->integer;
    int idx = rtopo_find(t, host, port);
    if (idx < 0) {
        if (t->nnodes >= RTOPO_MAX_NODES) {
            util_seterr(err, errlen, "CLUSTER SLOTS names more than %d nodes", RTOPO_MAX_NODES);
            return -1;
        }
        idx = (int)t->nnodes++;
        struct rtopo_node *n = &t->nodes[idx];
        memset(n, 0, sizeof(*n));
        util_strlcpy(n->host, host, sizeof(n->host));
        n->port = port;
        n->master = master;
        if (e->elements > 2 && e->element[2]->type == REDIS_REPLY_STRING) {
            util_strlcpy(n->id, e->element[2]->str, sizeof(n->id));
        }
    } else if (master < 0) {
        t->nodes[idx].master = -1;   /* seen as a replica before: it is a master */
    } else if (t->nodes[idx].master >= 0 && idx != master) {
        t->nodes[idx].master = master;   /* a replica stays one; a master never demoted */
    }
    return idx;
}

int rtopo_parse_slots_via(struct rtopo *t, const redisReply *r, const char *via_host, char *err,
                          size_t errlen)
{
    rtopo_clear(t);
    t->cluster = true;
    if (r == NULL) {
        util_seterr(err, errlen, "CLUSTER SLOTS: no reply");
        return FEATD_ERR;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        util_seterr(err, errlen, "CLUSTER SLOTS failed: %.300s", r->str);
        return FEATD_ERR;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        util_seterr(err, errlen, "CLUSTER SLOTS reply is not an array (reply type %d)", r->type);
        return FEATD_ERR;
    }
    for (size_t k = 0; k < r->elements; k++) {
        const redisReply *e = r->element[k];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER) {
            util_seterr(err, errlen, "CLUSTER SLOTS range %zu is not [start, end, master, ...]", k);
            goto fail;
        }
        long long lo = e->element[0]->integer, hi = e->element[1]->integer;
        if (lo < 0 || hi < lo || hi >= (long long)RSLOT_COUNT) {
            util_seterr(err, errlen, "CLUSTER SLOTS range %zu: slots %lld-%lld out of 0-%u", k, lo,
                        hi, RSLOT_COUNT - 1);
            goto fail;
        }
        int m = rtopo_add_node(t, e->element[2], via_host, -1, k, err, errlen);
        if (m < 0) {
            goto fail;
        }
        for (size_t j = 3; j < e->elements; j++) {
            if (rtopo_add_node(t, e->element[j], via_host, m, k, err, errlen) < 0) {
                goto fail;
            }
        }
        for (long long s = lo; s <= hi; s++) {
            if (t->slot_master[s] >= 0 && t->slot_master[s] != m) {
                util_seterr(err, errlen, "CLUSTER SLOTS: slot %lld is in two ranges", s);
                goto fail;
            }
            t->slot_master[s] = (int16_t)m;
        }
    }
    for (size_t i = 0; i < t->nnodes; i++) {
        t->nmasters += t->nodes[i].master < 0;
    }
    return FEATD_OK;
fail:
    rtopo_clear(t);
    return FEATD_ERR;
}

int rtopo_parse_slots(struct rtopo *t, const redisReply *r, char *err, size_t errlen)
{
    return rtopo_parse_slots_via(t, r, NULL, err, errlen);
}

int rtopo_node_for_slot(const struct rtopo *t, unsigned slot, bool replica_ok, unsigned pick)
{
    if (!t->cluster) {
        return t->nnodes > 0 ? 0 : -1;
    }
    if (slot >= RSLOT_COUNT) {
        return -1;
    }
    int m = t->slot_master[slot];
    if (m < 0 || !replica_ok) {
        return m;
    }
    unsigned nrep = 0;
    for (size_t i = 0; i < t->nnodes; i++) {
        nrep += t->nodes[i].master == m;
    }
    if (nrep == 0) {
        return m;
    }
    unsigned want = pick % nrep;
    for (size_t i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].master == m && want-- == 0) {
            return (int)i;
        }
    }
    return m;
}

/* Parses the unsigned decimal s[0..len) into *out (<= max); false on junk. */
static bool rtopo_parse_uint(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    if (len == 0 || len > 10) {
        return false;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max) {
        return false;
    }
    *out = v;
    return true;
}

enum rtopo_redirect rtopo_parse_redirect(const char *str, size_t len, unsigned *slot, char *host,
                                         size_t hostcap, int *port)
{
    enum rtopo_redirect kind;
    size_t off;
    if (len >= 6 && memcmp(str, "MOVED ", 6) == 0) {
        kind = RTOPO_MOVED;
        off = 6;
    } else if (len >= 4 && memcmp(str, "ASK ", 4) == 0) {
        kind = RTOPO_ASK;
        off = 4;
    } else {
        return RTOPO_NOT_REDIRECT;
    }
    const char *sp = memchr(str + off, ' ', len - off);
    if (sp == NULL) {
        return RTOPO_NOT_REDIRECT;
    }
    unsigned long s, p;
    if (!rtopo_parse_uint(str + off, (size_t)(sp - (str + off)), RSLOT_COUNT - 1, &s)) {
        return RTOPO_NOT_REDIRECT;
    }
    const char *addr = sp + 1;
    size_t alen = len - (size_t)(addr - str);
    const char *colon = NULL;
    for (size_t i = alen; i > 0; i--) {
        if (addr[i - 1] == ':') {
            colon = addr + i - 1;
            break;
        }
    }
    if (colon == NULL ||
        !rtopo_parse_uint(colon + 1, alen - (size_t)(colon + 1 - addr), 65535, &p) || p == 0) {
        return RTOPO_NOT_REDIRECT;
    }
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hostcap == 0 || hlen >= hostcap || memchr(h, ' ', hlen) != NULL ||
        memchr(h, '\0', hlen) != NULL) {
        return RTOPO_NOT_REDIRECT;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *slot = (unsigned)s;
    *port = (int)p;
    return kind;
}

bool rtopo_retryable_error(const char *str, size_t len)
{
    static const char *const prefixes[] = { "TRYAGAIN", "LOADING" };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(prefixes); i++) {
        size_t n = strlen(prefixes[i]);
        if (len >= n && memcmp(str, prefixes[i], n) == 0 && (len == n || str[n] == ' ')) {
            return true;
        }
    }
    return false;
}
