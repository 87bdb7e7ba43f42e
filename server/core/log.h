/*
 * log.h — leveled, one-line-per-event logging to stderr (or a file), as text
 * or JSON lines. Thread-safe: each line is formatted into a local buffer and
 * written with a single write(2). The level check happens before formatting.
 */
#ifndef FEATD_LOG_H
#define FEATD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/featd.h"

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG
};

extern _Atomic int log_current_level;

/* Sets the level and the line format (text or JSON). Called by main at
 * startup and on reload (main thread); other threads only read both. */
void log_init(int level, bool json);
/* "error","warn","info","debug" -> level; -1 when unknown. */
int log_level_parse(const char *s);

/* One line on stderr: any thread, no allocation, no lock. The formatted
 * message is cut at 3,071 bytes; a text line joins embedded newlines with
 * " | ", a JSON line stays one valid object. Check log_enabled() first (the
 * log_error()..log_debug() macros do) to skip the formatting. */
void log_write(int level, const char *component, const char *fmt, ...) FEATD_PRINTF(3, 4);
/* Connection lines carry the connection's identity (id and peer). */
void log_write_conn(int level, unsigned long long conn_id, const char *peer,
                    const char *fmt, ...) FEATD_PRINTF(4, 5);
/* Async-signal-safe: a fixed message, no formatting. */
void log_safe(const char *msg);

/*
 * A log rate limit: at most per_sec lines in any one-second window (on the
 * monotonic clock). Owned by one thread (a loop's, or _Thread_local); no
 * locking. Zero-initialised it is ready.
 */
struct log_limit {
    int64_t window_us;          /* start of the current window */
    uint32_t lines;             /* lines let through in it */
    uint64_t skipped;           /* lines refused since the last one let through */
};
/* True when a line may be written now; *skipped then gets how many were
 * refused since the previous line (and the count restarts). False counts
 * one more refused line. */
bool log_limit_take(struct log_limit *ll, uint32_t per_sec, int64_t now_us, uint64_t *skipped);

#define log_enabled(lvl) ((lvl) <= log_current_level)
#define log_error(...) do { if (log_enabled(LOG_ERROR)) log_write(LOG_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_enabled(LOG_WARN))  log_write(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_INFO))  log_write(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_conn(lvl, c, ...) do { if (log_enabled(lvl)) \
    log_write_conn(lvl, (c)->id, (c)->peer, __VA_ARGS__); } while (0)

#endif
