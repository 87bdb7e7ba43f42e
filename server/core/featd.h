/*
 * featd.h — project-wide status codes, attributes and the version string.
 * Every module includes this; it holds nothing that belongs to one module.
 */
#ifndef FEATD_H
#define FEATD_H

#include <stddef.h>
#include <stdint.h>

#define FEATD_VERSION "0.1.0"

/* Status codes returned by fallible functions (twemproxy rstatus_t). */
#define FEATD_OK      0
#define FEATD_ERR    -1
#define FEATD_EAGAIN -2
#define FEATD_ENOMEM -3

#define FEATD_MUSTCHECK __attribute__((warn_unused_result))
#define FEATD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define FEATD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
