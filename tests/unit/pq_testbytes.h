/*
 * pq_testbytes.h — byte writers shared by the Parquet test suites
 * (check_pq_decode.c, check_parquet.c): ULEB128 varints and zigzag, as the
 * Thrift compact protocol and DELTA_BINARY_PACKED encode them, and LSB-first
 * bit packing (RLE/bit-packed hybrid runs).
 */
#ifndef FEATD_TESTS_PQ_TESTBYTES_H
#define FEATD_TESTS_PQ_TESTBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Write v as ULEB128 at p; returns the bytes written (at most 10). */
static inline size_t put_uleb(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* Zigzag-encode v (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...). */
static inline uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
/* Test packer: n values of bw bits, LSB-first. */
static inline void pack(const uint64_t *v, size_t n, int bw, uint8_t *out, size_t outlen)
{
    memset(out, 0, outlen);
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < bw; b++) {
            if ((v[i] >> b) & 1) {
                size_t bit = i * (size_t)bw + (size_t)b;
                out[bit / 8] |= (uint8_t)(1u << (bit % 8));
            }
        }
    }
}

#endif
