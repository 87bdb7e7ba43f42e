/*
 * online_expect.c — "expect" rules on one value (contract in online_expect.h).
 */
#include "online/online_expect.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool online_expect_numeric(enum featd_type t)
{
    return t == FT_BOOL || t == FT_INT32 || t == FT_INT64 || t == FT_FLOAT || t == FT_DOUBLE ||
           t == FT_TIMESTAMP;
}

double online_expect_number(enum featd_type t, const struct online_value *x)
{
    switch (t) {
    case FT_BOOL: return x->u.b ? 1 : 0;
    case FT_INT32: return x->u.i32;
    case FT_INT64:
    case FT_TIMESTAMP: return (double)x->u.i64;
    case FT_FLOAT: return x->u.f;
    case FT_DOUBLE: return x->u.d;
    default: return 0;
    }
}

bool online_expect_keeps(const struct cfg_feature *f, const struct online_value *x, char *why,
                         size_t whylen)
{
    const struct cfg_expect *r = &f->expect;
    if (!r->has) {
        return true;
    }
    if (x->is_null) {
        if (r->not_null && why != NULL) {
            snprintf(why, whylen, "not_null: the value is null");
        }
        return !r->not_null;
    }
    if (online_expect_numeric(f->type)) {
        double d = online_expect_number(f->type, x);
        if (isnan(d)) {
            if (why != NULL) {
                snprintf(why, whylen, "%s: the value is NaN", r->has_min ? "min" : "max");
            }
            return false;
        }
        if (r->has_min && d < r->min) {
            if (why != NULL) {
                snprintf(why, whylen, "min %.17g: the value is %.17g", r->min, d);
            }
            return false;
        }
        if (r->has_max && d > r->max) {
            if (why != NULL) {
                snprintf(why, whylen, "max %.17g: the value is %.17g", r->max, d);
            }
            return false;
        }
        return true;
    }
    if (r->allowed != NULL) {
        for (size_t i = 0; i < r->nallowed; i++) {
            if (strlen(r->allowed[i]) == x->slen && memcmp(r->allowed[i], x->s, x->slen) == 0) {
                return true;
            }
        }
        if (why != NULL) {
            snprintf(why, whylen, "allowed: \"%.*s\" is not one of the allowed values",
                     (int)(x->slen > 64 ? 64 : x->slen), x->s);
        }
        return false;
    }
    return true;
}
