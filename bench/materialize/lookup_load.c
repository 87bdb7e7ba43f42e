/*
 * lookup_load.c — a small closed-loop lookup load for the materializer
 * benchmark (bench/materialize/run.sh compiles it against libfeatd): one
 * connection, one request at a time, each asking FEATURE ("view:*") of
 * ENTITIES random ids in 1..MAX_ID of join key KEY; runs for SECONDS or
 * until STOP_FILE exists, then prints the latency distribution:
 *
 *   lookup_load PORT KEY FEATURE MAX_ID ENTITIES SECONDS [STOP_FILE]
 *   -> requests=N errors=E rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
 *
 * (A full load generator, featd-bench, is a separate tool.)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "featd_client.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: lookup_load PORT KEY FEATURE MAX_ID ENTITIES SECONDS [STOP_FILE]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *key = argv[2], *feature = argv[3];
    long long max_id = atoll(argv[4]);
    int nent = atoi(argv[5]);
    double secs = atof(argv[6]);
    const char *stop = argc > 7 ? argv[7] : NULL;
    char err[256];
    struct featd_client *c = featd_connect("127.0.0.1", port, 5000, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "lookup_load: %s\n", err);
        return 1;
    }
    struct featd_get *g = featd_get_new();
    size_t cap = 1 << 20, n = 0;
    int64_t *lat = malloc(cap * sizeof(*lat));
    long errors = 0;
    uint64_t st = 88172645463325252ULL;
    int64_t t_start = mono_us(), t_end = t_start + (int64_t)(secs * 1e6);
    while (mono_us() < t_end && lat != NULL) {
        if (stop && (n & 63) == 0 && access(stop, F_OK) == 0) {
            break;
        }
        featd_get_reset(g);
        featd_get_add_feature(g, feature);
        for (int i = 0; i < nent; i++) {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            featd_get_add_int64(g, key, 1 + (int64_t)(st % (uint64_t)max_id));
        }
        Featd__V1__Response *resp = NULL;
        int64_t t0 = mono_us();
        int rc = featd_lookup(c, g, &resp);
        int64_t t1 = mono_us();
        featd_response_free(resp);
        if (rc != FEATD_OK) {
            if (errors++ < 3) {
                fprintf(stderr, "lookup_load: request failed: %s\n", featd_errmsg(c));
            }
            if (featd_broken(c)) {
                featd_close(c);
                c = featd_connect("127.0.0.1", port, 5000, err, sizeof(err));
                if (c == NULL) {
                    fprintf(stderr, "lookup_load: %s\n", err);
                    break;
                }
            }
            continue;
        }
        if (n == cap) {
            int64_t *nl = realloc(lat, 2 * cap * sizeof(*lat));
            if (nl == NULL) {
                break;
            }
            lat = nl;
            cap *= 2;
        }
        lat[n++] = t1 - t0;
    }
    double el = (double)(mono_us() - t_start) / 1e6;
    if (n == 0) {
        printf("requests=0 errors=%ld\n", errors);
        return 1;
    }
    qsort(lat, n, sizeof(*lat), cmp_i64);
#define Q(q) lat[(size_t)((double)(n - 1) * (q))]
    printf("requests=%zu errors=%ld seconds=%.2f rps=%.0f p50_us=%lld p90_us=%lld p99_us=%lld "
           "p999_us=%lld max_us=%lld\n", n, errors, el, (double)n / el, (long long)Q(0.5),
           (long long)Q(0.9), (long long)Q(0.99), (long long)Q(0.999), (long long)lat[n - 1]);
    free(lat);
    featd_get_free(g);
    featd_close(c);
    return 0;
}
