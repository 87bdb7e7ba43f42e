/*
 * config_json.c — reading the parsed config document (jansson): the kind of
 * a JSON value for messages, typed member access with the errors a wrong or
 * missing member gets, the unknown-key check, integer ranges, and the rules
 * for names and for free text (column names, paths).
 */
#include "config/config_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *config_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* The wanted kind in "expected X" messages. */
static const char *config_json_want_kind(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    default: return "a value";
    }
}

static bool config_json_in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static size_t config_json_list_len(const char *const *list)
{
    size_t n = 0;
    while (list[n] != NULL) {
        n++;
    }
    return n;
}

void config_json_check_keys(json_t *obj, const char *base, const char *const *allowed,
                            const char *what, struct config_errs *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (config_json_in_list(key, allowed)) {
            continue;
        }
        char p[CFG_JPATH_MAX], q[QBUF], wl[256];
        config_err_path_key(p, base, key);
        const char *s = config_err_suggest(key, allowed, config_json_list_len(allowed));
        if (s != NULL) {
            config_err_add(e, p, "unknown key %s in %s (did you mean \"%s\"?)",
                           config_err_quote(key, q, sizeof q), what, s);
        } else {
            config_err_add(e, p, "unknown key %s in %s (expected %s)",
                           config_err_quote(key, q, sizeof q), what,
                           config_err_words(allowed, wl, sizeof wl));
        }
    }
}

json_t *config_json_member(json_t *obj, const char *key, json_type want, bool required,
                           bool nullable, const char *base, struct config_errs *e)
{
    char p[CFG_JPATH_MAX];
    config_err_path_key(p, base, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required) {
            config_err_add(e, p, "missing (expected %s)", config_json_want_kind(want));
        }
        return NULL;
    }
    if (json_is_null(v) && nullable) {
        return NULL;
    }
    bool ok = want == JSON_INTEGER ? json_is_integer(v) : json_typeof(v) == want;
    if (!ok) {
        config_err_add(e, p, "expected %s%s (got %s)", config_json_want_kind(want),
                       nullable ? " or null" : "", config_json_kind(v));
        return NULL;
    }
    return v;
}

/* An array member with at most max elements (error when over, NULL). */
static json_t *config_json_array(json_t *obj, const char *key, const char *base, bool required,
                                 size_t max, struct config_errs *e)
{
    json_t *a = config_json_member(obj, key, JSON_ARRAY, required, false, base, e);
    if (a != NULL && json_array_size(a) > max) {
        char p[CFG_JPATH_MAX];
        config_err_path_key(p, base, key);
        config_err_add(e, p, "%zu elements (at most %zu allowed)", json_array_size(a), max);
        return NULL;
    }
    return a;
}

size_t config_json_list(json_t *obj, const char *key, const char *base, size_t max,
                        const char *empty_why, size_t elsize, void **items, json_t **arr,
                        char *path, struct config_errs *e)
{
    *items = NULL;
    config_err_path_key(path, base, key);
    json_t *a = config_json_array(obj, key, base, true, max, e);
    if (arr != NULL) {
        *arr = a;
    }
    if (a == NULL) {
        return 0;
    }
    size_t n = json_array_size(a);
    if (n == 0) {
        if (empty_why != NULL) {
            config_err_add(e, path, "%s", empty_why);
        }
        return 0;
    }
    *items = calloc(n, elsize);
    if (*items == NULL) {
        config_err_add(e, path, "out of memory");
        return 0;
    }
    return n;
}

bool config_json_int_in(json_t *v, int64_t min, int64_t max, const char *path, int64_t *out,
                        struct config_errs *e)
{
    if (!json_is_integer(v)) {
        config_err_add(e, path, "expected an integer in %" PRId64 "..%" PRId64 " (got %s)", min,
                       max, config_json_kind(v));
        return false;
    }
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        config_err_add(e, path, "%" JSON_INTEGER_FORMAT " is out of range (expected %" PRId64
                       "..%" PRId64 ")", x, min, max);
        return false;
    }
    *out = x;
    return true;
}

const char *config_json_name_problem(const char *s, char *why, size_t whylen)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "empty name";
    }
    if (n > CFG_NAME_MAX) {
        snprintf(why, whylen, "name longer than %d bytes", CFG_NAME_MAX);
        return why;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = isalnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok) {
            if (c >= 0x20 && c < 0x7f) {
                snprintf(why, whylen, "invalid character '%c' at offset %zu", c, i);
            } else {
                snprintf(why, whylen, "invalid character 0x%02x at offset %zu", c, i);
            }
            return why;
        }
    }
    return NULL;
}

const char *config_json_text_problem(const char *s, size_t max, char *why, size_t whylen)
{
    size_t n = strlen(s);
    if (n == 0) {
        return "empty string";
    }
    if (n > max) {
        snprintf(why, whylen, "longer than %zu bytes", max);
        return why;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(why, whylen, "control character 0x%02x at offset %zu", c, i);
            return why;
        }
    }
    return NULL;
}
