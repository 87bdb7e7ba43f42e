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
 *   arrays. Strings, numbers and base64 are written by common/jsonw.h (its
 *   JSONW_UTF8_BYTES policy).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_parquet_dump.h"
#include "common/jsonw.h"
#include "parquet/codec.h"

/* Output: a jsonw buffer, written to the FILE after each row once it holds
 * DUMP_FLUSH_BYTES. */
#define DUMP_FLUSH_BYTES (64u * 1024u)

static void dump_flush(struct jsonw *o, FILE *fp)
{
    if (o->len > 0 && jsonw_ok(o)) {
        fwrite(o->buf, 1, o->len, fp);
    }
    jsonw_reset(o);
}

#define DEC_MAX_BYTES 128   /* unscaled decimals up to 1024 bits */

/*
 * Decimal from a big-endian two's complement integer of n bytes with scale.
 * FEATD_ERR when it is wider than DEC_MAX_BYTES significant bytes.
 */
static int dump_decimal(struct jsonw *o, const uint8_t *be, size_t n, int scale)
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
        jsonw_char(o, '-');
    }
    for (size_t i = nd; i-- > 0;) {
        jsonw_char(o, digits[i]);
        if (scale > 0 && i == (size_t)scale) {
            jsonw_char(o, '.');
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
static int emit_slot(struct jsonw *o, struct dcol *d, size_t s, char *err, size_t errlen)
{
    const struct pq_column *c = d->c;
    const struct pq_vec *v = &d->v;
    if (d->is_ts) {
        jsonw_i64(o, d->ts[s]);
        return FEATD_OK;
    }
    switch (c->physical) {
    case PQ_BOOLEAN:
        jsonw_lit(o, ((const uint8_t *)v->vals)[s] ? "true" : "false");
        return FEATD_OK;
    case PQ_INT32: {
        int32_t x = ((const int32_t *)v->vals)[s];
        if (c->logical == PQ_LT_DECIMAL) {
            uint8_t be[4] = { (uint8_t)((uint32_t)x >> 24), (uint8_t)((uint32_t)x >> 16),
                              (uint8_t)((uint32_t)x >> 8), (uint8_t)x };
            return dump_decimal(o, be, 4, c->scale);
        }
        if (c->logical == PQ_LT_INT && !c->int_signed) {
            jsonw_u64(o, (uint32_t)x);
        } else {
            jsonw_i64(o, x);
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
            return dump_decimal(o, be, 8, c->scale);
        }
        if (c->logical == PQ_LT_INT && !c->int_signed) {
            jsonw_u64(o, (uint64_t)x);
        } else {
            jsonw_i64(o, x);
        }
        return FEATD_OK;
    }
    case PQ_FLOAT:
        jsonw_float(o, ((const float *)v->vals)[s]);
        return FEATD_OK;
    case PQ_DOUBLE:
        jsonw_double(o, ((const double *)v->vals)[s]);
        return FEATD_OK;
    case PQ_INT96:      /* always a timestamp: handled by is_ts */
        jsonw_i64(o, pq_int96_to_us((const uint8_t *)v->vals + 12 * s));
        return FEATD_OK;
    case PQ_FLBA: {
        const uint8_t *p = (const uint8_t *)v->vals + (size_t)v->width * s;
        if (c->logical == PQ_LT_DECIMAL) {
            if (dump_decimal(o, p, (size_t)v->width, c->scale) != FEATD_OK) {
                snprintf(err, errlen, "column '%s': decimal value too wide", c->name);
                return FEATD_ERR;
            }
        } else if (c->logical == PQ_LT_FLOAT16) {
            jsonw_float(o, pq_half_to_float(p));
        } else {
            jsonw_base64(o, p, (size_t)v->width);
        }
        return FEATD_OK;
    }
    case PQ_BYTE_ARRAY: {
        const uint8_t *p = v->data + v->offs[s];
        size_t n = v->offs[s + 1] - v->offs[s];
        if (c->logical == PQ_LT_STRING || c->logical == PQ_LT_ENUM || c->logical == PQ_LT_JSON) {
            jsonw_str(o, (const char *)p, n);
        } else if (c->logical == PQ_LT_DECIMAL) {
            if (n == 0) {
                jsonw_char(o, '0');
            } else if (dump_decimal(o, p, n, c->scale) != FEATD_OK) {
                snprintf(err, errlen, "column '%s': decimal value too wide", c->name);
                return FEATD_ERR;
            }
        } else {
            jsonw_base64(o, p, n);
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
        pq_column_vec_free(&cols[i].v);
        free(cols[i].ts);
    }
    free(cols);
}

int cli_parquet_dump_json(struct pq_file *f, FILE *out, char *err, size_t errlen)
{
    int nc = pq_num_columns(f), rc = FEATD_OK;
    struct dcol *cols = calloc(nc > 0 ? (size_t)nc : 1, sizeof *cols);
    struct jsonw ob, *o = &ob;
    if (cols == NULL) {
        snprintf(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    jsonw_init(o);
    o->bad_utf8 = JSONW_UTF8_BYTES;     /* docs/parquet.md: invalid bytes as \u00XX */
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
            if (pq_column_read(f, rg, i, &d->v, err, errlen) != FEATD_OK) {
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
            jsonw_char(o, '{');
            for (int i = 0; i < nc; i++) {
                struct dcol *d = &cols[i];
                if (i > 0) {
                    jsonw_char(o, ',');
                }
                jsonw_strz(o, d->c->name);
                jsonw_char(o, ':');
                if (!d->v.valid[row]) {
                    jsonw_lit(o, "null");
                } else if (d->c->is_list) {
                    jsonw_char(o, '[');
                    for (uint32_t s = d->v.list_offs[row]; s < d->v.list_offs[row + 1]; s++) {
                        if (s > d->v.list_offs[row]) {
                            jsonw_char(o, ',');
                        }
                        if (!d->v.elem_valid[s]) {
                            jsonw_lit(o, "null");
                        } else if (emit_slot(o, d, s, err, errlen) != FEATD_OK) {
                            rc = FEATD_ERR;
                            goto done;
                        }
                    }
                    jsonw_char(o, ']');
                } else if (emit_slot(o, d, row, err, errlen) != FEATD_OK) {
                    rc = FEATD_ERR;
                    goto done;
                }
            }
            jsonw_lit(o, "}\n");
            if (o->len >= DUMP_FLUSH_BYTES) {
                if (!jsonw_ok(o)) {
                    snprintf(err, errlen, "out of memory");
                    rc = FEATD_ERR;
                    goto done;
                }
                dump_flush(o, out);
            }
        }
    }
done:
    if (!jsonw_ok(o) && rc == FEATD_OK) {
        snprintf(err, errlen, "out of memory");
        rc = FEATD_ERR;
    }
    dump_flush(o, out);
    jsonw_free(o);
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

