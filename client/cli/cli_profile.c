/*
 * cli_profile.c — `featd-cli profile --config F --view V [--all-rows] PATH`:
 * the quality profile of a Parquet file or directory of files (a training
 * snapshot) read with view V's schema, written to stdout as a baseline in
 * the format the view's "quality.baseline" key reads (DESIGN §12,
 * docs/quality.md). One implementation of profiling: the materializer's
 * own pieces do the work — mat_discover lists the files, mat_bind /
 * mat_rg decode them into the online tier's types, mat_select keeps the
 * latest row per entity (as a snapshot run does), mat_quality profiles
 * the rows and writes the JSON.
 *
 * Three passes over the files, so the histogram is exact (the
 * materializer's first snapshot bins a sample instead):
 *   1. join keys and times: the latest row per entity (skipped with --all-rows)
 *   2. the selected rows' values: min and max per feature, hence the
 *      equal-width bin edges (mat_profile_edges)
 *   3. the selected rows again: the profile on those edges (rows, nulls,
 *      NaN, min, max, mean, histogram) and the expect rules, whose
 *      violations are reported on stderr (the baseline is written anyway).
 * Unlike the materializer, rows past the view's ttl are profiled: a
 * training snapshot is usually old. Memory: one row group's columns and
 * the selection table (about 60 bytes per entity).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/config.h"
#include "materialize/mat_bind.h"
#include "materialize/mat_discover.h"
#include "materialize/mat_quality.h"
#include "materialize/mat_rg.h"
#include "materialize/mat_select.h"
#include "parquet/parquet.h"

#define PROFILE_MAX_KEYS 64

static const char profile_help[] =
    "usage: featd-cli profile --config FILE --view V [--all-rows] PATH > baseline.json\n"
    "\n"
    "Profile a Parquet file, or a directory of Parquet files (a snapshot directory;\n"
    "files whose names start with '.' or '_' are skipped), read with view V's schema\n"
    "(its source columns and renames), and print the profile as JSON: the baseline\n"
    "format of the view's \"quality.baseline\" key. Per feature: values, nulls, NaN,\n"
    "min, max, mean, and a 10-bin histogram on equal-width edges over [min, max].\n"
    "As in a snapshot run, only the latest row per entity counts (event time, then\n"
    "created time, then file order); rows past the ttl count too.\n"
    "\n"
    "  --config FILE   the featd config (or the global --config)\n"
    "  --view V        the feature view whose schema reads the files\n"
    "  --all-rows      profile every row (no latest-row-per-entity reduction)\n"
    "\n"
    "Rows breaking the view's expect rules are reported on stderr.\n"
    "Exit status: 0 written, 1 unreadable files or config, 2 usage.\n";

/* One profiling job: the view, its files and the selection. */
struct profile_job {
    const struct cfg_view *v;
    const struct mat_file **files;
    size_t nfiles;
    bool all_rows;
    struct mat_select sel;
    struct mat_rg rg;
    uint64_t rows_read, rows_rejected;
};

/* Opens file i bound to the view; false after printing why. */
static bool profile_open(const struct profile_job *j, size_t i, struct pq_file **pf,
                         struct mat_binding *b)
{
    char err[768];
    memset(b, 0, sizeof(*b));
    if (pq_open_file(j->files[i]->path, NULL, pf, err, sizeof err) != FEATD_OK) {
        cli_fail("profile", "%s: %s", j->files[i]->path, err);
        return false;
    }
    if (mat_bind(*pf, j->v, b, err, sizeof err) != FEATD_OK) {
        cli_fail("profile", "%s: schema mismatch with view %s: %s", j->files[i]->path,
                 j->v->name, err);
        pq_close(*pf);
        mat_bind_free(b);
        return false;
    }
    return true;
}

/*
 * One pass over every file. select: pass 1 (offer every row to j->sel);
 * otherwise the selected rows' values go to q. count: the final pass, whose
 * rows read and rejected are reported. false after printing why.
 */
static bool profile_pass(struct profile_job *j, bool select, struct mat_quality *q, bool count)
{
    const struct cfg_view *v = j->v;
    struct online_key keys[PROFILE_MAX_KEYS];
    struct online_value *vals = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*vals));
    if (vals == NULL) {
        cli_fail("profile", "out of memory");
        return false;
    }
    bool ok = true;
    uint64_t ord = 0;
    for (size_t i = 0; i < j->nfiles && ok; i++) {
        struct pq_file *pf;
        struct mat_binding b;
        if (!profile_open(j, i, &pf, &b)) {
            ok = false;
            break;
        }
        char err[768];
        for (int rg = 0; rg < pq_num_row_groups(pf) && ok; rg++) {
            if (mat_rg_read_keys(&j->rg, pf, &b, rg, err, sizeof err) != FEATD_OK ||
                (!select && mat_rg_read_features(&j->rg, pf, rg, err, sizeof err) != FEATD_OK)) {
                cli_fail("profile", "%s: row group %d: %s", j->files[i]->path, rg, err);
                ok = false;
                break;
            }
            for (size_t r = 0; r < j->rg.nrows; r++, ord++) {
                int64_t ev, cr;
                const char *why;
                if (mat_rg_row_key(&j->rg, r, keys, &ev, &cr, &why) != FEATD_OK) {
                    j->rows_rejected += count;
                    continue;
                }
                struct mat_hash h;
                if (!j->all_rows) {
                    mat_select_hash_entity(v, keys, &h);
                }
                if (select) {
                    int rc = mat_select_offer(&j->sel, &h, ev, cr, ord, NULL);
                    if (rc != FEATD_OK) {
                        cli_fail("profile", "%s", rc == FEATD_ENOMEM ? "out of memory selecting "
                                 "the latest rows" : "too many distinct entities");
                        ok = false;
                        break;
                    }
                    continue;
                }
                if (!j->all_rows && !mat_select_is_winner(&j->sel, &h, ord)) {
                    continue;
                }
                if (mat_rg_row_values(&j->rg, r, vals, &why) != FEATD_OK) {
                    j->rows_rejected += count;
                    continue;
                }
                mat_quality_row(q, keys, vals);
            }
            j->rows_read += count ? j->rg.nrows : 0;
        }
        pq_close(pf);
        mat_bind_free(&b);
    }
    free(vals);
    return ok;
}

/* The data files of path (a file, or a directory: every snapshot entry's
 * files, in order) into j->files; false after printing why. */
static bool profile_files(const char *path, struct mat_listing *l, struct profile_job *j)
{
    char err[768];
    if (mat_discover(path, l, err, sizeof err) != FEATD_OK) {
        cli_fail("profile", "%s", err);
        return false;
    }
    size_t n = 0;
    for (size_t s = 0; s < l->nsnaps; s++) {
        n += l->snaps[s].nfiles;
    }
    j->files = calloc(n ? n : 1, sizeof(*j->files));
    if (j->files == NULL) {
        cli_fail("profile", "out of memory");
        return false;
    }
    for (size_t s = 0; s < l->nsnaps; s++) {
        for (size_t f = 0; f < l->snaps[s].nfiles; f++) {
            j->files[j->nfiles++] = &l->snaps[s].files[f];
        }
    }
    if (j->nfiles == 0) {
        cli_fail("profile", "%s: no Parquet file (*.parquet; a subdirectory counts only with a "
                 "_SUCCESS file)", path);
        return false;
    }
    return true;
}

/* Passes 2 and 3 (after the selection): the baseline into *out. */
static bool profile_run(struct profile_job *j, json_t **out)
{
    const struct cfg_view *v = j->v;
    struct mat_quality range, prof;
    bool *have = calloc(v->nfeatures ? v->nfeatures : 1, sizeof(*have));
    if (have == NULL || mat_quality_begin(&range, v, NULL) != FEATD_OK) {
        free(have);
        return cli_fail("profile", "out of memory") == CLI_OK;
    }
    bool ok = profile_pass(j, false, &range, false);
    if (ok) {
        /* pass 2's range gives the edges; pass 3 bins every value on them */
        mat_quality_finish(&range);
        for (size_t f = 0; f < v->nfeatures; f++) {
            have[f] = true;
        }
        struct mat_quality_ref ref = { .have = true, .rows = range.rows, .features = range.prof,
                                       .have_feature = have };
        ok = mat_quality_begin(&prof, v, &ref) == FEATD_OK ||
             cli_fail("profile", "out of memory") == CLI_OK;
    }
    mat_quality_free(&range);
    free(have);
    if (!ok) {
        return false;
    }
    ok = profile_pass(j, false, &prof, true);
    if (ok) {
        mat_quality_finish(&prof);
        char report[2048];
        /* the rules that need no reference (expect, null fractions, min_rows) */
        if (mat_quality_verdict(&prof, NULL, report, sizeof report, NULL) > 0) {
            fprintf(stderr, "featd-cli profile: the rows break view %s's rules (the baseline "
                    "is written anyway):\n%s", v->name, report);
        }
        *out = mat_quality_to_json(&prof);
        ok = *out != NULL || cli_fail("profile", "out of memory") == CLI_OK;
    }
    mat_quality_free(&prof);
    return ok;
}

int cli_profile_main(const struct cli_opts *o, int argc, char **argv)
{
    const char *config = o->config, *view = NULL, *path = NULL, *val;
    bool all_rows = false;
    for (int i = 1; i < argc;) {
        int r;
        if (cli_is_help(argv[i])) {
            fputs(profile_help, stdout);
            return CLI_OK;
        }
        if ((r = cli_opt_value("profile", argc, argv, &i, "--config", "-c", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            config = val;
        } else if ((r = cli_opt_value("profile", argc, argv, &i, "--view", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            view = val;
        } else if (strcmp(argv[i], "--all-rows") == 0) {
            all_rows = true;
            i++;
        } else if (argv[i][0] == '-' || path != NULL) {
            return cli_usage_error("profile", "unexpected argument \"%s\"", argv[i]);
        } else {
            path = argv[i++];
        }
    }
    if (config == NULL || view == NULL || path == NULL) {
        return cli_usage_error("profile", "needs --config FILE, --view V and PATH");
    }
    struct featd_config *cfg = NULL;
    char err[4096];
    if (config_load_file(config, true, &cfg, err, sizeof err) != FEATD_OK) {
        return cli_fail("profile", "config %s is invalid:\n%s", config, err);
    }
    struct profile_job j = { .v = config_find_view(cfg, view), .all_rows = all_rows };
    if (j.v == NULL) {
        config_free(cfg);
        return cli_usage_error("profile", "no feature view \"%s\" in %s", view, config);
    }
    if (j.v->nkeys > PROFILE_MAX_KEYS) {
        config_free(cfg);
        return cli_fail("profile", "view %s has more than %d join keys", view, PROFILE_MAX_KEYS);
    }
    struct mat_listing l = { 0 };
    mat_select_init(&j.sel, 0);
    mat_rg_init(&j.rg);
    json_t *doc = NULL;
    bool ok = profile_files(path, &l, &j) && (all_rows || profile_pass(&j, true, NULL, false)) &&
              profile_run(&j, &doc);
    if (ok) {
        ok = json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', stdout) != EOF && fflush(stdout) == 0;
        if (!ok) {
            cli_fail("profile", "writing the baseline failed");
        } else {
            fprintf(stderr, "featd-cli profile: view %s: %zu file%s, %llu rows read, %llu "
                    "profiled, %llu rejected\n", j.v->name, j.nfiles, j.nfiles == 1 ? "" : "s",
                    (unsigned long long)j.rows_read,
                    (unsigned long long)json_integer_value(json_object_get(doc, "rows")),
                    (unsigned long long)j.rows_rejected);
        }
    }
    json_decref(doc);
    mat_rg_free(&j.rg);
    mat_select_free(&j.sel);
    free(j.files);
    mat_discover_listing_free(&l);
    config_free(cfg);
    return ok ? CLI_OK : CLI_FAIL;
}
