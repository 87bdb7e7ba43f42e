/*
 * cli_admin.c — the small featd-cli commands that inspect a running server:
 * `views` (ListFeatureViews), `ping` (round-trip time), `info` (ServerInfo).
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char views_help[] =
    "usage: featd-cli [GLOBAL OPTIONS] views [--json]\n"
    "\n"
    "List the feature views of the server's registry: join keys, features and\n"
    "their types, ttl, materialization mode, current online generation (0 = no\n"
    "data yet) and schema fingerprint.\n"
    "\n"
    "  --json   print {\"feature_views\": [...]} instead of text\n";

static const char ping_help[] =
    "usage: featd-cli [GLOBAL OPTIONS] ping [--count N] [--interval MS]\n"
    "\n"
    "Send Ping requests and print each round-trip time and the server's clock.\n"
    "Exit status 1 when any ping fails.\n"
    "\n"
    "  -n, --count N       number of pings (default 1)\n"
    "  -i, --interval MS   pause between pings (default 1000)\n";

static const char info_help[] =
    "usage: featd-cli [GLOBAL OPTIONS] info [--json]\n"
    "\n"
    "Print the server's version, uptime, workers, connections, request count,\n"
    "Redis endpoint and state, config path and limits.\n"
    "\n"
    "  --json   print a JSON object instead of text\n";

/* Parses the only option of views/info (--json). */
static int parse_json_flag(const char *cmd, const char *help, int argc, char **argv,
                           bool *json, bool *done)
{
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(help, stdout);
            *done = true;
            return CLI_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else {
            return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[i]);
        }
    }
    return CLI_OK;
}

static int print_json_doc(json_t *doc)
{
    if (doc == NULL) {
        return cli_fail(NULL, "out of memory");
    }
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? CLI_OK
                                                                               : CLI_FAIL;
    fputc('\n', stdout);
    json_decref(doc);
    return rc;
}

static json_t *view_json(const Featd__V1__FeatureViewInfo *v)
{
    json_t *ents = json_array();
    json_t *keys = json_array();
    json_t *feats = json_array();
    for (size_t i = 0; i < v->n_entities; i++) {
        json_array_append_new(ents, json_string(v->entities[i]));
    }
    for (size_t i = 0; i < v->n_join_keys; i++) {
        json_array_append_new(keys, json_pack("{s:s, s:s}", "name", v->join_keys[i]->name,
                                              "type", v->join_keys[i]->type));
    }
    for (size_t i = 0; i < v->n_features; i++) {
        json_array_append_new(feats, json_pack("{s:s, s:s}", "name", v->features[i]->name,
                                               "type", v->features[i]->type));
    }
    return json_pack("{s:s, s:o, s:o, s:o, s:I, s:s, s:I, s:s}", "name", v->name,
                     "entities", ents, "join_keys", keys, "features", feats,
                     "ttl_seconds", (json_int_t)v->ttl_seconds,
                     "materialization_mode", v->materialization_mode,
                     "generation", (json_int_t)v->generation, "fingerprint", v->fingerprint);
}

/*
 * The front half of `views` and `info`: parses [--json], connects and makes
 * the one call. Returns the connection with *resp set (the caller frees
 * both), or NULL with the exit code in *rc (help printed, usage error, or
 * the failure reported on stderr).
 */
static struct featd_client *call_once(const struct cli_opts *o, const char *cmd, const char *help, int argc,
                                      char **argv, int (*call)(struct featd_client *, Featd__V1__Response **),
                                      bool *json, Featd__V1__Response **resp, int *rc)
{
    bool done = false;
    *rc = parse_json_flag(cmd, help, argc, argv, json, &done);
    if (*rc != CLI_OK || done) {
        return NULL;
    }
    struct featd_client *c = cli_connect(o);
    if (c == NULL) {
        *rc = CLI_FAIL;
        return NULL;
    }
    if (call(c, resp) != FEATD_OK) {
        *rc = cli_fail(cmd, "%s", featd_errmsg(c));
        featd_close(c);
        return NULL;
    }
    return c;
}

int cli_admin_views(const struct cli_opts *o, int argc, char **argv)
{
    bool json = false;
    int rc;
    Featd__V1__Response *resp;
    struct featd_client *c = call_once(o, "views", views_help, argc, argv, featd_list_views, &json, &resp, &rc);
    if (c == NULL) {
        return rc;
    }
    const Featd__V1__ListFeatureViewsResponse *lv = resp->list_feature_views;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < lv->n_views; i++) {
            json_array_append_new(arr, view_json(lv->views[i]));
        }
        rc = print_json_doc(json_pack("{s:o}", "feature_views", arr));
    } else {
        if (lv->n_views == 0) {
            printf("(no feature views)\n");
        }
        for (size_t i = 0; i < lv->n_views; i++) {
            const Featd__V1__FeatureViewInfo *v = lv->views[i];
            printf("%s%s\n", i ? "\n" : "", v->name);
            printf("  join keys:    ");
            for (size_t k = 0; k < v->n_join_keys; k++) {
                printf("%s%s (%s)", k ? ", " : "", v->join_keys[k]->name, v->join_keys[k]->type);
            }
            printf("\n  entities:     ");
            for (size_t k = 0; k < v->n_entities; k++) {
                printf("%s%s", k ? ", " : "", v->entities[k]);
            }
            if (v->ttl_seconds > 0) {
                printf("\n  ttl:          %lld s\n", (long long)v->ttl_seconds);
            } else {
                printf("\n  ttl:          none\n");
            }
            printf("  mode:         %s\n", v->materialization_mode);
            printf("  generation:   %llu%s\n", (unsigned long long)v->generation,
                   v->generation == 0 ? " (no data yet)" : "");
            printf("  fingerprint:  %s\n", v->fingerprint);
            printf("  features:\n");
            size_t w = 0;
            for (size_t k = 0; k < v->n_features; k++) {
                size_t l = cli_text_width(v->features[k]->name);
                w = l > w ? l : w;
            }
            for (size_t k = 0; k < v->n_features; k++) {
                printf("    %s%*s  %s\n", v->features[k]->name,
                       (int)(w - cli_text_width(v->features[k]->name)), "",
                       v->features[k]->type);
            }
        }
    }
    featd_response_free(resp);
    featd_close(c);
    return rc;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int cli_admin_ping(const struct cli_opts *o, int argc, char **argv)
{
    int64_t count = 1, interval = 1000;
    int i = 1;
    while (i < argc) {
        const char *val;
        int r;
        if (cli_is_help(argv[i])) {
            fputs(ping_help, stdout);
            return CLI_OK;
        }
        if ((r = cli_opt_value("ping", argc, argv, &i, "--count", "-n", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 1, 1000000, &count)) {
                return cli_usage_error("ping", "--count \"%s\": expected 1..1000000", val);
            }
        } else if ((r = cli_opt_value("ping", argc, argv, &i, "--interval", "-i", &val)) != 0) {
            if (r < 0) {
                return CLI_USAGE;
            }
            if (!cli_parse_int(val, 0, 3600000, &interval)) {
                return cli_usage_error("ping", "--interval \"%s\": expected milliseconds",
                                       val);
            }
        } else {
            return cli_usage_error("ping", "unexpected argument \"%s\"", argv[i]);
        }
    }
    struct featd_client *c = cli_connect(o);
    if (c == NULL) {
        return CLI_FAIL;
    }
    int failed = 0;
    for (int64_t n = 1; n <= count; n++) {
        if (n > 1 && interval > 0) {
            struct timespec ts = { interval / 1000, (long)(interval % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        int64_t t0 = mono_us();
        int64_t server_us = 0;
        if (featd_ping(c, &server_us) != FEATD_OK) {
            fprintf(stderr, "featd-cli ping: seq=%lld: %s\n", (long long)n, featd_errmsg(c));
            failed++;
            if (featd_broken(c)) {
                break;
            }
            continue;
        }
        int64_t rtt = mono_us() - t0;
        char ts[64];
        featd_time_format(server_us, ts, sizeof ts);
        printf("pong from %s: seq=%lld time=%.3f ms server_time=%s\n", featd_peer(c),
               (long long)n, (double)rtt / 1000.0, ts);
        fflush(stdout);
    }
    featd_close(c);
    return failed ? CLI_FAIL : CLI_OK;
}

int cli_admin_info(const struct cli_opts *o, int argc, char **argv)
{
    bool json = false;
    int rc;
    Featd__V1__Response *resp;
    struct featd_client *c = call_once(o, "info", info_help, argc, argv, featd_server_info, &json, &resp, &rc);
    if (c == NULL) {
        return rc;
    }
    const Featd__V1__ServerInfoResponse *si = resp->server_info;
    if (json) {
        json_t *masters = json_array();
        for (size_t i = 0; masters && i < si->n_redis_masters; i++) {
            json_array_append_new(masters, json_string(si->redis_masters[i]));
        }
        rc = print_json_doc(json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:s, s:I, s:I, s:I, s:s, s:I, s:o}",
            "server", featd_peer(c), "version", si->version,
            "uptime_seconds", (json_int_t)si->uptime_seconds, "workers", (json_int_t)si->workers,
            "connections", (json_int_t)si->connections,
            "requests_total", (json_int_t)si->requests_total, "redis", si->redis,
            "redis_connected", (int)si->redis_connected, "config_path", si->config_path,
            "feature_views", (json_int_t)si->feature_views,
            "max_frame_bytes", (json_int_t)si->max_frame_bytes,
            "max_entities_per_request", (json_int_t)si->max_entities_per_request,
            "redis_mode", si->redis_mode, "redis_nodes", (json_int_t)si->redis_nodes,
            "redis_masters", masters ? masters : json_array()));
    } else {
        printf("server:                    %s\n", featd_peer(c));
        printf("version:                   %s\n", si->version);
        printf("uptime:                    %lld s\n", (long long)si->uptime_seconds);
        printf("workers:                   %u\n", si->workers);
        printf("connections:               %llu\n", (unsigned long long)si->connections);
        printf("requests_total:            %llu\n", (unsigned long long)si->requests_total);
        printf("redis:                     %s (%s)\n", si->redis,
               si->redis_connected ? "connected" : "NOT connected");
        printf("redis_mode:                %s\n", si->redis_mode[0] ? si->redis_mode : "-");
        printf("redis_nodes:               %u\n", si->redis_nodes);
        printf("redis_masters:             ");
        for (size_t i = 0; i < si->n_redis_masters; i++) {
            printf("%s%s", i ? ", " : "", si->redis_masters[i]);
        }
        printf("%s\n", si->n_redis_masters ? "" : "-");
        printf("config:                    %s\n", si->config_path[0] ? si->config_path : "-");
        printf("feature_views:             %u\n", si->feature_views);
        printf("max_frame_bytes:           %u\n", si->max_frame_bytes);
        printf("max_entities_per_request:  %u\n", si->max_entities_per_request);
    }
    featd_response_free(resp);
    featd_close(c);
    return rc;
}
