/*
 * config_reload.c — the reload rule. Keys not marked reloadable in
 * config_table[] (listen addresses, workers, data_dir, redis.*: also the
 * cluster nodes, sentinel and ACL user) were used to
 * set up listeners, Redis links and the embedded Redis; a reload reports a
 * change to them and keeps their running values, so that it never applies
 * one halfway. Called on the thread that reloads (the main thread).
 */
#include "config/config_int.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

int config_reload_restart_needed(const struct featd_config *running,
                                 const struct featd_config *next, char *out, size_t outlen)
{
    struct fbuf b = { 0 };
    int n = 0;
    for (size_t i = 0; i < config_table_len; i++) {
        const struct config_key *k = &config_table[i];
        if (k->reloadable) {
            continue;
        }
        if (config_table_equal(running, next, k)) {
            continue;
        }
        char a[QBUF], c[QBUF];
        config_table_format(running, k, true, a, sizeof a);
        config_table_format(next, k, true, c, sizeof c);
        n++;
        if (fbuf_appendf(&b, "%s$.%s.%s: changed from %s to %s; needs a restart (running value "
                         "kept)", b.len ? "\n" : "", k->section, k->name, a, c) != FEATD_OK) {
            break;
        }
    }
    if (out != NULL && outlen > 0) {
        util_strlcpy(out, b.data ? b.data : "", outlen);
    }
    fbuf_free(&b);
    return n;
}

void config_reload_keep_restart_only(const struct featd_config *running, struct featd_config *next)
{
    for (size_t i = 0; i < config_table_len; i++) {
        if (!config_table[i].reloadable) {
            config_table_copy(next, running, &config_table[i]);
        }
    }
    /* what redis.url resolved to goes with it */
    const struct cfg_redis *o = &running->redis;
    struct cfg_redis *n = &next->redis;
    free(n->host);
    n->host = o->host ? util_xstrdup(o->host) : NULL;
    free(n->unix_path);
    n->unix_path = o->unix_path ? util_xstrdup(o->unix_path) : NULL;
    n->embedded = o->embedded;
    n->mode = o->mode;
    n->port = o->port;
    n->db = o->db;
}
