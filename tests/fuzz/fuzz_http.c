/*
 * fuzz_http.c — libFuzzer harness of the serving port's HTTP input: the
 * bytes are read as a connection's input stream, request after request
 * (pipelining): http_sniff on the first byte, http_parse_head on what is
 * left (as http_conn.c calls it: at most HTTP_MAX_HEAD bytes looked at),
 * the body taken by Content-Length (bounded like max_frame_bytes), and
 * each body of a POST built into a lookup (http_lookup_build, the JSON ->
 * featd.v1.Request path shared with the admin port) and into both write
 * bodies (http_write_build for /push and /write-to-online-store, then
 * write_check on what it built, as serve/write.c runs it) against a config
 * with int64, string and composite join keys, two views sharing a feature
 * name and a view of every type with expect rules. Every pointer the
 * parser returns is checked to lie inside the input. Built and run by
 * `make fuzz` (mk/fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/arena.h"
#include "http/http_lookup.h"
#include "http/http_parse.h"
#include "http/http_write.h"
#include "serve/write_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_BODY 65536

static const char fuzz_cfg[] =
    "{ \"server\": { \"max_entities_per_request\": 1000 },"
    "  \"entities\": ["
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] },"
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ],"
    "  \"feature_views\": ["
    "    { \"name\": \"u\", \"entities\": [\"user\"], \"features\": ["
    "        { \"name\": \"x\", \"type\": \"int64\" }, { \"name\": \"s\", \"type\": \"string\" } ] },"
    "    { \"name\": \"i\", \"entities\": [\"item\"], \"features\": [ { \"name\": \"x\", \"type\": \"double\" } ] },"
    "    { \"name\": \"ui\", \"entities\": [\"user\", \"item\"], \"features\": ["
    "        { \"name\": \"score\", \"type\": \"float\" } ] },"
    "    { \"name\": \"all\", \"entities\": [\"user\"], \"source\": { \"path\": \"/nonexistent\","
    "        \"event_timestamp_column\": \"ts\", \"created_timestamp_column\": \"cr\" }, \"features\": ["
    "        { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i\", \"type\": \"int32\" },"
    "        { \"name\": \"l\", \"type\": \"int64\", \"expect\": { \"min\": 0, \"max\": 100 } },"
    "        { \"name\": \"f\", \"type\": \"float\" }, { \"name\": \"d\", \"type\": \"double\" },"
    "        { \"name\": \"s\", \"type\": \"string\", \"expect\": { \"allowed\": [\"a\", \"b\"] } },"
    "        { \"name\": \"y\", \"type\": \"bytes\" }, { \"name\": \"t\", \"type\": \"timestamp\" },"
    "        { \"name\": \"fl\", \"type\": \"float_list\" }, { \"name\": \"dl\", \"type\": \"double_list\" },"
    "        { \"name\": \"il\", \"type\": \"int64_list\" }, { \"name\": \"sl\", \"type\": \"string_list\","
    "          \"expect\": { \"not_null\": true } } ] } ] }";

static void fuzz_inside(const char *p, size_t n, const char *base, size_t size)
{
    if (p != NULL && (p < base || p + n > base + size)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct featd_config *cfg;
    if (cfg == NULL) {
        char err[512];
        if (config_load_string(fuzz_cfg, &cfg, err, sizeof err) != FEATD_OK) {
            fprintf(stderr, "fuzz config: %s\n", err);
            abort();
        }
    }
    /* a copy without slack: reads past the end are caught by ASan */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    if (http_sniff((const uint8_t *)buf, size) != 1) {
        free(buf);
        return 0;
    }
    size_t off = 0;
    while (off < size) {
        struct http_head h;
        int status = 0;
        const char *why = NULL;
        size_t left = size - off;
        size_t look = left < HTTP_MAX_HEAD ? left : HTTP_MAX_HEAD;
        enum http_parse_status st = http_parse_head(buf + off, look, &h, &status, &why);
        if (st == HTTP_PARSE_FAIL) {
            if (why == NULL || status < 400 || status > 599) {
                abort();
            }
            break;
        }
        if (st == HTTP_PARSE_MORE) {
            break;
        }
        if (h.head_len == 0 || h.head_len > look) {
            abort();
        }
        fuzz_inside(h.method_s, h.method_len, buf + off, h.head_len);
        if (h.path_len > 1 || h.path[0] != '/') {
            fuzz_inside(h.path, h.path_len, buf + off, h.head_len);
        }
        fuzz_inside(h.auth, h.auth_len, buf + off, h.head_len);
        if (h.content_length > FUZZ_MAX_BODY || h.content_length > left - h.head_len) {
            break;
        }
        if (h.method == HTTP_POST) {
            struct arena a;
            arena_init(&a, 16u << 20);
            Featd__V1__Request *rq = NULL;
            enum http_names names;
            char msg[512];
            int rc = http_lookup_build(buf + off + h.head_len, (size_t)h.content_length, cfg, &a, &rq, &names, msg,
                                       sizeof(msg));
            if (rc == FEATD_OK && (rq == NULL || rq->get_online_features == NULL)) {
                abort();
            }
            arena_release(&a);
            for (int kind = HTTP_WRITE_PUSH; kind <= HTTP_WRITE_STORE; kind++) {
                struct http_write_info info;
                arena_init(&a, 16u << 20);
                rq = NULL;
                msg[0] = '\0';
                rc = http_write_build(buf + off + h.head_len, (size_t)h.content_length, (enum http_write_kind)kind,
                                      cfg, &a, &rq, &info, msg, sizeof(msg));
                if ((rc == FEATD_OK && (rq == NULL || rq->write_features == NULL)) ||
                    (rc == FEATD_ERR && info.view != NULL && rq == NULL) || (rc != FEATD_OK && msg[0] == '\0')) {
                    abort();
                }
                if (rc == FEATD_OK) {
                    struct write_rows rows;
                    struct write_check_error err;
                    if (write_check(cfg, rq->write_features, &a, &rows, &err) == FEATD_OK &&
                        (rows.nrows == 0 || rows.v == NULL || rows.keys == NULL || rows.vals == NULL)) {
                        abort();
                    }
                }
                arena_release(&a);
            }
        }
        off += h.head_len + (size_t)h.content_length;
    }
    free(buf);
    return 0;
}
