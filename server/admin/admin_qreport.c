/*
 * admin_qreport.c — a view's quality report (contract in admin_qreport.h):
 * the Lua script that reads it from Redis and its JSON rendering, shared by
 * GET /v1/quality/VIEW (admin_quality.c) and `featd-cli quality`.
 */
#include "admin/admin_qreport.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materialize/mat_profile.h"
#include "materialize/mat_quality.h"
#include "online/online_key.h"

#define AQ_MAX_VIOLATION_LINES 64

/* Reply layout: the progress fields in this order, then the profiles of
 * the current, held and previous generations (nil when none). */
enum {
    AQ_GENERATION = 0, AQ_HELD_GENERATION, AQ_PREV_GENERATION, AQ_STATE, AQ_SNAPSHOT,
    AQ_HELD_SNAPSHOT, AQ_PREV_SNAPSHOT, AQ_VIOLATIONS, AQ_HELD_AT_US,
    AQ_PROFILE_CURRENT, AQ_PROFILE_HELD, AQ_PROFILE_PREV, AQ__N
};

const char admin_qreport_script[] =
    "local p = redis.call('HMGET', KEYS[1], 'generation', 'held_generation', "
    "'prev_generation', 'state', 'snapshot', 'held_snapshot', 'prev_snapshot', "
    "'violations', 'held_at_us')\n"
    "for i = 1, 3 do\n"
    "  local g = p[i]\n"
    "  if g and g ~= '0' then p[9 + i] = redis.call('HGET', KEYS[2], g) else p[9 + i] = false end\n"
    "end\n"
    "return p\n";

int admin_qreport_keys(struct fbuf *keys, size_t *len1, const char *key_prefix,
                       const struct cfg_view *v)
{
    fbuf_reset(keys);
    if (online_key_meta(keys, key_prefix, v, "progress") != FEATD_OK) {
        return FEATD_ERR;
    }
    *len1 = keys->len;
    return online_key_meta(keys, key_prefix, v, "profiles");
}

/* ---- rendering ---- */

/* Element i of r as a string, NULL when nil or absent. */
static const char *aq_str(const redisReply *r, size_t i)
{
    const redisReply *e = i < r->elements ? r->element[i] : NULL;
    return e != NULL && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) ? e->str
                                                                                         : NULL;
}

static int64_t aq_int(const redisReply *r, size_t i)
{
    const char *s = aq_str(r, i);
    return s ? strtoll(s, NULL, 10) : 0;
}

/* A number, or null for "not configured" (negative). */
static json_t *aq_limit(double x)
{
    return x < 0 ? json_null() : json_real(x);
}

/* The view's quality config and expect rules. */
static json_t *aq_config(const struct cfg_view *v)
{
    const struct cfg_quality *g = &v->quality;
    json_t *o = json_object(), *ex = json_object();
    if (g->has) {
        json_object_set_new(o, "min_rows", json_integer(g->min_rows));
        json_object_set_new(o, "max_row_change", aq_limit(g->max_row_change));
        json_object_set_new(o, "max_psi", aq_limit(g->max_psi));
        json_object_set_new(o, "baseline", g->baseline ? json_string(g->baseline) : json_null());
        json_object_set_new(o, "on_violation", json_string(g->on_violation == VIOLATION_WARN
                                                               ? "warn" : "hold"));
        json_object_set_new(o, "keep_generations", json_integer(g->keep_generations));
    }
    for (size_t f = 0; f < v->nfeatures; f++) {
        const struct cfg_expect *e = &v->features[f].expect;
        if (!e->has) {
            continue;
        }
        json_t *r = json_object();
        if (e->has_min) {
            json_object_set_new(r, "min", json_real(e->min));
        }
        if (e->has_max) {
            json_object_set_new(r, "max", json_real(e->max));
        }
        json_object_set_new(r, "not_null", json_boolean(e->not_null));
        json_object_set_new(r, "max_null_fraction", json_real(e->max_null_fraction));
        if (e->allowed != NULL) {
            json_t *a = json_array();
            for (size_t k = 0; k < e->nallowed; k++) {
                json_array_append_new(a, json_string(e->allowed[k]));
            }
            json_object_set_new(r, "allowed", a);
        }
        json_object_set_new(ex, v->features[f].name, r);
    }
    json_object_set_new(o, "expect", ex);
    return o;
}

/* {"generation", "snapshot", ["held_at_us"], "profile"} or null when gen is 0. */
static json_t *aq_generation(const redisReply *r, size_t gen_i, size_t snap_i, size_t prof_i,
                             bool held)
{
    int64_t gen = aq_int(r, gen_i);
    if (gen <= 0) {
        return json_null();
    }
    json_t *o = json_object();
    json_object_set_new(o, "generation", json_integer(gen));
    const char *snap = aq_str(r, snap_i);
    json_object_set_new(o, "snapshot", snap && snap[0] ? json_string(snap) : json_null());
    if (held) {
        json_object_set_new(o, "held_at_us", json_integer(aq_int(r, AQ_HELD_AT_US)));
    }
    const char *p = aq_str(r, prof_i);
    json_t *prof = p ? json_loads(p, 0, NULL) : NULL;
    json_object_set_new(o, "profile", prof ? prof : json_null());
    return o;
}

/*
 * "psi": {"of": "held"|"current", "reference": "baseline"|"current"|
 * "previous"|null, "features": {name: PSI or null}} — PSI where both
 * profiles have histograms on the same edges (the gate bins a snapshot on
 * its reference's edges), null otherwise.
 */
static json_t *aq_psi(const struct cfg_view *v, const redisReply *r)
{
    bool held = aq_int(r, AQ_HELD_GENERATION) > 0;
    json_t *o = json_object(), *fs = json_object();
    const char *subj_text = aq_str(r, held ? AQ_PROFILE_HELD : AQ_PROFILE_CURRENT);
    const char *refname = v->quality.baseline ? "baseline" : held ? "current" : "previous";
    json_t *refdoc = NULL;
    char why[512] = "";
    if (v->quality.baseline != NULL) {
        json_error_t jerr;
        refdoc = json_load_file(v->quality.baseline, 0, &jerr);
        if (refdoc == NULL) {
            snprintf(why, sizeof why, "quality.baseline %s: %s", v->quality.baseline, jerr.text);
        }
    } else {
        const char *t = aq_str(r, held ? AQ_PROFILE_CURRENT : AQ_PROFILE_PREV);
        refdoc = t ? json_loads(t, 0, NULL) : NULL;
    }
    json_t *subjdoc = subj_text ? json_loads(subj_text, 0, NULL) : NULL;
    struct mat_quality_ref ref = { 0 }, subj = { 0 };
    bool have_ref = refdoc && mat_quality_ref_from_json(refdoc, v, &ref, why, sizeof why) == FEATD_OK;
    bool have_subj = subjdoc &&
                     mat_quality_ref_from_json(subjdoc, v, &subj, why, sizeof why) == FEATD_OK;
    for (size_t f = 0; f < v->nfeatures; f++) {
        double psi = -1;
        if (have_ref && have_subj && ref.have_feature[f] && subj.have_feature[f] &&
            ref.features[f].have_edges && subj.features[f].have_edges &&
            memcmp(ref.features[f].edges, subj.features[f].edges, sizeof(ref.features[f].edges))
                == 0) {
            psi = mat_profile_psi(ref.features[f].hist, subj.features[f].hist);
        }
        json_object_set_new(fs, v->features[f].name, psi >= 0 ? json_real(psi) : json_null());
    }
    json_object_set_new(o, "of", json_string(held ? "held" : "current"));
    json_object_set_new(o, "reference", have_ref ? json_string(refname) : json_null());
    if (why[0]) {
        json_object_set_new(o, "error", json_string(why));
    }
    json_object_set_new(o, "features", fs);
    if (have_ref) {
        mat_quality_ref_free(&ref);
    }
    if (have_subj) {
        mat_quality_ref_free(&subj);
    }
    json_decref(refdoc);
    json_decref(subjdoc);
    return o;
}

/* The gate's verdict lines ("rule: text (e.g. k1, k2)") as
 * [{"rule", "message", "examples": [...]}]. */
static json_t *aq_violations(const char *text)
{
    json_t *a = json_array();
    size_t n = 0;
    while (text != NULL && *text != '\0' && n++ < AQ_MAX_VIOLATION_LINES) {
        size_t len = strcspn(text, "\n");
        if (len > 0) {
            json_t *o = json_object(), *ex = json_array();
            size_t colon = strcspn(text, ":");
            bool has_rule = colon < len && colon > 0 && strcspn(text, " ") > colon;
            json_object_set_new(o, "rule", has_rule ? json_stringn(text, colon)
                                                    : json_string("other"));
            json_object_set_new(o, "message", json_stringn(text, len));
            /* examples: the trailing " (e.g. a, b, c)" */
            const char *eg = NULL;
            for (const char *p = text; p + 7 <= text + len; p++) {
                if (memcmp(p, " (e.g. ", 7) == 0) {
                    eg = p + 7;
                }
            }
            if (eg != NULL && text[len - 1] == ')') {
                const char *end = text + len - 1;
                while (eg < end) {
                    size_t k = 0;
                    while (eg + k < end && !(eg[k] == ',' && eg + k + 1 < end && eg[k + 1] == ' ')) {
                        k++;
                    }
                    json_array_append_new(ex, json_stringn(eg, k));
                    eg += k + (eg + k < end ? 2 : 0);
                }
            }
            json_object_set_new(o, "examples", ex);
            json_array_append_new(a, o);
        }
        text += len + (text[len] == '\n');
    }
    return a;
}

json_t *admin_qreport_json(const struct cfg_view *v, const redisReply *r, char *why,
                           size_t whylen)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < AQ__N) {
        snprintf(why, whylen, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str
                                                                      : "unexpected reply");
        return NULL;
    }
    json_t *o = json_object();
    if (o == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    /* "held" while a generation is held (the progress state turns back to
     * idle at the next poll that finds nothing new) */
    const char *state = aq_int(r, AQ_HELD_GENERATION) > 0 ? "held" : aq_str(r, AQ_STATE);
    json_object_set_new(o, "view", json_string(v->name));
    json_object_set_new(o, "state", state && state[0] ? json_string(state) : json_null());
    json_object_set_new(o, "current", aq_generation(r, AQ_GENERATION, AQ_SNAPSHOT,
                                                    AQ_PROFILE_CURRENT, false));
    json_object_set_new(o, "held", aq_generation(r, AQ_HELD_GENERATION, AQ_HELD_SNAPSHOT,
                                                 AQ_PROFILE_HELD, true));
    json_object_set_new(o, "previous", aq_generation(r, AQ_PREV_GENERATION, AQ_PREV_SNAPSHOT,
                                                     AQ_PROFILE_PREV, false));
    json_object_set_new(o, "psi", aq_psi(v, r));
    json_object_set_new(o, "violations", aq_violations(aq_str(r, AQ_VIOLATIONS)));
    json_object_set_new(o, "config", aq_config(v));
    return o;
}
