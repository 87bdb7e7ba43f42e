/*
 * log.c — leveled one-line logging (see log.h). Text lines look like
 *   2026-11-21T10:00:00.123Z INFO  [worker] message
 * JSON lines (written with common/jsonw.h: control characters escaped,
 * invalid UTF-8 bytes as \ufffd) like
 *   {"ts":"2026-11-21T10:00:00.123Z","level":"info","component":"worker","msg":"..."}
 * Any thread may log; nothing here allocates or takes a lock.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/jsonw.h"

_Atomic int log_current_level = LOG_INFO;
static _Atomic bool log_json;   /* changed by reload on the main thread */

#define LOG_JSON_RESERVE 48      /* room kept for the JSON line's closing */

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void log_init(int level, bool json)
{
    log_current_level = level;
    log_json = json;
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < FEATD_ARRAY_LEN(log_names); i++) {
        if (s && strcmp(s, log_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static const char *log_level_name(int level)
{
    if (level < 0 || level >= (int)FEATD_ARRAY_LEN(log_names)) {
        return "?";
    }
    return log_names[level];
}

static void log_emit(int level, const char *component, const char *conn, const char *msg)
{
    char line[4096];
    char ts[JSONW_TIME_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    jsonw_fmt_time(ts, (int64_t)tv.tv_sec * 1000000 + tv.tv_usec, 3);

    size_t pos = 0;
    if (log_json) {
        /* Strings stop LOG_JSON_RESERVE bytes early (never inside an escape
         * or a UTF-8 sequence) so that a long message is cut but the line
         * stays one valid JSON object. */
        const size_t lim = sizeof(line) - LOG_JSON_RESERVE;
        struct jsonw w;
        jsonw_init_fixed(&w, line, sizeof(line));
        jsonw_lit(&w, "{\"ts\":\"");
        jsonw_lit(&w, ts);
        jsonw_lit(&w, "\",\"level\":\"");
        jsonw_lit(&w, log_level_name(level));
        jsonw_lit(&w, "\",\"component\":\"");
        jsonw_str_body(&w, component, strlen(component), lim);
        if (conn) {
            jsonw_lit(&w, "\",\"conn\":\"");
            jsonw_str_body(&w, conn, strlen(conn), lim);
        }
        jsonw_lit(&w, "\",\"msg\":\"");
        jsonw_str_body(&w, msg, strlen(msg), lim);
        jsonw_lit(&w, "\"}\n");
        pos = w.len;
    } else {
        /* One line per event: a multi-line message (a list of config
         * errors) is joined with " | ". */
        char flat[3072];
        size_t f = 0;
        for (const char *m = msg; *m && f + 4 < sizeof(flat); m++) {
            if (*m == '\n') {
                memcpy(flat + f, " | ", 3);
                f += 3;
            } else if (*m != '\r') {
                flat[f++] = *m;
            }
        }
        flat[f] = '\0';
        msg = flat;
        char upper[8];
        const char *nm = log_level_name(level);
        size_t i = 0;
        for (; nm[i] && i < sizeof(upper) - 1; i++) {
            upper[i] = (char)(nm[i] - 32);
        }
        upper[i] = '\0';
        pos = (size_t)snprintf(line, sizeof(line), "%s %-5s [%s]%s%s %s\n", ts, upper, component,
                               conn ? " " : "", conn ? conn : "", msg);
    }
    if (pos >= sizeof(line)) {
        pos = sizeof(line) - 1;
        line[pos - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}

void log_write(int level, const char *component, const char *fmt, ...)
{
    char msg[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_emit(level, component, NULL, msg);
}

void log_write_conn(int level, unsigned long long conn_id, const char *peer, const char *fmt, ...)
{
    char msg[3072];
    char id[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(id, sizeof(id), "conn=%llu peer=%s", conn_id, peer ? peer : "?");
    log_emit(level, "conn", id, msg);
}

void log_safe(const char *msg)
{
    ssize_t w = write(STDERR_FILENO, msg, strlen(msg));
    (void)w;
}

bool log_limit_take(struct log_limit *ll, uint32_t per_sec, int64_t now_us, uint64_t *skipped)
{
    if (now_us - ll->window_us >= 1000000) {
        ll->window_us = now_us;
        ll->lines = 0;
    }
    if (ll->lines >= per_sec) {
        ll->skipped++;
        return false;
    }
    ll->lines++;
    *skipped = ll->skipped;
    ll->skipped = 0;
    return true;
}
