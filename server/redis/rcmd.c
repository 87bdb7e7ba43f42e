/*
 * rcmd.c — RESP2 command formatting (see rcmd.h).
 */
#include "redis/rcmd.h"

#include <string.h>

size_t rcmd_put_dec(char *p, uint64_t n)
{
    char tmp[24];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t i = 0; i < k; i++) {
        p[i] = tmp[k - 1 - i];
    }
    return k;
}

/* Writes "<c><n>\r\n" at p (room for 23 bytes); returns the end. */
static char *rcmd_hdr_at(char *p, char c, size_t n)
{
    *p++ = c;
    p += rcmd_put_dec(p, n);
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

int rcmd_put_hdr(struct fbuf *o, char c, size_t n)
{
    if (fbuf_reserve(o, 24) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    o->len = (size_t)(rcmd_hdr_at(o->data + o->len, c, n) - o->data);
    return FEATD_OK;
}

int rcmd_put_bulk(struct fbuf *o, const void *p, size_t n)
{
    if (n > SIZE_MAX - 32 || fbuf_reserve(o, n + 32) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    char *d = rcmd_hdr_at(o->data + o->len, '$', n);
    memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    o->len = (size_t)(d - o->data);
    return FEATD_OK;
}

int rcmd_format_argv(struct fbuf *o, int argc, const char *const *argv, const size_t *argvlen)
{
    size_t total = 24;
    for (int i = 0; i < argc; i++) {
        if (argvlen[i] > SIZE_MAX / 2 - total) {
            return FEATD_ENOMEM;
        }
        total += argvlen[i] + 24;
    }
    fbuf_reset(o);
    if (fbuf_reserve(o, total) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    char *p = rcmd_hdr_at(o->data, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = rcmd_hdr_at(p, '$', argvlen[i]);
        memcpy(p, argv[i], argvlen[i]);
        p += argvlen[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    o->len = (size_t)(p - o->data);
    return FEATD_OK;
}
