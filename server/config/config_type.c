/*
 * config_type.c — the value types of features and join keys: their config
 * spellings ("int64", "float_list", ...) and which are lists. Any thread may
 * call these (constant data, no allocation).
 */
#include "config/config_int.h"

#include <string.h>

const char *const config_type_names[FT__COUNT] = {
    [FT_BOOL] = "bool", [FT_INT32] = "int32", [FT_INT64] = "int64",
    [FT_FLOAT] = "float", [FT_DOUBLE] = "double", [FT_STRING] = "string",
    [FT_BYTES] = "bytes", [FT_TIMESTAMP] = "timestamp",
    [FT_FLOAT_LIST] = "float_list", [FT_DOUBLE_LIST] = "double_list",
    [FT_INT64_LIST] = "int64_list", [FT_STRING_LIST] = "string_list",
};

const char *config_type_name(enum featd_type t)
{
    if ((unsigned)t >= FT__COUNT) {
        return "?";
    }
    return config_type_names[t];
}

int config_type_parse(const char *s)
{
    if (s == NULL) {
        return -1;
    }
    for (int i = 0; i < FT__COUNT; i++) {
        if (strcmp(s, config_type_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

bool config_type_is_list(enum featd_type t)
{
    return t == FT_FLOAT_LIST || t == FT_DOUBLE_LIST || t == FT_INT64_LIST ||
           t == FT_STRING_LIST;
}
