/*
 * codec.h — Parquet page decompression: UNCOMPRESSED, SNAPPY, GZIP (incl.
 * concatenated members), ZSTD, LZ4_RAW, LZ4 (Hadoop framing with raw-block
 * fallback), BROTLI. Codec numbers are Parquet's thrift CompressionCodec.
 */
#ifndef FEATD_PQ_CODEC_H
#define FEATD_PQ_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/featd.h"

enum pq_codec {
    PQ_CODEC_UNCOMPRESSED = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_LZO = 3,       /* unsupported: rejected */
    PQ_CODEC_BROTLI = 4,
    PQ_CODEC_LZ4 = 5,       /* Hadoop-framed; raw LZ4 block fallback */
    PQ_CODEC_ZSTD = 6,
    PQ_CODEC_LZ4_RAW = 7
};

/* Name for messages ("SNAPPY"...), "UNKNOWN(n)" style for others. */
const char *pq_codec_name(int codec);
/* 1 when pq_codec_decompress can handle codec. */
int pq_codec_supported(int codec);

/*
 * Decompress src[0..srclen) into dst, which must receive exactly dstlen bytes
 * (the page header's uncompressed size, already bounded by the caller).
 * Never writes past dst+dstlen, never allocates more than a small constant
 * (besides codec library state). A zero-length src with dstlen 0 is valid for
 * every codec. Returns FEATD_OK, or FEATD_ERR with a reason in err when the
 * stream is corrupt, decodes to a different size, or the codec is unsupported.
 */
int pq_codec_decompress(int codec, const uint8_t *src, size_t srclen,
                        uint8_t *dst, size_t dstlen, char *err, size_t errlen) FEATD_MUSTCHECK;

#endif
