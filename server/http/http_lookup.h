/*
 * http_lookup.h — the one implementation of the Feast-shaped JSON lookup
 * (POST /get-online-features), shared by the admin port (admin_lookup.c,
 * evhttp glue) and the serving port's HTTP connections (http_route.c):
 *
 *   JSON body ─ http_lookup_build ─► featd.v1.Request in the request's arena
 *   answer cells (struct proto_get_answer) + the request's entity columns
 *     ─ http_lookup_json ─► {"metadata": {"feature_names": [...]}, "results": [...]}
 *   errors ─ http_error_json ─► {"error": {"code": ..., "message": ...}},
 *     with the HTTP status of the featd.v1.ErrorCode (http_status_of)
 *
 * Feast's shapes (its feature server's GetOnlineFeaturesRequest and
 * response): "full_feature_names" false (also when absent, Feast's default)
 * names features by their bare names, true by "view__feature"; either way
 * the join keys come first as columns (the request's values, PRESENT, the
 * epoch as event time). "generation_mode": "held" reads each view's held
 * generation (DESIGN §12 shadow reads; "current", the default, the served
 * one). Pure functions over their arguments: any thread.
 */
#ifndef FEATD_HTTP_LOOKUP_H
#define FEATD_HTTP_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "wire/proto.h"

#define HTTP_LOOKUP_MAX_DEADLINE_MS 600000

struct jsonw;
struct featd_config;

/* How features are named in an answer. */
enum http_names {
    HTTP_NAMES_REF = 0,         /* "view:feature" as in protobuf answers, no join-key columns
                                   (the unit test of the value encoding) */
    HTTP_NAMES_BARE,            /* Feast full_feature_names false: "feature", join keys first */
    HTTP_NAMES_FULL             /* Feast full_feature_names true: "view__feature", join keys first */
};

/*
 * Parses the JSON body[0..len) and builds its featd.v1.Request in a (the
 * request's arena: strings copied), checked against cfg's join key types;
 * *out is the request, *names the naming its full_feature_names asks for.
 * With bare names, two requested features of one name (from different
 * views) are refused, as Feast refuses them. FEATD_ERR on a bad body,
 * FEATD_ENOMEM when a is exhausted, with a message for the client in msg.
 */
int http_lookup_build(const char *body, size_t len, const struct featd_config *cfg, struct arena *a,
                      Featd__V1__Request **out, enum http_names *names, char *msg, size_t msglen);

/*
 * The answer ga to the lookup g as JSON into j, named as names says (the
 * join-key columns come from g's entity columns; g may be NULL with
 * HTTP_NAMES_REF). FEATD_OK; FEATD_EAGAIN once j holds more than
 * ga->max_bytes (0 = no bound; j then holds a prefix); FEATD_ERR when j ran
 * out of memory.
 */
int http_lookup_json(struct jsonw *j, const struct proto_get_answer *ga,
                     const Featd__V1__GetOnlineFeaturesRequest *g, enum http_names names);


/* {"error":{"code":"<name>","message":msg}}\n into j. */
void http_error_json(struct jsonw *j, const char *code_name, const char *msg);
/* The name of a featd.v1.ErrorCode ("INVALID_ARGUMENT"; "INTERNAL" when unknown). */
const char *http_code_name(int code);
/* The HTTP status of a featd.v1.ErrorCode (INVALID_ARGUMENT 400, UNAVAILABLE
 * 503, DEADLINE_EXCEEDED 504, RESOURCE_EXHAUSTED 429, UNAUTHENTICATED 401,
 * PERMISSION_DENIED 403, others 500). */
int http_status_of(int code);

#endif
