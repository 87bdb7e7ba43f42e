/*
 * admin_views.c — GET /v1/feature-views: the registry as JSON (common/jsonw),
 * with each view's generation read now from Redis through the same refresh
 * the workers run every second (gencache_refresh), or from the
 * cache when Redis does not answer within redis.timeout_ms. Admin thread.
 */
#include <string.h>

#include "admin/admin_internal.h"
#include "auth/auth.h"
#include "common/jsonw.h"
#include "config/config.h"
#include "serve/dispatch.h"

/*
 * An indenting layer over common/jsonw: objects and arrays one member per
 * line, two spaces per level, "key": value (the layout of json_dumps with
 * JSON_INDENT(2), which this endpoint always had; people read it with curl).
 */
#define VIEWS_MAX_DEPTH 8

struct views_w {
    struct jsonw j;
    int depth;
    bool first[VIEWS_MAX_DEPTH];    /* no member written yet at that level */
};

static void views_open(struct views_w *p, char c)
{
    jsonw_char(&p->j, c);
    p->depth++;
    p->first[p->depth] = true;
}

static void views_newline(struct views_w *p, int depth)
{
    jsonw_char(&p->j, '\n');
    for (int i = 0; i < depth; i++) {
        jsonw_lit(&p->j, "  ");
    }
}

static void views_close(struct views_w *p, char c)
{
    if (!p->first[p->depth]) {
        views_newline(p, p->depth - 1);
    }
    p->depth--;
    jsonw_char(&p->j, c);
}

/* Starts the next array element. */
static void views_item(struct views_w *p)
{
    if (!p->first[p->depth]) {
        jsonw_char(&p->j, ',');
    }
    p->first[p->depth] = false;
    views_newline(p, p->depth);
}

/* Starts the next object member: "key": */
static void views_key(struct views_w *p, const char *key)
{
    views_item(p);
    jsonw_strz(&p->j, key);
    jsonw_lit(&p->j, ": ");
}

/* A string, or null for NULL. */
static void views_str(struct views_w *p, const char *s)
{
    if (s == NULL) {
        jsonw_lit(&p->j, "null");
    } else {
        jsonw_strz(&p->j, s);
    }
}

/* {"name": ..., "type": ...} of a join key or a feature, as an element. */
static void views_name_type(struct views_w *p, const char *name, enum featd_type type)
{
    views_item(p);
    views_open(p, '{');
    views_key(p, "name");
    views_str(p, name);
    views_key(p, "type");
    views_str(p, config_type_name(type));
    views_close(p, '}');
}

static void views_join_keys(struct views_w *p, const struct cfg_join_key *k, size_t n)
{
    views_open(p, '[');
    for (size_t i = 0; i < n; i++) {
        views_name_type(p, k[i].name, k[i].type);
    }
    views_close(p, ']');
}

/* "source": {...} of view v, or null. */
static void views_source(struct views_w *p, const struct cfg_view *v)
{
    if (v->source_path == NULL) {
        jsonw_lit(&p->j, "null");
        return;
    }
    views_open(p, '{');
    views_key(p, "path");
    views_str(p, v->source_path);
    views_key(p, "event_timestamp_column");
    views_str(p, v->event_ts_column);
    views_key(p, "created_timestamp_column");
    views_str(p, v->created_ts_column);
    views_key(p, "columns");
    views_open(p, '{');
    for (size_t f = 0; f < v->nfeatures; f++) {
        if (v->features[f].column && strcmp(v->features[f].column, v->features[f].name) != 0) {
            views_key(p, v->features[f].name);
            views_str(p, v->features[f].column);
        }
    }
    views_close(p, '}');
    views_close(p, '}');
}

/* View i of reg as one object. */
static void views_view(struct views_w *p, const struct registry *reg, size_t i)
{
    const struct cfg_view *v = &reg->cfg->views[i];
    views_open(p, '{');
    views_key(p, "name");
    views_str(p, v->name);
    views_key(p, "entities");
    views_open(p, '[');
    for (size_t k = 0; k < v->nentities; k++) {
        views_item(p);
        views_str(p, v->entities[k]);
    }
    views_close(p, ']');
    views_key(p, "join_keys");
    views_join_keys(p, v->keys, v->nkeys);
    views_key(p, "features");
    views_open(p, '[');
    for (size_t f = 0; f < v->nfeatures; f++) {
        views_name_type(p, v->features[f].name, v->features[f].type);
    }
    views_close(p, ']');
    views_key(p, "ttl_seconds");
    jsonw_i64(&p->j, v->ttl_seconds);
    views_key(p, "source");
    views_source(p, v);
    views_key(p, "materialization");
    views_open(p, '{');
    views_key(p, "mode");
    views_str(p, v->mat_mode == MAT_SNAPSHOT ? "snapshot" : "incremental");
    views_key(p, "interval_seconds");
    jsonw_i64(&p->j, (int64_t)v->mat_interval_seconds);
    views_close(p, '}');
    views_key(p, "fingerprint");
    views_str(p, v->fingerprint_hex);
    views_key(p, "generation");
    uint64_t g = (reg == admin.w.reg) ? gencache_get(&admin.w.serve.gens, i) : GENCACHE_UNKNOWN;
    if (g == GENCACHE_UNKNOWN) {
        jsonw_lit(&p->j, "null");
    } else {
        jsonw_i64(&p->j, (int64_t)g);
    }
    views_close(p, '}');
}

/* The registry as JSON into p->j; fresh = generations were just read from
 * Redis. */
static void admin_views_json(struct views_w *p, const struct registry *reg, bool fresh,
                             const struct cfg_token *token)
{
    const struct featd_config *cfg = reg->cfg;
    views_open(p, '{');
    views_key(p, "registry_version");
    jsonw_i64(&p->j, (int64_t)reg->version);
    views_key(p, "config_path");
    views_str(p, cfg->path);
    views_key(p, "generations_from");
    views_str(p, fresh ? "redis" : "cache");
    views_key(p, "entities");
    views_open(p, '[');
    for (size_t i = 0; i < cfg->nentities; i++) {
        const struct cfg_entity *e = &cfg->entities[i];
        views_item(p);
        views_open(p, '{');
        views_key(p, "name");
        views_str(p, e->name);
        views_key(p, "join_keys");
        views_join_keys(p, e->keys, e->nkeys);
        views_close(p, '}');
    }
    views_close(p, ']');
    views_key(p, "feature_views");
    views_open(p, '[');
    for (size_t i = 0; i < cfg->nviews; i++) {
        /* with auth, only the views the token may read */
        if (token != NULL && !auth_may_read(token, cfg->views[i].name)) {
            continue;
        }
        views_item(p);
        views_view(p, reg, i);
    }
    views_close(p, ']');
    views_close(p, '}');
}

static void admin_views_answer(struct admin_call *c, bool fresh)
{
    struct views_w p = { .depth = 0 };
    jsonw_init(&p.j);
    admin_views_json(&p, admin.w.reg, fresh, c->token);
    const char *s = jsonw_end(&p.j);
    if (s == NULL) {
        admin_reply_text(c->req, AP_VIEWS, 500, "out of memory");
    } else {
        admin_reply(c->req, AP_VIEWS, 200, "application/json", s, p.j.len);
    }
    jsonw_free(&p.j);
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
    if (admin.token != NULL) {
        c->token = admin.token;
        c->reg = registry_ref(admin.w.reg);     /* keeps the token alive until the answer */
    }
    if (admin_call_timer(c, admin_views_timeout_cb) != FEATD_OK ||
        gencache_refresh(&admin.w.serve.gens, admin.w.redis, admin_views_refreshed, c) != FEATD_OK) {
        admin_views_answer(c, false);
        admin_call_maybe_free(c);
        return;
    }
    c->backend_pending = true;
}
