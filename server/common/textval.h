/*
 * textval.h — values written as text by outside producers, parsed: RFC 3339
 * timestamps and base64. libc only (linked into the daemon, libfeatd and
 * featd-cli); pure and thread-safe.
 */
#ifndef FEATD_TEXTVAL_H
#define FEATD_TEXTVAL_H

#include <stddef.h>
#include <stdint.h>

/* An RFC 3339 date-time ("2026-12-01T10:00:00.5Z", "+01:00" offsets, ' '
 * for 'T', up to 9 fraction digits of which 6 are kept), a date alone
 * (midnight UTC), or one without an offset (a naive time, taken as UTC, as
 * Feast sends them) into µs since the epoch. 0 (FEATD_OK) or -1. */
int textval_time_parse(const char *s, int64_t *us);

/* Decodes standard or URL-safe base64 (padding optional) of s[0..n) into
 * out, which holds at least TEXTVAL_BASE64_MAX(n) bytes. The decoded length,
 * or -1 when s is not base64. */
#define TEXTVAL_BASE64_MAX(n) ((n) / 4 * 3 + 3)
long textval_base64_decode(const char *s, size_t n, uint8_t *out);

#endif
