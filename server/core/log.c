/*
 * log.c — leveled one-line logging (see log.h). Text lines look like
 *   2026-11-21T10:00:00.123Z INFO  [worker] message
 * JSON lines like
 *   {"ts":"2026-11-21T10:00:00.123Z","level":"info","component":"worker","msg":"..."}
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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

const char *log_level_name(int level)
{
    if (level < 0 || level >= (int)FEATD_ARRAY_LEN(log_names)) {
        return "?";
    }
    return log_names[level];
}

/* Appends s to buf at *pos as the inside of a JSON string. */
static void log_json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

static void log_emit(int level, const char *component, const char *conn, const char *msg)
{
    char line[4096];
    char ts[40];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    size_t pos = 0;
    if (log_json) {
        /* Escapes stop LOG_JSON_RESERVE bytes early so that a long message
         * is cut but the line stays one valid JSON object. */
        const size_t lim = sizeof(line) - LOG_JSON_RESERVE;
        pos += (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"",
                                ts, log_level_name(level));
        log_json_escape(line, lim, &pos, component);
        if (conn) {
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"conn\":\"");
            log_json_escape(line, lim, &pos, conn);
        }
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"msg\":\"");
        log_json_escape(line, lim, &pos, msg);
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"}\n");
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
