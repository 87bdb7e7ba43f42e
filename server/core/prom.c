/*
 * prom.c — Prometheus text exposition writer (see prom.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/prom.h"

int prom_header(struct fbuf *out, const char *name, const char *type, const char *help)
{
    if (fbuf_appendf(out, "# HELP %s ", name) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (const char *s = help; s && *s; s++) {
        int rc = *s == '\\' ? fbuf_append(out, "\\\\", 2)
                 : *s == '\n' ? fbuf_append(out, "\\n", 2) : fbuf_putc(out, *s);
        if (rc != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return fbuf_appendf(out, "\n# TYPE %s %s\n", name, type) == FEATD_OK ? FEATD_OK : FEATD_ENOMEM;
}

int prom_label(struct fbuf *out, const char *s)
{
    for (; s && *s; s++) {
        int rc;
        if (*s == '\\') {
            rc = fbuf_append(out, "\\\\", 2);
        } else if (*s == '"') {
            rc = fbuf_append(out, "\\\"", 2);
        } else if (*s == '\n') {
            rc = fbuf_append(out, "\\n", 2);
        } else {
            rc = fbuf_putc(out, *s);
        }
        if (rc != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

int prom_scalar(struct fbuf *out, const char *name, const char *type, const char *help,
                const char *fmt, ...)
{
    char val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (prom_header(out, name, type, help) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return fbuf_appendf(out, "%s %s\n", name, val) == FEATD_OK ? FEATD_OK : FEATD_ENOMEM;
}

/* A µs bound as seconds without trailing zeros ("0.00005", "1"). */
static void prom_le(char *buf, size_t cap, uint64_t us)
{
    snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0') {
        buf[--n] = '\0';
    }
    if (n > 0 && buf[n - 1] == '.') {
        buf[--n] = '\0';
    }
}

/* The samples of one histogram: cumulative buckets whose bounds are
 * bounds[i] * bound_us microseconds (nb buckets, the last +Inf), then _sum
 * (sum in units of 1/sum_per_s seconds) and _count. */
static int prom_hist_write(struct fbuf *out, const char *name, const char *labels,
                           const _Atomic uint64_t *buckets, size_t nb, const uint64_t *bounds,
                           uint64_t bound_us, uint64_t sum, uint64_t sum_per_s)
{
    const char *lb = labels ? labels : "";
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i + 1 < nb; i++) {
        cum += METRICS_GET(buckets[i]);
        prom_le(le, sizeof(le), bounds[i] * bound_us);
        if (fbuf_appendf(out, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, lb, le, cum) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    cum += METRICS_GET(buckets[nb - 1]);
    /* "{labels}" without the trailing comma for _sum and _count */
    size_t ln = strlen(lb);
    if (ln > 0 && lb[ln - 1] == ',') {
        ln--;
    }
    const char *open = ln ? "{" : "", *close = ln ? "}" : "";
    int fw = sum_per_s == 1000 ? 3 : 6;
    if (fbuf_appendf(out, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n"
                     "%s_sum%s%.*s%s %" PRIu64 ".%0*" PRIu64 "\n"
                     "%s_count%s%.*s%s %" PRIu64 "\n",
                     name, lb, cum,
                     name, open, (int)ln, lb, close, sum / sum_per_s, fw, sum % sum_per_s,
                     name, open, (int)ln, lb, close, cum) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return FEATD_OK;
}

int prom_hist_samples(struct fbuf *out, const char *name, const char *labels,
                      const struct metrics_hist *h)
{
    return prom_hist_write(out, name, labels, h->buckets, METRICS_NBUCKETS, metrics_bucket_bounds, 1,
                           METRICS_GET(h->sum_us), 1000000);
}

int prom_age_hist_samples(struct fbuf *out, const char *name, const char *labels,
                          const struct metrics_age_hist *h)
{
    return prom_hist_write(out, name, labels, h->buckets, METRICS_AGE_NBUCKETS, metrics_age_bounds_s,
                           1000000, METRICS_GET(h->sum_ms), 1000);
}

int prom_hist(struct fbuf *out, const char *name, const char *help, const struct metrics_hist *h)
{
    if (prom_header(out, name, "histogram", help) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    return prom_hist_samples(out, name, NULL, h);
}
