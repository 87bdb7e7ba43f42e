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
#include "redis/rblock.h"
#include "redis/rcmd.h"

#define WRITER_MAX_BYTES (4u << 20)     /* cut a batch at this many bytes */
#define LIT(s) s, sizeof(s) - 1           /* a string literal and its length */
/* The key expiry of rows without a storage expiry (ttl 0): 2500-01-01, later
 * than any other row's, so that the key outlives every field it holds. */
#define ONLINE_WRITER_NO_EXPIRY_MS 16725225600000LL

/*
 * Last-write-wins upsert. KEYS[1] = entity key, ARGV[1] = field (the
 * generation), ARGV[2] = new row, ARGV[3] = PEXPIREAT instant in ms.
 * Compares the (event_ts, created_ts) header of the new row with the stored
 * one byte by byte (string.byte: safe with embedded NULs; an absent created
 * time is eight zero bytes) and writes only when new >= stored. A stored
 * value shorter than a header (not a row of ours) is overwritten. The key's
 * expiry only ever moves later (its fields may belong to several views).
 * Returns 1 written, 0 skipped.
 */
static const char online_upsert_lua[] =
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
};

/* A batch: the commands of out (building) or of what was sent (in flight). */
struct batch {
    struct pend *pend;
    size_t n, cap;
    struct fbuf keep;   /* upserts' keys, fields and rows */
    bool has_upsert;
};

struct online_writer {
    redisContext *c;                /* not owned */
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

/*
 * Writes the batch being built, then reads the replies of the batch in
 * flight before it; the new batch stays in flight unless sync is set or it
 * holds upserts (then its replies are read too). Errors are recorded.
 */
static void send_batch(struct online_writer *w, bool sync)
{
    struct batch *b = &w->b[w->cur];
    struct batch *prev = &w->b[!w->cur];
    bool sent = false;
    if (b->n > 0 && w->c->err) {
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
    if (prev->n > 0) {
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
    if (w->pacer != NULL) {
        w->pacer(w->pacer_arg, w);
    }
    if (w->rate > 0) {
        pace(w, rows);
    }
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
    if (w->c == NULL) {
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
    if (w->c == NULL || w->c->err) {
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
    struct pend *p = batch_add(&w->b[w->cur]);
    if (p == NULL || rcmd_put_hdr(&w->out, '*', flag ? 4 : 3) != FEATD_OK ||
        fbuf_append(&w->out, LIT("$9\r\nPEXPIREAT\r\n")) != FEATD_OK ||
        rcmd_put_bulk(&w->out, w->key.data, w->key.len) != FEATD_OK ||
        rcmd_put_bulk(&w->out, at, atlen) != FEATD_OK ||
        (flag != NULL && rcmd_put_bulk(&w->out, flag, 2) != FEATD_OK)) {
        return FEATD_ENOMEM;
    }
    *p = (struct pend){ .kind = PEND_EXPIRE };
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
        *p = (struct pend){ .kind = PEND_HSET };
        rc = put_key_field_row(w);
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

/* Loads the upsert script once per writer (sending and reading what is
 * pending first: a blocking command must not interleave with pipelined
 * replies). */
static int load_script(struct online_writer *w, char *err, size_t errlen)
{
    if (online_writer_flush(w, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
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
    if (!w->have_sha && w->c != NULL && !w->c->err && load_script(w, err, errlen) != FEATD_OK) {
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
                        .fieldlen = w->fieldlen, .vallen = w->row.len, .pxat = at };
    b->has_upsert = true;
    w->nrows++;
    return after_append(w, err, errlen);
}
