/*
 * featd_time.c — libfeatd, RFC 3339 timestamps: featd_time_format and
 * featd_time_parse (µs since the epoch, UTC), over common/jsonw.h and
 * common/textval.h.
 * API in featd_client.h; pure and thread-safe.
 */
#include "featd_client.h"

#include <stdbool.h>

#include "common/jsonw.h"
#include "common/textval.h"

/* ---- timestamps ---- */

size_t featd_time_format(int64_t us, char *buf, size_t cap)
{
    char t[JSONW_TIME_MAX];
    struct jsonw w;
    jsonw_init_fixed(&w, buf, cap);
    jsonw_raw(&w, t, jsonw_fmt_time(t, us, JSONW_FRAC_AUTO));
    jsonw_end(&w);
    return w.len;
}

int featd_time_parse(const char *s, int64_t *us)
{
    if (s == NULL || us == NULL) {
        return FEATD_ERR;
    }
    return textval_time_parse(s, us) == 0 ? FEATD_OK : FEATD_ERR;
}
