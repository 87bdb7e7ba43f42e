/*
 * cli.c — featd-cli: global options, subcommand dispatch and the helpers
 * shared by the subcommands (cli.h). Each subcommand lives in its own
 * cli_<name>.c; `parquet` is cli_parquet.c's cli_parquet_main.
 *
 *   featd-cli [--host H] [--port P] [--timeout MS] [--config FILE] [--token T | --token-file F] COMMAND [ARGS]
 *   featd-cli --version | --help
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_materialize.h"
#include "cli/cli_parquet.h"
#include "config/config.h"

static const char usage_text[] =
    "usage: featd-cli [--host H] [--port P] [--timeout MS] [--config FILE]\n"
    "                 [--token TOKEN | --token-file FILE] [--tls] [--tls-ca FILE]\n"
    "                 [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  get       look up feature values of entities\n"
    "  views     list the feature views of the server's registry\n"
    "  ping      check that the server answers; print the round-trip time\n"
    "  info      print server information (version, uptime, redis, limits)\n"
    "  load      write rows from JSON lines into a view (straight into Redis)\n"
    "  push      write rows from JSON lines into a view through featd (WriteFeatures)\n"
    "  parquet   inspect Parquet files\n"
    "  materialize status   the materializer's state per view (from Redis)\n"
    "  profile   write a quality baseline from Parquet files (a view's schema)\n"
    "  quality   a view's quality: profiles, PSI, violations (from Redis)\n"
    "  help [COMMAND]   this text, or a command's help\n"
    "\n"
    "Global options:\n"
    "  --host H        server host name or address (default 127.0.0.1)\n"
    "  --port P        server port (default 6566)\n"
    "  --timeout MS    timeout of connect and of each request, 0 = none (default 1000)\n"
    "  --config FILE   take host and port from the config's server.listen\n"
    "                  (--host/--port win when also given)\n"
    "  --token TOKEN   authenticate with TOKEN (a server with \"auth\" configured);\n"
    "                  default $FEATD_TOKEN\n"
    "  --token-file FILE   read the token from FILE (surrounding whitespace dropped)\n"
    "  --tls           speak TLS to a featd with a \"tls\" section, verifying its\n"
    "                  certificate against the system's CAs (any --tls-* implies it)\n"
    "  --tls-ca FILE   verify the server certificate against this PEM CA bundle\n"
    "  --tls-cert FILE, --tls-key FILE   client certificate and key (mTLS)\n"
    "  --tls-server-name NAME   the name to verify (and send as SNI); default --host\n"
    "\n"
    "  --version, -V   print featd-cli's version and exit\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n"
    "Run 'featd-cli COMMAND --help' for a command's options.\n";

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0;
}

/* "featd-cli CMD: MESSAGE" on stderr, without the newline. */
static void cli_vwarn(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void cli_vwarn(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "featd-cli%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vwarn(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'featd-cli %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return CLI_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vwarn(cmd, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_opt_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                  const char *alias, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        (*i)++;
        return 1;
    }
    if (strcmp(a, name) == 0 || (alias != NULL && strcmp(a, alias) == 0)) {
        if (*i + 1 >= argc) {
            cli_usage_error(cmd, "option %s needs a value", a);
            return -1;
        }
        *val = argv[*i + 1];
        *i += 2;
        return 1;
    }
    return 0;
}

bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

size_t cli_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80) {
            w++;
        }
    }
    return w;
}

struct featd_client *cli_connect(const struct cli_opts *o)
{
    char err[512];
    struct featd_client *c = o->tls ? featd_connect_tls(o->host, o->port, o->timeout_ms, &o->tlso,
                                                        err, sizeof err)
                                    : featd_connect(o->host, o->port, o->timeout_ms, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "featd-cli: %s (is featd running there? see --host/--port/--config)\n",
                err);
        return NULL;
    }
    if (o->token != NULL && featd_auth(c, o->token) == NULL) {
        fprintf(stderr, "featd-cli: authentication failed: %s (see --token/--token-file/"
                "FEATD_TOKEN)\n", featd_errmsg(c));
        featd_close(c);
        return NULL;
    }
    return c;
}

/* The token in path (surrounding whitespace removed) into buf[0..cap);
 * false after printing why. */
static bool cli_read_token(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "featd-cli: --token-file %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        fprintf(stderr, "featd-cli: --token-file %s: longer than %zu bytes\n", path, cap - 2);
        return false;
    }
    buf[n] = '\0';
    size_t lo = 0;
    while (lo < n && isspace((unsigned char)buf[lo])) {
        lo++;
    }
    while (n > lo && isspace((unsigned char)buf[n - 1])) {
        buf[--n] = '\0';
    }
    memmove(buf, buf + lo, n - lo + 1);
    if (buf[0] == '\0') {
        fprintf(stderr, "featd-cli: --token-file %s is empty\n", path);
        return false;
    }
    return true;
}

/* --config FILE: host and port from server.listen (wildcards become
 * loopback). Returns CLI_OK or an exit code. */
static int apply_config(struct cli_opts *o, bool host_set, bool port_set, char **hostbuf)
{
    struct featd_config *cfg = NULL;
    char err[4096];
    if (config_load_file(o->config, true, &cfg, err, sizeof err) != FEATD_OK) {
        fprintf(stderr, "featd-cli: config %s is invalid:\n%s\n", o->config, err);
        return CLI_FAIL;
    }
    char *host = NULL;
    int port = 0;
    if (config_addr_parse_hostport(cfg->server.listen, &host, &port) != FEATD_OK) {
        fprintf(stderr, "featd-cli: config %s: server.listen \"%s\" is not host:port\n",
                o->config, cfg->server.listen ? cfg->server.listen : "");
        free(host);
        config_free(cfg);
        return CLI_FAIL;
    }
    config_free(cfg);
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0' || strcmp(host, "*") == 0) {
        free(host);
        host = strdup("127.0.0.1");
    } else if (strcmp(host, "::") == 0) {
        free(host);
        host = strdup("::1");
    }
    if (host == NULL) {
        fprintf(stderr, "featd-cli: out of memory\n");
        return CLI_FAIL;
    }
    if (!host_set) {
        o->host = host;
        *hostbuf = host;
    } else {
        free(host);
    }
    if (!port_set) {
        o->port = port;
    }
    return CLI_OK;
}

struct command {
    const char *name;
    int (*run)(const struct cli_opts *o, int argc, char **argv);
};

static int run_parquet(const struct cli_opts *o, int argc, char **argv)
{
    (void)o;
    return cli_parquet_main(argc, argv);
}

static int run_materialize(const struct cli_opts *o, int argc, char **argv)
{
    return cli_materialize_main_cfg(argc, argv, o->config);
}

static const struct command commands[] = {
    { "get", cli_get_main },
    { "views", cli_admin_views },
    { "ping", cli_admin_ping },
    { "info", cli_admin_info },
    { "load", cli_load_main },
    { "push", cli_push_main },
    { "parquet", run_parquet },
    { "materialize", run_materialize },
    { "profile", cli_profile_main },
    { "quality", cli_quality_main },
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct cli_opts o = {
        .host = "127.0.0.1", .port = FEATD_DEFAULT_PORT, .timeout_ms = FEATD_DEFAULT_TIMEOUT_MS,
    };
    bool host_set = false, port_set = false;
    static char token_buf[4098];
    const char *env_token = getenv("FEATD_TOKEN");
    if (env_token != NULL && env_token[0] != '\0') {
        o.token = env_token;
    }
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        const char *val, *opt = argv[i];     /* the option, before a matcher moves i */
        int r;
        if (cli_is_help(argv[i])) {
            fputs(usage_text, stdout);
            return CLI_OK;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("featd-cli %s\n", FEATD_VERSION);
            return CLI_OK;
        }
        if ((r = cli_opt_value(NULL, argc, argv, &i, "--host", "-H", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (val[0] == '\0') {
                return cli_usage_error(NULL, "--host needs a host name or address");
            }
            o.host = val;
            host_set = true;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--port", "-p", &val)) != 0) {
            int64_t v;
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 1, 65535, &v)) {
                return cli_usage_error(NULL, "--port \"%s\": expected a port number 1..65535",
                                       val);
            }
            o.port = (int)v;
            port_set = true;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--timeout", "-t", &val)) != 0) {
            int64_t v;
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 0, 3600000, &v)) {
                return cli_usage_error(NULL, "--timeout \"%s\": expected milliseconds "
                                       "0..3600000 (0 = none)", val);
            }
            o.timeout_ms = (int)v;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--config", "-c", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            o.config = val;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--token", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (val[0] == '\0') {
                return cli_usage_error(NULL, "--token needs a token");
            }
            o.token = val;
        } else if (strcmp(argv[i], "--tls") == 0) {
            o.tls = true;
            i++;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--tls-ca", NULL, &val)) != 0 ||
                   (r = cli_opt_value(NULL, argc, argv, &i, "--tls-cert", NULL, &val)) != 0 ||
                   (r = cli_opt_value(NULL, argc, argv, &i, "--tls-key", NULL, &val)) != 0 ||
                   (r = cli_opt_value(NULL, argc, argv, &i, "--tls-server-name", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (val[0] == '\0') {
                return cli_usage_error(NULL, "%.*s needs a value", (int)strcspn(opt, "="), opt);
            }
            if (strncmp(opt, "--tls-ca", 8) == 0) {
                o.tlso.ca_file = val;
            } else if (strncmp(opt, "--tls-cert", 10) == 0) {
                o.tlso.cert_file = val;
            } else if (strncmp(opt, "--tls-key", 9) == 0) {
                o.tlso.key_file = val;
            } else {
                o.tlso.server_name = val;
            }
            o.tls = true;
        } else if ((r = cli_opt_value(NULL, argc, argv, &i, "--token-file", NULL, &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_read_token(val, token_buf, sizeof token_buf)) {
                return CLI_FAIL;
            }
            o.token = token_buf;
        } else {
            return cli_usage_error(NULL, "unknown option %s (global options come before the "
                                   "command)", argv[i]);
        }
    }
    if (i >= argc) {
        fputs(usage_text, stderr);
        return CLI_USAGE;
    }
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        if (i + 1 < argc) {
            const struct command *cmd = find_command(argv[i + 1]);
            if (cmd == NULL) {
                return cli_usage_error(NULL, "unknown command \"%s\"", argv[i + 1]);
            }
            char *hargv[] = { argv[i + 1], "--help", NULL };
            return cmd->run(&o, 2, hargv);
        }
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    const struct command *cmd = find_command(name);
    if (cmd == NULL) {
        return cli_usage_error(NULL, "unknown command \"%s\" (commands: get, views, ping, "
                               "info, load, push, parquet, materialize, profile, quality, help)", name);
    }
    /* The global --config supplies host/port to the network commands; load
     * and parquet read it themselves. */
    char *hostbuf = NULL;
    if (o.config != NULL && cmd->run != cli_load_main && cmd->run != run_parquet &&
        cmd->run != run_materialize) {
        bool wants_help = false;
        for (int k = i + 1; k < argc; k++) {
            wants_help = wants_help || strcmp(argv[k], "--help") == 0
                         || strcmp(argv[k], "-h") == 0;
        }
        if (!wants_help) {
            int rc = apply_config(&o, host_set, port_set, &hostbuf);
            if (rc != CLI_OK) {
                return rc;
            }
        }
    }
    int rc = cmd->run(&o, argc - i, argv + i);
    free(hostbuf);
    return rc;
}
