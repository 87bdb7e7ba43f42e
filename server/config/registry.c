/*
 * registry.c — the reference count around a loaded configuration (contract
 * in registry.h).
 */
#include "config/registry.h"

#include <stdlib.h>

#include <openssl/ssl.h>

#include "config/config.h"
#include "core/metrics_view.h"

struct registry *registry_new(struct featd_config *cfg, uint64_t version)
{
    struct registry *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->version = version;
    r->cfg = cfg;
    for (size_t i = 0; i < cfg->nviews; i++) {
        cfg->views[i].metrics_slot = metrics_view_slot(cfg->views[i].name);
    }
    return r;
}

struct registry *registry_ref(struct registry *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void registry_unref(struct registry *r)
{
    if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        config_free(r->cfg);
        SSL_CTX_free(r->tls);
        free(r);
    }
}
