/*
 * online_key.c — building the online tier's Redis keys (layout in
 * online_key.h). Pure and allocation-free apart from the caller's fbuf; the
 * lookup path calls these for every key, on worker threads.
 */
#include "online/online_key.h"

#include <inttypes.h>
#include <string.h>

/* Appends the decimal form of an unsigned integer (no printf on hot paths). */
static int put_u64(struct fbuf *out, uint64_t v)
{
    char tmp[ONLINE_FIELD_MAX];
    size_t n = online_key_field(tmp, v);
    return fbuf_append(out, tmp, n);
}

static int put_i64(struct fbuf *out, int64_t v)
{
    if (v < 0) {
        if (fbuf_putc(out, '-') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        return put_u64(out, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(out, (uint64_t)v);
}

static int put_str(struct fbuf *out, const char *s)
{
    return fbuf_append(out, s, strlen(s));
}

/* ---- entity keys ---- */

static int put_layout(struct fbuf *out, const char *key_prefix, const char *version)
{
    if (put_str(out, key_prefix) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK ||
        put_str(out, version) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int online_key_row_prefix(struct fbuf *out, const char *key_prefix)
{
    if (put_layout(out, key_prefix, ONLINE_LAYOUT_VERSION) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return fbuf_putc(out, '{');
}

int online_key_row_end(struct fbuf *out)
{
    return fbuf_putc(out, '}');
}

/* Entity key: per join key in view order "i<decimal>" or "s<len>:<bytes>".
 * FEATD_ERR when a join key has a type other than int64/string. */
int online_key_entity(struct fbuf *out, const struct cfg_view *v, const struct online_key *keys)
{
    for (size_t k = 0; k < v->nkeys; k++) {
        int rc;
        if (v->keys[k].type == FT_INT64) {
            rc = fbuf_putc(out, 'i');
            if (rc == FEATD_OK) {
                rc = put_i64(out, keys[k].i);
            }
        } else if (v->keys[k].type == FT_STRING) {
            rc = fbuf_putc(out, 's');
            if (rc == FEATD_OK) {
                rc = put_u64(out, keys[k].slen);
            }
            if (rc == FEATD_OK) {
                rc = fbuf_putc(out, ':');
            }
            if (rc == FEATD_OK && keys[k].slen > 0) {
                rc = keys[k].s ? fbuf_append(out, keys[k].s, keys[k].slen) : FEATD_ERR;
            }
        } else {
            return FEATD_ERR;
        }
        if (rc != FEATD_OK) {
            return rc;
        }
    }
    return FEATD_OK;
}

int online_key_row(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                   const struct online_key *keys)
{
    int rc = online_key_row_prefix(out, key_prefix);
    if (rc == FEATD_OK) {
        rc = online_key_entity(out, v, keys);
    }
    if (rc == FEATD_OK) {
        rc = online_key_row_end(out);
    }
    return rc;
}

size_t online_key_field(char *buf, uint64_t gen)
{
    char tmp[ONLINE_FIELD_MAX];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + gen % 10);
        gen /= 10;
    } while (gen);
    size_t len = sizeof(tmp) - n;
    memcpy(buf, tmp + n, len);
    buf[len] = '\0';
    return len;
}

int online_key_glob_escape(struct fbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if ((ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\' || ch == '^' ||
             ch == '-') && fbuf_putc(out, '\\') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        if (fbuf_putc(out, ch) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/* Appends the SCAN MATCH pattern "<k escaped>*" and frees k (rc: k was
 * built without error). */
static int put_pattern(struct fbuf *out, struct fbuf *k, int rc)
{
    if (rc == FEATD_OK) {
        rc = online_key_glob_escape(out, k->data, k->len);
    }
    if (rc == FEATD_OK) {
        rc = fbuf_putc(out, '*');
    }
    fbuf_free(k);
    return rc;
}

int online_key_row_pattern(struct fbuf *out, const char *key_prefix)
{
    struct fbuf k = { 0 };
    return put_pattern(out, &k, online_key_row_prefix(&k, key_prefix));
}

/* ---- meta keys ---- */

static int put_fingerprint(struct fbuf *out, const struct cfg_view *v)
{
    if (strlen(v->fingerprint_hex) == 16) {
        return fbuf_append(out, v->fingerprint_hex, 16);
    }
    return fbuf_appendf(out, "%016" PRIx64, v->fingerprint);
}

/* "P:v2:m:{V}" */
static int put_view_tag(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_layout(out, key_prefix, ONLINE_LAYOUT_VERSION) != FEATD_OK ||
        put_str(out, "m:{") != FEATD_OK || put_str(out, v->name) != FEATD_OK ||
        fbuf_putc(out, '}') != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int online_key_view_prefix(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_view_tag(out, key_prefix, v) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK ||
        put_fingerprint(out, v) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int online_key_meta(struct fbuf *out, const char *key_prefix, const struct cfg_view *v,
                    const char *suffix)
{
    int rc = online_key_view_prefix(out, key_prefix, v);
    if (rc == FEATD_OK) {
        rc = put_str(out, suffix);
    }
    return rc;
}

int online_key_current(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    return online_key_meta(out, key_prefix, v, "current");
}

int online_key_lease(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_view_tag(out, key_prefix, v) != FEATD_OK || put_str(out, ":lease") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int online_key_genseq(struct fbuf *out, const char *key_prefix)
{
    if (put_layout(out, key_prefix, ONLINE_LAYOUT_VERSION) != FEATD_OK ||
        put_str(out, "m:genseq") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

/* ---- the previous layout (v1), for the upgrade ---- */

int online_key_v1_current(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    if (put_layout(out, key_prefix, ONLINE_LAYOUT_PREVIOUS) != FEATD_OK ||
        put_str(out, v->name) != FEATD_OK || fbuf_putc(out, ':') != FEATD_OK ||
        put_fingerprint(out, v) != FEATD_OK || put_str(out, ":current") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int online_key_v1_pattern(struct fbuf *out, const char *key_prefix, const struct cfg_view *v)
{
    struct fbuf k = { 0 };
    int rc = put_layout(&k, key_prefix, ONLINE_LAYOUT_PREVIOUS);
    if (rc == FEATD_OK) {
        rc = put_str(&k, v->name);
    }
    if (rc == FEATD_OK) {
        rc = fbuf_putc(&k, ':');
    }
    return put_pattern(out, &k, rc);
}
