/*
 * auth.c — token lookup in constant time, view checks and Bearer parsing
 * (contract in auth/auth.h).
 */
#include "auth/auth.h"

#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/util.h"

const struct cfg_token *auth_token_find(const struct cfg_auth *a, const char *token, size_t len)
{
    uint8_t h[32];
    util_sha256(token, len, h);
    const struct cfg_token *found = NULL;
    for (size_t i = 0; i < a->ntokens; i++) {
        /* every entry compared, no early exit */
        int differs = CRYPTO_memcmp(h, a->tokens[i].sha256, sizeof h);
        found = differs == 0 ? &a->tokens[i] : found;
    }
    OPENSSL_cleanse(h, sizeof h);
    return found;
}

const struct cfg_token *auth_token_by_name(const struct cfg_auth *a, const char *name,
                                           const uint8_t sha256[32])
{
    for (size_t i = 0; i < a->ntokens; i++) {
        if (strcmp(a->tokens[i].name, name) == 0 &&
            CRYPTO_memcmp(a->tokens[i].sha256, sha256, 32) == 0) {
            return &a->tokens[i];
        }
    }
    return NULL;
}

bool auth_may_read(const struct cfg_token *t, const char *view)
{
    return auth_may_readn(t, view, strlen(view));
}

bool auth_may_readn(const struct cfg_token *t, const char *view, size_t len)
{
    if (t == NULL) {
        return false;
    }
    if (t->all_views) {
        return true;
    }
    for (size_t i = 0; i < t->nviews; i++) {
        if (strlen(t->views[i]) == len && memcmp(t->views[i], view, len) == 0) {
            return true;
        }
    }
    return false;
}

bool auth_may_write(const struct cfg_token *t, const char *view)
{
    return t != NULL && t->write && auth_may_read(t, view);
}

bool auth_bearer(const char *header, const char **tok, size_t *len)
{
    if (header == NULL) {
        return false;
    }
    while (*header == ' ' || *header == '\t') {
        header++;
    }
    if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t')) {
        return false;
    }
    const char *p = header + 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return false;
    }
    *tok = p;
    *len = n;
    return true;
}

/* ---- counters ---- */

const char *const auth_failure_names[AUTH_FAIL__COUNT] = {
    "missing", "unknown_token", "permission_denied"
};
static _Atomic uint64_t auth_failure_counts[AUTH_FAIL__COUNT];
static _Atomic uint64_t auth_revoked_count;

void auth_count_failure(enum auth_failure why)
{
    atomic_fetch_add_explicit(&auth_failure_counts[why], 1, memory_order_relaxed);
}

uint64_t auth_failures(enum auth_failure why)
{
    return atomic_load_explicit(&auth_failure_counts[why], memory_order_relaxed);
}

void auth_count_revoked(uint64_t n)
{
    atomic_fetch_add_explicit(&auth_revoked_count, n, memory_order_relaxed);
}

uint64_t auth_revoked(void)
{
    return atomic_load_explicit(&auth_revoked_count, memory_order_relaxed);
}
