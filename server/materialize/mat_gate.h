/*
 * mat_gate.h — the quality gate around a snapshot run (DESIGN §12): its
 * reference (the view's baseline file, else the current generation's stored
 * profile), the verdict after the write pass, the profile stored with the
 * new generation, and whether the generation is held instead of flipped.
 * Materializer thread (and `featd materialize`) only.
 */
#ifndef FEATD_MAT_GATE_H
#define FEATD_MAT_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "materialize/mat_ctx.h"
#include "materialize/mat_quality.h"

/* Whether v has a gate: a "quality" section or an "expect" on a feature. */
bool mat_gate_wanted(const struct cfg_view *v);

/*
 * Loads run->v's reference into ref (baseline file, else generation cur's
 * profile; none on the first snapshot) and starts q on it; run->q = q.
 * RUN_OK, or RUN_FAIL (run->why: an unreadable baseline, Redis).
 */
int mat_gate_begin(struct mat_ctx *x, struct mat_run *run, uint64_t cur, struct mat_quality *q,
                   struct mat_quality_ref *ref);

/*
 * After the write pass: the verdict of q against ref, q's profile stored
 * with gen, the violations logged and recorded (progress "violations",
 * metrics). *hold: the view's rules were broken and on_violation is hold.
 * RUN_OK or RUN_FAIL (storing the profile failed).
 */
int mat_gate_judge(struct mat_ctx *x, struct mat_run *run, uint64_t gen, struct mat_quality *q,
                   const struct mat_quality_ref *ref, bool *hold);

#endif
