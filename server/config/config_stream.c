/*
 * config_stream.c — a view's stream source, "source": { ..., "stream":
 * { "key": "events:customer_stats", "group": "featd" } } (DESIGN §11):
 * parsed with the view, then checked against the whole configuration (the
 * Redis mode is known only then): on Redis Cluster the key needs a hash tag
 * so that its dead-letter stream "<key>:dead" is on the same slot, and no
 * two views may read the same key with the same group (each would get only
 * some of the entries).
 */
#include <string.h>

#include "config/config_int.h"
#include "core/util.h"

#define CFG_STREAM_KEY_MAX 1024
#define CFG_STREAM_GROUP_MAX 128

static const char *const stream_keys[] = { "key", "group", NULL };

/* One string member of the stream object: non-empty, at most max bytes, no
 * control characters; a copy or NULL (error added unless absent and not
 * required). */
static char *config_stream_text(json_t *st, const char *name, bool required, size_t max,
                                const char *sbase, struct config_errs *e)
{
    json_t *j = config_json_member(st, name, JSON_STRING, required, false, sbase, e);
    if (j == NULL) {
        return NULL;
    }
    char why[128], q[QBUF], path[CFG_JPATH_MAX];
    const char *bad = config_json_text_problem(json_string_value(j), max, why, sizeof why);
    if (bad != NULL) {
        config_err_path_key(path, sbase, name);
        config_err_add(e, path, "%s: %s", config_err_quote(json_string_value(j), q, sizeof q), bad);
        return NULL;
    }
    return util_xstrdup(json_string_value(j));
}

bool config_stream_parse(json_t *src, const char *srcbase, struct cfg_view *v, struct config_errs *e)
{
    char sbase[CFG_JPATH_MAX];
    config_err_path_key(sbase, srcbase, "stream");
    json_t *st = config_json_member(src, "stream", JSON_OBJECT, false, true, srcbase, e);
    if (st == NULL) {
        return false;
    }
    config_json_check_keys(st, sbase, stream_keys, "a stream", e);
    v->stream_key = config_stream_text(st, "key", true, CFG_STREAM_KEY_MAX, sbase, e);
    v->stream_group = config_stream_text(st, "group", false, CFG_STREAM_GROUP_MAX, sbase, e);
    if (v->stream_group == NULL && json_object_get(st, "group") == NULL) {
        v->stream_group = util_xstrdup("featd");
    }
    return true;
}

/* True when key has a non-empty hash tag ({...}), as Redis Cluster reads it. */
static bool config_stream_has_tag(const char *key)
{
    const char *open = strchr(key, '{');
    if (open == NULL) {
        return false;
    }
    const char *close = strchr(open + 1, '}');
    return close != NULL && close > open + 1;
}

void config_stream_check(const struct featd_config *cfg, struct config_errs *e)
{
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        if (v->stream_key == NULL) {
            continue;
        }
        char path[CFG_JPATH_MAX], q[QBUF];
        snprintf(path, sizeof path, "$.feature_views[%zu].source.stream.key", i);
        if (cfg->redis.mode == REDIS_MODE_CLUSTER && !config_stream_has_tag(v->stream_key)) {
            config_err_add(e, path, "%s: on Redis Cluster a stream key needs a hash tag, e.g. "
                           "\"{%s}\", so that its dead letters (\"<key>:dead\") are on its slot",
                           config_err_quote(v->stream_key, q, sizeof q), v->stream_key);
        }
        for (size_t j = 0; j < i; j++) {
            const struct cfg_view *o = &cfg->views[j];
            if (o->stream_key != NULL && strcmp(o->stream_key, v->stream_key) == 0 &&
                v->stream_group != NULL && o->stream_group != NULL &&
                strcmp(o->stream_group, v->stream_group) == 0) {
                config_err_add(e, path, "%s with group \"%s\" is already the stream of view \"%s\" "
                               "(each view needs its own key or group)",
                               config_err_quote(v->stream_key, q, sizeof q), v->stream_group, o->name);
            }
        }
    }
}
