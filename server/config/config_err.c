/*
 * config_err.c — how the config loader reports problems: the error list
 * (one line "PATH: what is wrong (expected ...)" per problem), user text
 * quoted safely into those lines, JSON paths such as
 * $.feature_views[0].features[2].type, and "did you mean" suggestions.
 * Loading goes on after an error so that one run reports everything (up to
 * CFG_MAX_ERRORS lines).
 */
#include "config/config_int.h"
#include "core/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void config_err_add(struct config_errs *e, const char *path, const char *fmt, ...)
{
    e->n++;
    if (e->n > CFG_MAX_ERRORS) {
        return;
    }
    char line[1024];
    int off = snprintf(line, sizeof line, "%s: ", path);
    if (off < 0 || (size_t)off >= sizeof line) {
        off = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    va_end(ap);
    if (e->buf.len > 0 && fbuf_putc(&e->buf, '\n') != FEATD_OK) {
        e->oom = true;
    }
    if (fbuf_append(&e->buf, line, strlen(line)) != FEATD_OK) {
        e->oom = true;
    }
}

void config_err_finish(struct config_errs *e, char *err, size_t errlen)
{
    if (e->n > CFG_MAX_ERRORS &&
        fbuf_appendf(&e->buf, "\n... and %d more errors", e->n - CFG_MAX_ERRORS) != FEATD_OK) {
        e->oom = true;
    }
    if (err != NULL && errlen > 0) {
        if (e->oom) {
            util_strlcpy(err, "out of memory while reporting config errors", errlen);
        } else {
            util_strlcpy(err, e->buf.data ? e->buf.data : "", errlen);
        }
    }
    fbuf_free(&e->buf);
}

/* Quotes for error messages only: at most CFG_QUOTE_MAX input bytes, '"'
 * and '\\' backslash-escaped, control bytes as \xNN, "..." when cut. */
const char *config_err_quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return out;
    }
    out[o++] = '"';
    size_t i = 0;
    for (; s[i] != '\0' && i < CFG_QUOTE_MAX && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i] != '\0' && o + 5 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* A key that may follow a '.' in a JSON path. */
static bool config_err_is_ident(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) {
        return false;
    }
    for (size_t i = 1; s[i]; i++) {
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) {
            return false;
        }
        if (i >= CFG_QUOTE_MAX) {
            return false;
        }
    }
    return true;
}

void config_err_pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, CFG_JPATH_MAX, fmt, ap);
    va_end(ap);
}

void config_err_path_key(char *out, const char *base, const char *key)
{
    if (config_err_is_ident(key)) {
        config_err_pathf(out, "%s.%s", base, key);
    } else {
        char q[QBUF];
        config_err_pathf(out, "%s[%s]", base, config_err_quote(key, q, sizeof q));
    }
}

void config_err_path_idx(char *out, const char *base, size_t i)
{
    config_err_pathf(out, "%s[%zu]", base, i);
}

/* Optimal-string-alignment distance (edits and adjacent transpositions)
 * of two short strings; strings over 64 bytes are "far". */
static size_t config_err_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    uint8_t d[65][65];
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = (uint8_t)i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = (uint8_t)j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u);
            if (d[i - 1][j] + 1u < best) {
                best = d[i - 1][j] + 1u;
            }
            if (d[i][j - 1] + 1u < best) {
                best = d[i][j - 1] + 1u;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best) {
                best = d[i - 2][j - 2] + 1u;
            }
            d[i][j] = (uint8_t)best;
        }
    }
    return d[la][lb];
}

const char *config_err_suggest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (cands[i] == NULL) {
            continue;
        }
        size_t d = config_err_distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
    return bestd <= limit ? best : NULL;
}

void config_err_unknown(struct config_errs *e, const char *path, const char *what,
                        const char *name, const char *const *cands, size_t nc,
                        const char *otherwise)
{
    char q[QBUF];
    const char *sug = config_err_suggest(name, cands, nc);
    if (sug != NULL) {
        config_err_add(e, path, "unknown %s %s (did you mean \"%s\"?)", what,
                       config_err_quote(name, q, sizeof q), sug);
    } else {
        config_err_add(e, path, "unknown %s %s%s", what, config_err_quote(name, q, sizeof q),
                       otherwise);
    }
}

const char *config_err_words(const char *const *words, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; words[i] != NULL && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", words[i]);
        if (w < 0) {
            break;
        }
        o += (size_t)w;
    }
    return buf;
}

const char *config_err_relative(const char *path, char *buf, size_t cap)
{
    char cwd[1024];
    if (cap == 0) {
        return "";
    }
    buf[0] = '\0';
    if (path != NULL && path[0] != '/') {
        snprintf(buf, cap, " (relative to the working directory %s)",
                 getcwd(cwd, sizeof cwd) != NULL ? cwd : "(unknown)");
    }
    return buf;
}
