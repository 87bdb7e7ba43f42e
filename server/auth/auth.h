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

#include "config/config.h"

/* The token whose secret is token[0..len), or NULL. */
const struct cfg_token *auth_token_find(const struct cfg_auth *a, const char *token, size_t len);
/* The token configured under name (a connection re-checked after a
 * reload), or NULL when it is gone. */
const struct cfg_token *auth_token_by_name(const struct cfg_auth *a, const char *name,
                                           const uint8_t sha256[32]);

/* May t read view (listed in its views, or all of them with "*")? */
bool auth_may_read(const struct cfg_token *t, const char *view);
/* May t write view ("write": true and may read it)? */
bool auth_may_write(const struct cfg_token *t, const char *view);

/* The token of an HTTP Authorization header value "Bearer <token>" (scheme
 * case-insensitive, surrounding blanks ignored) into *tok and *len; false when
 * the value has another form. */
bool auth_bearer(const char *header, const char **tok, size_t *len);

#endif
