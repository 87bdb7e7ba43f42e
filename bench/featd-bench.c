/*
 * featd-bench — load generator for featd (protobuf over TCP).
 *
 * Closed loop (default): C connections, each keeping P requests in flight.
 * Open loop (--rate R): requests are due at a fixed total rate; latency is
 * measured from each request's intended send time, so a stall shows up in
 * the percentiles instead of silently lowering the offered load (no
 * coordinated omission). Entity keys are uniform or Zipfian over N entities;
 * B entities per request; any features of one or more views (one int64 join
 * key shared by them). T threads each drive C/T connections with epoll.
 * Every response is decoded and checked: errors and per-value statuses are
 * counted, so a fast wrong answer shows.
 *
 * Write mode (--write --view V --rows-per-request N): WriteFeatures requests
 * (DESIGN §11) of N rows of view V instead of lookups: random entities of
 * the key space, random event times within the last --event-spread seconds
 * (so last-write-wins sees newer, equal and older rows), random values of
 * each feature's type (the schema comes from featd's ListFeatureViews). The
 * request bodies are encoded once at setup (WRITE_VARIANTS of them) and
 * framed with each request's id, so the generator costs almost nothing per
 * request; rows written and stale are counted from the answers.
 *
 * Redis-alone target (--redis featd|get --config featd.json): the same
 * generator sends, for the same entities and views, the commands featd's
 * lookup sends (or one HGET per row) straight to the featd config's Redis
 * (bench_redis.c), so a run can report featd's latency next to Redis's own.
 *
 * Besides the latency from the intended send time it reports, in the open
 * loop, how late each send was (send lag: the generator's own delay or no
 * free connection), the latency from the actual send (service), and each
 * request slower than --stall-ms with its wall-clock time, so that
 * bench/attrib.py can line stalls up with what else happened on the host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "featd.pb-c.h"
#include "featd_client.h"

#include "bench_redis.h"

/* ---- options ---- */

struct bench_opts {
    const char *host;
    int port;
    int connections;
    int threads;
    int pipeline;
    double duration_s;
    double warmup_s;
    double rate;            /* total requests/s; 0 = closed loop */
    int batch;              /* entities per request */
    uint64_t entities;      /* key space 1..N */
    bool zipf;
    double zipf_s;
    const char *join_key;
    char **features;
    int nfeatures;
    int deadline_ms;
    bool json;
    uint64_t seed;
    const char *redis_cmd;  /* NULL = featd; "featd" or "get" = Redis alone */
    const char *config;     /* featd config (Redis target: views, keys, address) */
    bool addr_given;        /* --host or --port on the command line */
    double stall_ms;        /* a request slower than this is listed as a stall */
    const char *token;      /* --token or $FEATD_TOKEN: AuthRequest on every connection */
    bool tls;               /* --tls or --tls-ca: TLS to featd */
    const char *tls_ca;     /* --tls-ca FILE: the CA bundle; NULL = the system's */
    const char *tls_name;   /* --tls-server-name: the name verified (default --host) */
    bool write;             /* --write: WriteFeatures requests instead of lookups */
    const char *view;       /* --view: the view written */
    int rows_per_request;   /* --rows-per-request (1000) */
    double event_spread_s;  /* --event-spread: event times within the last S seconds (3600) */
};

static struct bench_opts opt = {
    .host = "127.0.0.1", .port = 6566, .connections = 50, .threads = 2, .pipeline = 1,
    .duration_s = 10, .warmup_s = 1, .batch = 1, .entities = 1000000, .zipf_s = 0.99,
    .join_key = "customer_id", .seed = 42, .stall_ms = 10, .rows_per_request = 1000,
    .event_spread_s = 3600,
};

static struct bench_redis *redis_target;   /* non-NULL: the Redis-alone target */
static SSL_CTX *bench_tls;                  /* --tls: one context for every connection */

/* ---- latency histogram: log-linear, 32 sub-buckets per power of two (~3%) ---- */

#define HIST_SUB 32
#define HIST_BUCKETS (HIST_SUB + 40 * HIST_SUB)

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
    double sum;
};

static int hist_index(uint64_t v)
{
    if (v < HIST_SUB) {
        return (int)v;
    }
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 5;
    int idx = HIST_SUB + shift * HIST_SUB + (int)((v >> shift) - HIST_SUB);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Upper bound of bucket idx. */
static uint64_t hist_value(int idx)
{
    if (idx < HIST_SUB) {
        return (uint64_t)idx;
    }
    int shift = (idx - HIST_SUB) / HIST_SUB;
    uint64_t mant = (uint64_t)((idx - HIST_SUB) % HIST_SUB + HIST_SUB);
    return ((mant + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double)v;
    if (v > h->max) {
        h->max = v;
    }
}

static void hist_merge(struct hist *d, const struct hist *s)
{
    for (int i = 0; i < HIST_BUCKETS; i++) {
        d->counts[i] += s->counts[i];
    }
    d->total += s->total;
    d->sum += s->sum;
    if (s->max > d->max) {
        d->max = s->max;
    }
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    if (h->total == 0) {
        return 0;
    }
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->total);
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t v = hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

/* ---- keys ---- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Zipf over 1..n (rejection-inversion, Hörmann & Derflinger). */
struct zipf {
    double s, hx0, hn, c;
    uint64_t n;
};

static double zipf_h(double s, double x)
{
    return s == 1.0 ? log(x) : (pow(x, 1.0 - s) - 1.0) / (1.0 - s);
}

static double zipf_hinv(double s, double x)
{
    return s == 1.0 ? exp(x) : pow(1.0 + x * (1.0 - s), 1.0 / (1.0 - s));
}

static void zipf_init(struct zipf *z, uint64_t n, double s)
{
    z->n = n;
    z->s = s;
    z->hx0 = zipf_h(s, 1.5) - 1.0;
    z->hn = zipf_h(s, (double)n + 0.5);
    z->c = 2.0 - zipf_hinv(s, zipf_h(s, 2.5) - pow(2.0, -s));
}

static uint64_t zipf_next(const struct zipf *z, struct rng *r)
{
    for (;;) {
        double u = z->hn + rng_unit(r) * (z->hx0 - z->hn);
        double x = zipf_hinv(z->s, u);
        double k = floor(x + 0.5);
        if (k < 1) {
            k = 1;
        } else if (k > (double)z->n) {
            k = (double)z->n;
        }
        if (k - x <= z->c || u >= zipf_h(z->s, k + 0.5) - pow(k, -z->s)) {
            return (uint64_t)k;
        }
    }
}

/* ---- connections and threads ---- */

struct bconn {
    int fd;
    SSL *ssl;               /* --tls, else NULL */
    uint8_t *in;            /* read buffer */
    size_t inlen, incap;
    struct fbuf out;        /* queued requests; out.data[outoff..out.len) unsent */
    size_t outoff;
    int inflight;
    uint64_t next_id;
    uint64_t done_id;       /* Redis target: replies come in order; next to complete */
    int64_t *sent_at;       /* ring indexed by request id % ring (intended or actual send time) */
    int64_t *sent_real;     /* same ring: when the request was really queued */
    int *ndistinct;         /* same ring, Redis target: distinct entities of the request */
    int ring;
    bool want_out;          /* registered for EPOLLOUT (the socket was full) */
};

struct bthread {
    pthread_t tid;
    int idx;
    int nconns;
    struct bconn *conns;
    struct rng rng;
    struct zipf zipf;
    struct hist hist;
    struct hist lag;        /* open loop: actual send - intended send */
    struct hist service;    /* answer - actual send */
    struct stall *stalls;   /* open loop: a sample of up to STALL_MAX per thread */
    struct rng stall_rng;   /* picks that sample */
    int nstalls;
    uint64_t stalls_total;
    struct bench_redis_tally redis;
    struct fbuf key;        /* Redis target: scratch for one row key */
    uint64_t requests, errors, values;
    uint64_t statuses[5];
    uint64_t error_codes[6];
    uint64_t io_errors;
    uint64_t rows_written, rows_stale;     /* --write: from the answers */
    char last_error[256];
    double rate;            /* this thread's share */
    int epfd;
    int alive;              /* connections still open */
};

static volatile int bench_phase;   /* 0 warmup, 1 measure, 2 stop */

/* A request slower than --stall-ms: when it was due (wall clock), how long it
 * took, and how late it was sent. */
struct stall {
    int64_t due_unix_us;
    uint64_t latency_us;
    uint64_t lag_us;
};
#define STALL_MAX 250
static int64_t mono_to_unix_us;    /* add to a CLOCK_MONOTONIC time for the wall clock */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void bench_oom(void)
{
    fprintf(stderr, "featd-bench: out of memory\n");
    exit(1);
}

/* One read(2) or write(2), through ssl when given: > 0 bytes, 0 when the
 * peer closed, -1 with errno (EAGAIN while OpenSSL waits for the socket). */
static ssize_t bench_sock_io(int fd, SSL *ssl, void *buf, size_t len, bool writing)
{
    if (ssl == NULL) {
        return writing ? write(fd, buf, len) : read(fd, buf, len);
    }
    int n = len > INT32_MAX ? INT32_MAX : (int)len;
    ERR_clear_error();
    int r = writing ? SSL_write(ssl, buf, n) : SSL_read(ssl, buf, n);
    if (r > 0) {
        return r;
    }
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
    return -1;
}

/* Blocking I/O of exactly len bytes on fd (before it is non-blocking). */
static bool bench_io_all(int fd, SSL *ssl, void *buf, size_t len, bool writing)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = bench_sock_io(fd, ssl, p, len, writing);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Authenticates a new blocking connection with opt.token (DESIGN §14). */
static bool bench_auth(int fd, SSL *ssl, char *err, size_t errlen)
{
    Featd__V1__AuthRequest ar = FEATD__V1__AUTH_REQUEST__INIT;
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    ar.token = (char *)opt.token;
    req.body_case = FEATD__V1__REQUEST__BODY_AUTH;
    req.auth = &ar;
    size_t n = featd__v1__request__get_packed_size(&req);
    uint8_t *buf = malloc(4 + n);
    if (buf == NULL) {
        bench_oom();
    }
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    featd__v1__request__pack(&req, buf + 4);
    bool ok = bench_io_all(fd, ssl, buf, 4 + n, true);
    free(buf);
    uint8_t hdr[4];
    if (!ok || !bench_io_all(fd, ssl, hdr, 4, false)) {
        snprintf(err, errlen, "AuthRequest: connection closed");
        return false;
    }
    size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    uint8_t *body = len <= (1u << 20) ? malloc(len ? len : 1) : NULL;
    if (body == NULL || !bench_io_all(fd, ssl, body, len, false)) {
        free(body);
        snprintf(err, errlen, "AuthRequest: bad answer");
        return false;
    }
    Featd__V1__Response *resp = featd__v1__response__unpack(NULL, len, body);
    free(body);
    ok = resp != NULL && resp->body_case == FEATD__V1__RESPONSE__BODY_AUTH;
    if (!ok) {
        snprintf(err, errlen, "authentication failed: %s",
                 resp && resp->body_case == FEATD__V1__RESPONSE__BODY_ERROR && resp->error->message
                 ? resp->error->message : "unexpected answer");
    }
    featd__v1__response__free_unpacked(resp, NULL);
    return ok;
}

static int bench_connect(SSL **sslp, char *err, size_t errlen)
{
    *sslp = NULL;
    struct addrinfo hints = { 0 }, *ai;
    char port[16];
    snprintf(port, sizeof(port), "%d", opt.port);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(opt.host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", opt.host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "connect %s:%d: %s", opt.host, opt.port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SSL *ssl = NULL;
    if (bench_tls != NULL && !redis_target) {
        /* the handshake while the socket still blocks */
        const char *name = opt.tls_name ? opt.tls_name : opt.host;
        ssl = SSL_new(bench_tls);
        if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1 ||
            SSL_set1_host(ssl, name) != 1 || SSL_connect(ssl) != 1) {
            char why[256] = "out of memory";
            unsigned long e = ERR_get_error();
            if (e) {
                ERR_error_string_n(e, why, sizeof why);
            }
            snprintf(err, errlen, "TLS handshake with %s:%d: %s", opt.host, opt.port, why);
            SSL_free(ssl);
            close(fd);
            return -1;
        }
    }
    if (opt.token != NULL && !bench_auth(fd, ssl, err, errlen)) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    *sslp = ssl;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void buf_reserve(uint8_t **b, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return;
    }
    size_t n = *cap ? *cap : 4096;
    while (n < need) {
        n *= 2;
    }
    *b = realloc(*b, n);
    if (*b == NULL) {
        fprintf(stderr, "featd-bench: out of memory\n");
        exit(1);
    }
    *cap = n;
}

/* The entity ids of one request (opt.batch of them). */
static void bench_pick_ids(struct bthread *t, int64_t *ids)
{
    for (int i = 0; i < opt.batch; i++) {
        ids[i] = (int64_t)(opt.zipf ? zipf_next(&t->zipf, &t->rng) : 1 + rng_next(&t->rng) % opt.entities);
    }
}

/* Appends one framed GetOnlineFeatures request for ids to c->out. */
static void bench_format_featd(struct bconn *c, const int64_t *ids, uint64_t id)
{
    Featd__V1__Value vals[1024];
    Featd__V1__Value *vptr[1024];
    int b = opt.batch;
    for (int i = 0; i < b; i++) {
        featd__v1__value__init(&vals[i]);
        vals[i].kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
        vals[i].int64_val = ids[i];
        vptr[i] = &vals[i];
    }
    Featd__V1__EntityColumn col = FEATD__V1__ENTITY_COLUMN__INIT;
    Featd__V1__EntityColumn *cols[1] = { &col };
    col.join_key = (char *)opt.join_key;
    col.n_values = (size_t)b;
    col.values = vptr;
    Featd__V1__GetOnlineFeaturesRequest g = FEATD__V1__GET_ONLINE_FEATURES_REQUEST__INIT;
    g.n_features = (size_t)opt.nfeatures;
    g.features = opt.features;
    g.n_entities = 1;
    g.entities = cols;
    g.deadline_ms = (uint32_t)opt.deadline_ms;
    Featd__V1__Request req = FEATD__V1__REQUEST__INIT;
    req.request_id = id;
    req.body_case = FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES;
    req.get_online_features = &g;
    size_t n = featd__v1__request__get_packed_size(&req);
    if (fbuf_reserve(&c->out, 4 + n) != FEATD_OK) {
        bench_oom();
    }
    uint8_t *p = (uint8_t *)c->out.data + c->out.len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    featd__v1__request__pack(&req, p + 4);
    c->out.len += 4 + n;
}

/* ---- write mode: pre-encoded WriteFeaturesRequest bodies ---- */

#define WRITE_VARIANTS 64

static uint8_t *write_body[WRITE_VARIANTS];    /* packed WriteFeaturesRequest, read-only */
static size_t write_len[WRITE_VARIANTS];

/* One random value of feature type name t into the builder. */
static int bench_write_value(struct featd_write *w, const char *f, const char *t, struct rng *r)
{
    uint64_t x = rng_next(r);
    if (strcmp(t, "bool") == 0) return featd_write_add_bool(w, f, x & 1);
    if (strcmp(t, "int32") == 0) return featd_write_add_int32(w, f, (int32_t)(x % 100000));
    if (strcmp(t, "int64") == 0) return featd_write_add_int64(w, f, (int64_t)(x % 1000000000));
    if (strcmp(t, "float") == 0) return featd_write_add_float(w, f, (float)rng_unit(r));
    if (strcmp(t, "double") == 0) return featd_write_add_double(w, f, rng_unit(r) * 1000);
    if (strcmp(t, "timestamp") == 0) return featd_write_add_timestamp(w, f, (int64_t)(x % 2000000000000000ULL));
    if (strcmp(t, "string") == 0 || strcmp(t, "bytes") == 0) {
        char s[32];
        snprintf(s, sizeof s, "v%" PRIu64, x % 100000);
        return strcmp(t, "string") == 0 ? featd_write_add_string(w, f, s)
                                         : featd_write_add_bytes(w, f, s, strlen(s));
    }
    /* lists: 4 elements */
    Featd__V1__Value v = FEATD__V1__VALUE__INIT;
    float fl[4];
    double dl[4];
    int64_t il[4];
    char sb[4][16], *sl[4];
    for (int i = 0; i < 4; i++) {
        fl[i] = (float)rng_unit(r);
        dl[i] = rng_unit(r);
        il[i] = (int64_t)(rng_next(r) % 1000);
        snprintf(sb[i], sizeof sb[i], "s%d", (int)(rng_next(r) % 100));
        sl[i] = sb[i];
    }
    Featd__V1__FloatList a = FEATD__V1__FLOAT_LIST__INIT;
    Featd__V1__DoubleList b = FEATD__V1__DOUBLE_LIST__INIT;
    Featd__V1__Int64List c = FEATD__V1__INT64_LIST__INIT;
    Featd__V1__StringList d = FEATD__V1__STRING_LIST__INIT;
    a.n_val = b.n_val = c.n_val = d.n_val = 4;
    a.val = fl;
    b.val = dl;
    c.val = il;
    d.val = sl;
    if (strcmp(t, "float_list") == 0) {
        v.kind_case = FEATD__V1__VALUE__KIND_FLOAT_LIST_VAL;
        v.float_list_val = &a;
    } else if (strcmp(t, "double_list") == 0) {
        v.kind_case = FEATD__V1__VALUE__KIND_DOUBLE_LIST_VAL;
        v.double_list_val = &b;
    } else if (strcmp(t, "int64_list") == 0) {
        v.kind_case = FEATD__V1__VALUE__KIND_INT64_LIST_VAL;
        v.int64_list_val = &c;
    } else if (strcmp(t, "string_list") == 0) {
        v.kind_case = FEATD__V1__VALUE__KIND_STRING_LIST_VAL;
        v.string_list_val = &d;
    }   /* an unknown type: a null, which featd refuses if it must */
    return featd_write_add_value(w, f, &v);
}

/* Encodes WRITE_VARIANTS request bodies of opt.rows_per_request rows of
 * opt.view, whose schema is asked from featd (main thread, before the
 * generator threads start). 0, or 1 after a message. */
static int bench_write_setup(void)
{
    char err[512];
    struct featd_tls tlso = { .ca_file = opt.tls_ca, .server_name = opt.tls_name };
    struct featd_client *fc = opt.tls
        ? featd_connect_tls(opt.host, opt.port, 5000, &tlso, err, sizeof err)
        : featd_connect(opt.host, opt.port, 5000, err, sizeof err);
    if (fc == NULL) {
        fprintf(stderr, "featd-bench: %s\n", err);
        return 1;
    }
    Featd__V1__Response *resp = NULL;
    if ((opt.token != NULL && featd_auth(fc, opt.token) == NULL)
        || featd_list_views(fc, &resp) != FEATD_OK) {
        fprintf(stderr, "featd-bench: listing the views: %s\n", featd_errmsg(fc));
        featd_close(fc);
        return 1;
    }
    const Featd__V1__FeatureViewInfo *vi = NULL;
    for (size_t i = 0; i < resp->list_feature_views->n_views; i++) {
        if (strcmp(resp->list_feature_views->views[i]->name, opt.view) == 0) {
            vi = resp->list_feature_views->views[i];
        }
    }
    if (vi == NULL) {
        fprintf(stderr, "featd-bench: featd has no view \"%s\"\n", opt.view);
        featd_response_free(resp);
        featd_close(fc);
        return 1;
    }
    struct rng r = { opt.seed * 7919 + 1 };
    struct zipf z;
    if (opt.zipf) {
        zipf_init(&z, opt.entities, opt.zipf_s);
    }
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t now = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000;
    uint64_t spread = (uint64_t)(opt.event_spread_s * 1e6) + 1;
    struct featd_write *w = featd_write_new(opt.view);
    int rc = w ? 0 : 1;
    for (int k = 0; k < WRITE_VARIANTS && rc == 0; k++) {
        featd_write_reset(w);
        for (int row = 0; row < opt.rows_per_request && rc == 0; row++) {
            uint64_t id = opt.zipf ? zipf_next(&z, &r) : 1 + rng_next(&r) % opt.entities;
            for (size_t j = 0; j < vi->n_join_keys && rc == 0; j++) {
                char s[32];
                snprintf(s, sizeof s, "e%" PRIu64, id);
                rc |= strcmp(vi->join_keys[j]->type, "int64") == 0
                          ? featd_write_add_key_int64(w, vi->join_keys[j]->name, (int64_t)id)
                          : featd_write_add_key_string(w, vi->join_keys[j]->name, s);
            }
            for (size_t j = 0; j < vi->n_features && rc == 0; j++) {
                rc |= bench_write_value(w, vi->features[j]->name, vi->features[j]->type, &r);
            }
            rc |= featd_write_add_event_time(w, now - (int64_t)(rng_next(&r) % spread));
        }
        const Featd__V1__Request *req = featd_write_request(w, 0);
        write_len[k] = featd__v1__write_features_request__get_packed_size(req->write_features);
        write_body[k] = malloc(write_len[k] ? write_len[k] : 1);
        if (rc != 0 || write_body[k] == NULL) {
            bench_oom();
        }
        featd__v1__write_features_request__pack(req->write_features, write_body[k]);
    }
    featd_write_free(w);
    featd_response_free(resp);
    featd_close(fc);
    return rc ? 1 : 0;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Appends one framed Request{request_id = id, write_features = variant}. */
static void bench_format_write(struct bthread *t, struct bconn *c, uint64_t id)
{
    size_t k = (size_t)(rng_next(&t->rng) % WRITE_VARIANTS);
    uint8_t head[32];
    size_t h = 0;
    head[h++] = 0x08;                       /* field 1 (request_id), varint */
    h += put_varint(head + h, id);
    head[h++] = 0x32;                       /* field 6 (write_features), length-delimited */
    h += put_varint(head + h, write_len[k]);
    size_t n = h + write_len[k];
    if (fbuf_reserve(&c->out, 4 + n) != FEATD_OK) {
        bench_oom();
    }
    uint8_t *p = (uint8_t *)c->out.data + c->out.len;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
    memcpy(p + 4, head, h);
    memcpy(p + 4 + h, write_body[k], write_len[k]);
    c->out.len += 4 + n;
}

/* Queues one request on c: for featd a framed GetOnlineFeatures request,
 * for the Redis target its MGET or GETs. stamp is the time its latency
 * counts from (the intended send time in the open loop). */
static void bench_queue_request(struct bthread *t, struct bconn *c, int64_t stamp)
{
    int64_t ids[1024];
    uint64_t id = c->next_id++;
    size_t slot = id % (uint64_t)c->ring;
    if (opt.write) {
        bench_format_write(t, c, id);
    } else if (redis_target) {
        bench_pick_ids(t, ids);
        int nd = bench_redis_format(redis_target, &c->out, &t->key, ids, opt.batch);
        if (nd < 0) {
            bench_oom();
        }
        c->ndistinct[slot] = nd;
    } else {
        bench_pick_ids(t, ids);
        bench_format_featd(c, ids, id);
    }
    int64_t now = now_us();
    c->sent_at[slot] = stamp;
    c->sent_real[slot] = now;
    if (t->rate > 0 && bench_phase == 1) {
        hist_add(&t->lag, (uint64_t)(now > stamp ? now - stamp : 0));
    }
    c->inflight++;
}

/* ---- a minimal protobuf walker: verifies answers without building them ----
 * (protobuf-c's unpack would allocate a struct per value; the generator must
 * not cost more than what it measures) */

struct pbr {
    const uint8_t *p, *end;
};

static bool pbr_varint(struct pbr *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Next field's number and wire type; false at the end or on garbage. */
static bool pbr_field(struct pbr *r, uint64_t *field, int *wt)
{
    uint64_t tag;
    if (r->p >= r->end || !pbr_varint(r, &tag)) {
        return false;
    }
    *field = tag >> 3;
    *wt = (int)(tag & 7);
    return true;
}

/* Reads a LEN field's payload into sub (r must be just past the tag). */
static bool pbr_sub(struct pbr *r, struct pbr *sub)
{
    uint64_t len;
    if (!pbr_varint(r, &len) || len > (uint64_t)(r->end - r->p)) {
        return false;
    }
    sub->p = r->p;
    sub->end = r->p + len;
    r->p += len;
    return true;
}

static bool pbr_skip(struct pbr *r, int wt)
{
    uint64_t v;
    struct pbr sub;
    switch (wt) {
    case 0: return pbr_varint(r, &v);
    case 1: if (r->end - r->p < 8) return false; r->p += 8; return true;
    case 2: return pbr_sub(r, &sub);
    case 5: if (r->end - r->p < 4) return false; r->p += 4; return true;
    default: return false;
    }
}

struct bench_answer {
    uint64_t id;
    int body;               /* 0 none, 2 error, 3 get_online_features, other */
    uint64_t code;
    char msg[200];
    size_t nresults;
    bool rows_ok;           /* every result has opt.batch statuses */
    uint64_t statuses[5];
    uint64_t rows_written, rows_stale;     /* body 7 (write_features) */
};

static bool bench_walk(const uint8_t *p, size_t n, struct bench_answer *a)
{
    struct pbr r = { p, p + n }, sub, fv, st;
    uint64_t f, v;
    int wt;
    memset(a, 0, sizeof(*a));
    a->rows_ok = true;
    while (pbr_field(&r, &f, &wt)) {
        if (f == 1 && wt == 0) {
            if (!pbr_varint(&r, &a->id)) return false;
        } else if (f == 7 && wt == 2) {
            a->body = 7;
            if (!pbr_sub(&r, &sub)) return false;
            while (pbr_field(&sub, &f, &wt)) {
                if ((f == 1 || f == 2) && wt == 0) {
                    if (!pbr_varint(&sub, f == 1 ? &a->rows_written : &a->rows_stale)) return false;
                } else if (!pbr_skip(&sub, wt)) {
                    return false;
                }
            }
        } else if ((f == 2 || f == 3) && wt == 2) {
            a->body = (int)f;
            if (!pbr_sub(&r, &sub)) return false;
            while (pbr_field(&sub, &f, &wt)) {
                if (a->body == 2 && f == 1 && wt == 0) {
                    if (!pbr_varint(&sub, &a->code)) return false;
                } else if (a->body == 2 && f == 2 && wt == 2) {
                    struct pbr m;
                    if (!pbr_sub(&sub, &m)) return false;
                    size_t len = (size_t)(m.end - m.p) < sizeof(a->msg) - 1 ? (size_t)(m.end - m.p)
                                                                            : sizeof(a->msg) - 1;
                    memcpy(a->msg, m.p, len);
                    a->msg[len] = '\0';
                } else if (a->body == 3 && f == 2 && wt == 2) {
                    if (!pbr_sub(&sub, &fv)) return false;
                    a->nresults++;
                    size_t rows = 0;
                    while (pbr_field(&fv, &f, &wt)) {
                        if (f == 2 && wt == 2) {
                            if (!pbr_sub(&fv, &st)) return false;
                            while (st.p < st.end) {
                                if (!pbr_varint(&st, &v)) return false;
                                a->statuses[v < 5 ? v : 0]++;
                                rows++;
                            }
                        } else if (!pbr_skip(&fv, wt)) {
                            return false;
                        }
                    }
                    a->rows_ok &= rows == (size_t)opt.batch;
                } else if (!pbr_skip(&sub, wt)) {
                    return false;
                }
            }
        } else if (!pbr_skip(&r, wt)) {
            return false;
        }
    }
    return r.p == r.end;
}

/* Records the latency of request id answered at now (measured phase
 * only; false otherwise): from the intended send, from the actual send, and
 * a stall entry when over --stall-ms. */
static bool bench_done(struct bthread *t, struct bconn *c, uint64_t id, int64_t now)
{
    size_t slot = id % (uint64_t)c->ring;
    int64_t sent = c->sent_at[slot];
    int64_t real = c->sent_real[slot];
    if (bench_phase != 1) {
        return false;
    }
    t->requests++;
    uint64_t lat = (uint64_t)(now - sent);
    hist_add(&t->hist, lat);
    hist_add(&t->service, (uint64_t)(now - real));
    if (t->rate > 0 && (double)lat > opt.stall_ms * 1000.0) {
        /* a uniform sample of all stalls (reservoir), from a generator of
         * its own so that the key sequence does not depend on them */
        struct stall e = { sent + mono_to_unix_us, lat, (uint64_t)(real > sent ? real - sent : 0) };
        t->stalls_total++;
        if (t->nstalls < STALL_MAX) {
            t->stalls[t->nstalls++] = e;
        } else {
            uint64_t j = rng_next(&t->stall_rng) % t->stalls_total;
            if (j < STALL_MAX) {
                t->stalls[j] = e;
            }
        }
    }
    return true;
}

static void bench_handle_response(struct bthread *t, struct bconn *c, const uint8_t *p, size_t n)
{

    int64_t now = now_us();
    struct bench_answer a;
    c->inflight--;
    if (!bench_walk(p, n, &a)) {
        t->io_errors++;
        snprintf(t->last_error, sizeof(t->last_error), "undecodable response");
        return;
    }
    if (!bench_done(t, c, a.id, now)) {
        return;
    }
    if (a.body == 2) {
        t->errors++;
        if (a.code < 6) {
            t->error_codes[a.code]++;
        }
        snprintf(t->last_error, sizeof(t->last_error), "%s", a.msg);
    } else if (a.body == 7 && opt.write) {
        t->rows_written += a.rows_written;
        t->rows_stale += a.rows_stale;
        if (a.rows_written + a.rows_stale != (uint64_t)opt.rows_per_request) {
            t->io_errors++;
            snprintf(t->last_error, sizeof(t->last_error), "rows written + stale != rows sent");
        }
    } else if (a.body == 3) {
        if (a.nresults != (size_t)opt.nfeatures) {
            t->io_errors++;
            snprintf(t->last_error, sizeof(t->last_error), "wrong number of results");
        }
        if (!a.rows_ok) {
            t->io_errors++;
            snprintf(t->last_error, sizeof(t->last_error), "wrong number of rows");
        }
        for (int s = 0; s < 5; s++) {
            t->statuses[s] += a.statuses[s];
            t->values += a.statuses[s];
        }
    } else {
        t->io_errors++;
        snprintf(t->last_error, sizeof(t->last_error), "unexpected response body");
    }
}

/* Redis target: takes the complete replies of the oldest requests off
 * c->in (Redis answers in order). -1 on garbage. */
static int bench_read_redis(struct bthread *t, struct bconn *c)
{
    size_t off = 0;
    while (c->inflight > 0) {
        const char *why;
        uint64_t id = c->done_id;
        struct bench_redis_tally tally = { 0 };
        long n = bench_redis_scan(redis_target, (const char *)c->in + off, c->inlen - off,
                                  c->ndistinct[id % (uint64_t)c->ring], &tally, &why);
        if (n < 0) {
            snprintf(t->last_error, sizeof(t->last_error), "%s", why);
            return -1;
        }
        if (n == 0) {
            break;
        }
        off += (size_t)n;
        c->done_id++;
        c->inflight--;
        if (!bench_done(t, c, id, now_us())) {
            continue;
        }
        t->redis.rows_found += tally.rows_found;
        t->redis.rows_missing += tally.rows_missing;
        t->redis.stale_gen += tally.stale_gen;
        t->redis.errors += tally.errors;
        t->statuses[1] += tally.rows_found;     /* PRESENT */
        t->statuses[3] += tally.rows_missing;   /* NOT_FOUND */
        t->values += tally.rows_found + tally.rows_missing;
        if (tally.errors || tally.stale_gen) {
            t->errors++;
            snprintf(t->last_error, sizeof(t->last_error), "%s",
                     tally.errors ? "Redis answered an error" : "a view's current generation changed");
        }
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
    return 0;
}

/* Reads what is available (one read(2) unless it fills the buffer) and
 * handles whole frames (or Redis replies). -1 on close/error. */

static int bench_read(struct bthread *t, struct bconn *c)
{
    for (;;) {
        buf_reserve(&c->in, &c->incap, c->inlen + 65536);
        size_t room = c->incap - c->inlen;
        ssize_t r = bench_sock_io(c->fd, c->ssl, c->in + c->inlen, room, false);
        if (r > 0) {
            c->inlen += (size_t)r;
            if ((size_t)r == room || (c->ssl != NULL && SSL_pending(c->ssl) > 0)) {
                continue;   /* (TLS: the rest of a record OpenSSL already decrypted) */
            }
            break;
        }
        if (r == 0) {
            snprintf(t->last_error, sizeof(t->last_error), "server closed the connection");
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        if (errno == EINTR) {
            continue;
        }
        snprintf(t->last_error, sizeof(t->last_error), "read: %s", strerror(errno));
        return -1;
    }
    if (redis_target) {
        return bench_read_redis(t, c);
    }
    size_t off = 0;
    while (c->inlen - off >= 4) {
        const uint8_t *h = c->in + off;
        size_t n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
        if (n > (256u << 20)) {
            snprintf(t->last_error, sizeof(t->last_error), "response frame of %zu bytes", n);
            return -1;
        }
        if (c->inlen - off - 4 < n) {
            break;
        }
        bench_handle_response(t, c, h + 4, n);
        off += 4 + n;
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
    return 0;
}

static int bench_write(struct bthread *t, struct bconn *c)
{
    while (c->outoff < c->out.len) {
        ssize_t w = bench_sock_io(c->fd, c->ssl, c->out.data + c->outoff, c->out.len - c->outoff,
                                  true);
        if (w > 0) {
            c->outoff += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            snprintf(t->last_error, sizeof(t->last_error), "write: %s", strerror(errno));
            return -1;
        }
    }
    c->outoff = c->out.len = 0;
    return 0;
}

/* Closes a connection that failed (counted as an I/O error). */
static void bench_drop(struct bthread *t, struct bconn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    t->alive--;
    t->io_errors++;
}

/* Writes what c has queued; while the socket is full, c is registered for
 * EPOLLOUT (and unregistered once drained). On error c is closed. */
static void bench_flush(struct bthread *t, struct bconn *c)
{
    if (c->fd < 0) {
        return;
    }
    if (bench_write(t, c) != 0) {
        bench_drop(t, c);
        return;
    }
    bool want = c->out.len > c->outoff;
    if (want != c->want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
    }
}

/* Closed loop: tops c up to the pipeline depth and sends. */
static void bench_refill(struct bthread *t, struct bconn *c)
{
    if (c->fd < 0) {
        return;
    }
    int64_t now = now_us();
    while (c->inflight < opt.pipeline) {
        bench_queue_request(t, c, now);
    }
    bench_flush(t, c);
}

/* epoll_wait with a microsecond timeout: epoll_pwait2 where the kernel has
 * it (a millisecond timeout would round a sub-millisecond wait to 0 and spin
 * a core in the open loop), else epoll_wait rounding up. */
static int bench_wait(int epfd, struct epoll_event *evs, int max, int64_t wait_us)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    static _Atomic bool no_pwait2;
    if (!no_pwait2) {
        struct timespec ts = { (time_t)(wait_us / 1000000), (long)(wait_us % 1000000) * 1000 };
        int n = epoll_pwait2(epfd, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        no_pwait2 = true;
    }
#endif
    return epoll_wait(epfd, evs, max, (int)((wait_us + 999) / 1000));
}

static void *bench_thread(void *arg)
{
    struct bthread *t = arg;
    struct epoll_event evs[256];
    /* wake exactly when a send is due: the default 50 us timer slack would
     * make every open-loop send that late (it shows as send lag) */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    int64_t interval_ns = t->rate > 0 ? (int64_t)(1e9 / t->rate) : 0;
    int64_t next_due_ns = now_us() * 1000;
    uint64_t backlog = 0;
    int rr = 0;
    if (t->rate <= 0) {
        for (int i = 0; i < t->nconns; i++) {
            bench_refill(t, &t->conns[i]);
        }
    }
    while (bench_phase != 2 && t->alive > 0) {
        int64_t wait_us = 10000;
        if (t->rate > 0) {
            /* requests due by now (intended times), sent on connections with room */
            int64_t now = now_us();
            while (next_due_ns <= now * 1000) {
                backlog++;
                next_due_ns += interval_ns;
            }
            int tries = 0;
            while (backlog > 0 && tries < t->nconns) {
                struct bconn *c = &t->conns[rr];
                rr = (rr + 1) % t->nconns;
                if (c->fd >= 0 && c->inflight < opt.pipeline) {
                    int64_t intended = (next_due_ns - (int64_t)backlog * interval_ns) / 1000;
                    bench_queue_request(t, c, intended);
                    bench_flush(t, c);
                    backlog--;
                    tries = 0;
                } else {
                    tries++;
                }
            }
            /* sleep exactly until the next due send, at most 10 ms */
            wait_us = next_due_ns / 1000 - now_us();
            if (wait_us < 0) {
                wait_us = 0;
            } else if (wait_us > 10000) {
                wait_us = 10000;
            }
        }
        int n = bench_wait(t->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_us);
        /* all answers first, then the next requests: an answer's clock must
         * not run while the generator writes other connections' requests */
        for (int i = 0; i < n; i++) {
            struct bconn *c = evs[i].data.ptr;
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
                bench_read(t, c) != 0) {
                bench_drop(t, c);
            }
        }
        for (int i = 0; i < n; i++) {
            struct bconn *c = evs[i].data.ptr;
            if (c->fd < 0) {
                continue;
            }
            if (t->rate <= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                bench_refill(t, c);     /* stamps each request just before its write */
            } else if (evs[i].events & EPOLLOUT) {
                bench_flush(t, c);
            }
        }
    }
    return NULL;
}

/* ---- main ---- */

/* ,"name":{"p50":..,"p90":..,"p99":..,"p999":..,"max":..} */
static void print_hist_json(const char *name, const struct hist *h)
{
    printf(",\"%s\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
           ",\"max\":%" PRIu64 "}", name, hist_pct(h, 50), hist_pct(h, 90), hist_pct(h, 99), hist_pct(h, 99.9),
           h->max);
}

/* ,"stalls":{"threshold_us":..,"count":..,"events":[[due_unix_ms,latency_us,lag_us],...]}
 * (open loop; count = all of them, events = a uniform sample of at most
 * STALL_MAX per thread, each thread's in time order) */
static int stall_cmp(const void *a, const void *b)
{
    const struct stall *x = a, *y = b;
    return (x->due_unix_us > y->due_unix_us) - (x->due_unix_us < y->due_unix_us);
}

static void print_stalls_json(struct bthread *th, uint64_t total)
{
    printf(",\"stalls\":{\"threshold_us\":%.0f,\"count\":%" PRIu64 ",\"events\":[", opt.stall_ms * 1000.0,
           total);
    bool first = true;
    for (int i = 0; i < opt.threads; i++) {
        qsort(th[i].stalls, (size_t)th[i].nstalls, sizeof(struct stall), stall_cmp);
        for (int k = 0; k < th[i].nstalls; k++) {
            const struct stall *e = &th[i].stalls[k];
            printf("%s[%.3f,%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", (double)e->due_unix_us / 1000.0,
                   e->latency_us, e->lag_us);
            first = false;
        }
    }
    printf("]}");
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: featd-bench [options]\n"
        "  --host H --port P         featd address (127.0.0.1 6566; Redis target: the config's)\n"
        "  -c, --connections N       connections (50)\n"
        "  -t, --threads N           generator threads (2)\n"
        "  -P, --pipeline N          requests in flight per connection (1)\n"
        "  -d, --duration S          measured seconds (10)\n"
        "  -w, --warmup S            unmeasured seconds first (1)\n"
        "  -r, --rate R              open loop: total requests/s (default: closed loop)\n"
        "  -b, --batch N             entities per request (1, max 1024)\n"
        "  -n, --entities N          key space 1..N (1000000)\n"
        "  --zipf [S]                Zipfian keys with exponent S (0.99); default uniform\n"
        "  -k, --join-key NAME       int64 join key (customer_id)\n"
        "  -f, --features LIST       comma-separated view:feature refs (required)\n"
        "  --deadline MS             per-request deadline sent to featd (0 = server default)\n"
        "  --seed N                  key generator seed (42)\n"
        "  --json                    machine-readable result\n"
        "  --stall-ms MS             open loop: list requests slower than this (10) with their time\n"
        "  --redis featd|get         Redis alone: send featd's commands (or one HGET per row)\n"
        "                            for the same entities and views to featd's Redis\n"
        "  --config FILE             featd config (with --redis: views, key prefix, address)\n"
        "  --token TOKEN             authenticate every connection (default $FEATD_TOKEN)\n"
        "  --tls                     TLS to featd, verified against the system's CAs\n"
        "  --tls-ca FILE             TLS, verified against this PEM CA bundle\n"
        "  --tls-server-name NAME    the certificate name to verify (default --host)\n"
        "  --write                   WriteFeatures requests instead of lookups (needs --view)\n"
        "  --view V                  --write: the view written (schema from featd)\n"
        "  --rows-per-request N      --write: rows per request (1000)\n"
        "  --event-spread S          --write: random event times within the last S seconds (3600)\n");
}

/* Closes and frees what main set up (after the threads were joined). */
static void bench_free(struct bthread *th)
{
    for (int i = 0; i < opt.threads; i++) {
        for (int k = 0; k < th[i].nconns; k++) {
            struct bconn *c = &th[i].conns[k];
            SSL_free(c->ssl);
            if (c->fd >= 0) {
                close(c->fd);
            }
            free(c->in);
            fbuf_free(&c->out);
            free(c->sent_at);
            free(c->sent_real);
            free(c->ndistinct);
        }
        free(th[i].conns);
        free(th[i].stalls);
        fbuf_free(&th[i].key);
        close(th[i].epfd);
    }
    free(th);
    bench_redis_free(redis_target);
    redis_target = NULL;
    SSL_CTX_free(bench_tls);
    bench_tls = NULL;
    for (int k = 0; k < WRITE_VARIANTS; k++) {
        free(write_body[k]);
        write_body[k] = NULL;
    }
}

static char **split_features(const char *s, int *n)
{
    char *copy = strdup(s);
    int cap = 8;
    char **out = malloc(sizeof(char *) * (size_t)cap);
    *n = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == cap) {
            cap *= 2;
            out = realloc(out, sizeof(char *) * (size_t)cap);
        }
        out[(*n)++] = tok;
    }
    return out;
}

/* Parses argv into opt. Returns -1 to go on, or the exit status (0 after
 * --help, 2 after a bad option). */
static int bench_parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        { "host", required_argument, 0, 'H' }, { "port", required_argument, 0, 'p' },
        { "connections", required_argument, 0, 'c' }, { "threads", required_argument, 0, 't' },
        { "pipeline", required_argument, 0, 'P' }, { "duration", required_argument, 0, 'd' },
        { "warmup", required_argument, 0, 'w' }, { "rate", required_argument, 0, 'r' },
        { "batch", required_argument, 0, 'b' }, { "entities", required_argument, 0, 'n' },
        { "zipf", optional_argument, 0, 'z' }, { "join-key", required_argument, 0, 'k' },
        { "features", required_argument, 0, 'f' }, { "deadline", required_argument, 0, 'D' },
        { "seed", required_argument, 0, 'S' }, { "json", no_argument, 0, 'j' },
        { "stall-ms", required_argument, 0, 'T' }, { "redis", required_argument, 0, 'R' },
        { "config", required_argument, 0, 'C' }, { "token", required_argument, 0, 'A' },
        { "tls", no_argument, 0, 'L' }, { "tls-ca", required_argument, 0, 'a' },
        { "tls-server-name", required_argument, 0, 'N' },
        { "write", no_argument, 0, 'W' }, { "view", required_argument, 0, 'V' },
        { "rows-per-request", required_argument, 0, 'B' },
        { "event-spread", required_argument, 0, 'E' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int ch;
    const char *env_token = getenv("FEATD_TOKEN");
    if (env_token != NULL && env_token[0] != '\0') {
        opt.token = env_token;
    }
    while ((ch = getopt_long(argc, argv, "c:t:P:d:w:r:b:n:k:f:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'H': opt.host = optarg; opt.addr_given = true; break;
        case 'p': opt.port = atoi(optarg); opt.addr_given = true; break;
        case 'T': opt.stall_ms = atof(optarg); break;
        case 'R': opt.redis_cmd = optarg; break;
        case 'C': opt.config = optarg; break;
        case 'A': opt.token = optarg; break;
        case 'L': opt.tls = true; break;
        case 'a': opt.tls = true; opt.tls_ca = optarg; break;
        case 'N': opt.tls_name = optarg; break;
        case 'W': opt.write = true; break;
        case 'V': opt.view = optarg; break;
        case 'B': opt.rows_per_request = atoi(optarg); break;
        case 'E': opt.event_spread_s = atof(optarg); break;
        case 'c': opt.connections = atoi(optarg); break;
        case 't': opt.threads = atoi(optarg); break;
        case 'P': opt.pipeline = atoi(optarg); break;
        case 'd': opt.duration_s = atof(optarg); break;
        case 'w': opt.warmup_s = atof(optarg); break;
        case 'r': opt.rate = atof(optarg); break;
        case 'b': opt.batch = atoi(optarg); break;
        case 'n': opt.entities = strtoull(optarg, NULL, 10); break;
        case 'z': opt.zipf = true; if (optarg) opt.zipf_s = atof(optarg); break;
        case 'k': opt.join_key = optarg; break;
        case 'f': opt.features = split_features(optarg, &opt.nfeatures); break;
        case 'D': opt.deadline_ms = atoi(optarg); break;
        case 'S': opt.seed = strtoull(optarg, NULL, 10); break;
        case 'j': opt.json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((opt.write && (opt.view == NULL || opt.redis_cmd || opt.rows_per_request < 1 ||
                       opt.rows_per_request > 1000000 || opt.event_spread_s < 0)) ||
        (opt.nfeatures == 0 && !opt.write) || opt.connections < 1 || opt.threads < 1 || opt.pipeline < 1 ||
        opt.batch < 1 || opt.batch > 1024 || opt.entities < 1 || opt.duration_s <= 0 ||
        opt.rate < 0 || (opt.zipf && opt.zipf_s <= 0) || opt.stall_ms <= 0 ||
        (opt.redis_cmd && (opt.config == NULL ||
                           (strcmp(opt.redis_cmd, "featd") != 0 && strcmp(opt.redis_cmd, "get") != 0)))) {
        fprintf(stderr, "featd-bench: bad or missing options (--features is required, or --write "
                "--view V; --redis takes featd or get and needs --config)\n");
        usage(stderr);
        return 2;
    }
    if (opt.threads > opt.connections) {
        opt.threads = opt.connections;
    }
    return -1;
}

/* Opens the Redis target (--redis) and the clock offset, then creates the
 * threads' state and connects every connection. 0, or 1 after a message. */
static int bench_setup(struct bthread **out)
{
    char err[512];
    if (opt.redis_cmd) {
        redis_target = bench_redis_open(opt.config,
                                        strcmp(opt.redis_cmd, "get") == 0 ? BENCH_REDIS_GET : BENCH_REDIS_FEATD,
                                        opt.features, opt.nfeatures, err, sizeof(err));
        if (redis_target == NULL) {
            fprintf(stderr, "featd-bench: %s\n", err);
            return 1;
        }
        if (!opt.addr_given) {
            opt.host = bench_redis_host(redis_target);
            opt.port = bench_redis_port(redis_target);
        }
    }
    if (opt.tls && !opt.redis_cmd) {
        bench_tls = SSL_CTX_new(TLS_client_method());
        if (bench_tls == NULL ||
            SSL_CTX_set_min_proto_version(bench_tls, TLS1_2_VERSION) != 1 ||
            (opt.tls_ca ? SSL_CTX_load_verify_locations(bench_tls, opt.tls_ca, NULL)
                        : SSL_CTX_set_default_verify_paths(bench_tls)) != 1) {
            fprintf(stderr, "featd-bench: TLS: %s: cannot load the CA bundle\n",
                    opt.tls_ca ? opt.tls_ca : "(system)");
            return 1;
        }
        SSL_CTX_set_verify(bench_tls, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_mode(bench_tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    {
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        mono_to_unix_us = (int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000 - now_us();
    }
    if (opt.write && bench_write_setup() != 0) {
        return 1;
    }

    struct bthread *th = calloc((size_t)opt.threads, sizeof(*th));
    int ring = opt.pipeline * 2 + 16;
    for (int i = 0; i < opt.threads; i++) {
        struct bthread *t = &th[i];
        t->idx = i;
        t->nconns = opt.connections / opt.threads + (i < opt.connections % opt.threads);
        t->conns = calloc((size_t)t->nconns, sizeof(*t->conns));
        t->rng.s = opt.seed * 1000003 + (uint64_t)i;
        t->rate = opt.rate / opt.threads;
        t->stalls = calloc(STALL_MAX, sizeof(*t->stalls));
        t->stall_rng.s = opt.seed ^ 0x5bd1e995u ^ (uint64_t)i;
        t->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (t->epfd < 0) {
            fprintf(stderr, "featd-bench: epoll_create1: %s\n", strerror(errno));
            return 1;
        }
        if (opt.zipf) {
            zipf_init(&t->zipf, opt.entities, opt.zipf_s);
        }
        for (int k = 0; k < t->nconns; k++) {
            struct bconn *c = &t->conns[k];
            c->fd = bench_connect(&c->ssl, err, sizeof(err));
            if (c->fd < 0) {
                fprintf(stderr, "featd-bench: %s\n", err);
                return 1;
            }
            c->ring = ring;
            c->sent_at = calloc((size_t)ring, sizeof(int64_t));
            c->sent_real = calloc((size_t)ring, sizeof(int64_t));
            c->ndistinct = calloc((size_t)ring, sizeof(int));
            c->next_id = 1;
            c->done_id = 1;
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
                fprintf(stderr, "featd-bench: epoll_ctl: %s\n", strerror(errno));
                return 1;
            }
            t->alive++;
        }
    }
    *out = th;
    return 0;
}

/* The run's totals over all threads. */
struct bench_totals {
    struct hist all, lag, service;
    struct bench_redis_tally rt;
    uint64_t stalls_total;
    uint64_t reqs, errs, ioerr, values, st[5], codes[6];
    uint64_t rows_written, rows_stale;
    const char *last_error;
    double elapsed, rps;
};

static const char *const bench_status_names[5] = { "INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND",
                                                   "OUTSIDE_MAX_AGE" };
static const char *const bench_code_names[6] = { "OK", "INVALID_ARGUMENT", "UNAVAILABLE",
                                                 "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED",
                                                 "INTERNAL" };

/* Starts the threads, runs the warmup and the measured duration, joins the
 * threads and sums their counters into T. */
static void bench_run(struct bthread *th, struct bench_totals *T)
{
    bench_phase = opt.warmup_s > 0 ? 0 : 1;
    for (int i = 0; i < opt.threads; i++) {
        pthread_create(&th[i].tid, NULL, bench_thread, &th[i]);
    }
    if (opt.warmup_s > 0) {
        usleep((useconds_t)(opt.warmup_s * 1e6));
        bench_phase = 1;
    }
    int64_t t0 = now_us();
    usleep((useconds_t)(opt.duration_s * 1e6));
    bench_phase = 2;
    T->elapsed = (double)(now_us() - t0) / 1e6;
    T->last_error = "";
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(th[i].tid, NULL);
        hist_merge(&T->all, &th[i].hist);
        hist_merge(&T->lag, &th[i].lag);
        hist_merge(&T->service, &th[i].service);
        T->stalls_total += th[i].stalls_total;
        T->rt.rows_found += th[i].redis.rows_found;
        T->rt.rows_missing += th[i].redis.rows_missing;
        T->rt.stale_gen += th[i].redis.stale_gen;
        T->rt.errors += th[i].redis.errors;
        T->reqs += th[i].requests;
        T->errs += th[i].errors;
        T->ioerr += th[i].io_errors;
        T->values += th[i].values;
        T->rows_written += th[i].rows_written;
        T->rows_stale += th[i].rows_stale;
        for (int s = 0; s < 5; s++) {
            T->st[s] += th[i].statuses[s];
        }
        for (int s = 0; s < 6; s++) {
            T->codes[s] += th[i].error_codes[s];
        }
        if (th[i].last_error[0]) {
            T->last_error = th[i].last_error;
        }
    }
    T->rps = (double)T->reqs / T->elapsed;
}

/* --json: one line. */
static void bench_report_json(const struct bench_totals *T, struct bthread *th)
{
    const char *const *sn = bench_status_names;
    const char *const *cn = bench_code_names;
    /* the new sections come before latency_us, so that scripts taking the
     * last "p99" / "max" / "errors" of the line still read the latency's */
    printf("{\"mode\":\"%s\",\"target\":\"%s%s\",\"connections\":%d,\"threads\":%d,\"pipeline\":%d,"
           "\"batch\":%d,\"features\":%d,\"target_rate\":%.0f,\"duration_s\":%.3f,\"requests\":%" PRIu64
           ",\"requests_per_s\":%.1f,\"entities_per_s\":%.1f,\"errors\":%" PRIu64 ",\"io_errors\":%" PRIu64,
           opt.rate > 0 ? "open" : "closed", opt.redis_cmd ? "redis-" : "featd",
           opt.redis_cmd ? opt.redis_cmd : "", opt.connections, opt.threads, opt.pipeline, opt.batch,
           opt.nfeatures, opt.rate, T->elapsed, T->reqs, T->rps, T->rps * opt.batch, T->errs, T->ioerr);
    print_hist_json("send_lag_us", &T->lag);
    print_hist_json("service_us", &T->service);
    print_stalls_json(th, T->stalls_total);
    if (opt.write) {
        printf(",\"write\":{\"view\":\"%s\",\"rows_per_request\":%d,\"rows_written\":%" PRIu64
               ",\"rows_stale\":%" PRIu64 ",\"rows_per_s\":%.1f}", opt.view, opt.rows_per_request,
               T->rows_written, T->rows_stale, (double)(T->rows_written + T->rows_stale) / T->elapsed);
    }
    if (redis_target) {
        printf(",\"redis\":{\"views\":%zu,\"rows_found\":%" PRIu64 ",\"rows_missing\":%" PRIu64
               ",\"stale_gen\":%" PRIu64 ",\"error_replies\":%" PRIu64 "}", bench_redis_nviews(redis_target),
               T->rt.rows_found, T->rt.rows_missing, T->rt.stale_gen, T->rt.errors);
    }
    printf(",\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
           ",\"max\":%" PRIu64 ",\"mean\":%.1f},\"statuses\":{",
           hist_pct(&T->all, 50), hist_pct(&T->all, 90), hist_pct(&T->all, 99), hist_pct(&T->all, 99.9), T->all.max,
           T->all.total ? T->all.sum / (double)T->all.total : 0.0);
    for (int s = 0; s < 5; s++) {
        printf("%s\"%s\":%" PRIu64, s ? "," : "", sn[s], T->st[s]);
    }
    printf("},\"error_codes\":{");
    for (int s = 1; s < 6; s++) {
        printf("%s\"%s\":%" PRIu64, s > 1 ? "," : "", cn[s], T->codes[s]);
    }
    printf("}}\n");
}

/* The report for people. */
static void bench_report_text(const struct bench_totals *T)
{
    const char *const *sn = bench_status_names;
    const char *const *cn = bench_code_names;
    printf("featd-bench: %s%s, %s loop, %d connections x pipeline %d, %d threads, batch %d, %d features%s\n",
           opt.redis_cmd ? "Redis alone: " : "featd", opt.redis_cmd ? opt.redis_cmd : "",
           opt.rate > 0 ? "open" : "closed", opt.connections, opt.pipeline, opt.threads, opt.batch,
           opt.nfeatures, opt.zipf ? ", zipf keys" : ", uniform keys");
    if (opt.rate > 0) {
        printf("  target rate      %.0f req/s\n", opt.rate);
    }
    printf("  requests         %" PRIu64 " in %.2f s = %.0f req/s (%.0f entities/s)\n", T->reqs, T->elapsed,
           T->rps, T->rps * opt.batch);
    if (opt.write) {
        printf("  write            view %s, %d rows per request: %" PRIu64 " written, %" PRIu64
               " stale = %.0f rows/s\n", opt.view, opt.rows_per_request, T->rows_written,
               T->rows_stale, (double)(T->rows_written + T->rows_stale) / T->elapsed);
    }
    printf("  latency us       p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
           "  max %" PRIu64 "\n", hist_pct(&T->all, 50), hist_pct(&T->all, 90), hist_pct(&T->all, 99),
           hist_pct(&T->all, 99.9), T->all.max);
    printf("  values           %" PRIu64 ":", T->values);
    for (int s = 0; s < 5; s++) {
        if (T->st[s]) {
            printf(" %s %" PRIu64, sn[s], T->st[s]);
        }
    }
    printf("\n  errors           %" PRIu64 " request errors, %" PRIu64 " I/O errors\n", T->errs, T->ioerr);
    for (int s = 1; s < 6; s++) {
        if (T->codes[s]) {
            printf("                   %s %" PRIu64 "\n", cn[s], T->codes[s]);
        }
    }
    if (opt.rate > 0) {
        printf("  send lag us      p50 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64 "\n",
               hist_pct(&T->lag, 50), hist_pct(&T->lag, 99), hist_pct(&T->lag, 99.9), T->lag.max);
    }
    printf("  service us       p50 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64
           " (from the actual send)\n", hist_pct(&T->service, 50), hist_pct(&T->service, 99),
           hist_pct(&T->service, 99.9), T->service.max);
    printf("  stalls           %" PRIu64 " requests over %.1f ms\n", T->stalls_total, opt.stall_ms);
    if (T->last_error[0]) {
        printf("  last error       %s\n", T->last_error);
    }
}

int main(int argc, char **argv)
{
    int prc = bench_parse_args(argc, argv);
    if (prc >= 0) {
        return prc;
    }
    signal(SIGPIPE, SIG_IGN);
    struct bthread *th = NULL;
    if (bench_setup(&th) != 0) {
        return 1;
    }
    static struct bench_totals T;
    bench_run(th, &T);
    if (opt.json) {
        bench_report_json(&T, th);
    } else {
        bench_report_text(&T);
    }
    bench_free(th);
    return (T.errs || T.ioerr) ? 1 : 0;
}
