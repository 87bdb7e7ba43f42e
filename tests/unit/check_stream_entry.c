/*
 * check_stream_entry.c — stream/stream_entry: an entry of every feature type
 * decoded; absent features null; RFC 3339 and µs event times; each refusal
 * (missing join key or event time, unknown or repeated field, bad number,
 * bool, base64, list, a broken expect rule) with its reason.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "stream/stream_entry.h"

static const char *cfg_json =
    "{ \"entities\": [ { \"name\": \"u\", \"join_keys\": [ { \"name\": \"uid\", \"type\": \"int64\" },"
    "                                                   { \"name\": \"shop\", \"type\": \"string\" } ] } ],"
    "  \"feature_views\": [ { \"name\": \"v\", \"entities\": [\"u\"], \"features\": ["
    "    { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i\", \"type\": \"int32\" },"
    "    { \"name\": \"l\", \"type\": \"int64\" }, { \"name\": \"f\", \"type\": \"float\" },"
    "    { \"name\": \"d\", \"type\": \"double\", \"expect\": { \"min\": 0, \"max\": 100 } },"
    "    { \"name\": \"s\", \"type\": \"string\", \"expect\": { \"allowed\": [\"x\", \"y\"] } },"
    "    { \"name\": \"by\", \"type\": \"bytes\" }, { \"name\": \"t\", \"type\": \"timestamp\" },"
    "    { \"name\": \"dl\", \"type\": \"double_list\" }, { \"name\": \"sl\", \"type\": \"string_list\" } ],"
    "    \"source\": { \"stream\": { \"key\": \"ev\" } } } ] }";

static struct featd_config *cfg;
static const struct cfg_view *v;
static struct online_key keys[2];
static struct online_value vals[10];
static struct fbuf scratch[10];
static struct stream_row row = { keys, vals, scratch, 0 };
static char why[512];

static void setup(void)
{
    char err[2048];
    ck_assert_msg(config_load_string(cfg_json, &cfg, err, sizeof err) == FEATD_OK, "%s", err);
    v = &cfg->views[0];
    memset(scratch, 0, sizeof scratch);
}

static void teardown(void)
{
    for (size_t i = 0; i < 10; i++) {
        fbuf_free(&scratch[i]);
    }
    config_free(cfg);
}

/* Decodes the NULL-terminated name/value list. */
static int decode(const char *const *kv)
{
    const char *names[32], *texts[32];
    size_t nl[32], tl[32], n = 0;
    for (; kv[2 * n] != NULL; n++) {
        names[n] = kv[2 * n];
        texts[n] = kv[2 * n + 1];
        nl[n] = strlen(names[n]);
        tl[n] = strlen(texts[n]);
    }
    why[0] = '\0';
    return stream_entry_decode(v, n, names, nl, texts, tl, &row, why, sizeof why);
}

START_TEST(test_every_type)
{
    const char *kv[] = { "uid", "-42", "shop", "a:b", "event_timestamp", "2026-12-01T10:00:00.5Z",
                         "b", "true", "i", "-7", "l", "9007199254740993", "f", "1.5", "d", "99.25",
                         "s", "y", "by", "aGVsbG8=", "t", "1700000000000000", "dl", "[1, 2.5]",
                         "sl", "[\"p\", \"q\"]", NULL };
    ck_assert_msg(decode(kv) == FEATD_OK, "%s", why);
    ck_assert_int_eq(keys[0].i, -42);
    ck_assert_int_eq((int)keys[1].slen, 3);
    ck_assert(memcmp(keys[1].s, "a:b", 3) == 0);
    ck_assert_int_eq(row.event_us, 1796119200500000LL);
    ck_assert(vals[0].u.b && !vals[0].is_null);
    ck_assert_int_eq(vals[1].u.i32, -7);
    ck_assert_int_eq(vals[2].u.i64, 9007199254740993LL);
    ck_assert(vals[3].u.f == 1.5f);
    ck_assert(vals[4].u.d == 99.25);
    ck_assert_int_eq((int)vals[6].slen, 5);
    ck_assert(memcmp(vals[6].s, "hello", 5) == 0);
    ck_assert_int_eq(vals[7].u.i64, 1700000000000000LL);
    ck_assert_int_eq(vals[8].count, 2);
    ck_assert_int_eq(vals[9].count, 2);
}
END_TEST

START_TEST(test_absent_is_null)
{
    const char *kv[] = { "uid", "1", "shop", "", "event_timestamp", "1000", "d", "NaN", NULL };
    /* NaN breaks min/max */
    ck_assert_int_eq(decode(kv), FEATD_ERR);
    ck_assert_msg(strstr(why, "expect") && strstr(why, "NaN"), "%s", why);
    const char *kv2[] = { "uid", "1", "shop", "", "event_timestamp", "1000", "d", "1e2", NULL };
    ck_assert_msg(decode(kv2) == FEATD_OK, "%s", why);
    ck_assert_int_eq(row.event_us, 1000);
    ck_assert(vals[4].u.d == 100.0 && !vals[4].is_null);
    ck_assert(vals[0].is_null && vals[5].is_null && vals[8].is_null);
}
END_TEST

struct bad {
    const char *kv[12];
    const char *word;
};

static const struct bad bads[] = {
    { { "shop", "s", "event_timestamp", "1", NULL }, "missing join key uid" },
    { { "uid", "1", "shop", "s", NULL }, "missing event_timestamp" },
    { { "uid", "1x", "shop", "s", "event_timestamp", "1", NULL }, "join key uid" },
    { { "uid", "1", "shop", "s", "event_timestamp", "yesterday", NULL }, "event_timestamp" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "zz", "1", NULL }, "unknown field \"zz\"" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "uid", "2", NULL }, "join key uid given twice" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "l", "1", "l", "2", NULL }, "feature l given twice" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "b", "yes", NULL }, "true or false" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "i", "3000000000", NULL }, "int32" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "l", "0x10", NULL }, "int64" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "f", "1e39", NULL }, "float range" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "d", "inf", NULL }, "decimal number" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "by", "!!", NULL }, "base64" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "dl", "[1,", NULL }, "JSON array" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "dl", "[1, null]", NULL }, "null" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "sl", "[1]", NULL }, "string" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "d", "101", NULL }, "max 100" },
    { { "uid", "1", "shop", "s", "event_timestamp", "1", "s", "z", NULL }, "allowed" },
};

START_TEST(test_refusals)
{
    const struct bad *b = &bads[_i];
    ck_assert_msg(decode(b->kv) == FEATD_ERR, "case %d decoded", _i);
    ck_assert_msg(strstr(why, b->word) != NULL, "case %d: '%s' not in: %s", _i, b->word, why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stream_entry");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_type);
    tcase_add_test(tc, test_absent_is_null);
    tcase_add_loop_test(tc, test_refusals, 0, (int)(sizeof bads / sizeof bads[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
