/*
 * harness.c — end-to-end test harness (contract in harness.h): real
 * redis-server and real featd processes on free loopback ports, each with a
 * private temp dir. Children get PR_SET_PDEATHSIG so that a test that dies
 * (Check runs each test in a forked child) never leaks servers.
 * Failures abort the running Check test with a message (ck_abort_msg).
 */
#include "harness.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#define H_START_TIMEOUT_MS 10000
#define H_STOP_TIMEOUT_MS 20000

/* ---- small helpers ---- */

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Prints (up to the last 64 KiB of) a log file to stderr. */
void h_dump_log(const char *label, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "---- %s: no log at %s\n", label, path);
        return;
    }
    if (fseek(fp, 0, SEEK_END) == 0) {
        long size = ftell(fp);
        if (size > 65536) {
            fseek(fp, size - 65536, SEEK_SET);
        } else {
            fseek(fp, 0, SEEK_SET);
        }
    }
    fprintf(stderr, "---- %s (%s) ----\n", label, path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        fwrite(buf, 1, n, stderr);
    }
    fprintf(stderr, "---- end of %s ----\n", label);
    fclose(fp);
}

/* In a freshly forked child: die with the parent, output to log_path. */
void h_child_setup(const char *log_path)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) {
        _exit(127);   /* the parent is already gone */
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    signal(SIGPIPE, SIG_DFL);
}

/* waitpid with a deadline; returns true and the status when it exited. */
static bool h_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    long long end = h_now_ms() + timeout_ms;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            return true;
        }
        if (w < 0 && errno != EINTR) {
            *status = 0;
            return true;   /* not our child any more */
        }
        if (h_now_ms() >= end) {
            return false;
        }
        h_sleep_ms(5);
    }
}

static bool h_port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Removes the files of a flat directory, then the directory. */
static void h_rmdir_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[600];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- ports, dirs, binaries ---- */

int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof(sa);
    ck_assert_msg(getsockname(fd, (struct sockaddr *)&sa, &len) == 0, "getsockname: %s",
                  strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}

/* Whether port can be bound on loopback now. */
static bool h_port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int h_free_port_pair(int offset)
{
    for (int i = 0; i < 500; i++) {
        int p = h_free_port();
        if (p + offset <= 65535 && h_port_bindable(p + offset)) {
            return p;
        }
    }
    ck_abort_msg("no free loopback port p with p + %d free too", offset);
    return 0;
}

void h_tempdir(char *out, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    int n = snprintf(out, 256, "%s/featd-%s-XXXXXX", base, tag ? tag : "t");
    ck_assert_msg(n > 0 && n < 256, "temp dir path too long");
    ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out, strerror(errno));
}

const char *h_bin(const char *name)
{
    static char bufs[8][512];
    static unsigned next;
    char *b = bufs[next++ % 8];
    const char *dir = getenv("FEATD_BUILD_DIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = "build";
    }
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}

/* ---- admin HTTP ---- */

char *h_admin_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "admin connect: %s",
                  strerror(errno));
    char req[512];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    ck_assert(rl > 0 && rl < (int)sizeof(req));
    ck_assert(send(fd, req, (size_t)rl, MSG_NOSIGNAL) == rl);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    ck_assert(buf != NULL);
    ssize_t n;
    while (len + 1 < cap && (n = recv(fd, buf + len, cap - len - 1, 0)) > 0) {
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
}

double h_admin_metric(int port, const char *series)
{
    char *page = h_admin_get(port, "/metrics");
    double v = h_metric(page, series);
    free(page);
    return v;
}

double h_metric(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            const char *v = p[n] == ' ' ? p + n : strstr(p + n, "} ");
            return v ? strtod(v + (p[n] == ' ' ? 1 : 2), NULL) : -1;
        }
    }
    return -1;
}

/* ---- redis-server ---- */

static bool h_redis_ping(int port)
{
    struct timeval tv = { 0, 200000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == NULL) {
        return false;
    }
    bool ok = false;
    if (!c->err && redisSetTimeout(c, tv) == REDIS_OK) {
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r) {
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return ok;
}

/* Spawns redis-server on r->port in r->dir; true once it answers PING,
 * false when it exited (e.g. the port was taken meanwhile). */
static bool h_redis_spawn(struct h_redis *r)
{
    char log_path[320], port_s[16];
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    snprintf(port_s, sizeof(port_s), "%d", r->port);
    const char *bin = getenv("FEATD_REDIS_SERVER");
    if (bin == NULL || bin[0] == '\0') {
        bin = "redis-server";
    }
    if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {   /* h_redis_stop removed it */
        ck_abort_msg("mkdir %s: %s", r->dir, strerror(errno));
    }
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        h_child_setup(log_path);
        execlp(bin, bin, "--port", port_s, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--dir", r->dir, "--daemonize", "no", "--enable-debug-command", "local",
               "--logfile", "", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    r->pid = pid;
    long long end = h_now_ms() + H_START_TIMEOUT_MS;
    while (h_now_ms() < end) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            return false;
        }
        if (h_redis_ping(r->port)) {
            return true;
        }
        h_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    r->pid = 0;
    return false;
}

void h_redis_start(struct h_redis *r)
{
    memset(r, 0, sizeof(*r));
    h_tempdir(r->dir, "redis");
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = h_free_port();
        if (h_redis_spawn(r)) {
            return;
        }
    }
    char log_path[320];
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    h_dump_log("redis-server log", log_path);
    ck_abort_msg("redis-server did not start (see log above)");
}

void h_redis_restart(struct h_redis *r)
{
    ck_assert_msg(r->pid == 0, "h_redis_restart: redis is still running");
    for (int attempt = 0; attempt < 5; attempt++) {
        if (h_redis_spawn(r)) {
            return;
        }
        h_sleep_ms(200);
    }
    char log_path[320];
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    h_dump_log("redis-server log", log_path);
    ck_abort_msg("redis-server did not restart on port %d", r->port);
}

void h_redis_stop(struct h_redis *r)
{
    if (r->pid <= 0) {
        return;
    }
    kill(r->pid, SIGCONT);   /* a paused server cannot act on SIGTERM */
    kill(r->pid, SIGTERM);
    int st;
    if (!h_wait_exit(r->pid, H_STOP_TIMEOUT_MS, &st)) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &st, 0);
    }
    r->pid = 0;
    if (getenv("FEATD_KEEP_TMP") == NULL) {
        h_rmdir_flat(r->dir);   /* a test that fails before stopping keeps its dir */
    }
}

void h_redis_pause(struct h_redis *r)
{
    ck_assert_msg(r->pid > 0, "h_redis_pause: not running");
    kill(r->pid, SIGSTOP);
}

void h_redis_resume(struct h_redis *r)
{
    ck_assert_msg(r->pid > 0, "h_redis_resume: not running");
    kill(r->pid, SIGCONT);
}

void *h_redis_cmd(const struct h_redis *r, const char *fmt, ...)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    void *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return reply;
}

/* ---- featd ---- */

/* Port of a "host:port" string (after the last ':'); 0 when absent/bad. */
static int h_port_of(const char *hostport)
{
    if (hostport == NULL) {
        return 0;
    }
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL) {
        return 0;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) {
        return 0;
    }
    return (int)p;
}

static void h_featd_ports(struct h_featd *f, const char *config_json)
{
    json_error_t jerr;
    json_t *root = json_loads(config_json, 0, &jerr);
    ck_assert_msg(root != NULL, "h_featd_start: config is not JSON (line %d: %s)", jerr.line,
                  jerr.text);
    json_t *server = json_object_get(root, "server");
    const char *listen = json_string_value(json_object_get(server, "listen"));
    json_t *admin = json_object_get(server, "admin_listen");
    f->port = h_port_of(listen ? listen : "127.0.0.1:6566");
    if (admin == NULL) {
        f->admin_port = 6567;
    } else {
        f->admin_port = h_port_of(json_string_value(admin));   /* "" disables: 0 */
    }
    json_decref(root);
    ck_assert_msg(f->port > 0, "h_featd_start: no usable server.listen port in the config");
}

void h_featd_start(struct h_featd *f, const char *config_json)
{
    h_featd_start_opts(f, config_json, NULL);
}

void h_featd_start_opts(struct h_featd *f, const char *config_json, const struct h_featd_opts *o)
{
    memset(f, 0, sizeof(*f));
    h_featd_ports(f, config_json);
    h_tempdir(f->dir, "featd");
    snprintf(f->config_path, sizeof(f->config_path), "%s/config.json", f->dir);
    snprintf(f->log_path, sizeof(f->log_path), "%s/featd.log", f->dir);
    FILE *fp = fopen(f->config_path, "w");
    ck_assert_msg(fp != NULL, "%s: %s", f->config_path, strerror(errno));
    size_t n = strlen(config_json);
    ck_assert_msg(fwrite(config_json, 1, n, fp) == n, "write %s failed", f->config_path);
    fclose(fp);

    const char *bin = h_bin("featd");
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        h_child_setup(f->log_path);
        if (o != NULL && o->nofile > 0) {
            struct rlimit rl = { (rlim_t)o->nofile, (rlim_t)o->nofile };
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                fprintf(stderr, "setrlimit(RLIMIT_NOFILE, %lu): %s\n", o->nofile, strerror(errno));
                _exit(127);
            }
        }
        execl(bin, "featd", "--config", f->config_path, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    f->pid = pid;
    long long end = h_now_ms() + H_START_TIMEOUT_MS;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            f->pid = 0;
            h_dump_log("featd log", f->log_path);
            ck_abort_msg("featd exited during startup (status %d; log above)",
                         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        /* both listeners: the admin port opens a moment after the serving one */
        if (h_port_accepts(f->port) && (f->admin_port <= 0 || h_port_accepts(f->admin_port))) {
            return;
        }
        if (h_now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            f->pid = 0;
            h_dump_log("featd log", f->log_path);
            ck_abort_msg("featd did not accept on port %d within %d ms (log above)", f->port,
                         H_START_TIMEOUT_MS);
        }
        h_sleep_ms(10);
    }
}

/* Sends sig and waits for the exit; returns the exit code, or 128+signal
 * when it died of a signal. Aborts the test when it does not exit within
 * H_STOP_TIMEOUT_MS (it is then killed). */
int h_featd_signal_wait(struct h_featd *f, int sig)
{
    ck_assert_msg(f->pid > 0, "h_featd_signal_wait: featd is not running");
    kill(f->pid, sig);
    int st = 0;
    if (!h_wait_exit(f->pid, H_STOP_TIMEOUT_MS, &st)) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
        h_dump_log("featd log", f->log_path);
        ck_abort_msg("featd did not exit within %d ms of signal %d", H_STOP_TIMEOUT_MS, sig);
    }
    f->pid = 0;
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return -1;
}

void h_featd_stop(struct h_featd *f)
{
    if (f->pid <= 0) {
        return;
    }
    int rc = h_featd_signal_wait(f, SIGTERM);
    if (rc != 0) {
        h_dump_log("featd log", f->log_path);
        ck_abort_msg("featd exited with status %d after SIGTERM (log above)", rc);
    }
}

/* ---- Redis with AUTH ---- */

void *h_redis_cmd_auth(const struct h_redis *r, const char *user, const char *pass,
                       const char *fmt, ...)
{
    struct timeval tv = { 2, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    const char *argv[3] = { "AUTH", user ? user : pass, pass };
    size_t lens[3] = { 4, strlen(argv[1]), strlen(pass) };
    redisReply *a = redisCommandArgv(c, user ? 3 : 2, argv, lens);
    bool ok = a != NULL && a->type == REDIS_REPLY_STATUS;
    if (a) {
        freeReplyObject(a);
    }
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    void *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return reply;
}
