/*
 * mat_write.c — pipelined writer with one batch in flight (contract in
 * mat_write.h). Commands are formatted as RESP here (no printf-style
 * parsing per command) and handed to hiredis with
 * redisAppendFormattedCommand. Rows without a storage expiry (views with
 * ttl_seconds 0) go out as MSET of up to MAT_MSET_PAIRS rows, which costs
 * Redis markedly less per key than one SET each; rows with an expiry are
 * SET ... PXAT.
 */
#include "materialize/mat_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis/rcmd.h"
#include "core/util.h"

#define MAT_WRITER_MAX_BYTES (4u << 20)
#define MAT_MSET_PAIRS 128

struct mat_writer {
    redisContext *c;                /* not owned */
    const struct cfg_view *v;       /* not owned */
    struct fbuf prefix;             /* "P:v1:V:F:g<G>:" */
    struct fbuf key;                /* scratch: one key */
    struct fbuf row;                /* scratch: one row */
    struct fbuf out;                /* RESP of the batch being built */
    struct fbuf mset;               /* key/value bulks of the MSET being built */
    size_t npairs;                  /* rows in mset */
    size_t ncmds, nrows;            /* commands and rows in out */
    size_t inflight_cmds;           /* sent, replies not read */
    size_t inflight_rows;
    size_t batch;                   /* rows per batch */
    uint64_t written;
    uint64_t rate;                  /* rows/s, 0 = unpaced */
    uint64_t paced_rows;            /* rows sent since paced_start */
    int64_t paced_start;            /* monotonic µs */
    bool failed;
    char ferr[256];                 /* first failure */
};

static void fail(struct mat_writer *w, const char *fmt, ...) FEATD_PRINTF(2, 3);

static void fail(struct mat_writer *w, const char *fmt, ...)
{
    if (w->failed) {
        return;
    }
    w->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->ferr, sizeof(w->ferr), fmt, ap);
    va_end(ap);
}

static const char *ctx_err(const redisContext *c)
{
    if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily unavailable") != NULL) {
        return "timed out waiting for Redis (redis.timeout_ms)";
    }
    return c->errstr[0] ? c->errstr : "connection error";
}

struct mat_writer *mat_writer_new(redisContext *c, const char *key_prefix,
                                  const struct cfg_view *v, uint64_t gen, size_t batch)
{
    struct mat_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->c = c;
    w->v = v;
    w->batch = batch ? batch : 1024;
    if (gen == 0 || online_gen_prefix(&w->prefix, key_prefix, v, gen) != FEATD_OK) {
        fbuf_free(&w->prefix);
        free(w);
        return NULL;
    }
    return w;
}

/* Moves the MSET being built into the batch as one command. */
static int emit_mset(struct mat_writer *w)
{
    if (w->npairs == 0) {
        return FEATD_OK;
    }
    if (rcmd_put_hdr(&w->out, '*', 1 + 2 * w->npairs) != FEATD_OK ||
        fbuf_append(&w->out, "$4\r\nMSET\r\n", 10) != FEATD_OK ||
        fbuf_append(&w->out, w->mset.data, w->mset.len) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    w->ncmds++;
    w->nrows += w->npairs;
    w->npairs = 0;
    fbuf_reset(&w->mset);
    return FEATD_OK;
}

/* Reads the replies of the batch in flight. */
static void read_inflight(struct mat_writer *w)
{
    bool ok = true;
    for (size_t i = 0; i < w->inflight_cmds; i++) {
        void *rv = NULL;
        if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
            fail(w, "redis: %s", ctx_err(w->c));
            w->inflight_cmds = w->inflight_rows = 0;
            return;     /* the context is dead */
        }
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_ERROR) {
            fail(w, "redis SET/MSET: %.*s", (int)(r->len > 200 ? 200 : r->len), r->str);
            ok = false;
        } else if (r->type != REDIS_REPLY_STATUS) {
            fail(w, "redis SET/MSET: unexpected reply type %d", r->type);
            ok = false;
        }
        freeReplyObject(r);
    }
    if (ok) {
        w->written += w->inflight_rows;
    }
    w->inflight_cmds = w->inflight_rows = 0;
}

/* Writes the built batch, then reads the previous batch's replies. */
static void send_batch(struct mat_writer *w)
{
    if (w->failed) {
        return;
    }
    if (emit_mset(w) != FEATD_OK) {
        fail(w, "out of memory");
        return;
    }
    if (w->ncmds == 0) {
        return;
    }
    if (w->c->err) {
        fail(w, "redis: %s", ctx_err(w->c));
        return;
    }
    if (redisAppendFormattedCommand(w->c, w->out.data, w->out.len) != REDIS_OK) {
        fail(w, "redis: out of memory");
        return;
    }
    int done = 0;
    while (!done) {
        if (redisBufferWrite(w->c, &done) != REDIS_OK) {
            fail(w, "redis: %s", ctx_err(w->c));
            return;
        }
    }
    read_inflight(w);
    if (w->rate > 0) {
        /* sleep until this batch's share of time at w->rate has passed */
        int64_t now = util_mono_us();
        if (w->paced_start == 0) {
            w->paced_start = now;
        }
        w->paced_rows += w->nrows;
        int64_t due = w->paced_start + (int64_t)(w->paced_rows * 1000000 / w->rate);
        if (due > now) {
            struct timespec ts = { (time_t)((due - now) / 1000000),
                                   (long)((due - now) % 1000000) * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    w->inflight_cmds = w->ncmds;
    w->inflight_rows = w->nrows;
    w->ncmds = w->nrows = 0;
    fbuf_reset(&w->out);
}

void mat_writer_free(struct mat_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (!w->failed && w->inflight_cmds > 0) {
        read_inflight(w);
    }
    fbuf_free(&w->prefix);
    fbuf_free(&w->key);
    fbuf_free(&w->row);
    fbuf_free(&w->out);
    fbuf_free(&w->mset);
    free(w);
}

int mat_writer_put(struct mat_writer *w, const struct online_key *keys, int64_t event_ts_us,
                   int64_t created_ts_us, const struct online_value *vals, char *err,
                   size_t errlen)
{
    if (w->failed) {
        util_seterr(err, errlen, "%s", w->ferr);
        return FEATD_ERR;
    }
    int64_t at = online_expire_at_ms(w->v, event_ts_us);
    if (at != 0 && at <= util_now_us() / 1000) {
        return FEATD_EAGAIN;
    }
    fbuf_reset(&w->key);
    fbuf_reset(&w->row);
    if (fbuf_append(&w->key, w->prefix.data, w->prefix.len) != FEATD_OK ||
        online_entity_key(&w->key, w->v, keys) != FEATD_OK) {
        util_seterr(err, errlen, "view %s: cannot build the row key", w->v->name);
        return FEATD_ERR;
    }
    if (online_row_encode(&w->row, w->v, event_ts_us, created_ts_us, vals) != FEATD_OK) {
        util_seterr(err, errlen, "view %s: cannot encode the row", w->v->name);
        return FEATD_ERR;
    }
    int rc;
    if (at == 0) {
        rc = rcmd_put_bulk(&w->mset, w->key.data, w->key.len);
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(&w->mset, w->row.data, w->row.len);
        }
        if (rc == FEATD_OK && ++w->npairs >= MAT_MSET_PAIRS) {
            rc = emit_mset(w);
        }
    } else {
        char ms[24];
        size_t n = rcmd_put_dec(ms, (uint64_t)at);
        rc = fbuf_append(&w->out, "*5\r\n$3\r\nSET\r\n", 13);
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(&w->out, w->key.data, w->key.len);
        }
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(&w->out, w->row.data, w->row.len);
        }
        if (rc == FEATD_OK) {
            rc = fbuf_append(&w->out, "$4\r\nPXAT\r\n", 10);
        }
        if (rc == FEATD_OK) {
            rc = rcmd_put_bulk(&w->out, ms, n);
        }
        if (rc == FEATD_OK) {
            w->ncmds++;
            w->nrows++;
        }
    }
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "out of memory");
        fail(w, "out of memory");
        return FEATD_ERR;
    }
    if (w->nrows + w->npairs >= w->batch || w->out.len + w->mset.len >= MAT_WRITER_MAX_BYTES) {
        send_batch(w);
        if (w->failed) {
            util_seterr(err, errlen, "%s", w->ferr);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

int mat_writer_finish(struct mat_writer *w, char *err, size_t errlen)
{
    send_batch(w);
    if (!w->failed) {
        read_inflight(w);
    }
    if (w->failed) {
        util_seterr(err, errlen, "%s", w->ferr);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

void mat_writer_set_rate(struct mat_writer *w, uint64_t rows_per_second)
{
    w->rate = rows_per_second;
    w->paced_rows = 0;
    w->paced_start = 0;
}

uint64_t mat_writer_written(const struct mat_writer *w)
{
    return w->written;
}
