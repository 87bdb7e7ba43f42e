/*
 * admin_views.c — GET /v1/feature-views: the registry as JSON (jansson),
 * with each view's generation read now from Redis through the same refresh
 * the workers run every second (gencache_refresh), or from the
 * cache when Redis does not answer within redis.timeout_ms. Admin thread.
 */
#include <string.h>

#include <jansson.h>

#include "admin/admin_internal.h"
#include "config/config.h"
#include "serve/dispatch.h"

static json_t *admin_key_json(const struct cfg_join_key *k, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", k[i].name, "type",
                                           config_type_name(k[i].type)));
    }
    return a;
}

/* The registry as JSON; fresh = generations were just read from Redis. */
static char *admin_views_json(const struct registry *reg, bool fresh)
{
    const struct featd_config *cfg = reg->cfg;
    json_t *root = json_object();
    json_object_set_new(root, "registry_version", json_integer((json_int_t)reg->version));
    json_object_set_new(root, "config_path", cfg->path ? json_string(cfg->path) : json_null());
    json_object_set_new(root, "generations_from", json_string(fresh ? "redis" : "cache"));
    json_t *ents = json_array();
    for (size_t i = 0; i < cfg->nentities; i++) {
        const struct cfg_entity *e = &cfg->entities[i];
        json_array_append_new(ents, json_pack("{s:s, s:o}", "name", e->name, "join_keys",
                                              admin_key_json(e->keys, e->nkeys)));
    }
    json_object_set_new(root, "entities", ents);
    json_t *views = json_array();
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        json_t *jv = json_object();
        json_object_set_new(jv, "name", json_string(v->name));
        json_t *en = json_array();
        for (size_t k = 0; k < v->nentities; k++) {
            json_array_append_new(en, json_string(v->entities[k]));
        }
        json_object_set_new(jv, "entities", en);
        json_object_set_new(jv, "join_keys", admin_key_json(v->keys, v->nkeys));
        json_t *fs = json_array();
        for (size_t f = 0; f < v->nfeatures; f++) {
            json_array_append_new(fs, json_pack("{s:s, s:s}", "name", v->features[f].name, "type",
                                                config_type_name(v->features[f].type)));
        }
        json_object_set_new(jv, "features", fs);
        json_object_set_new(jv, "ttl_seconds", json_integer(v->ttl_seconds));
        if (v->source_path) {
            json_t *src = json_object();
            json_object_set_new(src, "path", json_string(v->source_path));
            json_object_set_new(src, "event_timestamp_column",
                                v->event_ts_column ? json_string(v->event_ts_column) : json_null());
            json_object_set_new(src, "created_timestamp_column",
                                v->created_ts_column ? json_string(v->created_ts_column) : json_null());
            json_t *cols = json_object();
            for (size_t f = 0; f < v->nfeatures; f++) {
                if (v->features[f].column && strcmp(v->features[f].column, v->features[f].name) != 0) {
                    json_object_set_new(cols, v->features[f].name, json_string(v->features[f].column));
                }
            }
            json_object_set_new(src, "columns", cols);
            json_object_set_new(jv, "source", src);
        } else {
            json_object_set_new(jv, "source", json_null());
        }
        json_object_set_new(jv, "materialization",
                            json_pack("{s:s, s:I}", "mode", v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "incremental",
                                      "interval_seconds", (json_int_t)v->mat_interval_seconds));
        json_object_set_new(jv, "fingerprint", json_string(v->fingerprint_hex));
        uint64_t g = (reg == admin.w.reg) ? gencache_get(&admin.w.serve.gens, i) : GENCACHE_UNKNOWN;
        json_object_set_new(jv, "generation", g == GENCACHE_UNKNOWN ? json_null() : json_integer((json_int_t)g));
        json_array_append_new(views, jv);
    }
    json_object_set_new(root, "feature_views", views);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

static void admin_views_answer(struct admin_call *c, bool fresh)
{
    char *s = admin_views_json(admin.w.reg, fresh);
    if (s == NULL) {
        admin_reply_text(c->req, AP_VIEWS, 500, "out of memory");
    } else {
        size_t n = strlen(s);
        admin_reply(c->req, AP_VIEWS, 200, "application/json", s, n);
        free(s);
    }
    admin_call_answered(c);
}

static void admin_views_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_call *c = arg;
    (void)fd;
    (void)what;
    if (c->req) {
        admin_views_answer(c, false);
    }
    admin_call_maybe_free(c);
}

/* The generation refresh (gencache_refresh) answered. */
static void admin_views_refreshed(void *arg, bool fresh)
{
    struct admin_call *c = arg;
    c->backend_pending = false;
    if (c->req) {
        admin_views_answer(c, fresh);
    }
    admin_call_maybe_free(c);
}

/* Answers with generations read now from Redis (the same refresh the
 * workers run every second), or from the cache when Redis does not answer
 * within the call's timer. */
void admin_views_get(struct evhttp_request *req)
{
    struct admin_call *c = admin_call_new(req, CALL_VIEWS, AP_VIEWS);
    if (c == NULL) {
        admin_reply_text(req, AP_VIEWS, 500, "out of memory");
        return;
    }
    if (admin_call_timer(c, admin_views_timeout_cb) != FEATD_OK ||
        gencache_refresh(&admin.w.serve.gens, admin.w.redis, admin_views_refreshed, c) != FEATD_OK) {
        admin_views_answer(c, false);
        admin_call_maybe_free(c);
        return;
    }
    c->backend_pending = true;
}
