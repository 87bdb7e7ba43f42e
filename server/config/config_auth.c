/*
 * config_auth.c — the "auth" section (DESIGN §14): named tokens, each given
 * as the SHA-256 of the secret (token_sha256, 64 hex digits) or as a file
 * holding the secret (token_file, read at every load: mount it as a
 * secret), the views it may read ("*" = all) and whether it may write;
 * protect_metrics puts /metrics behind a token too. The secret itself is
 * never kept: only its SHA-256 (auth/auth.h compares in constant time).
 * Parsed after feature_views, whose names the tokens' views must match.
 */
#include "config/config_int.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_MAX_TOKENS 1024
#define AUTH_MIN_SECRET 16          /* bytes: shorter secrets are guessable */
#define AUTH_MAX_SECRET 4096

static const char *const auth_keys[] = { "tokens", "protect_metrics", NULL };
static const char *const token_keys[] = { "name", "token_sha256", "token_file", "views", "write",
                                          NULL };

static int config_auth_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The secret in path (surrounding whitespace and a final newline removed)
 * hashed into out; false after an error at who (never quoting the secret). */
static bool config_auth_file(const char *path, const char *who, uint8_t out[32],
                             struct config_errs *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        char rel[1100];
        int en = errno;
        config_err_add(e, who, "cannot read %s%s: %s", path,
                       config_err_relative(path, rel, sizeof rel), strerror(en));
        return false;
    }
    char buf[AUTH_MAX_SECRET + 2];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n > AUTH_MAX_SECRET) {
        config_err_add(e, who, "%s holds more than %d bytes: not a token", path, AUTH_MAX_SECRET);
        return false;
    }
    size_t lo = 0;
    while (lo < n && isspace((unsigned char)buf[lo])) {
        lo++;
    }
    while (n > lo && isspace((unsigned char)buf[n - 1])) {
        n--;
    }
    if (n - lo < AUTH_MIN_SECRET) {
        config_err_add(e, who, "the token in %s is shorter than %d bytes (make one with "
                       "`openssl rand -hex 32`)", path, AUTH_MIN_SECRET);
        return false;
    }
    util_sha256(buf + lo, n - lo, out);
    memset(buf, 0, sizeof buf);
    return true;
}

static void config_auth_token(struct featd_config *cfg, json_t *obj, const char *base,
                              struct cfg_token *t, struct config_errs *e)
{
    char p[CFG_JPATH_MAX];
    if (!json_is_object(obj)) {
        config_err_add(e, base, "expected an object {name, token_sha256 | token_file, views, "
                       "write} (got %s)", config_json_kind(obj));
        return;
    }
    config_json_check_keys(obj, base, token_keys, "a token", e);
    json_t *name = config_json_member(obj, "name", JSON_STRING, true, false, base, e);
    if (name != NULL) {
        char why[128];
        const char *bad = config_json_name_problem(json_string_value(name), why, sizeof why);
        if (bad != NULL) {
            config_err_path_key(p, base, "name");
            config_err_add(e, p, "%s (" NAME_RULE ")", bad);
        }
        t->name = util_xstrdup(json_string_value(name));
    }
    json_t *hex = config_json_member(obj, "token_sha256", JSON_STRING, false, true, base, e);
    json_t *file = config_json_member(obj, "token_file", JSON_STRING, false, true, base, e);
    if ((hex == NULL) == (file == NULL)) {
        config_err_add(e, base, "give exactly one of token_sha256 (the SHA-256 of the token, 64 "
                       "hex digits) and token_file (a file holding the token)");
    } else if (hex != NULL) {
        config_err_path_key(p, base, "token_sha256");
        const char *s = json_string_value(hex);
        bool ok = strlen(s) == 64;
        for (size_t i = 0; ok && i < 32; i++) {
            int h = config_auth_hex(s[2 * i]), l = config_auth_hex(s[2 * i + 1]);
            ok = h >= 0 && l >= 0;
            t->sha256[i] = (uint8_t)(h << 4 | l);
        }
        if (!ok) {
            config_err_add(e, p, "expected 64 hex digits (`printf %%s TOKEN | sha256sum`)");
        }
    } else {
        config_err_path_key(p, base, "token_file");
        config_auth_file(json_string_value(file), p, t->sha256, e);
    }
    json_t *views;
    t->nviews = config_json_list(obj, "views", base, 100000, "a token needs at least one view "
                                 "(\"*\" = all)", sizeof(char *), (void **)&t->views, &views, p, e);
    for (size_t i = 0; i < t->nviews; i++) {
        char vp[CFG_JPATH_MAX], q[QBUF];
        config_err_path_idx(vp, p, i);
        json_t *v = json_array_get(views, i);
        if (!json_is_string(v)) {
            config_err_add(e, vp, "expected a view name or \"*\" (got %s)", config_json_kind(v));
            continue;
        }
        const char *s = json_string_value(v);
        t->views[i] = util_xstrdup(s);
        if (strcmp(s, "*") == 0) {
            t->all_views = true;
        } else if (config_find_view(cfg, s) == NULL) {
            config_err_add(e, vp, "no feature view named %s", config_err_quote(s, q, sizeof q));
        }
    }
    json_t *w = json_object_get(obj, "write");
    if (w != NULL && !json_is_boolean(w)) {
        config_err_path_key(p, base, "write");
        config_err_add(e, p, "expected true or false (got %s)", config_json_kind(w));
    }
    t->write = json_is_true(w);
}

void config_auth_parse(struct featd_config *cfg, json_t *root, struct config_errs *e)
{
    json_t *a = json_object_get(root, "auth");
    if (a == NULL || json_is_null(a)) {
        return;
    }
    if (!json_is_object(a)) {
        config_err_add(e, "$.auth", "expected an object {tokens, protect_metrics} or null (got %s)",
                       config_json_kind(a));
        return;
    }
    config_json_check_keys(a, "$.auth", auth_keys, "auth", e);
    json_t *pm = json_object_get(a, "protect_metrics");
    if (pm != NULL && !json_is_boolean(pm)) {
        config_err_add(e, "$.auth.protect_metrics", "expected true or false (got %s)",
                       config_json_kind(pm));
    }
    cfg->auth.protect_metrics = json_is_true(pm);
    char p[CFG_JPATH_MAX];
    json_t *arr;
    cfg->auth.ntokens = config_json_list(a, "tokens", "$.auth", AUTH_MAX_TOKENS,
                                         "auth needs at least one token (or omit auth)",
                                         sizeof(struct cfg_token), (void **)&cfg->auth.tokens, &arr,
                                         p, e);
    for (size_t i = 0; i < cfg->auth.ntokens; i++) {
        char tp[CFG_JPATH_MAX];
        config_err_path_idx(tp, p, i);
        config_auth_token(cfg, json_array_get(arr, i), tp, &cfg->auth.tokens[i], e);
        for (size_t j = 0; j < i; j++) {
            const struct cfg_token *o = &cfg->auth.tokens[j], *t = &cfg->auth.tokens[i];
            if (o->name && t->name && strcmp(o->name, t->name) == 0) {
                config_err_add(e, tp, "duplicate token name \"%s\" (also %s[%zu])", t->name, p, j);
            }
            if (memcmp(o->sha256, t->sha256, 32) == 0) {
                config_err_add(e, tp, "the same token as %s[%zu] (\"%s\"): every client needs "
                               "its own", p, j, o->name ? o->name : "?");
            }
        }
    }
    cfg->auth.enabled = cfg->auth.ntokens > 0;
}

void config_auth_free(struct cfg_auth *a)
{
    for (size_t i = 0; i < a->ntokens; i++) {
        free(a->tokens[i].name);
        for (size_t v = 0; v < a->tokens[i].nviews; v++) {
            free(a->tokens[i].views[v]);
        }
        free(a->tokens[i].views);
    }
    free(a->tokens);
    memset(a, 0, sizeof(*a));
}
