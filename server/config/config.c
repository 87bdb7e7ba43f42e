/*
 * config.c — loading the JSON configuration into an immutable struct
 * featd_config (the contract is config.h), freeing it, and the request-path
 * lookups of views and features.
 *
 *   file (bounded read) -> jansson (duplicate keys rejected)
 *     -> defaults from config_table[] -> "server", "redis" and
 *        "materialize" through the table (config_table.c)
 *     -> redis url resolved (embedded / tcp / unix; config_addr.c) -> the
 *        redis deployment: one of url / cluster / sentinel (config_redis.c)
 *     -> cross-key checks (config_addr.c)
 *     -> "entities" -> "feature_views" (config_view.c: names, types,
 *        join-key flattening, source columns and renames, materialization)
 *     -> fingerprints, only when nothing was wrong
 *
 * Every problem is appended to an error list (config_err.c) as one line
 * "PATH: what is wrong (expected ...)", PATH being a JSON path such as
 * $.feature_views[0].features[2].type (or the environment variable for
 * overrides, config_env.c). Only a config without any error is handed out.
 */
#include "config/config_int.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = { "server", "redis", "materialize", "tls", "auth",
                                        "entities", "feature_views", "serving_log", NULL };

/* tls: cert and key together; a client CA only with them. */
static void config_tls_check(const struct featd_config *cfg, struct config_errs *e)
{
    const struct cfg_tls *t = &cfg->tls;
    if ((t->cert_file == NULL) != (t->key_file == NULL)) {
        config_err_add(e, t->cert_file ? "$.tls.key_file" : "$.tls.cert_file",
                       "required with %s (TLS needs a certificate and its key)",
                       t->cert_file ? "tls.cert_file" : "tls.key_file");
    }
    if (t->client_ca_file != NULL && t->cert_file == NULL) {
        config_err_add(e, "$.tls.client_ca_file",
                       "client certificates need TLS: give tls.cert_file and tls.key_file");
    }
    if (t->admin && t->cert_file == NULL) {
        config_err_add(e, "$.tls.admin", "TLS on the admin port needs tls.cert_file and tls.key_file");
    }
}

void config_free(struct featd_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free(cfg->path);
    config_table_free(cfg);
    free(cfg->redis.host);
    free(cfg->redis.unix_path);
    config_view_free(cfg);
    config_auth_free(&cfg->auth);
    config_servlog_free(&cfg->serving_log);
    free(cfg);
}

/* Builds a config from a parsed document; errors into e. The result (NULL
 * only when out of memory) is the caller's, valid only when e->n == 0. */
static struct featd_config *config_from_json(json_t *root, struct config_errs *e)
{
    struct featd_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL) {
        config_err_add(e, "$", "out of memory");
        return NULL;
    }
    config_table_defaults(cfg, e);
    if (!json_is_object(root)) {
        config_err_add(e, "$", "expected an object at the top level (got %s)",
                       config_json_kind(root));
        return cfg;
    }
    config_json_check_keys(root, "$", top_keys, "the top level", e);
    json_t *srv = json_object_get(root, "server");
    if (srv != NULL) {
        config_table_section(cfg, srv, "server", e);
    }
    json_t *rds = json_object_get(root, "redis");
    if (rds != NULL) {
        config_table_section(cfg, rds, "redis", e);
        if (json_is_object(rds)) {
            config_redis_sentinel_required(json_object_get(rds, "sentinel"), e);
        }
    }
    json_t *mat = json_object_get(root, "materialize");
    if (mat != NULL) {
        config_table_section(cfg, mat, "materialize", e);
    }
    json_t *tls = json_object_get(root, "tls");
    if (tls != NULL && !json_is_null(tls)) {
        config_table_section(cfg, tls, "tls", e);
    }
    config_tls_check(cfg, e);
    config_addr_resolve_redis(cfg, "$.redis.url", false, false, e);
    config_redis_resolve(cfg, false, e);
    config_addr_cross_check(cfg, "$.server.admin_listen", e);
    config_view_parse_entities(cfg, root, e);
    config_view_parse_views(cfg, root, e);
    config_auth_parse(cfg, root, e);       /* after the views its tokens name */
    config_stream_check(cfg, e);
    config_servlog_parse(cfg, root, e);
    if (e->n == 0) {
        config_view_fingerprints(cfg);
    }
    return cfg;
}

int config_load_string(const char *json, struct featd_config **out, char *err, size_t errlen)
{
    *out = NULL;
    struct config_errs e = { { 0 }, 0, false, false };
    json_error_t jerr;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        config_err_add(&e, "$", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                       jerr.text);
        config_err_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    struct featd_config *cfg = config_from_json(root, &e);
    json_decref(root);
    if (e.n > 0) {
        config_free(cfg);
        config_err_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    config_err_finish(&e, NULL, 0);
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    *out = cfg;
    return FEATD_OK;
}

/* Reads a whole file (at most CFG_MAX_FILE_BYTES) into a NUL-terminated
 * malloc'd buffer; NULL with a message in err. */
static char *config_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct fbuf b = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > CFG_MAX_FILE_BYTES) {
            snprintf(err, errlen, "%s: larger than %u bytes", path, CFG_MAX_FILE_BYTES);
            fbuf_free(&b);
            fclose(f);
            return NULL;
        }
        if (fbuf_append(&b, chunk, n) != FEATD_OK) {
            snprintf(err, errlen, "%s: out of memory", path);
            fbuf_free(&b);
            fclose(f);
            return NULL;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        fbuf_free(&b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (b.data == NULL && fbuf_append(&b, "", 0) != FEATD_OK) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (memchr(b.data, '\0', b.len) != NULL) {
        snprintf(err, errlen, "%s: contains a NUL byte (not a JSON text file)", path);
        fbuf_free(&b);
        return NULL;
    }
    return b.data;
}

int config_load_file(const char *path, bool apply_env, struct featd_config **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    char *text = config_read_file(path, err, errlen);
    if (text == NULL) {
        return FEATD_ERR;
    }
    struct featd_config *cfg;
    int rc = config_load_string(text, &cfg, err, errlen);
    free(text);
    if (rc != FEATD_OK) {
        return rc;
    }
    cfg->path = util_xstrdup(path);
    if (apply_env && config_env_apply(cfg, err, errlen) != FEATD_OK) {
        config_free(cfg);
        return FEATD_ERR;
    }
    *out = cfg;
    return FEATD_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups (request path: no allocation)                                    */
/* ------------------------------------------------------------------------ */

/* z (NUL-terminated) equals s[0..len)? Never reads z past its NUL, whatever
 * s holds. */
static bool config_name_eq(const char *z, const char *s, size_t len)
{
    size_t k = 0;
    while (k < len && z[k] != '\0' && z[k] == s[k]) {
        k++;
    }
    return k == len && z[k] == '\0';
}

const struct cfg_view *config_find_view(const struct featd_config *cfg, const char *name)
{
    return name ? config_find_viewn(cfg, name, strlen(name)) : NULL;
}

const struct cfg_view *config_find_viewn(const struct featd_config *cfg, const char *name,
                                         size_t len)
{
    if (cfg == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->nviews; i++) {
        if (config_name_eq(cfg->views[i].name, name, len)) {
            return &cfg->views[i];
        }
    }
    return NULL;
}

int config_feature_index(const struct cfg_view *v, const char *name, size_t len)
{
    if (v == NULL || name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < v->nfeatures; i++) {
        if (config_name_eq(v->features[i].name, name, len)) {
            return (int)i;
        }
    }
    return -1;
}
