/*
 * online_row.h — the online tier's packed row codec and storage TTLs. Pure
 * functions: any thread may call them (online_row_decode runs on workers for
 * every key of a lookup and never allocates).
 *
 * Row value (all integers little-endian unless said otherwise):
 *   u8  codec version (ONLINE_ROW_VERSION), | ONLINE_ROW_F_CREATED when a
 *       created timestamp follows the event timestamp
 *   8B  event_ts_us, big-endian with the sign bit flipped (sorts bytewise)
 *   8B  created_ts_us, same encoding, only with ONLINE_ROW_F_CREATED (none
 *       = ONLINE_NO_CREATED_TS, which encodes as eight zero bytes)
 *   ceil(nfeatures/8) bytes null bitmap (bit i set = feature i is null)
 *   per non-null feature in schema order:
 *     bool u8 | int32 4B | int64,timestamp 8B | float 4B | double 8B
 *     string,bytes: varint len + bytes
 *     float_list: varint count + count*4B;  double_list/int64_list: varint count + count*8B
 *     string_list: varint count + per element varint len + bytes
 * The header lets the last-write-wins script compare (event, created)
 * bytewise without decoding the row (an absent created time compares as
 * eight zero bytes). Version 1 rows (layout v1) always had the 17-byte
 * header; layout v2 never reads them.
 *
 * Storage TTL: with ttl_seconds > 0 a row expires at
 *   event_ts + ttl_seconds + max(ttl_seconds, ONLINE_TTL_GRACE_MIN_S)
 * so that OUTSIDE_MAX_AGE can be reported during the grace period; a row
 * already past that instant is not written (counted by the caller).
 */
#ifndef FEATD_ONLINE_ROW_H
#define FEATD_ONLINE_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/fbuf.h"

#define ONLINE_ROW_VERSION 2
#define ONLINE_ROW_F_CREATED 0x80
#define ONLINE_ROW_HEADER 9         /* version + event time */
#define ONLINE_ROW_HEADER_MAX 17    /* ... + created time */
#define ONLINE_NO_CREATED_TS INT64_MIN
#define ONLINE_MAX_LIST 1000000u    /* elements per list value */
#define ONLINE_TTL_GRACE_MIN_S 3600 /* storage grace is max(ttl_seconds, this) */

/*
 * One feature value. Scalars use the union; string/bytes use s/slen; lists
 * use count and raw (points at count packed elements in the row encoding
 * described above: 4B/8B little-endian items, or varint-len strings).
 * Decoding fills pointers into the decoded buffer (no copies).
 */
struct online_value {
    bool is_null;
    union {
        bool b;
        int32_t i32;
        int64_t i64;    /* int64 and timestamp */
        float f;
        double d;
    } u;
    const char *s;
    size_t slen;
    uint32_t count;
    const uint8_t *raw;
    size_t rawlen;      /* bytes at raw */
};

/* Absolute storage expiry in ms since the epoch (event time + ttl + grace,
 * the grace being max(ttl_seconds, ONLINE_TTL_GRACE_MIN_S)), or 0 for none
 * (ttl_seconds 0). */
int64_t online_row_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us);

/* The fewest bytes a row of v with no null value takes (every string and
 * list empty): what hash-max-listpack-value must allow (online_check). */
size_t online_row_min_size(const struct cfg_view *v);

/* Row codec. encode appends to out; vals has v->nfeatures entries. Lists are
 * given in the packed form (count, raw, rawlen); use the list builders below
 * to produce raw from typed arrays. */
int online_row_encode(struct fbuf *out, const struct cfg_view *v, int64_t event_ts_us,
                      int64_t created_ts_us, const struct online_value *vals) FEATD_MUSTCHECK;
/* Decodes in place: pointers in vals point into data. FEATD_ERR with a reason
 * in err on any malformed input (bad version, truncation, trailing bytes,
 * list count over ONLINE_MAX_LIST). */
int online_row_decode(const uint8_t *data, size_t len, const struct cfg_view *v,
                      int64_t *event_ts_us, int64_t *created_ts_us,
                      struct online_value *vals, char *err, size_t errlen) FEATD_MUSTCHECK;

/* Packed list builders (append element encodings to out; count is yours). */
int online_row_list_put_float(struct fbuf *out, float f) FEATD_MUSTCHECK;
int online_row_list_put_double(struct fbuf *out, double d) FEATD_MUSTCHECK;
int online_row_list_put_int64(struct fbuf *out, int64_t i) FEATD_MUSTCHECK;
int online_row_list_put_string(struct fbuf *out, const char *s, size_t n) FEATD_MUSTCHECK;
/* Packed list readers: element idx of a decoded list value (bounds already
 * validated by online_row_decode). String elements are walked sequentially
 * with online_row_list_next_string(&cursor, end, &s, &n). The server
 * forwards packed lists as they are; wire/proto.c reads int64 elements, and
 * the float, double and string readers are for the tests that check decoded
 * rows (check_online.c, check_mat.c, check_frame.c, e2e_online.c). */
float online_row_list_float(const struct online_value *v, uint32_t idx);
double online_row_list_double(const struct online_value *v, uint32_t idx);
int64_t online_row_list_int64(const struct online_value *v, uint32_t idx);
int online_row_list_next_string(const uint8_t **cur, const uint8_t *end,
                                const char **s, size_t *n);

#endif
