/*
 * cli_rows.c — the JSON-line row format shared by `featd-cli load` (straight
 * into Redis, cli_load.c) and `featd-cli push` (through featd's
 * WriteFeatures, cli_push.c): reading lines, parsing one into a row of a
 * view (join keys, event and created time, features typed by the view's
 * schema), with a message naming the field on any error. The format is
 * documented in docs/cli.md (`load`). Single-threaded (the CLI's).
 */
#include "cli/cli_rows.h"

#include "online/online_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "featd_client.h"

int cli_row_init(struct cli_row *r, const struct cfg_view *v)
{
    memset(r, 0, sizeof *r);
    r->keys = calloc(v->nkeys ? v->nkeys : 1, sizeof *r->keys);
    r->vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof *r->vals);
    r->scratch = calloc(v->nfeatures ? v->nfeatures : 1, sizeof *r->scratch);
    return r->keys && r->vals && r->scratch ? FEATD_OK : FEATD_ERR;
}

void cli_row_free(struct cli_row *r, const struct cfg_view *v)
{
    if (r->scratch != NULL) {
        for (size_t i = 0; i < v->nfeatures; i++) {
            fbuf_free(&r->scratch[i]);
        }
    }
    free(r->scratch);
    free(r->keys);
    free(r->vals);
}

/* JSON values: online/online_json.h (the converter shared with HTTP push and streams). */

static bool is_event_name(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "event_timestamp") == 0
           || (v->event_ts_column != NULL && strcmp(k, v->event_ts_column) == 0);
}

static bool is_created_name(const struct cfg_view *v, const char *k)
{
    return strcmp(k, "created_timestamp") == 0
           || (v->created_ts_column != NULL && strcmp(k, v->created_ts_column) == 0);
}

int cli_row_convert(const struct cfg_view *v, json_t *obj, struct cli_row *r, char *err,
                    size_t errlen)
{
    char why[256];
    char shown[72];
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "expected a JSON object, got %s", config_json_kind(obj));
        return FEATD_ERR;
    }
    /* unknown fields */
    const char *k;
    json_t *jv;
    json_object_foreach(obj, k, jv) {
        bool known = is_event_name(v, k) || is_created_name(v, k)
                     || config_feature_index(v, k, strlen(k)) >= 0;
        for (size_t i = 0; i < v->nkeys && !known; i++) {
            known = strcmp(v->keys[i].name, k) == 0;
        }
        if (!known) {
            snprintf(err, errlen, "unknown field \"%s\" (not a join key, feature, "
                     "event_timestamp or created_timestamp of view %s)", k, v->name);
            return FEATD_ERR;
        }
    }
    for (size_t i = 0; i < v->nkeys; i++) {
        const json_t *j = json_object_get(obj, v->keys[i].name);
        memset(&r->keys[i], 0, sizeof r->keys[i]);
        if (j == NULL || json_is_null(j)) {
            snprintf(err, errlen, "missing join key %s", v->keys[i].name);
            return FEATD_ERR;
        }
        if (v->keys[i].type == FT_INT64) {
            if (!online_json_int(j, INT64_MIN, INT64_MAX, &r->keys[i].i)) {
                snprintf(err, errlen, "join key %s: expected an int64 integer, got %s",
                         v->keys[i].name, online_json_show(j, shown, sizeof shown));
                return FEATD_ERR;
            }
        } else {
            if (!json_is_string(j)) {
                snprintf(err, errlen, "join key %s: expected a string, got %s",
                         v->keys[i].name, online_json_show(j, shown, sizeof shown));
                return FEATD_ERR;
            }
            r->keys[i].s = json_string_value(j);
            r->keys[i].slen = json_string_length(j);
        }
    }
    const json_t *ev = NULL, *cr = NULL;
    const char *evname = "event_timestamp", *crname = "created_timestamp";
    json_object_foreach(obj, k, jv) {
        if (is_event_name(v, k)) {
            if (ev != NULL) {
                snprintf(err, errlen, "event time given twice (%s and %s)", evname, k);
                return FEATD_ERR;
            }
            ev = jv;
            evname = k;
        } else if (is_created_name(v, k)) {
            if (cr != NULL) {
                snprintf(err, errlen, "created time given twice (%s and %s)", crname, k);
                return FEATD_ERR;
            }
            cr = jv;
            crname = k;
        }
    }
    if (ev == NULL || json_is_null(ev)) {
        snprintf(err, errlen, "missing event_timestamp");
        return FEATD_ERR;
    }
    if (!online_json_time(ev, &r->event_ts)) {
        snprintf(err, errlen, "%s: expected integer microseconds or an ISO-8601 time like "
                 "\"2026-11-21T10:00:00Z\", got %s", evname, online_json_show(ev, shown, sizeof shown));
        return FEATD_ERR;
    }
    r->created_ts = ONLINE_NO_CREATED_TS;
    if (cr != NULL && !json_is_null(cr) && !online_json_time(cr, &r->created_ts)) {
        snprintf(err, errlen, "%s: expected integer microseconds or an ISO-8601 time, got %s",
                 crname, online_json_show(cr, shown, sizeof shown));
        return FEATD_ERR;
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        const struct cfg_feature *f = &v->features[i];
        if (online_json_feature(json_object_get(obj, f->name), f, &r->vals[i], &r->scratch[i], why,
                         sizeof why) != FEATD_OK) {
            snprintf(err, errlen, "feature %s (%s): %s", f->name, config_type_name(f->type), why);
            return FEATD_ERR;
        }
    }
    return FEATD_OK;
}

/* ---- input ---- */

int cli_read_line(FILE *in, struct fbuf *line)
{
    fbuf_reset(line);
    bool any = false, too_long = false;
    char chunk[65536];
    while (fgets(chunk, sizeof chunk, in) != NULL) {
        any = true;
        size_t n = strlen(chunk);
        bool eol = n > 0 && chunk[n - 1] == '\n';
        if (eol) {
            n--;
        }
        if (!too_long) {
            if (line->len + n > CLI_ROWS_MAX_LINE) {
                too_long = true;
            } else if (fbuf_append(line, chunk, n) != FEATD_OK) {
                return -2;
            }
        }
        if (eol) {
            break;
        }
    }
    if (ferror(in)) {
        return -2;
    }
    if (!any) {
        return 0;
    }
    if (line->len > 0 && line->data[line->len - 1] == '\r') {
        line->data[--line->len] = '\0';
    }
    return too_long ? -1 : 1;
}

bool cli_line_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

int cli_row_parse(const struct cfg_view *v, const char *text, size_t len, json_t **obj,
                  struct cli_row *r, char *err, size_t errlen)
{
    json_error_t jerr;
    *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (*obj == NULL) {
        snprintf(err, errlen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return FEATD_ERR;
    }
    if (cli_row_convert(v, *obj, r, err, errlen) != FEATD_OK) {
        json_decref(*obj);
        *obj = NULL;
        return FEATD_ERR;
    }
    return FEATD_OK;
}
