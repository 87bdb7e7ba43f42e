/*
 * mat_write.c — pipelined SET writer with one batch in flight (contract in
 * mat_write.h). Commands are formatted as RESP here (no printf-style
 * parsing per command) and handed to hiredis with
 * redisAppendFormattedCommand.
 */
#include "mat_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAT_WRITER_MAX_BYTES (4u << 20)

struct mat_writer {
    redisContext *c;                /* not owned */
    const struct cfg_view *v;       /* not owned */
    struct fbuf prefix;             /* "P:v1:V:F:g<G>:" */
    struct fbuf key;                /* scratch: one key */
    struct fbuf row;                /* scratch: one row */
    struct fbuf out;                /* RESP of the batch being built */
    size_t nbuilt;                  /* commands in out */
    size_t inflight;                /* commands sent, replies not read */
    size_t batch;
    uint64_t written;
    bool failed;
    char ferr[256];                 /* first failure */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...) FEATD_PRINTF(3, 4);

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

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

/* Reads the replies of the batch in flight. */
static void read_inflight(struct mat_writer *w)
{
    for (size_t i = 0; i < w->inflight; i++) {
        void *rv = NULL;
        if (redisGetReply(w->c, &rv) != REDIS_OK || rv == NULL) {
            fail(w, "redis: %s", ctx_err(w->c));
            w->inflight = 0;
            return;     /* the context is dead */
        }
        redisReply *r = rv;
        if (r->type == REDIS_REPLY_STATUS) {
            w->written++;
        } else if (r->type == REDIS_REPLY_ERROR) {
            fail(w, "redis SET: %.*s", (int)(r->len > 200 ? 200 : r->len), r->str);
        } else {
            fail(w, "redis SET: unexpected reply type %d", r->type);
        }
        freeReplyObject(r);
    }
    w->inflight = 0;
}

/* Writes the built batch, then reads the previous batch's replies. */
static void send_batch(struct mat_writer *w)
{
    if (w->nbuilt == 0 || w->failed) {
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
    w->inflight = w->nbuilt;
    w->nbuilt = 0;
    fbuf_reset(&w->out);
}

void mat_writer_free(struct mat_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (!w->failed && w->inflight > 0) {
        read_inflight(w);
    }
    fbuf_free(&w->prefix);
    fbuf_free(&w->key);
    fbuf_free(&w->row);
    fbuf_free(&w->out);
    free(w);
}

/* "$<n>\r\n<bytes>\r\n" */
static int put_bulk(struct fbuf *o, const void *p, size_t n)
{
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", n);
    if (fbuf_reserve(o, (size_t)h + n + 2) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    memcpy(o->data + o->len, hdr, (size_t)h);
    o->len += (size_t)h;
    memcpy(o->data + o->len, p, n);
    o->len += n;
    o->data[o->len++] = '\r';
    o->data[o->len++] = '\n';
    return FEATD_OK;
}

int mat_writer_put(struct mat_writer *w, const struct online_key *keys, int64_t event_ts_us,
                   int64_t created_ts_us, const struct online_value *vals, char *err,
                   size_t errlen)
{
    if (w->failed) {
        seterr(err, errlen, "%s", w->ferr);
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
        seterr(err, errlen, "view %s: cannot build the row key", w->v->name);
        return FEATD_ERR;
    }
    if (online_row_encode(&w->row, w->v, event_ts_us, created_ts_us, vals) != FEATD_OK) {
        seterr(err, errlen, "view %s: cannot encode the row", w->v->name);
        return FEATD_ERR;
    }
    int rc;
    if (at != 0) {
        char ms[24];
        int n = snprintf(ms, sizeof(ms), "%lld", (long long)at);
        rc = fbuf_append(&w->out, "*5\r\n$3\r\nSET\r\n", 13);
        if (rc == FEATD_OK) {
            rc = put_bulk(&w->out, w->key.data, w->key.len);
        }
        if (rc == FEATD_OK) {
            rc = put_bulk(&w->out, w->row.data, w->row.len);
        }
        if (rc == FEATD_OK) {
            rc = fbuf_append(&w->out, "$4\r\nPXAT\r\n", 10);
        }
        if (rc == FEATD_OK) {
            rc = put_bulk(&w->out, ms, (size_t)n);
        }
    } else {
        rc = fbuf_append(&w->out, "*3\r\n$3\r\nSET\r\n", 13);
        if (rc == FEATD_OK) {
            rc = put_bulk(&w->out, w->key.data, w->key.len);
        }
        if (rc == FEATD_OK) {
            rc = put_bulk(&w->out, w->row.data, w->row.len);
        }
    }
    if (rc != FEATD_OK) {
        seterr(err, errlen, "out of memory");
        fail(w, "out of memory");
        return FEATD_ERR;
    }
    w->nbuilt++;
    if (w->nbuilt >= w->batch || w->out.len >= MAT_WRITER_MAX_BYTES) {
        send_batch(w);
        if (w->failed) {
            seterr(err, errlen, "%s", w->ferr);
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
        seterr(err, errlen, "%s", w->ferr);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

uint64_t mat_writer_written(const struct mat_writer *w)
{
    return w->written;
}
