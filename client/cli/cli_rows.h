/*
 * cli_rows.h — the JSON-line row format of `featd-cli load` and `featd-cli
 * push` (cli_rows.c): one JSON object per line with every join key of the
 * view, "event_timestamp" (integer µs or an ISO-8601 / RFC 3339 string; the
 * view's event_timestamp_column name too), optional "created_timestamp",
 * and features by name (missing or null = null), typed by the view's
 * schema; unknown fields are errors. docs/cli.md describes it.
 */
#ifndef FEATD_CLI_ROWS_H
#define FEATD_CLI_ROWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "online/online.h"

#define CLI_ROWS_MAX_LINE (16u * 1024u * 1024u)     /* bytes per JSON line */

/* One converted row; pointers refer to the parsed JSON and to scratch. */
struct cli_row {
    struct online_key *keys;        /* v->nkeys, in the view's join key order */
    struct online_value *vals;      /* v->nfeatures, in schema order; lists packed
                                       (online_row.h) into scratch */
    struct fbuf *scratch;           /* nfeatures: packed lists, decoded bytes */
    int64_t event_ts;
    int64_t created_ts;             /* ONLINE_NO_CREATED_TS when not given */
};

/* Sized for view v; FEATD_ERR on OOM (cli_row_free it anyway). */
int cli_row_init(struct cli_row *r, const struct cfg_view *v);
void cli_row_free(struct cli_row *r, const struct cfg_view *v);

/* Converts one parsed line into r (valid while obj and r's scratch live);
 * FEATD_ERR with "what: why" in err. */
int cli_row_convert(const struct cfg_view *v, json_t *obj, struct cli_row *r, char *err,
                    size_t errlen);
/* Parses text as JSON and converts it: on FEATD_OK *obj holds the parsed
 * line (json_decref it when done with r); on FEATD_ERR *obj is NULL and
 * err says why ("invalid JSON at column N: ...", or cli_row_convert's). */
int cli_row_parse(const struct cfg_view *v, const char *text, size_t len, json_t **obj,
                  struct cli_row *r, char *err, size_t errlen);

/* Reads one line (without the newline, a trailing CR dropped) into line.
 * 1 = a line, 0 = EOF, -1 = longer than CLI_ROWS_MAX_LINE (the rest of it is
 * skipped), -2 = read error (errno). */
int cli_read_line(FILE *in, struct fbuf *line);
/* True for a line of only blanks (skipped by both commands). */
bool cli_line_blank(const char *s, size_t n);

#endif
