/*
 * stream_entry.h — one Redis Stream entry of a view's stream source
 * decoded into a row to push (DESIGN §11). Pure (no Redis, no I/O), any
 * thread.
 *
 * An entry is one row: one field per column. The join keys (int64 in
 * decimal, strings as they are) and "event_timestamp" (integer µs or RFC
 * 3339) are required; each feature, by its name, as text: numbers in
 * decimal (float/double also NaN, Infinity, -Infinity), bools true/false,
 * strings as they are, bytes in base64, timestamps integer µs or RFC 3339,
 * lists as JSON arrays; an absent feature is null. A field that is none of
 * these, a field given twice, or a value that breaks the feature's expect
 * rules refuses the entry with a reason (it goes to the dead letters).
 */
#ifndef FEATD_STREAM_ENTRY_H
#define FEATD_STREAM_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "online/online_key.h"
#include "online/online_row.h"

#define STREAM_ENTRY_EVENT_FIELD "event_timestamp"

/* Where one decoded entry goes: arrays the caller sizes for the view
 * (keys: v->nkeys, vals and scratch: v->nfeatures; scratch zeroed once,
 * reused across entries, freed by the caller). Strings point into the
 * field texts given to stream_entry_decode, or into scratch. */
struct stream_row {
    struct online_key *keys;
    struct online_value *vals;
    struct fbuf *scratch;
    int64_t event_us;
};

/* Decodes the entry whose fields are names[i] = texts[i] (lens given; not
 * necessarily NUL-terminated) for view v into r. FEATD_OK, or FEATD_ERR
 * with the reason in why. */
int stream_entry_decode(const struct cfg_view *v, size_t nfields, const char *const *names,
                        const size_t *namelens, const char *const *texts, const size_t *textlens,
                        struct stream_row *r, char *why, size_t whylen) FEATD_MUSTCHECK;

#endif
