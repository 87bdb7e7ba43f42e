/*
 * frame.c — length-prefix framing (see frame.h).
 */
#include "wire/frame.h"

static uint32_t frame_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

enum frame_status frame_peek(const uint8_t *p, size_t avail, uint32_t max, uint32_t *len)
{
    if (avail < FRAME_HEADER) {
        return FRAME_INCOMPLETE;
    }
    uint32_t n = frame_be32(p);
    *len = n;
    if (n > max) {
        return FRAME_TOO_LARGE;
    }
    if (avail - FRAME_HEADER < n) {
        return FRAME_INCOMPLETE;
    }
    return FRAME_OK;
}

enum frame_status frame_parse(struct evbuffer *in, uint32_t max, uint32_t *len)
{
    uint8_t hdr[FRAME_HEADER];
    size_t avail = evbuffer_get_length(in);
    if (avail < FRAME_HEADER || evbuffer_copyout(in, hdr, FRAME_HEADER) != FRAME_HEADER) {
        return FRAME_INCOMPLETE;
    }
    /* the header alone decides "too large"; then: is the whole body here? */
    if (frame_peek(hdr, FRAME_HEADER, max, len) == FRAME_TOO_LARGE) {
        return FRAME_TOO_LARGE;
    }
    return avail - FRAME_HEADER < *len ? FRAME_INCOMPLETE : FRAME_OK;
}

void frame_header(uint8_t out[FRAME_HEADER], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}
