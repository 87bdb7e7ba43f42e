/*
 * util.h — small shared helpers: a growable byte buffer, monotonic and wall
 * clocks, checked string->integer parsing, varints.
 */
#ifndef FEATD_UTIL_H
#define FEATD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

/* Growable byte buffer. Zero-initialise ({0}) before first use. */
struct fbuf {
    char *data;     /* NUL-terminated for convenience when len < cap */
    size_t len;
    size_t cap;
};

int fbuf_reserve(struct fbuf *b, size_t extra) FEATD_MUSTCHECK;
int fbuf_append(struct fbuf *b, const void *p, size_t n) FEATD_MUSTCHECK;
int fbuf_appendf(struct fbuf *b, const char *fmt, ...) FEATD_PRINTF(2, 3) FEATD_MUSTCHECK;
int fbuf_putc(struct fbuf *b, char c) FEATD_MUSTCHECK;
void fbuf_reset(struct fbuf *b);       /* len = 0, keeps memory */
void fbuf_free(struct fbuf *b);

/* LEB128 unsigned varint; fbuf_put_varint appends. */
int fbuf_put_varint(struct fbuf *b, uint64_t v) FEATD_MUSTCHECK;
/* Reads a varint from p[0..len); returns bytes consumed, 0 on truncation/overflow. */
size_t util_get_varint(const uint8_t *p, size_t len, uint64_t *out);

int64_t util_now_us(void);        /* CLOCK_REALTIME, µs since the epoch */
int64_t util_mono_us(void);       /* CLOCK_MONOTONIC, µs */

/* Whole-string parse; false on junk, empty, or out of [min,max]. */
bool util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* vsnprintf into a caller's error buffer; a NULL or empty buffer is fine.
 * The one way modules fill the "char *err, size_t errlen" of their API. */
void util_seterr(char *err, size_t errlen, const char *fmt, ...) FEATD_PRINTF(3, 4);
void util_vseterr(char *err, size_t errlen, const char *fmt, va_list ap) FEATD_PRINTF(3, 0);

/* strdup that aborts on OOM (startup/config only, never the request path). */
char *util_xstrdup(const char *s);

/* Writes at most cap-1 bytes; returns cap-1 when truncated. */
size_t util_strlcpy(char *dst, const char *src, size_t cap);

/* FNV-1a 64-bit hash, chainable: pass the previous result as h (start with
 * UTIL_FNV_INIT). */
#define UTIL_FNV_INIT 0xcbf29ce484222325ULL
uint64_t util_fnv1a(uint64_t h, const void *p, size_t n);

#endif
