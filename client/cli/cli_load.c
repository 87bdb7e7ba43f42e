/*
 * cli_load.c — `featd-cli load`: write rows from JSON lines into a feature
 * view's online tier, straight into Redis through the online tier's one
 * writer (server/online/online_writer.h, the materializer's too) on a
 * blocking client of the deployment (server/redis/rbconf.h: one node, a
 * Redis Cluster or the Sentinel master). For demos and tests; the
 * materializer does the same from Parquet.
 *
 * The JSON-line row format is cli_rows.c's (shared with `push`).
 *
 * Two passes: every line is parsed and type-checked against the view first
 * (the valid lines are kept in memory as text); only when all lines are
 * good is anything written. Modes:
 *   upsert    last-write-wins upserts into the view's current generation
 *             (online_gen_ensure creates generation 1 for an empty view)
 *   snapshot  a new generation (online_gen_alloc), every row put, then the
 *             view flipped to it atomically and the old generation reclaimed
 */
#include "cli/cli.h"
#include "cli/cli_rows.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "online/online.h"
#include "redis/rbcluster.h"
#include "redis/rbconf.h"
#include "core/fbuf.h"

#define CMD "load"
#define MAX_SHOWN_ERRORS 20

static const char help_text[] =
    "usage: featd-cli [GLOBAL OPTIONS] load --config FILE --view V [--file ROWS.jsonl|-]\n"
    "                 [--mode upsert|snapshot] [--batch N] [--dry-run] [--allow-empty]\n"
    "\n"
    "Write rows from JSON lines into a feature view, directly into the view's Redis\n"
    "(the config's redis section; featd itself need not run, except to host the\n"
    "embedded redis-server). Every line is checked first; if any line is bad,\n"
    "nothing is written.\n"
    "\n"
    "  -c, --config FILE   the registry (also taken from the global --config)\n"
    "  -v, --view V        the feature view to write\n"
    "  -f, --file F        JSON lines to read; - or absent = standard input\n"
    "  -m, --mode M        upsert (default): last-write-wins by event time into the\n"
    "                      current generation; snapshot: a new generation with exactly\n"
    "                      these rows replaces the view atomically\n"
    "  --batch N           commands per Redis pipeline flush (default 1000)\n"
    "  --dry-run           check the lines, write nothing\n"
    "  --allow-empty       snapshot: allow an input without rows (empties the view)\n"
    "\n"
    "Each line is one JSON object with:\n"
    "  - every join key of the view (int64 keys as JSON integers, string keys as strings)\n"
    "  - \"event_timestamp\": integer microseconds since the epoch, or an ISO-8601 string\n"
    "    (\"2026-11-21T10:00:00Z\", \"2026-11-21T10:00:00.250+01:00\"); the view's\n"
    "    event_timestamp_column name is accepted too\n"
    "  - optional \"created_timestamp\" (same forms; tie-breaker of equal event times)\n"
    "  - features by name; missing or null = null. bool: true/false; int32/int64:\n"
    "    integers; float/double: numbers or \"NaN\"/\"Infinity\"/\"-Infinity\"; string:\n"
    "    strings; bytes: a string (its UTF-8 bytes) or {\"base64\": \"...\"}; timestamp:\n"
    "    like event_timestamp; *_list: arrays of those (no nulls inside).\n"
    "Blank lines are skipped. Unknown fields are errors.\n"
    "\n"
    "Exit status: 0 all rows written, 1 a line was rejected (nothing written) or\n"
    "Redis failed, 2 usage error.\n"
    "\n"
    "Example:\n"
    "  echo '{\"customer_id\": 42, \"event_timestamp\": \"2026-11-21T10:00:00Z\", \"revenue_30d\": 12.5}' \\\n"
    "    | featd-cli load --config featd.json --view customer_stats\n";

/* ---- the command ---- */

struct load_args {
    const char *config;
    const char *view;
    const char *file;
    bool snapshot;
    int64_t batch;
    bool dry_run;
    bool allow_empty;
};

static int parse_args(struct load_args *a, const struct cli_opts *o, int argc, char **argv,
                      bool *help)
{
    a->config = o->config;
    a->batch = 1000;
    int i = 1;
    while (i < argc) {
        const char *val;
        int r;
        if (cli_is_help(argv[i])) {
            *help = true;
            return CLI_OK;
        }
        if ((r = cli_opt_value(CMD, argc, argv, &i, "--config", "-c", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            a->config = val;
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--view", "-v", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            a->view = val;
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--file", "-f", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            a->file = val;
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--mode", "-m", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (strcmp(val, "upsert") == 0) {
                a->snapshot = false;
            } else if (strcmp(val, "snapshot") == 0) {
                a->snapshot = true;
            } else {
                return cli_usage_error(CMD, "--mode \"%s\": expected upsert or snapshot", val);
            }
        } else if ((r = cli_opt_value(CMD, argc, argv, &i, "--batch", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 1, 1000000, &a->batch)) {
                return cli_usage_error(CMD, "--batch \"%s\": expected 1..1000000", val);
            }
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            a->dry_run = true;
            i++;
        } else if (strcmp(argv[i], "--allow-empty") == 0) {
            a->allow_empty = true;
            i++;
        } else {
            return cli_usage_error(CMD, "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (a->config == NULL) {
        return cli_usage_error(CMD, "no config given (--config FILE)");
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

/* Pass 1: parse and check every line; keeps the good ones in *keep as
 * NUL-separated text and their line numbers in *lines. */
static int check_input(FILE *in, const char *fname, const struct cfg_view *v, struct cli_row *r,
                       struct fbuf *keep, uint64_t *nrows, uint64_t *rejected)
{
    struct fbuf line = { 0 };
    uint64_t lineno = 0;
    int rc = CLI_OK;
    for (;;) {
        int lr = cli_read_line(in, &line);
        if (lr == 0) {
            break;
        }
        lineno++;
        if (lr == -2) {
            rc = cli_fail(CMD, "%s: read error at line %llu: %s", fname,
                          (unsigned long long)lineno, strerror(errno));
            break;
        }
        char err[512];
        bool bad = false;
        if (lr == -1) {
            snprintf(err, sizeof err, "longer than %u bytes", CLI_ROWS_MAX_LINE);
            bad = true;
        } else if (cli_line_blank(line.data, line.len)) {
            continue;
        } else {
            json_t *obj;
            bad = cli_row_parse(v, line.data, line.len, &obj, r, err, sizeof err) != FEATD_OK;
            json_decref(obj);
        }
        if (bad) {
            (*rejected)++;
            if (*rejected <= MAX_SHOWN_ERRORS) {
                fprintf(stderr, "featd-cli load: %s: line %llu: %s\n", fname,
                        (unsigned long long)lineno, err);
            }
            continue;
        }
        (*nrows)++;
        if (*rejected == 0
            && (fbuf_append(keep, line.data, line.len) != FEATD_OK || fbuf_putc(keep, '\0') != FEATD_OK)) {
            rc = cli_fail(CMD, "out of memory keeping %llu rows", (unsigned long long)*nrows);
            break;
        }
    }
    if (*rejected > MAX_SHOWN_ERRORS) {
        fprintf(stderr, "featd-cli load: %s: ... and %llu more bad lines\n", fname,
                (unsigned long long)(*rejected - MAX_SHOWN_ERRORS));
    }
    fbuf_free(&line);
    return rc;
}

/* Pass 2: writes the kept rows. */
static int write_rows(struct rbcluster *rb, const struct featd_config *cfg, const struct cfg_view *v,
                      const struct load_args *a, struct cli_row *r, const struct fbuf *keep,
                      uint64_t nrows, double t0)
{
    char err[1024];
    const char *prefix = cfg->redis.key_prefix;
    uint64_t gen = 0;
    if (a->snapshot) {
        if (online_gen_alloc_rb(rb, prefix, v, &gen, err, sizeof err) != FEATD_OK) {
            return cli_fail(CMD, "cannot allocate a generation: %s", err);
        }
    } else if (online_gen_ensure_rb(rb, prefix, v, &gen, err, sizeof err) != FEATD_OK) {
        return cli_fail(CMD, "cannot find the current generation: %s", err);
    }
    struct online_writer *w = online_writer_new_rb(rb, prefix, v, (size_t)a->batch);
    if (w == NULL) {
        return cli_fail(CMD, "out of memory");
    }
    int rc = CLI_OK;
    uint64_t done = 0;
    for (size_t off = 0; off < keep->len && rc == CLI_OK;) {
        const char *text = keep->data + off;
        size_t len = strlen(text);
        off += len + 1;
        json_t *obj;
        if (cli_row_parse(v, text, len, &obj, r, err, sizeof err) != FEATD_OK) {
            rc = cli_fail(CMD, "internal error: a checked row no longer converts");
        } else {
            int wr = a->snapshot
                         ? online_writer_put(w, gen, r->keys, r->event_ts, r->created_ts,
                                             r->vals, err, sizeof err)
                         : online_writer_upsert(w, gen, r->keys, r->event_ts, r->created_ts,
                                                r->vals, err, sizeof err);
            if (wr == FEATD_ERR) {
                rc = cli_fail(CMD, "writing row %llu of %llu failed: %s",
                              (unsigned long long)done + 1, (unsigned long long)nrows, err);
            }
            done++;
        }
        json_decref(obj);
    }
    if (rc == CLI_OK && online_writer_flush(w, err, sizeof err) != FEATD_OK) {
        rc = cli_fail(CMD, "writing rows failed: %s", err);
    }
    uint64_t written = online_writer_written(w);
    uint64_t skipped = online_writer_skipped(w);
    online_writer_free(w);

    if (rc != CLI_OK) {
        if (a->snapshot) {
            uint64_t del = 0;
            if (online_gen_reclaim_rb(rb, prefix, v, gen, 0, false, NULL, &del, err, sizeof err) != FEATD_OK) {
                fprintf(stderr, "featd-cli load: warning: generation %llu not reclaimed: %s\n",
                        (unsigned long long)gen, err);
            }
            fprintf(stderr, "featd-cli load: snapshot generation %llu was not published; the "
                    "view still serves its previous data\n", (unsigned long long)gen);
        } else {
            fprintf(stderr, "featd-cli load: %llu rows were written before the failure\n",
                    (unsigned long long)written);
        }
        return rc;
    }
    char what[256];
    if (a->snapshot) {
        uint64_t old = 0, del = 0;
        if (online_gen_flip(online_gen_view_ctx(rb, prefix, v, err, sizeof err), prefix, v, gen, &old, err, sizeof err) != FEATD_OK) {
            char err2[512];
            if (online_gen_reclaim_rb(rb, prefix, v, gen, 0, false, NULL, &del, err2, sizeof err2) != FEATD_OK) {
                fprintf(stderr, "featd-cli load: warning: generation %llu not reclaimed: %s\n",
                        (unsigned long long)gen, err2);
            }
            return cli_fail(CMD, "cannot publish generation %llu: %s", (unsigned long long)gen,
                            err);
        }
        if (old != 0 && old != gen) {
            /* lookups that read the old pointer may read its rows for a moment longer */
            struct timespec ts = { ONLINE_RECLAIM_DELAY_MS / 1000, (ONLINE_RECLAIM_DELAY_MS % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            if (online_gen_reclaim_rb(rb, prefix, v, old, 0, false, NULL, &del, err, sizeof err) != FEATD_OK) {
                fprintf(stderr, "featd-cli load: warning: old generation %llu not reclaimed: %s\n",
                        (unsigned long long)old, err);
            }
            snprintf(what, sizeof what, "snapshot generation %llu published (replaced "
                     "generation %llu, %llu old rows reclaimed)", (unsigned long long)gen,
                     (unsigned long long)old, (unsigned long long)del);
        } else {
            snprintf(what, sizeof what, "snapshot generation %llu published",
                     (unsigned long long)gen);
        }
    } else {
        snprintf(what, sizeof what, "upserted into generation %llu", (unsigned long long)gen);
    }
    printf("view %s: %llu rows, %llu written, %llu skipped (older than the stored row or past "
           "ttl), 0 rejected; %s in %.2f s\n", v->name, (unsigned long long)nrows,
           (unsigned long long)written, (unsigned long long)skipped, what, mono_s() - t0);
    return CLI_OK;
}

int cli_load_main(const struct cli_opts *o, int argc, char **argv)
{
    struct load_args a;
    memset(&a, 0, sizeof a);
    bool help = false;
    int rc = parse_args(&a, o, argc, argv, &help);
    if (help) {
        fputs(help_text, stdout);
        return CLI_OK;
    }
    if (rc != CLI_OK) {
        return rc;
    }
    double t0 = mono_s();
    struct featd_config *cfg = NULL;
    char err[4096];
    if (config_load_file(a.config, true, &cfg, err, sizeof err) != FEATD_OK) {
        fprintf(stderr, "featd-cli load: config %s is invalid:\n%s\n", a.config, err);
        return CLI_FAIL;
    }
    const struct cfg_view *v = config_find_view(cfg, a.view);
    if (v == NULL) {
        fprintf(stderr, "featd-cli load: no feature view \"%s\" in %s (views:", a.view, a.config);
        for (size_t i = 0; i < cfg->nviews; i++) {
            fprintf(stderr, " %s", cfg->views[i].name);
        }
        fprintf(stderr, ")\n");
        config_free(cfg);
        return CLI_USAGE;
    }
    FILE *in = stdin;
    const char *fname = "<stdin>";
    if (a.file != NULL && strcmp(a.file, "-") != 0) {
        in = fopen(a.file, "r");
        if (in == NULL) {
            rc = cli_fail(CMD, "cannot open %s: %s", a.file, strerror(errno));
            config_free(cfg);
            return rc;
        }
        fname = a.file;
    }
    struct cli_row r;
    struct fbuf keep = { 0 };
    uint64_t nrows = 0, rejected = 0;
    if (cli_row_init(&r, v) != FEATD_OK) {
        rc = cli_fail(CMD, "out of memory");
    } else {
        rc = check_input(in, fname, v, &r, &keep, &nrows, &rejected);
    }
    if (in != stdin) {
        fclose(in);
    }
    if (rc == CLI_OK && rejected > 0) {
        rc = cli_fail(CMD, "%llu of %llu lines rejected; nothing was written (fix them and "
                      "run again)", (unsigned long long)rejected,
                      (unsigned long long)(rejected + nrows));
    }
    if (rc == CLI_OK && nrows == 0 && a.snapshot && !a.allow_empty && !a.dry_run) {
        rc = cli_fail(CMD, "no rows in %s: a snapshot of nothing would empty view %s "
                      "(--allow-empty does that on purpose); nothing was written", fname, v->name);
    }
    if (rc == CLI_OK && a.dry_run) {
        printf("view %s: %llu rows checked, 0 rejected; dry run, nothing written\n", v->name,
               (unsigned long long)nrows);
    } else if (rc == CLI_OK && nrows == 0 && !a.snapshot) {
        printf("view %s: no rows; nothing written\n", v->name);
    } else if (rc == CLI_OK) {
        struct rbcluster *c = rbconf_connect(cfg, err, sizeof err);
        if (c != NULL && rbconf_check_writable(cfg, c, err, sizeof err) != FEATD_OK) {
            rbcluster_free(c);
            c = NULL;
        }
        if (c == NULL) {
            rc = cli_fail(CMD, "%s; nothing was written", err);
        } else {
            rbcluster_set_timeout(c, rbconf_bulk_timeout_ms(cfg));
            rc = write_rows(c, cfg, v, &a, &r, &keep, nrows, t0);
            rbcluster_free(c);
        }
    }
    cli_row_free(&r, v);
    fbuf_free(&keep);
    config_free(cfg);
    return rc;
}
