/*
 * gencache.c — the generation cache (see gencache.h).
 */
#include "serve/gencache.h"

#include <stdlib.h>

#include "online/online.h"

int gencache_set_registry(struct gencache *gc, struct registry *reg)
{
    uint64_t *gens = malloc(sizeof(uint64_t) * (reg->cfg->nviews + 1));
    if (gens == NULL) {
        return FEATD_ERR;
    }
    for (size_t i = 0; i < reg->cfg->nviews; i++) {
        gens[i] = GENCACHE_UNKNOWN;
        /* keep what we knew for views whose schema did not change */
        if (gc->reg) {
            const struct cfg_view *nv = &reg->cfg->views[i];
            const struct cfg_view *ov = config_find_view(gc->reg->cfg, nv->name);
            if (ov && ov->fingerprint == nv->fingerprint) {
                gens[i] = gc->gens[ov - gc->reg->cfg->views];
            }
        }
    }
    free(gc->gens);
    gc->gens = gens;
    gc->reg = reg;
    return FEATD_OK;
}

void gencache_free(struct gencache *gc)
{
    free(gc->gens);
    gc->gens = NULL;
    gc->reg = NULL;
}

/* One refresh MGET in flight. */
struct gencache_call {
    struct gencache *gc;
    struct registry *reg;       /* reference: the views the MGET was built for */
    gencache_done_fn done;
    void *arg;
};

static void gencache_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct gencache_call *call = priv;
    const redisReply *reply = r;
    (void)ac;
    bool fresh = false;
    if (reply && reply->type == REDIS_REPLY_ARRAY && call->reg == call->gc->reg &&
        reply->elements == call->reg->cfg->nviews) {
        fresh = true;
        for (size_t i = 0; i < reply->elements; i++) {
            uint64_t g;
            if (online_gen_parse(reply->element[i], &g) == FEATD_OK) {
                call->gc->gens[i] = g;
            } else {
                fresh = false;
            }
        }
    }
    if (call->done) {
        call->done(call->arg, fresh);
    }
    registry_unref(call->reg);
    free(call);
}

int gencache_refresh(struct gencache *gc, struct rlink *r, gencache_done_fn done, void *arg)
{
    const struct featd_config *cfg = gc->reg->cfg;
    int rc = FEATD_ERR;
    if (!rlink_ready(r) || cfg->nviews == 0) {
        return FEATD_ERR;
    }
    struct fbuf keys = { 0 };
    size_t n = cfg->nviews + 1;
    const char **argv = malloc(sizeof(*argv) * n);
    size_t *argvlen = malloc(sizeof(*argvlen) * n);
    size_t *offs = malloc(sizeof(*offs) * n);
    struct gencache_call *call = malloc(sizeof(*call));
    if (!argv || !argvlen || !offs || !call) {
        goto done;
    }
    for (size_t i = 0; i < cfg->nviews; i++) {
        offs[i] = keys.len;
        if (online_key_current(&keys, cfg->redis.key_prefix, &cfg->views[i]) != FEATD_OK) {
            goto done;
        }
        argvlen[i + 1] = keys.len - offs[i];
    }
    argv[0] = "MGET";
    argvlen[0] = 4;
    for (size_t i = 0; i < cfg->nviews; i++) {
        argv[i + 1] = keys.data + offs[i];
    }
    call->gc = gc;
    call->reg = registry_ref(gc->reg);
    call->done = done;
    call->arg = arg;
    if (rlink_command_argv(r, gencache_reply, call, (int)n, argv, argvlen) != FEATD_OK) {
        registry_unref(call->reg);
        goto done;
    }
    call = NULL;    /* owned by the callback now */
    rc = FEATD_OK;
done:
    free(call);
    free(argv);
    free(argvlen);
    free(offs);
    fbuf_free(&keys);
    return rc;
}
