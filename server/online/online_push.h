/*
 * online_push.h — where and how a pushed row (WriteFeatures, DESIGN §11) is
 * stored, and the Redis command that writes it last-write-wins. Shared by
 * the serving workers (serve/write.c, async) and any later writer (a stream
 * consumer on blocking hiredis): pure builders, no I/O, any thread.
 *
 * A pushed row of view V for entity E is the field "p<F>" (F = V's 16-hex
 * schema fingerprint, online_key.h) of the entity's hash P:v2:{E}, beside
 * the generation fields of snapshot rows; its value is a packed row
 * (online_row.h) without a created time. A schema change changes F, so the
 * pushed rows of the old schema are orphaned (never read again; they go
 * with the key's expiry). A lookup HMGETs the push field next to the
 * generation field and serves the row with the newer event time (equal:
 * the snapshot row; serve/lookup_merge.h).
 *
 * The write is online_upsert_lua (online_writer.h), shared with
 * incremental upserts: with no created time on either side it is "stale
 * iff the stored event time is strictly greater", equal replaces (a replay
 * is idempotent), and the key's expiry only moves later.
 */
#ifndef FEATD_ONLINE_PUSH_H
#define FEATD_ONLINE_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "online/online_row.h"

#define ONLINE_PUSH_FIELD_MAX 18        /* "p" + 16 hex + NUL */
#define ONLINE_PUSH_SHA_HEX 41          /* SHA-1 hex of the script + NUL */

/* The push field "p<F>" of v into buf (ONLINE_PUSH_FIELD_MAX bytes),
 * NUL-terminated; returns its length (17). */
size_t online_push_field(char *buf, const struct cfg_view *v);

/* The key's PEXPIREAT instant (ms) for a pushed row of v with this event
 * time: event + ttl + grace, or ONLINE_WRITER_NO_EXPIRY_MS for ttl 0; 0 when
 * the row is already past its storage expiry at now_ms (not to be written:
 * it could never be served). */
int64_t online_push_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us, int64_t now_ms);

/* The SHA-1 of online_upsert_lua in hex (what EVALSHA names; computed
 * once, thread-safe). */
const char *online_push_script_sha(void);

/* Appends the RESP of one LWW write of a packed row: with eval false
 * "EVALSHA <sha> 1 <key> <field> <row> <at_ms>", with eval true the same as
 * "EVAL <script> ..." (after a NOSCRIPT reply). The reply is an integer:
 * 1 written, 0 stale. */
int online_push_cmd(struct fbuf *out, bool eval, const char *key, size_t keylen,
                    const char *field, size_t fieldlen, const char *row, size_t rowlen,
                    int64_t at_ms) FEATD_MUSTCHECK;

/* Encodes a pushed row (online_row_encode without a created time). */
int online_push_row(struct fbuf *out, const struct cfg_view *v, int64_t event_ts_us,
                    const struct online_value *vals) FEATD_MUSTCHECK;

#endif
