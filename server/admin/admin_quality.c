/*
 * admin_quality.c — GET /v1/quality/VIEW on the admin port: the view's
 * quality report (admin_qreport.h) read with one script call to the node
 * of the view's meta keys, answered when it replies or after
 * redis.timeout_ms. Unknown view: 404 with a JSON error; with auth on,
 * the token must be allowed to read the view (403 otherwise, audited like
 * a lookup). Admin thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin_internal.h"
#include "admin/admin_qreport.h"
#include "auth/auth.h"
#include "common/jsonw.h"
#include "config/registry.h"
#include "redis/rroute.h"
#include "serve/serve_auth.h"
#include "wire/proto.h"

#define AQ_PATH "/v1/quality/"

static void aq_answer(struct admin_call *c, const redisReply *r)
{
    char why[512] = "";
    json_t *doc = admin_qreport_json(c->view, r, why, sizeof why);   /* c->reg keeps it */
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text != NULL) {
        size_t len = strlen(text);
        text[len] = '\n';       /* over the NUL: the body ends with a newline */
        admin_reply(c->req, AP_QUALITY, 200, "application/json", text, len + 1);
    } else {
        admin_reply_error(c->req, AP_QUALITY, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                          why[0] ? why : "out of memory");
    }
    free(text);
    json_decref(doc);
    admin_call_answered(c);
}

static void aq_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_call *c = arg;
    (void)fd;
    (void)what;
    if (c->req) {
        admin_reply_error(c->req, AP_QUALITY, FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED,
                          "Redis did not answer within redis.timeout_ms");
        admin_call_answered(c);
    }
    admin_call_maybe_free(c);
}

static void aq_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct admin_call *c = priv;
    (void)ac;
    c->backend_pending = false;
    if (c->req) {
        if (reply == NULL) {
            admin_reply_error(c->req, AP_QUALITY, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                              "Redis connection lost");
            admin_call_answered(c);
        } else {
            aq_answer(c, reply);
        }
    }
    admin_call_maybe_free(c);
}

void admin_quality_get(struct evhttp_request *req)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    const char *name = path ? path + strlen(AQ_PATH) : "";
    char *decoded = evhttp_uridecode(name, 0, NULL);
    const struct registry *reg = admin.w.reg;
    const struct cfg_view *v = decoded ? config_find_view(reg->cfg, decoded) : NULL;
    if (v == NULL || (admin.token != NULL && !auth_may_read(admin.token, v->name))) {
        /* 404 for an unknown view, 403 (audited) for one the token may not read */
        bool denied = v != NULL;
        char msg[400];
        if (denied) {
            snprintf(msg, sizeof msg, ": may not read view \"%.200s\"", v->name);
            serve_auth_audit(&admin.auth_log, AUTH_FAIL_PERMISSION_DENIED, "admin HTTP", admin.peer,
                             NULL, admin.token->name, msg);
            snprintf(msg, sizeof msg, "token \"%.64s\" may not read feature view \"%.200s\"",
                     admin.token->name, v->name);
        } else {
            snprintf(msg, sizeof msg, "unknown feature view \"%.200s\"", decoded ? decoded : name);
        }
        if (denied) {
            admin_reply_error(req, AP_QUALITY, FEATD__V1__ERROR_CODE__PERMISSION_DENIED, msg);
        } else {
            struct jsonw j;
            jsonw_init(&j);
            jsonw_lit(&j, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":");
            jsonw_strz(&j, msg);
            jsonw_lit(&j, "}}\n");
            const char *s = jsonw_end(&j);
            admin_reply(req, AP_QUALITY, s ? 404 : 500, "application/json", s ? s : "", s ? j.len : 0);
            jsonw_free(&j);
        }
        free(decoded);
        return;
    }
    free(decoded);
    struct admin_call *c = admin_call_new(req, CALL_QUALITY, AP_QUALITY);
    struct fbuf keys = { 0 };
    size_t len1 = 0;
    if (c == NULL || admin_qreport_keys(&keys, &len1, reg->cfg->redis.key_prefix, v) != FEATD_OK) {
        if (c != NULL) {
            admin_call_answered(c);
            admin_call_maybe_free(c);
        }
        fbuf_free(&keys);
        admin_reply_text(req, AP_QUALITY, 500, "out of memory");
        return;
    }
    c->reg = registry_ref(admin.w.reg);
    c->view = v;
    const char *argv[] = { "EVAL", admin_qreport_script, "2", keys.data, keys.data + len1 };
    size_t lens[] = { 4, strlen(admin_qreport_script), 1, len1, keys.len - len1 };
    unsigned slot = rroute_slot(admin.w.redis, keys.data, len1);
    if (admin_call_timer(c, aq_timeout_cb) != FEATD_OK ||
        rroute_command_argv(admin.w.redis, slot, aq_reply_cb, c, 5, argv, lens) != FEATD_OK) {
        admin_reply_error(req, AP_QUALITY, FEATD__V1__ERROR_CODE__UNAVAILABLE,
                          rroute_ready(admin.w.redis) ? rroute_error(admin.w.redis)
                                                      : rroute_status(admin.w.redis));
        admin_call_answered(c);
        admin_call_maybe_free(c);
        fbuf_free(&keys);
        return;
    }
    c->backend_pending = true;
    fbuf_free(&keys);
}
