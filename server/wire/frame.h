/*
 * frame.h — length-prefix framing only: a 4-byte big-endian length N, then N
 * bytes of payload. Framing never looks at the payload (protobuf lives in
 * proto.c). The size limit is enforced from the header, before anything is
 * buffered or allocated for the body.
 */
#ifndef FEATD_FRAME_H
#define FEATD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#define FRAME_HEADER 4

enum frame_status {
    FRAME_OK = 0,       /* a whole frame is available; *len is its payload length */
    FRAME_INCOMPLETE,   /* need more bytes (header or body) */
    FRAME_TOO_LARGE     /* header announces more than max bytes; *len is that size */
};

/* Inspect p[0..avail): is a whole frame of at most max payload bytes there?
 * Pure. frame_parse uses it on the evbuffer's header; it is exported as a
 * test seam for tests/unit/check_frame.c (header cases on flat bytes). */
enum frame_status frame_peek(const uint8_t *p, size_t avail, uint32_t max, uint32_t *len);

/* Same over an evbuffer; does not remove anything. */
enum frame_status frame_parse(struct evbuffer *in, uint32_t max, uint32_t *len);

/* Writes the 4-byte header for a payload of len bytes. */
void frame_header(uint8_t out[FRAME_HEADER], uint32_t len);

#endif
