/*
 * rcmd.h — writing Redis protocol (RESP2) commands into a buffer: the
 * materializer's pipelined writes and the workers' commands are formatted
 * here, once, instead of by hiredis's printf-style formatter.
 */
#ifndef FEATD_RCMD_H
#define FEATD_RCMD_H

#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"
#include "core/fbuf.h"

/* Decimal digits of n into p (no NUL, at most 20); returns the length. */
size_t rcmd_put_dec(char *p, uint64_t n);
/* Appends "<c><n>\r\n" (c = '*' for an array header, '$' for a bulk length). */
int rcmd_put_hdr(struct fbuf *o, char c, size_t n) FEATD_MUSTCHECK;
/* Appends "$<n>\r\n<bytes>\r\n". */
int rcmd_put_bulk(struct fbuf *o, const void *p, size_t n) FEATD_MUSTCHECK;
/* Replaces o's content with the command argv[0..argc) (one reservation). */
int rcmd_format_argv(struct fbuf *o, int argc, const char *const *argv,
                     const size_t *argvlen) FEATD_MUSTCHECK;

#endif
