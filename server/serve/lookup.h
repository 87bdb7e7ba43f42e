/*
 * lookup.h — GetOnlineFeatures on the serve context's Redis link: validate
 * and plan (lookup_plan.h), per attempt one MGET of the views' pointers and
 * one HMGET per entity (online layout v2), assemble the answer.
 * Never sees bytes on the wire: answers go through the request's sink.
 */
#ifndef FEATD_LOOKUP_H
#define FEATD_LOOKUP_H

#include "serve/request.h"

/* Runs a decoded GetOnlineFeatures request (rq->msg): answers it now when
 * it is refused or Redis cannot take the command, otherwise later from the
 * Redis callback or the deadline. The caller then calls request_maybe_free. */
void lookup_start(struct request *rq);

#endif
