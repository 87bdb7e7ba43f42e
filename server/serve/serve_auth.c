/*
 * serve_auth.c — the serving protocol's token authentication and per-view
 * authorization (contract in serve_auth.h): the AuthRequest exchange, the
 * gate before every other request, the view check of lookups, the audit
 * log and the re-check of authenticated connections at a registry swap.
 */
#include "serve/serve_auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"
#include "net/conn.h"

void serve_auth_audit(struct log_limit *ll, enum auth_failure why, const char *where,
                      const char *peer, const char *principal, const char *name,
                      const char *detail)
{
    auth_count_failure(why);
    uint64_t skipped = 0;
    if (!log_limit_take(ll, SERVE_AUTH_LOGS_PER_SEC, util_mono_us(), &skipped)) {
        return;
    }
    char more[64] = "";
    if (skipped > 0) {
        snprintf(more, sizeof more, " (%" PRIu64 " more failures not logged)", skipped);
    }
    log_warn("auth", "%s: %s from %s, principal %s, %s%s%s%s", where, auth_failure_names[why],
             peer, principal && principal[0] ? principal : "-",
             name ? "token " : (why == AUTH_FAIL_MISSING ? "no token" : "unknown token"),
             name ? name : "", detail ? detail : "", more);
}

/* The connection's audit line (SINK_CONN requests only). */
static void serve_auth_audit_conn(struct request *rq, enum auth_failure why, const char *name,
                                  const char *detail)
{
    struct conn *c = rq->sink.conn;
    serve_auth_audit(&rq->ctx->auth_log, why, "serving port", c->peer, c->principal, name, detail);
}

/* Answers an AuthRequest. */
static void serve_auth_exchange(struct request *rq)
{
    struct conn *c = rq->sink.conn;
    const struct cfg_auth *a = &rq->reg->cfg->auth;
    const Featd__V1__AuthRequest *ar = rq->msg->auth;
    const char *tok = ar && ar->token ? ar->token : "";
    Featd__V1__AuthResponse ok = FEATD__V1__AUTH_RESPONSE__INIT;
    Featd__V1__Response resp = FEATD__V1__RESPONSE__INIT;
    resp.request_id = rq->id;
    resp.body_case = FEATD__V1__RESPONSE__BODY_AUTH;
    resp.auth = &ok;
    if (!a->enabled) {
        /* nothing to check: the principal is the certificate's, if any */
        ok.principal = c->principal;
        request_answer(rq, &resp, 0);
        return;
    }
    const struct cfg_token *t = tok[0] ? auth_token_find(a, tok, strlen(tok)) : NULL;
    if (t == NULL) {
        c->auth.token = NULL;       /* a failed AuthRequest drops the authentication */
        c->auth.failed_auths++;
        serve_auth_audit_conn(rq, tok[0] ? AUTH_FAIL_UNKNOWN_TOKEN : AUTH_FAIL_MISSING, NULL,
                              ": AuthRequest refused");
        request_error(rq, FEATD__V1__ERROR_CODE__UNAUTHENTICATED,
                      "authentication failed: %s", tok[0] ? "unknown token" : "empty token");
        if (c->auth.failed_auths >= SERVE_AUTH_MAX_FAILED && conn_live(c)) {
            conn_close_after_flush(c, "too many failed AuthRequests");
        }
        return;
    }
    c->auth.token = t;
    snprintf(c->auth.name, sizeof c->auth.name, "%s", t->name);
    memcpy(c->auth.sha256, t->sha256, sizeof c->auth.sha256);
    c->auth.unauthenticated = 0;
    log_conn(LOG_DEBUG, c, "authenticated as %s", t->name);
    ok.principal = t->name;
    request_answer(rq, &resp, 0);
}

bool serve_auth_gate(struct request *rq)
{
    struct conn *c = rq->sink.conn;
    if (rq->msg->body_case == FEATD__V1__REQUEST__BODY_AUTH) {
        rq->type = MREQ_AUTH;
        serve_auth_exchange(rq);
        return false;
    }
    if (!rq->reg->cfg->auth.enabled) {
        return true;
    }
    if (c->auth.token != NULL) {
        rq->token = c->auth.token;
        return true;
    }
    c->auth.unauthenticated++;
    serve_auth_audit_conn(rq, AUTH_FAIL_MISSING, NULL, ": request before AuthRequest");
    request_error(rq, FEATD__V1__ERROR_CODE__UNAUTHENTICATED,
                  "authentication required: send an AuthRequest with a token first");
    if (c->auth.unauthenticated >= SERVE_AUTH_MAX_UNAUTHENTICATED && conn_live(c)) {
        conn_close_after_flush(c, "too many requests without authenticating");
    }
    return false;
}

/* A PERMISSION_DENIED refusal: audit line (SINK_CONN or admin/HTTP), count. */
static void serve_auth_deny_audit(struct request *rq, const char *detail)
{
    if (rq->sink.kind == SINK_CONN) {
        serve_auth_audit_conn(rq, AUTH_FAIL_PERMISSION_DENIED, rq->token->name, detail);
    } else {
        serve_auth_audit(&rq->ctx->auth_log, AUTH_FAIL_PERMISSION_DENIED, "HTTP",
                         rq->peer ? rq->peer : "?", NULL, rq->token->name, detail);
    }
}

bool serve_auth_write(struct request *rq, const char *view)
{
    if (!rq->reg->cfg->auth.enabled) {
        return true;
    }
    if (rq->token == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAUTHENTICATED, "authentication required");
        return false;
    }
    size_t n = strlen(view);
    bool may_read = auth_may_read(rq->token, view);
    if (may_read && auth_may_write(rq->token, view)) {
        return true;
    }
    char detail[200];
    snprintf(detail, sizeof detail, ": may not write view \"%.*s\"", (int)(n < 128 ? n : 128), view);
    serve_auth_deny_audit(rq, detail);
    if (!may_read) {
        request_error(rq, FEATD__V1__ERROR_CODE__PERMISSION_DENIED,
                      "token \"%s\" may not write feature view \"%.*s\" (not among its views)",
                      rq->token->name, (int)(n < 256 ? n : 256), view);
    } else {
        request_error(rq, FEATD__V1__ERROR_CODE__PERMISSION_DENIED,
                      "token \"%s\" may not write feature view \"%.*s\" (the token has no write "
                      "permission)", rq->token->name, (int)(n < 256 ? n : 256), view);
    }
    return false;
}

bool serve_auth_lookup(struct request *rq)
{
    if (!rq->reg->cfg->auth.enabled) {
        return true;
    }
    if (rq->token == NULL) {
        request_error(rq, FEATD__V1__ERROR_CODE__UNAUTHENTICATED, "authentication required");
        return false;
    }
    const Featd__V1__GetOnlineFeaturesRequest *g = rq->msg->get_online_features;
    for (size_t i = 0; i < g->n_features; i++) {
        const char *ref = g->features[i];
        const char *colon = strchr(ref, ':');
        size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
        if (auth_may_readn(rq->token, ref, n)) {
            continue;
        }
        /* the view's name as asked, whether such a view exists or not: a
         * token learns nothing about views it may not read */
        char detail[200];
        snprintf(detail, sizeof detail, ": may not read view \"%.*s\"", (int)(n < 128 ? n : 128), ref);
        if (rq->sink.kind == SINK_CONN) {
            serve_auth_audit_conn(rq, AUTH_FAIL_PERMISSION_DENIED, rq->token->name, detail);
        } else {
            serve_auth_audit(&rq->ctx->auth_log, AUTH_FAIL_PERMISSION_DENIED, "admin HTTP",
                             rq->peer ? rq->peer : "?", NULL, rq->token->name, detail);
        }
        request_error(rq, FEATD__V1__ERROR_CODE__PERMISSION_DENIED,
                      "token \"%s\" may not read feature view \"%.*s\"", rq->token->name,
                      (int)(n < 256 ? n : 256), ref);
        return false;
    }
    return true;
}

bool serve_auth_may_list(const struct request *rq, const char *view)
{
    return !rq->reg->cfg->auth.enabled || auth_may_read(rq->token, view);
}

void serve_auth_registry(struct serve_ctx *ctx, struct registry *reg)
{
    if (ctx->loop == NULL) {
        return;
    }
    const struct cfg_auth *a = &reg->cfg->auth;
    uint64_t revoked = 0;
    struct conn *next;
    for (struct conn *c = TAILQ_FIRST(&ctx->loop->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        if (c->auth.token == NULL) {
            continue;
        }
        if (!a->enabled) {
            /* auth switched off: nothing to check any more; a later reload
             * that turns it on again asks these connections to authenticate */
            memset(&c->auth, 0, sizeof c->auth);
            continue;
        }
        const struct cfg_token *t = auth_token_by_name(a, c->auth.name, c->auth.sha256);
        if (t != NULL) {
            c->auth.token = t;
            continue;
        }
        revoked++;
        log_conn(LOG_WARN, c, "token %s was revoked or changed by a reload: closing the connection",
                 c->auth.name);
        c->auth.token = NULL;
        if (conn_live(c)) {
            if (proto_write_error(conn_output(c), 0, FEATD__V1__ERROR_CODE__UNAUTHENTICATED,
                                  "token revoked by a configuration reload") != FEATD_OK) {
                conn_close(c, "token revoked");
            } else {
                conn_close_after_flush(c, "token revoked");
            }
        }
    }
    if (revoked > 0) {
        auth_count_revoked(revoked);
        log_warn("auth", "reload: %" PRIu64 " connection%s closed: their token was revoked or changed",
                 revoked, revoked == 1 ? "" : "s");
    }
}
