/*
 * mat_state.c — a view's materialization state in Redis: the progress hash
 * and its typed update, the files hash and the lease (contract in
 * mat_state.h).
 */
#include "materialize/mat_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "online/online_key.h"
#include "redis/rblock.h"
#include "core/fbuf.h"
#include "core/util.h"

/* ---- progress ---- */

struct pfield {
    const char *name;
    size_t off;
    size_t cap;     /* 0 = int64 */
};

#define MAT_PS_(name, cap_) { #name, offsetof(struct mat_progress, name), cap_ },
#define MAT_PI_(name) { #name, offsetof(struct mat_progress, name), 0 },
static const struct pfield pfields[] = { MAT_PROGRESS_FIELDS(MAT_PS_, MAT_PI_, MAT_PI_) };
#undef MAT_PS_
#undef MAT_PI_

int mat_state_load(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                   struct mat_progress *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    struct fbuf k = { 0 };
    if (online_key_meta(&k, key_prefix, v, "progress") != FEATD_OK) {
        fbuf_free(&k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    const char *argv[2] = { "HGETALL", k.data };
    size_t lens[2] = { 7, k.len };
    redisReply *r = rblock_command_argv(c, err, errlen, "HGETALL progress", 2, argv, lens);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        rblock_seterr_reply(c, "HGETALL progress", r, err, errlen);
        freeReplyObject(r);
        return FEATD_ERR;
    }
    p->exists = r->elements > 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *val = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) {
            continue;
        }
        for (size_t j = 0; j < FEATD_ARRAY_LEN(pfields); j++) {
            const struct pfield *pf = &pfields[j];
            if (strlen(pf->name) != f->len || memcmp(pf->name, f->str, f->len) != 0) {
                continue;
            }
            char *dst = (char *)p + pf->off;
            if (pf->cap > 0) {
                size_t n = val->len < pf->cap - 1 ? val->len : pf->cap - 1;
                memcpy(dst, val->str, n);
                dst[n] = '\0';
            } else {
                char tmp[32];
                size_t n = val->len < sizeof(tmp) - 1 ? val->len : sizeof(tmp) - 1;
                memcpy(tmp, val->str, n);
                tmp[n] = '\0';
                int64_t x = 0;
                if (!util_parse_i64(tmp, INT64_MIN, INT64_MAX, &x)) {
                    x = 0;
                }
                memcpy(dst, &x, sizeof(x));
            }
            break;
        }
    }
    freeReplyObject(r);
    return FEATD_OK;
}

/* ---- progress updates ---- */

struct mat_state_update {
    struct fbuf data;       /* field\0value\0 pairs */
    size_t *offs;           /* start of each string in data */
    size_t *lens;
    size_t n, cap;          /* strings (2 per field) */
    bool oom;
};

struct mat_state_update *mat_state_update_new(void)
{
    return calloc(1, sizeof(struct mat_state_update));
}

void mat_state_update_free(struct mat_state_update *u)
{
    if (u == NULL) {
        return;
    }
    fbuf_free(&u->data);
    free(u->offs);
    free(u->lens);
    free(u);
}

static void update_add(struct mat_state_update *u, const char *s, size_t n)
{
    if (u->oom) {
        return;
    }
    if (u->n == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 32;
        size_t *no = realloc(u->offs, nc * sizeof(*no));
        if (no) {
            u->offs = no;
        }
        size_t *nl = realloc(u->lens, nc * sizeof(*nl));
        if (nl) {
            u->lens = nl;
        }
        if (no == NULL || nl == NULL) {
            u->oom = true;
            return;
        }
        u->cap = nc;
    }
    u->offs[u->n] = u->data.len;
    u->lens[u->n] = n;
    if (fbuf_append(&u->data, s, n) != FEATD_OK || fbuf_putc(&u->data, '\0') != FEATD_OK) {
        u->oom = true;
        return;
    }
    u->n++;
}

static void update_str(struct mat_state_update *u, const char *field, const char *val)
{
    update_add(u, field, strlen(field));
    update_add(u, val ? val : "", val ? strlen(val) : 0);
}

static void update_i64(struct mat_state_update *u, const char *field, int64_t val)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%" PRId64, val);
    update_str(u, field, tmp);
}

/* The typed setters: one per S and I field of MAT_PROGRESS_FIELDS. */
#define MAT_PS_(name, cap) \
    void mat_state_set_##name(struct mat_state_update *u, const char *val) \
    { \
        update_str(u, #name, val); \
    }
#define MAT_PI_(name) \
    void mat_state_set_##name(struct mat_state_update *u, int64_t val) \
    { \
        update_i64(u, #name, val); \
    }
#define MAT_PR_(name)
MAT_PROGRESS_FIELDS(MAT_PS_, MAT_PI_, MAT_PR_)
#undef MAT_PS_
#undef MAT_PI_
#undef MAT_PR_

/* Drops the fields set so far. */
static void update_reset(struct mat_state_update *u)
{
    fbuf_reset(&u->data);
    u->n = 0;
    u->oom = false;
}

/* The key of the view's hash "progress" or "files" into k (reset first). */
static int hash_key(struct fbuf *k, const char *key_prefix, const struct cfg_view *v,
                    const char *which, char *err, size_t errlen)
{
    fbuf_reset(k);
    if (online_key_meta(k, key_prefix, v, which) != FEATD_OK) {
        fbuf_free(k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

int mat_state_send(struct mat_state_update *u, redisContext *c, const char *key_prefix,
                   const struct cfg_view *v, char *err, size_t errlen)
{
    int rc = FEATD_OK;
    struct fbuf k = { 0 };
    if (c == NULL) {
        rblock_seterr(NULL, "HSET progress", err, errlen);
        rc = FEATD_ERR;
    } else if (u->oom) {
        util_seterr(err, errlen, "out of memory");
        rc = FEATD_ERR;
    } else if (u->n > 0 && hash_key(&k, key_prefix, v, "progress", err, errlen) != FEATD_OK) {
        rc = FEATD_ERR;
    } else if (u->n > 0) {
        size_t argc = u->n + 2;
        const char **argv = malloc(argc * sizeof(*argv));
        size_t *lens = malloc(argc * sizeof(*lens));
        if (argv == NULL || lens == NULL) {
            util_seterr(err, errlen, "out of memory");
            rc = FEATD_ERR;
        } else {
            argv[0] = "HSET";
            lens[0] = 4;
            argv[1] = k.data;
            lens[1] = k.len;
            for (size_t i = 0; i < u->n; i++) {
                argv[2 + i] = u->data.data + u->offs[i];
                lens[2 + i] = u->lens[i];
            }
            redisReply *r = rblock_command_argv(c, err, errlen, "HSET progress", (int)argc, argv,
                                                lens);
            if (r == NULL) {
                rc = FEATD_ERR;
            }
            freeReplyObject(r);
        }
        free(argv);
        free(lens);
    }
    fbuf_free(&k);
    update_reset(u);
    return rc;
}

int mat_state_count_run(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        enum mat_runs which, int64_t n)
{
    static const char *const field[MAT_RUNS__N] = { "runs_ok", "runs_failed", "runs_rejected" };
    struct fbuf k = { 0 };
    char err[8];
    int rc = FEATD_ERR;
    if (c != NULL && c->err == 0 &&
        hash_key(&k, key_prefix, v, "progress", err, sizeof(err)) == FEATD_OK) {
        redisReply *r = rblock_command(c, err, sizeof(err), "HINCRBY progress", "HINCRBY %b %s %lld",
                                       k.data, k.len, field[which], (long long)n);
        rc = r != NULL && r->type == REDIS_REPLY_INTEGER ? FEATD_OK : FEATD_ERR;
        freeReplyObject(r);
    }
    fbuf_free(&k);
    return rc;
}

/* ---- files hash ---- */

/* ---- profiles hash (quality gate) ---- */

int mat_state_profile_put(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, const char *json, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (hash_key(&k, key_prefix, v, "profiles", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "HSET profiles", "HSET %b %llu %s", k.data,
                                   k.len, (unsigned long long)gen, json);
    fbuf_free(&k);
    freeReplyObject(r);
    return r != NULL ? FEATD_OK : FEATD_ERR;
}

int mat_state_profile_get(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          uint64_t gen, char **json, char *err, size_t errlen)
{
    *json = NULL;
    struct fbuf k = { 0 };
    if (hash_key(&k, key_prefix, v, "profiles", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "HGET profiles", "HGET %b %llu", k.data, k.len,
                                   (unsigned long long)gen);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    if (r->type == REDIS_REPLY_STRING) {
        *json = util_xstrdup(r->str);
    }
    freeReplyObject(r);
    return FEATD_OK;
}

void mat_state_profile_forget(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                              uint64_t gen)
{
    struct fbuf k = { 0 };
    char err[8];
    if (hash_key(&k, key_prefix, v, "profiles", err, sizeof err) == FEATD_OK) {
        freeReplyObject(rblock_command(c, err, sizeof err, "HDEL profiles", "HDEL %b %llu", k.data,
                                       k.len, (unsigned long long)gen));
    }
    fbuf_free(&k);
}

int mat_state_files_load(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         struct mat_files *f, char *err, size_t errlen)
{
    f->r = NULL;
    struct fbuf k = { 0 };
    if (hash_key(&k, key_prefix, v, "files", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "HGETALL files", "HGETALL %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        rblock_seterr_reply(c, "HGETALL files", r, err, errlen);
        freeReplyObject(r);
        return FEATD_ERR;
    }
    f->r = r;
    return FEATD_OK;
}

void mat_state_files_free(struct mat_files *f)
{
    freeReplyObject(f->r);
    f->r = NULL;
}

size_t mat_state_files_count(const struct mat_files *f)
{
    return f->r ? f->r->elements / 2 : 0;
}

const char *mat_state_files_name(const struct mat_files *f, size_t i, size_t *len)
{
    const redisReply *e = f->r->element[2 * i];
    if (e->type != REDIS_REPLY_STRING) {
        *len = 0;
        return NULL;
    }
    *len = e->len;
    return e->str;
}

/* The marker of file name, or NULL. */
static const redisReply *marker_of(const struct mat_files *f, const char *name)
{
    if (f->r == NULL) {
        return NULL;
    }
    size_t n = strlen(name);
    for (size_t i = 0; i + 1 < f->r->elements; i += 2) {
        const redisReply *e = f->r->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len == n && memcmp(e->str, name, n) == 0) {
            return f->r->element[i + 1];
        }
    }
    return NULL;
}

static bool marker_is(const redisReply *m, const char *prefix, const char *hex)
{
    if (m == NULL || m->type != REDIS_REPLY_STRING) {
        return false;
    }
    size_t pl = strlen(prefix), hl = strlen(hex);
    return m->len >= pl + hl && memcmp(m->str, prefix, pl) == 0 &&
           memcmp(m->str + pl, hex, hl) == 0;
}

enum mat_file_status mat_state_file_status(const struct mat_files *f, const char *name,
                                           const char *sig_hex)
{
    const redisReply *m = marker_of(f, name);
    if (marker_is(m, "", sig_hex)) {
        return MAT_FILE_DONE;
    }
    if (marker_is(m, "rejected ", sig_hex)) {
        return MAT_FILE_REJECTED;
    }
    return MAT_FILE_NEW;
}

static int file_mark(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                     const char *name, const char *val, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (hash_key(&k, key_prefix, v, "files", err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "HSET files", "HSET %b %s %s", k.data, k.len,
                                   name, val);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    freeReplyObject(r);
    return FEATD_OK;
}

int mat_state_file_done(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                        const char *name, const char *sig_hex, uint64_t rows,
                        int64_t finished_at_us, char *err, size_t errlen)
{
    char val[96];
    snprintf(val, sizeof(val), "%s %" PRIu64 " %" PRId64, sig_hex, rows, finished_at_us);
    return file_mark(c, key_prefix, v, name, val, err, errlen);
}

int mat_state_file_rejected(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            const char *name, const char *sig_hex, const char *reason,
                            char *err, size_t errlen)
{
    char val[1200];
    snprintf(val, sizeof(val), "rejected %s %s", sig_hex, reason);
    return file_mark(c, key_prefix, v, name, val, err, errlen);
}

void mat_state_file_forget(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                           const char *name, size_t len)
{
    struct fbuf k = { 0 };
    char err[8];
    if (c != NULL && hash_key(&k, key_prefix, v, "files", err, sizeof(err)) == FEATD_OK) {
        freeReplyObject(rblock_command(c, err, sizeof(err), "HDEL files", "HDEL %b %b", k.data,
                                       k.len, name, len));
    }
    fbuf_free(&k);
}

/* ---- lease ---- */

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static char self_id[160];

/* Field 22 (starttime, clock ticks since boot) of /proc/<pid>/stat, or -1. */
static long long proc_start_time(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')');    /* comm may hold spaces and parens */
    if (p == NULL) {
        return -1;
    }
    p++;
    /* after ')': field 3 (state) ... field 22 */
    for (int field = 3; field < 22; field++) {
        while (*p == ' ') {
            p++;
        }
        while (*p && *p != ' ') {
            p++;
        }
        if (*p == '\0') {
            return -1;
        }
    }
    while (*p == ' ') {
        p++;
    }
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno != 0 || end == p) {
        return -1;
    }
    return v;
}

static void self_init(void)
{
    char host[160];
    if (gethostname(host, sizeof(host) - 64) != 0) {
        snprintf(host, sizeof(host), "unknown");
    }
    host[sizeof(host) - 65] = '\0';
    /* "Host" = host name + pid namespace: containers sharing a host name
     * (host networking) have separate pid spaces, and a pid there says
     * nothing about a process here, so their leases are never judged dead
     * by pid, only by expiry. */
    char ns[64] = "";
    ssize_t nl = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    if (nl > 0) {
        ns[nl] = '\0';
        size_t hl = strlen(host);
        snprintf(host + hl, sizeof(host) - hl, "@%s", ns);
    }
    for (char *p = host; *p; p++) {
        if (*p == ':' || *p == ' ') {
            *p = '_';
        }
    }
    long pid = (long)getpid();
    uint64_t nonce = (uint64_t)util_now_us() ^ ((uint64_t)pid << 32) ^ (uint64_t)util_mono_us();
    nonce = util_fnv1a(UTIL_FNV_INIT, &nonce, sizeof(nonce));
    snprintf(self_id, sizeof(self_id), "%s:%ld:%lld:%08x", host, pid, proc_start_time(pid),
             (unsigned)(nonce & 0xffffffffu));
}

const char *mat_state_lease_self(void)
{
    pthread_once(&self_once, self_init);
    return self_id;
}

/* True when holder names a process of this host that is gone. */
static bool lease_holder_dead(const char *holder)
{
    const char *self = mat_state_lease_self();
    const char *c1 = strchr(holder, ':');
    const char *s1 = strchr(self, ':');
    if (c1 == NULL || s1 == NULL || c1 - holder != s1 - self ||
        memcmp(holder, self, (size_t)(c1 - holder)) != 0) {
        return false;       /* another host (or a foreign id): never ours to judge */
    }
    char *end;
    errno = 0;
    long pid = strtol(c1 + 1, &end, 10);
    if (errno != 0 || end == c1 + 1 || *end != ':' || pid <= 0) {
        return false;
    }
    long long start = strtoll(end + 1, &end, 10);
    if (*end != ':') {
        return false;
    }
    if (pid == (long)getpid()) {
        /* our pid: the same process (another thread's run) unless the
         * start time differs, i.e. a previous process with our pid */
        return start != proc_start_time(pid);
    }
    long long now_start = proc_start_time(pid);
    return now_start < 0 || now_start != start;
}

static int lease_key(struct fbuf *k, const char *key_prefix, const struct cfg_view *v,
                     char *err, size_t errlen)
{
    if (online_key_lease(k, key_prefix, v) != FEATD_OK) {
        fbuf_free(k);
        util_seterr(err, errlen, "out of memory");
        return FEATD_ERR;
    }
    return FEATD_OK;
}

static const char lua_renew[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
static const char lua_release[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";
static const char lua_steal[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end";

int mat_state_lease_peek(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                         char *holder, size_t holderlen, int64_t *pttl_ms, char *err,
                         size_t errlen)
{
    struct fbuf k = { 0 };
    if (lease_key(&k, key_prefix, v, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    if (holder && holderlen) {
        holder[0] = '\0';
    }
    *pttl_ms = 0;
    redisReply *r = rblock_command(c, err, errlen, "GET lease", "GET %b", k.data, k.len);
    if (r == NULL) {
        fbuf_free(&k);
        return FEATD_ERR;
    }
    if (r->type == REDIS_REPLY_STRING && holder && holderlen) {
        size_t n = r->len < holderlen - 1 ? r->len : holderlen - 1;
        memcpy(holder, r->str, n);
        holder[n] = '\0';
    }
    freeReplyObject(r);
    r = rblock_command(c, err, errlen, "PTTL lease", "PTTL %b", k.data, k.len);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *pttl_ms = r->integer > 0 ? r->integer : 0;
    }
    freeReplyObject(r);
    return FEATD_OK;
}

int mat_state_lease_acquire(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                            int64_t px, char *holder, size_t holderlen, char *err, size_t errlen)
{
    const char *self = mat_state_lease_self();
    struct fbuf k = { 0 };
    if (lease_key(&k, key_prefix, v, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    int rc = FEATD_ERR;
    redisReply *r = rblock_command(c, err, errlen, "SET lease", "SET %b %s NX PX %lld", k.data,
                                   k.len, self, (long long)px);
    if (r == NULL) {
        goto out;
    }
    if (r->type == REDIS_REPLY_STATUS) {
        rc = FEATD_OK;
        goto out;
    }
    freeReplyObject(r);
    /* held: by us (a renewal is as good), by a dead local process, or by
     * someone alive */
    r = rblock_command(c, err, errlen, "GET lease", "GET %b", k.data, k.len);
    if (r == NULL) {
        goto out;
    }
    if (r->type != REDIS_REPLY_STRING) {
        rc = FEATD_EAGAIN;      /* expired between the two commands: next time */
        if (holder && holderlen) {
            util_strlcpy(holder, "(expiring)", holderlen);
        }
        goto out;
    }
    char cur[200];
    size_t n = r->len < sizeof(cur) - 1 ? r->len : sizeof(cur) - 1;
    memcpy(cur, r->str, n);
    cur[n] = '\0';
    if (holder && holderlen) {
        util_strlcpy(holder, cur, holderlen);
    }
    freeReplyObject(r);
    r = NULL;
    if (strcmp(cur, self) == 0) {
        rc = mat_state_lease_renew(c, key_prefix, v, px, err, errlen);
        goto out;
    }
    if (!lease_holder_dead(cur)) {
        rc = FEATD_EAGAIN;
        goto out;
    }
    r = rblock_command(c, err, errlen, "EVAL lease", "EVAL %s 1 %b %s %s %lld", lua_steal, k.data,
                       k.len, cur, self, (long long)px);
    if (r == NULL) {
        goto out;
    }
    rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? FEATD_OK : FEATD_EAGAIN;
out:
    freeReplyObject(r);
    fbuf_free(&k);
    return rc;
}

int mat_state_lease_renew(redisContext *c, const char *key_prefix, const struct cfg_view *v,
                          int64_t px, char *err, size_t errlen)
{
    struct fbuf k = { 0 };
    if (lease_key(&k, key_prefix, v, err, errlen) != FEATD_OK) {
        return FEATD_ERR;
    }
    redisReply *r = rblock_command(c, err, errlen, "lease renewal", "EVAL %s 1 %b %s %lld",
                                   lua_renew, k.data, k.len, mat_state_lease_self(),
                                   (long long)px);
    fbuf_free(&k);
    if (r == NULL) {
        return FEATD_ERR;
    }
    int rc;
    if (r->type == REDIS_REPLY_INTEGER) {
        rc = r->integer == 1 ? FEATD_OK : FEATD_EAGAIN;
        if (rc == FEATD_EAGAIN) {
            util_seterr(err, errlen, "the materialization lease was lost (expired or taken over)");
        }
    } else {
        rblock_seterr_reply(c, "lease renewal", r, err, errlen);
        rc = FEATD_ERR;
    }
    freeReplyObject(r);
    return rc;
}

void mat_state_lease_release(redisContext *c, const char *key_prefix, const struct cfg_view *v)
{
    if (c == NULL || c->err) {
        return;
    }
    struct fbuf k = { 0 };
    if (online_key_lease(&k, key_prefix, v) != FEATD_OK) {
        fbuf_free(&k);
        return;
    }
    char err[8];    /* errors ignored: the lease expires anyway */
    freeReplyObject(rblock_command(c, err, sizeof(err), "EVAL lease release", "EVAL %s 1 %b %s",
                                   lua_release, k.data, k.len, mat_state_lease_self()));
    fbuf_free(&k);
}
