/*
 * parquet.c — opening a Parquet file (magic, footer, FileMetaData), building
 * the top-level column view of the schema (flat columns, list<primitive>
 * in its 3-level, 2-level and bare-repeated forms; everything else marked
 * unsupported with a reason), accessors, and the conversions the
 * materializer needs (timestamps to µs, FLOAT16, type compatibility).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet/internal.h"
#include "parquet/parquet.h"
#include "parquet/codec.h"

void pq_options_default(struct pq_options *o)
{
    o->max_page_size = (size_t)256 << 20;
    o->max_footer_size = (size_t)64 << 20;
    o->max_chunk_size = (size_t)1 << 30;
    o->max_values = (size_t)256 << 20;
    o->max_data_size = (size_t)1 << 30;
}

/* ---- schema ------------------------------------------------------------ */

struct walk {
    struct pq_file *f;
    char *err;
    size_t errlen;
};

/* Walk the subtree at schema[idx]; append its leaves; *next = index after it. */
static int walk(struct walk *w, size_t idx, int depth, int def, int rep, int col, size_t *next)
{
    struct pq_file *f = w->f;
    const struct pq_schema_el *e = &f->meta.schema[idx];
    if (depth > PQ_MAX_SCHEMA_DEPTH) {
        util_seterr(w->err, w->errlen, "schema nested deeper than %d levels", PQ_MAX_SCHEMA_DEPTH);
        return FEATD_ERR;
    }
    if (depth > 0) {
        if (e->repetition == 1) {
            def++;
        } else if (e->repetition == 2) {
            def++;
            rep++;
        }
    }
    if (e->num_children == 0 && e->type >= 0) {
        if (depth == 0) {
            util_seterr(w->err, w->errlen, "schema root is not a group");
            return FEATD_ERR;
        }
        struct pq_leaf *l = &f->leaves[f->nleaves++];
        l->physical = e->type;
        l->max_def = def;
        l->max_rep = rep;
        l->column = col;
        *next = idx + 1;
        return FEATD_OK;
    }
    if (e->type >= 0 && depth > 0) {
        util_seterr(w->err, w->errlen, "schema element '%s' has a type and children", e->name);
        return FEATD_ERR;
    }
    if ((size_t)e->num_children > f->meta.nschema - idx - 1) {
        util_seterr(w->err, w->errlen, "schema element '%s' declares %d children, fewer remain",
                  e->name, e->num_children);
        return FEATD_ERR;
    }
    size_t j = idx + 1;
    for (int k = 0; k < e->num_children; k++) {
        if (j >= f->meta.nschema) {
            util_seterr(w->err, w->errlen, "schema truncated under '%s'", e->name);
            return FEATD_ERR;
        }
        int c = col;
        if (depth == 0) {
            c = (int)f->ncols;
            f->cols[f->ncols].name = f->meta.schema[j].name;
            f->cols[f->ncols].leaf = (int)f->nleaves;
            f->cols[f->ncols].converted_type = (int)j;    /* temp: schema index */
            f->ncols++;
        }
        if (walk(w, j, depth + 1, def, rep, c, &j) != FEATD_OK) {
            return FEATD_ERR;
        }
        if (depth == 0) {
            struct pq_column *pc = &f->cols[c];
            pc->nleaves = (int)f->nleaves - pc->leaf;
        }
    }
    *next = j;
    return FEATD_OK;
}

/* Fill the type fields of c from primitive schema element e. */
static void set_type(struct pq_column *c, const struct pq_schema_el *e)
{
    int lt = PQ_LT_NONE;
    c->physical = (enum pq_physical)e->type;
    c->type_length = e->type == PQ_FLBA ? e->type_length : 0;
    c->converted_type = e->converted;
    c->int_bits = 0;
    c->int_signed = true;
    c->time_unit = PQ_MICROS;
    c->utc = false;
    c->scale = c->precision = 0;
    if (e->logical >= 0) {
        lt = e->logical;
        switch (lt) {
        case PQ_LT_INT:
            c->int_bits = e->lt_bits;
            c->int_signed = e->lt_signed;
            break;
        case PQ_LT_TIME:
        case PQ_LT_TIMESTAMP:
            c->time_unit = (enum pq_time_unit)e->lt_unit;
            c->utc = e->lt_utc;
            if (e->lt_unit < 0) {
                lt = PQ_LT_OTHER;
            }
            break;
        case PQ_LT_DECIMAL:
            c->scale = e->lt_scale;
            c->precision = e->lt_precision;
            if (c->precision == 0 && e->precision > 0) {
                c->scale = e->scale;
                c->precision = e->precision;
            }
            break;
        default:
            break;
        }
    } else {
        switch (e->converted) {
        case 0: lt = PQ_LT_STRING; break;
        case 4: lt = PQ_LT_ENUM; break;
        case 5: lt = PQ_LT_DECIMAL; c->scale = e->scale < 0 ? 0 : e->scale; c->precision = e->precision; break;
        case 6: lt = PQ_LT_DATE; break;
        case 7: lt = PQ_LT_TIME; c->time_unit = PQ_MILLIS; c->utc = true; break;
        case 8: lt = PQ_LT_TIME; c->time_unit = PQ_MICROS; c->utc = true; break;
        case 9: lt = PQ_LT_TIMESTAMP; c->time_unit = PQ_MILLIS; c->utc = true; break;
        case 10: lt = PQ_LT_TIMESTAMP; c->time_unit = PQ_MICROS; c->utc = true; break;
        case 11: case 12: case 13: case 14:
            lt = PQ_LT_INT; c->int_signed = false; c->int_bits = 8 << (e->converted - 11); break;
        case 15: case 16: case 17: case 18:
            lt = PQ_LT_INT; c->int_signed = true; c->int_bits = 8 << (e->converted - 15); break;
        case 19: lt = PQ_LT_JSON; break;
        case 20: lt = PQ_LT_BSON; break;
        case 21: lt = PQ_LT_INTERVAL; break;
        default: lt = PQ_LT_NONE; break;
        }
    }
    /* annotation must fit the physical type, else the raw physical value is used */
    bool ok = true;
    switch (lt) {
    case PQ_LT_STRING: case PQ_LT_ENUM: case PQ_LT_JSON: case PQ_LT_BSON:
        ok = c->physical == PQ_BYTE_ARRAY;
        break;
    case PQ_LT_UUID: ok = c->physical == PQ_FLBA && c->type_length == 16; break;
    case PQ_LT_INT:
        ok = (c->physical == PQ_INT32 && (c->int_bits == 8 || c->int_bits == 16 || c->int_bits == 32))
             || (c->physical == PQ_INT64 && c->int_bits == 64);
        break;
    case PQ_LT_DATE: ok = c->physical == PQ_INT32; break;
    case PQ_LT_TIME:
        ok = (c->physical == PQ_INT32 && c->time_unit == PQ_MILLIS)
             || (c->physical == PQ_INT64 && c->time_unit != PQ_MILLIS);
        break;
    case PQ_LT_TIMESTAMP: ok = c->physical == PQ_INT64; break;
    case PQ_LT_DECIMAL:
        ok = (c->physical == PQ_INT32 || c->physical == PQ_INT64 || c->physical == PQ_FLBA
              || c->physical == PQ_BYTE_ARRAY)
             && c->precision >= 1 && c->precision <= 1000 && c->scale >= 0
             && c->scale <= c->precision;
        break;
    case PQ_LT_FLOAT16: ok = c->physical == PQ_FLBA && c->type_length == 2; break;
    case PQ_LT_INTERVAL: ok = c->physical == PQ_FLBA && c->type_length == 12; break;
    default: break;
    }
    c->logical = ok ? (enum pq_logical)lt : PQ_LT_OTHER;
    if (c->logical != PQ_LT_DECIMAL) {
        c->scale = c->precision = 0;
    }
}

static void unsupported(struct pq_column *c, const char *why)
{
    c->supported = false;
    c->unsupported_reason = why;
}

static bool is_list_annot(const struct pq_schema_el *e)
{
    return e->lt_list || e->converted == 3;
}

/* Classify top-level column c (schema index ti). */
static int classify(struct pq_file *f, struct pq_column *c, size_t ti, char *err, size_t errlen)
{
    const struct pq_schema_el *s = f->meta.schema;
    const struct pq_schema_el *t = &s[ti];
    c->supported = true;
    c->unsupported_reason = "";
    c->physical = PQ_BYTE_ARRAY;
    c->converted_type = t->converted;
    if (c->nleaves > 0) {
        const struct pq_leaf *l = &f->leaves[c->leaf];
        c->max_def = l->max_def;
        c->max_rep = l->max_rep;
    }
    const struct pq_schema_el *el = NULL;       /* primitive element/value */
    if (t->type >= 0) {
        el = t;
        if (t->repetition == 2) {
            c->is_list = true;
            c->nullable = false;
            c->element_nullable = false;
            c->def_list = 0;
            c->def_elem = 1;
        } else {
            c->nullable = t->repetition == 1;
        }
    } else if (t->lt_map || t->converted == 1 || t->converted == 2) {
        unsupported(c, "MAP columns are not supported");
    } else if (is_list_annot(t)) {
        c->nullable = t->repetition == 1;
        if (t->repetition == 2) {
            unsupported(c, "a repeated LIST group is not supported");
        } else if (t->num_children != 1) {
            unsupported(c, "a LIST group must have exactly one child");
        } else if (s[ti + 1].repetition != 2) {
            unsupported(c, "the child of a LIST group is not repeated");
        } else if (s[ti + 1].type >= 0) {
            el = &s[ti + 1];            /* 2-level: the repeated field is the element */
            c->element_nullable = false;
        } else if (s[ti + 1].num_children != 1) {
            unsupported(c, "lists of structs are not supported");
        } else {
            const struct pq_schema_el *r = &s[ti + 1];
            size_t tl = strlen(t->name);
            bool legacy = strcmp(r->name, "array") == 0
                          || (strncmp(r->name, t->name, tl) == 0 && strcmp(r->name + tl, "_tuple") == 0);
            const struct pq_schema_el *e = &s[ti + 2];
            if (legacy) {
                unsupported(c, "lists of structs (legacy 2-level form) are not supported");
            } else if (e->type < 0) {
                unsupported(c, is_list_annot(e) ? "nested lists are not supported"
                                                : "lists of structs or maps are not supported");
            } else if (e->repetition == 2) {
                unsupported(c, "nested repeated fields are not supported");
            } else {
                el = e;
                c->element_nullable = e->repetition == 1;
            }
        }
        if (el != NULL) {
            c->is_list = true;
            c->def_list = c->nullable ? 1 : 0;
            c->def_elem = c->def_list + 1;
        }
    } else if (t->num_children == 0) {
        unsupported(c, "empty groups are not supported");
    } else {
        unsupported(c, "struct (group) columns are not supported");
    }
    if (el == NULL) {
        c->physical = PQ_BYTE_ARRAY;
        c->logical = PQ_LT_NONE;
        return FEATD_OK;
    }
    if (el->type == PQ_FLBA && (el->type_length <= 0 || el->type_length > PQ_MAX_TYPE_LENGTH)) {
        util_seterr(err, errlen, "column '%s': invalid FIXED_LEN_BYTE_ARRAY length %d", c->name,
                  el->type_length);
        return FEATD_ERR;
    }
    set_type(c, el);
    if (c->nleaves != 1) {
        unsupported(c, "unexpected schema shape");
        return FEATD_OK;
    }
    int want_def = c->is_list ? c->def_elem + (c->element_nullable ? 1 : 0) : (c->nullable ? 1 : 0);
    int want_rep = c->is_list ? 1 : 0;
    if (c->max_def != want_def || c->max_rep != want_rep) {
        unsupported(c, "unexpected definition/repetition levels");
    }
    return FEATD_OK;
}

static int build_schema(struct pq_file *f, char *err, size_t errlen)
{
    struct pq_meta *m = &f->meta;
    f->leaves = calloc(m->nschema, sizeof *f->leaves);
    f->cols = calloc(m->nschema, sizeof *f->cols);
    if (f->leaves == NULL || f->cols == NULL) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    struct walk w = { f, err, errlen };
    size_t next;
    if (m->schema[0].type >= 0 && m->schema[0].num_children == 0) {
        util_seterr(err, errlen, "schema root is not a group");
        return FEATD_ERR;
    }
    if (walk(&w, 0, 0, 0, 0, -1, &next) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (next != m->nschema) {
        util_seterr(err, errlen, "schema has %zu elements outside the root's tree", m->nschema - next);
        return FEATD_ERR;
    }
    for (size_t i = 0; i < f->ncols; i++) {
        size_t ti = (size_t)f->cols[i].converted_type;
        if (classify(f, &f->cols[i], ti, err, errlen) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    for (size_t i = 0; i < m->nrgs; i++) {
        if (m->rgs[i].chunks == NULL && f->nleaves > 0) {
            util_seterr(err, errlen, "row group %zu has no columns", i);
            return FEATD_ERR;
        }
    }
    if (m->nrgs > 0 && m->nrg_chunks != f->nleaves) {
        util_seterr(err, errlen, "row groups have %zu column chunks, the schema %zu leaves",
                  m->nrg_chunks, f->nleaves);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* ---- open -------------------------------------------------------------- */

static int read_at(struct pq_file *f, uint64_t off, uint8_t *dst, size_t len, char *err, size_t errlen)
{
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(f->fd, dst + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            util_seterr(err, errlen, "read failed: %s", k < 0 ? strerror(errno) : "short file");
            return FEATD_ERR;
        }
        got += (size_t)k;
    }
    return FEATD_OK;
}

static int open_common(struct pq_file *f, char *err, size_t errlen)
{
    uint8_t tail[8], head[4];
    if (f->size < 12) {
        util_seterr(err, errlen, "not a Parquet file (only %llu bytes)", (unsigned long long)f->size);
        return FEATD_ERR;
    }
    if (f->mem != NULL) {
        memcpy(tail, f->mem + f->size - 8, 8);
        memcpy(head, f->mem, 4);
    } else if (read_at(f, f->size - 8, tail, 8, err, errlen) != FEATD_OK
               || read_at(f, 0, head, 4, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (memcmp(tail + 4, "PARE", 4) == 0 || memcmp(head, "PARE", 4) == 0) {
        util_seterr(err, errlen, "encrypted Parquet files are not supported (PARE magic: encrypted footer)");
        return FEATD_ERR;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0 || memcmp(head, "PAR1", 4) != 0) {
        util_seterr(err, errlen, "not a Parquet file (no PAR1 magic)");
        return FEATD_ERR;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16
                    | (uint32_t)tail[3] << 24;
    if (flen == 0 || flen > f->size - 12) {
        util_seterr(err, errlen, "corrupt footer length %u (file has %llu bytes)", flen,
                  (unsigned long long)f->size);
        return FEATD_ERR;
    }
    if (flen > f->opts.max_footer_size) {
        util_seterr(err, errlen, "footer of %u bytes exceeds max_footer_size %zu", flen,
                  f->opts.max_footer_size);
        return FEATD_ERR;
    }
    f->data_end = f->size - 8 - flen;
    const uint8_t *fp;
    uint8_t *heap = NULL;
    if (f->mem != NULL) {
        fp = f->mem + f->data_end;
    } else {
        heap = malloc(flen);
        if (heap == NULL) {
            util_seterr(err, errlen, "out of memory reading the footer");
            return FEATD_ERR;
        }
        if (read_at(f, f->data_end, heap, flen, err, errlen) != FEATD_OK) {
            free(heap);
            return FEATD_ERR;
        }
        fp = heap;
    }
    char why[200];
    int rc = pq_meta_parse(fp, flen, &f->meta, why, sizeof why);
    free(heap);
    if (rc != FEATD_OK) {
        util_seterr(err, errlen, "corrupt footer: %s", why);
        return FEATD_ERR;
    }
    if (f->meta.encrypted) {
        util_seterr(err, errlen, "encrypted Parquet files are not supported "
                  "(encryption_algorithm or column crypto_metadata set)");
        return FEATD_ERR;
    }
    return build_schema(f, err, errlen);
}

static struct pq_file *new_file(const struct pq_options *opts)
{
    struct pq_file *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->fd = -1;
    if (opts != NULL) {
        f->opts = *opts;
    } else {
        pq_options_default(&f->opts);
    }
    return f;
}

static int finish_open(struct pq_file *f, struct pq_file **out, char *err, size_t errlen)
{
    if (open_common(f, err, errlen) != FEATD_OK) {
        pq_close(f);
        *out = NULL;
        return FEATD_ERR;
    }
    *out = f;
    return FEATD_OK;
}

static int open_fd(int fd, const struct pq_options *opts, struct pq_file **out, char *err, size_t errlen)
{
    struct stat st;
    *out = NULL;
    if (fstat(fd, &st) != 0) {
        util_seterr(err, errlen, "fstat: %s", strerror(errno));
        return FEATD_ERR;
    }
    if (!S_ISREG(st.st_mode)) {
        util_seterr(err, errlen, "not a regular file");
        return FEATD_ERR;
    }
    struct pq_file *f = new_file(opts);
    if (f == NULL) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    return finish_open(f, out, err, errlen);
}

int pq_open_file(const char *path, const struct pq_options *opts, struct pq_file **out,
                 char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return FEATD_ERR;
    }
    char why[256];
    if (open_fd(fd, opts, out, why, sizeof why) != FEATD_OK) {
        close(fd);
        util_seterr(err, errlen, "%s: %s", path, why);
        return FEATD_ERR;
    }
    (*out)->own_fd = true;
    return FEATD_OK;
}

int pq_open_mem(const uint8_t *buf, size_t len, const struct pq_options *opts,
                struct pq_file **out, char *err, size_t errlen)
{
    *out = NULL;
    struct pq_file *f = new_file(opts);
    if (f == NULL) {
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    static const uint8_t empty[1];
    f->mem = buf != NULL ? buf : empty;
    f->size = buf != NULL ? len : 0;
    return finish_open(f, out, err, errlen);
}

void pq_close(struct pq_file *f)
{
    if (f == NULL) {
        return;
    }
    if (f->own_fd && f->fd >= 0) {
        close(f->fd);
    }
    pq_meta_free(&f->meta);
    free(f->leaves);
    free(f->cols);
    free(f->chunk.p);
    free(f->page.p);
    free(f->def.p);
    free(f->rep.p);
    free(f->idx.p);
    free(f->tmp.p);
    free(f->dict.p);
    free(f->dict_offs.p);
    free(f);
}

/* ---- accessors --------------------------------------------------------- */

int64_t pq_num_rows(const struct pq_file *f) { return f->meta.num_rows; }
int pq_num_row_groups(const struct pq_file *f) { return (int)f->meta.nrgs; }
int pq_num_columns(const struct pq_file *f) { return (int)f->ncols; }
const char *pq_created_by(const struct pq_file *f)
{
    return f->meta.created_by != NULL ? f->meta.created_by : "";
}

int64_t pq_row_group_num_rows(const struct pq_file *f, int rg)
{
    if (rg < 0 || (size_t)rg >= f->meta.nrgs) {
        return -1;
    }
    return f->meta.rgs[rg].num_rows;
}

const struct pq_column *pq_column(const struct pq_file *f, int col)
{
    if (col < 0 || (size_t)col >= f->ncols) {
        return NULL;
    }
    return &f->cols[col];
}

int pq_find_column(const struct pq_file *f, const char *name)
{
    for (size_t i = 0; i < f->ncols; i++) {
        if (strcmp(f->cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int pq_chunk_info(const struct pq_file *f, int rg, int leaf, struct pq_chunk_info *out)
{
    if (rg < 0 || (size_t)rg >= f->meta.nrgs || leaf < 0 || (size_t)leaf >= f->nleaves) {
        return FEATD_ERR;
    }
    const struct pq_chunk_meta *c = &f->meta.rgs[rg].chunks[leaf];
    out->codec = c->codec;
    out->encodings = c->encodings;
    out->num_values = c->num_values;
    out->total_compressed_size = c->total_compressed_size;
    out->total_uncompressed_size = c->total_uncompressed_size;
    out->data_page_offset = c->data_page_offset;
    out->dictionary_page_offset = c->dictionary_page_offset;
    return FEATD_OK;
}

const char *pq_encoding_name(int e)
{
    static const char *const names[] = {
        "PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
        "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"
    };
    if (e >= 0 && (size_t)e < FEATD_ARRAY_LEN(names)) {
        return names[e];
    }
    return "UNKNOWN_ENCODING";
}

const char *pq_physical_name(int p)
{
    static const char *const names[] = {
        "BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
        "FIXED_LEN_BYTE_ARRAY"
    };
    if (p >= 0 && (size_t)p < FEATD_ARRAY_LEN(names)) {
        return names[p];
    }
    return "UNKNOWN_TYPE";
}

const char *pq_column_type_string(const struct pq_column *c, char *buf, size_t len)
{
    static const char *const units[] = { "MILLIS", "MICROS", "NANOS" };
    char phys[48], lt[64];
    if (!c->supported) {
        snprintf(buf, len, "unsupported (%s)", c->unsupported_reason);
        return buf;
    }
    if (c->physical == PQ_FLBA) {
        snprintf(phys, sizeof phys, "FIXED_LEN_BYTE_ARRAY(%d)", c->type_length);
    } else {
        snprintf(phys, sizeof phys, "%s", pq_physical_name(c->physical));
    }
    lt[0] = '\0';
    switch (c->logical) {
    case PQ_LT_STRING: snprintf(lt, sizeof lt, " STRING"); break;
    case PQ_LT_ENUM: snprintf(lt, sizeof lt, " ENUM"); break;
    case PQ_LT_JSON: snprintf(lt, sizeof lt, " JSON"); break;
    case PQ_LT_BSON: snprintf(lt, sizeof lt, " BSON"); break;
    case PQ_LT_UUID: snprintf(lt, sizeof lt, " UUID"); break;
    case PQ_LT_INT:
        snprintf(lt, sizeof lt, " INT(%d,%s)", c->int_bits, c->int_signed ? "signed" : "unsigned");
        break;
    case PQ_LT_DATE: snprintf(lt, sizeof lt, " DATE"); break;
    case PQ_LT_TIME:
        snprintf(lt, sizeof lt, " TIME(%s%s)", units[c->time_unit], c->utc ? ",UTC" : "");
        break;
    case PQ_LT_TIMESTAMP:
        snprintf(lt, sizeof lt, " TIMESTAMP(%s,%s)", units[c->time_unit], c->utc ? "UTC" : "local");
        break;
    case PQ_LT_DECIMAL: snprintf(lt, sizeof lt, " DECIMAL(%d,%d)", c->precision, c->scale); break;
    case PQ_LT_FLOAT16: snprintf(lt, sizeof lt, " FLOAT16"); break;
    case PQ_LT_INTERVAL: snprintf(lt, sizeof lt, " INTERVAL"); break;
    case PQ_LT_NULL: snprintf(lt, sizeof lt, " NULL"); break;
    case PQ_LT_OTHER: snprintf(lt, sizeof lt, " (unknown annotation)"); break;
    default: break;
    }
    if (c->is_list) {
        snprintf(buf, len, "list<%s%s%s>", phys, lt, c->element_nullable ? "" : " not null");
    } else {
        snprintf(buf, len, "%s%s", phys, lt);
    }
    return buf;
}

/* ---- conversions ------------------------------------------------------- */

int64_t pq_int96_to_us(const uint8_t *p)
{
    uint64_t nanos = 0;
    uint32_t jd = 0;
    for (int i = 7; i >= 0; i--) {
        nanos = (nanos << 8) | p[i];
    }
    for (int i = 11; i >= 8; i--) {
        jd = (jd << 8) | p[i];
    }
    /* Julian day 2440588 is 1970-01-01; wrapping arithmetic like Spark/Arrow */
    uint64_t days = (uint64_t)((int64_t)(int32_t)jd - 2440588);
    uint64_t us = days * UINT64_C(86400000000) + (uint64_t)((int64_t)nanos / 1000);
    return (int64_t)us;
}

float pq_half_to_float(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400) == 0);
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float fl;
    memcpy(&fl, &bits, 4);
    return fl;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

int pq_timestamps_us(const struct pq_column *c, const struct pq_vec *v, int64_t *out,
                     char *err, size_t errlen)
{
    const uint8_t *sv = v->is_list ? v->elem_valid : v->valid;
    size_t n = v->nvals;
    if (v->physical != c->physical) {
        util_seterr(err, errlen, "column '%s': vector does not belong to this column", c->name);
        return FEATD_ERR;
    }
    if (c->physical == PQ_INT96) {
        const uint8_t *p = v->vals;
        for (size_t i = 0; i < n; i++) {
            out[i] = sv[i] ? pq_int96_to_us(p + 12 * i) : 0;
        }
        return FEATD_OK;
    }
    if (c->physical == PQ_INT32 && c->logical == PQ_LT_DATE) {
        const int32_t *d = v->vals;
        for (size_t i = 0; i < n; i++) {
            if (!sv[i]) {
                out[i] = 0;
            } else if (__builtin_mul_overflow((int64_t)d[i], INT64_C(86400000000), &out[i])) {
                util_seterr(err, errlen, "column '%s': date %d days out of the timestamp range",
                          c->name, d[i]);
                return FEATD_ERR;
            }
        }
        return FEATD_OK;
    }
    if (c->physical == PQ_INT64 && (c->logical == PQ_LT_TIMESTAMP || c->logical == PQ_LT_NONE)) {
        const int64_t *t = v->vals;
        enum pq_time_unit u = c->logical == PQ_LT_TIMESTAMP ? c->time_unit : PQ_MICROS;
        if (u == PQ_MICROS) {
            for (size_t i = 0; i < n; i++) {
                out[i] = sv[i] ? t[i] : 0;
            }
        } else if (u == PQ_NANOS) {
            for (size_t i = 0; i < n; i++) {
                out[i] = sv[i] ? floordiv(t[i], 1000) : 0;
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                if (!sv[i]) {
                    out[i] = 0;
                } else if (__builtin_mul_overflow(t[i], (int64_t)1000, &out[i])) {
                    util_seterr(err, errlen, "column '%s': millisecond timestamp %lld out of range",
                              c->name, (long long)t[i]);
                    return FEATD_ERR;
                }
            }
        }
        return FEATD_OK;
    }
    char tb[128];
    util_seterr(err, errlen, "column '%s' (%s) is not a timestamp or date", c->name,
              pq_column_type_string(c, tb, sizeof tb));
    return FEATD_ERR;
}
