/*
 * embedded.c — private redis-server child (see embedded.h).
 */
#include "redis/embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "core/log.h"
#include "redis/rblock.h"

static pid_t emb_pid = -1;
static char emb_sock[108];
static char emb_dir[PATH_MAX];
static char emb_bin[PATH_MAX];
static char emb_pass[256];
static char emb_conf[PATH_MAX + 32];
static int emb_stopping;

static int emb_spawn(char *err, size_t errlen)
{
    char logpath[PATH_MAX + 16];
    snprintf(logpath, sizeof(logpath), "%s/redis.log", emb_dir);
    unlink(emb_sock);
    if (emb_pass[0]) {
        /* redis config line: requirepass "<password>" with quotes escaped */
        snprintf(emb_conf, sizeof(emb_conf), "%s/redis-featd.conf", emb_dir);
        int fd = open(emb_conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL) {
            snprintf(err, errlen, "embedded redis: cannot write %s: %s", emb_conf, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return FEATD_ERR;
        }
        fputs("requirepass \"", f);
        for (const char *p = emb_pass; *p; p++) {
            if (*p == '"' || *p == '\\') {
                fputc('\\', f);
            }
            fputc(*p, f);
        }
        fputs("\"\n", f);
        fclose(f);
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "embedded redis: fork: %s", strerror(errno));
        return FEATD_ERR;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        const char *argv[32];
        int n = 0;
        argv[n++] = emb_bin;
        if (emb_pass[0]) {
            argv[n++] = emb_conf;   /* the password, in a 0600 file: not on argv */
        }
        argv[n++] = "--port";
        argv[n++] = "0";
        argv[n++] = "--unixsocket";
        argv[n++] = emb_sock;
        argv[n++] = "--unixsocketperm";
        argv[n++] = "700";
        argv[n++] = "--dir";
        argv[n++] = emb_dir;
        argv[n++] = "--dbfilename";
        argv[n++] = "featd-redis.rdb";
        argv[n++] = "--save";
        argv[n++] = "60 1000";
        argv[n++] = "--appendonly";
        argv[n++] = "no";
        argv[n++] = "--daemonize";
        argv[n++] = "no";
        /* entity hashes stay in Redis's compact encoding with rows up to
         * this size (docs/online-layout.md) */
        argv[n++] = "--hash-max-listpack-value";
        argv[n++] = "1024";
        argv[n++] = "--logfile";
        argv[n++] = logpath;
        argv[n] = NULL;
        execvp(emb_bin, (char *const *)argv);
        fprintf(stderr, "featd: embedded redis: cannot run %s: %s\n", emb_bin, strerror(errno));
        _exit(127);
    }
    emb_pid = pid;
    /* Wait until it answers PING. */
    struct timeval tv = { 0, 200000 };
    for (int i = 0; i < 200; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            emb_pid = -1;
            snprintf(err, errlen, "embedded redis (%s) exited at startup; see %s", emb_bin, logpath);
            return FEATD_ERR;
        }
        redisContext *c = redisConnectUnixWithTimeout(emb_sock, tv);
        if (c && !c->err) {
            char perr[8];   /* not ready yet: the reason does not matter */
            if (emb_pass[0]) {
                freeReplyObject(rblock_command(c, perr, sizeof perr, "AUTH", "AUTH %s", emb_pass));
            }
            redisReply *r = rblock_command(c, perr, sizeof perr, "PING", "PING");
            int ok = r && (r->type == REDIS_REPLY_STATUS);
            freeReplyObject(r);
            redisFree(c);
            if (ok) {
                return FEATD_OK;
            }
        } else if (c) {
            redisFree(c);
        }
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "embedded redis did not answer PING within 10 s; see %s", logpath);
    embedded_stop();
    return FEATD_ERR;
}

int embedded_start(const struct featd_config *cfg, char *sock, size_t cap, char *err, size_t errlen)
{
    const char *dir = cfg->server.data_dir;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "server.data_dir: cannot create \"%s\": %s", dir, strerror(errno));
        return FEATD_ERR;
    }
    if (realpath(dir, emb_dir) == NULL) {
        snprintf(err, errlen, "server.data_dir: \"%s\": %s", dir, strerror(errno));
        return FEATD_ERR;
    }
    int n = snprintf(emb_sock, sizeof(emb_sock), "%s/redis.sock", emb_dir);
    if (n < 0 || (size_t)n >= sizeof(emb_sock)) {
        snprintf(err, errlen, "server.data_dir: \"%s\" is too long for a unix socket path "
                 "(max %zu bytes with /redis.sock)", emb_dir, sizeof(emb_sock) - 1);
        return FEATD_ERR;
    }
    snprintf(emb_bin, sizeof(emb_bin), "%s", cfg->redis.server_bin ? cfg->redis.server_bin : "redis-server");
    snprintf(emb_pass, sizeof(emb_pass), "%s", cfg->redis.password ? cfg->redis.password : "");
    if (emb_spawn(err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    snprintf(sock, cap, "%s", emb_sock);
    log_info("embedded", "private redis-server pid %d on unix:%s (data in %s)", (int)emb_pid, emb_sock, emb_dir);
    return FEATD_OK;
}

int embedded_reap(void)
{
    if (emb_pid <= 0 || emb_stopping) {
        return 0;
    }
    int status;
    if (waitpid(emb_pid, &status, WNOHANG) != emb_pid) {
        return 0;
    }
    log_error("embedded", "private redis-server (pid %d) died (status %d); restarting", (int)emb_pid, status);
    emb_pid = -1;
    char err[512];
    if (emb_spawn(err, sizeof(err)) != FEATD_OK) {
        log_error("embedded", "%s", err);
        return 0;
    }
    return 1;
}

void embedded_stop(void)
{
    if (emb_pid <= 0) {
        return;
    }
    emb_stopping = 1;
    kill(emb_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(emb_pid, &status, WNOHANG) == emb_pid) {
            emb_pid = -1;
            return;
        }
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(emb_pid, SIGKILL);
    waitpid(emb_pid, NULL, 0);
    emb_pid = -1;
}
