/*
 * delta.c — DELTA_BINARY_PACKED (the building block of the two DELTA byte
 * array encodings, which column.c assembles from it) and BYTE_STREAM_SPLIT.
 *
 * DELTA_BINARY_PACKED layout:
 *   <block size> <miniblocks per block> <total count> <first value (zigzag)>
 *   then blocks: <min delta (zigzag)> <one bit width byte per miniblock>
 *   <miniblocks, each (block size / miniblocks) values bit-packed LSB-first>
 * The last block may hold fewer miniblocks than declared; their bit widths
 * are present but ignored. Sums wrap modulo 2^64.
 */
#include <string.h>

#include "parquet/internal.h"

#define DELTA_MAX_BLOCK (1u << 16)          /* values per block we accept */

struct delta_hdr {
    uint64_t block, mbs, count, first;
    size_t used;
};

static int read_hdr(const uint8_t *in, size_t len, struct delta_hdr *h, char *err, size_t errlen)
{
    size_t pos = 0, k;
    uint64_t zz;
    if ((k = util_get_varint(in, len, &h->block)) == 0) goto trunc;
    pos += k;
    if ((k = util_get_varint(in + pos, len - pos, &h->mbs)) == 0) goto trunc;
    pos += k;
    if ((k = util_get_varint(in + pos, len - pos, &h->count)) == 0) goto trunc;
    pos += k;
    if ((k = util_get_varint(in + pos, len - pos, &zz)) == 0) goto trunc;
    pos += k;
    h->first = (zz >> 1) ^ (0 - (zz & 1));
    if (h->block == 0 || h->block % 128 != 0 || h->block > DELTA_MAX_BLOCK) {
        util_seterr(err, errlen, "DELTA_BINARY_PACKED: invalid block size %llu",
                  (unsigned long long)h->block);
        return FEATD_ERR;
    }
    if (h->mbs == 0 || h->mbs > h->block / 32 || (h->block / h->mbs) % 32 != 0
        || h->block % h->mbs != 0) {
        util_seterr(err, errlen, "DELTA_BINARY_PACKED: invalid miniblock count %llu",
                  (unsigned long long)h->mbs);
        return FEATD_ERR;
    }
    h->used = pos;
    return FEATD_OK;
trunc:
    util_seterr(err, errlen, "DELTA_BINARY_PACKED: truncated header");
    return FEATD_ERR;
}

int pq_delta_count(const uint8_t *in, size_t len, size_t *count, char *err, size_t errlen)
{
    struct delta_hdr h;
    if (read_hdr(in, len, &h, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (h.count > SIZE_MAX / 16) {
        util_seterr(err, errlen, "DELTA_BINARY_PACKED: count too large");
        return FEATD_ERR;
    }
    *count = (size_t)h.count;
    return FEATD_OK;
}

int pq_delta_binary(const uint8_t *in, size_t len, uint64_t *out, size_t cap, size_t *count,
                    size_t *used, char *err, size_t errlen)
{
    struct delta_hdr h;
    if (read_hdr(in, len, &h, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (h.count > cap) {
        util_seterr(err, errlen, "DELTA_BINARY_PACKED: %llu values where at most %zu fit",
                  (unsigned long long)h.count, cap);
        return FEATD_ERR;
    }
    size_t n = (size_t)h.count, pos = h.used, got = 0;
    size_t per_mb = (size_t)(h.block / h.mbs);
    uint64_t last = h.first;
    if (n > 0) {
        out[got++] = last;
    }
    while (got < n) {
        uint64_t zz;
        size_t k = util_get_varint(in + pos, len - pos, &zz);
        if (k == 0) {
            util_seterr(err, errlen, "DELTA_BINARY_PACKED: truncated block header");
            return FEATD_ERR;
        }
        pos += k;
        uint64_t min_delta = (zz >> 1) ^ (0 - (zz & 1));
        if (h.mbs > len - pos) {
            util_seterr(err, errlen, "DELTA_BINARY_PACKED: truncated bit widths");
            return FEATD_ERR;
        }
        const uint8_t *widths = in + pos;
        pos += (size_t)h.mbs;
        for (size_t m = 0; m < h.mbs && got < n; m++) {
            int bw = widths[m];
            if (bw > 64) {
                util_seterr(err, errlen, "DELTA_BINARY_PACKED: bit width %d > 64", bw);
                return FEATD_ERR;
            }
            size_t nbytes = per_mb * (size_t)bw / 8;
            size_t take = per_mb < n - got ? per_mb : n - got;
            size_t need = (take * (size_t)bw + 7) / 8;
            if (need > len - pos) {
                util_seterr(err, errlen, "DELTA_BINARY_PACKED: truncated miniblock");
                return FEATD_ERR;
            }
            size_t avail = nbytes < len - pos ? nbytes : len - pos;
            uint64_t *o = out + got;
            pq_rle_unpack64(in + pos, avail, o, take, bw);
            for (size_t i = 0; i < take; i++) {
                last += min_delta + o[i];
                o[i] = last;
            }
            got += take;
            pos += avail;
        }
    }
    *count = n;
    if (used != NULL) {
        *used = pos;
    }
    return FEATD_OK;
}

int pq_delta_byte_stream_split(const uint8_t *in, size_t len, size_t n, int w, uint8_t *out,
                               char *err, size_t errlen)
{
    if (w <= 0 || (n != 0 && (size_t)w > SIZE_MAX / n)) {
        util_seterr(err, errlen, "BYTE_STREAM_SPLIT: invalid width");
        return FEATD_ERR;
    }
    if (n * (size_t)w > len) {
        util_seterr(err, errlen, "BYTE_STREAM_SPLIT: %zu bytes for %zu values of %d bytes",
                  len, n, w);
        return FEATD_ERR;
    }
    if (w == 4) {
        const uint8_t *s0 = in, *s1 = in + n, *s2 = in + 2 * n, *s3 = in + 3 * n;
        for (size_t i = 0; i < n; i++) {
            out[4 * i] = s0[i];
            out[4 * i + 1] = s1[i];
            out[4 * i + 2] = s2[i];
            out[4 * i + 3] = s3[i];
        }
        return FEATD_OK;
    }
    for (int k = 0; k < w; k++) {
        const uint8_t *s = in + (size_t)k * n;
        for (size_t i = 0; i < n; i++) {
            out[i * (size_t)w + (size_t)k] = s[i];
        }
    }
    return FEATD_OK;
}
