/*
 * column.c — decode one column chunk into a struct pq_vec.
 *
 *   pq_column_read
 *     └─ load chunk bytes (pread into f->chunk, or point into memory)
 *     └─ page loop: pq_meta_page_header ─┬─ DICTIONARY_PAGE → read_dict
 *                                        ├─ DATA_PAGE (v1)  ─┐
 *                                        ├─ DATA_PAGE_V2    ─┴→ data_page
 *                                        └─ INDEX_PAGE: skipped
 *     data_page: decompress → levels (rep, def) → rows/slots/validity
 *                → values: decode the non-null values densely at the end
 *                  of the vector, then spread them backwards over the
 *                  slots in place (null slots zeroed)
 *
 * Values are decoded in bulk with one loop per page and encoding; there are
 * no per-value function pointers or allocations. Every size is checked
 * against what is actually present before it is used.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parquet/internal.h"
#include "parquet/parquet.h"
#include "parquet/codec.h"

enum {
    ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_DELTA_BP = 5,
    ENC_DELTA_LBA = 6, ENC_DELTA_BA = 7, ENC_RLE_DICT = 8, ENC_BSS = 9
};

/* State of one pq_column_read call. */
struct rd {
    struct pq_file *f;
    const struct pq_column *col;
    const struct pq_chunk_meta *cm;
    struct pq_vec *v;
    char *err;
    size_t errlen;
    int phys;
    int width;              /* bytes per slot, 0 for BYTE_ARRAY */
    int max_def, max_rep;
    bool is_list;
    int def_list, def_elem;
    bool have_dict;
    size_t dict_n;
    size_t levels;          /* levels consumed so far */
    size_t rows;            /* rows started */
    bool first_page;
};

static int fail(struct rd *r, const char *fmt, ...) FEATD_PRINTF(2, 3);

/* Record the reason of a failure in the call's error buffer; FEATD_ERR. */
static int fail(struct rd *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->err != NULL && r->errlen > 0) {
        vsnprintf(r->err, r->errlen, fmt, ap);
    }
    va_end(ap);
    return FEATD_ERR;
}

static int buf_reserve(struct pq_buf *b, size_t n, char *err, size_t errlen)
{
    if (n <= b->cap && b->p != NULL) {
        return FEATD_OK;
    }
    size_t nc = b->cap < 4096 ? 4096 : b->cap;
    while (nc < n) {
        if (nc > SIZE_MAX / 2) {
            nc = n;
            break;
        }
        nc *= 2;
    }
    uint8_t *p = realloc(b->p, nc);
    if (p == NULL) {
        /* retry with the exact size */
        nc = n;
        p = realloc(b->p, nc);
        if (p == NULL) {
            util_seterr(err, errlen, "out of memory (%zu bytes)", n);
            return FEATD_ERR;
        }
    }
    b->p = p;
    b->cap = nc;
    return FEATD_OK;
}

/* Grow *p (capacity *cap elements of elsize) to hold need elements. */
static int grow(struct rd *r, void **p, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap && *p != NULL) {
        return FEATD_OK;
    }
    size_t nc = *cap < 1024 ? 1024 : *cap;
    while (nc < need) {
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    }
    if (nc > SIZE_MAX / elsize) {
        return fail(r, "vector too large");
    }
    void *np = realloc(*p, nc * elsize);
    if (np == NULL) {
        nc = need;
        np = realloc(*p, nc * elsize);
        if (np == NULL) {
            return fail(r, "out of memory (%zu bytes)", need * elsize);
        }
    }
    *p = np;
    *cap = nc;
    return FEATD_OK;
}

static int reserve_rows(struct rd *r, size_t nrows)
{
    struct pq_vec *v = r->v;
    if (grow(r, (void **)&v->valid, &v->cap_rows, nrows, 1) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (r->is_list) {
        return grow(r, (void **)&v->list_offs, &v->cap_list, nrows + 1, sizeof(uint32_t));
    }
    return FEATD_OK;
}

static int reserve_slots(struct rd *r, size_t nslots)
{
    struct pq_vec *v = r->v;
    if (nslots > UINT32_MAX - 1) {
        return fail(r, "too many values in one column chunk");
    }
    if (r->width > 0) {
        if ((size_t)r->width > 8 && nslots * (size_t)r->width > r->f->opts.max_data_size) {
            return fail(r, "fixed-size values exceed max_data_size (%zu bytes)",
                        r->f->opts.max_data_size);
        }
        if (grow(r, &v->vals, &v->cap_vals_bytes, nslots * (size_t)r->width, 1) != FEATD_OK) {
            return FEATD_ERR;
        }
    } else if (grow(r, (void **)&v->offs, &v->cap_offs, nslots + 1, sizeof(uint32_t)) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (r->is_list) {
        return grow(r, (void **)&v->elem_valid, &v->cap_elem, nslots, 1);
    }
    return FEATD_OK;
}

/* Make room for extra bytes of byte-array data (bounded by max_data_size, < 4 GiB). */
static int reserve_data(struct rd *r, size_t extra)
{
    struct pq_vec *v = r->v;
    size_t lim = r->f->opts.max_data_size;
    if (lim > UINT32_MAX) {
        lim = UINT32_MAX;
    }
    if (extra > lim || v->ndata > lim - extra) {
        return fail(r, "byte-array data exceeds %zu bytes in one column chunk", lim);
    }
    return grow(r, (void **)&v->data, &v->cap_data, v->ndata + extra, 1);
}

static inline uint32_t rd_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_fixed(uint8_t *dst, const uint8_t *src, size_t n, int w)
{
    memcpy(dst, src, n * (size_t)w);
}

/* ---- PLAIN ------------------------------------------------------------ */

/* Decode n PLAIN values of fixed width w (or bit-packed booleans) into dst. */
static int plain_fixed(struct rd *r, int phys, int w, const uint8_t *p, size_t len, size_t n,
                       uint8_t *dst)
{
    if (phys == PQ_BOOLEAN) {
        if ((n + 7) / 8 > len) {
            return fail(r, "PLAIN booleans truncated (%zu values, %zu bytes)", n, len);
        }
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint8_t b = p[i / 8];
            for (int k = 0; k < 8; k++) {
                dst[i + (size_t)k] = (b >> k) & 1;
            }
        }
        for (; i < n; i++) {
            dst[i] = (p[i / 8] >> (i % 8)) & 1;
        }
        return FEATD_OK;
    }
    if (n > len / (size_t)w) {
        return fail(r, "PLAIN data truncated: %zu values of %d bytes need more than %zu bytes",
                    n, w, len);
    }
    store_fixed(dst, p, n, w);
    return FEATD_OK;
}

/* PLAIN byte arrays: n values appended to (offs from index base, data). */
static int plain_ba(struct rd *r, const uint8_t *p, size_t len, size_t n, uint32_t *offs,
                    struct pq_buf *databuf, size_t *ndata, bool to_vec)
{
    /* every value's bytes lie within len: reserve len once */
    if (to_vec) {
        if (reserve_data(r, len) != FEATD_OK) {
            return FEATD_ERR;
        }
    } else if (buf_reserve(databuf, *ndata + len, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint8_t *data = to_vec ? r->v->data : databuf->p;
    size_t pos = 0, nd = *ndata;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 4) {
            return fail(r, "PLAIN byte array truncated at value %zu of %zu", i, n);
        }
        uint32_t l = rd_u32le(p + pos);
        pos += 4;
        if (l > len - pos) {
            return fail(r, "PLAIN byte array length %u past end of page", l);
        }
        memcpy(data + nd, p + pos, l);
        pos += l;
        nd += l;
        offs[i + 1] = (uint32_t)nd;
    }
    *ndata = nd;
    return FEATD_OK;
}

/* ---- dictionary -------------------------------------------------------- */

static int read_dict(struct rd *r, const struct pq_page_header *h, const uint8_t *p, size_t len)
{
    struct pq_file *f = r->f;
    if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICT) {
        return fail(r, "dictionary page encoding %s not supported", pq_encoding_name(h->encoding));
    }
    size_t n = (size_t)h->num_values;
    if (r->width > 0) {
        /* every entry takes at least one bit (booleans) or width bytes */
        if (r->phys != PQ_BOOLEAN && n > len / (size_t)r->width) {
            return fail(r, "dictionary page holds fewer than %zu entries", n);
        }
        if (r->phys == PQ_BOOLEAN && (n + 7) / 8 > len) {
            return fail(r, "dictionary page holds fewer than %zu entries", n);
        }
        if (buf_reserve(&f->dict, n * (size_t)r->width + 1, r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (plain_fixed(r, r->phys, r->width, p, len, n, f->dict.p) != FEATD_OK) {
            return FEATD_ERR;
        }
    } else {
        if (n > len / 4) {
            return fail(r, "dictionary page holds fewer than %zu entries", n);
        }
        if (buf_reserve(&f->dict_offs, (n + 1) * sizeof(uint32_t), r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        uint32_t *offs = (uint32_t *)(void *)f->dict_offs.p;
        size_t nd = 0;
        offs[0] = 0;
        if (plain_ba(r, p, len, n, offs, &f->dict, &nd, false) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    r->have_dict = true;
    r->dict_n = n;
    return FEATD_OK;
}

/* Gather n dictionary entries (indices in idx) to slot base (dense). */
static int dict_gather(struct rd *r, const uint32_t *idx, size_t n, size_t base)
{
    struct pq_file *f = r->f;
    struct pq_vec *v = r->v;
    uint32_t mx = 0;
    for (size_t i = 0; i < n; i++) {
        mx = idx[i] > mx ? idx[i] : mx;
    }
    if (n > 0 && mx >= r->dict_n) {
        return fail(r, "dictionary index %u out of range (%zu entries)", mx, r->dict_n);
    }
    if (r->width > 0) {
        uint8_t *dst = (uint8_t *)v->vals + base * (size_t)r->width;
        const uint8_t *d = f->dict.p;
        switch (r->width) {
        case 1:
            for (size_t i = 0; i < n; i++) dst[i] = d[idx[i]];
            break;
        case 4: {
            uint32_t *o = (uint32_t *)(void *)dst;
            const uint32_t *s = (const uint32_t *)(const void *)d;
            for (size_t i = 0; i < n; i++) o[i] = s[idx[i]];
            break;
        }
        case 8: {
            uint64_t *o = (uint64_t *)(void *)dst;
            const uint64_t *s = (const uint64_t *)(const void *)d;
            for (size_t i = 0; i < n; i++) o[i] = s[idx[i]];
            break;
        }
        default:
            for (size_t i = 0; i < n; i++) {
                memcpy(dst + i * (size_t)r->width, d + (size_t)idx[i] * (size_t)r->width,
                       (size_t)r->width);
            }
            break;
        }
        return FEATD_OK;
    }
    const uint32_t *doffs = (const uint32_t *)(const void *)f->dict_offs.p;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += doffs[idx[i] + 1] - doffs[idx[i]];
    }
    if (total > SIZE_MAX / 2 || reserve_data(r, (size_t)total) != FEATD_OK) {
        if (total > SIZE_MAX / 2) {
            return fail(r, "byte-array data too large");
        }
        return FEATD_ERR;
    }
    uint32_t *offs = v->offs + base;
    size_t nd = v->ndata;
    const uint8_t *d = f->dict.p;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = doffs[idx[i]], l = doffs[idx[i] + 1] - s;
        memcpy(v->data + nd, d + s, l);
        nd += l;
        offs[i + 1] = (uint32_t)nd;
    }
    v->ndata = nd;
    return FEATD_OK;
}

/* ---- DELTA byte arrays ------------------------------------------------- */

/* Decode exactly n DELTA_BINARY_PACKED values at p into f->idx (as uint64). */
static int delta_n(struct rd *r, const uint8_t *p, size_t len, size_t n, uint64_t **out,
                   size_t *used, struct pq_buf *buf)
{
    size_t cnt = 0;
    if (pq_delta_count(p, len, &cnt, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (cnt != n) {
        return fail(r, "DELTA stream holds %zu values where %zu are expected", cnt, n);
    }
    if (buf_reserve(buf, (n + 1) * sizeof(uint64_t), r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint64_t *o = (uint64_t *)(void *)buf->p;
    if (pq_delta_binary(p, len, o, n, &cnt, used, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    *out = o;
    return FEATD_OK;
}

/* DELTA_LENGTH_BYTE_ARRAY into the vector (BYTE_ARRAY columns). */
static int delta_lba(struct rd *r, const uint8_t *p, size_t len, size_t n, size_t base)
{
    uint64_t *lens;
    size_t used;
    if (delta_n(r, p, len, n, &lens, &used, &r->f->idx) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > UINT32_MAX) {
            return fail(r, "DELTA_LENGTH_BYTE_ARRAY: invalid length");
        }
        total += lens[i];
    }
    if (total > len - used) {
        return fail(r, "DELTA_LENGTH_BYTE_ARRAY: %llu bytes of values, %zu present",
                    (unsigned long long)total, len - used);
    }
    if (reserve_data(r, (size_t)total) != FEATD_OK) {
        return FEATD_ERR;
    }
    struct pq_vec *v = r->v;
    memcpy(v->data + v->ndata, p + used, (size_t)total);
    uint32_t *offs = v->offs + base;
    uint32_t o = (uint32_t)v->ndata;
    for (size_t i = 0; i < n; i++) {
        o += (uint32_t)lens[i];
        offs[i + 1] = o;
    }
    v->ndata += (size_t)total;
    return FEATD_OK;
}

/* DELTA_BYTE_ARRAY (BYTE_ARRAY into the vector; FLBA into fixed slots). */
static int delta_ba(struct rd *r, const uint8_t *p, size_t len, size_t n, size_t base)
{
    struct pq_file *f = r->f;
    struct pq_vec *v = r->v;
    uint64_t *pre, *suf;
    size_t u1, u2;
    if (delta_n(r, p, len, n, &pre, &u1, &f->tmp) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (delta_n(r, p + u1, len - u1, n, &suf, &u2, &f->idx) != FEATD_OK) {
        return FEATD_ERR;
    }
    const uint8_t *sd = p + u1 + u2;
    size_t slen = len - u1 - u2;
    /* pass 1: validate and size */
    uint64_t prev = 0, total = 0, stotal = 0;
    for (size_t i = 0; i < n; i++) {
        if (pre[i] > prev || suf[i] > UINT32_MAX) {
            return fail(r, "DELTA_BYTE_ARRAY: prefix %llu longer than previous value",
                        (unsigned long long)pre[i]);
        }
        prev = pre[i] + suf[i];
        if (r->width > 0 && prev != (uint64_t)r->width) {
            return fail(r, "DELTA_BYTE_ARRAY: value of %llu bytes in FIXED_LEN_BYTE_ARRAY(%d)",
                        (unsigned long long)prev, r->width);
        }
        total += prev;
        stotal += suf[i];
        if (total > UINT32_MAX || stotal > slen) {
            return fail(r, "DELTA_BYTE_ARRAY: values exceed the page");
        }
    }
    if (r->width > 0) {
        uint8_t *dst = (uint8_t *)v->vals + base * (size_t)r->width;
        size_t w = (size_t)r->width, sp = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                memcpy(dst + i * w, dst + (i - 1) * w, (size_t)pre[i]);
            }
            memcpy(dst + i * w + pre[i], sd + sp, (size_t)suf[i]);
            sp += (size_t)suf[i];
        }
        return FEATD_OK;
    }
    if (reserve_data(r, (size_t)total) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint32_t *offs = v->offs + base;
    size_t nd = v->ndata, sp = 0, pstart = nd;
    for (size_t i = 0; i < n; i++) {
        size_t start = nd;
        memmove(v->data + nd, v->data + pstart, (size_t)pre[i]);
        nd += (size_t)pre[i];
        memcpy(v->data + nd, sd + sp, (size_t)suf[i]);
        nd += (size_t)suf[i];
        sp += (size_t)suf[i];
        offs[i + 1] = (uint32_t)nd;
        pstart = start;
    }
    v->ndata = nd;
    return FEATD_OK;
}

/* ---- values ------------------------------------------------------------ */

/* Decode nn non-null values with encoding enc densely at slot base. */
static int decode_values(struct rd *r, int enc, const uint8_t *p, size_t len, size_t nn,
                         size_t base)
{
    struct pq_file *f = r->f;
    struct pq_vec *v = r->v;
    uint8_t *dst = r->width > 0 ? (uint8_t *)v->vals + base * (size_t)r->width : NULL;
    if (nn == 0) {
        return FEATD_OK;
    }
    switch (enc) {
    case ENC_PLAIN:
        if (r->width > 0) {
            return plain_fixed(r, r->phys, r->width, p, len, nn, dst);
        } else {
            struct pq_buf dummy = {0};
            return plain_ba(r, p, len, nn, v->offs + base, &dummy, &v->ndata, true);
        }
    case ENC_PLAIN_DICT:
    case ENC_RLE_DICT: {
        if (!r->have_dict) {
            return fail(r, "dictionary-encoded page without a dictionary page");
        }
        if (len < 1) {
            return fail(r, "dictionary indices missing");
        }
        int bw = p[0];
        if (bw > 32) {
            return fail(r, "invalid dictionary index bit width %d", bw);
        }
        if (buf_reserve(&f->idx, nn * sizeof(uint32_t), r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        uint32_t *idx = (uint32_t *)(void *)f->idx.p;
        if (pq_rle_decode32(p + 1, len - 1, bw, idx, nn, NULL, r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        return dict_gather(r, idx, nn, base);
    }
    case ENC_RLE:
        if (r->phys != PQ_BOOLEAN) {
            return fail(r, "RLE encoding is only valid for BOOLEAN values");
        }
        if (len < 4 || rd_u32le(p) > len - 4) {
            return fail(r, "RLE boolean data truncated");
        }
        return pq_rle_levels(p + 4, rd_u32le(p), 1, 1, dst, nn, r->err, r->errlen);
    case ENC_DELTA_BP: {
        if (r->phys != PQ_INT32 && r->phys != PQ_INT64) {
            return fail(r, "DELTA_BINARY_PACKED is only valid for INT32/INT64");
        }
        size_t cnt = 0;
        if (pq_delta_count(p, len, &cnt, r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (cnt != nn) {
            return fail(r, "DELTA_BINARY_PACKED holds %zu values where %zu are expected", cnt, nn);
        }
        if (r->phys == PQ_INT64) {
            return pq_delta_binary(p, len, (uint64_t *)(void *)dst, nn, &cnt, NULL, r->err, r->errlen);
        }
        if (buf_reserve(&f->idx, nn * sizeof(uint64_t), r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        uint64_t *t = (uint64_t *)(void *)f->idx.p;
        if (pq_delta_binary(p, len, t, nn, &cnt, NULL, r->err, r->errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
        uint32_t *o = (uint32_t *)(void *)dst;
        for (size_t i = 0; i < nn; i++) {
            o[i] = (uint32_t)t[i];
        }
        return FEATD_OK;
    }
    case ENC_DELTA_LBA:
        if (r->phys != PQ_BYTE_ARRAY) {
            return fail(r, "DELTA_LENGTH_BYTE_ARRAY is only valid for BYTE_ARRAY");
        }
        return delta_lba(r, p, len, nn, base);
    case ENC_DELTA_BA:
        if (r->phys != PQ_BYTE_ARRAY && r->phys != PQ_FLBA) {
            return fail(r, "DELTA_BYTE_ARRAY is only valid for byte arrays");
        }
        return delta_ba(r, p, len, nn, base);
    case ENC_BSS:
        if (r->phys == PQ_BOOLEAN || r->phys == PQ_BYTE_ARRAY) {
            return fail(r, "BYTE_STREAM_SPLIT is not valid for %s", pq_physical_name(r->phys));
        }
        return pq_delta_byte_stream_split(p, len, nn, r->width, dst, r->err, r->errlen);
    default:
        return fail(r, "value encoding %s not supported", pq_encoding_name(enc));
    }
}

/* Spread nn dense values at slot base over ns slots (validity sv[base..]). */
static void spread(struct rd *r, size_t base, size_t nn, size_t ns, const uint8_t *sv)
{
    struct pq_vec *v = r->v;
    if (nn == ns) {
        return;
    }
    if (r->width > 0) {
        size_t w = (size_t)r->width;
        uint8_t *vals = (uint8_t *)v->vals + base * w;
        size_t k = nn;
        if (w == 8) {
            uint64_t *x = (uint64_t *)(void *)vals;
            for (size_t j = ns; j-- > 0;) {
                x[j] = sv[j] ? x[--k] : 0;
            }
        } else if (w == 4) {
            uint32_t *x = (uint32_t *)(void *)vals;
            for (size_t j = ns; j-- > 0;) {
                x[j] = sv[j] ? x[--k] : 0;
            }
        } else if (w == 1) {
            for (size_t j = ns; j-- > 0;) {
                vals[j] = sv[j] ? vals[--k] : 0;
            }
        } else {
            for (size_t j = ns; j-- > 0;) {
                if (sv[j]) {
                    --k;
                    if (k != j) {
                        memcpy(vals + j * w, vals + k * w, w);
                    }
                } else {
                    memset(vals + j * w, 0, w);
                }
            }
        }
        return;
    }
    uint32_t *offs = v->offs + base;
    size_t k = nn;
    offs[ns] = offs[nn];
    for (size_t j = ns; j-- > 0;) {
        if (sv[j]) {
            --k;
            offs[j] = offs[k];
        } else {
            offs[j] = offs[j + 1];
        }
    }
}

/* ---- levels → rows and slots ------------------------------------------- */

/*
 * Account n levels of one page: set row validity, list offsets and element
 * validity; *nslots = new slots, *nn = non-null values to decode.
 */
static int levels_to_slots(struct rd *r, const uint8_t *def, const uint8_t *rep, size_t n,
                           size_t *nslots, size_t *nn)
{
    struct pq_vec *v = r->v;
    if (!r->is_list) {
        size_t base = r->rows;
        if (reserve_rows(r, base + n) != FEATD_OK || reserve_slots(r, base + n) != FEATD_OK) {
            return FEATD_ERR;
        }
        size_t cnt = n;
        if (r->max_def == 0) {
            memset(v->valid + base, 1, n);
        } else {
            uint8_t md = (uint8_t)r->max_def;
            cnt = 0;
            for (size_t i = 0; i < n; i++) {
                uint8_t b = def[i] == md;
                v->valid[base + i] = b;
                cnt += b;
            }
        }
        r->rows += n;
        *nslots = n;
        *nn = cnt;
        return FEATD_OK;
    }
    /* list column: rep 0 starts a row */
    size_t slots0 = v->nvals, slot = slots0, cnt = 0, rows = r->rows;
    if (reserve_rows(r, rows + n) != FEATD_OK || reserve_slots(r, slots0 + n) != FEATD_OK) {
        return FEATD_ERR;
    }
    const uint8_t md = (uint8_t)r->max_def, de = (uint8_t)r->def_elem, dl = (uint8_t)r->def_list;
    for (size_t i = 0; i < n; i++) {
        uint8_t d = def[i];
        if (rep[i] == 0) {
            v->list_offs[rows] = (uint32_t)slot;
            v->valid[rows] = d >= dl;
            rows++;
        } else {
            if (rows == 0) {
                return fail(r, "first repetition level of the column chunk is %u, not 0", rep[i]);
            }
            if (d < de) {
                return fail(r, "repeated level %u with an empty or null list", rep[i]);
            }
        }
        if (d >= de) {
            uint8_t b = d == md;
            v->elem_valid[slot++] = b;
            cnt += b;
        }
    }
    *nslots = slot - slots0;
    *nn = cnt;
    r->rows = rows;
    return FEATD_OK;
}

/* Decompress clen bytes at src into f->page (ulen bytes, bounded by
 * max_page_size; `what` names the page in errors); *out = f->page.p. */
static int inflate(struct rd *r, const char *what, const uint8_t *src, size_t clen, size_t ulen,
                   const uint8_t **out)
{
    struct pq_file *f = r->f;
    if (ulen > f->opts.max_page_size) {
        return fail(r, "%s of %zu bytes exceeds max_page_size %zu", what, ulen, f->opts.max_page_size);
    }
    if (buf_reserve(&f->page, ulen + 1, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (pq_codec_decompress(r->cm->codec, src, clen, f->page.p, ulen, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    *out = f->page.p;
    return FEATD_OK;
}

/* The three sections of a data page: repetition levels, definition levels
 * (NULL/0 when the column has none) and values (decompressed). */
struct page_parts {
    const uint8_t *repp, *defp, *vp;
    size_t replen, deflen, vlen;
};

/* DATA_PAGE_V2: levels are uncompressed in front of the (maybe compressed) values. */
static int split_v2(struct rd *r, const struct pq_page_header *h, const uint8_t *raw, size_t n,
                    struct page_parts *pp)
{
    size_t rl = (size_t)h->rep_len, dl = (size_t)h->def_len;
    size_t cs = (size_t)h->compressed_size, us = (size_t)h->uncompressed_size;
    if (rl > cs || dl > cs - rl || rl + dl > us) {
        return fail(r, "v2 page level lengths exceed the page size");
    }
    pp->repp = raw;
    pp->replen = rl;
    pp->defp = raw + rl;
    pp->deflen = dl;
    const uint8_t *cp = raw + rl + dl;
    size_t clen = cs - rl - dl, ulen = us - rl - dl;
    if (!h->is_compressed || r->cm->codec == PQ_CODEC_UNCOMPRESSED) {
        pp->vp = cp;
        pp->vlen = clen;
    } else if (clen == 0) {
        if (ulen != 0) {
            return fail(r, "empty compressed value section for %zu bytes", ulen);
        }
        pp->vp = cp;
        pp->vlen = 0;
    } else {
        if (inflate(r, "page", cp, clen, ulen, &pp->vp) != FEATD_OK) {
            return FEATD_ERR;
        }
        pp->vlen = ulen;
    }
    if (r->max_rep > 0 && rl == 0 && n > 0) {
        return fail(r, "v2 page without repetition levels");
    }
    if (r->max_def > 0 && dl == 0 && n > 0) {
        return fail(r, "v2 page without definition levels");
    }
    return FEATD_OK;
}

/* DATA_PAGE (v1): the whole page is compressed; it holds rep levels, def
 * levels, then values. RLE levels carry a 4-byte length, BIT_PACKED ones
 * take ceil(n * bit width / 8) bytes. */
static int split_v1(struct rd *r, const struct pq_page_header *h, const uint8_t *raw, size_t n,
                    struct page_parts *pp)
{
    const uint8_t *p = raw;
    size_t plen = (size_t)h->compressed_size;
    if (r->cm->codec != PQ_CODEC_UNCOMPRESSED) {
        plen = (size_t)h->uncompressed_size;
        if (inflate(r, "page", raw, (size_t)h->compressed_size, plen, &p) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    for (int which = 0; which < 2; which++) {
        int mx = which == 0 ? r->max_rep : r->max_def;
        int enc = which == 0 ? h->rep_encoding : h->def_encoding;
        const uint8_t **lp = which == 0 ? &pp->repp : &pp->defp;
        size_t *llen = which == 0 ? &pp->replen : &pp->deflen;
        if (mx == 0) {
            continue;
        }
        size_t l;
        if (enc == ENC_RLE) {
            if (plen < 4 || rd_u32le(p) > plen - 4) {
                return fail(r, "%s levels truncated", which == 0 ? "repetition" : "definition");
            }
            l = rd_u32le(p);
            p += 4;
            plen -= 4;
        } else if (enc == ENC_BIT_PACKED) {
            int bw = pq_rle_bit_width((uint64_t)mx);
            if (n > SIZE_MAX / 8) {
                return fail(r, "too many levels");
            }
            l = (n * (size_t)bw + 7) / 8;
            if (l > plen) {
                return fail(r, "BIT_PACKED levels truncated");
            }
        } else {
            return fail(r, "level encoding %s not supported", pq_encoding_name(enc));
        }
        *lp = p;
        *llen = l;
        p += l;
        plen -= l;
    }
    pp->vp = p;
    pp->vlen = plen;
    return FEATD_OK;
}

/* Decode n levels (0..max) into out: legacy BIT_PACKED when bitpacked, else RLE hybrid. */
static int read_levels(struct rd *r, bool bitpacked, const uint8_t *p, size_t len, int max,
                       uint8_t *out, size_t n)
{
    int bw = pq_rle_bit_width((uint64_t)max);
    if (bitpacked) {
        size_t used;
        return pq_rle_bitpacked_levels(p, len, bw, max, out, n, &used, r->err, r->errlen);
    }
    return pq_rle_levels(p, len, bw, max, out, n, r->err, r->errlen);
}

/* Decode the levels and values of one data page (v1 or v2). */
static int data_page(struct rd *r, const struct pq_page_header *h, const uint8_t *raw)
{
    struct pq_file *f = r->f;
    struct pq_vec *v = r->v;
    size_t n = (size_t)h->num_values;
    struct page_parts pp = { NULL, NULL, NULL, 0, 0, 0 };

    if (n > (size_t)r->cm->num_values - r->levels) {
        return fail(r, "page holds %zu values, more than the %lld left in the chunk",
                    n, (long long)((size_t)r->cm->num_values - r->levels));
    }
    int rc = h->type == PQ_PAGE_DATA_V2 ? split_v2(r, h, raw, n, &pp) : split_v1(r, h, raw, n, &pp);
    if (rc != FEATD_OK) {
        return FEATD_ERR;
    }

    /* levels */
    if (buf_reserve(&f->def, n + 1, r->err, r->errlen) != FEATD_OK
        || buf_reserve(&f->rep, n + 1, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    uint8_t *def = f->def.p, *rep = f->rep.p;
    bool v1 = h->type == PQ_PAGE_DATA;
    if (r->max_rep > 0) {
        if (read_levels(r, v1 && h->rep_encoding == ENC_BIT_PACKED, pp.repp, pp.replen, r->max_rep,
                        rep, n) != FEATD_OK) {
            return FEATD_ERR;
        }
        bool must_start = r->first_page || h->type == PQ_PAGE_DATA_V2;
        if (n > 0 && must_start && rep[0] != 0) {
            return fail(r, "repetition levels of a page start with %u instead of 0", rep[0]);
        }
    } else {
        memset(rep, 0, n);
    }
    if (r->max_def > 0
        && read_levels(r, v1 && h->def_encoding == ENC_BIT_PACKED, pp.defp, pp.deflen, r->max_def,
                       def, n) != FEATD_OK) {
        return FEATD_ERR;
    }
    size_t base = v->nvals, nslots = 0, nn = 0;
    if (levels_to_slots(r, def, rep, n, &nslots, &nn) != FEATD_OK) {
        return FEATD_ERR;
    }
    /* values: dense at base, then spread over the slots */
    if (r->width == 0) {
        v->offs[base] = (uint32_t)v->ndata;
    }
    if (decode_values(r, h->encoding, pp.vp, pp.vlen, nn, base) != FEATD_OK) {
        return FEATD_ERR;
    }
    spread(r, base, nn, nslots, (r->is_list ? v->elem_valid : v->valid) + base);
    v->nvals = base + nslots;
    r->levels += n;
    r->first_page = false;
    return FEATD_OK;
}

static int dict_page(struct rd *r, const struct pq_page_header *h, const uint8_t *raw)
{
    if (r->have_dict) {
        return fail(r, "more than one dictionary page");
    }
    if (r->levels > 0) {
        return fail(r, "dictionary page after data pages");
    }
    const uint8_t *p = raw;
    size_t len = (size_t)h->compressed_size;
    if (r->cm->codec != PQ_CODEC_UNCOMPRESSED) {
        size_t us = (size_t)h->uncompressed_size;
        if (len == 0 && us == 0) {
            p = raw;    /* an empty dictionary: nothing to decompress */
        } else if (inflate(r, "dictionary page", raw, len, us, &p) != FEATD_OK) {
            return FEATD_ERR;
        }
        len = us;
    }
    return read_dict(r, h, p, len);
}

/* Load [off, off+len) of the file: pointer into memory or pread into f->chunk. */
static int load_range(struct rd *r, uint64_t off, size_t len, const uint8_t **out)
{
    struct pq_file *f = r->f;
    if (f->mem != NULL) {
        *out = f->mem + off;
        return FEATD_OK;
    }
    if (buf_reserve(&f->chunk, len + 1, r->err, r->errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(f->fd, f->chunk.p + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return fail(r, "read failed at offset %llu: %s", (unsigned long long)(off + got),
                        k < 0 ? strerror(errno) : "unexpected end of file");
        }
        got += (size_t)k;
    }
    *out = f->chunk.p;
    return FEATD_OK;
}

static int read_chunk(struct rd *r, int64_t rg_rows)
{
    struct pq_file *f = r->f;
    const struct pq_chunk_meta *cm = r->cm;
    if (!cm->has_meta) {
        return fail(r, "column chunk has no metadata");
    }
    if (cm->has_file_path) {
        return fail(r, "column chunk stored in an external file (file_path) is not supported");
    }
    if (cm->type != r->phys) {
        return fail(r, "column chunk type %s differs from the schema's %s",
                    pq_physical_name(cm->type), pq_physical_name(r->phys));
    }
    if (!pq_codec_supported(cm->codec)) {
        return fail(r, "compression codec %s not supported", pq_codec_name(cm->codec));
    }
    if ((uint64_t)cm->num_values > f->opts.max_values) {
        return fail(r, "%lld values in a column chunk exceed max_values %zu",
                    (long long)cm->num_values, f->opts.max_values);
    }
    if ((uint64_t)rg_rows > f->opts.max_values) {
        return fail(r, "%lld rows in a row group exceed max_values %zu", (long long)rg_rows,
                    f->opts.max_values);
    }
    if (!r->is_list && cm->num_values != rg_rows) {
        return fail(r, "column chunk holds %lld values for %lld rows", (long long)cm->num_values,
                    (long long)rg_rows);
    }
    uint64_t dpo = (uint64_t)cm->data_page_offset;
    uint64_t tcs = (uint64_t)cm->total_compressed_size;
    uint64_t start = dpo;
    bool try_dict = cm->dictionary_page_offset >= 4 && (uint64_t)cm->dictionary_page_offset < dpo;
    if (try_dict) {
        start = (uint64_t)cm->dictionary_page_offset;
    }
    if (dpo < 4 || dpo >= f->data_end) {
        return fail(r, "data page offset %llu outside the data area", (unsigned long long)dpo);
    }
    if (tcs > f->opts.max_chunk_size) {
        return fail(r, "column chunk of %llu bytes exceeds max_chunk_size %zu",
                    (unsigned long long)tcs, f->opts.max_chunk_size);
    }
    if (tcs > f->data_end - start) {
        return fail(r, "column chunk (offset %llu, %llu bytes) extends past the data area",
                    (unsigned long long)start, (unsigned long long)tcs);
    }
    if (try_dict && dpo - start >= tcs) {
        /* dictionary offset inconsistent with the chunk size: ignore it */
        try_dict = false;
        start = dpo;
        if (tcs > f->data_end - start) {
            return fail(r, "column chunk extends past the data area");
        }
    }
    const uint8_t *buf = NULL;
    if (load_range(r, start, (size_t)tcs, &buf) != FEATD_OK) {
        return FEATD_ERR;
    }
    size_t pos = 0, end = (size_t)tcs;
    if (try_dict) {
        /* a bogus dictionary_page_offset: fall back to data_page_offset when
         * no dictionary page header is found there */
        struct pq_page_header h;
        size_t used;
        char tmp[8];
        if (pq_meta_page_header(buf, end, &h, &used, tmp, sizeof tmp) != FEATD_OK
            || h.type != PQ_PAGE_DICT) {
            pos = (size_t)(dpo - start);
        }
    }
    struct pq_vec *v = r->v;
    v->nrows = 0;
    v->nvals = 0;
    v->ndata = 0;
    r->first_page = true;
    if (reserve_rows(r, 0) != FEATD_OK || reserve_slots(r, 0) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (r->width == 0) {
        v->offs[0] = 0;
    }
    while (r->levels < (size_t)cm->num_values) {
        struct pq_page_header h;
        size_t used;
        if (pos >= end) {
            return fail(r, "column chunk ends after %zu of %lld values", r->levels,
                        (long long)cm->num_values);
        }
        if (pq_meta_page_header(buf + pos, end - pos, &h, &used, r->err, r->errlen) != FEATD_OK) {
            char tmp[200];
            snprintf(tmp, sizeof tmp, "%s", r->err != NULL ? r->err : "");
            return fail(r, "corrupt page header at offset %llu: %s",
                        (unsigned long long)(start + pos), tmp);
        }
        pos += used;
        if ((size_t)h.compressed_size > end - pos) {
            return fail(r, "page of %d bytes extends past the column chunk", h.compressed_size);
        }
        const uint8_t *raw = buf + pos;
        pos += (size_t)h.compressed_size;
        int rc = FEATD_OK;
        switch (h.type) {
        case PQ_PAGE_DICT: rc = dict_page(r, &h, raw); break;
        case PQ_PAGE_DATA:
        case PQ_PAGE_DATA_V2: rc = data_page(r, &h, raw); break;
        default: break;     /* index pages: skipped */
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r->rows != (size_t)rg_rows) {
        return fail(r, "column chunk holds %zu rows, the row group %lld", r->rows,
                    (long long)rg_rows);
    }
    if (r->is_list) {
        v->list_offs[r->rows] = (uint32_t)v->nvals;
    }
    v->nrows = r->rows;
    return FEATD_OK;
}

int pq_column_read(struct pq_file *f, int rg, int col, struct pq_vec *v, char *err, size_t errlen)
{
    if (rg < 0 || (size_t)rg >= f->meta.nrgs) {
        util_seterr(err, errlen, "row group %d out of range", rg);
        return FEATD_ERR;
    }
    if (col < 0 || (size_t)col >= f->ncols) {
        util_seterr(err, errlen, "column %d out of range", col);
        return FEATD_ERR;
    }
    const struct pq_column *c = &f->cols[col];
    if (!c->supported) {
        util_seterr(err, errlen, "column '%s': %s", c->name, c->unsupported_reason);
        return FEATD_ERR;
    }
    struct rd r;
    char reason[256];
    memset(&r, 0, sizeof r);
    reason[0] = '\0';
    r.f = f;
    r.col = c;
    r.cm = &f->meta.rgs[rg].chunks[c->leaf];
    r.v = v;
    r.err = reason;
    r.errlen = sizeof reason;
    r.phys = c->physical;
    switch (c->physical) {
    case PQ_BOOLEAN: r.width = 1; break;
    case PQ_INT32: case PQ_FLOAT: r.width = 4; break;
    case PQ_INT64: case PQ_DOUBLE: r.width = 8; break;
    case PQ_INT96: r.width = 12; break;
    case PQ_FLBA: r.width = c->type_length; break;
    default: r.width = 0; break;
    }
    r.max_def = c->max_def;
    r.max_rep = c->max_rep;
    r.is_list = c->is_list;
    r.def_list = c->def_list;
    r.def_elem = c->def_elem;
    v->physical = c->physical;
    v->width = r.width;
    v->is_list = c->is_list;
    if (read_chunk(&r, f->meta.rgs[rg].num_rows) != FEATD_OK) {
        util_seterr(err, errlen, "column '%s' (row group %d): %s", c->name, rg, reason);
        v->nrows = v->nvals = v->ndata = 0;
        return FEATD_ERR;
    }
    return FEATD_OK;
}

void pq_column_vec_free(struct pq_vec *v)
{
    free(v->valid);
    free(v->vals);
    free(v->offs);
    free(v->data);
    free(v->list_offs);
    free(v->elem_valid);
    memset(v, 0, sizeof *v);
}
