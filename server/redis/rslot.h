/*
 * rslot.h — Redis Cluster key slots: CRC16 (XMODEM, as the cluster
 * specification defines it) of the key's hash tag modulo 16384.
 *
 * Hash tag rule: when the key contains '{' and a later '}' with at least one
 * byte between them, only the bytes between the first '{' and the first '}'
 * after it are hashed; otherwise the whole key is. featd's entity keys
 * P:v2:{E} and view meta keys P:v2:m:{V}:... rely on it (docs/online-layout.md).
 *
 * Pure functions; any thread.
 */
#ifndef FEATD_RSLOT_H
#define FEATD_RSLOT_H

#include <stddef.h>
#include <stdint.h>

#define RSLOT_COUNT 16384u

/* CRC16-CCITT (XMODEM: poly 0x1021, init 0) of buf[0..len). */
uint16_t rslot_crc16(const char *buf, size_t len);

/* The cluster slot of key[0..len) (0 .. RSLOT_COUNT-1). */
unsigned rslot_of_key(const char *key, size_t len);

#endif
