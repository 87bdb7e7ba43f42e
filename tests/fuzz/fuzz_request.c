/*
 * fuzz_request.c — libFuzzer harness over what a client sends and what the
 * online tier hands back: the first input byte picks the path, the rest is
 *   0..127   a request frame as the serving port reads it: frame header
 *            (frame_peek against max_frame_bytes), protobuf decode into a
 *            bounded arena (proto_decode_request), and for a lookup the
 *            whole validation (lookup_plan_build) against a config with
 *            every type, composite and string keys;
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
    "        { \"name\": \"d\", \"type\": \"double\" }, { \"name\": \"s\", \"type\": \"string\" },"
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
    }
    arena_release(&a);
    return 0;
}
