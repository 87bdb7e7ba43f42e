/*
 * servlog_line.c — a finished lookup as one serving-log JSON line
 * (contract in servlog_line.h), written with common/jsonw.h.
 */
#include "servlog/servlog_line.h"

#include <string.h>

#include "common/jsonw.h"
#include "online/online_json.h"
#include "config/config.h"
#include "core/metrics.h"
#include "online/online.h"
#include "serve/lookup_plan.h"
#include "wire/proto.h"

/* An entity key value of the request (int64, int32 or string; the plan
 * checked the types). */
static void servlog_line_key(struct jsonw *j, const Featd__V1__Value *v)
{
    switch (v->kind_case) {
    case FEATD__V1__VALUE__KIND_INT64_VAL:
        jsonw_i64(j, v->int64_val);
        return;
    case FEATD__V1__VALUE__KIND_INT32_VAL:
        jsonw_i64(j, v->int32_val);
        return;
    case FEATD__V1__VALUE__KIND_STRING_VAL:
        jsonw_strz(j, v->string_val);
        return;
    default:
        jsonw_lit(j, "null");
        return;
    }
}

static bool servlog_line_has_row(int status)
{
    return status == FEATD__V1__FIELD_STATUS__PRESENT || status == FEATD__V1__FIELD_STATUS__NULL_VALUE ||
           status == FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE;
}

void servlog_line_json(struct jsonw *j, int64_t now_us, uint64_t request_id,
                       const Featd__V1__GetOnlineFeaturesRequest *g, const struct lookup_plan *p,
                       const struct proto_get_answer *ga)
{
    size_t nf = ga->nfeatures, nr = ga->nrows;
    char t[JSONW_TIME_MAX];
    size_t tl = jsonw_fmt_time(t, now_us, 6);
    jsonw_lit(j, "{\"time\":\"");
    jsonw_raw(j, t, tl);
    jsonw_lit(j, "\",\"request_id\":");
    jsonw_u64(j, request_id);
    jsonw_lit(j, p->held ? ",\"generation_mode\":\"held\"" : ",\"generation_mode\":\"current\"");
    jsonw_lit(j, ",\"features\":[");
    for (size_t f = 0; f < nf; f++) {
        if (f) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, ga->names[f]);
    }
    jsonw_lit(j, "],\"entities\":{");
    for (size_t e = 0; e < g->n_entities; e++) {
        const Featd__V1__EntityColumn *col = g->entities[e];
        if (e) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, col->join_key);
        jsonw_lit(j, ":[");
        for (size_t r = 0; r < col->n_values; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            servlog_line_key(j, col->values[r]);
        }
        jsonw_char(j, ']');
    }
    jsonw_lit(j, "},\"values\":[");
    for (size_t f = 0; f < nf; f++) {
        jsonw_lit(j, f ? ",[" : "[");
        for (size_t r = 0; r < nr; r++) {
            if (r) {
                jsonw_char(j, ',');
            }
            online_json_write_value(j, (enum featd_type)ga->types[f], ga->cells[f * nr + r]);
        }
        jsonw_char(j, ']');
    }
    jsonw_lit(j, "],\"statuses\":[");
    for (size_t f = 0; f < nf; f++) {
        jsonw_lit(j, f ? ",[" : "[");
        for (size_t r = 0; r < nr; r++) {
            uint8_t s = ga->statuses[f * nr + r];
            if (r) {
                jsonw_char(j, ',');
            }
            jsonw_strz(j, s < METRICS_STATUSES ? metrics_status_names[s] : "INVALID");
        }
        jsonw_char(j, ']');
    }
    jsonw_lit(j, "],\"event_timestamps\":[");
    for (size_t f = 0; f < nf; f++) {
        jsonw_lit(j, f ? ",[" : "[");
        for (size_t r = 0; r < nr; r++) {
            size_t c = f * nr + r;
            if (r) {
                jsonw_char(j, ',');
            }
            if (servlog_line_has_row(ga->statuses[c])) {
                jsonw_time(j, ga->event_ts[c]);
            } else {
                jsonw_lit(j, "null");
            }
        }
        jsonw_char(j, ']');
    }
    jsonw_lit(j, "],\"generations\":{");
    for (size_t i = 0; i < p->nviews; i++) {
        if (i) {
            jsonw_char(j, ',');
        }
        jsonw_strz(j, p->views[i].v->name);
        jsonw_char(j, ':');
        if (p->views[i].gen) {
            jsonw_u64(j, p->views[i].gen);
        } else {
            jsonw_lit(j, "null");
        }
    }
    jsonw_lit(j, "}}\n");
}
