/*
 * serve.c — lifecycle of the request layer's per-loop context (see serve.h).
 */
#include "serve/serve.h"

#include <string.h>

#include "serve/request.h"
#include "serve/serve_auth.h"

void serve_init(struct serve_ctx *ctx, struct event_base *base, struct metrics *m, serve_info_fn info)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->base = base;
    ctx->metrics = m;
    ctx->info = info;
}

int serve_set_registry(struct serve_ctx *ctx, struct registry *reg)
{
    if (gencache_set_registry(&ctx->gens, reg) != FEATD_OK) {
        return FEATD_ERR;
    }
    ctx->reg = reg;
    serve_auth_registry(ctx, reg);
    return FEATD_OK;
}

void serve_free(struct serve_ctx *ctx)
{
    request_cache_free(ctx);
    gencache_free(&ctx->gens);
    fbuf_free(&ctx->scratch);
    fbuf_free(&ctx->scratch_keys);
    ctx->reg = NULL;
}
