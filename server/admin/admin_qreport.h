/*
 * admin_qreport.h — a feature view's quality report (DESIGN §12): the
 * current and the held generation's profile, PSI per feature, the
 * violations with their rule and example keys, and the view's quality
 * config. One implementation, two readers: GET /v1/quality/VIEW on the
 * admin port (admin_quality.c, async on the admin thread) and `featd-cli
 * quality` (blocking, client/cli/cli_quality.c). Both send the same Lua
 * script (one round trip, one node: the view's meta keys share a
 * hash tag) and render its reply with admin_qreport_json.
 *
 * Where the data lives (materialize/mat_state.h): the progress hash
 * (generation, held_generation, prev_generation, snapshot names,
 * violations, held_at_us) and the profiles hash (field = generation,
 * value = the profile JSON mat_gate stored).
 */
#ifndef FEATD_ADMIN_QREPORT_H
#define FEATD_ADMIN_QREPORT_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config/config.h"
#include "core/featd.h"
#include "core/fbuf.h"

/* The script: KEYS[1] = progress hash, KEYS[2] = profiles hash. */
extern const char admin_qreport_script[];

/* The two keys of view v into keys (progress then profiles, back to back);
 * *len1 = the first one's length. FEATD_ERR when out of memory. */
int admin_qreport_keys(struct fbuf *keys, size_t *len1, const char *key_prefix,
                       const struct cfg_view *v) FEATD_MUSTCHECK;

/*
 * The report of view v from the script's reply r: {"view", "state",
 * "current", "held", "psi", "violations", "config"} (docs/quality.md).
 * The PSI reference is the one the gate uses: the baseline file (read
 * here), else the current generation (of a held one) or the previous one
 * (of the current one). NULL with why on a malformed reply or OOM.
 * Any thread (reads the baseline file: blocking I/O of a small file).
 */
json_t *admin_qreport_json(const struct cfg_view *v, const redisReply *r, char *why,
                           size_t whylen);

#endif
