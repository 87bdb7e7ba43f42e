/*
 * util.h — small shared helpers: monotonic and wall clocks, checked
 * string->integer parsing, varint decoding, error buffers, FNV-1a. The
 * growable byte buffer is core/fbuf.h.
 */
#ifndef FEATD_UTIL_H
#define FEATD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

/* LEB128 unsigned varint (the writer is fbuf_put_varint in core/fbuf.h).
 * Reads a varint from p[0..len); returns bytes consumed, 0 on truncation/overflow. */
size_t util_get_varint(const uint8_t *p, size_t len, uint64_t *out);

int64_t util_now_us(void);        /* CLOCK_REALTIME, µs since the epoch */
int64_t util_mono_us(void);       /* CLOCK_MONOTONIC, µs */

/* Whole-string parse; false on junk, empty, or out of [min,max]. */
bool util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* vsnprintf into a caller's error buffer; a NULL or empty buffer is fine.
 * The one way modules fill the "char *err, size_t errlen" of their API. */
void util_seterr(char *err, size_t errlen, const char *fmt, ...) FEATD_PRINTF(3, 4);

/* strdup that aborts on OOM (startup/config only, never the request path). */
char *util_xstrdup(const char *s);

/* Writes at most cap-1 bytes; returns cap-1 when truncated. */
size_t util_strlcpy(char *dst, const char *src, size_t cap);

/* FNV-1a 64-bit hash of p[0..n) (pure, any thread), chainable: pass the previous result as h (start with
 * UTIL_FNV_INIT). */
#define UTIL_FNV_INIT 0xcbf29ce484222325ULL
uint64_t util_fnv1a(uint64_t h, const void *p, size_t n);
/* SHA-256 of p[0..n) (OpenSSL's libcrypto). Any thread. */
void util_sha256(const void *p, size_t n, uint8_t out[32]);

#endif
