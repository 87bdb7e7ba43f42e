/*
 * config_redis.c — which Redis deployment the redis section describes
 * (DESIGN.md §10): exactly one of redis.url (one node; omitted = the
 * embedded store), redis.cluster_nodes (Redis Cluster) and redis.sentinel
 * (Sentinel) is given; the keys that only make sense with another one
 * (username needs a password and a non-embedded store, read_from_replicas
 * needs cluster_nodes, sentinel needs master_name and nodes) are checked
 * here, and cfg->redis.mode is set. Runs on the loading thread, after the
 * key table and redis.url were parsed (config.c) and again after
 * environment overrides (config_env.c).
 */
#include "config/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

const char *config_redis_mode_name(enum featd_redis_mode m)
{
    switch (m) {
    case REDIS_MODE_EMBEDDED: return "embedded";
    case REDIS_MODE_SINGLE: return "single";
    case REDIS_MODE_CLUSTER: return "cluster";
    case REDIS_MODE_SENTINEL: return "sentinel";
    }
    return "?";
}

/* The name of key section.name in errors: its environment variable when
 * from_env and that variable is set (the value came from there), else its
 * JSON path. out has CFG_JPATH_MAX bytes. */
static void config_redis_who(const char *section, const char *name, bool from_env, char *out)
{
    const struct config_key *k = config_table_key(section, name);
    if (from_env && k != NULL && k->env != NULL && getenv(k->env) != NULL) {
        config_err_pathf(out, "%s", k->env);
    } else {
        config_err_pathf(out, "$.%s.%s", section, name);
    }
}

/* Exactly one of url / cluster_nodes / sentinel: one line naming all that
 * were given (at the last of them). False when more than one was given. */
static bool config_redis_one_source(const struct cfg_redis *r, bool from_env,
                                    struct config_errs *e)
{
    bool given[3] = { r->url != NULL, r->cluster_nodes.n > 0, r->sentinel.given };
    static const char *const names[3] = { "url", "cluster_nodes", "sentinel" };
    char who[3][CFG_JPATH_MAX];
    int n = 0, last = -1;
    for (int i = 0; i < 3; i++) {
        if (given[i]) {
            config_redis_who("redis", names[i], from_env, who[i]);
            n++;
            last = i;
        }
    }
    if (n <= 1) {
        return true;
    }
    const char *others[2] = { "", "" };
    int no = 0;
    for (int i = 0; i < last; i++) {
        if (given[i]) {
            others[no++] = who[i];
        }
    }
    config_err_add(e, who[last], "given together with %s%s%s (give exactly one of redis.url, "
                   "redis.cluster_nodes, redis.sentinel)", others[0], no > 1 ? " and " : "",
                   others[1]);
    return false;
}

void config_redis_sentinel_required(json_t *sentinel, struct config_errs *e)
{
    if (!json_is_object(sentinel)) {
        return;     /* null, omitted, or reported as not an object */
    }
    json_t *v = json_object_get(sentinel, "master_name");
    if (v == NULL || json_is_null(v)) {
        config_err_add(e, "$.redis.sentinel.master_name",
                       "missing (expected the monitored master's name, a string of 1..256 bytes)");
    }
    v = json_object_get(sentinel, "nodes");
    if (v == NULL || json_is_null(v)) {
        config_err_add(e, "$.redis.sentinel.nodes",
                       "missing (expected an array of 1..16 \"host:port\" sentinel addresses)");
    }
}

/* Sentinel keys set without redis.sentinel (only possible through the
 * environment: FEATD_REDIS_SENTINEL_PASSWORD). */
static void config_redis_sentinel_orphans(const struct cfg_redis *r, bool from_env,
                                          struct config_errs *e)
{
    char who[CFG_JPATH_MAX];
    if (!r->sentinel.given && r->sentinel.password != NULL) {
        config_redis_who("redis.sentinel", "password", from_env, who);
        config_err_add(e, who, "set, but $.redis.sentinel is not given");
    }
}

/* redis.password_file into redis.password (once: the resolve runs again
 * after the environment). */
static void config_redis_password_file(struct cfg_redis *r, bool from_env, struct config_errs *e)
{
    char who[CFG_JPATH_MAX];
    if (r->password_file == NULL || r->password_from_file) {
        return;
    }
    config_redis_who("redis", "password_file", from_env, who);
    if (r->password != NULL) {
        config_err_add(e, who, "give the password once: redis.password (or the url's) or "
                       "redis.password_file, not both");
        return;
    }
    FILE *f = fopen(r->password_file, "rb");
    if (f == NULL) {
        char rel[1100];
        int en = errno;
        config_err_add(e, who, "cannot read %s%s: %s", r->password_file,
                       config_err_relative(r->password_file, rel, sizeof rel), strerror(en));
        return;
    }
    char buf[1026];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t lo = 0;
    while (lo < n && isspace((unsigned char)buf[lo])) {
        lo++;
    }
    while (n > lo && isspace((unsigned char)buf[n - 1])) {
        n--;
    }
    if (n - lo == 0 || n - lo > 1024) {
        config_err_add(e, who, "%s must hold a password of 1..1024 bytes", r->password_file);
    } else {
        buf[n] = '\0';
        r->password = util_xstrdup(buf + lo);
        r->password_from_file = true;
    }
    memset(buf, 0, sizeof buf);
}

void config_redis_resolve(struct featd_config *cfg, bool from_env, struct config_errs *e)
{
    struct cfg_redis *r = &cfg->redis;
    char who[CFG_JPATH_MAX];
    config_redis_password_file(r, from_env, e);
    bool one = config_redis_one_source(r, from_env, e);
    config_redis_sentinel_orphans(r, from_env, e);
    if (r->sentinel.given) {
        r->mode = REDIS_MODE_SENTINEL;
    } else if (r->cluster_nodes.n > 0) {
        r->mode = REDIS_MODE_CLUSTER;
    } else {
        r->mode = r->embedded ? REDIS_MODE_EMBEDDED : REDIS_MODE_SINGLE;
    }
    if (r->mode == REDIS_MODE_CLUSTER || r->mode == REDIS_MODE_SENTINEL) {
        /* no url: nothing was resolved but "embedded"; a cluster has only
         * database 0, and the sentinel's master is used with database 0 */
        r->embedded = false;
    }
    if (r->read_from_replicas && r->mode != REDIS_MODE_CLUSTER) {
        config_redis_who("redis", "read_from_replicas", from_env, who);
        config_err_add(e, who, "true needs $.redis.cluster_nodes (replica reads are a Redis "
                       "Cluster feature; remove it or set it to false)");
    }
    if (r->username != NULL) {
        config_redis_who("redis", "username", from_env, who);
        if (r->password == NULL) {
            config_err_add(e, who, "given without a password (ACL AUTH needs $.redis.password "
                           "or a password in $.redis.url)");
        }
        if (one && r->mode == REDIS_MODE_EMBEDDED) {
            config_err_add(e, who, "the embedded redis-server has only the default user (give "
                           "$.redis.url, $.redis.cluster_nodes or $.redis.sentinel, or drop it)");
        }
    }
}
