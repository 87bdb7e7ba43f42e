/*
 * config_doc.c — the reference table of every server/redis/materialize key (type,
 * default, range, reloadable, env, meaning) rendered from config_table[] as
 * markdown. docs/config.md embeds its output between BEGIN/END GENERATED
 * markers; tests/unit/check_config.c fails when the two differ.
 */
#include "config/config_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Appends s escaping '|' for a markdown table cell. */
static int config_doc_cell(struct fbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' && fbuf_putc(out, '\\') != FEATD_OK) {
            return FEATD_ENOMEM;
        }
        if (fbuf_putc(out, *s) != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}

/* The type column and the range / values column of key k. */
static const char *config_doc_type(const struct config_key *k, char *range, size_t cap)
{
    switch (k->kind) {
    case CK_INT:
    case CK_U32:
    case CK_SIZE:
        snprintf(range, cap, "%" PRId64 "..%" PRId64, k->min, k->max);
        return "integer";
    case CK_NSTR:
        snprintf(range, cap, "%" PRId64 "..%" PRId64 " bytes", k->min, k->max);
        return "string or null";
    case CK_WORD:
    case CK_ENUM:
        config_err_words(k->words, range, cap);
        return "string";
    case CK_BOOL:
        snprintf(range, cap, "true, false");
        return "boolean";
    case CK_ADDRS:
        snprintf(range, cap, "%" PRId64 "..%" PRId64 " distinct entries", k->min, k->max);
        return "array of \"host:port\" or null";
    case CK_SECTION: {
        /* the keys of the nested object: the rows of section "<section>.<name>" */
        char sub[128];
        snprintf(sub, sizeof sub, "%s.%s", k->section, k->name);
        size_t o = 0;
        range[0] = '\0';
        for (size_t i = 0; i < config_table_len && o < cap; i++) {
            if (strcmp(config_table[i].section, sub) == 0) {
                int w = snprintf(range + o, cap - o, "%s%s", o ? ", " : "keys ",
                                 config_table[i].name);
                o += w > 0 ? (size_t)w : 0;
            }
        }
        return "object or null";
    }
    default:
        snprintf(range, cap, "%" PRId64 "..%" PRId64 " bytes", k->min, k->max);
        return "string";
    }
}

int config_doc_markdown(struct fbuf *out)
{
    if (fbuf_appendf(out, "| key | type | default | range / values | reloadable | env | meaning |\n"
                     "|---|---|---|---|---|---|---|\n") != FEATD_OK) {
        return FEATD_ENOMEM;
    }
    for (size_t i = 0; i < config_table_len; i++) {
        const struct config_key *k = &config_table[i];
        char range[256];
        const char *type = config_doc_type(k, range, sizeof range);
        char def[128];
        if (k->def == NULL) {
            snprintf(def, sizeof def, "null");
        } else if (config_table_is_int(k) || k->kind == CK_BOOL) {
            snprintf(def, sizeof def, "%s", k->def);
        } else {
            snprintf(def, sizeof def, "\"%s\"", k->def);
        }
        if (fbuf_appendf(out, "| `%s.%s` | %s | `%s` | ", k->section, k->name, type, def) != FEATD_OK ||
            config_doc_cell(out, range) != FEATD_OK ||
            fbuf_appendf(out, " | %s | %s%s%s | ", k->reloadable ? "yes" : "no",
                         k->env ? "`" : "", k->env ? k->env : "-", k->env ? "`" : "") != FEATD_OK ||
            config_doc_cell(out, k->help) != FEATD_OK ||
            fbuf_appendf(out, " |\n") != FEATD_OK) {
            return FEATD_ENOMEM;
        }
    }
    return FEATD_OK;
}
