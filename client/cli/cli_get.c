/*
 * cli_get.c — `featd-cli get`: one GetOnlineFeatures lookup, printed as a
 * table (one row per entity, one column per feature) or as Feast-shaped JSON.
 *
 * Entity values are typed, per join key, by (first match wins):
 *   1. an explicit suffix: --entity customer_id:int=1,2  /  --entity city:str=Paris
 *   2. the join key's type in the server's registry (ListFeatureViews of the
 *      views named in --features)
 *   3. the value itself: integers are int64, anything else a string.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "get"
#define MAX_CELL 48         /* display width of a table cell */

static const char help_text[] =
    "usage: featd-cli [GLOBAL OPTIONS] get --features REFS --entity KEY=V1[,V2...]\n"
    "                 [--entity KEY2=...] [--deadline MS] [--json [--full-feature-names]]\n"
    "                 [--timestamps]\n"
    "\n"
    "Look up the current values of features for one or more entities.\n"
    "\n"
    "  -f, --features REFS   comma-separated feature references \"view:feature\" or\n"
    "                        \"view:*\" (all features of a view); repeatable\n"
    "  -e, --entity SPEC     KEY[:int|:str]=V1,V2,...  one entity column (one value per\n"
    "                        entity row); repeat for composite keys, every column with\n"
    "                        the same number of values. \"\\,\" is a literal comma.\n"
    "                        Without :int/:str a key is typed as the registry declares\n"
    "                        it (else: integers are int64, other values strings).\n"
    "  --deadline MS         server-side deadline of the lookup (default: the server's)\n"
    "  --json                print Feast-shaped JSON instead of a table: the join-key\n"
    "                        columns first, then the features by bare name (\"revenue_30d\"),\n"
    "                        as featd's HTTP lookup answers (Feast's shape)\n"
    "  --full-feature-names  --json: name features \"view__feature\" (HTTP\n"
    "                        \"full_feature_names\": true); needed when two views share\n"
    "                        a feature name\n"
    "  --timestamps          table: add each value's event time\n"
    "\n"
    "Table cells: the value, (null) for NULL_VALUE, (not found) for NOT_FOUND, and\n"
    "\"VALUE (stale)\" for OUTSIDE_MAX_AGE (older than the view's ttl).\n"
    "\n"
    "Examples:\n"
    "  featd-cli get -f customer_stats:revenue_30d,customer_stats:is_vip -e customer_id=42,43\n"
    "  featd-cli get -f 'merchant_stats:*' -e merchant_id:str=m1 -e country=FR --json\n";

enum key_type { KT_AUTO = 0, KT_INT, KT_STR };

struct ent_col {
    char *key;
    enum key_type type;
    char **vals;
    size_t nvals;
};

struct get_args {
    char **features;
    size_t nfeatures;
    struct ent_col *cols;
    size_t ncols;
    int64_t deadline_ms;
    bool json;
    bool full_names;        /* --json: "view__feature" instead of the bare name */
    bool timestamps;
};

static void args_free(struct get_args *a)
{
    for (size_t i = 0; i < a->nfeatures; i++) {
        free(a->features[i]);
    }
    free(a->features);
    for (size_t i = 0; i < a->ncols; i++) {
        for (size_t j = 0; j < a->cols[i].nvals; j++) {
            free(a->cols[i].vals[j]);
        }
        free(a->cols[i].vals);
        free(a->cols[i].key);
    }
    free(a->cols);
}

/* Splits s on unescaped commas ("\," is a comma, "\\" a backslash) into a
 * new array; keep_empty = keep empty items. NULL on OOM. */
static char **split_list(const char *s, bool keep_empty, size_t *n)
{
    size_t len = strlen(s);
    size_t max = 1;
    for (size_t i = 0; i < len; i++) {
        max += s[i] == ',';
    }
    char **out = calloc(max, sizeof *out);
    char *buf = malloc(len + 1);
    if (out == NULL || buf == NULL) {
        free(out);
        free(buf);
        return NULL;
    }
    *n = 0;
    size_t bl = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] == '\\' && i + 1 < len && (s[i + 1] == ',' || s[i + 1] == '\\')) {
            buf[bl++] = s[++i];
            continue;
        }
        if (i == len || s[i] == ',') {
            buf[bl] = '\0';
            if (bl > 0 || keep_empty) {
                out[*n] = strdup(buf);
                if (out[*n] == NULL) {
                    for (size_t k = 0; k < *n; k++) {
                        free(out[k]);
                    }
                    free(out);
                    free(buf);
                    return NULL;
                }
                (*n)++;
            }
            bl = 0;
            continue;
        }
        buf[bl++] = s[i];
    }
    free(buf);
    return out;
}

static int add_features(struct get_args *a, const char *spec)
{
    size_t n;
    char **items = split_list(spec, false, &n);
    if (items == NULL) {
        return cli_fail(CMD, "out of memory");
    }
    if (n == 0) {
        free(items);
        return cli_usage_error(CMD, "--features \"%s\": no feature references", spec);
    }
    char **nf = realloc(a->features, (a->nfeatures + n) * sizeof *nf);
    if (nf == NULL) {
        for (size_t i = 0; i < n; i++) {
            free(items[i]);
        }
        free(items);
        return cli_fail(CMD, "out of memory");
    }
    a->features = nf;
    int rc = CLI_OK;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(items[i], ':');
        if (rc == CLI_OK && (colon == NULL || colon == items[i] || colon[1] == '\0')) {
            rc = cli_usage_error(CMD, "feature reference \"%s\": expected view:feature or "
                                 "view:*", items[i]);
        }
        a->features[a->nfeatures++] = items[i];
    }
    free(items);
    return rc;
}

static int add_entity(struct get_args *a, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec) {
        return cli_usage_error(CMD, "--entity \"%s\": expected KEY=V1,V2,... "
                               "(or KEY:int=... / KEY:str=...)", spec);
    }
    size_t klen = (size_t)(eq - spec);
    enum key_type t = KT_AUTO;
    const char *colon = memchr(spec, ':', klen);
    if (colon != NULL) {
        const char *suf = colon + 1;
        size_t slen = (size_t)(eq - suf);
        if ((slen == 3 && memcmp(suf, "int", 3) == 0) || (slen == 5 && memcmp(suf, "int64", 5) == 0)) {
            t = KT_INT;
        } else if ((slen == 3 && memcmp(suf, "str", 3) == 0)
                   || (slen == 6 && memcmp(suf, "string", 6) == 0)) {
            t = KT_STR;
        } else {
            return cli_usage_error(CMD, "--entity \"%s\": unknown type suffix \":%.*s\" "
                                   "(expected :int or :str)", spec, (int)slen, suf);
        }
        klen = (size_t)(colon - spec);
        if (klen == 0) {
            return cli_usage_error(CMD, "--entity \"%s\": empty join key name", spec);
        }
    }
    for (size_t i = 0; i < a->ncols; i++) {
        if (strlen(a->cols[i].key) == klen && memcmp(a->cols[i].key, spec, klen) == 0) {
            return cli_usage_error(CMD, "--entity: join key \"%.*s\" given twice (put all "
                                   "its values in one comma-separated list)", (int)klen, spec);
        }
    }
    struct ent_col *nc = realloc(a->cols, (a->ncols + 1) * sizeof *nc);
    if (nc == NULL) {
        return cli_fail(CMD, "out of memory");
    }
    a->cols = nc;
    struct ent_col *col = &a->cols[a->ncols];
    memset(col, 0, sizeof *col);
    col->key = strndup(spec, klen);
    col->type = t;
    col->vals = split_list(eq + 1, true, &col->nvals);
    if (col->key == NULL || col->vals == NULL) {
        free(col->key);
        free(col->vals);
        return cli_fail(CMD, "out of memory");
    }
    a->ncols++;
    for (size_t i = 0; i < col->nvals; i++) {
        int64_t v;
        if (t == KT_INT && !cli_parse_int(col->vals[i], INT64_MIN, INT64_MAX, &v)) {
            return cli_usage_error(CMD, "--entity %s: \"%s\" is not an int64", col->key,
                                   col->vals[i]);
        }
    }
    return CLI_OK;
}

/* Types the AUTO columns from the registry of the views in the request
 * (best effort: nothing changes when the server cannot list its views). */
static void type_from_registry(struct featd_client *c, struct get_args *a)
{
    bool need = false;
    for (size_t i = 0; i < a->ncols; i++) {
        need = need || a->cols[i].type == KT_AUTO;
    }
    if (!need) {
        return;
    }
    Featd__V1__Response *resp;
    if (featd_list_views(c, &resp) != FEATD_OK) {
        return;
    }
    Featd__V1__ListFeatureViewsResponse *lv = resp->list_feature_views;
    for (size_t f = 0; f < a->nfeatures; f++) {
        const char *ref = a->features[f];
        size_t vlen = strcspn(ref, ":");
        for (size_t v = 0; v < lv->n_views; v++) {
            const Featd__V1__FeatureViewInfo *vi = lv->views[v];
            if (strlen(vi->name) != vlen || memcmp(vi->name, ref, vlen) != 0) {
                continue;
            }
            for (size_t k = 0; k < vi->n_join_keys; k++) {
                for (size_t i = 0; i < a->ncols; i++) {
                    if (a->cols[i].type == KT_AUTO
                        && strcmp(a->cols[i].key, vi->join_keys[k]->name) == 0) {
                        a->cols[i].type = strcmp(vi->join_keys[k]->type, "string") == 0
                                              ? KT_STR : KT_INT;
                    }
                }
            }
        }
    }
    featd_response_free(resp);
}

static int build_request(struct get_args *a, struct featd_get *g)
{
    for (size_t f = 0; f < a->nfeatures; f++) {
        if (featd_get_add_feature(g, a->features[f]) != FEATD_OK) {
            return cli_fail(CMD, "out of memory");
        }
    }
    for (size_t i = 0; i < a->ncols; i++) {
        struct ent_col *col = &a->cols[i];
        for (size_t j = 0; j < col->nvals; j++) {
            int64_t v;
            int rc;
            bool as_int = col->type == KT_INT
                          || (col->type == KT_AUTO
                              && cli_parse_int(col->vals[j], INT64_MIN, INT64_MAX, &v));
            if (as_int) {
                if (!cli_parse_int(col->vals[j], INT64_MIN, INT64_MAX, &v)) {
                    return cli_usage_error(CMD, "--entity %s: \"%s\" is not an int64 (the "
                                           "registry declares %s as int64)", col->key,
                                           col->vals[j], col->key);
                }
                rc = featd_get_add_int64(g, col->key, v);
            } else {
                rc = featd_get_add_string(g, col->key, col->vals[j]);
            }
            if (rc != FEATD_OK) {
                return cli_fail(CMD, "out of memory");
            }
        }
    }
    if (a->deadline_ms > 0) {
        featd_get_set_deadline(g, (uint32_t)a->deadline_ms);
    }
    return CLI_OK;
}

/* True when the server already returned the join key as a result column. */
static bool is_entity_name(const struct get_args *a, const char *name)
{
    for (size_t i = 0; i < a->ncols; i++) {
        if (strcmp(a->cols[i].key, name) == 0) {
            return true;
        }
    }
    return false;
}

/* The text of one table cell (malloc'd). */
static char *cell_text(const Featd__V1__GetOnlineFeaturesResponse *r, size_t f, size_t row,
                       bool timestamps)
{
    int st = featd_resp_status(r, f, row);
    char *val = NULL;
    const char *marker = NULL;
    switch (st) {
    case FEATD__V1__FIELD_STATUS__PRESENT:
    case FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE:
        val = featd_value_str(featd_resp_value(r, f, row), FEATD_FMT_TEXT);
        break;
    case FEATD__V1__FIELD_STATUS__NULL_VALUE:
        marker = "(null)";
        break;
    case FEATD__V1__FIELD_STATUS__NOT_FOUND:
        marker = "(not found)";
        break;
    default:
        marker = "(invalid)";
        break;
    }
    if (val == NULL) {
        val = strdup(marker ? marker : "?");
    }
    if (val == NULL) {
        return NULL;
    }
    /* truncate to the cell width (on a UTF-8 boundary) */
    if (cli_text_width(val) > MAX_CELL) {
        size_t w = 0, i = 0;
        for (; val[i]; i++) {
            if (((unsigned char)val[i] & 0xC0) != 0x80 && ++w > MAX_CELL - 3) {
                break;
            }
        }
        val[i] = '\0';
        char *t = realloc(val, i + 4);
        if (t == NULL) {
            free(val);
            return NULL;
        }
        val = t;
        strcat(val, "...");
    }
    char ts[64] = "";
    if (timestamps && st != FEATD__V1__FIELD_STATUS__NOT_FOUND) {
        ts[0] = ' ';
        ts[1] = '@';
        featd_time_format(featd_resp_event_ts(r, f, row), ts + 2, sizeof ts - 2);
    }
    const char *stale = st == FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE ? " (stale)" : "";
    size_t n = strlen(val) + strlen(stale) + strlen(ts) + 1;
    char *out = malloc(n);
    if (out != NULL) {
        snprintf(out, n, "%s%s%s", val, stale, ts);
    }
    free(val);
    return out;
}

static void print_padded(const char *s, size_t width, bool last)
{
    fputs(s, stdout);
    if (!last) {
        for (size_t w = cli_text_width(s); w < width + 2; w++) {
            fputc(' ', stdout);
        }
    }
}

static int print_table(const struct get_args *a, const Featd__V1__GetOnlineFeaturesResponse *r,
                       size_t nrows)
{
    /* columns: the request's join keys, then every result not a join key */
    size_t maxcols = a->ncols + r->n_results;
    const char **head = calloc(maxcols, sizeof *head);
    size_t *width = calloc(maxcols, sizeof *width);
    char **cells = calloc(maxcols * (nrows ? nrows : 1), sizeof *cells);
    if (head == NULL || width == NULL || cells == NULL) {
        free(head);
        free(width);
        free(cells);
        return cli_fail(CMD, "out of memory");
    }
    size_t ncols = 0;
    int rc = CLI_OK;
    for (size_t i = 0; i < a->ncols; i++) {
        head[ncols] = a->cols[i].key;
        for (size_t row = 0; row < nrows; row++) {
            cells[row * maxcols + ncols] = strdup(row < a->cols[i].nvals ? a->cols[i].vals[row] : "");
        }
        ncols++;
    }
    for (size_t f = 0; f < r->n_results; f++) {
        const char *name = f < r->n_feature_names ? r->feature_names[f] : "?";
        if (is_entity_name(a, name)) {
            continue;
        }
        head[ncols] = name;
        for (size_t row = 0; row < nrows; row++) {
            cells[row * maxcols + ncols] = cell_text(r, f, row, a->timestamps);
        }
        ncols++;
    }
    for (size_t c = 0; c < ncols; c++) {
        width[c] = cli_text_width(head[c]);
        for (size_t row = 0; row < nrows; row++) {
            const char *s = cells[row * maxcols + c];
            if (s == NULL) {
                rc = CLI_FAIL;
                continue;
            }
            size_t w = cli_text_width(s);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    if (rc == CLI_OK) {
        for (size_t c = 0; c < ncols; c++) {
            print_padded(head[c], width[c], c + 1 == ncols);
        }
        fputc('\n', stdout);
        for (size_t row = 0; row < nrows; row++) {
            for (size_t c = 0; c < ncols; c++) {
                print_padded(cells[row * maxcols + c], width[c], c + 1 == ncols);
            }
            fputc('\n', stdout);
        }
    } else {
        cli_fail(CMD, "out of memory");
    }
    for (size_t i = 0; i < maxcols * (nrows ? nrows : 1); i++) {
        free(cells[i]);
    }
    free(cells);
    free(head);
    free(width);
    return rc;
}

static void json_string(const char *s)
{
    Featd__V1__Value v = FEATD__V1__VALUE__INIT;
    v.kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    v.string_val = (char *)s;
    char *t = featd_value_str(&v, FEATD_FMT_JSON);
    fputs(t ? t : "\"\"", stdout);
    free(t);
}

static void json_value(const Featd__V1__Value *v)
{
    char *t = featd_value_str(v, FEATD_FMT_JSON);
    fputs(t ? t : "null", stdout);
    free(t);
}

/* The JSON name of the feature reference ref ("view:feature") into
 * buf[0..cap): the bare name, or "view__feature" with full (the names of
 * featd's HTTP lookup, server/http/http_lookup.c, and of Feast). */
static void json_feature_name(const char *ref, bool full, char *buf, size_t cap)
{
    const char *colon = strchr(ref, ':');
    if (colon == NULL) {
        snprintf(buf, cap, "%s", ref);
    } else if (full) {
        snprintf(buf, cap, "%.*s__%s", (int)(colon - ref), ref, colon + 1);
    } else {
        snprintf(buf, cap, "%s", colon + 1);
    }
}

/* {"metadata":{"feature_names":[...]},"results":[{"values":[...],
 * "statuses":[...],"event_timestamps":[...]}, ...]} — the shape of featd's
 * HTTP lookup (and Feast's): join keys first unless the server already
 * returned them, features by bare name (--full-feature-names:
 * "view__feature"). Two features of one bare name are refused, as the HTTP
 * lookup refuses them. */
static int print_json(const struct get_args *a, struct featd_get *g,
                      const Featd__V1__GetOnlineFeaturesResponse *r, size_t nrows)
{
    const Featd__V1__Request *req = featd_get_request(g, 0);
    const Featd__V1__GetOnlineFeaturesRequest *gr = req->get_online_features;
    bool echo_keys = false;
    for (size_t i = 0; i < a->ncols; i++) {
        echo_keys = echo_keys || featd_resp_feature_index(r, a->cols[i].key) >= 0;
    }
    for (size_t f = 0; !a->full_names && f < r->n_feature_names; f++) {
        char n1[512], n2[512];
        json_feature_name(r->feature_names[f], false, n1, sizeof n1);
        for (size_t k = 0; k < f; k++) {
            json_feature_name(r->feature_names[k], false, n2, sizeof n2);
            if (strcmp(n1, n2) == 0) {
                return cli_usage_error(CMD, "%s and %s share the name \"%s\" in --json: add "
                                       "--full-feature-names (names \"view__feature\")",
                                       r->feature_names[k], r->feature_names[f], n1);
            }
        }
    }
    printf("{\n  \"metadata\": {\"feature_names\": [");
    bool first = true;
    if (!echo_keys) {
        for (size_t i = 0; i < gr->n_entities; i++) {
            fputs(first ? "" : ", ", stdout);
            json_string(gr->entities[i]->join_key);
            first = false;
        }
    }
    for (size_t f = 0; f < r->n_feature_names; f++) {
        char name[512];
        json_feature_name(r->feature_names[f], a->full_names, name, sizeof name);
        fputs(first ? "" : ", ", stdout);
        json_string(name);
        first = false;
    }
    printf("]},\n  \"results\": [");
    first = true;
    if (!echo_keys) {
        for (size_t i = 0; i < gr->n_entities; i++) {
            const Featd__V1__EntityColumn *col = gr->entities[i];
            printf("%s\n    {\"values\": [", first ? "" : ",");
            for (size_t row = 0; row < col->n_values; row++) {
                fputs(row ? ", " : "", stdout);
                json_value(col->values[row]);
            }
            printf("], \"statuses\": [");
            for (size_t row = 0; row < col->n_values; row++) {
                printf("%s\"PRESENT\"", row ? ", " : "");
            }
            printf("], \"event_timestamps\": [");
            for (size_t row = 0; row < col->n_values; row++) {
                printf("%s\"1970-01-01T00:00:00Z\"", row ? ", " : "");
            }
            printf("]}");
            first = false;
        }
    }
    for (size_t f = 0; f < r->n_results; f++) {
        const Featd__V1__FeatureVector *fv = r->results[f];
        printf("%s\n    {\"values\": [", first ? "" : ",");
        for (size_t row = 0; row < fv->n_values; row++) {
            fputs(row ? ", " : "", stdout);
            json_value(fv->values[row]);
        }
        printf("], \"statuses\": [");
        for (size_t row = 0; row < fv->n_statuses; row++) {
            printf("%s\"%s\"", row ? ", " : "", featd_status_name(fv->statuses[row]));
        }
        printf("], \"event_timestamps\": [");
        for (size_t row = 0; row < fv->n_event_timestamps_us; row++) {
            char ts[64];
            featd_time_format(fv->event_timestamps_us[row], ts, sizeof ts);
            printf("%s\"%s\"", row ? ", " : "", ts);
        }
        printf("]}");
        first = false;
    }
    printf("\n  ]\n}\n");
    (void)nrows;
    return CLI_OK;
}

static int parse_args(struct get_args *a, int argc, char **argv, bool *help)
{
    int i = 1;
    while (i < argc) {
        const char *val;
        int r;
        if (cli_is_help(argv[i])) {
            *help = true;
            return CLI_OK;
        }
        if ((r = cli_opt_value(CMD, argc, argv, &i, "--features", "-f", &val)) != 0) {
            if (r < 0 || (r = add_features(a, val)) != CLI_OK) {
                return r < 0 ? CLI_USAGE : r;
            }
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--entity", "-e", &val)) != 0) {
            if (r < 0 || (r = add_entity(a, val)) != CLI_OK) {
                return r < 0 ? CLI_USAGE : r;
            }
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--deadline", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 0, UINT32_MAX, &a->deadline_ms)) {
                return cli_usage_error(CMD, "--deadline \"%s\": expected milliseconds", val);
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
            i++;
        } else if (strcmp(argv[i], "--full-feature-names") == 0) {
            a->full_names = true;
            i++;
        } else if (strcmp(argv[i], "--timestamps") == 0) {
            a->timestamps = true;
            i++;
        } else {
            return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (a->nfeatures == 0) {
        return cli_usage_error(CMD, "no features given (--features view:feature,...)");
    }
    if (a->ncols == 0) {
        return cli_usage_error(CMD, "no entities given (--entity KEY=V1,V2,...)");
    }
    for (size_t i2 = 1; i2 < a->ncols; i2++) {
        if (a->cols[i2].nvals != a->cols[0].nvals) {
            return cli_usage_error(CMD, "--entity columns differ in length: %s has %zu "
                                   "values, %s has %zu (one value per entity row in each)",
                                   a->cols[0].key, a->cols[0].nvals, a->cols[i2].key,
                                   a->cols[i2].nvals);
        }
    }
    return CLI_OK;
}

int cli_get_main(const struct cli_opts *o, int argc, char **argv)
{
    struct get_args a;
    memset(&a, 0, sizeof a);
    bool help = false;
    int rc = parse_args(&a, argc, argv, &help);
    if (help) {
        fputs(help_text, stdout);
        args_free(&a);
        return CLI_OK;
    }
    if (rc != CLI_OK) {
        args_free(&a);
        return rc;
    }
    struct featd_client *c = cli_connect(o);
    if (c == NULL) {
        args_free(&a);
        return CLI_FAIL;
    }
    type_from_registry(c, &a);
    struct featd_get *g = featd_get_new();
    if (g == NULL) {
        rc = cli_fail(CMD, "out of memory");
    } else {
        rc = build_request(&a, g);
    }
    if (rc == CLI_OK) {
        Featd__V1__Response *resp;
        if (featd_lookup(c, g, &resp) != FEATD_OK) {
            rc = cli_fail(CMD, "%s", featd_errmsg(c));
        } else {
            size_t nrows = a.cols[0].nvals;
            const Featd__V1__GetOnlineFeaturesResponse *r = resp->get_online_features;
            rc = a.json ? print_json(&a, g, r, nrows) : print_table(&a, r, nrows);
            featd_response_free(resp);
        }
    }
    featd_get_free(g);
    featd_close(c);
    args_free(&a);
    return rc;
}
