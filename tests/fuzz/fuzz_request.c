/*
 * fuzz_request.c — libFuzzer harness over what a client sends and what the
 * online tier hands back: the first input byte picks the path, the rest is
 *   0..95    a request frame as the serving port reads it: frame header
 *            (frame_peek against max_frame_bytes), protobuf decode into a
 *            bounded arena (proto_decode_request), and for a lookup the
 *            whole validation (lookup_plan_build), for a write its
 *            validation and conversion (write_check), against a config
 *            with every type, composite and string keys, expect rules;
 *   96..127  a Redis Stream entry (stream_entry_decode): the rest split at
 *            NUL bytes into field, value, field, value, ...;
 *   128..255 a packed row as read from Redis, decoded (online_row_decode)
 *            for one of the config's views (byte value picks the view).
 * Built and run by `make fuzz` (mk/fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "core/arena.h"
#include "online/online_row.h"
#include "serve/lookup_plan.h"
#include "serve/write_check.h"
#include "stream/stream_entry.h"
#include "wire/frame.h"
#include "wire/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_cfg[] =
    "{ \"server\": { \"max_entities_per_request\": 1000 },"
    "  \"entities\": ["
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] },"
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] },"
    "    { \"name\": \"pair\", \"join_keys\": [ { \"name\": \"a\", \"type\": \"int64\" },"
    "                                          { \"name\": \"b\", \"type\": \"string\" } ] } ],"
    "  \"feature_views\": ["
    "    { \"name\": \"all\", \"entities\": [\"user\"], \"ttl_seconds\": 60, \"features\": ["
    "        { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i32\", \"type\": \"int32\" },"
    "        { \"name\": \"i64\", \"type\": \"int64\" }, { \"name\": \"f\", \"type\": \"float\" },"
    "        { \"name\": \"d\", \"type\": \"double\", \"expect\": { \"min\": 0, \"max\": 10 } },"
    "        { \"name\": \"s\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\"] } },"
    "        { \"name\": \"by\", \"type\": \"bytes\" }, { \"name\": \"ts\", \"type\": \"timestamp\" },"
    "        { \"name\": \"fl\", \"type\": \"float_list\" }, { \"name\": \"dl\", \"type\": \"double_list\" },"
    "        { \"name\": \"il\", \"type\": \"int64_list\" }, { \"name\": \"sl\", \"type\": \"string_list\" } ] },"
    "    { \"name\": \"ui\", \"entities\": [\"user\", \"item\"], \"features\": ["
    "        { \"name\": \"score\", \"type\": \"float\" } ] },"
    "    { \"name\": \"p\", \"entities\": [\"pair\"], \"features\": ["
    "        { \"name\": \"x\", \"type\": \"string\" } ] } ] }";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct featd_config *cfg;
    if (cfg == NULL) {
        char err[1024];
        if (config_load_string(fuzz_cfg, &cfg, err, sizeof err) != FEATD_OK) {
            fprintf(stderr, "fuzz_request: config: %s\n", err);
            abort();
        }
    }
    if (size < 1) {
        return 0;
    }
    uint8_t path = data[0];
    data++;
    size--;
    if (path >= 128) {
        const struct cfg_view *v = &cfg->views[path % cfg->nviews];
        struct online_value vals[16];
        int64_t ev, cr;
        char err[256];
        (void)online_row_decode(data, size, v, &ev, &cr, vals, err, sizeof err);
        return 0;
    }
    if (path >= 96) {
        /* a stream entry for view "all" (every type) */
        const struct cfg_view *v = &cfg->views[0];
        const char *f[64];
        size_t fl[64], nf = 0, start = 0;
        for (size_t i = 0; i <= size && nf < 64; i++) {
            if (i == size || data[i] == 0) {
                f[nf] = (const char *)data + start;
                fl[nf++] = i - start;
                start = i + 1;
            }
        }
        struct online_key keys[4];
        struct online_value vals[16];
        struct fbuf scratch[16] = { { 0 } };
        struct stream_row row = { keys, vals, scratch, 0 };
        const char *names[32], *texts[32];
        size_t nl[32], tl[32];
        size_t np = nf / 2;
        for (size_t i = 0; i < np; i++) {
            names[i] = f[2 * i];
            nl[i] = fl[2 * i];
            texts[i] = f[2 * i + 1];
            tl[i] = fl[2 * i + 1];
        }
        char why[256];
        (void)stream_entry_decode(v, np, names, nl, texts, tl, &row, why, sizeof why);
        for (size_t i = 0; i < 16; i++) {
            fbuf_free(&scratch[i]);
        }
        return 0;
    }
    uint32_t len;
    if (frame_peek(data, size, 1u << 20, &len) != FRAME_OK) {
        return 0;
    }
    struct arena a;
    arena_init(&a, 4u << 20);
    Featd__V1__Request *msg = proto_decode_request(&a, data + FRAME_HEADER, len);
    if (msg != NULL && msg->body_case == FEATD__V1__REQUEST__BODY_GET_ONLINE_FEATURES &&
        msg->get_online_features != NULL) {
        struct lookup_plan_error perr;
        (void)lookup_plan_build(cfg, msg->get_online_features, &a, &perr);
    } else if (msg != NULL && msg->body_case == FEATD__V1__REQUEST__BODY_WRITE_FEATURES &&
               msg->write_features != NULL) {
        struct write_rows rows;
        struct write_check_error werr;
        (void)write_check(cfg, msg->write_features, &a, &rows, &werr);
    }
    arena_release(&a);
    return 0;
}
