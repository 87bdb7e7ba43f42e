/*
 * cli_quality.c — `featd-cli quality VIEW [--config F] [--json]`: a feature
 * view's quality report read straight from Redis (works with any number of
 * featd replicas, or none): the state, the current and the held
 * generation's profiles, PSI per feature against the gate's reference,
 * the violations with their rule and example keys, the view's quality
 * config. The report itself — the script that reads it and its JSON — is
 * server/admin/admin_qreport.c, the same that answers GET /v1/quality/VIEW
 * on the admin port; --json prints it as is, the text form is a reading
 * of that JSON.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "admin/admin_qreport.h"
#include "config/config.h"
#include "core/fbuf.h"
#include "online/online_gen.h"
#include "redis/rbcluster.h"
#include "redis/rbconf.h"

static const char quality_help[] =
    "usage: featd-cli quality VIEW --config FILE [--json]\n"
    "\n"
    "Show feature view VIEW's quality (DESIGN §12), read from Redis: its state, the\n"
    "current and the held generation's profile (rows; per feature nulls, min, max,\n"
    "mean, histogram), the PSI of each numeric feature of the held generation (else\n"
    "the current one) against the gate's reference (the baseline file, else the\n"
    "generation it would replace), the violated rules with example entity keys, and\n"
    "the view's quality config. The same report as GET /v1/quality/VIEW on the admin\n"
    "port.\n"
    "\n"
    "  --config FILE   the featd config (or the global --config)\n"
    "  --json          print the report as JSON (the HTTP endpoint's body)\n"
    "\n"
    "Exit status: 0 shown, 1 Redis or the config could not be read, 2 usage or\n"
    "unknown view.\n";

/* "12.5" or "-" for a missing number. */
static void cli_quality_num(char *buf, size_t cap, const json_t *j)
{
    if (json_is_number(j)) {
        snprintf(buf, cap, "%.6g", json_number_value(j));
    } else {
        snprintf(buf, cap, "-");
    }
}

/* One generation's header line and per-feature rows. */
static void cli_quality_generation(const char *label, const json_t *g, const json_t *psi)
{
    if (!json_is_object(g)) {
        printf("%s: none\n", label);
        return;
    }
    const json_t *prof = json_object_get(g, "profile");
    const char *snap = json_string_value(json_object_get(g, "snapshot"));
    printf("%s: generation %" JSON_INTEGER_FORMAT " (%s), ", label,
           json_integer_value(json_object_get(g, "generation")), snap ? snap : "?");
    if (!json_is_object(prof)) {
        printf("no profile stored\n");
        return;
    }
    printf("%" JSON_INTEGER_FORMAT " rows\n", json_integer_value(json_object_get(prof, "rows")));
    printf("  %-24s %10s %10s %12s %12s %12s %8s  %s\n", "feature", "values", "nulls", "min", "max",
           "mean", "psi", "histogram");
    const char *name;
    const json_t *f;
    json_object_foreach((json_t *)json_object_get(prof, "features"), name, f) {
        char mn[32], mx[32], me[32], ps[32];
        cli_quality_num(mn, sizeof mn, json_object_get(f, "min"));
        cli_quality_num(mx, sizeof mx, json_object_get(f, "max"));
        cli_quality_num(me, sizeof me, json_object_get(f, "mean"));
        cli_quality_num(ps, sizeof ps, psi ? json_object_get(psi, name) : NULL);
        printf("  %-24s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT " %12s %12s %12s %8s ",
               name, json_integer_value(json_object_get(f, "values")),
               json_integer_value(json_object_get(f, "nulls")), mn, mx, me, ps);
        const json_t *h = json_object_get(f, "hist"), *c;
        size_t i;
        json_array_foreach(h, i, c) {
            printf("%s%" JSON_INTEGER_FORMAT, i ? " " : " [", json_integer_value(c));
        }
        printf("%s\n", json_array_size(h) ? "]" : "");
    }
}

/* The text form of the report. */
static void cli_quality_text(const json_t *doc)
{
    const json_t *st = json_object_get(doc, "state"), *cfg = json_object_get(doc, "config");
    const json_t *psi = json_object_get(doc, "psi");
    printf("view %s: %s\n", json_string_value(json_object_get(doc, "view")),
           json_is_string(st) ? json_string_value(st) : "never materialized");
    if (json_object_get(cfg, "on_violation") != NULL) {
        char a[32], b[32];
        cli_quality_num(a, sizeof a, json_object_get(cfg, "max_psi"));
        cli_quality_num(b, sizeof b, json_object_get(cfg, "max_row_change"));
        const char *base = json_string_value(json_object_get(cfg, "baseline"));
        printf("quality: on_violation %s, min_rows %" JSON_INTEGER_FORMAT ", max_row_change %s, "
               "max_psi %s, baseline %s, keep_generations %" JSON_INTEGER_FORMAT "\n",
               json_string_value(json_object_get(cfg, "on_violation")),
               json_integer_value(json_object_get(cfg, "min_rows")), b, a, base ? base : "-",
               json_integer_value(json_object_get(cfg, "keep_generations")));
    }
    const char *fname;
    const json_t *ex;
    json_object_foreach((json_t *)json_object_get(cfg, "expect"), fname, ex) {
        char *t = json_dumps(ex, JSON_COMPACT);
        printf("expect %s: %s\n", fname, t ? t : "?");
        free(t);
    }
    const json_t *viol = json_object_get(doc, "violations"), *x;
    size_t i;
    printf("violations:%s\n", json_array_size(viol) ? "" : " none");
    json_array_foreach(viol, i, x) {
        printf("  [%s] %s\n", json_string_value(json_object_get(x, "rule")),
               json_string_value(json_object_get(x, "message")));
    }
    const char *of = json_string_value(json_object_get(psi, "of"));
    const json_t *ref = json_object_get(psi, "reference");
    printf("psi: of the %s generation against %s%s%s\n", of ? of : "?",
           json_is_string(ref) ? json_string_value(ref) : "no reference",
           json_object_get(psi, "error") ? ": " : "",
           json_object_get(psi, "error") ? json_string_value(json_object_get(psi, "error")) : "");
    const json_t *fs = json_object_get(psi, "features");
    bool held = of && strcmp(of, "held") == 0;
    cli_quality_generation("current", json_object_get(doc, "current"), held ? NULL : fs);
    cli_quality_generation("held", json_object_get(doc, "held"), held ? fs : NULL);
}

int cli_quality_main(const struct cli_opts *o, int argc, char **argv)
{
    const char *config = o->config, *view = NULL, *val;
    bool json = false;
    for (int i = 1; i < argc;) {
        int r;
        if (cli_is_help(argv[i])) {
            fputs(quality_help, stdout);
            return CLI_OK;
        }
        if ((r = cli_opt_value("quality", argc, argv, &i, "--config", "-c", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            config = val;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
            i++;
        } else if (argv[i][0] == '-' || view != NULL) {
            return cli_usage_error("quality", "unexpected argument \"%s\"", argv[i]);
        } else {
            view = argv[i++];
        }
    }
    if (config == NULL || view == NULL) {
        return cli_usage_error("quality", "needs VIEW and --config FILE");
    }
    struct featd_config *cfg = NULL;
    char err[4096];
    if (config_load_file(config, true, &cfg, err, sizeof err) != FEATD_OK) {
        return cli_fail("quality", "config %s is invalid:\n%s", config, err);
    }
    const struct cfg_view *v = config_find_view(cfg, view);
    if (v == NULL) {
        config_free(cfg);
        return cli_usage_error("quality", "unknown feature view \"%s\"", view);
    }
    int rc = CLI_FAIL;
    struct fbuf keys = { 0 };
    size_t len1 = 0;
    json_t *doc = NULL;
    redisReply *r = NULL;
    struct rbcluster *c = rbconf_connect(cfg, err, sizeof err);
    redisContext *vc = c ? online_gen_view_ctx(c, cfg->redis.key_prefix, v, err, sizeof err) : NULL;
    if (vc == NULL) {
        cli_fail("quality", "%s", err);
    } else if (admin_qreport_keys(&keys, &len1, cfg->redis.key_prefix, v) != FEATD_OK) {
        cli_fail("quality", "out of memory");
    } else if ((r = redisCommand(vc, "EVAL %s 2 %b %b", admin_qreport_script, keys.data, len1,
                                 keys.data + len1, keys.len - len1)) == NULL) {
        cli_fail("quality", "Redis: %s", vc->errstr);
    } else if ((doc = admin_qreport_json(v, r, err, sizeof err)) == NULL) {
        cli_fail("quality", "Redis: %s", err);
    } else if (json) {
        rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', stdout) != EOF ? CLI_OK : CLI_FAIL;
    } else {
        cli_quality_text(doc);
        rc = CLI_OK;
    }
    if (fflush(stdout) != 0) {
        rc = cli_fail("quality", "write error");
    }
    json_decref(doc);
    freeReplyObject(r);
    fbuf_free(&keys);
    if (c != NULL) {
        rbcluster_free(c);
    }
    config_free(cfg);
    return rc;
}
