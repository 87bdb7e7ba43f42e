/*
 * online_push.c — pushed rows' field, expiry, row and write command
 * (contract in online_push.h).
 */
#include "online/online_push.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "online/online_writer.h"
#include "redis/rcmd.h"

size_t online_push_field(char *buf, const struct cfg_view *v)
{
    buf[0] = 'p';
    memcpy(buf + 1, v->fingerprint_hex, 16);
    buf[17] = '\0';
    return 17;
}

int64_t online_push_expire_at_ms(const struct cfg_view *v, int64_t event_ts_us, int64_t now_ms)
{
    int64_t at = online_row_expire_at_ms(v, event_ts_us);
    if (at == 0 || at >= ONLINE_WRITER_NO_EXPIRY_MS) {
        return ONLINE_WRITER_NO_EXPIRY_MS;
    }
    return at <= now_ms ? 0 : at;
}

static char push_sha[ONLINE_PUSH_SHA_HEX];
static pthread_once_t push_sha_once = PTHREAD_ONCE_INIT;

static void push_sha_init(void)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)online_upsert_lua, strlen(online_upsert_lua), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) {
        snprintf(push_sha + 2 * i, 3, "%02x", md[i]);
    }
}

const char *online_push_script_sha(void)
{
    (void)pthread_once(&push_sha_once, push_sha_init);
    return push_sha;
}

int online_push_cmd(struct fbuf *out, bool eval, const char *key, size_t keylen,
                    const char *field, size_t fieldlen, const char *row, size_t rowlen,
                    int64_t at_ms)
{
    char ms[24];
    size_t n = rcmd_put_dec(ms, (uint64_t)(at_ms > 0 ? at_ms : 0));
    size_t mark = out->len;
    int rc = rcmd_put_hdr(out, '*', 7);
    if (rc == FEATD_OK) {
        rc = eval ? rcmd_put_bulk(out, "EVAL", 4) : rcmd_put_bulk(out, "EVALSHA", 7);
    }
    if (rc == FEATD_OK) {
        rc = eval ? rcmd_put_bulk(out, online_upsert_lua, strlen(online_upsert_lua))
                  : rcmd_put_bulk(out, online_push_script_sha(), ONLINE_PUSH_SHA_HEX - 1);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(out, "1", 1);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(out, key, keylen);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(out, field, fieldlen);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(out, row, rowlen);
    }
    if (rc == FEATD_OK) {
        rc = rcmd_put_bulk(out, ms, n);
    }
    if (rc != FEATD_OK) {
        out->len = mark;    /* never leave half a command */
    }
    return rc;
}

int online_push_row(struct fbuf *out, const struct cfg_view *v, int64_t event_ts_us,
                    const struct online_value *vals)
{
    return online_row_encode(out, v, event_ts_us, ONLINE_NO_CREATED_TS, vals);
}
