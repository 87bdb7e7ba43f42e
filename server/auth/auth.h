/*
 * auth.h — client authentication and per-view authorization (DESIGN §14)
 * over a registry's "auth" section (struct cfg_auth, config/config.h).
 *
 * A presented token is hashed (SHA-256) and compared with every configured
 * token's hash in constant time — all of them, whether one matched early or
 * not — so neither the comparison nor the position of a match leaks through
 * timing. Tokens are never logged; callers log the token's name (the
 * principal) or "unknown token".
 *
 * Pure functions over an immutable config: any thread.
 */
#ifndef FEATD_AUTH_H
#define FEATD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* The token whose secret is token[0..len), or NULL. */
const struct cfg_token *auth_token_find(const struct cfg_auth *a, const char *token, size_t len);
/* The token configured under name (a connection re-checked after a
 * reload), or NULL when it is gone. */
const struct cfg_token *auth_token_by_name(const struct cfg_auth *a, const char *name,
                                           const uint8_t sha256[32]);

/* May t read view (listed in its views, or all of them with "*")? */
bool auth_may_read(const struct cfg_token *t, const char *view);
/* auth_may_read for the name view[0..len) (a "view:feature" reference's prefix). */
bool auth_may_readn(const struct cfg_token *t, const char *view, size_t len);
/* May t write view ("write": true and may read it)? */
bool auth_may_write(const struct cfg_token *t, const char *view);

/* The token of an HTTP Authorization header value "Bearer <token>" (scheme
 * case-insensitive, surrounding blanks ignored) into *tok and *len; false when
 * the value has another form. */
bool auth_bearer(const char *header, const char **tok, size_t *len);

/*
 * Process-wide counters (featd_auth_failures_total{reason},
 * featd_auth_connections_revoked_total): any thread adds, /metrics reads.
 */
enum auth_failure {
    AUTH_FAIL_MISSING = 0,          /* a request before any token (none presented) */
    AUTH_FAIL_UNKNOWN_TOKEN,        /* a token that matches no configured one */
    AUTH_FAIL_PERMISSION_DENIED,    /* a known token naming a view outside its views */
    AUTH_FAIL__COUNT
};
extern const char *const auth_failure_names[AUTH_FAIL__COUNT];    /* the reason labels */
void auth_count_failure(enum auth_failure why);
uint64_t auth_failures(enum auth_failure why);
/* Connections closed because a reload removed or changed their token. */
void auth_count_revoked(uint64_t n);
uint64_t auth_revoked(void);

#endif
