/*
 * rreply.h — hiredis reply objects allocated from a per-link arena.
 *
 * hiredis builds every reply element with its own calloc + malloc (an MGET
 * of 500 keys costs ~1,000 allocations and as many frees). A link with
 * rreply attached builds them in one arena instead; freeing the reply (which
 * hiredis does once its callback returns) rewinds the arena. Callbacks see
 * ordinary redisReply trees and must not keep pointers into them after they
 * return (the same rule as with hiredis's own allocator).
 */
#ifndef FEATD_RREPLY_H
#define FEATD_RREPLY_H

#include <hiredis/hiredis.h>

#include "core/featd.h"

struct rreply;

/* Makes the reader (a context's c->reader) build replies in a new arena and
 * keep a read buffer of up to 1 MiB between replies (hiredis frees anything
 * over 16 KiB each time). Returns the arena's handle, or NULL (out of
 * memory: the reader keeps hiredis's allocator). */
struct rreply *rreply_attach(redisReader *r);
/* Drops the link's reference: call when the context is being freed (the
 * arena itself lives on until a reply that is still being parsed is freed). */
void rreply_detach(struct rreply *rr);

#endif
