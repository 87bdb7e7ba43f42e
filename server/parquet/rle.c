/*
 * rle.c — bit unpacking (LSB-first, as Parquet's bit-packed runs and
 * DELTA_BINARY_PACKED miniblocks use), the RLE/bit-packed hybrid decoder
 * (levels, dictionary indices, RLE booleans) and the legacy MSB-first
 * BIT_PACKED level encoding. Decoding is in bulk: a run is expanded with one
 * tight loop, no per-value calls. Every read is bounded by the input length.
 */
#include <string.h>

#include "parquet/internal.h"

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Bits [bit, bit+bw) of in, bw <= 57 when fast; generic slow path near the end. */
static inline uint64_t get_bits_slow(const uint8_t *in, size_t inlen, uint64_t bit, int bw)
{
    uint64_t r = 0;
    for (int i = 0; i < bw; i++) {
        uint64_t b = bit + (uint64_t)i;
        size_t byte = (size_t)(b >> 3);
        if (byte < inlen && (in[byte] >> (b & 7)) & 1) {
            r |= (uint64_t)1 << i;
        }
    }
    return r;
}

static void unpack32(const uint8_t *in, size_t inlen, uint32_t *out, size_t n, int bw)
{
    if (bw == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    const uint64_t mask = bw == 32 ? 0xffffffffu : (((uint64_t)1 << bw) - 1);
    size_t i = 0;
    uint64_t bit = 0;
    /* fast path while 8 bytes can be loaded */
    if (inlen >= 8) {
        for (; i < n; i++, bit += (uint64_t)bw) {
            size_t byte = (size_t)(bit >> 3);
            if (byte > inlen - 8) {
                break;
            }
            out[i] = (uint32_t)((load64(in + byte) >> (bit & 7)) & mask);
        }
    }
    for (; i < n; i++, bit += (uint64_t)bw) {
        out[i] = (uint32_t)get_bits_slow(in, inlen, bit, bw);
    }
}

void pq_rle_unpack64(const uint8_t *in, size_t inlen, uint64_t *out, size_t n, int bw)
{
    if (bw == 0) {
        memset(out, 0, n * sizeof *out);
        return;
    }
    if (bw <= 56) {
        const uint64_t mask = ((uint64_t)1 << bw) - 1;
        size_t i = 0;
        uint64_t bit = 0;
        if (inlen >= 8) {
            for (; i < n; i++, bit += (uint64_t)bw) {
                size_t byte = (size_t)(bit >> 3);
                if (byte > inlen - 8) {
                    break;
                }
                out[i] = (load64(in + byte) >> (bit & 7)) & mask;
            }
        }
        for (; i < n; i++, bit += (uint64_t)bw) {
            out[i] = get_bits_slow(in, inlen, bit, bw);
        }
        return;
    }
    /* wide values: two loads */
    uint64_t bit = 0;
    for (size_t i = 0; i < n; i++, bit += (uint64_t)bw) {
        size_t byte = (size_t)(bit >> 3);
        int sh = (int)(bit & 7);
        if (inlen >= 9 && byte <= inlen - 9) {
            uint64_t lo = load64(in + byte) >> sh;
            uint64_t hi = sh ? (uint64_t)in[byte + 8] << (64 - sh) : 0;
            uint64_t v = lo | hi;
            out[i] = bw == 64 ? v : v & (((uint64_t)1 << bw) - 1);
        } else {
            out[i] = get_bits_slow(in, inlen, bit, bw);
        }
    }
}

int pq_rle_bit_width(uint64_t max)
{
    int w = 0;
    while (max != 0) {
        w++;
        max >>= 1;
    }
    return w;
}

/*
 * The RLE/bit-packed hybrid loop behind pq_rle_decode32 (out32 set, bw <= 32)
 * and pq_rle_levels (out8 set, bw <= 8); the other output is NULL. Every
 * value is checked <= max (bit-packed values only for out8: with out32, max
 * is 2^bw - 1 and holds by construction). `what` names the data in errors.
 * Always inlined into the two callers, where out8 is a constant, so each
 * gets its own loop with no per-value branch on the output width.
 */
static inline __attribute__((always_inline)) int
rle_hybrid(const uint8_t *in, size_t len, int bw, uint32_t max, uint32_t *out32, uint8_t *out8,
           size_t n, size_t *used, const char *what, char *err, size_t errlen)
{
    size_t pos = 0, got = 0;
    const size_t vbytes = (size_t)(bw + 7) / 8;
    while (got < n) {
        uint64_t h;
        size_t hl = util_get_varint(in + pos, len - pos, &h);
        if (hl == 0) {
            util_seterr(err, errlen, "%s data truncated (%zu of %zu values)", what, got, n);
            return FEATD_ERR;
        }
        pos += hl;
        if (h & 1) {
            /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t groups = h >> 1;
            if (groups > (uint64_t)SIZE_MAX / 8 / 64) {
                util_seterr(err, errlen, "%s bit-packed run too long", what);
                return FEATD_ERR;
            }
            size_t nv = (size_t)groups * 8;
            size_t nbytes = (size_t)groups * (size_t)bw;
            size_t take = nv < n - got ? nv : n - got;
            size_t need = (take * (size_t)bw + 7) / 8;
            size_t avail = len - pos;
            if (need > avail) {
                util_seterr(err, errlen, "%s bit-packed run truncated", what);
                return FEATD_ERR;
            }
            const uint8_t *src = in + pos;
            size_t srclen = avail < nbytes ? avail : nbytes;
            if (out8 == NULL) {
                unpack32(src, srclen, out32 + got, take, bw);
            } else {
                uint32_t tmp[512], bad = 0;
                for (size_t done = 0; done < take;) {
                    size_t k = take - done < 512 ? take - done : 512;
                    /* chunk starts at a multiple of 8 values: byte aligned */
                    size_t boff = done * (size_t)bw / 8;
                    unpack32(src + boff, srclen - boff, tmp, k, bw);
                    for (size_t i = 0; i < k; i++) {
                        bad |= tmp[i] > max;
                        out8[got + done + i] = (uint8_t)tmp[i];
                    }
                    done += k;
                }
                if (bad) {
                    util_seterr(err, errlen, "%s above maximum %u", what, max);
                    return FEATD_ERR;
                }
            }
            got += take;
            pos += srclen;
        } else {
            uint64_t run = h >> 1;
            if (vbytes > len - pos) {
                util_seterr(err, errlen, "%s run value truncated", what);
                return FEATD_ERR;
            }
            uint32_t v = 0;
            for (size_t i = 0; i < vbytes; i++) {
                v |= (uint32_t)in[pos + i] << (8 * i);
            }
            pos += vbytes;
            if (v > max) {
                util_seterr(err, errlen, "%s run value %u above maximum %u", what, v, max);
                return FEATD_ERR;
            }
            size_t take = run < (uint64_t)(n - got) ? (size_t)run : n - got;
            if (out8 != NULL) {
                memset(out8 + got, (int)v, take);
            } else if (v == 0) {
                memset(out32 + got, 0, take * sizeof *out32);
            } else {
                for (size_t i = 0; i < take; i++) {
                    out32[got + i] = v;
                }
            }
            got += take;
        }
    }
    if (used != NULL) {
        *used = pos;
    }
    return FEATD_OK;
}

int pq_rle_decode32(const uint8_t *in, size_t len, int bw, uint32_t *out, size_t n,
                    size_t *used, char *err, size_t errlen)
{
    if (bw < 0 || bw > 32) {
        util_seterr(err, errlen, "invalid RLE bit width %d", bw);
        return FEATD_ERR;
    }
    uint32_t max = bw == 32 ? UINT32_MAX : ((uint32_t)1 << bw) - 1;
    return rle_hybrid(in, len, bw, max, out, NULL, n, used, "RLE", err, errlen);
}

int pq_rle_levels(const uint8_t *in, size_t len, int bw, int max, uint8_t *out, size_t n,
                  char *err, size_t errlen)
{
    if (bw < 0 || bw > 8) {
        util_seterr(err, errlen, "invalid level bit width %d", bw);
        return FEATD_ERR;
    }
    return rle_hybrid(in, len, bw, (uint32_t)max, NULL, out, n, NULL, "level", err, errlen);
}

int pq_rle_bitpacked_levels(const uint8_t *in, size_t len, int bw, int max, uint8_t *out,
                            size_t n, size_t *used, char *err, size_t errlen)
{
    if (bw < 0 || bw > 8) {
        util_seterr(err, errlen, "invalid level bit width %d", bw);
        return FEATD_ERR;
    }
    if (n > SIZE_MAX / 8) {
        util_seterr(err, errlen, "too many levels");
        return FEATD_ERR;
    }
    size_t need = (n * (size_t)bw + 7) / 8;
    if (need > len) {
        util_seterr(err, errlen, "BIT_PACKED levels truncated");
        return FEATD_ERR;
    }
    size_t bit = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int b = 0; b < bw; b++, bit++) {
            v = (v << 1) | ((in[bit >> 3] >> (7 - (bit & 7))) & 1);
        }
        if (v > (unsigned)max) {
            util_seterr(err, errlen, "level %u above maximum %d", v, max);
            return FEATD_ERR;
        }
        out[i] = (uint8_t)v;
    }
    *used = need;
    return FEATD_OK;
}
