/*
 * check_jsonw.c — the JSON writer (server/common/jsonw.c): every escape,
 * invalid UTF-8 under both policies, the text form, cut string bodies,
 * fixed (snprintf-like) and growable buffers, shortest round-trip double
 * and float (subnormals, extremes, -0, NaN/Inf), integers, base64 of
 * lengths 0..4 and RFC 3339 times (negative, pre-1970, far future).
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Output of fn on a fresh growable writer with policy pol. */
#define RENDER(out, pol, call) do { \
        struct jsonw w_; \
        jsonw_init(&w_); \
        w_.bad_utf8 = (pol); \
        struct jsonw *w = &w_; \
        call; \
        const char *t_ = jsonw_end(w); \
        ck_assert_ptr_nonnull(t_); \
        snprintf((out), sizeof(out), "%s", t_); \
        ck_assert_uint_eq(strlen(out), w_.len); \
        jsonw_free(&w_); \
    } while (0)

static void str_is(const char *in, size_t n, enum jsonw_bad_utf8 pol, const char *want)
{
    char got[512];
    RENDER(got, pol, jsonw_str(w, in, n));
    ck_assert_msg(strcmp(got, want) == 0, "string: got %s, want %s", got, want);
}

START_TEST(test_escapes)
{
    str_is("", 0, JSONW_UTF8_REPLACE, "\"\"");
    str_is("plain", 5, JSONW_UTF8_REPLACE, "\"plain\"");
    str_is("\"\\/", 3, JSONW_UTF8_REPLACE, "\"\\\"\\\\/\"");
    str_is("\b\f\n\r\t", 5, JSONW_UTF8_REPLACE, "\"\\b\\f\\n\\r\\t\"");
    str_is("\x7f", 1, JSONW_UTF8_REPLACE, "\"\x7f\"");      /* DEL is copied */
    str_is("a\0b", 3, JSONW_UTF8_REPLACE, "\"a\\u0000b\"");
    /* every control byte */
    for (int c = 0; c < 0x20; c++) {
        char in[1] = { (char)c };
        char want[16];
        const char *shortf = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                           : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (shortf) {
            snprintf(want, sizeof(want), "\"%s\"", shortf);
        } else {
            snprintf(want, sizeof(want), "\"\\u%04x\"", c);
        }
        str_is(in, 1, JSONW_UTF8_REPLACE, want);
        str_is(in, 1, JSONW_UTF8_BYTES, want);
    }
    /* valid UTF-8 of every length is copied, also under the bytes policy */
    const char *u = "\xC2\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBD";
    char want[64];
    snprintf(want, sizeof(want), "\"%s\"", u);
    str_is(u, strlen(u), JSONW_UTF8_REPLACE, want);
    str_is(u, strlen(u), JSONW_UTF8_BYTES, want);
    char got[64];
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_strz(w, NULL));
    ck_assert_str_eq(got, "\"\"");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_strz(w, "x\"y"));
    ck_assert_str_eq(got, "\"x\\\"y\"");
}
END_TEST

START_TEST(test_invalid_utf8)
{
    static const struct {
        const char *in;
        const char *replace;
        const char *bytes;
    } cases[] = {
        { "\xff", "\"\\ufffd\"", "\"\\u00ff\"" },
        { "\x80", "\"\\ufffd\"", "\"\\u0080\"" },                  /* lone continuation */
        { "\xC0\xAF", "\"\\ufffd\\ufffd\"", "\"\\u00c0\\u00af\"" }, /* overlong '/' */
        { "\xC1\xBF", "\"\\ufffd\\ufffd\"", "\"\\u00c1\\u00bf\"" },
        { "\xE0\x80\xAF", "\"\\ufffd\\ufffd\\ufffd\"", "\"\\u00e0\\u0080\\u00af\"" },   /* overlong */
        { "\xED\xA0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "\"\\u00ed\\u00a0\\u0080\"" },   /* surrogate */
        { "\xF0\x80\x80\xAF", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "\"\\u00f0\\u0080\\u0080\\u00af\"" },
        { "\xF4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
        { "\xF5\x80", "\"\\ufffd\\ufffd\"", "\"\\u00f5\\u0080\"" },   /* > U+10FFFF lead */
        { "\xE2\x82", "\"\\ufffd\\ufffd\"", "\"\\u00e2\\u0082\"" },   /* cut short */
        { "a\xE2\x82" "b", "\"a\\ufffd\\ufffdb\"", "\"a\\u00e2\\u0082b\"" },
        { "\xE9t\xC3\xA9", "\"\\ufffdt\xC3\xA9\"", "\"\\u00e9t\xC3\xA9\"" },   /* latin-1 then UTF-8 */
    };
    for (size_t i = 0; i < NELEM(cases); i++) {
        str_is(cases[i].in, strlen(cases[i].in), JSONW_UTF8_REPLACE, cases[i].replace);
        str_is(cases[i].in, strlen(cases[i].in), JSONW_UTF8_BYTES, cases[i].bytes);
    }
}
END_TEST

START_TEST(test_text_and_body)
{
    char got[128];
    const char *in = "a\"b\\c\nd\x01\xC3\xA9\xff";
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_text(w, in, strlen(in)));
    ck_assert_str_eq(got, "a\"b\\c\\nd\\u0001\xC3\xA9\xEF\xBF\xBD");

    /* bodies stop before maxlen and never cut an escape or a sequence */
    struct jsonw w;
    jsonw_init(&w);
    const char *s = "ab\ncd";       /* ab \n cd = 2 + 2 + 2 */
    ck_assert_uint_eq(jsonw_str_body(&w, s, 5, 3), 2);
    ck_assert_uint_eq(w.len, 2);
    jsonw_reset(&w);
    ck_assert_uint_eq(jsonw_str_body(&w, s, 5, 4), 3);
    ck_assert_str_eq(jsonw_end(&w), "ab\\n");
    jsonw_reset(&w);
    const char *e = "x\xE2\x82\xACy";  /* x € y */
    ck_assert_uint_eq(jsonw_str_body(&w, e, 5, 3), 1);
    ck_assert_str_eq(jsonw_end(&w), "x");
    jsonw_reset(&w);
    ck_assert_uint_eq(jsonw_str_body(&w, e, 5, 4), 4);
    ck_assert_str_eq(jsonw_end(&w), "x\xE2\x82\xAC");
    jsonw_reset(&w);
    ck_assert_uint_eq(jsonw_str_body(&w, e, 5, 100), 5);
    jsonw_reset(&w);
    jsonw_lit(&w, "{\"m\":\"");
    ck_assert_uint_eq(jsonw_str_body(&w, "\xff\xff", 2, 6 + 6), 1);    /* \ufffd is 6 bytes */
    ck_assert_str_eq(jsonw_end(&w), "{\"m\":\"\\ufffd");
    jsonw_free(&w);
}
END_TEST

START_TEST(test_buffers)
{
    /* fixed: snprintf semantics */
    char small[6];
    struct jsonw w;
    jsonw_init_fixed(&w, small, sizeof(small));
    jsonw_str(&w, "hello world", 11);
    ck_assert_uint_eq(w.len, 13);
    ck_assert_str_eq(jsonw_end(&w), "\"hell");
    ck_assert(jsonw_ok(&w));
    jsonw_init_fixed(&w, NULL, 0);
    jsonw_i64(&w, -12345);
    ck_assert_uint_eq(w.len, 6);
    ck_assert_str_eq(jsonw_end(&w), "");
    char exact[4];
    jsonw_init_fixed(&w, exact, sizeof(exact));
    jsonw_lit(&w, "abc");
    ck_assert_str_eq(jsonw_end(&w), "abc");
    jsonw_lit(&w, "d");
    ck_assert_uint_eq(w.len, 4);
    ck_assert_str_eq(jsonw_end(&w), "abc");

    /* growable: empty, large, reset keeps memory */
    jsonw_init(&w);
    ck_assert_str_eq(jsonw_end(&w), "");
    for (int i = 0; i < 10000; i++) {
        jsonw_lit(&w, "0123456789");
    }
    ck_assert_uint_eq(w.len, 100000);
    ck_assert_uint_eq(strlen(jsonw_end(&w)), 100000);
    char *keep = w.buf;
    jsonw_reset(&w);
    jsonw_lit(&w, "x");
    ck_assert_ptr_eq(w.buf, keep);
    ck_assert_str_eq(jsonw_end(&w), "x");
    jsonw_free(&w);
    ck_assert_ptr_null(w.buf);
}
END_TEST

static void dbl_is(double d, const char *want)
{
    char got[64];
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_double(w, d));
    ck_assert_msg(strcmp(got, want) == 0, "double: got %s, want %s", got, want);
}

static void flt_is(float f, const char *want)
{
    char got[64];
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_float(w, f));
    ck_assert_msg(strcmp(got, want) == 0, "float: got %s, want %s", got, want);
}

START_TEST(test_double)
{
    dbl_is(0.0, "0");
    dbl_is(-0.0, "-0");
    dbl_is(0.1, "0.1");
    dbl_is(1.0 / 3.0, "0.3333333333333333");
    dbl_is(1e300, "1e+300");
    dbl_is(123456789012345678.0, "1.2345678901234568e+17");
    dbl_is(DBL_MAX, "1.7976931348623157e+308");
    dbl_is(-DBL_MAX, "-1.7976931348623157e+308");
    dbl_is(DBL_MIN, "2.2250738585072014e-308");
    dbl_is(4.9406564584124654e-324, "5e-324");           /* smallest subnormal */
    dbl_is(-4.9406564584124654e-324, "-5e-324");
    dbl_is(2.2250738585072009e-308, "2.225073858507201e-308");    /* largest subnormal */
    dbl_is(NAN, "\"NaN\"");
    dbl_is(INFINITY, "\"Infinity\"");
    dbl_is(-INFINITY, "\"-Infinity\"");
    char t[JSONW_NUM_MAX];
    ck_assert_uint_eq(jsonw_fmt_double(t, -INFINITY), 9);
    ck_assert_str_eq(t, "-Infinity");
    ck_assert_uint_eq(jsonw_fmt_double(t, NAN), 3);
    /* round trips over a spread of bit patterns */
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof(d));
        if (!isfinite(d)) {
            continue;
        }
        size_t n = jsonw_fmt_double(t, d);
        ck_assert_uint_eq(n, strlen(t));
        double back = strtod(t, NULL);
        ck_assert_msg(memcmp(&back, &d, sizeof(d)) == 0, "%s does not read back as %a", t, d);
    }
}
END_TEST

START_TEST(test_float)
{
    flt_is(0.0f, "0");
    flt_is(-0.0f, "-0");
    flt_is(0.1f, "0.1");
    flt_is(1.0f / 3.0f, "0.33333334");
    flt_is(16777216.0f, "16777216");
    flt_is(FLT_MAX, "3.4028235e+38");
    flt_is(FLT_MIN, "1.1754944e-38");
    flt_is(1.40129846e-45f, "1e-45");                    /* smallest subnormal */
    flt_is(NAN, "\"NaN\"");
    flt_is(-INFINITY, "\"-Infinity\"");
    char t[JSONW_NUM_MAX];
    for (uint32_t bits = 1; bits < 0x7F800000u; bits += 0x00012345u) {
        float f;
        memcpy(&f, &bits, sizeof(f));
        jsonw_fmt_float(t, f);
        float back = strtof(t, NULL);
        ck_assert_msg(memcmp(&back, &f, sizeof(f)) == 0, "%s does not read back as %a", t, (double)f);
        jsonw_fmt_float(t, -f);
        back = strtof(t, NULL);
        ck_assert_msg(back == -f, "%s does not read back", t);
    }
}
END_TEST

START_TEST(test_integers)
{
    char got[64];
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_i64(w, 0));
    ck_assert_str_eq(got, "0");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_i64(w, INT64_MIN));
    ck_assert_str_eq(got, "-9223372036854775808");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_i64(w, INT64_MAX));
    ck_assert_str_eq(got, "9223372036854775807");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_u64(w, UINT64_MAX));
    ck_assert_str_eq(got, "18446744073709551615");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_i64(w, -7));
    ck_assert_str_eq(got, "-7");
}
END_TEST

START_TEST(test_base64)
{
    static const char *const want[] = { "\"\"", "\"Zg==\"", "\"Zm8=\"", "\"Zm9v\"", "\"Zm9vYg==\"" };
    char got[64];
    for (size_t n = 0; n < NELEM(want); n++) {
        RENDER(got, JSONW_UTF8_REPLACE, jsonw_base64(w, "foob", n));
        ck_assert_str_eq(got, want[n]);
    }
    const uint8_t hi[] = { 0xFB, 0xFF, 0xBF, 0x00 };
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_base64(w, hi, 4));
    ck_assert_str_eq(got, "\"+/+/AA==\"");
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_base64(w, NULL, 0));
    ck_assert_str_eq(got, "\"\"");
}
END_TEST

START_TEST(test_time)
{
    static const struct {
        int64_t us;
        int digits;
        const char *want;
    } cases[] = {
        { 0, JSONW_FRAC_AUTO, "1970-01-01T00:00:00Z" },
        { 1795255200000000LL, JSONW_FRAC_AUTO, "2026-11-21T10:00:00Z" },
        { 1795255200123456LL, JSONW_FRAC_AUTO, "2026-11-21T10:00:00.123456Z" },
        { 1795255200000001LL, JSONW_FRAC_AUTO, "2026-11-21T10:00:00.000001Z" },
        { -1, JSONW_FRAC_AUTO, "1969-12-31T23:59:59.999999Z" },
        { -1000000, JSONW_FRAC_AUTO, "1969-12-31T23:59:59Z" },
        { 951782400000000LL, JSONW_FRAC_AUTO, "2000-02-29T00:00:00Z" },
        { -62135596800000000LL, JSONW_FRAC_AUTO, "0001-01-01T00:00:00Z" },
        { -62135596800000001LL, JSONW_FRAC_AUTO, "0000-12-31T23:59:59.999999Z" },
        { -62167219200000000LL, JSONW_FRAC_AUTO, "0000-01-01T00:00:00Z" },
        { -62167219200000000LL - 86400000000LL, JSONW_FRAC_AUTO, "-0001-12-31T00:00:00Z" },
        { 253402300799000000LL, JSONW_FRAC_AUTO, "9999-12-31T23:59:59Z" },
        { 253402300800000000LL, JSONW_FRAC_AUTO, "10000-01-01T00:00:00Z" },
        { INT64_MAX, JSONW_FRAC_AUTO, "294247-01-10T04:00:54.775807Z" },
        { INT64_MIN, JSONW_FRAC_AUTO, "-290308-12-21T19:59:05.224192Z" },
        { 1795255200123456LL, 3, "2026-11-21T10:00:00.123Z" },
        { 1795255200000000LL, 3, "2026-11-21T10:00:00.000Z" },
        { -1, 3, "1969-12-31T23:59:59.999Z" },
        { 1795255200123456LL, 0, "2026-11-21T10:00:00Z" },
        { 1795255200123456LL, 6, "2026-11-21T10:00:00.123456Z" },
    };
    char t[JSONW_TIME_MAX];
    for (size_t i = 0; i < NELEM(cases); i++) {
        size_t n = jsonw_fmt_time(t, cases[i].us, cases[i].digits);
        ck_assert_msg(strcmp(t, cases[i].want) == 0, "%lld: got %s, want %s", (long long)cases[i].us, t,
                      cases[i].want);
        ck_assert_uint_eq(n, strlen(t));
    }
    char got[64];
    RENDER(got, JSONW_UTF8_REPLACE, jsonw_time(w, -1));
    ck_assert_str_eq(got, "\"1969-12-31T23:59:59.999999Z\"");
}
END_TEST

/* The shared sanitizer for protobuf strings: jsonw_text's output into a
 * caller's array, cut only at character boundaries, always valid UTF-8. */
START_TEST(test_text_fit_and_valid)
{
    static const struct {
        const char *s;
        bool valid;
    } v[] = {
        { "", true }, { "plain ascii", true }, { "\xC3\xA9t\xC3\xA9", true },
        { "\xE2\x82\xAC", true }, { "\xF0\x9F\x98\x80", true }, { "\xF4\x8F\xBF\xBF", true },
        { "\xEF\xBF\xBD", true }, { "\x7F", true },
        { "\x80", false },                  /* stray continuation byte */
        { "\xC0\x80", false },              /* overlong NUL */
        { "\xC1\xBF", false },              /* overlong */
        { "\xE0\x80\xAF", false },          /* overlong 3-byte */
        { "\xED\xA0\x80", false },          /* surrogate U+D800 */
        { "\xF4\x90\x80\x80", false },      /* above U+10FFFF */
        { "\xF5\x80\x80\x80", false },
        { "\xE2\x82", false },              /* cut short */
        { "ok\xFF", false }, { "\xE9t\xC3\xA9", false },
    };
    for (size_t i = 0; i < NELEM(v); i++) {
        ck_assert_msg(jsonw_utf8_valid(v[i].s, strlen(v[i].s)) == v[i].valid, "case %zu", i);
        char out[64];
        size_t n = jsonw_text_fit(out, sizeof(out), v[i].s, strlen(v[i].s));
        ck_assert_uint_eq(n, strlen(out));
        ck_assert_msg(jsonw_utf8_valid(out, n), "case %zu: fixed text not valid", i);
        if (v[i].valid && v[i].s[0] != '\x7F') {
            ck_assert_str_eq(out, v[i].s);      /* valid printable text is kept */
        }
    }
    char out[16];
    ck_assert_uint_eq(jsonw_text_fit(out, sizeof(out), "a\xFF" "b", 3), 5);
    ck_assert_str_eq(out, "a\xEF\xBF\xBD" "b");
    ck_assert_uint_eq(jsonw_text_fit(out, sizeof(out), "x\ny", 3), 4);
    ck_assert_str_eq(out, "x\\ny");
    /* NUL bytes inside the input are escaped, not a terminator */
    ck_assert_uint_eq(jsonw_text_fit(out, sizeof(out), "a\0b", 3), 8);
    ck_assert_str_eq(out, "a\\u0000b");
    /* cuts: never inside a character, a replacement or an escape */
    ck_assert_uint_eq(jsonw_text_fit(out, 4, "\xC3\xA9\xC3\xA9", 4), 2);
    ck_assert_str_eq(out, "\xC3\xA9");
    ck_assert_uint_eq(jsonw_text_fit(out, 3, "\xFF", 1), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(jsonw_text_fit(out, 4, "ab\x01", 3), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(jsonw_text_fit(out, 1, "abc", 3), 0);
    ck_assert_str_eq(out, "");
    /* random bytes, random capacities: always valid, NUL-terminated, fits */
    unsigned seed = 12345;
    for (int t = 0; t < 20000; t++) {
        unsigned char in[24];
        size_t len = (seed = seed * 1103515245u + 12345u) % sizeof(in);
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            in[k] = (unsigned char)(seed >> 16);
        }
        char o[40];
        size_t cap = 1 + (seed >> 8) % sizeof(o);
        size_t n = jsonw_text_fit(o, cap, (const char *)in, len);
        ck_assert(n < cap);
        ck_assert_uint_eq(n, strlen(o));
        ck_assert_msg(jsonw_utf8_valid(o, n), "trial %d not valid", t);
    }
}
END_TEST

static Suite *jsonw_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_text_and_body);
    tcase_add_test(tc, test_text_fit_and_valid);
    tcase_add_test(tc, test_buffers);
    tcase_add_test(tc, test_double);
    tcase_add_test(tc, test_float);
    tcase_add_test(tc, test_integers);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_time);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jsonw_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
