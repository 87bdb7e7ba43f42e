/*
 * online_writer.c — the one pipelined row writer (contract in online_writer.h).
 * Commands are formatted as RESP here (redis/rcmd: no printf-style parsing
 * per row) and handed to hiredis with redisAppendFormattedCommand; at most
 * one batch is in flight while the next is built.
 */
#include "online/online_writer.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "core/log.h"
#include "redis/rbcluster.h"
#include "redis/rblock.h"
#include "redis/rcmd.h"
#include "redis/rslot.h"

#define WRITER_MAX_BYTES (4u << 20)     /* cut a batch at this many bytes */
#define LIT(s) s, sizeof(s) - 1           /* a string literal and its length */
/* Cluster mode: how long a batch is resent after a connection failure
 * (a master failing over to its replica) before the writer gives up. */
#define ONLINE_WRITER_RETRY_MS 20000
#define ONLINE_WRITER_RETRY_SLEEP_MS 250

/*
 * Last-write-wins upsert. KEYS[1] = entity key, ARGV[1] = field (the
 * generation), ARGV[2] = new row, ARGV[3] = PEXPIREAT instant in ms.
 * Compares the (event_ts, created_ts) header of the new row with the stored
 * one byte by byte (string.byte: safe with embedded NULs; an absent created
 * time is eight zero bytes) and writes only when new >= stored. A stored
 * value shorter than a header (not a row of ours) is overwritten. The key's
 * expiry only ever moves later (its fields may belong to several views).
 * The "#!lua" shebang declares the script's flags (none): Redis 7 then
 * treats every call as a write, so a replica reached through
 * read_from_replicas answers MOVED to its master (the route follows it)
 * instead of running it and failing on READONLY; the script touches only
 * KEYS[1], as shebang scripts must.
 * Returns 1 written, 0 skipped. Shared with pushed rows (online_push.h):
 * they carry no created time, so for them it is "stale iff the stored
 * event time is strictly newer".
 */
const char online_upsert_lua[] =
    "#!lua\n"    /* Redis 7 script flags: none, so the script counts as a write (see above) */
    "local function ts(r, i)\n"
    "  if i <= 8 or string.byte(r, 1) >= 128 then return string.byte(r, 1 + i) or 0 end\n"
    "  return 0\n"
    "end\n"
    "local new = ARGV[2]\n"
    "local old = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if old and #old >= 9 then\n"
    "  for i = 1, 16 do\n"
    "    local a, b = ts(new, i), ts(old, i)\n"
    "    if a ~= b then\n"
    "      if a < b then return 0 end\n"
    "      break\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], new)\n"
    "local at = tonumber(ARGV[3])\n"
    "local cur = redis.call('PEXPIRETIME', KEYS[1])\n"
    "if cur < 0 or cur < at then redis.call('PEXPIREAT', KEYS[1], at) end\n"
    "return 1\n";

enum pend_kind {
    PEND_HSET = 0,      /* HSET: one row */
    PEND_EXPIRE,        /* PEXPIREAT ... NX|GT: the row's key expiry */
    PEND_UPSERT         /* EVALSHA: one row, replayable */
};

/* One command of a batch. Upserts keep their key, field and row (in the
 * batch's keep buffer) so that they can be replayed with EVAL after
 * NOSCRIPT. */
struct pend {
    enum pend_kind kind;
    size_t off;         /* upsert: key at keep[off], field and row right after it */
    size_t keylen;
    size_t fieldlen;
    size_t vallen;
    int64_t pxat;       /* upsert: expiry in ms */
    size_t roff, rlen;  /* cluster mode: the command's RESP in out */
    unsigned slot;      /* cluster mode: its key's slot */
};

/* A batch: the commands of out (building) or of what was sent (in flight). */
struct batch {
    struct pend *pend;
    size_t n, cap;
    struct fbuf keep;   /* upserts' keys, fields and rows */
    bool has_upsert;
};

struct online_writer {
    redisContext *c;                /* not owned; NULL in cluster mode */
    struct rbcluster *rc;           /* not owned; NULL: a plain context */
    bool cluster;                   /* rc is a cluster: per-node pipelines */
    uint64_t epoch;                 /* single node via rc: its connects when c was taken */
    unsigned slot;                  /* cluster mode: slot of the prepared key */
    const struct cfg_view *v;       /* not owned; must outlive the writer */
    size_t batch;                   /* rows per batch */
    struct fbuf rowpfx;             /* "P:v2:{" */
    struct fbuf key;                /* scratch: one entity key */
    struct fbuf row;                /* scratch: one encoded row */
    char field[ONLINE_FIELD_MAX];   /* the generation's field */
    size_t fieldlen;
    uint64_t gen;                   /* generation of field (0 = none yet) */
    struct fbuf out;                /* RESP of the batch being built */
    size_t nrows;                   /* rows in out */
    struct batch b[2];              /* b[cur] building, b[!cur] in flight */
    int cur;
    char sha[48];                   /* SCRIPT LOAD result of online_upsert_lua */
    bool have_sha;
    uint64_t rate;                  /* rows/s, 0 = unpaced */
    online_writer_pacer pacer;      /* called after each batch (may change rate) */
    void *pacer_arg;
    uint64_t paced_rows;            /* rows sent since paced_start */
    int64_t paced_start;            /* monotonic µs */
    uint64_t written;
    uint64_t skipped;
    bool have_err;                  /* err holds the first error since the last report */
    char err[512];
};

struct online_writer *online_writer_new(redisContext *c, const char *key_prefix,
                                        const struct cfg_view *v, size_t batch)
{
    struct online_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    if (online_key_row_prefix(&w->rowpfx, key_prefix ? key_prefix : "") != FEATD_OK) {
        fbuf_free(&w->rowpfx);
        free(w);
        return NULL;
    }
    w->c = c;
    w->v = v;
    w->batch = batch ? batch : 1;
    return w;
}

struct online_writer *online_writer_new_rb(struct rbcluster *rc, const char *key_prefix,
                                           const struct cfg_view *v, size_t batch)
{
    redisContext *c = NULL;
    bool cluster = rbcluster_is_cluster(rc);
    if (!cluster) {
        char ignored[256];
        c = rbcluster_master_ctx(rc, 0, ignored, sizeof ignored);   /* NULL: fails at first use */
    }
    struct online_writer *w = online_writer_new(c, key_prefix, v, batch);
    if (w != NULL) {
        w->rc = rc;
        w->cluster = cluster;
        w->epoch = rbcluster_stats(rc)->connects;
    }
    return w;
}

/* Single node through rc: forgets c when rc has connected since c was
 * taken (c may have been replaced and freed: what was in flight is lost). */
static void check_epoch(struct online_writer *w)
{
    if (w->rc != NULL && !w->cluster && w->c != NULL &&
        rbcluster_stats(w->rc)->connects != w->epoch) {
        w->c = NULL;
    }
}

/* Records a printf-style error unless one is already waiting: the first
 * error since the last report() wins, later ones are dropped (they are
 * usually its consequences). Writer's thread, like every call on w. */
static void note_err(struct online_writer *w, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void note_err(struct online_writer *w, const char *fmt, ...)
{
    if (w->have_err) {
        return;
    }
    w->have_err = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
}

/* note_err for a failure of the connection itself, worded by rblock. */
static void note_ctx_err(struct online_writer *w, const char *what)
{
    if (!w->have_err) {
        w->have_err = true;
        rblock_seterr(w->c, what, w->err, sizeof(w->err));
    }
}

/* Hands the recorded error to the caller: FEATD_ERR when there was one. */
static int report(struct online_writer *w, char *err, size_t errlen)
{
    if (!w->have_err) {
        return FEATD_OK;
    }
    util_seterr(err, errlen, "%s", w->err);
    w->have_err = false;
    return FEATD_ERR;
}

static void batch_reset(struct batch *b)
{
    b->n = 0;
    b->has_upsert = false;
    fbuf_reset(&b->keep);
}

static struct pend *batch_add(struct batch *b)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        struct pend *np = realloc(b->pend, ncap * sizeof(*np));
        if (np == NULL) {
            return NULL;
        }
        b->pend = np;
        b->cap = ncap;
    }
    return &b->pend[b->n++];
}

/* Accounts for one reply. Returns true for a NOSCRIPT error on an upsert
 * (the caller replays it). */
static bool account(struct online_writer *w, const struct pend *p, const redisReply *r)
{
    static const char *const what[] = { "HSET", "PEXPIREAT", "upsert" };
    if (r->type == REDIS_REPLY_ERROR) {
        if (p->kind == PEND_UPSERT && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0) {
            return true;
        }
        if (!w->have_err) {
            w->have_err = true;
            rblock_seterr_reply(w->c, what[p->kind], r, w->err, sizeof(w->err));
        }
    } else if (r->type != REDIS_REPLY_INTEGER) {
        note_err(w, "redis %s: unexpected reply type %d", what[p->kind], r->type);
    } else if (p->kind == PEND_HSET) {
        w->written++;
    } else if (p->kind == PEND_UPSERT) {
        if (r->integer == 1) {
            w->written++;
        } else if (r->integer == 0) {
            w->skipped++;
        } else {
            note_err(w, "redis upsert: unexpected reply %lld", (long long)r->integer);
        }
    }
    return false;
}

static int append_eval(struct online_writer *w, const struct pend *p, const char *k)
{
    return redisAppendCommand(w->c, "EVAL %s 1 %b %b %b %lld", online_upsert_lua, k, p->keylen,
                              k + p->keylen, p->fieldlen, k + p->keylen + p->fieldlen, p->vallen,
                              (long long)p->pxat) == REDIS_OK ? FEATD_OK : FEATD_ERR;
}

/* Replays the upserts b->pend[0..n) (compacted NOSCRIPT ones) with EVAL,
 * which also caches the script again under the same SHA for later EVALSHAs
 * (the script cache was flushed: SCRIPT FLUSH, restart, failover). */
static int replay_noscript(struct online_writer *w, struct batch *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct pend *p = &b->pend[i];
        if (append_eval(w, p, b->keep.data + p->off) != FEATD_OK) {
            note_err(w, "redis: cannot append command (out of memory)");
            n = i;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        void *rv = NULL;
        if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
            note_ctx_err(w, "pipeline");
            return FEATD_ERR;
        }
        if (account(w, &b->pend[i], rv)) {
            note_err(w, "redis upsert: NOSCRIPT after EVAL");
        }
        freeReplyObject(rv);
    }
    return FEATD_OK;
}

/* Reads every reply of batch b (sent), accounting rows and replaying
 * NOSCRIPT upserts; b is empty afterwards. */
static void read_batch(struct online_writer *w, struct batch *b)
{
    size_t nretry = 0;
    for (size_t i = 0; i < b->n; i++) {
        void *rv = NULL;
        if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
            note_ctx_err(w, "pipeline");
            batch_reset(b);
            return;     /* the context is dead; nothing more to read */
        }
        if (account(w, &b->pend[i], rv)) {
            b->pend[nretry++] = b->pend[i];   /* compact the NOSCRIPT ones in place */
        }
        freeReplyObject(rv);
    }
    if (nretry > 0) {
        (void)replay_noscript(w, b, nretry);
    }
    batch_reset(b);
}

/* Sleeps until the rows sent so far have had their share of time at w->rate. */
static void pace(struct online_writer *w, size_t rows)
{
    int64_t now = util_mono_us();
    if (w->paced_start == 0) {
        w->paced_start = now;
    }
    w->paced_rows += rows;
    int64_t due = w->paced_start + (int64_t)(w->paced_rows * 1000000 / w->rate);
    if (due > now) {
        struct timespec ts = { (time_t)((due - now) / 1000000),
                               (long)((due - now) % 1000000) * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* Forgets the batch being built (nothing of it was sent). */
static void drop_building(struct online_writer *w)
{
    batch_reset(&w->b[w->cur]);
    fbuf_reset(&w->out);
    w->nrows = 0;
}

/* After each batch: the pacer, then the rate limit. */
static void after_batch(struct online_writer *w, size_t rows)
{
    if (w->pacer != NULL) {
        w->pacer(w->pacer_arg, w);
    }
    if (w->rate > 0) {
        pace(w, rows);
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A reply that says the cluster cannot take the command now (a failover in
 * progress): the batch is resent like after a connection failure. */
static bool cluster_busy(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && r->len >= 11 &&
           memcmp(r->str, "CLUSTERDOWN", 11) == 0;
}

/* Cluster mode: EVAL for the NOSCRIPT upserts b->pend[0..n) (a node that
 * never saw SCRIPT LOAD: a promoted replica, a flushed cache), routed by
 * their keys. FEATD_ERR when the exec failed (connection). */
static int replay_cluster(struct online_writer *w, struct batch *b, size_t n, char *why,
                          size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        const struct pend *p = &b->pend[i];
        const char *k = b->keep.data + p->off;
        char at[24];
        size_t atlen = rcmd_put_dec(at, (uint64_t)p->pxat);
        const char *argv[7] = { "EVAL", online_upsert_lua, "1", k, k + p->keylen,
                                k + p->keylen + p->fieldlen, at };
        size_t lens[7] = { 4, sizeof(online_upsert_lua) - 1, 1, p->keylen, p->fieldlen,
                           p->vallen, atlen };
        if (rbcluster_append(w->rc, k, p->keylen, 7, argv, lens, why, whylen) != FEATD_OK) {
            rbcluster_discard(w->rc);
            note_err(w, "%s", why);
            return FEATD_OK;
        }
    }
    redisReply **rep = NULL;
    size_t nrep = 0;
    if (rbcluster_exec(w->rc, &rep, &nrep, why, whylen) != FEATD_OK) {
        return FEATD_ERR;
    }
    for (size_t i = 0; i < nrep && i < n; i++) {
        if (account(w, &b->pend[i], rep[i])) {
            note_err(w, "redis upsert: NOSCRIPT after EVAL");
        }
    }
    rbcluster_replies_free(rep, nrep);
    return FEATD_OK;
}

/*
 * Cluster mode: the batch being built as one pipeline per node
 * (rbcluster_exec follows MOVED/ASK/TRYAGAIN), read before returning (no
 * batch stays in flight). A connection failure or CLUSTERDOWN (a master
 * failing over) refreshes the map and resends the whole batch — every
 * command of it is idempotent (HSET of a row, PEXPIREAT NX|GT, the LWW
 * script) — for up to ONLINE_WRITER_RETRY_MS, then fails the writer.
 */
static void send_cluster(struct online_writer *w)
{
    struct batch *b = &w->b[w->cur];
    size_t rows = w->nrows;
    char why[512] = "";
    int64_t give_up = util_mono_us() + (int64_t)ONLINE_WRITER_RETRY_MS * 1000;
    for (int attempt = 0; b->n > 0; attempt++) {
        bool failed = false;
        for (size_t i = 0; i < b->n && !failed; i++) {
            const struct pend *p = &b->pend[i];
            if (rbcluster_append_resp(w->rc, p->slot, w->out.data + p->roff, p->rlen, why,
                                      sizeof why) != FEATD_OK) {
                rbcluster_discard(w->rc);
                note_err(w, "%s", why);
                goto out;
            }
        }
        redisReply **rep = NULL;
        size_t nrep = 0;
        failed = rbcluster_exec(w->rc, &rep, &nrep, why, sizeof why) != FEATD_OK;
        for (size_t i = 0; !failed && i < nrep; i++) {
            if (cluster_busy(rep[i])) {
                snprintf(why, sizeof why, "redis cluster: %.400s", rep[i]->str);
                failed = true;
            }
        }
        if (!failed) {
            size_t nretry = 0;
            for (size_t i = 0; i < nrep && i < b->n; i++) {
                if (account(w, &b->pend[i], rep[i])) {
                    b->pend[nretry++] = b->pend[i];   /* compact the NOSCRIPT ones */
                }
            }
            rbcluster_replies_free(rep, nrep);
            if (nretry == 0 || replay_cluster(w, b, nretry, why, sizeof why) == FEATD_OK) {
                break;
            }
            /* the replay's connection failed: resend those upserts only */
            b->n = nretry;
            for (size_t i = 0; i < b->n; i++) {
                b->pend[i].slot = rslot_of_key(b->keep.data + b->pend[i].off, b->pend[i].keylen);
            }
            failed = true;
        } else {
            rbcluster_replies_free(rep, nrep);
        }
        if (util_mono_us() >= give_up) {
            note_err(w, "%s (resent for %d s)", why, ONLINE_WRITER_RETRY_MS / 1000);
            break;
        }
        if (attempt == 0) {
            log_warn("online", "view %s: a batch of %zu commands failed (%s); refreshing the "
                     "cluster map and resending for up to %d s", w->v->name, b->n, why,
                     ONLINE_WRITER_RETRY_MS / 1000);
        }
        sleep_ms(ONLINE_WRITER_RETRY_SLEEP_MS);
        char rerr[600];
        if (rbcluster_refresh(w->rc, rerr, sizeof rerr) != FEATD_OK) {
            log_debug("online", "view %s: %s", w->v->name, rerr);   /* counted; retried */
        }
    }
out:
    batch_reset(b);
    fbuf_reset(&w->out);
    w->nrows = 0;
    after_batch(w, rows);
}

/*
 * Writes the batch being built, then reads the replies of the batch in
 * flight before it; the new batch stays in flight unless sync is set or it
 * holds upserts (then its replies are read too). Errors are recorded.
 */
static void send_batch(struct online_writer *w, bool sync)
{
    if (w->cluster) {
        send_cluster(w);
        return;
    }
    check_epoch(w);
    struct batch *b = &w->b[w->cur];
    struct batch *prev = &w->b[!w->cur];
    bool sent = false;
    if (w->c == NULL) {
        if (b->n > 0 || prev->n > 0) {
            note_ctx_err(w, "pipeline");
        }
        batch_reset(prev);
    } else if (b->n > 0 && w->c->err) {
        note_ctx_err(w, "pipeline");
    } else if (b->n > 0) {
        if (redisAppendFormattedCommand(w->c, w->out.data, w->out.len) != REDIS_OK) {
            note_err(w, "redis: cannot append command (out of memory)");
        } else {
            int done = 0;
            while (!done && redisBufferWrite(w->c, &done) == REDIS_OK) {
            }
            sent = done != 0;
            if (!sent) {
                note_ctx_err(w, "pipeline");
            }
        }
    }
    if (prev->n > 0 && w->c != NULL) {
        read_batch(w, prev);
    }
    size_t rows = w->nrows;
    if (!sent) {
        drop_building(w);   /* the failed batch is dropped (error recorded) */
        return;
    }
    fbuf_reset(&w->out);
    w->nrows = 0;
    w->cur = !w->cur;   /* b is in flight now; prev (empty) is built next */
    after_batch(w, rows);
    if (sync || b->has_upsert) {
        read_batch(w, b);
    }
}

void online_writer_discard(struct online_writer *w)
{
    drop_building(w);
}

void online_writer_free(struct online_writer *w)
{
    if (w == NULL) {
        return;
    }
    /* Read the replies of the batch in flight so that the caller's context
     * stays in step; the batch being built is dropped unsent (a stopped or
     * failed run must not keep writing, nor pace, on its way out). */
    struct batch *prev = &w->b[!w->cur];
    check_epoch(w);
    if (w->c != NULL && prev->n > 0 && !w->c->err) {
        read_batch(w, prev);
    }
    fbuf_free(&w->rowpfx);
    fbuf_free(&w->key);
    fbuf_free(&w->row);
    fbuf_free(&w->out);
    for (int i = 0; i < 2; i++) {
        free(w->b[i].pend);
        fbuf_free(&w->b[i].keep);
    }
    free(w);
}

int online_writer_flush(struct online_writer *w, char *err, size_t errlen)
{
    check_epoch(w);
    if (w->c == NULL && !w->cluster) {
        rblock_seterr(NULL, "pipeline", err, errlen);
        return FEATD_ERR;
    }
    send_batch(w, true);
    return report(w, err, errlen);
}

void online_writer_set_rate(struct online_writer *w, uint64_t rows_per_second)
{
    w->rate = rows_per_second;
    w->paced_rows = 0;
    w->paced_start = 0;
}

void online_writer_set_pacer(struct online_writer *w, online_writer_pacer fn, void *arg)
{
    w->pacer = fn;
    w->pacer_arg = arg;
}

uint64_t online_writer_written(const struct online_writer *w)
{
    return w->written;
}

uint64_t online_writer_skipped(const struct online_writer *w)
{
    return w->skipped;
}

/* Common front half of put/upsert: connection and expiry checks, key and
 * row encoding into w->key and w->row. Returns FEATD_OK, FEATD_EAGAIN
 * (expired: skipped) or FEATD_ERR. */
static int prepare(struct online_writer *w, const char *what, uint64_t gen,
                   const struct online_key *keys, int64_t event_ts_us, int64_t created_ts_us,
                   const struct online_value *vals, int64_t *pxat, char *err, size_t errlen)
{
    check_epoch(w);
    if (!w->cluster && (w->c == NULL || w->c->err)) {
        rblock_seterr(w->c, what, err, errlen);
        return FEATD_ERR;
    }
    if (gen == 0) {
        util_seterr(err, errlen, "view %s: generation 0 is never read; allocate one",
                    w->v->name);
        return FEATD_ERR;
    }
    int64_t at = online_row_expire_at_ms(w->v, event_ts_us);
    if (at != 0 && at <= util_now_us() / 1000) {
        w->skipped++;
        return FEATD_EAGAIN;
    }
    *pxat = at != 0 && at < ONLINE_WRITER_NO_EXPIRY_MS ? at : ONLINE_WRITER_NO_EXPIRY_MS;
    if (gen != w->gen) {
        w->fieldlen = online_key_field(w->field, gen);
        w->gen = gen;
    }
    fbuf_reset(&w->key);
    fbuf_reset(&w->row);
    if (fbuf_append(&w->key, w->rowpfx.data, w->rowpfx.len) != FEATD_OK ||
        online_key_entity(&w->key, w->v, keys) != FEATD_OK ||
        online_key_row_end(&w->key) != FEATD_OK) {
        util_seterr(err, errlen, "view %s: cannot build the row key (bad join key)",
                    w->v->name);
        return FEATD_ERR;
    }
    if (w->cluster) {
        w->slot = rslot_of_key(w->key.data, w->key.len);
    }
    if (online_row_encode(&w->row, w->v, event_ts_us, created_ts_us, vals) != FEATD_OK) {
        util_seterr(err, errlen,
                    "view %s: cannot encode the row (bad list value or out of memory)",
                    w->v->name);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* Back half: sends the batch when full; reports errors recorded so far. */
static int after_append(struct online_writer *w, char *err, size_t errlen)
{
    if (w->nrows >= w->batch || w->out.len >= WRITER_MAX_BYTES) {
        send_batch(w, false);
    }
    return report(w, err, errlen);
}

/* Appends the bulks of the prepared entity key, generation field and row. */
static int put_key_field_row(struct online_writer *w)
{
    if (rcmd_put_bulk(&w->out, w->key.data, w->key.len) != FEATD_OK ||
        rcmd_put_bulk(&w->out, w->field, w->fieldlen) != FEATD_OK ||
        rcmd_put_bulk(&w->out, w->row.data, w->row.len) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* Appends "PEXPIREAT key at [flag]" (flag: "NX", "GT" or NULL). */
static int put_expire(struct online_writer *w, const char *at, size_t atlen, const char *flag)
{
    size_t roff = w->out.len;
    struct pend *p = batch_add(&w->b[w->cur]);
    if (p == NULL || rcmd_put_hdr(&w->out, '*', flag ? 4 : 3) != FEATD_OK ||
        fbuf_append(&w->out, LIT("$9\r\nPEXPIREAT\r\n")) != FEATD_OK ||
        rcmd_put_bulk(&w->out, w->key.data, w->key.len) != FEATD_OK ||
        rcmd_put_bulk(&w->out, at, atlen) != FEATD_OK ||
        (flag != NULL && rcmd_put_bulk(&w->out, flag, 2) != FEATD_OK)) {
        return FEATD_ENOMEM;
    }
    *p = (struct pend){ .kind = PEND_EXPIRE, .roff = roff, .rlen = w->out.len - roff,
                        .slot = w->slot };
    return FEATD_OK;
}

/*
 * HSET key field row, then the key's expiry: PEXPIREAT ... NX sets it on a
 * key that has none (just created), PEXPIREAT ... GT moves it later when
 * this row lives longer than the key's other fields. A row without storage
 * expiry (ttl 0) sets ONLINE_WRITER_NO_EXPIRY_MS with one plain PEXPIREAT:
 * no row's expiry is later, so it never shortens the key's life.
 */
int online_writer_put(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                      int64_t event_ts_us, int64_t created_ts_us,
                      const struct online_value *vals, char *err, size_t errlen)
{
    int64_t at = 0;
    int rc = prepare(w, "HSET", gen, keys, event_ts_us, created_ts_us, vals, &at, err, errlen);
    if (rc != FEATD_OK) {
        return rc;
    }
    struct batch *b = &w->b[w->cur];
    size_t out_mark = w->out.len, npend = b->n;
    char ms[24];
    size_t n = rcmd_put_dec(ms, (uint64_t)at);
    struct pend *p = batch_add(b);
    rc = p ? fbuf_append(&w->out, LIT("*4\r\n$4\r\nHSET\r\n")) : FEATD_ENOMEM;
    if (rc == FEATD_OK) {
        rc = put_key_field_row(w);
        *p = (struct pend){ .kind = PEND_HSET, .roff = out_mark, .rlen = w->out.len - out_mark,
                            .slot = w->slot };
    }
    if (rc == FEATD_OK && at == ONLINE_WRITER_NO_EXPIRY_MS) {
        rc = put_expire(w, ms, n, NULL);
    } else {
        if (rc == FEATD_OK) {
            rc = put_expire(w, ms, n, "NX");
        }
        if (rc == FEATD_OK) {
            rc = put_expire(w, ms, n, "GT");
        }
    }
    if (rc != FEATD_OK) {
        /* drop a half-appended command: it would desynchronize the pipeline */
        w->out.len = out_mark;
        b->n = npend;
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    w->nrows++;
    return after_append(w, err, errlen);
}

/* Cluster mode: SCRIPT LOAD on every master (one SHA: the script's). A
 * master that misses it later answers NOSCRIPT and gets an EVAL. */
static int load_script_cluster(struct online_writer *w, char *err, size_t errlen)
{
    size_t nm = rbcluster_nmasters(w->rc);
    for (size_t k = 0; k < nm; k++) {
        redisContext *c = rbcluster_master_ctx(w->rc, k, err, errlen);
        redisReply *r = c == NULL ? NULL
                                  : rblock_command(c, err, errlen, "SCRIPT LOAD",
                                                   "SCRIPT LOAD %s", online_upsert_lua);
        if (r == NULL) {
            return FEATD_ERR;
        }
        bool ok = r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof(w->sha);
        if (ok && !w->have_sha) {
            memcpy(w->sha, r->str, r->len);
            w->sha[r->len] = '\0';
            w->have_sha = true;
        } else if (!ok) {
            rblock_seterr_reply(c, "SCRIPT LOAD", r, err, errlen);
        }
        freeReplyObject(r);
        if (!ok) {
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* Loads the upsert script once per writer (sending and reading what is
 * pending first: a blocking command must not interleave with pipelined
 * replies). */
static int load_script(struct online_writer *w, char *err, size_t errlen)
{
    if (online_writer_flush(w, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (w->cluster) {
        return load_script_cluster(w, err, errlen);
    }
    redisReply *r = rblock_command(w->c, err, errlen, "SCRIPT LOAD", "SCRIPT LOAD %s",
                                   online_upsert_lua);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc = FEATD_ERR;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < sizeof(w->sha)) {
        memcpy(w->sha, r->str, r->len);
        w->sha[r->len] = '\0';
        w->have_sha = true;
        rc = FEATD_OK;
    } else {
        rblock_seterr_reply(w->c, "SCRIPT LOAD", r, err, errlen);
    }
    freeReplyObject(r);
    return rc;
}

int online_writer_upsert(struct online_writer *w, uint64_t gen, const struct online_key *keys,
                         int64_t event_ts_us, int64_t created_ts_us,
                         const struct online_value *vals, char *err, size_t errlen)
{
    check_epoch(w);
    if (!w->have_sha && (w->cluster || (w->c != NULL && !w->c->err)) &&
        load_script(w, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    int64_t at = 0;
    int rc = prepare(w, "upsert", gen, keys, event_ts_us, created_ts_us, vals, &at, err, errlen);
    if (rc != FEATD_OK) {
        return rc;
    }
    struct batch *b = &w->b[w->cur];
    size_t off = b->keep.len;
    char ms[24];
    size_t n = rcmd_put_dec(ms, (uint64_t)at);
    size_t shalen = strlen(w->sha);
    struct pend *p = NULL;
    size_t out_mark = w->out.len, npend = b->n;
    rc = fbuf_append(&b->keep, w->key.data, w->key.len);
    if (rc == FEATD_OK) {
        rc = fbuf_append(&b->keep, w->field, w->fieldlen);
    }
    if (rc == FEATD_OK) {
        rc = fbuf_append(&b->keep, w->row.data, w->row.len);
    }
    if (rc == FEATD_OK) {
        p = batch_add(b);
        rc = p ? fbuf_append(&w->out, LIT("*7\r\n$7\r\nEVALSHA\r\n")) : FEATD_ENOMEM;
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(&w->out, w->sha, shalen);
    }
    if (rc == FEATD_OK) {
        rc = fbuf_append(&w->out, LIT("$1\r\n1\r\n"));
    }
    if (rc == FEATD_OK) {
        rc = put_key_field_row(w);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(&w->out, ms, n);
    }
    if (rc != FEATD_OK) {
        /* drop a half-appended command: it would desynchronize the pipeline */
        w->out.len = out_mark;
        b->n = npend;
        b->keep.len = off;
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    *p = (struct pend){ .kind = PEND_UPSERT, .off = off, .keylen = w->key.len,
                        .fieldlen = w->fieldlen, .vallen = w->row.len, .pxat = at,
                        .roff = out_mark, .rlen = w->out.len - out_mark, .slot = w->slot };
    b->has_upsert = true;
    w->nrows++;
    return after_append(w, err, errlen);
}
