/*
 * config_servlog.c — the top-level "serving_log" key of DESIGN §12:
 * {"path", "sample_rate", "max_bytes", "keep"}, validated with JSON paths
 * like every key. Absent or null: no serving log (sample_rate 0). Every key
 * is reloadable (servlog/servlog.h applies a reload: new rate at once, file
 * reopened under the new path and bounds).
 */
#include "config/config_int.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const servlog_keys[] = { "path", "sample_rate", "max_bytes", "keep", NULL };

void config_servlog_parse(struct featd_config *cfg, json_t *root, struct config_errs *e)
{
    struct cfg_serving_log *s = &cfg->serving_log;
    s->enabled = false;
    s->sample_rate = 0;
    s->max_bytes = CFG_SERVLOG_DEFAULT_MAX_BYTES;
    s->keep = CFG_SERVLOG_DEFAULT_KEEP;
    json_t *o = json_object_get(root, "serving_log");
    if (o == NULL || json_is_null(o)) {
        return;
    }
    if (!json_is_object(o)) {
        config_err_add(e, "$.serving_log",
                       "expected an object {path, sample_rate, max_bytes, keep} or null (got %s)",
                       config_json_kind(o));
        return;
    }
    config_json_check_keys(o, "$.serving_log", servlog_keys, "serving_log", e);
    json_t *p = config_json_member(o, "path", JSON_STRING, true, false, "$.serving_log", e);
    if (p != NULL) {
        char why[160];
        const char *bad = config_json_text_problem(json_string_value(p), CFG_PATH_STR_MAX, why, sizeof(why));
        if (bad != NULL) {
            config_err_add(e, "$.serving_log.path", "%s", bad);
        } else {
            s->path = util_xstrdup(json_string_value(p));
        }
    }
    json_t *r = json_object_get(o, "sample_rate");
    if (r != NULL) {
        if (!json_is_number(r) || !isfinite(json_number_value(r))) {
            config_err_add(e, "$.serving_log.sample_rate", "expected a number (got %s)", config_json_kind(r));
        } else if (json_number_value(r) < 0 || json_number_value(r) > 1) {
            config_err_add(e, "$.serving_log.sample_rate", "%g is out of range (expected 0..1)",
                           json_number_value(r));
        } else {
            s->sample_rate = json_number_value(r);
        }
    } else {
        s->sample_rate = CFG_SERVLOG_DEFAULT_RATE;
    }
    int64_t v;
    json_t *mb = json_object_get(o, "max_bytes");
    if (mb != NULL && config_json_int_in(mb, 4096, (int64_t)1 << 40, "$.serving_log.max_bytes", &v, e)) {
        s->max_bytes = (uint64_t)v;
    }
    json_t *k = json_object_get(o, "keep");
    if (k != NULL && config_json_int_in(k, 1, 100, "$.serving_log.keep", &v, e)) {
        s->keep = (int)v;
    }
    s->enabled = s->path != NULL;
}

void config_servlog_free(struct cfg_serving_log *s)
{
    free(s->path);
    s->path = NULL;
}
