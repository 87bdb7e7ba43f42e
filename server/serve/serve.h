/*
 * serve.h — lifecycle of the request layer's per-loop context (struct
 * serve_ctx, serve_ctx.h). The owner (a worker) initializes it, hands it
 * each new registry, and frees it after its Redis link, all on its thread.
 */
#ifndef FEATD_SERVE_H
#define FEATD_SERVE_H

#include "serve/serve_ctx.h"

/* Prepares ctx for requests on base, counted in m; info fills ServerInfo.
 * The owner sets ctx->redis once its link exists and gives a registry with
 * serve_set_registry before the first request. */
void serve_init(struct serve_ctx *ctx, struct event_base *base, struct metrics *m, serve_info_fn info);

/* Makes reg (whose reference the caller holds) the registry new requests
 * use and re-indexes the generation cache; call before releasing the old
 * one. FEATD_ERR (nothing changed) when memory is short. */
int serve_set_registry(struct serve_ctx *ctx, struct registry *reg) FEATD_MUSTCHECK;

/* Frees what ctx owns. After the owner's rroute_free (whose callbacks may
 * still release requests). */
void serve_free(struct serve_ctx *ctx);

#endif
