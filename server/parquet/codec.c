/*
 * codec.c — Parquet page decompression (see codec.h): a thin, bounds-checked
 * layer over libsnappy, zlib, libzstd, liblz4 and libbrotlidec. Every codec
 * decodes into the caller's dst[0..dstlen) and must produce exactly dstlen
 * bytes; anything else is an error that names the codec.
 */
#include "parquet/codec.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <brotli/decode.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "core/util.h"

/* LZ4 frame format magic number, little-endian on the wire. */
#define CODEC_LZ4F_MAGIC 0x184D2204u

const char *pq_codec_name(int codec)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED: return "UNCOMPRESSED";
    case PQ_CODEC_SNAPPY: return "SNAPPY";
    case PQ_CODEC_GZIP: return "GZIP";
    case PQ_CODEC_LZO: return "LZO";
    case PQ_CODEC_BROTLI: return "BROTLI";
    case PQ_CODEC_LZ4: return "LZ4";
    case PQ_CODEC_ZSTD: return "ZSTD";
    case PQ_CODEC_LZ4_RAW: return "LZ4_RAW";
    default: break;
    }
    static _Thread_local char buf[24];
    snprintf(buf, sizeof(buf), "UNKNOWN(%d)", codec);
    return buf;
}

int pq_codec_supported(int codec)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
    case PQ_CODEC_SNAPPY:
    case PQ_CODEC_GZIP:
    case PQ_CODEC_BROTLI:
    case PQ_CODEC_LZ4:
    case PQ_CODEC_ZSTD:
    case PQ_CODEC_LZ4_RAW:
        return 1;
    default:
        return 0;
    }
}

static uint32_t codec_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int codec_snappy(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        char *err, size_t errlen)
{
    size_t ulen = 0;
    if (snappy_uncompressed_length((const char *)src, srclen, &ulen) != SNAPPY_OK) {
        util_seterr(err, errlen, "SNAPPY: corrupt stream header (%zu bytes)", srclen);
        return FEATD_ERR;
    }
    if (ulen != dstlen) {
        util_seterr(err, errlen, "SNAPPY: stream declares %zu bytes, page expects %zu", ulen, dstlen);
        return FEATD_ERR;
    }
    uint8_t dummy;
    size_t outlen = dstlen;
    if (snappy_uncompress((const char *)src, srclen, (char *)(dstlen ? dst : &dummy), &outlen)
            != SNAPPY_OK || outlen != dstlen) {
        util_seterr(err, errlen, "SNAPPY: corrupt stream (%zu bytes, expected %zu out)", srclen, dstlen);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/*
 * GZIP (zlib/gzip auto-detected). Concatenated members are decoded one after
 * another into the same output; trailing bytes that are not a valid member are
 * an error. Sizes above UINT_MAX are fed to zlib in slices.
 */
static int codec_gzip(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        util_seterr(err, errlen, "GZIP: cannot initialise zlib");
        return FEATD_ERR;
    }
    size_t in = 0, out = 0;
    int rc = FEATD_ERR;
    int ended = 0;          /* the current member reached Z_STREAM_END */
    uint8_t scratch;        /* probe for output beyond dstlen */
    for (;;) {
        if (ended) {
            if (in == srclen) {
                break;
            }
            if (inflateReset(&zs) != Z_OK) {
                util_seterr(err, errlen, "GZIP: cannot reset zlib");
                goto done;
            }
            ended = 0;
        }
        size_t ain = srclen - in;
        size_t aout = dstlen - out;
        int probing = (aout == 0);
        zs.next_in = (Bytef *)(uintptr_t)(src + in);
        zs.avail_in = ain > UINT_MAX ? UINT_MAX : (uInt)ain;
        zs.next_out = probing ? &scratch : dst + out;
        zs.avail_out = probing ? 1 : (aout > UINT_MAX ? UINT_MAX : (uInt)aout);
        uInt before_in = zs.avail_in, before_out = zs.avail_out;
        int zr = inflate(&zs, Z_NO_FLUSH);
        size_t used_in = before_in - zs.avail_in;
        size_t made = before_out - zs.avail_out;
        in += used_in;
        if (probing && made > 0) {
            util_seterr(err, errlen, "GZIP: stream decodes to more than the expected %zu bytes", dstlen);
            goto done;
        }
        if (!probing) {
            out += made;
        }
        if (zr == Z_STREAM_END) {
            ended = 1;
            continue;
        }
        if (zr == Z_OK) {
            if (used_in == 0 && made == 0) {
                util_seterr(err, errlen, "GZIP: no progress at input offset %zu", in);
                goto done;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR) {
            if (in == srclen) {
                util_seterr(err, errlen, "GZIP: truncated stream (%zu of %zu bytes decoded)", out, dstlen);
            } else {
                util_seterr(err, errlen, "GZIP: no progress at input offset %zu", in);
            }
            goto done;
        }
        util_seterr(err, errlen, "GZIP: corrupt stream at input offset %zu: %s", in,
                  zs.msg ? zs.msg : "inflate error");
        goto done;
    }
    if (out != dstlen) {
        util_seterr(err, errlen, "GZIP: decoded %zu bytes, page expects %zu", out, dstlen);
        goto done;
    }
    rc = FEATD_OK;
done:
    inflateEnd(&zs);
    return rc;
}

static int codec_zstd(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                      char *err, size_t errlen)
{
    unsigned long long fcs = ZSTD_getFrameContentSize(src, srclen);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) {
        util_seterr(err, errlen, "ZSTD: not a valid zstd frame (%zu bytes)", srclen);
        return FEATD_ERR;
    }
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN) {
        /* The first frame alone already exceeds the page, or it is the only
         * frame and its size disagrees. */
        size_t flen = ZSTD_findFrameCompressedSize(src, srclen);
        if (fcs > dstlen || (!ZSTD_isError(flen) && flen == srclen && fcs != dstlen)) {
            util_seterr(err, errlen, "ZSTD: frame declares %llu bytes, page expects %zu", fcs, dstlen);
            return FEATD_ERR;
        }
    }
    uint8_t dummy;
    size_t r = ZSTD_decompress(dstlen ? dst : &dummy, dstlen, src, srclen);
    if (ZSTD_isError(r)) {
        util_seterr(err, errlen, "ZSTD: %s (%zu bytes in, %zu expected out)", ZSTD_getErrorName(r),
                  srclen, dstlen);
        return FEATD_ERR;
    }
    if (r != dstlen) {
        util_seterr(err, errlen, "ZSTD: decoded %zu bytes, page expects %zu", r, dstlen);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/* One raw LZ4 block that must decode to exactly dstlen bytes. */
static int codec_lz4_block(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen)
{
    if (srclen == 0 || srclen > (size_t)LZ4_MAX_INPUT_SIZE || dstlen > (size_t)INT_MAX) {
        return FEATD_ERR;
    }
    uint8_t dummy;
    int n = LZ4_decompress_safe((const char *)src, (char *)(dstlen ? dst : &dummy), (int)srclen,
                                (int)dstlen);
    return (n >= 0 && (size_t)n == dstlen) ? FEATD_OK : FEATD_ERR;
}

static int codec_lz4_raw(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                         char *err, size_t errlen)
{
    if (srclen > (size_t)LZ4_MAX_INPUT_SIZE || dstlen > (size_t)INT_MAX) {
        util_seterr(err, errlen, "LZ4_RAW: block too large (%zu in, %zu out)", srclen, dstlen);
        return FEATD_ERR;
    }
    if (codec_lz4_block(src, srclen, dst, dstlen) != FEATD_OK) {
        util_seterr(err, errlen, "LZ4_RAW: corrupt block or size mismatch (%zu bytes in, %zu expected out)",
                  srclen, dstlen);
        return FEATD_ERR;
    }
    return FEATD_OK;
}

/*
 * Hadoop block framing: a sequence of blocks [BE u32 raw_len] followed by one
 * or more chunks [BE u32 comp_len][LZ4 block] that together decode to raw_len
 * bytes; the blocks fill dst exactly. (Writers that put one chunk per block
 * produce the common [raw_len][comp_len][data] repetition.) Returns FEATD_ERR
 * without a message: the caller falls back to other LZ4 layouts.
 */
static int codec_lz4_hadoop(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen)
{
    size_t in = 0, out = 0;
    if (srclen < 8) {
        return FEATD_ERR;
    }
    while (in < srclen) {
        if (srclen - in < 8) {
            return FEATD_ERR;
        }
        size_t raw = codec_be32(src + in);
        in += 4;
        if (raw > dstlen - out) {
            return FEATD_ERR;
        }
        size_t got = 0;
        do {
            if (srclen - in < 4) {
                return FEATD_ERR;
            }
            size_t clen = codec_be32(src + in);
            in += 4;
            if (clen == 0 || clen > srclen - in || clen > (size_t)LZ4_MAX_INPUT_SIZE
                    || raw - got > (size_t)INT_MAX) {
                return FEATD_ERR;
            }
            uint8_t dummy;
            size_t cap = raw - got;
            int n = LZ4_decompress_safe((const char *)src + in,
                                        (char *)(cap ? dst + out : &dummy), (int)clen, (int)cap);
            if (n < 0) {
                return FEATD_ERR;
            }
            in += clen;
            got += (size_t)n;
            out += (size_t)n;
        } while (got < raw);
    }
    return out == dstlen ? FEATD_OK : FEATD_ERR;
}

/* LZ4 frame format (one or more concatenated frames), exactly dstlen bytes. */
static int codec_lz4_frame(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                           char *err, size_t errlen)
{
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
        util_seterr(err, errlen, "LZ4: cannot create frame decoder");
        return FEATD_ERR;
    }
    int rc = FEATD_ERR;
    size_t in = 0, out = 0, hint = 1;
    uint8_t scratch;
    while (in < srclen) {
        size_t aout = dstlen - out;
        int probing = (aout == 0);
        size_t insz = srclen - in;
        size_t outsz = probing ? 1 : aout;
        hint = LZ4F_decompress(dctx, probing ? &scratch : dst + out, &outsz, src + in, &insz, NULL);
        if (LZ4F_isError(hint)) {
            util_seterr(err, errlen, "LZ4: corrupt frame at input offset %zu: %s", in,
                      LZ4F_getErrorName(hint));
            goto done;
        }
        if (probing && outsz > 0) {
            util_seterr(err, errlen, "LZ4: frame decodes to more than the expected %zu bytes", dstlen);
            goto done;
        }
        if (insz == 0 && outsz == 0) {
            util_seterr(err, errlen, "LZ4: frame makes no progress at input offset %zu", in);
            goto done;
        }
        in += insz;
        out += probing ? 0 : outsz;
    }
    /* Flush anything still buffered in the decoder (hint != 0 means the frame
     * is incomplete, which with all input consumed means truncation). */
    while (hint != 0) {
        size_t insz = 0;
        size_t aout = dstlen - out;
        size_t outsz = aout ? aout : 1;
        hint = LZ4F_decompress(dctx, aout ? dst + out : &scratch, &outsz, src + srclen, &insz, NULL);
        if (LZ4F_isError(hint)) {
            util_seterr(err, errlen, "LZ4: corrupt frame: %s", LZ4F_getErrorName(hint));
            goto done;
        }
        if (outsz == 0) {
            break;
        }
        if (aout == 0) {
            util_seterr(err, errlen, "LZ4: frame decodes to more than the expected %zu bytes", dstlen);
            goto done;
        }
        out += outsz;
    }
    if (hint != 0) {
        util_seterr(err, errlen, "LZ4: truncated frame (%zu of %zu bytes decoded)", out, dstlen);
        goto done;
    }
    if (out != dstlen) {
        util_seterr(err, errlen, "LZ4: frame decoded %zu bytes, page expects %zu", out, dstlen);
        goto done;
    }
    rc = FEATD_OK;
done:
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

/*
 * Parquet's deprecated LZ4 codec: Hadoop framing first (parquet-mr), then the
 * LZ4 frame format when the magic is present, else a raw LZ4 block (old
 * parquet-cpp). A raw block cannot start with the frame magic (its first
 * token would reference data before the start), so the choice is unambiguous.
 */
static int codec_lz4(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                     char *err, size_t errlen)
{
    if (codec_lz4_hadoop(src, srclen, dst, dstlen) == FEATD_OK) {
        return FEATD_OK;
    }
    if (srclen >= 4) {
        uint32_t magic = (uint32_t)src[0] | ((uint32_t)src[1] << 8) | ((uint32_t)src[2] << 16)
                         | ((uint32_t)src[3] << 24);
        if (magic == CODEC_LZ4F_MAGIC) {
            return codec_lz4_frame(src, srclen, dst, dstlen, err, errlen);
        }
    }
    if (srclen <= (size_t)LZ4_MAX_INPUT_SIZE && dstlen <= (size_t)INT_MAX
            && codec_lz4_block(src, srclen, dst, dstlen) == FEATD_OK) {
        return FEATD_OK;
    }
    util_seterr(err, errlen, "LZ4: neither Hadoop-framed nor a raw block decoding to %zu bytes "
              "(%zu bytes in)", dstlen, srclen);
    return FEATD_ERR;
}

static int codec_brotli(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen,
                        char *err, size_t errlen)
{
    BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (st == NULL) {
        util_seterr(err, errlen, "BROTLI: cannot create decoder");
        return FEATD_ERR;
    }
    int rc = FEATD_ERR;
    uint8_t scratch;
    size_t avail_in = srclen;
    const uint8_t *next_in = src;
    size_t avail_out = dstlen;
    uint8_t *next_out = dstlen ? dst : &scratch;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out,
                                                          &next_out, NULL);
    size_t out = dstlen - avail_out;
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && avail_out == 0) {
        /* The page is full: the stream may still only need to see its end. */
        size_t one = 1;
        uint8_t *probe = &scratch;
        r = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &one, &probe, NULL);
        if (one == 0) {
            r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
        }
    }
    switch (r) {
    case BROTLI_DECODER_RESULT_SUCCESS:
        if (avail_in != 0) {
            util_seterr(err, errlen, "BROTLI: %zu trailing bytes after the stream", avail_in);
        } else if (out != dstlen) {
            util_seterr(err, errlen, "BROTLI: decoded %zu bytes, page expects %zu", out, dstlen);
        } else {
            rc = FEATD_OK;
        }
        break;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        util_seterr(err, errlen, "BROTLI: stream decodes to more than the expected %zu bytes", dstlen);
        break;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        util_seterr(err, errlen, "BROTLI: truncated stream (%zu of %zu bytes decoded)", out, dstlen);
        break;
    default:
        util_seterr(err, errlen, "BROTLI: corrupt stream: %s",
                  BrotliDecoderErrorString(BrotliDecoderGetErrorCode(st)));
        break;
    }
    BrotliDecoderDestroyInstance(st);
    return rc;
}

int pq_codec_decompress(int codec, const uint8_t *src, size_t srclen,
                        uint8_t *dst, size_t dstlen, char *err, size_t errlen)
{
    if (!pq_codec_supported(codec)) {
        if (codec == PQ_CODEC_LZO) {
            util_seterr(err, errlen, "LZO: codec not supported");
        } else {
            util_seterr(err, errlen, "UNKNOWN(%d): codec not supported", codec);
        }
        return FEATD_ERR;
    }
    if (srclen == 0) {
        if (dstlen == 0) {
            return FEATD_OK;
        }
        util_seterr(err, errlen, "%s: empty input, page expects %zu bytes", pq_codec_name(codec), dstlen);
        return FEATD_ERR;
    }
    if (src == NULL || (dst == NULL && dstlen != 0)) {
        util_seterr(err, errlen, "%s: null buffer", pq_codec_name(codec));
        return FEATD_ERR;
    }
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (srclen != dstlen) {
            util_seterr(err, errlen, "UNCOMPRESSED: page holds %zu bytes, header says %zu", srclen, dstlen);
            return FEATD_ERR;
        }
        memcpy(dst, src, dstlen);
        return FEATD_OK;
    case PQ_CODEC_SNAPPY:
        return codec_snappy(src, srclen, dst, dstlen, err, errlen);
    case PQ_CODEC_GZIP:
        return codec_gzip(src, srclen, dst, dstlen, err, errlen);
    case PQ_CODEC_ZSTD:
        return codec_zstd(src, srclen, dst, dstlen, err, errlen);
    case PQ_CODEC_LZ4_RAW:
        return codec_lz4_raw(src, srclen, dst, dstlen, err, errlen);
    case PQ_CODEC_LZ4:
        return codec_lz4(src, srclen, dst, dstlen, err, errlen);
    case PQ_CODEC_BROTLI:
        return codec_brotli(src, srclen, dst, dstlen, err, errlen);
    default:
        break;
    }
    util_seterr(err, errlen, "UNKNOWN(%d): codec not supported", codec);
    return FEATD_ERR;
}
