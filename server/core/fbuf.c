/*
 * fbuf.c — the growable byte buffer (see fbuf.h).
 */
#include "core/fbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fbuf_reserve(struct fbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) {
        return FEATD_OK;
    }
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < b->len + extra + 1) {
        if (ncap > SIZE_MAX / 2) {
            return FEATD_ENOMEM;
        }
        ncap *= 2;
    }
    char *p = realloc(b->data, ncap);
    if (p == NULL) {
        return FEATD_ENOMEM;
    }
    b->data = p;
    b->cap = ncap;
    return FEATD_OK;
}

int fbuf_append(struct fbuf *b, const void *p, size_t n)
{
    if (fbuf_reserve(b, n) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return FEATD_OK;
}

int fbuf_putc(struct fbuf *b, char c)
{
    return fbuf_append(b, &c, 1);
}

int fbuf_appendf(struct fbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || fbuf_reserve(b, (size_t)n) != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FEATD_OK;
}

void fbuf_reset(struct fbuf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

void fbuf_free(struct fbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int fbuf_put_varint(struct fbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return fbuf_append(b, tmp, n);
}
