/*
 * online.h — the online tier in Redis, for callers that use several of its
 * parts (lookup, the materializer, featd-cli load, tests):
 *   online/online_key.h    key layout (pure)
 *   online/online_row.h    packed row codec and storage TTLs (pure)
 *   online/online_gen.h    generations: alloc, current pointer, flip, reclaim
 *   online/online_writer.h  the one pipelined row writer
 * A caller that needs one part includes that header alone.
 */
#ifndef FEATD_ONLINE_H
#define FEATD_ONLINE_H

#include "online/online_gen.h"
#include "online/online_key.h"
#include "online/online_row.h"
#include "online/online_writer.h"

#endif
