/*
 * fbuf.h — growable byte buffer (struct fbuf) used to build Redis commands,
 * keys, rows, JSON and Prometheus text. Not thread-safe: a buffer belongs to
 * the one thread that writes it; the owner calls fbuf_free.
 */
#ifndef FEATD_FBUF_H
#define FEATD_FBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

/* Growable byte buffer. Zero-initialise ({0}) before first use. */
struct fbuf {
    char *data;     /* NUL-terminated for convenience when len < cap */
    size_t len;
    size_t cap;
};

int fbuf_reserve(struct fbuf *b, size_t extra) FEATD_MUSTCHECK;
int fbuf_append(struct fbuf *b, const void *p, size_t n) FEATD_MUSTCHECK;
int fbuf_appendf(struct fbuf *b, const char *fmt, ...) FEATD_PRINTF(2, 3) FEATD_MUSTCHECK;
int fbuf_putc(struct fbuf *b, char c) FEATD_MUSTCHECK;
void fbuf_reset(struct fbuf *b);       /* len = 0, keeps memory */
void fbuf_free(struct fbuf *b);

/* Appends v as a LEB128 unsigned varint (util_get_varint reads it). */
int fbuf_put_varint(struct fbuf *b, uint64_t v) FEATD_MUSTCHECK;

#endif
