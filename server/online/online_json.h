/*
 * online_json.h — feature values, join keys and times given as JSON,
 * converted to online values (online_row.h): the one converter for
 * featd-cli load / push (JSON lines), HTTP push bodies and the list fields
 * of stream entries; and online values written as JSON. Pure, any thread;
 * strings point into the JSON value.
 *
 * Accepted per type: bool true/false; int32/int64 integers (or reals with
 * an integral value in range); float/double numbers or "NaN", "Infinity",
 * "-Infinity"; string a string; bytes a string (its UTF-8 bytes) or
 * {"base64": "..."}; timestamp integer µs or an RFC 3339 string (naive
 * times are UTC); lists JSON arrays of their element type, no nulls.
 */
#ifndef FEATD_ONLINE_JSON_H
#define FEATD_ONLINE_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "online/online_row.h"

/* An integer in [min, max]: a JSON integer, or a real with an integral value. */
bool online_json_int(const json_t *j, int64_t min, int64_t max, int64_t *out);
/* Integer µs since the epoch, or an RFC 3339 string. */
bool online_json_time(const json_t *j, int64_t *out);
/* The compact JSON text of j for messages, cut to fit buf ("..." at the end). */
const char *online_json_show(const json_t *j, char *buf, size_t cap);
/* Converts j (NULL or JSON null: a null value) into val for feature f.
 * Packed lists and decoded bytes go to sb (reset first; val points into it,
 * so use one sb per value kept). FEATD_ERR with the reason in why. */
int online_json_feature(const json_t *j, const struct cfg_feature *f, struct online_value *val,
                        struct fbuf *sb, char *why, size_t whylen) FEATD_MUSTCHECK;

/* Writes v, a value of type t as decoded from a row (NULL = null), as JSON:
 * the one value writer of the JSON lookups (both ports) and the serving
 * log. Numbers as jsonw writes them, strings up to their first NUL byte
 * (what a protobuf client reads of them), bytes in base64, timestamps RFC
 * 3339, lists as arrays. */
struct jsonw;
void online_json_write_value(struct jsonw *j, enum featd_type t, const struct online_value *v);

#endif
