/*
 * http_write.h — the one JSON → WriteFeatures builder of the HTTP write
 * endpoints (DESIGN §11, §13), shared by the serving port (http_route.c)
 * and the admin port (admin/admin_write.c):
 *
 *   POST /push                  featd's body {"feature_view": "v", "df": {...}}
 *                               or Feast's {"push_source_name": "v", "df": {...},
 *                               "to": "online" | "online_and_offline"}
 *   POST /write-to-online-store Feast's remote online store body
 *                               {"feature_view_name": "v", "df": {...},
 *                               "allow_registry_cache": false}
 *     ─ http_write_build ─► featd.v1.Request (write_features) in the
 *       request's arena ─► dispatch_run ─► serve/write.c: the same auth,
 *       whole-request validation (write_check) and LWW writes as protobuf
 *   WriteFeaturesResponse ─ http_write_json ─► {"rows_written": N, "rows_stale": M}
 *
 * "df" is column-oriented (Feast's dict of lists): each join key and
 * feature of the view, the event time ("event_timestamp" or the view's
 * source event_timestamp_column; RFC 3339, naive = UTC, or integer µs) and
 * optionally the created time ("created", "created_timestamp" or the
 * view's created_timestamp_column; accepted and not stored: pushed rows
 * carry no created time). Values are typed by the view's schema through
 * online/online_json.h. This file only maps JSON onto the request (shape
 * and value types, with messages naming the column and row); every rule of
 * the request itself (unknown view, missing or extra join key or feature,
 * unequal lengths, row limits, expect) is write_check's. Pure: any thread.
 */
#ifndef FEATD_HTTP_WRITE_H
#define FEATD_HTTP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "wire/proto.h"

struct jsonw;
struct featd_config;
struct cfg_view;
struct cfg_token;

enum http_write_kind {
    HTTP_WRITE_PUSH = 0,        /* POST /push */
    HTTP_WRITE_STORE            /* POST /write-to-online-store */
};

/* What a refused body claimed, for featd_push_rows_total{result="rejected"}. */
struct http_write_info {
    const struct cfg_view *view;    /* the view named, when cfg has it; else NULL */
    size_t rows;                    /* the length of the first df column (0 when unknown) */
};

/*
 * Parses the JSON body[0..len) of an endpoint of kind and builds its
 * featd.v1.Request (body write_features) in a (strings copied: the body may
 * be freed after). FEATD_OK; FEATD_ERR on a bad body, FEATD_ENOMEM when a is
 * exhausted, with a message for the client in msg; *info is filled either way.
 * A view cfg does not have is passed on without columns (write_check
 * refuses it after the token check, as over protobuf). On FEATD_ERR for a
 * view cfg has, *out is still set: the request naming the view alone (see
 * http_write_auth_first); otherwise *out is NULL on failure.
 */
int http_write_build(const char *body, size_t len, enum http_write_kind kind, const struct featd_config *cfg,
                     struct arena *a, Featd__V1__Request **out, struct http_write_info *info, char *msg,
                     size_t msglen);

/* With auth on, whether a body refused by http_write_build must be
 * answered by the token check first (the token t may not write the view:
 * the caller dispatches the view-alone request, which serve/write.c
 * refuses with 403 and an audit line), as over protobuf, where the token
 * is checked before the body. */
bool http_write_auth_first(const struct featd_config *cfg, const struct cfg_token *t,
                           const struct http_write_info *info);

/* {"rows_written":N,"rows_stale":M}\n into j. */
void http_write_json(struct jsonw *j, const Featd__V1__WriteFeaturesResponse *wr);

#endif
