/*
 * mat_poll.h — one poll of one view: discover its source, decide from the
 * progress hash whether there is work, take the lease, run (mat_run),
 * record the outcome in the progress hash and the statistics, and reclaim
 * the generation a flip replaced. Materializer thread (or one-shot) only.
 */
#ifndef FEATD_MAT_POLL_H
#define FEATD_MAT_POLL_H

#include <stddef.h>

#include "materialize/mat_ctx.h"

/* Returns an enum mat_result; msg gets a one-line summary for
 * `featd materialize`. */
int mat_poll_view(struct mat_ctx *x, const struct cfg_view *v, char *msg, size_t msglen);

#endif
