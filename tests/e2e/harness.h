/*
 * harness.h — end-to-end test harness: start a real redis-server and a real
 * featd on free loopback ports, stop/pause/restart them, write temp files.
 * Binaries are found through $FEATD_BUILD_DIR (default "build").
 */
#ifndef FEATD_HARNESS_H
#define FEATD_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct h_redis {
    pid_t pid;
    int port;
    char dir[256];          /* private temp dir (dump files, logs) */
};

struct h_featd {
    pid_t pid;
    int port;               /* serving port */
    int admin_port;
    char dir[256];          /* temp dir holding config.json and featd.log */
    char config_path[300];
    char log_path[300];
};

/* Small helpers shared by the harness files (harness.c, harness_cluster.c). */
long long h_now_ms(void);                       /* CLOCK_MONOTONIC in ms */
void h_sleep_ms(int ms);
void h_dump_log(const char *label, const char *path);   /* tail of a log to stderr */
/* In a forked child before exec: dies with the parent, stdin /dev/null,
 * stdout and stderr appended to log_path. */
void h_child_setup(const char *log_path);

/* A free loopback TCP port (bind to 0, read it back, close). */
int h_free_port(void);
/* A free port p whose p + offset is free too (a Redis Cluster node's bus
 * port is p + 10000); aborts the test after many tries. */
int h_free_port_pair(int offset);
/* mkdtemp under $TMPDIR or /tmp; path written into out (cap 256). */
void h_tempdir(char *out, const char *tag);

/* Start redis-server on a free port with --enable-debug-command local, no
 * persistence; waits until it answers PING. Aborts the test on failure. */
void h_redis_start(struct h_redis *r);
/* Restart on the same port (after h_redis_stop). */
void h_redis_restart(struct h_redis *r);
void h_redis_stop(struct h_redis *r);            /* SIGTERM + wait */
void h_redis_pause(struct h_redis *r);           /* SIGSTOP */
void h_redis_resume(struct h_redis *r);          /* SIGCONT */
/* Run one command on it through a blocking hiredis connection; returns the
 * reply's integer/str length semantics are up to the caller: returns NULL on
 * connection error. Caller frees with freeReplyObject. */
void *h_redis_cmd(const struct h_redis *r, const char *fmt, ...);

/* Write config_json (a complete config holding the ports to use) to a temp
 * dir and start featd on it; waits until the serving port (and the admin port, when enabled) accept. */
void h_featd_start(struct h_featd *f, const char *config_json);
/* Options of h_featd_start_opts; zero fields keep the default. */
struct h_featd_opts {
    unsigned long nofile;   /* RLIMIT_NOFILE (soft and hard) of the featd process */
};
/* h_featd_start with options (o may be NULL). */
void h_featd_start_opts(struct h_featd *f, const char *config_json, const struct h_featd_opts *o);
void h_featd_stop(struct h_featd *f);            /* SIGTERM + wait, expects exit 0 */
int  h_featd_signal_wait(struct h_featd *f, int sig); /* send sig, wait, return exit status */

/* The path of a binary in the build dir ("featd", "featd-cli"). */
const char *h_bin(const char *name);

/* GET path from the admin port on 127.0.0.1: the whole HTTP response
 * (status line, headers, body), malloc'd, NUL-terminated (up to 1 MiB). */
char *h_admin_get(int port, const char *path);
/* The value of a series on a Prometheus page: "name" matches "name v" and
 * the first "name{...} v"; "name{labels}" matches exactly. -1 when absent. */
double h_metric(const char *page, const char *series);
/* h_metric of a fresh GET /metrics from the admin port. */
double h_admin_metric(int port, const char *series);

/* h_redis_cmd on a connection that first authenticates: "AUTH user pass"
 * (ACL), or "AUTH pass" when user is NULL. NULL when the connection or the
 * AUTH fails. Caller frees with freeReplyObject. */
void *h_redis_cmd_auth(const struct h_redis *r, const char *user, const char *pass,
                       const char *fmt, ...);

#endif
