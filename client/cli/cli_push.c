/*
 * cli_push.c — `featd-cli push`: write rows from JSON lines into a feature
 * view through featd's WriteFeatures request (DESIGN §11: last-write-wins by
 * event time, merged with the view's snapshots at serving time), in batches
 * pipelined on one connection (libfeatd's featd_write_request + featd_send,
 * featd_recv + featd_write_result).
 *
 * The lines are `featd-cli load`'s format (cli_rows.c), typed by the view's
 * schema as the server reports it (ListFeatureViews), so no config file is
 * needed. The input is streamed: each batch is validated whole by the
 * server (nothing of a refused batch is written), batches before a refused
 * one or a bad line stay written. Pushes are idempotent (an equal event time
 * replaces), so a fixed file can simply be pushed again.
 */
#include "cli/cli.h"
#include "cli/cli_rows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "online/online_row.h"

#define CMD "push"
#define DEFAULT_BATCH 1000
#define DEFAULT_WINDOW 8            /* batches in flight */
#define MAX_WINDOW 256

static const char help_text[] =
    "usage: featd-cli [GLOBAL OPTIONS] push --view V [--file ROWS.jsonl|-] [--batch N]\n"
    "                 [--window N]\n"
    "\n"
    "Push rows from JSON lines into a feature view through featd (WriteFeatures,\n"
    "last-write-wins by event time; a row older than the stored pushed row is\n"
    "counted stale and skipped). Lines are sent in batches pipelined on one\n"
    "connection; the server checks each batch whole and writes nothing of a\n"
    "refused one. Uses the global --host/--port/--config, --token and --tls*.\n"
    "\n"
    "  -v, --view V        the feature view to write\n"
    "  -f, --file F        JSON lines to read; - or absent = standard input\n"
    "  --batch N           rows per request (default 1000; at most the server's\n"
    "                      max_entities_per_request)\n"
    "  --window N          requests in flight (default 8, 1 = one at a time)\n"
    "\n"
    "Each line is one JSON object, as for `featd-cli load`: every join key of the\n"
    "view, \"event_timestamp\" (integer microseconds or an RFC 3339 / ISO-8601 string),\n"
    "and features by name (missing or null = null; types as in `load --help`).\n"
    "A \"created_timestamp\" is accepted and ignored (pushes carry event times only).\n"
    "Unknown fields are errors.\n"
    "\n"
    "Prints rows written and stale. On a bad line or a refused batch it stops,\n"
    "names the line (range) and the server's message, and exits 1; earlier\n"
    "batches stay written (pushing the fixed file again is harmless).\n"
    "\n"
    "Exit status: 0 all rows pushed, 1 a line or batch was refused or the\n"
    "connection failed, 2 usage error or unknown view.\n"
    "\n"
    "Example:\n"
    "  echo '{\"customer_id\": 42, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"revenue_30d\": 12.5}' \\\n"
    "    | featd-cli push --view customer_stats\n";

struct push_args {
    const char *view;
    const char *file;
    int64_t batch;
    int64_t window;
};

/* One batch sent and not yet answered. */
struct inflight {
    uint64_t id;
    uint64_t first_line, last_line;
    uint32_t rows;
};

struct push {
    struct featd_client *c;
    const struct cfg_view *v;
    struct featd_write *w;
    const char *fname;
    uint32_t max_frame;             /* the server's max_frame_bytes, 0 = unknown */
    struct inflight fl[MAX_WINDOW];
    size_t nfl;
    uint64_t batch_first, batch_last;   /* line numbers of the batch being built */
    uint64_t rows_sent, batches;
    uint64_t written, stale;
    uint64_t ignored_created;       /* rows whose created_timestamp was dropped */
    bool failed;                    /* a batch was refused or the connection broke */
};

static int parse_args(struct push_args *a, int argc, char **argv, bool *help)
{
    a->batch = DEFAULT_BATCH;
    a->window = DEFAULT_WINDOW;
    int i = 1;
    while (i < argc) {
        const char *val;
        int r;
        if (cli_is_help(argv[i])) {
            *help = true;
            return CLI_OK;
        }
        if ((r = cli_opt_value(CMD, argc, argv, &i, "--view", "-v", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            a->view = val;
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--file", "-f", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            a->file = val;
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--batch", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 1, 1000000, &a->batch)) {
                return cli_usage_error(CMD, "--batch \"%s\": expected 1..1000000", val);
            }
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--window", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 1, MAX_WINDOW, &a->window)) {
                return cli_usage_error(CMD, "--window \"%s\": expected 1..%d", val, MAX_WINDOW);
            }
        } else {
            return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (a->view == NULL) {
        return cli_usage_error(CMD, "no view given (--view NAME)");
    }
    return CLI_OK;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the view's schema, from the server ---- */

static void view_free(struct cfg_view *v)
{
    free(v->keys);
    free(v->features);
}

/* Fills v (names borrowed from info) from the server's description of the
 * view; FEATD_ERR with a message for a type this client does not know. */
static int view_from_info(const Featd__V1__FeatureViewInfo *info, struct cfg_view *v)
{
    memset(v, 0, sizeof *v);
    v->name = info->name;
    v->keys = calloc(info->n_join_keys ? info->n_join_keys : 1, sizeof *v->keys);
    v->features = calloc(info->n_features ? info->n_features : 1, sizeof *v->features);
    if (v->keys == NULL || v->features == NULL) {
        cli_fail(CMD, "out of memory");
        return FEATD_ERR;
    }
    v->nkeys = info->n_join_keys;
    for (size_t i = 0; i < info->n_join_keys; i++) {
        v->keys[i].name = info->join_keys[i]->name;
        int t = config_type_parse(info->join_keys[i]->type);
        if (t != FT_INT64 && t != FT_STRING) {
            cli_fail(CMD, "view %s: join key %s has type \"%s\", unknown to this featd-cli",
                     info->name, v->keys[i].name, info->join_keys[i]->type);
            return FEATD_ERR;
        }
        v->keys[i].type = (enum featd_type)t;
    }
    v->nfeatures = info->n_features;
    for (size_t i = 0; i < info->n_features; i++) {
        v->features[i].name = info->features[i]->name;
        v->features[i].column = info->features[i]->name;
        int t = config_type_parse(info->features[i]->type);
        if (t < 0) {
            cli_fail(CMD, "view %s: feature %s has type \"%s\", unknown to this featd-cli",
                     info->name, v->features[i].name, info->features[i]->type);
            return FEATD_ERR;
        }
        v->features[i].type = (enum featd_type)t;
    }
    return FEATD_OK;
}

/* ---- one row into the request builder ---- */

/* A list value of type t from the packed list in val, into a Value the
 * builder copies. */
static int add_list(struct featd_write *w, const char *name, enum featd_type t,
                    const struct online_value *val)
{
    uint32_t n = val->count;
    Featd__V1__Value pv = FEATD__V1__VALUE__INIT;
    Featd__V1__FloatList fl = FEATD__V1__FLOAT_LIST__INIT;
    Featd__V1__DoubleList dl = FEATD__V1__DOUBLE_LIST__INIT;
    Featd__V1__Int64List il = FEATD__V1__INT64_LIST__INIT;
    Featd__V1__StringList sl = FEATD__V1__STRING_LIST__INIT;
    void *arr = NULL;
    char *strs = NULL;              /* string elements, NUL-terminated, back to back */
    int rc = FEATD_ERR;
    switch (t) {
    case FT_FLOAT_LIST: {
        float *a = arr = calloc(n ? n : 1, sizeof *a);
        if (a == NULL) {
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            a[i] = online_row_list_float(val, i);
        }
        fl.n_val = n;
        fl.val = a;
        pv.kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
        pv.float_list_val = &fl;
        rc = FEATD_OK;
        break;
    }
    case FT_DOUBLE_LIST: {
        double *a = arr = calloc(n ? n : 1, sizeof *a);
        if (a == NULL) {
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            a[i] = online_row_list_double(val, i);
        }
        dl.n_val = n;
        dl.val = a;
        pv.kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
        pv.double_list_val = &dl;
        rc = FEATD_OK;
        break;
    }
    case FT_INT64_LIST: {
        int64_t *a = arr = calloc(n ? n : 1, sizeof *a);
        if (a == NULL) {
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            a[i] = online_row_list_int64(val, i);
        }
        il.n_val = n;
        il.val = a;
        pv.kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
        pv.int64_list_val = &il;
        rc = FEATD_OK;
        break;
    }
    default: {  /* FT_STRING_LIST: the packed bytes are at most rawlen + n terminators */
        char **a = arr = calloc(n ? n : 1, sizeof *a);
        strs = malloc(val->rawlen + n + 1);
        if (a == NULL || strs == NULL) {
            break;
        }
        const uint8_t *cur = val->raw, *end = val->raw + val->rawlen;
        size_t off = 0;
        rc = FEATD_OK;
        for (uint32_t i = 0; i < n && rc == FEATD_OK; i++) {
            const char *s;
            size_t sn;
            if (online_row_list_next_string(&cur, end, &s, &sn) != FEATD_OK) {
                rc = FEATD_ERR;
                break;
            }
            memcpy(strs + off, s, sn);
            strs[off + sn] = '\0';
            a[i] = strs + off;
            off += sn + 1;
        }
        sl.n_val = n;
        sl.val = a;
        pv.kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
        pv.string_list_val = &sl;
        break;
    }
    }
    if (rc == FEATD_OK) {
        rc = featd_write_add_value(w, name, &pv);
    }
    free(arr);
    free(strs);
    return rc;
}

/* Appends converted row r of view v to the builder. */
static int add_row(struct featd_write *w, const struct cfg_view *v, const struct cli_row *r)
{
    for (size_t i = 0; i < v->nkeys; i++) {
        const char *k = v->keys[i].name;
        int rc = v->keys[i].type == FT_INT64 ? featd_write_add_key_int64(w, k, r->keys[i].i)
                                             : featd_write_add_key_string(w, k, r->keys[i].s);
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        const char *n = v->features[i].name;
        const struct online_value *x = &r->vals[i];
        int rc;
        if (x->is_null) {
            rc = featd_write_add_null(w, n);
        } else {
            switch (v->features[i].type) {
            case FT_BOOL: rc = featd_write_add_bool(w, n, x->u.b); break;
            case FT_INT32: rc = featd_write_add_int32(w, n, x->u.i32); break;
            case FT_INT64: rc = featd_write_add_int64(w, n, x->u.i64); break;
            case FT_FLOAT: rc = featd_write_add_float(w, n, x->u.f); break;
            case FT_DOUBLE: rc = featd_write_add_double(w, n, x->u.d); break;
            case FT_STRING: rc = featd_write_add_string(w, n, x->s); break;
            case FT_BYTES: rc = featd_write_add_bytes(w, n, x->s, x->slen); break;
            case FT_TIMESTAMP: rc = featd_write_add_timestamp(w, n, x->u.i64); break;
            default: rc = add_list(w, n, v->features[i].type, x); break;
            }
        }
        if (rc != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    return featd_write_add_event_time(w, r->event_ts);
}

/* ---- batches ---- */

/* Receives one answer and settles its batch; FEATD_ERR once the connection
 * fails (every outstanding batch is then unknown). A refused batch sets
 * p->failed and prints which lines. */
static int recv_one(struct push *p)
{
    Featd__V1__Response *resp;
    if (featd_recv(p->c, &resp) != FEATD_OK) {
        cli_fail(CMD, "%s: waiting for the answers to %zu batches (lines %llu-%llu): %s",
                 p->fname, p->nfl, (unsigned long long)p->fl[0].first_line,
                 (unsigned long long)p->fl[p->nfl - 1].last_line, featd_errmsg(p->c));
        p->failed = true;
        return FEATD_ERR;
    }
    size_t k = 0;
    while (k < p->nfl && p->fl[k].id != resp->request_id) {
        k++;
    }
    if (k == p->nfl) {
        int rc = featd_write_result(p->c, resp, NULL, NULL);
        cli_fail(CMD, "%s: an answer to no batch of ours (request %llu): %s", p->fname,
                 (unsigned long long)resp->request_id,
                 rc == FEATD_OK ? "unexpected" : featd_errmsg(p->c));
        featd_response_free(resp);
        p->failed = true;
        return FEATD_ERR;
    }
    struct inflight b = p->fl[k];
    memmove(&p->fl[k], &p->fl[k + 1], (p->nfl - k - 1) * sizeof p->fl[0]);
    p->nfl--;
    uint32_t w = 0, s = 0;
    if (featd_write_result(p->c, resp, &w, &s) != FEATD_OK) {
        cli_fail(CMD, "%s: lines %llu-%llu (%u rows) refused, nothing of them written: %s",
                 p->fname, (unsigned long long)b.first_line, (unsigned long long)b.last_line,
                 b.rows, featd_errmsg(p->c));
        p->failed = true;
    } else {
        p->written += w;
        p->stale += s;
    }
    featd_response_free(resp);
    return FEATD_OK;
}

/* Sends the batch being built (if any), first making room in the window. */
static int send_batch(struct push *p, size_t window)
{
    size_t rows = featd_write_nrows(p->w);
    if (rows == 0) {
        return FEATD_OK;
    }
    while (p->nfl >= window) {
        if (recv_one(p) != FEATD_OK) {
            return FEATD_ERR;
        }
    }
    if (p->failed) {
        return FEATD_ERR;
    }
    uint64_t id = featd_next_id(p->c);
    const Featd__V1__Request *req = featd_write_request(p->w, id);
    size_t bytes = featd__v1__request__get_packed_size(req);
    if (p->max_frame != 0 && bytes > p->max_frame) {
        cli_fail(CMD, "%s: lines %llu-%llu: a batch of %zu rows is %zu bytes, over the "
                 "server's max_frame_bytes (%u); use a smaller --batch", p->fname,
                 (unsigned long long)p->batch_first, (unsigned long long)p->batch_last, rows,
                 bytes, p->max_frame);
        p->failed = true;
        return FEATD_ERR;
    }
    if (featd_send(p->c, req) != FEATD_OK) {
        cli_fail(CMD, "%s: sending lines %llu-%llu: %s", p->fname,
                 (unsigned long long)p->batch_first, (unsigned long long)p->batch_last,
                 featd_errmsg(p->c));
        p->failed = true;
        return FEATD_ERR;
    }
    p->fl[p->nfl++] = (struct inflight){ id, p->batch_first, p->batch_last, (uint32_t)rows };
    p->rows_sent += rows;
    p->batches++;
    featd_write_reset(p->w);
    return FEATD_OK;
}

/* Streams in: parse each line, send full batches; at EOF the rest. */
static int push_lines(struct push *p, FILE *in, const struct push_args *a)
{
    struct fbuf line = { 0 };
    struct cli_row r;
    uint64_t lineno = 0;
    int rc = CLI_OK;
    if (cli_row_init(&r, p->v) != FEATD_OK) {
        cli_row_free(&r, p->v);
        return cli_fail(CMD, "out of memory");
    }
    for (;;) {
        int lr = cli_read_line(in, &line);
        if (lr == 0) {
            break;
        }
        lineno++;
        if (lr == -2) {
            rc = cli_fail(CMD, "%s: read error at line %llu: %s", p->fname,
                          (unsigned long long)lineno, strerror(errno));
            break;
        }
        char err[512];
        json_t *obj = NULL;
        if (lr == -1) {
            snprintf(err, sizeof err, "longer than %u bytes", CLI_ROWS_MAX_LINE);
        } else if (cli_line_blank(line.data, line.len)) {
            continue;
        } else if (cli_row_parse(p->v, line.data, line.len, &obj, &r, err, sizeof err)
                   == FEATD_OK) {
            if (featd_write_nrows(p->w) == 0) {
                p->batch_first = lineno;
            }
            p->batch_last = lineno;
            if (r.created_ts != ONLINE_NO_CREATED_TS) {
                p->ignored_created++;
            }
            int ar = add_row(p->w, p->v, &r);
            json_decref(obj);
            if (ar != FEATD_OK) {
                rc = cli_fail(CMD, "out of memory at line %llu", (unsigned long long)lineno);
                break;
            }
            if ((int64_t)featd_write_nrows(p->w) >= a->batch
                && send_batch(p, (size_t)a->window) != FEATD_OK) {
                rc = CLI_FAIL;
                break;
            }
            continue;
        }
        rc = cli_fail(CMD, "%s: line %llu: %s; stopped there (lines from %llu on were not "
                      "sent)", p->fname, (unsigned long long)lineno, err,
                      (unsigned long long)(featd_write_nrows(p->w) > 0 ? p->batch_first
                                                                        : lineno));
        break;
    }
    if (rc == CLI_OK && send_batch(p, (size_t)a->window) != FEATD_OK) {
        rc = CLI_FAIL;
    }
    /* settle every batch in flight, whatever happened above */
    while (p->nfl > 0 && recv_one(p) == FEATD_OK) {
    }
    if (p->failed) {
        rc = CLI_FAIL;
    }
    cli_row_free(&r, p->v);
    fbuf_free(&line);
    return rc;
}

/* The server's description of view name (into *resp, which owns it), or
 * NULL after printing why. */
static const Featd__V1__FeatureViewInfo *find_view(struct featd_client *c, const char *name,
                                                   Featd__V1__Response **resp, int *rc)
{
    *rc = CLI_FAIL;
    if (featd_list_views(c, resp) != FEATD_OK) {
        cli_fail(CMD, "listing the views: %s", featd_errmsg(c));
        return NULL;
    }
    const Featd__V1__ListFeatureViewsResponse *lv = (*resp)->list_feature_views;
    for (size_t i = 0; lv != NULL && i < lv->n_views; i++) {
        if (strcmp(lv->views[i]->name, name) == 0) {
            *rc = CLI_OK;
            return lv->views[i];
        }
    }
    fprintf(stderr, "featd-cli push: featd at %s has no feature view \"%s\" (views:",
            featd_peer(c), name);
    for (size_t i = 0; lv != NULL && i < lv->n_views; i++) {
        fprintf(stderr, " %s", lv->views[i]->name);
    }
    fprintf(stderr, ")\n");
    *rc = CLI_USAGE;
    return NULL;
}

int cli_push_main(const struct cli_opts *o, int argc, char **argv)
{
    struct push_args a;
    memset(&a, 0, sizeof a);
    bool help = false;
    int rc = parse_args(&a, argc, argv, &help);
    if (help) {
        fputs(help_text, stdout);
        return CLI_OK;
    }
    if (rc != CLI_OK) {
        return rc;
    }
    double t0 = mono_s();
    struct featd_client *c = cli_connect(o);
    if (c == NULL) {
        return CLI_FAIL;
    }
    Featd__V1__Response *views = NULL;
    const Featd__V1__FeatureViewInfo *info = find_view(c, a.view, &views, &rc);
    struct cfg_view v;
    memset(&v, 0, sizeof v);
    if (info != NULL && view_from_info(info, &v) != FEATD_OK) {
        rc = CLI_FAIL;
    }
    struct push p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.v = &v;
    p.fname = "<stdin>";
    FILE *in = stdin;
    if (rc == CLI_OK && a.file != NULL && strcmp(a.file, "-") != 0) {
        in = fopen(a.file, "r");
        if (in == NULL) {
            rc = cli_fail(CMD, "cannot open %s: %s", a.file, strerror(errno));
        }
        p.fname = a.file;
    }
    if (rc == CLI_OK) {
        Featd__V1__Response *si = NULL;
        if (featd_server_info(c, &si) == FEATD_OK && si->server_info != NULL) {
            p.max_frame = si->server_info->max_frame_bytes;
        }
        featd_response_free(si);
        p.w = featd_write_new(a.view);
        rc = p.w == NULL ? cli_fail(CMD, "out of memory") : push_lines(&p, in, &a);
        double dt = mono_s() - t0;
        if (p.ignored_created > 0) {
            fprintf(stderr, "featd-cli push: note: created_timestamp of %llu rows ignored "
                    "(pushes carry event times only)\n", (unsigned long long)p.ignored_created);
        }
        printf("view %s: %llu rows sent in %llu batches, %llu written, %llu stale (older "
               "than the stored pushed row)%s in %.2f s (%.0f rows/s)\n", v.name,
               (unsigned long long)p.rows_sent, (unsigned long long)p.batches,
               (unsigned long long)p.written, (unsigned long long)p.stale,
               rc == CLI_OK ? "" : "; STOPPED early", dt,
               dt > 0 ? (double)(p.written + p.stale) / dt : 0.0);
    }
    if (in != NULL && in != stdin) {
        fclose(in);
    }
    featd_write_free(p.w);
    view_free(&v);
    featd_response_free(views);
    featd_close(c);
    return rc;
}
