/*
 * registry.h — a reference-counted, immutable loaded configuration. The main
 * thread creates one per (re)load and hands a reference to each worker over
 * its notify queue; each in-flight request holds a reference to the registry
 * it was validated against, so a reload never changes a request midway.
 */
#ifndef FEATD_REGISTRY_H
#define FEATD_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "config/config.h"

struct registry {
    _Atomic int refs;
    uint64_t version;               /* 1 for the startup load, +1 per reload */
    struct featd_config *cfg;       /* owned */
    struct ssl_ctx_st *tls;         /* owned: cfg->tls's server context (net/tls.h), NULL =
                                       plaintext; set once by the main thread before sharing */
};

/* Takes ownership of cfg; the result has one reference (the caller's).
 * NULL when out of memory (cfg is then still the caller's). */
struct registry *registry_new(struct featd_config *cfg, uint64_t version);
/* Any thread may take or drop a reference; the last registry_unref frees
 * the registry and its config. registry_unref(NULL) does nothing. */
struct registry *registry_ref(struct registry *r);
void registry_unref(struct registry *r);

#endif
