/*
 * harness_cluster.c — a real local Redis Cluster and Sentinel group for the
 * end-to-end tests (contract in harness_cluster.h). Processes are forked
 * redis-server / redis-cli children that die with the test process; every
 * wait has a deadline and dumps the relevant logs before aborting.
 */
#include "harness_cluster.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

#define HC_START_TIMEOUT_MS 10000
#define HC_CREATE_TIMEOUT_MS 30000
#define HC_READY_TIMEOUT_MS 30000
#define HC_STOP_TIMEOUT_MS 10000

/* ---- small helpers (harness.c keeps its own static) ---- */



/* True when an executable named bin is on $PATH (or bin is a path to one). */
static bool hc_have_binary(const char *bin)
{
    if (strchr(bin, '/') != NULL) {
        return access(bin, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL) {
        path = "/usr/bin:/bin";
    }
    char buf[1024];
    while (*path != '\0') {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && n + strlen(bin) + 2 < sizeof(buf)) {
            memcpy(buf, path, n);
            buf[n] = '/';
            strcpy(buf + n + 1, bin);
            if (access(buf, X_OK) == 0) {
                return true;
            }
        }
        path += n;
        if (*path == ':') {
            path++;
        }
    }
    return false;
}

static const char *hc_server_bin(void)
{
    const char *bin = getenv("FEATD_REDIS_SERVER");
    return (bin != NULL && bin[0] != '\0') ? bin : "redis-server";
}

static const char *hc_cli_bin(void)
{
    const char *bin = getenv("FEATD_REDIS_CLI");
    return (bin != NULL && bin[0] != '\0') ? bin : "redis-cli";
}


/* Removes a directory tree of depth <= 2 (node dirs under the parent). */
static void hc_rm_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[700];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (depth > 0 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            hc_rm_tree(path, depth - 1);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}


static redisContext *hc_connect(int port, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static redisReply *hc_vcmd(int port, const char *fmt, va_list ap)
{
    redisContext *c = hc_connect(port, 2000);
    if (c == NULL) {
        return NULL;
    }
    redisReply *r = redisvCommand(c, fmt, ap);
    redisFree(c);
    return r;
}

static redisReply *hc_cmd(int port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = hc_vcmd(port, fmt, ap);
    va_end(ap);
    return r;
}

static bool hc_ping(int port)
{
    redisReply *r = hc_cmd(port, "PING");
    bool ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL) {
        freeReplyObject(r);
    }
    return ok;
}

/* The ROLE of the node on port: "master", "slave", "sentinel" into out, or "". */
static void hc_role(int port, char *out, size_t cap)
{
    out[0] = '\0';
    redisReply *r = hc_cmd(port, "ROLE");
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(out, cap, "%s", r->element[0]->str);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
}

/* "field:value" of an INFO-style text into out (cap), true when found. */
static bool hc_info_field(const char *text, const char *field, char *out, size_t cap)
{
    size_t fl = strlen(field);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= cap) {
                n = cap - 1;
            }
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }
    return false;
}

/* Forks bin with argv (NULL-terminated) writing to log_path; returns the pid. */
static pid_t hc_spawn(const char *log_path, char *const argv[])
{
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        h_child_setup(log_path);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits until the process answers PING on its port; false when it exited
 * or did not answer in time (then it is killed). */
static bool hc_wait_ping(struct hc_node *n)
{
    long long end = h_now_ms() + HC_START_TIMEOUT_MS;
    while (h_now_ms() < end) {
        int st;
        if (waitpid(n->pid, &st, WNOHANG) == n->pid) {
            n->pid = 0;
            return false;
        }
        if (hc_ping(n->port)) {
            return true;
        }
        h_sleep_ms(10);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
    return false;
}

static void hc_node_log(const struct hc_node *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/redis.log", n->dir);
}

static void hc_node_stop(struct hc_node *n, int sig)
{
    if (n->pid <= 0) {
        return;
    }
    kill(n->pid, SIGCONT);
    kill(n->pid, sig);
    long long end = h_now_ms() + HC_STOP_TIMEOUT_MS;
    for (;;) {
        int st;
        pid_t w = waitpid(n->pid, &st, WNOHANG);
        if (w == n->pid || (w < 0 && errno != EINTR)) {
            break;
        }
        if (h_now_ms() >= end) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, NULL, 0);
            break;
        }
        h_sleep_ms(5);
    }
    n->pid = 0;
}

/* ---- cluster nodes ---- */

static bool hc_cluster_spawn(struct hc_node *n)
{
    char log_path[340], port_s[16], conf[340];
    hc_node_log(n, log_path, sizeof(log_path));
    snprintf(port_s, sizeof(port_s), "%d", n->port);
    snprintf(conf, sizeof(conf), "nodes-%d.conf", n->port);
    if (mkdir(n->dir, 0700) != 0 && errno != EEXIST) {
        ck_abort_msg("mkdir %s: %s", n->dir, strerror(errno));
    }
    char *argv[] = {
        (char *)hc_server_bin(), "--port", port_s, "--bind", "127.0.0.1", "--dir", n->dir,
        "--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "2000",
        "--appendonly", "no", "--save", "", "--daemonize", "no", "--enable-debug-command", "local",
        "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1", "--logfile", "", NULL,
    };
    n->pid = hc_spawn(log_path, argv);
    return hc_wait_ping(n);
}

static void hc_cluster_dump_logs(const struct hcluster *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        char log_path[340], label[64];
        hc_node_log(&c->nodes[i], log_path, sizeof(log_path));
        snprintf(label, sizeof(label), "cluster node %d (port %d)", i, c->nodes[i].port);
        h_dump_log(label, log_path);
    }
}

/* Runs redis-cli --cluster create over all nodes; aborts on failure. */
static void hc_cluster_create(struct hcluster *c)
{
    char log_path[300], repl_s[16];
    snprintf(log_path, sizeof(log_path), "%s/cluster-create.log", c->dir);
    snprintf(repl_s, sizeof(repl_s), "%d", c->replicas_per_master);
    char addrs[HC_MAX_NODES][32];
    char *argv[HC_MAX_NODES + 8];
    int a = 0;
    argv[a++] = (char *)hc_cli_bin();
    argv[a++] = "--cluster";
    argv[a++] = "create";
    for (int i = 0; i < c->nnodes; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", c->nodes[i].port);
        argv[a++] = addrs[i];
    }
    argv[a++] = "--cluster-replicas";
    argv[a++] = repl_s;
    argv[a++] = "--cluster-yes";
    argv[a] = NULL;
    pid_t pid = hc_spawn(log_path, argv);
    long long end = h_now_ms() + HC_CREATE_TIMEOUT_MS;
    int st = 0;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            break;
        }
        if (h_now_ms() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            h_dump_log("redis-cli --cluster create", log_path);
            ck_abort_msg("redis-cli --cluster create did not finish within %d ms",
                         HC_CREATE_TIMEOUT_MS);
        }
        h_sleep_ms(20);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        h_dump_log("redis-cli --cluster create", log_path);
        ck_abort_msg("redis-cli --cluster create failed (status %d; log above)", st);
    }
}

/*
 * One node's view is settled when CLUSTER INFO says ok with all slots ok
 * and CLUSTER NODES lists exactly `masters` running masters with slots and
 * `replicas` replicas, none flagged fail/handshake/noaddr; a replica node
 * must also have master_link_status:up.
 */
static bool hc_node_settled(const struct hcluster *c, int i, int masters, int replicas, char *why,
                            size_t whycap)
{
    int port = c->nodes[i].port;
    redisReply *r = hc_cmd(port, "CLUSTER INFO");
    char v[64];
    bool ok = r != NULL && r->type == REDIS_REPLY_STRING &&
              hc_info_field(r->str, "cluster_state", v, sizeof(v)) && strcmp(v, "ok") == 0 &&
              hc_info_field(r->str, "cluster_slots_ok", v, sizeof(v)) && strcmp(v, "16384") == 0;
    if (r != NULL) {
        freeReplyObject(r);
    }
    if (!ok) {
        snprintf(why, whycap, "node %d (port %d): cluster_state not ok", i, port);
        return false;
    }
    r = hc_cmd(port, "CLUSTER NODES");
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        if (r != NULL) {
            freeReplyObject(r);
        }
        snprintf(why, whycap, "node %d (port %d): CLUSTER NODES failed", i, port);
        return false;
    }
    int nm = 0, nr = 0, bad = 0;
    bool myself_replica = false;
    for (char *line = r->str; line != NULL && *line != '\0';) {
        char *eol = strchr(line, '\n');
        /* fields: id addr flags master ping pong epoch link slots... */
        char id[64], addr[128], flags[128];
        if (sscanf(line, "%63s %127s %127s", id, addr, flags) == 3) {
            bool gone = strstr(flags, "fail") != NULL || strstr(flags, "handshake") != NULL ||
                        strstr(flags, "noaddr") != NULL;
            if (gone) {
                /* a node the test killed may stay listed as failed */
                int p = 0;
                const char *colon = strrchr(addr, ':');
                if (colon != NULL) {
                    p = atoi(colon + 1);
                }
                int k = harness_cluster_node_by_port(c, p);
                if (k < 0 || c->nodes[k].pid > 0) {
                    bad++;
                }
            } else if (strstr(flags, "master") != NULL) {
                /* a master counts when it serves slots (9th field onwards) */
                int fields = 0;
                const char *q = line;
                const char *lend = eol ? eol : line + strlen(line);
                while (q < lend) {
                    while (q < lend && *q == ' ') {
                        q++;
                    }
                    if (q < lend) {
                        fields++;
                    }
                    while (q < lend && *q != ' ') {
                        q++;
                    }
                }
                if (fields > 8) {
                    nm++;
                }
            } else if (strstr(flags, "slave") != NULL) {
                nr++;
                if (strstr(flags, "myself") != NULL) {
                    myself_replica = true;
                }
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    freeReplyObject(r);
    if (nm != masters || nr != replicas || bad != 0) {
        snprintf(why, whycap,
                 "node %d (port %d): sees %d masters with slots, %d replicas, %d failed "
                 "running nodes (want %d, %d, 0)", i, port, nm, nr, bad, masters, replicas);
        return false;
    }
    /* CLUSTER SLOTS lists a replica only once its offset is known by gossip:
     * wait until it names every running node */
    r = hc_cmd(port, "CLUSTER SLOTS");
    int seen[HC_MAX_NODES] = { 0 }, nseen = 0;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < r->elements; k++) {
            const redisReply *e = r->element[k];
            for (size_t j = 2; e->type == REDIS_REPLY_ARRAY && j < e->elements; j++) {
                const redisReply *nd = e->element[j];
                if (nd->type != REDIS_REPLY_ARRAY || nd->elements < 2 ||
                    nd->element[1]->type != REDIS_REPLY_INTEGER) {
                    continue;
                }
                int p = (int)nd->element[1]->integer;
                bool dup = false;
                for (int q = 0; q < nseen; q++) {
                    dup |= seen[q] == p;
                }
                if (!dup && nseen < HC_MAX_NODES) {
                    seen[nseen++] = p;
                }
            }
        }
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    if (nseen != masters + replicas) {
        snprintf(why, whycap, "node %d (port %d): CLUSTER SLOTS names %d nodes (want %d)", i, port,
                 nseen, masters + replicas);
        return false;
    }
    if (myself_replica) {
        r = hc_cmd(port, "INFO replication");
        ok = r != NULL && r->type == REDIS_REPLY_STRING &&
             hc_info_field(r->str, "master_link_status", v, sizeof(v)) && strcmp(v, "up") == 0;
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (!ok) {
            snprintf(why, whycap, "replica node %d (port %d): master link not up", i, port);
            return false;
        }
    }
    return true;
}

static void hc_cluster_wait(struct hcluster *c, int masters, int replicas, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    char why[256] = "";
    for (;;) {
        bool all = true;
        for (int i = 0; i < c->nnodes && all; i++) {
            if (c->nodes[i].pid > 0 && !hc_node_settled(c, i, masters, replicas, why, sizeof(why))) {
                all = false;
            }
        }
        if (all) {
            return;
        }
        static long long last_note;
        if (getenv("FEATD_HARNESS_VERBOSE") != NULL && h_now_ms() - last_note >= 1000) {
            last_note = h_now_ms();
            printf("harness: waiting: %s\n", why);
        }
        if (h_now_ms() >= end) {
            hc_cluster_dump_logs(c);
            ck_abort_msg("cluster did not settle within %d ms: %s", timeout_ms, why);
        }
        h_sleep_ms(50);
    }
}

bool harness_cluster_start(struct hcluster *c, int masters, int replicas_per_master)
{
    memset(c, 0, sizeof(*c));
    if (!hc_have_binary(hc_server_bin()) || !hc_have_binary(hc_cli_bin())) {
        printf("SKIP: cluster tests need %s and %s on PATH\n", hc_server_bin(), hc_cli_bin());
        return false;
    }
    int n = masters * (1 + replicas_per_master);
    ck_assert_msg(masters >= 3 && n <= HC_MAX_NODES,
                  "harness_cluster_start: %d masters x %d replicas (need >= 3 masters, <= %d nodes)",
                  masters, replicas_per_master, HC_MAX_NODES);
    c->nnodes = n;
    c->masters = masters;
    c->replicas_per_master = replicas_per_master;
    h_tempdir(c->dir, "cluster");
    for (int i = 0; i < n; i++) {
        struct hc_node *nd = &c->nodes[i];
        bool up = false;
        for (int attempt = 0; attempt < 5 && !up; attempt++) {
            nd->port = h_free_port();
            /* the cluster bus listens on port + 10000: both must be free */
            if (nd->port + 10000 > 65535) {
                continue;
            }
            snprintf(nd->dir, sizeof(nd->dir), "%s/%d", c->dir, nd->port);
            up = hc_cluster_spawn(nd);
            if (!up) {
                char log_path[340];
                hc_node_log(nd, log_path, sizeof(log_path));
                if (attempt == 4) {
                    h_dump_log("cluster node", log_path);
                }
                hc_rm_tree(nd->dir, 0);
            }
        }
        if (!up) {
            harness_cluster_stop(c);
            ck_abort_msg("cluster node %d did not start", i);
        }
    }
    long long t0 = h_now_ms();
    hc_cluster_create(c);
    if (getenv("FEATD_HARNESS_VERBOSE") != NULL) {
        printf("harness: redis-cli --cluster create took %lld ms\n", h_now_ms() - t0);
    }
    hc_cluster_wait(c, masters, masters * replicas_per_master, HC_READY_TIMEOUT_MS);
    return true;
}

void harness_cluster_stop(struct hcluster *c)
{
    for (int i = 0; i < c->nnodes; i++) {
        hc_node_stop(&c->nodes[i], SIGTERM);
    }
    if (c->dir[0] != '\0' && getenv("FEATD_KEEP_TMP") == NULL) {
        hc_rm_tree(c->dir, 1);
    }
    c->dir[0] = '\0';
    c->nnodes = 0;
}

void harness_cluster_kill(struct hcluster *c, int i)
{
    ck_assert_msg(i >= 0 && i < c->nnodes, "harness_cluster_kill: no node %d", i);
    hc_node_stop(&c->nodes[i], SIGKILL);
}

void harness_cluster_node_stop(struct hcluster *c, int i)
{
    ck_assert_msg(i >= 0 && i < c->nnodes, "harness_cluster_node_stop: no node %d", i);
    hc_node_stop(&c->nodes[i], SIGTERM);
}

void harness_cluster_restart(struct hcluster *c, int i)
{
    ck_assert_msg(i >= 0 && i < c->nnodes && c->nodes[i].pid == 0,
                  "harness_cluster_restart: node %d is running or unknown", i);
    for (int attempt = 0; attempt < 5; attempt++) {
        if (hc_cluster_spawn(&c->nodes[i])) {
            return;
        }
        h_sleep_ms(200);
    }
    char log_path[340];
    hc_node_log(&c->nodes[i], log_path, sizeof(log_path));
    h_dump_log("cluster node", log_path);
    ck_abort_msg("cluster node %d did not restart on port %d", i, c->nodes[i].port);
}

void *harness_cluster_cmd(const struct hcluster *c, int i, const char *fmt, ...)
{
    ck_assert_msg(i >= 0 && i < c->nnodes, "harness_cluster_cmd: no node %d", i);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = hc_vcmd(c->nodes[i].port, fmt, ap);
    va_end(ap);
    return r;
}

int harness_cluster_node_by_port(const struct hcluster *c, int port)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (c->nodes[i].port == port) {
            return i;
        }
    }
    return -1;
}

bool harness_cluster_is_master(const struct hcluster *c, int i)
{
    char role[32];
    hc_role(c->nodes[i].port, role, sizeof(role));
    return strcmp(role, "master") == 0;
}

int harness_cluster_slot_owner(const struct hcluster *c, int via, unsigned slot)
{
    redisReply *r = harness_cluster_cmd(c, via, "CLUSTER SLOTS");
    int owner = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < r->elements; k++) {
            redisReply *e = r->element[k];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
                e->element[0]->type != REDIS_REPLY_INTEGER ||
                e->element[1]->type != REDIS_REPLY_INTEGER ||
                e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2) {
                continue;
            }
            if ((long long)slot >= e->element[0]->integer &&
                (long long)slot <= e->element[1]->integer) {
                owner = harness_cluster_node_by_port(c, (int)e->element[2]->element[1]->integer);
            }
        }
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return owner;
}

void harness_cluster_wait_ok(struct hcluster *c, int timeout_ms)
{
    int running = 0;
    for (int i = 0; i < c->nnodes; i++) {
        running += c->nodes[i].pid > 0;
    }
    /* a killed master's slots move to its replica: masters stay c->masters,
     * the running replicas are the rest */
    hc_cluster_wait(c, c->masters, running - c->masters, timeout_ms);
}

/* ---- Sentinel ---- */

static bool hs_data_spawn(struct hc_node *n, int master_port)
{
    char log_path[340], port_s[16], mport_s[16];
    hc_node_log(n, log_path, sizeof(log_path));
    snprintf(port_s, sizeof(port_s), "%d", n->port);
    snprintf(mport_s, sizeof(mport_s), "%d", master_port);
    if (mkdir(n->dir, 0700) != 0 && errno != EEXIST) {
        ck_abort_msg("mkdir %s: %s", n->dir, strerror(errno));
    }
    char *argv[] = {
        (char *)hc_server_bin(), "--port", port_s, "--bind", "127.0.0.1", "--dir", n->dir,
        "--appendonly", "no", "--save", "", "--daemonize", "no", "--logfile", "",
        "--repl-diskless-sync-delay", "0", master_port > 0 ? "--replicaof" : NULL, "127.0.0.1", mport_s, NULL,
    };
    n->pid = hc_spawn(log_path, argv);
    return hc_wait_ping(n);
}

static bool hs_sentinel_spawn(struct hc_node *n, int master_port)
{
    char log_path[340], conf[340];
    hc_node_log(n, log_path, sizeof(log_path));
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", n->dir);
    if (mkdir(n->dir, 0700) != 0 && errno != EEXIST) {
        ck_abort_msg("mkdir %s: %s", n->dir, strerror(errno));
    }
    FILE *fp = fopen(conf, "w");
    ck_assert_msg(fp != NULL, "%s: %s", conf, strerror(errno));
    fprintf(fp,
            "port %d\nbind 127.0.0.1\ndir %s\ndaemonize no\nlogfile \"\"\n"
            "sentinel monitor %s 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds %s 1000\n"
            "sentinel failover-timeout %s 5000\n"
            "sentinel parallel-syncs %s 1\n",
            n->port, n->dir, HS_MASTER_NAME, master_port, HS_MASTER_NAME, HS_MASTER_NAME,
            HS_MASTER_NAME);
    fclose(fp);
    char *argv[] = { (char *)hc_server_bin(), conf, "--sentinel", NULL };
    n->pid = hc_spawn(log_path, argv);
    return hc_wait_ping(n);
}

static void hs_dump_logs(const struct hsentinel *s)
{
    char log_path[340], label[64];
    for (int i = 0; i < 2; i++) {
        hc_node_log(&s->data[i], log_path, sizeof(log_path));
        snprintf(label, sizeof(label), "data node %d (port %d)", i, s->data[i].port);
        h_dump_log(label, log_path);
    }
    for (int i = 0; i < HS_SENTINELS; i++) {
        hc_node_log(&s->sentinels[i], log_path, sizeof(log_path));
        snprintf(label, sizeof(label), "sentinel %d (port %d)", i, s->sentinels[i].port);
        h_dump_log(label, log_path);
    }
}

/* Starts n on a free port (up to 5 ports tried) with spawn(n, arg). */
static void hs_start_node(struct hsentinel *s, struct hc_node *n, const char *tag,
                          bool (*spawn)(struct hc_node *, int), int arg)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        n->port = h_free_port();
        snprintf(n->dir, sizeof(n->dir), "%s/%s-%d", s->dir, tag, n->port);
        if (spawn(n, arg)) {
            return;
        }
        if (attempt < 4) {
            hc_rm_tree(n->dir, 0);
        }
    }
    hs_dump_logs(s);
    harness_sentinel_stop(s);
    ck_abort_msg("%s did not start", tag);
}

/* Integer field `name` of a flat [name, value, ...] array reply, or -1. */
static long long hs_flat_int(const redisReply *r, const char *name)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    for (size_t k = 0; k + 1 < r->elements; k += 2) {
        if (r->element[k]->type == REDIS_REPLY_STRING && strcmp(r->element[k]->str, name) == 0 &&
            r->element[k + 1]->type == REDIS_REPLY_STRING) {
            return atoll(r->element[k + 1]->str);
        }
    }
    return -1;
}

int harness_sentinel_master_port(const struct hsentinel *s, int i)
{
    redisReply *r = hc_cmd(s->sentinels[i].port, "SENTINEL get-master-addr-by-name %s",
                           HS_MASTER_NAME);
    int port = 0;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        port = atoi(r->element[1]->str);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return port;
}

/* Sentinel i names data[m] as master, knows 2 other sentinels and (when
 * want_replica) one replica. */
static bool hs_sentinel_agrees(const struct hsentinel *s, int i, int m, bool want_replica)
{
    if (harness_sentinel_master_port(s, i) != s->data[m].port) {
        return false;
    }
    redisReply *r = hc_cmd(s->sentinels[i].port, "SENTINEL master %s", HS_MASTER_NAME);
    bool ok = hs_flat_int(r, "num-other-sentinels") == HS_SENTINELS - 1 &&
              (!want_replica || hs_flat_int(r, "num-slaves") >= 1);
    if (r != NULL) {
        freeReplyObject(r);
    }
    return ok;
}

bool harness_sentinel_start(struct hsentinel *s)
{
    memset(s, 0, sizeof(*s));
    if (!hc_have_binary(hc_server_bin())) {
        printf("SKIP: sentinel tests need %s on PATH\n", hc_server_bin());
        return false;
    }
    h_tempdir(s->dir, "sentinel");
    hs_start_node(s, &s->data[0], "data", hs_data_spawn, 0);
    hs_start_node(s, &s->data[1], "data", hs_data_spawn, s->data[0].port);
    s->master = 0;
    long long end = h_now_ms() + HC_READY_TIMEOUT_MS;
    for (;;) {
        redisReply *r = hc_cmd(s->data[1].port, "INFO replication");
        char v[32];
        bool up = r != NULL && r->type == REDIS_REPLY_STRING &&
                  hc_info_field(r->str, "master_link_status", v, sizeof(v)) && strcmp(v, "up") == 0;
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (up) {
            break;
        }
        if (h_now_ms() >= end) {
            hs_dump_logs(s);
            ck_abort_msg("sentinel group: replica did not sync");
        }
        h_sleep_ms(20);
    }
    for (int i = 0; i < HS_SENTINELS; i++) {
        hs_start_node(s, &s->sentinels[i], "sentinel", hs_sentinel_spawn, s->data[0].port);
    }
    for (;;) {
        bool all = true;
        for (int i = 0; i < HS_SENTINELS && all; i++) {
            all = hs_sentinel_agrees(s, i, 0, true);
        }
        if (all) {
            return true;
        }
        if (h_now_ms() >= end) {
            hs_dump_logs(s);
            ck_abort_msg("sentinels did not agree within %d ms", HC_READY_TIMEOUT_MS);
        }
        h_sleep_ms(50);
    }
}

void harness_sentinel_stop(struct hsentinel *s)
{
    for (int i = 0; i < HS_SENTINELS; i++) {
        hc_node_stop(&s->sentinels[i], SIGTERM);
    }
    for (int i = 0; i < 2; i++) {
        hc_node_stop(&s->data[i], SIGTERM);
    }
    if (s->dir[0] != '\0' && getenv("FEATD_KEEP_TMP") == NULL) {
        hc_rm_tree(s->dir, 1);
    }
    s->dir[0] = '\0';
}

void harness_sentinel_wait_new_master(struct hsentinel *s, int old_master_index, int timeout_ms)
{
    int m = 1 - old_master_index;
    long long end = h_now_ms() + timeout_ms;
    for (;;) {
        bool all = true;
        for (int i = 0; i < HS_SENTINELS && all; i++) {
            if (s->sentinels[i].pid > 0) {
                all = harness_sentinel_master_port(s, i) == s->data[m].port;
            }
        }
        if (all) {
            char role[32];
            hc_role(s->data[m].port, role, sizeof(role));
            if (strcmp(role, "master") == 0) {
                s->master = m;
                return;
            }
        }
        if (h_now_ms() >= end) {
            hs_dump_logs(s);
            ck_abort_msg("sentinels did not switch to port %d within %d ms", s->data[m].port,
                         timeout_ms);
        }
        h_sleep_ms(50);
    }
}

void harness_sentinel_failover(struct hsentinel *s, int timeout_ms)
{
    int old = s->master;
    long long end = h_now_ms() + timeout_ms;
    /* the failover is refused while a previous one is still settling
     * (-INPROG) or the replica is not yet known: retry until the deadline */
    for (;;) {
        redisReply *r = hc_cmd(s->sentinels[0].port, "SENTINEL FAILOVER %s", HS_MASTER_NAME);
        bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        char msg[200] = "no reply";
        if (r != NULL && r->type == REDIS_REPLY_ERROR) {
            snprintf(msg, sizeof(msg), "%s", r->str);
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (ok) {
            break;
        }
        if (h_now_ms() >= end) {
            hs_dump_logs(s);
            ck_abort_msg("SENTINEL FAILOVER refused: %s", msg);
        }
        h_sleep_ms(100);
    }
    int left = (int)(end - h_now_ms());
    harness_sentinel_wait_new_master(s, old, left > 0 ? left : 1);
    for (;;) {
        char role[32];
        hc_role(s->data[old].port, role, sizeof(role));
        if (strcmp(role, "slave") == 0) {
            return;
        }
        if (h_now_ms() >= end) {
            hs_dump_logs(s);
            ck_abort_msg("old master (port %d) was not reconfigured as a replica (ROLE %s)",
                         s->data[old].port, role);
        }
        h_sleep_ms(50);
    }
}

void *harness_sentinel_data_cmd(const struct hsentinel *s, int i, const char *fmt, ...)
{
    ck_assert_msg(i >= 0 && i < 2, "harness_sentinel_data_cmd: no data node %d", i);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = hc_vcmd(s->data[i].port, fmt, ap);
    va_end(ap);
    return r;
}

void *harness_sentinel_cmd(const struct hsentinel *s, int i, const char *fmt, ...)
{
    ck_assert_msg(i >= 0 && i < HS_SENTINELS, "harness_sentinel_cmd: no sentinel %d", i);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = hc_vcmd(s->sentinels[i].port, fmt, ap);
    va_end(ap);
    return r;
}

void harness_sentinel_kill_data(struct hsentinel *s, int i)
{
    ck_assert_msg(i >= 0 && i < 2, "harness_sentinel_kill_data: no data node %d", i);
    hc_node_stop(&s->data[i], SIGKILL);
}

/* ---- helpers for the chaos suite ---- */

int harness_cluster_replica_of(const struct hcluster *c, int master)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (i == master || c->nodes[i].pid == 0) {
            continue;
        }
        redisReply *r = hc_cmd(c->nodes[i].port, "ROLE");
        bool mine = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
                    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "slave") == 0 &&
                    r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == c->nodes[master].port;
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (mine) {
            return i;
        }
    }
    return -1;
}

/* True when the master on port has every replica it lists at its own
 * replication offset (INFO replication: master_repl_offset vs slaveN offset). */
static bool hc_replicas_caught_up(int port)
{
    redisReply *r = hc_cmd(port, "INFO replication");
    bool ok = r != NULL && r->type == REDIS_REPLY_STRING;
    if (ok) {
        char v[64], f[32], line[256];
        ok = hc_info_field(r->str, "master_repl_offset", v, sizeof(v));
        long long off = ok ? atoll(v) : -1;
        for (int k = 0; ok && k < HC_MAX_NODES; k++) {
            snprintf(f, sizeof(f), "slave%d", k);
            if (!hc_info_field(r->str, f, line, sizeof(line))) {
                break;
            }
            const char *o = strstr(line, "offset=");
            ok = o != NULL && atoll(o + 7) >= off;
        }
    }
    if (r != NULL) {
        freeReplyObject(r);
    }
    return ok;
}

void harness_cluster_wait_synced(const struct hcluster *c, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    for (int i = 0; i < c->nnodes; i++) {
        if (c->nodes[i].pid == 0 || !harness_cluster_is_master(c, i)) {
            continue;
        }
        while (!hc_replicas_caught_up(c->nodes[i].port)) {
            ck_assert_msg(h_now_ms() < end, "replicas of node %d (port %d) not in sync within %d ms", i,
                          c->nodes[i].port, timeout_ms);
            h_sleep_ms(20);
        }
    }
}

void harness_cluster_node_id(const struct hcluster *c, int i, char *out, size_t cap)
{
    redisReply *r = harness_cluster_cmd(c, i, "CLUSTER MYID");
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "CLUSTER MYID on node %d", i);
    snprintf(out, cap, "%s", r->str);
    freeReplyObject(r);
}

void harness_sentinel_wait_synced(const struct hsentinel *s, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    while (!hc_replicas_caught_up(s->data[s->master].port)) {
        ck_assert_msg(h_now_ms() < end, "sentinel replica not in sync within %d ms", timeout_ms);
        h_sleep_ms(20);
    }
}

void harness_sentinel_restart_data(struct hsentinel *s, int i)
{
    ck_assert_msg(i >= 0 && i < 2 && s->data[i].pid == 0, "harness_sentinel_restart_data: node %d", i);
    for (int attempt = 0; attempt < 5; attempt++) {
        if (hs_data_spawn(&s->data[i], 0)) {
            return;
        }
        h_sleep_ms(200);
    }
    hs_dump_logs(s);
    ck_abort_msg("data node %d did not restart on port %d", i, s->data[i].port);
}

bool harness_sentinel_is_master(const struct hsentinel *s, int i)
{
    char role[32];
    hc_role(s->data[i].port, role, sizeof(role));
    return strcmp(role, "master") == 0;
}
