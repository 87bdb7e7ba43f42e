/*
 * metrics.h — counters and latency histograms, defined once in X-macro lists.
 * Each worker owns one struct metrics and is its only writer (plain relaxed
 * atomic stores, no locks, no lock prefix on the request path); readers (admin,
 * ServerInfo) sum all workers with metrics_sum(). Names are snake_case with
 * units. The request phases (enum metrics_phase) are observed by the
 * transport (net/conn.c) once an answer is written, from the timeline the
 * request layer hands it (struct metrics_req_trace).
 */
#ifndef FEATD_METRICS_H
#define FEATD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/metrics_ops.h"
#include "core/metrics_view.h"

/* ACTION(name, help) — monotonically increasing counters, per worker. */
#define METRICS_COUNTERS(ACTION) \
    ACTION(connections_accepted_total, "Client connections accepted") \
    ACTION(connections_rejected_total, "Client connections refused because max_connections was reached") \
    ACTION(connections_closed_total, "Client connections closed (any reason)") \
    ACTION(connections_handed_off_total, "Accepted connections passed to a less loaded worker") \
    ACTION(frames_too_large_total, "Frames above max_frame_bytes (connection closed)") \
    ACTION(idle_timeouts_total, "Connections closed after server.idle_timeout_ms without traffic") \
    ACTION(tls_handshakes_total, "TLS handshakes completed on the serving port") \
    ACTION(tls_handshake_failures_total, "TLS handshakes that failed (plaintext clients, bad or missing client certificates, protocol errors)") \
    ACTION(frame_timeouts_total, "Connections closed because a frame did not complete within server.frame_timeout_ms") \
    ACTION(decode_errors_total, "Frames that did not decode as a Request (connection closed)") \
    ACTION(output_limit_pauses_total, "Times reading a connection paused because its output did not drain") \
    ACTION(output_limit_refusals_total, "Answers replaced by RESOURCE_EXHAUSTED because the connection's unread output would pass max_output_bytes") \
    ACTION(client_memory_limit_closes_total, "Connections closed because client buffers passed max_client_memory_bytes and they held more than their share") \
    ACTION(frames_per_event_yields_total, "Times a connection yielded after the per-event frame cap") \
    ACTION(inflight_limit_hits_total, "Requests refused because max_inflight_requests was reached") \
    ACTION(redis_commands_total, "Redis commands sent by the lookup path") \
    ACTION(redis_errors_total, "Redis errors (error replies, disconnects, failed connects)") \
    ACTION(redis_reconnects_total, "Redis (re)connections established by workers") \
    ACTION(redis_topology_refreshes_total, "Slot maps read (CLUSTER SLOTS) or Sentinel masters learnt by workers") \
    ACTION(redis_node_limit_hits_total, "Commands failed because a worker already had a link to 256 Redis nodes (RTOPO_MAX_NODES)") \
    ACTION(redis_cluster_retries_total, "Commands resent after TRYAGAIN or LOADING from a cluster node") \
    ACTION(generation_retries_total, "Lookups re-read because a view's generation flipped meanwhile") \
    ACTION(read_window_retries_total, "Lookups re-read because their Redis round trip outlasted the read window (500 ms)") \
    ACTION(rows_corrupt_total, "Online rows that failed to decode (reported as INVALID)") \
    ACTION(entities_requested_total, "Entity rows requested in GetOnlineFeatures") \
    ACTION(keys_fetched_total, "Rows fetched from Redis (one per view and distinct entity)") \
    ACTION(slow_requests_total, "Requests whose phases added up to server.slow_request_ms or more") \
    ACTION(slow_request_logs_suppressed_total, "Slow requests not logged because of the per-worker log rate limit") \
    ACTION(answers_socket_full_total, "Answers whose connection's socket was full at the flush pass") \
    ACTION(rx_timestamps_missing_total, "Reads without a kernel receive timestamp (queued measured from the read)") \
    ACTION(answers_untraced_total, "Answers whose write phase was not measured: more answered in one loop iteration than the trace buffer holds (65536), or memory short") \
    ACTION(http_connections_total, "Serving-port connections that spoke HTTP/1.x (recognised by their first bytes)") \
    ACTION(http_requests_total, "HTTP requests read on the serving port") \
    ACTION(http_bad_requests_total, "HTTP requests refused as malformed on the serving port (400, 411, 417, 501, 505; connection closed)") \
    ACTION(http_headers_too_large_total, "HTTP requests whose request line and headers passed 16 KiB or 64 lines (431; connection closed)") \
    ACTION(http_bodies_too_large_total, "HTTP request bodies above server.max_frame_bytes (413; connection closed)")

/* Request types and error codes index the request counter matrix. */
enum metrics_req_type {
    MREQ_GET = 0,
    MREQ_PING,
    MREQ_LIST_VIEWS,
    MREQ_SERVER_INFO,
    MREQ_HTTP_GET,      /* JSON lookup on the admin port */
    MREQ_AUTH,          /* AuthRequest */
    MREQ_WRITE,         /* WriteFeatures (protobuf) */
    MREQ_HTTP_WRITE,    /* POST /push and /write-to-online-store (both ports) */
    MREQ__COUNT
};
#define METRICS_CODES 8             /* featd.v1.ErrorCode OK..PERMISSION_DENIED */
#define METRICS_REDIRECT_KINDS 2      /* moved, ask */
#define METRICS_STATUSES 5          /* featd.v1.FieldStatus INVALID..OUTSIDE_MAX_AGE */

/* Latency histogram buckets: upper bounds in µs; the last bucket is +Inf. */
#define METRICS_BUCKETS(ACTION) \
    ACTION(10) ACTION(25) ACTION(50) ACTION(100) ACTION(200) ACTION(300) ACTION(500) ACTION(750) \
    ACTION(1000) ACTION(2000) ACTION(5000) ACTION(10000) ACTION(25000) \
    ACTION(50000) ACTION(100000) ACTION(250000) ACTION(1000000)
#define METRICS_BUCKET_COUNT_(x) +1
#define METRICS_NBUCKETS (0 METRICS_BUCKETS(METRICS_BUCKET_COUNT_) + 1)

extern const uint64_t metrics_bucket_bounds[METRICS_NBUCKETS - 1];
extern const char *const metrics_req_type_names[MREQ__COUNT];
extern const char *const metrics_code_names[METRICS_CODES];
extern const char *const metrics_status_names[METRICS_STATUSES];
extern const char *const metrics_redirect_names[METRICS_REDIRECT_KINDS];

/* The phases of a request answered on a connection, in the order they
 * happen; they add up to the time from the kernel receiving the request's
 * last bytes to featd handing the answer to write(2):
 *   queued  kernel receive timestamp of the read that completed the frame ->
 *           handling starts (socket queue + event-loop delay)
 *   decode  handling starts -> the MGET is sent (for a request that needs no
 *           Redis: -> the answer is ready)
 *   redis   MGET sent -> its (last) reply (or the answer, e.g. at the deadline)
 *   encode  reply -> the answer is in the connection's output buffer
 *   write   answer ready -> the loop's flush pass writes the connection */
enum metrics_phase {
    MPHASE_QUEUED = 0,
    MPHASE_DECODE,
    MPHASE_REDIS,
    MPHASE_ENCODE,
    MPHASE_WRITE,
    MPHASE__COUNT
};
extern const char *const metrics_phase_names[MPHASE__COUNT];

/* One answered request's timeline, carried from its answer to the flush
 * pass that writes it (net/conn.c): monotonic µs, 0 = did not happen. */
struct metrics_req_trace {
    int64_t rx_us;          /* kernel receive time of the read that completed the frame */
    int64_t start_us;       /* handling began */
    int64_t sent_us;        /* the first MGET was sent */
    int64_t reply_us;       /* the last Redis reply arrived */
    int64_t ready_us;       /* the answer was ready */
    uint64_t id;            /* request id (for the slow-request log) */
    uint32_t entities;      /* GetOnlineFeatures: entity rows asked */
    uint32_t features;      /*   and features asked; else 0 */
    int type;               /* enum metrics_req_type */
};

struct metrics_hist {
    _Atomic uint64_t buckets[METRICS_NBUCKETS];  /* non-cumulative counts */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
};

#define METRICS_FIELD_(name, help) _Atomic uint64_t name;
struct metrics {
    METRICS_COUNTERS(METRICS_FIELD_)
    _Atomic uint64_t requests[MREQ__COUNT][METRICS_CODES];
    _Atomic uint64_t value_statuses[METRICS_STATUSES];
    _Atomic uint64_t inflight;          /* gauge: requests waiting on Redis */
    _Atomic uint64_t redis_connected;   /* gauge: 1 when this worker's links to every master are up */
    _Atomic uint64_t redis_nodes;       /* gauge: Redis nodes in this worker's map (masters + replicas) */
    _Atomic uint64_t redis_redirects[METRICS_REDIRECT_KINDS];  /* MOVED, ASK replies followed */
    struct metrics_hist request_latency;
    struct metrics_hist redis_latency;
    struct metrics_hist phase[MPHASE__COUNT];       /* every traced request */
    struct metrics_hist slow_phase[MPHASE__COUNT];  /* slow requests only */
    _Atomic uint64_t lookup_coverage[2];            /* featd_lookup_coverage_total{complete="false","true"} */
    struct metrics_view views[METRICS_MAX_VIEWS];   /* per-view series by slot (core/metrics_view.h) */
};
#undef METRICS_FIELD_


/* Counts one sample of us microseconds into h. Only h's owner (the worker
 * or thread whose struct metrics holds it) may call it; relaxed atomics. */
void metrics_observe(struct metrics_hist *h, uint64_t us);
/* Splits t, its answer handed to write(2) at written_us, into phase
 * durations (µs; never negative). Pure. */
void metrics_phases_split(const struct metrics_req_trace *t, int64_t written_us,
                          uint64_t us[MPHASE__COUNT]);
/* Observes us in m's phase histograms. When slow_us > 0 and the phases add
 * up to at least slow_us, also counts a slow request and observes the slow
 * histograms: returns true. The owning worker only (single writer). */
bool metrics_phases_observe(struct metrics *m, const uint64_t us[MPHASE__COUNT], uint64_t slow_us);
/* Adds every field of src into dst (dst is a plain snapshot, not shared). */
void metrics_sum(struct metrics *dst, const struct metrics *src);

/* Process-wide gauges (written by any thread with atomic add). */
extern _Atomic int64_t metrics_connections_open;
/* Bytes held by client connections' buffers (net/conn.c's accounting). */
extern _Atomic int64_t metrics_client_memory_bytes;

#endif
