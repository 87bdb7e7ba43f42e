/*
 * write.h — WriteFeatures (DESIGN §11): pushed rows of one feature view,
 * validated whole (serve/write_check.h), then one last-write-wins script
 * call per row (online/online_push.h) pipelined per Redis node through the
 * serve context's route: one round trip per node. A row strictly older
 * than the stored pushed row is stale (skipped, counted); an equal one
 * replaces it. On the serve context's thread; both sinks (a connection's
 * frame, or a request built by the HTTP layer via dispatch_begin with a
 * write_features body).
 */
#ifndef FEATD_WRITE_H
#define FEATD_WRITE_H

#include "serve/request.h"

/* Runs a decoded WriteFeatures request (rq->msg): answers it now when it
 * is refused (PERMISSION_DENIED / INVALID_ARGUMENT: nothing written) or
 * Redis cannot take it, otherwise from the last Redis reply (rows_written,
 * rows_stale; UNAVAILABLE when any command failed: the rows written before
 * stay, and a retry of the whole request is idempotent) or the deadline
 * (server.request_timeout_ms). The caller then calls request_maybe_free. */
void write_start(struct request *rq);

#endif
