/*
 * meta.c — Parquet metadata structures read with the compact-protocol
 * reader: FileMetaData (schema, row groups, column chunks) and PageHeader.
 * Only the fields the reader needs are kept; every other field is skipped
 * with the generic skipper. Enums and sizes are range-checked here, so the
 * rest of the reader can trust the values it gets from struct pq_meta and
 * struct pq_page_header (within those ranges).
 */
#include <stdlib.h>
#include <string.h>

#include "parquet/internal.h"

#define I32MAX INT32_MAX

/* Parse fields of a struct: loop helper. */
#define FIELD_LOOP(t, last, id, ty, r) \
    for (int16_t last = 0, id = 0; ((r) = pq_thrift_field((t), &last, &id, &(ty))) == 1;)

static char *dup_bin(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int get_i32(struct pq_thrift *t, int ty, int32_t min, int32_t max, int *out)
{
    int64_t v;
    if (pq_thrift_int(t, ty, min, max, &v) != FEATD_OK) {
        return FEATD_ERR;
    }
    *out = (int)v;
    return FEATD_OK;
}

static int get_i64(struct pq_thrift *t, int ty, int64_t min, int64_t max, int64_t *out)
{
    return pq_thrift_int(t, ty, min, max, out);
}

static int get_bool(struct pq_thrift *t, int ty, bool *out)
{
    if (ty != PQ_T_TRUE && ty != PQ_T_FALSE) {
        return pq_thrift_fail(t, "expected a bool field");
    }
    *out = ty == PQ_T_TRUE;
    return FEATD_OK;
}

/* TimeUnit union: 1 MILLIS, 2 MICROS, 3 NANOS (each an empty struct). */
static int parse_time_unit(struct pq_thrift *t, int ty, int *unit)
{
    int r, fty;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    *unit = -1;
    FIELD_LOOP(t, last, id, fty, r) {
        if (id >= 1 && id <= 3) {
            *unit = id - 1;
        }
        if (pq_thrift_skip(t, fty) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (*unit < 0) {
        return pq_thrift_fail(t, "unknown time unit");
    }
    return FEATD_OK;
}

/* LogicalType union. Unknown members give PQ_LT_OTHER (the file still opens). */
static int parse_logical(struct pq_thrift *t, int ty, struct pq_schema_el *e)
{
    int r, fty;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    e->logical = PQ_LT_OTHER;
    FIELD_LOOP(t, last, id, fty, r) {
        int r2, f2;
        switch (id) {
        case 1: e->logical = PQ_LT_STRING; break;
        case 2: e->logical = PQ_LT_NONE; e->lt_map = true; break;
        case 3: e->logical = PQ_LT_NONE; e->lt_list = true; break;
        case 4: e->logical = PQ_LT_ENUM; break;
        case 6: e->logical = PQ_LT_DATE; break;
        case 11: e->logical = PQ_LT_NULL; break;
        case 12: e->logical = PQ_LT_JSON; break;
        case 13: e->logical = PQ_LT_BSON; break;
        case 14: e->logical = PQ_LT_UUID; break;
        case 15: e->logical = PQ_LT_FLOAT16; break;
        case 5:     /* DecimalType: 1 scale, 2 precision */
        case 7:     /* TimeType: 1 isAdjustedToUTC, 2 unit */
        case 8:     /* TimestampType */
        case 10:    /* IntType: 1 bitWidth (i8), 2 isSigned */
            if (pq_thrift_enter(t, fty) != FEATD_OK) {
                return FEATD_ERR;
            }
            e->logical = id == 5 ? PQ_LT_DECIMAL : id == 7 ? PQ_LT_TIME
                       : id == 8 ? PQ_LT_TIMESTAMP : PQ_LT_INT;
            FIELD_LOOP(t, last2, id2, f2, r2) {
                int rc;
                if (id == 5 && id2 == 1) {
                    rc = get_i32(t, f2, 0, I32MAX, &e->lt_scale);
                } else if (id == 5 && id2 == 2) {
                    rc = get_i32(t, f2, 0, I32MAX, &e->lt_precision);
                } else if ((id == 7 || id == 8) && id2 == 1) {
                    rc = get_bool(t, f2, &e->lt_utc);
                } else if ((id == 7 || id == 8) && id2 == 2) {
                    rc = parse_time_unit(t, f2, &e->lt_unit);
                } else if (id == 10 && id2 == 1) {
                    rc = get_i32(t, f2, 0, 64, &e->lt_bits);
                } else if (id == 10 && id2 == 2) {
                    rc = get_bool(t, f2, &e->lt_signed);
                } else {
                    rc = pq_thrift_skip(t, f2);
                }
                if (rc != FEATD_OK) {
                    return FEATD_ERR;
                }
            }
            if (r2 != 0) {
                return FEATD_ERR;
            }
            pq_thrift_leave(t);
            continue;
        default:
            e->logical = PQ_LT_OTHER;
            break;
        }
        if (pq_thrift_skip(t, fty) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    return FEATD_OK;
}

/* Parses one list element of thrift type ty into el; ctx is the caller's. */
typedef int (*parse_elem_fn)(struct pq_thrift *t, int ty, void *el, void *ctx);

/*
 * A list<struct> field of type fty: read the list header, calloc its n
 * elements of size bytes (*arr, also on failure, so that the owner frees
 * what was built), and parse each with fn. *started counts the elements
 * whose parse began (the owner frees exactly those). When same_n is not
 * NULL, the count must equal *same_n once that is non-zero, and is then
 * stored there (row groups must all have the same column count).
 */
static int parse_list(struct pq_thrift *t, int fty, size_t size, void **arr, size_t *started,
                      size_t *same_n, parse_elem_fn fn, void *ctx)
{
    int et;
    size_t n;
    *arr = NULL;
    if (pq_thrift_list(t, fty, &et, &n) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (same_n != NULL) {
        if (*same_n != 0 && n != *same_n) {
            return pq_thrift_fail(t, "row groups have different column counts");
        }
        if (n > 0) {
            *same_n = n;
        }
    }
    if (n == 0) {
        return FEATD_OK;
    }
    uint8_t *a = calloc(n, size);
    if (a == NULL) {
        return pq_thrift_fail(t, "out of memory");
    }
    *arr = a;
    for (size_t i = 0; i < n; i++) {
        *started = i + 1;
        if (fn(t, et, a + i * size, ctx) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* One SchemaElement into el (a struct pq_schema_el); a parse_elem_fn. */
static int parse_schema_el(struct pq_thrift *t, int ty, void *el, void *ctx)
{
    struct pq_schema_el *e = el;
    int r, fty;
    (void)ctx;
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->repetition = -1;
    e->converted = -1;
    e->scale = e->precision = -1;
    e->logical = -1;
    e->lt_unit = -1;
    e->lt_signed = true;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    FIELD_LOOP(t, last, id, fty, r) {
        int rc;
        switch (id) {
        case 1: rc = get_i32(t, fty, 0, 7, &e->type); break;
        case 2: rc = get_i32(t, fty, INT32_MIN, I32MAX, &e->type_length); break;
        case 3: rc = get_i32(t, fty, 0, 2, &e->repetition); break;
        case 4: {
            const uint8_t *p;
            size_t n;
            rc = pq_thrift_binary(t, fty, &p, &n);
            if (rc == FEATD_OK) {
                free(e->name);
                e->name = dup_bin(p, n);
                if (e->name == NULL) {
                    rc = pq_thrift_fail(t, "out of memory");
                }
            }
            break;
        }
        case 5: rc = get_i32(t, fty, 0, I32MAX, &e->num_children); break;
        case 6: rc = get_i32(t, fty, 0, 21, &e->converted); break;
        case 7: rc = get_i32(t, fty, INT32_MIN, I32MAX, &e->scale); break;
        case 8: rc = get_i32(t, fty, INT32_MIN, I32MAX, &e->precision); break;
        case 10: rc = parse_logical(t, fty, e); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (e->name == NULL) {
        e->name = dup_bin((const uint8_t *)"", 0);
        if (e->name == NULL) {
            return pq_thrift_fail(t, "out of memory");
        }
    }
    return FEATD_OK;
}

static int parse_col_meta(struct pq_thrift *t, int ty, struct pq_chunk_meta *c)
{
    int r, fty;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    c->has_meta = true;
    bool seen_type = false, seen_codec = false, seen_nv = false, seen_tcs = false, seen_dpo = false;
    FIELD_LOOP(t, last, id, fty, r) {
        int rc;
        switch (id) {
        case 1: rc = get_i32(t, fty, 0, 7, &c->type); seen_type = true; break;
        case 2: {
            int et;
            size_t n;
            rc = pq_thrift_list(t, fty, &et, &n);
            for (size_t i = 0; rc == FEATD_OK && i < n; i++) {
                int64_t v;
                rc = pq_thrift_int(t, et, INT32_MIN, I32MAX, &v);
                if (rc == FEATD_OK && v >= 0 && v < 32) {
                    c->encodings |= 1u << v;
                }
            }
            break;
        }
        case 4: rc = get_i32(t, fty, 0, I32MAX, &c->codec); seen_codec = true; break;
        case 5: rc = get_i64(t, fty, 0, INT64_MAX, &c->num_values); seen_nv = true; break;
        case 6: rc = get_i64(t, fty, 0, INT64_MAX, &c->total_uncompressed_size); break;
        case 7: rc = get_i64(t, fty, 0, INT64_MAX, &c->total_compressed_size); seen_tcs = true; break;
        case 9: rc = get_i64(t, fty, 0, INT64_MAX, &c->data_page_offset); seen_dpo = true; break;
        case 11: rc = get_i64(t, fty, INT64_MIN, INT64_MAX, &c->dictionary_page_offset); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (!seen_type || !seen_codec || !seen_nv || !seen_tcs || !seen_dpo) {
        return pq_thrift_fail(t, "ColumnMetaData misses a required field");
    }
    return FEATD_OK;
}

/* One ColumnChunk into el (a struct pq_chunk_meta); ctx is the file's
 * struct pq_meta (encrypted is set). A parse_elem_fn. */
static int parse_chunk(struct pq_thrift *t, int ty, void *el, void *ctx)
{
    struct pq_chunk_meta *c = el;
    bool *encrypted = &((struct pq_meta *)ctx)->encrypted;
    int r, fty;
    memset(c, 0, sizeof *c);
    c->dictionary_page_offset = -1;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    FIELD_LOOP(t, last, id, fty, r) {
        int rc;
        switch (id) {
        case 1: c->has_file_path = true; rc = pq_thrift_skip(t, fty); break;
        case 3: rc = parse_col_meta(t, fty, c); break;
        case 8: case 9: *encrypted = true; rc = pq_thrift_skip(t, fty); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    return FEATD_OK;
}

/* One RowGroup into el (a struct pq_row_group); ctx is the file's struct
 * pq_meta (chunk count, encrypted). A parse_elem_fn. */
static int parse_row_group(struct pq_thrift *t, int ty, void *el, void *ctx)
{
    struct pq_row_group *g = el;
    struct pq_meta *m = ctx;
    int r, fty;
    bool seen_cols = false, seen_rows = false;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    FIELD_LOOP(t, last, id, fty, r) {
        int rc;
        if (id == 1 && !seen_cols) {
            void *arr;
            size_t started = 0;     /* chunks own no memory */
            seen_cols = true;
            rc = parse_list(t, fty, sizeof *g->chunks, &arr, &started, &m->nrg_chunks, parse_chunk, m);
            g->chunks = arr;
        } else if (id == 3) {
            seen_rows = true;
            rc = get_i64(t, fty, 0, INT64_MAX, &g->num_rows);
        } else {
            rc = pq_thrift_skip(t, fty);
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (!seen_rows) {
        return pq_thrift_fail(t, "RowGroup misses num_rows");
    }
    if (!seen_cols || (g->chunks == NULL && m->nrg_chunks != 0)) {
        return pq_thrift_fail(t, "RowGroup misses its columns");
    }
    return FEATD_OK;
}

void pq_meta_free(struct pq_meta *m)
{
    if (m->schema != NULL) {
        for (size_t i = 0; i < m->nschema; i++) {
            free(m->schema[i].name);
        }
        free(m->schema);
    }
    if (m->rgs != NULL) {
        for (size_t i = 0; i < m->nrgs; i++) {
            free(m->rgs[i].chunks);
        }
        free(m->rgs);
    }
    free(m->created_by);
    memset(m, 0, sizeof *m);
}

int pq_meta_parse(const uint8_t *buf, size_t len, struct pq_meta *m, char *err, size_t errlen)
{
    struct pq_thrift t;
    int r, fty;
    bool seen_schema = false, seen_rows = false, seen_rgs = false;
    memset(m, 0, sizeof *m);
    pq_thrift_init(&t, buf, len, err, errlen);
    if (pq_thrift_enter(&t, PQ_T_STRUCT) != FEATD_OK) {
        return FEATD_ERR;
    }
    FIELD_LOOP(&t, last, id, fty, r) {
        int rc = FEATD_OK;
        size_t n;
        void *arr;
        switch (id) {
        case 2:
            if (seen_schema) {
                rc = pq_thrift_fail(&t, "schema given twice");
                break;
            }
            seen_schema = true;
            rc = parse_list(&t, fty, sizeof *m->schema, &arr, &m->nschema, NULL, parse_schema_el, NULL);
            m->schema = arr;
            break;
        case 3:
            seen_rows = true;
            rc = get_i64(&t, fty, 0, INT64_MAX, &m->num_rows);
            break;
        case 4:
            if (seen_rgs) {
                rc = pq_thrift_fail(&t, "row_groups given twice");
                break;
            }
            seen_rgs = true;
            rc = parse_list(&t, fty, sizeof *m->rgs, &arr, &m->nrgs, NULL, parse_row_group, m);
            m->rgs = arr;
            break;
        case 6: {
            const uint8_t *p;
            rc = pq_thrift_binary(&t, fty, &p, &n);
            if (rc == FEATD_OK) {
                free(m->created_by);
                m->created_by = dup_bin(p, n);
                if (m->created_by == NULL) {
                    rc = pq_thrift_fail(&t, "out of memory");
                }
            }
            break;
        }
        case 8:
            m->encrypted = true;
            rc = pq_thrift_skip(&t, fty);
            break;
        default:
            rc = pq_thrift_skip(&t, fty);
            break;
        }
        if (rc != FEATD_OK) {
            break;
        }
    }
    if (t.failed || r != 0) {
        if (!t.failed) {
            pq_thrift_fail(&t, "corrupt FileMetaData");
        }
        pq_meta_free(m);
        return FEATD_ERR;
    }
    if (!seen_schema || m->nschema == 0 || !seen_rows || !seen_rgs) {
        util_seterr(err, errlen, "FileMetaData misses schema, num_rows or row_groups");
        pq_meta_free(m);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* DataPageHeader (v1): 1 num_values, 2 encoding, 3 def enc, 4 rep enc. */
static int parse_dph(struct pq_thrift *t, int ty, struct pq_page_header *h)
{
    int r, fty;
    bool s1 = false, s2 = false;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    h->def_encoding = h->rep_encoding = 3;
    FIELD_LOOP(t, last, id, fty, r) {
        int rc, v = 0;
        switch (id) {
        case 1: rc = get_i32(t, fty, 0, I32MAX, &v); h->num_values = v; s1 = true; break;
        case 2: rc = get_i32(t, fty, 0, 9, &h->encoding); s2 = true; break;
        case 3: rc = get_i32(t, fty, 0, 9, &h->def_encoding); break;
        case 4: rc = get_i32(t, fty, 0, 9, &h->rep_encoding); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (!s1 || !s2) {
        return pq_thrift_fail(t, "DataPageHeader misses num_values or encoding");
    }
    h->has_data = true;
    return FEATD_OK;
}

/* DictionaryPageHeader: 1 num_values, 2 encoding, 3 is_sorted. */
static int parse_dict_ph(struct pq_thrift *t, int ty, struct pq_page_header *h)
{
    int r, fty;
    bool s1 = false;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    h->encoding = 0;
    FIELD_LOOP(t, last, id, fty, r) {
        int rc, v = 0;
        switch (id) {
        case 1: rc = get_i32(t, fty, 0, I32MAX, &v); h->num_values = v; s1 = true; break;
        case 2: rc = get_i32(t, fty, 0, 9, &h->encoding); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if (!s1) {
        return pq_thrift_fail(t, "DictionaryPageHeader misses num_values");
    }
    h->has_dict = true;
    return FEATD_OK;
}

/* DataPageHeaderV2: 1 num_values, 2 num_nulls (range-checked, not kept: the
 * levels say which slots are null), 3 num_rows, 4 encoding, 5 def len,
 * 6 rep len, 7 is_compressed. */
static int parse_dph2(struct pq_thrift *t, int ty, struct pq_page_header *h)
{
    int r, fty;
    unsigned seen = 0;
    if (pq_thrift_enter(t, ty) != FEATD_OK) {
        return FEATD_ERR;
    }
    h->is_compressed = true;
    FIELD_LOOP(t, last, id, fty, r) {
        int rc, v = 0;
        switch (id) {
        case 1: rc = get_i32(t, fty, 0, I32MAX, &v); h->num_values = v; break;
        case 2: rc = get_i32(t, fty, 0, I32MAX, &v); break;    /* num_nulls: checked, unused */
        case 3: rc = get_i32(t, fty, 0, I32MAX, &v); h->num_rows = v; break;
        case 4: rc = get_i32(t, fty, 0, 9, &h->encoding); break;
        case 5: rc = get_i32(t, fty, 0, I32MAX, &v); h->def_len = v; break;
        case 6: rc = get_i32(t, fty, 0, I32MAX, &v); h->rep_len = v; break;
        case 7: rc = get_bool(t, fty, &h->is_compressed); break;
        default: rc = pq_thrift_skip(t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
        if (id >= 1 && id <= 6) {
            seen |= 1u << id;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    pq_thrift_leave(t);
    if ((seen & 0x7e) != 0x7e) {
        return pq_thrift_fail(t, "DataPageHeaderV2 misses a required field");
    }
    h->has_v2 = true;
    return FEATD_OK;
}

int pq_meta_page_header(const uint8_t *p, size_t len, struct pq_page_header *h, size_t *used,
                        char *err, size_t errlen)
{
    struct pq_thrift t;
    int r, fty;
    bool s1 = false, s2 = false, s3 = false;
    memset(h, 0, sizeof *h);
    h->type = -1;
    pq_thrift_init(&t, p, len, err, errlen);
    if (pq_thrift_enter(&t, PQ_T_STRUCT) != FEATD_OK) {
        return FEATD_ERR;
    }
    FIELD_LOOP(&t, last, id, fty, r) {
        int rc, v = 0;
        switch (id) {
        case 1: rc = get_i32(&t, fty, 0, 3, &h->type); s1 = true; break;
        case 2: rc = get_i32(&t, fty, 0, I32MAX, &v); h->uncompressed_size = v; s2 = true; break;
        case 3: rc = get_i32(&t, fty, 0, I32MAX, &v); h->compressed_size = v; s3 = true; break;
        case 5: rc = parse_dph(&t, fty, h); break;
        case 7: rc = parse_dict_ph(&t, fty, h); break;
        case 8: rc = parse_dph2(&t, fty, h); break;
        default: rc = pq_thrift_skip(&t, fty); break;
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (r != 0) {
        return FEATD_ERR;
    }
    if (!s1 || !s2 || !s3) {
        util_seterr(err, errlen, "page header misses type or sizes");
        return FEATD_ERR;
    }
    if ((h->type == PQ_PAGE_DATA && !h->has_data) || (h->type == PQ_PAGE_DICT && !h->has_dict)
        || (h->type == PQ_PAGE_DATA_V2 && !h->has_v2)) {
        util_seterr(err, errlen, "page header of type %d misses its sub-header", h->type);
        return FEATD_ERR;
    }
    *used = (size_t)(t.p - p);
    return FEATD_OK;
}
