/*
 * stream_view.c — one view's stream consumer round (contract in
 * stream_view.h). Stream thread only.
 */
#include "stream/stream_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics_view.h"
#include "core/util.h"
#include "online/online_key.h"
#include "online/online_push.h"
#include "redis/rbcluster.h"
#include "redis/rslot.h"
#include "stream/stream_stats.h"

#define STREAM_REASON_MAX 512
#define STREAM_DEAD_FIXED 14        /* XADD key MAXLEN ~ N * entry id view V stream K reason R */

/* What each queued command of a round was for. */
enum sv_kind { SV_WRITE, SV_DEAD };
struct sv_cmd {
    size_t entry;                   /* index in the entries array */
    enum sv_kind kind;
};

struct stream_view *stream_view_new(const struct featd_config *cfg, const struct cfg_view *v,
                                    const char *consumer)
{
    struct stream_view *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->cfg = cfg;
    s->v = v;
    s->consumer = consumer;
    size_t kl = strlen(v->stream_key);
    s->dead_key = malloc(kl + 6);
    s->keys = calloc(v->nkeys ? v->nkeys : 1, sizeof(*s->keys));
    s->vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*s->vals));
    s->scratch = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*s->scratch));
    if (s->dead_key == NULL || s->keys == NULL || s->vals == NULL || s->scratch == NULL) {
        stream_view_free(s);
        return NULL;
    }
    memcpy(s->dead_key, v->stream_key, kl);
    memcpy(s->dead_key + kl, ":dead", 6);
    return s;
}

void stream_view_free(struct stream_view *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t f = 0; s->scratch != NULL && f < s->v->nfeatures; f++) {
        fbuf_free(&s->scratch[f]);
    }
    free(s->scratch);
    free(s->vals);
    free(s->keys);
    free(s->dead_key);
    fbuf_free(&s->cmd);
    fbuf_free(&s->key);
    fbuf_free(&s->row);
    free(s);
}

/* Runs the queued commands; on success *r holds their replies. */
static int sv_exec(struct rbcluster *c, redisReply ***r, size_t *n, char *err, size_t errlen)
{
    *r = NULL;
    *n = 0;
    return rbcluster_exec(c, r, n, err, errlen);
}

/* One command routed by key, run alone; its reply (free with
 * freeReplyObject) or NULL with err. */
static redisReply *sv_one(struct rbcluster *c, const char *key, int argc, const char **argv,
                          char *err, size_t errlen)
{
    size_t lens[16];
    for (int i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    redisReply **r;
    size_t n;
    if (rbcluster_append(c, key, strlen(key), argc, argv, lens, err, errlen) != FEATD_OK ||
        sv_exec(c, &r, &n, err, errlen) != FEATD_OK) {
        return NULL;
    }
    redisReply *one = n == 1 ? r[0] : NULL;
    if (n == 1) {
        r[0] = NULL;
    }
    rbcluster_replies_free(r, n);
    if (one == NULL) {
        util_seterr(err, errlen, "redis: no reply to %s", argv[0]);
    }
    return one;
}

static bool sv_is_error(const redisReply *r, const char *prefix)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR &&
           (prefix == NULL || strncmp(r->str, prefix, strlen(prefix)) == 0);
}

/* XGROUP CREATE key group 0 MKSTREAM; an existing group is fine. */
static int sv_group(struct stream_view *s, struct rbcluster *c, char *err, size_t errlen)
{
    const char *argv[] = { "XGROUP", "CREATE", s->v->stream_key, s->v->stream_group, "0", "MKSTREAM" };
    redisReply *r = sv_one(c, s->v->stream_key, 6, argv, err, errlen);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_OK;
    if (sv_is_error(r, NULL) && !sv_is_error(r, "BUSYGROUP")) {
        util_seterr(err, errlen, "XGROUP CREATE %s %s: %s", s->v->stream_key, s->v->stream_group, r->str);
        rc = FEATD_ERR;
    }
    freeReplyObject(r);
    if (rc == FEATD_OK) {
        s->group_ready = true;
    }
    return rc;
}

/* The status hash key P:v2:m:{V}:F:stream into s->key. */
static int sv_status_key(struct stream_view *s)
{
    fbuf_reset(&s->key);
    return online_key_meta(&s->key, s->cfg->redis.key_prefix, s->v, "stream");
}

void stream_view_note_error(struct stream_view *s, struct rbcluster *c, const char *err)
{
    char at[24], e2[256];
    snprintf(at, sizeof at, "%lld", (long long)util_now_us());
    if (c == NULL || sv_status_key(s) != FEATD_OK) {
        return;
    }
    const char *argv[] = { "HSET", s->key.data, "last_error", err, "last_error_at_us", at,
                           "last_error_consumer", s->consumer };
    redisReply *r = sv_one(c, s->key.data, 8, argv, e2, sizeof e2);
    if (r != NULL) {
        freeReplyObject(r);
    }
}

/* XINFO GROUPS: the group's lag into the gauge (-1 when Redis has none). */
static void sv_lag(struct stream_view *s, struct rbcluster *c)
{
    char err[256];
    const char *argv[] = { "XINFO", "GROUPS", s->v->stream_key };
    redisReply *r = sv_one(c, s->v->stream_key, 3, argv, err, sizeof err);
    int64_t lag = -1;
    for (size_t g = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
        const redisReply *grp = r->element[g];
        bool ours = false;
        int64_t glag = -1;
        for (size_t i = 0; grp->type == REDIS_REPLY_ARRAY && i + 1 < grp->elements; i += 2) {
            const redisReply *k = grp->element[i], *val = grp->element[i + 1];
            if (k->type != REDIS_REPLY_STRING && k->type != REDIS_REPLY_STATUS) {
                continue;
            }
            if (strcmp(k->str, "name") == 0 && val->type == REDIS_REPLY_STRING) {
                ours = strcmp(val->str, s->v->stream_group) == 0;
            } else if (strcmp(k->str, "lag") == 0 && val->type == REDIS_REPLY_INTEGER) {
                glag = val->integer;
            }
        }
        if (ours) {
            lag = glag;
        }
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    stream_stats_lag(s->v->metrics_slot, lag);
}

/* The entries array of a read reply (XREADGROUP or XAUTOCLAIM); NULL when
 * there are none. */
static const redisReply *sv_entries(const redisReply *r, bool autoclaim)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    if (autoclaim) {
        return r->elements >= 2 && r->element[1]->type == REDIS_REPLY_ARRAY ? r->element[1] : NULL;
    }
    if (r->elements < 1 || r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements < 2) {
        return NULL;
    }
    const redisReply *e = r->element[0]->element[1];
    return e->type == REDIS_REPLY_ARRAY ? e : NULL;
}

/* Decodes entry e into s's row; FEATD_ERR with why. */
static int sv_decode(struct stream_view *s, const redisReply *fields, struct stream_row *row,
                     char *why, size_t whylen)
{
    size_t nf = fields->elements / 2;
    if (fields->elements % 2 != 0 || nf > 4096 + 66) {
        snprintf(why, whylen, "malformed entry: %zu field elements", fields->elements);
        return FEATD_ERR;
    }
    const char **names = malloc((nf ? nf : 1) * 2 * sizeof(char *));
    size_t *lens = malloc((nf ? nf : 1) * 2 * sizeof(size_t));
    if (names == NULL || lens == NULL) {
        free(names);
        free(lens);
        snprintf(why, whylen, "out of memory");
        return FEATD_ERR;
    }
    const char **texts = names + nf;
    size_t *tlens = lens + nf;
    for (size_t i = 0; i < nf; i++) {
        const redisReply *k = fields->element[2 * i], *val = fields->element[2 * i + 1];
        names[i] = k->str ? k->str : "";
        lens[i] = k->str ? k->len : 0;
        texts[i] = val->str ? val->str : "";
        tlens[i] = val->str ? val->len : 0;
    }
    int rc = stream_entry_decode(s->v, nf, names, lens, texts, tlens, row, why, whylen);
    free(names);
    free(lens);
    return rc;
}

/* Queues the LWW write of the decoded row (EVALSHA, or EVAL when eval);
 * FEATD_EAGAIN when the row is past its storage expiry (nothing queued). */
static int sv_queue_write(struct stream_view *s, struct rbcluster *c, const struct stream_row *row,
                          bool eval, char *err, size_t errlen)
{
    int64_t at = online_push_expire_at_ms(s->v, row->event_us, util_now_us() / 1000);
    if (at == 0) {
        return FEATD_EAGAIN;
    }
    char field[ONLINE_PUSH_FIELD_MAX];
    size_t fl = online_push_field(field, s->v);
    fbuf_reset(&s->key);
    fbuf_reset(&s->row);
    fbuf_reset(&s->cmd);
    if (online_key_row(&s->key, s->cfg->redis.key_prefix, s->v, row->keys) != FEATD_OK ||
        online_push_row(&s->row, s->v, row->event_us, row->vals) != FEATD_OK ||
        online_push_cmd(&s->cmd, eval, s->key.data, s->key.len, field, fl, s->row.data, s->row.len,
                        at) != FEATD_OK) {
        util_seterr(err, errlen, "cannot encode a row (out of memory)");
        return FEATD_ERR;
    }
    return rbcluster_append_resp(c, rslot_of_key(s->key.data, s->key.len), s->cmd.data, s->cmd.len,
                                 err, errlen);
}

/* Queues the dead letter of entry e (id, original fields) with its reason. */
static int sv_queue_dead(struct stream_view *s, struct rbcluster *c, const redisReply *e,
                         const char *why, char *err, size_t errlen)
{
    const redisReply *id = e->element[0], *fields = e->element[1];
    size_t nf = fields != NULL && fields->type == REDIS_REPLY_ARRAY ? fields->elements : 0;
    size_t argc = STREAM_DEAD_FIXED + nf;
    const char **argv = malloc(argc * sizeof(char *));
    size_t *lens = malloc(argc * sizeof(size_t));
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    char maxlen[24];
    snprintf(maxlen, sizeof maxlen, "%d", STREAM_DEAD_MAXLEN);
    const char *fixed[STREAM_DEAD_FIXED] = { "XADD", s->dead_key, "MAXLEN", "~", maxlen, "*",
                                             "entry", id->str, "view", s->v->name, "stream",
                                             s->v->stream_key, "reason", why };
    for (size_t i = 0; i < STREAM_DEAD_FIXED; i++) {
        argv[i] = fixed[i];
        lens[i] = i == 7 ? id->len : strlen(fixed[i]);
    }
    for (size_t i = 0; i < nf; i++) {
        argv[STREAM_DEAD_FIXED + i] = fields->element[i]->str ? fields->element[i]->str : "";
        lens[STREAM_DEAD_FIXED + i] = fields->element[i]->str ? fields->element[i]->len : 0;
    }
    int rc = rbcluster_append(c, s->dead_key, strlen(s->dead_key), (int)argc, argv, lens, err, errlen);
    free(argv);
    free(lens);
    return rc;
}

/* Checks one write's reply: counts it, or notes a NOSCRIPT for a resend. */
static int sv_write_reply(struct stream_view *s, const redisReply *r, int64_t event_us,
                          uint64_t *written, uint64_t *stale, bool *noscript, char *err,
                          size_t errlen)
{
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer == 1) {
            (*written)++;
            int slot = s->v->metrics_slot;
            if (slot >= 0) {
                metrics_age_observe(&stream_metrics.views[slot].write_event_age,
                                    util_now_us() / 1000 - event_us / 1000);
            }
        } else {
            (*stale)++;
        }
        return FEATD_OK;
    }
    if (sv_is_error(r, "NOSCRIPT")) {
        *noscript = true;
        return FEATD_OK;
    }
    util_seterr(err, errlen, "writing a row: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return FEATD_ERR;
}

/* Applies the entries: writes, dead letters, then XACK and the status counts. */
static long sv_apply(struct stream_view *s, struct rbcluster *c, const redisReply *entries,
                     char *err, size_t errlen)
{
    size_t n = entries->elements;
    struct sv_cmd *cmds = calloc(n ? n : 1, sizeof(*cmds));
    int64_t *events = calloc(n ? n : 1, sizeof(*events));
    bool *resend = calloc(n ? n : 1, sizeof(*resend));
    long rc = -1;
    redisReply **r = NULL;
    size_t nr = 0, nq = 0;
    uint64_t written = 0, stale = 0, rejected = 0;
    struct stream_row row = { s->keys, s->vals, s->scratch, 0 };
    char why[STREAM_REASON_MAX];
    if (cmds == NULL || events == NULL || resend == NULL) {
        util_seterr(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING) {
            util_seterr(err, errlen, "malformed stream reply");
            goto out;
        }
        const redisReply *fields = e->element[1];
        if (fields->type != REDIS_REPLY_ARRAY) {
            continue;                   /* deleted from the stream: acknowledged only */
        }
        int d = sv_decode(s, fields, &row, why, sizeof why);
        if (d == FEATD_OK) {
            events[i] = row.event_us;
            int q = sv_queue_write(s, c, &row, false, err, errlen);
            if (q == FEATD_EAGAIN) {
                stale++;                /* past ttl + grace: could never be served */
                continue;
            }
            if (q != FEATD_OK) {
                goto out;
            }
            cmds[nq++] = (struct sv_cmd){ i, SV_WRITE };
        } else {
            if (sv_queue_dead(s, c, e, why, err, errlen) != FEATD_OK) {
                goto out;
            }
            cmds[nq++] = (struct sv_cmd){ i, SV_DEAD };
            rejected++;
        }
    }
    if (nq > 0) {
        if (sv_exec(c, &r, &nr, err, errlen) != FEATD_OK) {
            goto out;
        }
        bool any_noscript = false;
        for (size_t k = 0; k < nr && k < nq; k++) {
            if (cmds[k].kind == SV_DEAD) {
                if (r[k]->type != REDIS_REPLY_STRING) {
                    util_seterr(err, errlen, "XADD %s: %s", s->dead_key,
                                r[k]->type == REDIS_REPLY_ERROR ? r[k]->str : "unexpected reply");
                    goto out;
                }
                continue;
            }
            bool ns = false;
            if (sv_write_reply(s, r[k], events[cmds[k].entry], &written, &stale, &ns, err, errlen) !=
                FEATD_OK) {
                goto out;
            }
            resend[cmds[k].entry] = ns;
            any_noscript = any_noscript || ns;
        }
        rbcluster_replies_free(r, nr);
        r = NULL;
        if (any_noscript) {             /* the script cache was flushed: send the script itself */
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (!resend[i]) {
                    continue;
                }
                if (sv_decode(s, entries->element[i]->element[1], &row, why, sizeof why) != FEATD_OK ||
                    sv_queue_write(s, c, &row, true, err, errlen) != FEATD_OK) {
                    goto out;
                }
                cmds[m++] = (struct sv_cmd){ i, SV_WRITE };
            }
            if (sv_exec(c, &r, &nr, err, errlen) != FEATD_OK) {
                goto out;
            }
            for (size_t k = 0; k < nr && k < m; k++) {
                bool ns = false;
                if (sv_write_reply(s, r[k], events[cmds[k].entry], &written, &stale, &ns, err, errlen) !=
                        FEATD_OK || ns) {
                    if (ns) {
                        util_seterr(err, errlen, "NOSCRIPT after EVAL");
                    }
                    goto out;
                }
            }
            rbcluster_replies_free(r, nr);
            r = NULL;
        }
    }
    /* everything is in Redis: acknowledge, and add the counts to the status */
    {
        size_t argc = 3 + n;
        const char **argv = malloc(argc * sizeof(char *));
        size_t *lens = malloc(argc * sizeof(size_t));
        if (argv == NULL || lens == NULL) {
            free(argv);
            free(lens);
            util_seterr(err, errlen, "out of memory");
            goto out;
        }
        argv[0] = "XACK";
        argv[1] = s->v->stream_key;
        argv[2] = s->v->stream_group;
        for (size_t i = 0; i < 3; i++) {
            lens[i] = strlen(argv[i]);
        }
        for (size_t i = 0; i < n; i++) {
            argv[3 + i] = entries->element[i]->element[0]->str;
            lens[3 + i] = entries->element[i]->element[0]->len;
        }
        int q = rbcluster_append(c, s->v->stream_key, strlen(s->v->stream_key), (int)argc, argv, lens,
                                 err, errlen);
        free(argv);
        free(lens);
        if (q != FEATD_OK || sv_status_key(s) != FEATD_OK) {
            goto out;
        }
        char nw[24], nst[24], nrj[24];
        snprintf(nw, sizeof nw, "%llu", (unsigned long long)written);
        snprintf(nst, sizeof nst, "%llu", (unsigned long long)stale);
        snprintf(nrj, sizeof nrj, "%llu", (unsigned long long)rejected);
        const char *h1[] = { "HINCRBY", s->key.data, "written", nw };
        const char *h2[] = { "HINCRBY", s->key.data, "stale", nst };
        const char *h3[] = { "HINCRBY", s->key.data, "rejected", nrj };
        size_t l1[] = { 7, s->key.len, 7, strlen(nw) }, l2[] = { 7, s->key.len, 5, strlen(nst) },
               l3[] = { 7, s->key.len, 8, strlen(nrj) };
        if (rbcluster_append(c, s->key.data, s->key.len, 4, h1, l1, err, errlen) != FEATD_OK ||
            rbcluster_append(c, s->key.data, s->key.len, 4, h2, l2, err, errlen) != FEATD_OK ||
            rbcluster_append(c, s->key.data, s->key.len, 4, h3, l3, err, errlen) != FEATD_OK ||
            sv_exec(c, &r, &nr, err, errlen) != FEATD_OK) {
            goto out;
        }
        if (nr < 1 || r[0]->type != REDIS_REPLY_INTEGER) {
            util_seterr(err, errlen, "XACK %s: %s", s->v->stream_key,
                        nr >= 1 && r[0]->type == REDIS_REPLY_ERROR ? r[0]->str : "unexpected reply");
            goto out;
        }
    }
    stream_stats_count(s->v->metrics_slot, STREAM_WRITTEN, written);
    stream_stats_count(s->v->metrics_slot, STREAM_STALE, stale);
    stream_stats_count(s->v->metrics_slot, STREAM_REJECTED, rejected);
    if (rejected > 0) {
        log_warn("stream", "view %s: %llu entr%s of %s sent to %s (see the reason field there)",
                 s->v->name, (unsigned long long)rejected, rejected == 1 ? "y" : "ies",
                 s->v->stream_key, s->dead_key);
    }
    rc = (long)n;
out:
    rbcluster_discard(c);
    rbcluster_replies_free(r, nr);
    free(cmds);
    free(events);
    free(resend);
    return rc;
}

long stream_view_round(struct stream_view *s, struct rbcluster *c, int block_ms, char *err,
                       size_t errlen)
{
    if (!s->group_ready && sv_group(s, c, err, errlen) != FEATD_OK) {
        return -1;
    }
    int64_t now = util_mono_us();
    if (now >= s->next_lag_us) {
        sv_lag(s, c);
        s->next_lag_us = now + (int64_t)STREAM_LAG_EVERY_MS * 1000;
    }
    char count[16], idle[16], block[16];
    snprintf(count, sizeof count, "%d", STREAM_BATCH);
    snprintf(idle, sizeof idle, "%d", STREAM_CLAIM_IDLE_MS);
    snprintf(block, sizeof block, "%d", block_ms);
    redisReply *r;
    bool autoclaim = false;
    enum { READ_BACKLOG, READ_CLAIM, READ_NEW } what;
    if (!s->backlog_done) {
        what = READ_BACKLOG;
        const char *argv[] = { "XREADGROUP", "GROUP", s->v->stream_group, s->consumer, "COUNT", count,
                               "STREAMS", s->v->stream_key, "0" };
        r = sv_one(c, s->v->stream_key, 9, argv, err, errlen);
    } else if (now >= s->next_claim_us) {
        what = READ_CLAIM;
        autoclaim = true;
        const char *argv[] = { "XAUTOCLAIM", s->v->stream_key, s->v->stream_group, s->consumer, idle,
                               s->claim_cursor[0] ? s->claim_cursor : "0-0", "COUNT", count };
        r = sv_one(c, s->v->stream_key, 8, argv, err, errlen);
    } else {
        what = READ_NEW;
        const char *argv[] = { "XREADGROUP", "GROUP", s->v->stream_group, s->consumer, "COUNT", count,
                               "BLOCK", block, "STREAMS", s->v->stream_key, ">" };
        r = sv_one(c, s->v->stream_key, 11, argv, err, errlen);
    }
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        util_seterr(err, errlen, "reading %s: %s", s->v->stream_key, r->str);
        if (sv_is_error(r, "NOGROUP")) {
            s->group_ready = false;     /* the stream or group was deleted: make it again */
            s->backlog_done = false;
        }
        freeReplyObject(r);
        return -1;
    }
    const redisReply *entries = sv_entries(r, autoclaim);
    long got = entries != NULL && entries->elements > 0 ? sv_apply(s, c, entries, err, errlen) : 0;
    if (got >= 0) {
        if (what == READ_BACKLOG && (entries == NULL || entries->elements == 0)) {
            s->backlog_done = true;
        } else if (what == READ_CLAIM) {
            const redisReply *cur = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? r->element[0] : NULL;
            bool more = cur != NULL && cur->type == REDIS_REPLY_STRING && strcmp(cur->str, "0-0") != 0;
            util_strlcpy(s->claim_cursor, more ? cur->str : "0-0", sizeof s->claim_cursor);
            if (!more) {
                s->next_claim_us = now + (int64_t)STREAM_CLAIM_EVERY_MS * 1000;
            }
        }
    }
    freeReplyObject(r);
    return got;
}
