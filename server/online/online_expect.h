/*
 * online_expect.h — a feature's "expect" rules (DESIGN §12) applied to one
 * value: the one implementation used by the materializer's quality gate
 * (per snapshot row), pushed writes (a violating row refuses the request)
 * and stream entries (a violating entry goes to the dead letters). Pure,
 * any thread.
 */
#ifndef FEATD_ONLINE_EXPECT_H
#define FEATD_ONLINE_EXPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "online/online_row.h"

/* Whether the type takes min/max (and is profiled as a number): bool (0/1),
 * int32, int64, float, double, timestamp (µs). */
bool online_expect_numeric(enum featd_type t);
/* x (not null) of a numeric type as a double. */
double online_expect_number(enum featd_type t, const struct online_value *x);

/* Whether x keeps f's rules: a null breaks not_null only; a number breaks
 * min/max (NaN breaks both); a string outside allowed breaks allowed. When
 * it does not and why is non-NULL, why gets the rule ("min 0", "not_null",
 * "allowed") and the value. A feature without rules keeps everything. */
bool online_expect_keeps(const struct cfg_feature *f, const struct online_value *x, char *why,
                         size_t whylen);

#endif
