/*
 * serve_auth.h — token authentication and per-view authorization of the
 * serving protocol (DESIGN §14) over the registry's "auth" section
 * (auth/auth.h does the constant-time token lookup).
 *
 * With auth on, a connection's first request is AuthRequest; every other
 * request before a successful one is answered UNAUTHENTICATED (the
 * connection stays open so the client can still authenticate). A
 * connection is closed after SERVE_AUTH_MAX_FAILED refused AuthRequests, or
 * SERVE_AUTH_MAX_UNAUTHENTICATED other requests sent without
 * authenticating. A failed AuthRequest on an authenticated connection
 * drops its authentication. A lookup naming a view outside the token's
 * views is answered PERMISSION_DENIED naming the first such view.
 * ListFeatureViews lists only the token's views. Failures are counted
 * (featd_auth_failures_total{reason}) and logged at most
 * SERVE_AUTH_LOGS_PER_SEC lines a second per loop with the peer, the mTLS
 * principal and the token's name or "unknown token" — never the token.
 *
 * Everything runs on the serve context's thread.
 */
#ifndef FEATD_SERVE_AUTH_H
#define FEATD_SERVE_AUTH_H

#include <stdbool.h>

#include "auth/auth.h"
#include "serve/request.h"

#define SERVE_AUTH_MAX_FAILED 3             /* refused AuthRequests, then the connection closes */
#define SERVE_AUTH_MAX_UNAUTHENTICATED 16   /* other requests before authenticating, then too */
#define SERVE_AUTH_LOGS_PER_SEC 1

/* Before routing a connection's request (rq->msg decoded): answers
 * AuthRequest (any registry: without auth it succeeds with the mTLS
 * principal or ""), refuses anything else while auth is on and the
 * connection is not authenticated. True when rq goes on to be routed (with
 * rq->token set), false when it is answered. */
bool serve_auth_gate(struct request *rq);

/* A GetOnlineFeatures request about to be planned: true when auth is off
 * or rq->token may read every view its references name ("view:*"
 * included); otherwise answers rq (PERMISSION_DENIED naming the view, or
 * UNAUTHENTICATED without a token) and returns false. Both sinks. */
bool serve_auth_lookup(struct request *rq);

/* A WriteFeatures request of view (its name as asked, known or not): true
 * when auth is off or rq->token may read view and has "write": true;
 * otherwise answers rq (PERMISSION_DENIED naming the view, or
 * UNAUTHENTICATED without a token), counts and audits it, and returns
 * false. Both sinks. */
bool serve_auth_write(struct request *rq, const char *view);

/* May rq list view (ListFeatureViews)? */
bool serve_auth_may_list(const struct request *rq, const char *view);

/* At a registry swap (ctx->reg is already reg): every authenticated
 * connection of ctx's loop has its token looked up again by name and hash;
 * one whose token is gone or changed gets an UNAUTHENTICATED error and is
 * closed (counted in featd_auth_connections_revoked_total and logged). */
void serve_auth_registry(struct serve_ctx *ctx, struct registry *reg);

/* A failure as an audit line (rate-limited on ll) and a count: peer and
 * principal (mTLS subject, or "-") of the client, name = the token's name
 * or NULL for "unknown token"/"no token". Used by the admin port too. */
void serve_auth_audit(struct log_limit *ll, enum auth_failure why, const char *where,
                      const char *peer, const char *principal, const char *name,
                      const char *detail);

#endif
