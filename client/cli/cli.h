/*
 * cli.h — shared pieces of featd-cli: global options, connecting, option
 * parsing helpers, and the subcommand entry points (one cli_*.c each).
 * Exit codes: 0 success, 1 failure (connection, server error, bad data),
 * 2 usage error.
 */
#ifndef FEATD_CLI_H
#define FEATD_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "featd_client.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* Global options (before the subcommand). */
struct cli_opts {
    const char *host;       /* default 127.0.0.1 */
    int port;               /* default 6566 */
    int timeout_ms;         /* default 1000 */
    const char *config;     /* --config FILE: host/port from server.listen */
    const char *token;      /* --token, --token-file or $FEATD_TOKEN: sent as an
                               AuthRequest after connecting; NULL = none */
    bool tls;               /* --tls or any --tls-*: connect with TLS (featd_connect_tls) */
    struct featd_tls tlso;  /* --tls-ca, --tls-cert, --tls-key, --tls-server-name */
};

/* Subcommands: argv[0] is the subcommand name. */
int cli_get_main(const struct cli_opts *o, int argc, char **argv);
int cli_admin_views(const struct cli_opts *o, int argc, char **argv);
int cli_admin_ping(const struct cli_opts *o, int argc, char **argv);
int cli_admin_info(const struct cli_opts *o, int argc, char **argv);
int cli_load_main(const struct cli_opts *o, int argc, char **argv);
int cli_push_main(const struct cli_opts *o, int argc, char **argv);
int cli_profile_main(const struct cli_opts *o, int argc, char **argv);
int cli_quality_main(const struct cli_opts *o, int argc, char **argv);

/* Connects to the server (and authenticates with o->token when given);
 * prints the reason to stderr and returns NULL on failure. */
struct featd_client *cli_connect(const struct cli_opts *o);

/* Prints "featd-cli CMD: message" and a hint to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Errors: "featd-cli CMD: message" to stderr; returns CLI_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True for -h, --help, help. */
bool cli_is_help(const char *arg);

/*
 * Option matcher for "--name VALUE" and "--name=VALUE" (alias may be NULL,
 * e.g. "-f"). On a match advances *i past the option, sets *val and returns
 * 1; returns -1 (after printing a usage error) when the value is missing;
 * 0 when argv[*i] is not this option.
 */
int cli_opt_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                  const char *alias, const char **val);
/* Whole-string integer in [min, max]; false otherwise. */
bool cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Display width of UTF-8 text (code points). */
size_t cli_text_width(const char *s);

#endif
