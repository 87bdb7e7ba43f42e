/*
 * jsonw.h — the project's one JSON writer: string escaping with a UTF-8
 * policy, base64, shortest round-trip double and float, non-finite numbers,
 * integers and RFC 3339 times. libc only: it is linked into the daemon
 * (admin HTTP answers, JSON log lines), into libfeatd (value formatting)
 * and into featd-cli (the Parquet row dump).
 *
 * Output goes into a struct jsonw, one of two kinds:
 *   growable (jsonw_init)        the writer owns a malloc'd buffer and grows
 *                                it; on out of memory it stops growing and
 *                                jsonw_ok() turns false (check once at the
 *                                end, the calls before need no checks)
 *   fixed (jsonw_init_fixed)     the caller's array, snprintf-like: stores
 *                                the prefix that fits (cap - 1 bytes and a
 *                                NUL from jsonw_end) and counts everything,
 *                                so len is the full length
 * No callbacks: the fast path of every append is a bounds check and a
 * memcpy (jsonw_raw is inline). A writer belongs to one thread at a time.
 *
 * Strings. JSON strings escape '"', '\\', \b \f \n \r \t by their short
 * forms and every other byte below 0x20 as \u00xx (lowercase hex); DEL
 * (0x7F) is copied, as JSON allows (the Parquet fixtures expect it raw). Valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) is copied as it is. Each byte that does not start
 * a valid sequence is written according to the writer's bad_utf8 policy:
 *   JSONW_UTF8_REPLACE (default)  "\ufffd" (U+REPLACEMENT CHARACTER)
 *   JSONW_UTF8_BYTES              "\u00XX", XX = the byte (the Parquet
 *                                 dump's documented form: the byte value
 *                                 stays visible)
 * and scanning resumes at the next byte. The output is always valid UTF-8.
 */
#ifndef FEATD_COMMON_JSONW_H
#define FEATD_COMMON_JSONW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum jsonw_bad_utf8 {
    JSONW_UTF8_REPLACE = 0,     /* each invalid byte -> \ufffd */
    JSONW_UTF8_BYTES            /* each invalid byte -> \u00XX */
};

struct jsonw {
    char *buf;                  /* output (owned when growable) */
    size_t len;                 /* bytes produced; fixed: may exceed cap */
    size_t cap;                 /* bytes of buf */
    bool fixed;                 /* buf is the caller's array (snprintf-like) */
    bool failed;                /* growable: out of memory, output incomplete */
    enum jsonw_bad_utf8 bad_utf8;   /* what invalid UTF-8 becomes */
};

/* Longest outputs of the jsonw_fmt_* helpers, NUL included. */
#define JSONW_NUM_MAX 32
#define JSONW_TIME_MAX 40
/* jsonw_fmt_time: ".ffffff" only when the microseconds are not 0. */
#define JSONW_FRAC_AUTO (-1)

/* An empty growable writer (no allocation until the first append). */
void jsonw_init(struct jsonw *w);
/* A fixed writer over buf[cap] (buf may be NULL when cap is 0). */
void jsonw_init_fixed(struct jsonw *w, char *buf, size_t cap);
/* Empties the writer, keeping its memory; clears failed. */
void jsonw_reset(struct jsonw *w);
/* Frees a growable writer's buffer (a fixed one is left alone). */
void jsonw_free(struct jsonw *w);
/* NUL-terminates the output and returns it; NULL when a growable writer
 * ran out of memory. A fixed writer's text is the stored prefix. */
const char *jsonw_end(struct jsonw *w);
/* False once a growable writer ran out of memory. */
static inline bool jsonw_ok(const struct jsonw *w)
{
    return !w->failed;
}

/* Slow path of jsonw_raw (growing, or a fixed buffer that is full). */
void jsonw_raw_slow(struct jsonw *w, const void *p, size_t n);

/* Appends n bytes as they are (JSON punctuation, pre-rendered text). */
static inline void jsonw_raw(struct jsonw *w, const void *p, size_t n)
{
    if (w->len + n < w->cap) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    } else {
        jsonw_raw_slow(w, p, n);
    }
}

static inline void jsonw_lit(struct jsonw *w, const char *s)
{
    jsonw_raw(w, s, strlen(s));
}

static inline void jsonw_char(struct jsonw *w, char c)
{
    jsonw_raw(w, &c, 1);
}

/* s[0..n) as a quoted JSON string (escaping and UTF-8 policy above). */
void jsonw_str(struct jsonw *w, const char *s, size_t n);
/* A NUL-terminated string as a JSON string; NULL gives "". */
void jsonw_strz(struct jsonw *w, const char *s);
/*
 * The inside of a JSON string (no quotes) for s[0..n), stopping before the
 * writer's len would pass maxlen: an escape or a UTF-8 sequence is never
 * cut, so the output stays valid once the caller closes the quote. Returns
 * how many bytes of s were written (n when all fit).
 */
size_t jsonw_str_body(struct jsonw *w, const char *s, size_t n, size_t maxlen);
/*
 * s for people, not JSON: no quotes and '"' and '\\' as they are, but
 * control bytes escaped as in JSON strings (so the text stays on one line)
 * and each invalid UTF-8 byte written as the raw U+FFFD character.
 */
void jsonw_text(struct jsonw *w, const char *s, size_t n);
/*
 * The project's one UTF-8 sanitizer for text that leaves featd outside
 * JSON (protobuf `string` fields such as Error.message): s[0..n) written as
 * jsonw_text does into out[cap] (cap >= 1), NUL-terminated, cut before a
 * character or escape that would not fit (never inside one). Returns the
 * length written. out and s must not overlap. Any thread.
 */
size_t jsonw_text_fit(char *out, size_t cap, const char *s, size_t n);
/* printf-style into a buffer of cap bytes, then through jsonw_text_fit into
 * out[cap]: a request error message quoting request text (lookup and write
 * validation). */
size_t jsonw_text_fitv(char *out, size_t cap, const char *fmt, va_list ap);
/* True when s[0..n) is valid UTF-8 (the rules above; NUL bytes allowed). */
bool jsonw_utf8_valid(const char *s, size_t n);

/* v as a JSON number in decimal (all 64 bits; readers that parse numbers
 * as doubles lose precision past 2^53). */
void jsonw_i64(struct jsonw *w, int64_t v);
void jsonw_u64(struct jsonw *w, uint64_t v);
/* A JSON number: the shortest "%.<p>g" form that reads back (strtod /
 * strtof) as the same value, -0 as "-0"; NaN and infinities as the JSON
 * strings "NaN", "Infinity", "-Infinity". */
void jsonw_double(struct jsonw *w, double d);
void jsonw_float(struct jsonw *w, float f);
/* p[0..n) as a quoted standard base64 string with '=' padding. */
void jsonw_base64(struct jsonw *w, const void *p, size_t n);
/* µs since the epoch as a quoted RFC 3339 UTC string (jsonw_fmt_time with
 * JSONW_FRAC_AUTO). */
void jsonw_time(struct jsonw *w, int64_t us);

/* The bare text of jsonw_double / jsonw_float (NaN, Infinity, -Infinity
 * unquoted) into out[JSONW_NUM_MAX]; returns its length. */
size_t jsonw_fmt_double(char *out, double d);
size_t jsonw_fmt_float(char *out, float f);
/* jsonw_fmt_double without its exact fast path: the shortest "%.*g" that
 * reads back (the tests check the fast path against it). */
size_t jsonw_fmt_double_search(char *out, double d);
/*
 * µs since the epoch (any int64: proleptic Gregorian calendar, negative
 * years as "-0001") as "YYYY-MM-DDTHH:MM:SS[.f]Z" into out[JSONW_TIME_MAX];
 * returns its length. frac_digits 0..6 writes that many digits of the
 * fraction, truncated (3 = milliseconds); JSONW_FRAC_AUTO writes all six
 * when the microseconds are not 0 and none otherwise.
 */
size_t jsonw_fmt_time(char *out, int64_t us, int frac_digits);

#endif
