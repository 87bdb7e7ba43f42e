/*
 * config_env.c — FEATD_* environment overrides (the env column of
 * config_table[]: FEATD_LISTEN, FEATD_REDIS_URL, FEATD_REDIS_CLUSTER_NODES,
 * FEATD_REDIS_USERNAME, FEATD_WORKERS, ...; the
 * list is in docs/config.md and `featd --help`), applied over a parsed config and validated by
 * the same rules as the file; errors name the variable. Reads the process
 * environment: call it from one thread at a time (the loading thread).
 */
#include "config/config_int.h"

#include <stdlib.h>
#include <string.h>

/* Drops the password and user name that came from the running url when
 * FEATD_REDIS_URL replaces that url (unless FEATD_REDIS_PASSWORD or
 * FEATD_REDIS_USERNAME sets them). */
static void config_env_drop_url_creds(struct featd_config *cfg, bool pw_env, bool user_env)
{
    struct config_redis_url old;
    char why[256];
    struct cfg_redis *r = &cfg->redis;
    if (config_addr_url_parse(r->url, &old, why, sizeof why) == FEATD_OK) {
        if (!pw_env && old.password != NULL && r->password != NULL &&
            strcmp(old.password, r->password) == 0) {
            free(r->password);
            r->password = NULL;
        }
        if (!user_env && old.username != NULL && r->username != NULL &&
            strcmp(old.username, r->username) == 0) {
            free(r->username);
            r->username = NULL;
        }
    }
    config_addr_url_clear(&old);
}

int config_env_apply(struct featd_config *cfg, char *err, size_t errlen)
{
    struct config_errs e = { { 0 }, 0, false, false };
    bool redis_touched = false;
    const char *pw_env = getenv("FEATD_REDIS_PASSWORD");
    const char *user_env = getenv("FEATD_REDIS_USERNAME");
    for (size_t i = 0; i < config_table_len; i++) {
        const struct config_key *k = &config_table[i];
        const char *v = k->env ? getenv(k->env) : NULL;
        if (v == NULL) {
            continue;
        }
        if (strncmp(k->section, "redis", 5) == 0) {     /* also "redis.sentinel" */
            redis_touched = true;
        }
        if (k->kind == CK_NSTR && v[0] == '\0' &&
            (strcmp(k->name, "password") == 0 || strcmp(k->name, "username") == 0)) {
            config_table_set_string(cfg, k, NULL, k->env, &e);    /* "" = none */
            continue;
        }
        if (k->off == CFG_RDS(url)) {
            config_env_drop_url_creds(cfg, pw_env != NULL, user_env != NULL);
        }
        config_table_set_string(cfg, k, v, k->env, &e);
    }
    if (redis_touched) {
        config_addr_resolve_redis(cfg, getenv("FEATD_REDIS_URL") ? "FEATD_REDIS_URL" : "$.redis.url",
                                  pw_env != NULL, user_env != NULL, &e);
        config_redis_resolve(cfg, true, &e);
    }
    config_addr_cross_check(cfg, getenv("FEATD_ADMIN_LISTEN") ? "FEATD_ADMIN_LISTEN" :
                            (getenv("FEATD_LISTEN") ? "FEATD_LISTEN" : "$.server.admin_listen"),
                            &e);
    if (e.n > 0) {
        config_err_finish(&e, err, errlen);
        return FEATD_ERR;
    }
    config_err_finish(&e, NULL, 0);
    return FEATD_OK;
}
