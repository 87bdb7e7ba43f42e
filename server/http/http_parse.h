/*
 * http_parse.h — HTTP/1.x request framing on flat bytes: the request line
 * and the headers featd acts on (Content-Length, Transfer-Encoding,
 * Connection, Authorization, Expect). No allocation, no I/O: the serving
 * port's HTTP connections (http/http_conn.c) and the fuzz harness
 * (tests/fuzz/fuzz_http.c) call it on the front of their input.
 *
 * Bounds: the request line and headers together at most HTTP_MAX_HEAD
 * bytes and HTTP_MAX_HEADERS lines (431 beyond); the body is bounded by the
 * caller (server.max_frame_bytes, 413). Bodies need Content-Length: a
 * Transfer-Encoding (chunked) body is refused with 411, as RFC 9112 allows a
 * server that does not read chunked requests. Lines end in CRLF or a bare
 * LF. Pure: any thread.
 */
#ifndef FEATD_HTTP_PARSE_H
#define FEATD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 16384         /* request line + headers + blank line */
#define HTTP_MAX_HEADERS 64         /* header lines */
#define HTTP_MAX_AUTH 1024          /* longest Authorization value read */

enum http_method {
    HTTP_GET = 0,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_OTHER                  /* any other token (PUT, DELETE, ...): routes answer 405/404 */
};

/* A parsed request head; the pointers are into the parsed bytes. */
struct http_head {
    enum http_method method;
    const char *method_s;       /* the method token as sent */
    size_t method_len;
    const char *path;           /* the target up to '?' (or its end) */
    size_t path_len;
    int minor;                  /* HTTP/1.<minor>: 0 or 1 */
    uint64_t content_length;    /* 0 without the header */
    bool keep_alive;            /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool expect_continue;       /* "Expect: 100-continue" */
    const char *auth;           /* Authorization value (trimmed), NULL when absent */
    size_t auth_len;
    size_t head_len;            /* bytes of the head, blank line included */
};

enum http_parse_status {
    HTTP_PARSE_OK = 0,          /* a whole head is in p[0..head_len) */
    HTTP_PARSE_MORE,            /* incomplete: read more (the caller bounds the wait) */
    HTTP_PARSE_FAIL             /* *status (400, 411, 431, 501, 505) and *why say what */
};

/* Does a connection starting with p[0..n) speak HTTP? 1 yes, 0 no (a
 * protobuf frame: its 4-byte length is below 2^30, so its first byte is at
 * most 0x40, while every method begins with an uppercase letter), -1 when
 * n is 0. */
int http_sniff(const uint8_t *p, size_t n);

/* Parses the head at the front of p[0..n) into *h. On HTTP_PARSE_FAIL,
 * *status is the HTTP status to answer and *why a static message. */
enum http_parse_status http_parse_head(const char *p, size_t n, struct http_head *h, int *status,
                                       const char **why);

#endif
