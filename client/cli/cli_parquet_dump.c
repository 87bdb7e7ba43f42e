/*
 * cli_parquet_dump.c — text renderings of a Parquet file: the JSON-lines row dump
 * (`featd-cli parquet dump`, also the format of the test fixtures'
 * .expected.jsonl) and the human-readable schema report (`featd-cli
 * parquet schema`). Value formats (docs/parquet.md has the full table):
 *   null → null; integers and decimals → JSON numbers (decimals with their
 *   exact digits, e.g. 12.345); FLOAT/DOUBLE/FLOAT16 → shortest decimal that
 *   parses back to the same value, NaN/±Inf → "NaN", "Infinity",
 *   "-Infinity"; BOOLEAN → true/false; STRING/ENUM/JSON → JSON strings
 *   (invalid UTF-8 bytes escaped as \u00XX each); other byte arrays and
 *   FIXED_LEN_BYTE_ARRAY → base64; DATE → days since the epoch; TIMESTAMP
 *   and INT96 → integer µs since the epoch; TIME → its raw integer; lists →
 *   arrays.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parquet_dump.h"
#include "parquet/codec.h"

/* Buffered output. */
struct ob {
    FILE *fp;
    size_t n;
    char buf[1 << 16];
};

static void ob_flush(struct ob *o)
{
    if (o->n > 0) {
        fwrite(o->buf, 1, o->n, o->fp);
        o->n = 0;
    }
}

static void ob_write(struct ob *o, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        if (o->n == sizeof o->buf) {
            ob_flush(o);
        }
        size_t k = sizeof o->buf - o->n;
        if (k > n) {
            k = n;
        }
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
    }
}

static void ob_puts(struct ob *o, const char *s)
{
    ob_write(o, s, strlen(s));
}

static void ob_putc(struct ob *o, char c)
{
    if (o->n == sizeof o->buf) {
        ob_flush(o);
    }
    o->buf[o->n++] = c;
}

/* Length of a valid UTF-8 sequence at p (n bytes left), 0 when invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)) {
            return 0;   /* overlong or surrogate */
        }
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) {
            return 0;
        }
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* JSON string; invalid UTF-8 bytes become \u00XX. */
static void ob_jstr(struct ob *o, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    ob_putc(o, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        if (run > i) {
            ob_write(o, s + i, run - i);
            i = run;
            continue;
        }
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            ob_putc(o, '\\');
            ob_putc(o, (char)c);
            i++;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                          : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (e != NULL) {
                ob_puts(o, e);
            } else {
                char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
                ob_puts(o, u);
            }
            i++;
        } else {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0) {
                char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
                ob_puts(o, u);
                i++;
            } else {
                ob_write(o, s + i, l);
                i += l;
            }
        }
    }
    ob_putc(o, '"');
}

static void ob_base64(struct ob *o, const uint8_t *s, size_t n)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ob_putc(o, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = { tb[v >> 18], tb[(v >> 12) & 63], tb[(v >> 6) & 63], tb[v & 63] };
        ob_write(o, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        char q[4] = { tb[v >> 18], tb[(v >> 12) & 63], '=', '=' };
        ob_write(o, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        char q[4] = { tb[v >> 18], tb[(v >> 12) & 63], tb[(v >> 6) & 63], '=' };
        ob_write(o, q, 4);
    }
    ob_putc(o, '"');
}

static void ob_double(struct ob *o, double d)
{
    char b[40];
    if (isnan(d)) {
        ob_puts(o, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        ob_puts(o, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    /* %.15g is already the shortest form for normal numbers that have one
     * of <= 15 digits; subnormals have fewer bits, so start lower there */
    for (int p = fabs(d) < DBL_MIN ? 1 : 15; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, d);
        if (p == 17 || strtod(b, NULL) == d) {
            break;
        }
    }
    ob_puts(o, b);
}

static void ob_float(struct ob *o, float f)
{
    char b[40];
    if (isnan(f)) {
        ob_puts(o, "\"NaN\"");
        return;
    }
    if (isinf(f)) {
        ob_puts(o, f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    for (int p = fabsf(f) < FLT_MIN ? 1 : 6; p <= 9; p++) {
        snprintf(b, sizeof b, "%.*g", p, (double)f);
        if (p == 9 || strtof(b, NULL) == f) {
            break;
        }
    }
    ob_puts(o, b);
}

static void ob_i64(struct ob *o, int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    ob_puts(o, b);
}

static void ob_u64(struct ob *o, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    ob_puts(o, b);
}

#define DEC_MAX_BYTES 128   /* unscaled decimals up to 1024 bits */

/*
 * Decimal from a big-endian two's complement integer of n bytes with scale.
 * FEATD_ERR when it is wider than DEC_MAX_BYTES significant bytes.
 */
static int ob_decimal(struct ob *o, const uint8_t *be, size_t n, int scale)
{
    uint8_t mag[DEC_MAX_BYTES];
    char digits[DEC_MAX_BYTES * 3 + 8];
    bool neg = n > 0 && (be[0] & 0x80);
    /* strip sign-extension bytes */
    while (n > 1 && ((be[0] == 0 && !(be[1] & 0x80)) || (be[0] == 0xff && (be[1] & 0x80)))) {
        be++;
        n--;
    }
    if (n > DEC_MAX_BYTES) {
        return FEATD_ERR;
    }
    memcpy(mag, be, n);
    if (neg) {
        /* magnitude = two's complement negation */
        int carry = 1;
        for (size_t i = n; i-- > 0;) {
            int v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    size_t nd = 0, start = 0;
    for (;;) {
        while (start < n && mag[start] == 0) {
            start++;
        }
        if (start >= n) {
            break;
        }
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned cur = rem << 8 | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
    }
    if (nd == 0) {
        digits[nd++] = '0';
    }
    /* digits are reversed; pad so there is one digit before the point */
    while ((int)nd <= scale) {
        digits[nd++] = '0';
    }
    bool zero = nd == 1 && digits[0] == '0';
    if (neg && !zero) {
        ob_putc(o, '-');
    }
    for (size_t i = nd; i-- > 0;) {
        ob_putc(o, digits[i]);
        if (scale > 0 && i == (size_t)scale) {
            ob_putc(o, '.');
        }
    }
    return FEATD_OK;
}

/* Per-column state for one row group. */
struct dcol {
    const struct pq_column *c;
    struct pq_vec v;
    int64_t *ts;        /* µs per slot for timestamp/INT96 columns */
    size_t ts_cap;
    bool is_ts;
};

/* Emit slot s of column d (a present value). */
static int emit_slot(struct ob *o, struct dcol *d, size_t s, char *err, size_t errlen)
{
    const struct pq_column *c = d->c;
    const struct pq_vec *v = &d->v;
    if (d->is_ts) {
        ob_i64(o, d->ts[s]);
        return FEATD_OK;
    }
    switch (c->physical) {
    case PQ_BOOLEAN:
        ob_puts(o, ((const uint8_t *)v->vals)[s] ? "true" : "false");
        return FEATD_OK;
    case PQ_INT32: {
        int32_t x = ((const int32_t *)v->vals)[s];
        if (c->logical == PQ_LT_DECIMAL) {
            uint8_t be[4] = { (uint8_t)((uint32_t)x >> 24), (uint8_t)((uint32_t)x >> 16),
                              (uint8_t)((uint32_t)x >> 8), (uint8_t)x };
            return ob_decimal(o, be, 4, c->scale);
        }
        if (c->logical == PQ_LT_INT && !c->int_signed) {
            ob_u64(o, (uint32_t)x);
        } else {
            ob_i64(o, x);
        }
        return FEATD_OK;
    }
    case PQ_INT64: {
        int64_t x = ((const int64_t *)v->vals)[s];
        if (c->logical == PQ_LT_DECIMAL) {
            uint8_t be[8];
            for (int i = 0; i < 8; i++) {
                be[i] = (uint8_t)((uint64_t)x >> (56 - 8 * i));
            }
            return ob_decimal(o, be, 8, c->scale);
        }
        if (c->logical == PQ_LT_INT && !c->int_signed) {
            ob_u64(o, (uint64_t)x);
        } else {
            ob_i64(o, x);
        }
        return FEATD_OK;
    }
    case PQ_FLOAT:
        ob_float(o, ((const float *)v->vals)[s]);
        return FEATD_OK;
    case PQ_DOUBLE:
        ob_double(o, ((const double *)v->vals)[s]);
        return FEATD_OK;
    case PQ_INT96:      /* always a timestamp: handled by is_ts */
        ob_i64(o, pq_int96_to_us((const uint8_t *)v->vals + 12 * s));
        return FEATD_OK;
    case PQ_FLBA: {
        const uint8_t *p = (const uint8_t *)v->vals + (size_t)v->width * s;
        if (c->logical == PQ_LT_DECIMAL) {
            if (ob_decimal(o, p, (size_t)v->width, c->scale) != FEATD_OK) {
                snprintf(err, errlen, "column '%s': decimal value too wide", c->name);
                return FEATD_ERR;
            }
        } else if (c->logical == PQ_LT_FLOAT16) {
            ob_float(o, pq_half_to_float(p));
        } else {
            ob_base64(o, p, (size_t)v->width);
        }
        return FEATD_OK;
    }
    case PQ_BYTE_ARRAY: {
        const uint8_t *p = v->data + v->offs[s];
        size_t n = v->offs[s + 1] - v->offs[s];
        if (c->logical == PQ_LT_STRING || c->logical == PQ_LT_ENUM || c->logical == PQ_LT_JSON) {
            ob_jstr(o, p, n);
        } else if (c->logical == PQ_LT_DECIMAL) {
            if (n == 0) {
                ob_putc(o, '0');
            } else if (ob_decimal(o, p, n, c->scale) != FEATD_OK) {
                snprintf(err, errlen, "column '%s': decimal value too wide", c->name);
                return FEATD_ERR;
            }
        } else {
            ob_base64(o, p, n);
        }
        return FEATD_OK;
    }
    }
    snprintf(err, errlen, "column '%s': unknown type", c->name);
    return FEATD_ERR;
}

static void free_cols(struct dcol *cols, int n)
{
    for (int i = 0; i < n; i++) {
        pq_vec_free(&cols[i].v);
        free(cols[i].ts);
    }
    free(cols);
}

int cli_parquet_dump_json(struct pq_file *f, FILE *out, char *err, size_t errlen)
{
    int nc = pq_num_columns(f), rc = FEATD_OK;
    struct dcol *cols = calloc(nc > 0 ? (size_t)nc : 1, sizeof *cols);
    struct ob *o = malloc(sizeof *o);
    if (cols == NULL || o == NULL) {
        free(cols);
        free(o);
        snprintf(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    o->fp = out;
    o->n = 0;
    for (int i = 0; i < nc; i++) {
        struct pq_vec init = PQ_VEC_INIT;
        cols[i].c = pq_column(f, i);
        cols[i].v = init;
        if (!cols[i].c->supported) {
            snprintf(err, errlen, "column '%s': %s", cols[i].c->name, cols[i].c->unsupported_reason);
            rc = FEATD_ERR;
            goto done;
        }
        const struct pq_column *c = cols[i].c;
        cols[i].is_ts = c->physical == PQ_INT96
                        || (c->physical == PQ_INT64 && c->logical == PQ_LT_TIMESTAMP);
    }
    for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
        for (int i = 0; i < nc; i++) {
            struct dcol *d = &cols[i];
            if (pq_read_column(f, rg, i, &d->v, err, errlen) != FEATD_OK) {
                rc = FEATD_ERR;
                goto done;
            }
            if (d->is_ts) {
                if (d->v.nvals > d->ts_cap) {
                    int64_t *t = realloc(d->ts, (d->v.nvals + 1) * sizeof *t);
                    if (t == NULL) {
                        snprintf(err, errlen, "out of memory");
                        rc = FEATD_ERR;
                        goto done;
                    }
                    d->ts = t;
                    d->ts_cap = d->v.nvals;
                }
                if (pq_timestamps_us(d->c, &d->v, d->ts, err, errlen) != FEATD_OK) {
                    rc = FEATD_ERR;
                    goto done;
                }
            }
        }
        size_t nrows = nc > 0 ? cols[0].v.nrows : 0;
        for (size_t row = 0; row < nrows; row++) {
            ob_putc(o, '{');
            for (int i = 0; i < nc; i++) {
                struct dcol *d = &cols[i];
                if (i > 0) {
                    ob_putc(o, ',');
                }
                ob_jstr(o, (const uint8_t *)d->c->name, strlen(d->c->name));
                ob_putc(o, ':');
                if (!d->v.valid[row]) {
                    ob_puts(o, "null");
                } else if (d->c->is_list) {
                    ob_putc(o, '[');
                    for (uint32_t s = d->v.list_offs[row]; s < d->v.list_offs[row + 1]; s++) {
                        if (s > d->v.list_offs[row]) {
                            ob_putc(o, ',');
                        }
                        if (!d->v.elem_valid[s]) {
                            ob_puts(o, "null");
                        } else if (emit_slot(o, d, s, err, errlen) != FEATD_OK) {
                            rc = FEATD_ERR;
                            goto done;
                        }
                    }
                    ob_putc(o, ']');
                } else if (emit_slot(o, d, row, err, errlen) != FEATD_OK) {
                    rc = FEATD_ERR;
                    goto done;
                }
            }
            ob_puts(o, "}\n");
        }
    }
done:
    ob_flush(o);
    free(o);
    free_cols(cols, nc);
    return rc;
}

static void enc_list(uint32_t mask, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int e = 0; e < 32; e++) {
        if (mask & (1u << e)) {
            int k = snprintf(buf + n, len - n, "%s%s", n ? "," : "", pq_encoding_name(e));
            if (k < 0 || (size_t)k >= len - n) {
                break;
            }
            n += (size_t)k;
        }
    }
}

void cli_parquet_dump_schema(struct pq_file *f, const char *path, FILE *out)
{
    char tb[256], eb[256];
    int nc = pq_num_columns(f);
    fprintf(out, "file: %s\n", path);
    fprintf(out, "created_by: %s\n", pq_created_by(f));
    fprintf(out, "rows: %lld\nrow groups: %d\ncolumns: %d\n", (long long)pq_num_rows(f),
            pq_num_row_groups(f), nc);
    for (int i = 0; i < nc; i++) {
        const struct pq_column *c = pq_column(f, i);
        fprintf(out, "  %d %s: %s%s\n", i, c->name, pq_column_type_string(c, tb, sizeof tb),
                c->supported ? (c->nullable ? " (nullable)" : " (required)") : "");
    }
    for (int rg = 0; rg < pq_num_row_groups(f); rg++) {
        fprintf(out, "row group %d: %lld rows\n", rg, (long long)pq_row_group_num_rows(f, rg));
        for (int i = 0; i < nc; i++) {
            const struct pq_column *c = pq_column(f, i);
            for (int l = 0; l < c->nleaves; l++) {
                struct pq_chunk_info ci;
                if (pq_chunk_info(f, rg, c->leaf + l, &ci) != FEATD_OK) {
                    continue;
                }
                enc_list(ci.encodings, eb, sizeof eb);
                fprintf(out, "  %s: %s, encodings %s, %lld values, %lld bytes compressed, "
                        "%lld uncompressed, data page @%lld", c->name, pq_codec_name(ci.codec), eb,
                        (long long)ci.num_values, (long long)ci.total_compressed_size,
                        (long long)ci.total_uncompressed_size, (long long)ci.data_page_offset);
                if (ci.dictionary_page_offset >= 0) {
                    fprintf(out, ", dictionary page @%lld", (long long)ci.dictionary_page_offset);
                }
                fputc('\n', out);
            }
        }
    }
}

