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

/* One refresh in flight: one MGET per slot group of views. */
struct gencache_call {
    struct gencache *gc;
    struct registry *reg;       /* reference: the views the MGETs were built for */
    gencache_done_fn done;
    void *arg;
    size_t pending;             /* MGETs whose reply is to come */
    bool fresh;                 /* every reply so far updated its views */
    size_t *order;              /* view indexes grouped by slot */
};

/* One MGET: views order[first .. first + n). */
struct gencache_part {
    struct gencache_call *call;
    size_t first, n;
};

static void gencache_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct gencache_part *part = priv;
    struct gencache_call *call = part->call;
    const redisReply *reply = r;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_ARRAY && call->reg == call->gc->reg &&
        reply->elements == part->n) {
        for (size_t i = 0; i < reply->elements; i++) {
            uint64_t g;
            if (online_gen_parse(reply->element[i], &g) == FEATD_OK) {
                call->gc->gens[call->order[part->first + i]] = g;
            } else {
                call->fresh = false;
            }
        }
    } else {
        call->fresh = false;
    }
    free(part);
    if (--call->pending > 0) {
        return;
    }
    if (call->done) {
        call->done(call->arg, call->fresh);
    }
    registry_unref(call->reg);
    free(call->order);
    free(call);
}

int gencache_refresh(struct gencache *gc, struct rroute *r, gencache_done_fn done, void *arg)
{
    const struct featd_config *cfg = gc->reg->cfg;
    int rc = FEATD_ERR;
    if (!rroute_ready(r) || cfg->nviews == 0) {
        return FEATD_ERR;
    }
    struct fbuf keys = { 0 };
    size_t nv = cfg->nviews;
    const char **argv = malloc(sizeof(*argv) * (nv + 1));
    size_t *argvlen = malloc(sizeof(*argvlen) * (nv + 1));
    size_t *offs = malloc(sizeof(*offs) * nv);
    unsigned *slots = malloc(sizeof(*slots) * nv);
    bool *taken = calloc(nv, sizeof(*taken));
    struct gencache_call *call = calloc(1, sizeof(*call));
    size_t *order = malloc(sizeof(*order) * nv);
    if (!argv || !argvlen || !offs || !slots || !taken || !call || !order) {
        goto done;
    }
    for (size_t i = 0; i < nv; i++) {
        offs[i] = keys.len;
        if (online_key_current(&keys, cfg->redis.key_prefix, &cfg->views[i]) != FEATD_OK) {
            goto done;
        }
    }
    /* group the views by their current key's slot (all in slot 0 on one node) */
    size_t n = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t end = i + 1 < nv ? offs[i + 1] : keys.len;
        slots[i] = rroute_slot(r, keys.data + offs[i], end - offs[i]);
    }
    for (size_t i = 0; i < nv; i++) {
        if (taken[i]) {
            continue;
        }
        for (size_t j = i; j < nv; j++) {
            if (!taken[j] && slots[j] == slots[i]) {
                taken[j] = true;
                order[n++] = j;
            }
        }
    }
    call->gc = gc;
    call->reg = registry_ref(gc->reg);
    call->done = done;
    call->arg = arg;
    call->fresh = true;
    call->order = order;
    call->pending = 1;      /* held until every MGET is sent */
    order = NULL;
    size_t sent = 0;
    for (size_t g = 0; g < nv;) {
        size_t e = g;
        argv[0] = "MGET";
        argvlen[0] = 4;
        while (e < nv && slots[call->order[e]] == slots[call->order[g]]) {
            size_t v = call->order[e];
            size_t end = v + 1 < nv ? offs[v + 1] : keys.len;
            argv[1 + e - g] = keys.data + offs[v];
            argvlen[1 + e - g] = end - offs[v];
            e++;
        }
        struct gencache_part *part = malloc(sizeof(*part));
        if (part == NULL) {
            call->fresh = false;
            break;
        }
        *part = (struct gencache_part){ .call = call, .first = g, .n = e - g };
        call->pending++;
        if (rroute_command_argv(r, slots[call->order[g]], gencache_reply, part, (int)(1 + e - g), argv,
                                argvlen) != FEATD_OK) {
            call->pending--;
            call->fresh = false;
            free(part);
            break;
        }
        sent++;
        g = e;
    }
    if (sent == 0) {
        registry_unref(call->reg);
        free(call->order);
        goto done;
    }
    /* drop the hold: done runs with the last reply */
    if (--call->pending == 0) {
        if (call->done) {
            call->done(call->arg, call->fresh);
        }
        registry_unref(call->reg);
        free(call->order);
        free(call);
    }
    call = NULL;    /* owned by the callbacks now */
    rc = FEATD_OK;
done:
    free(call);
    free(order);
    free(argv);
    free(argvlen);
    free(offs);
    free(slots);
    free(taken);
    fbuf_free(&keys);
    return rc;
}
