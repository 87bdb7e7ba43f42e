/*
 * check_config.c — unit tests of the configuration loader (server/config/): a
 * table of bad configs (each must fail, naming the JSON path and the reason),
 * good configs (defaults, renames, join-key flattening, fingerprints), redis
 * urls and addresses, environment overrides, the repo's config files, and the
 * table-driven extras (reload check and rule, docs in sync).
 * Run from the repository root.
 *
 * Test JSON is written with single quotes for readability; sq() turns them
 * into double quotes before parsing.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/fbuf.h"
#include "core/util.h"

#define ERRLEN 8192

/* Single-quoted JSON -> JSON (malloc'd). */
static char *sq(const char *s)
{
    char *d = util_xstrdup(s);
    for (char *p = d; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return d;
}

static int load_sq(const char *s, struct featd_config **cfg, char *err)
{
    char *j = sq(s);
    int rc = config_load_string(j, cfg, err, ERRLEN);
    free(j);
    return rc;
}

/* A valid config with the given server/redis prefix, entities and views. */
#define ENT_C "{'name':'customer','join_keys':[{'name':'customer_id','type':'int64'}]}"
#define ENT_M "{'name':'merchant','join_keys':[{'name':'merchant_id','type':'string'}," \
              "{'name':'country','type':'string'}]}"
#define FEAT(n, t) "{'name':'" n "','type':'" t "'}"
#define VIEW(extra) "{'name':'v','entities':['customer'],'features':[" FEAT("f", "double") "]" \
                    extra "}"
#define DOC(top, ents, views) "{" top "'entities':[" ents "],'feature_views':[" views "]}"
#define SRV(kv) DOC("'server':{" kv "},", ENT_C, VIEW(""))
#define RDS(kv) DOC("'redis':{" kv "},", ENT_C, VIEW(""))
#define MATC(kv) DOC("'materialize':{" kv "},", ENT_C, VIEW(""))
#define VIEWX(extra) DOC("", ENT_C, VIEW(extra))
#define SRC(kv) VIEWX(",'source':{'path':'d'," kv "}")

struct bad_case {
    const char *json;   /* single-quoted */
    const char *path;   /* expected JSON path (err must contain "path:") */
    const char *word;   /* expected word of the reason */
};

static const struct bad_case bad_cases[] = {
    /* document level */
    { "", "$", "invalid JSON" },
    /* materialize (write pacing) */
    { MATC("'pacing':'fast'"), "$.materialize.pacing", "adaptive, fixed, off" },
    { MATC("'pacing':1"), "$.materialize.pacing", "expected a string" },
    { MATC("'max_rows_per_sec':-1"), "$.materialize.max_rows_per_sec", "0..1000000000" },
    { MATC("'max_rows_per_sec':'100'"), "$.materialize.max_rows_per_sec", "integer" },
    { MATC("'pacing_latency_budget_us':-10"), "$.materialize.pacing_latency_budget_us",
      "0..10000000" },
    { MATC("'pacing_min_rows_per_sec':0"), "$.materialize.pacing_min_rows_per_sec",
      "1..1000000000" },
    { MATC("'unready_after_intervals':-1"), "$.materialize.unready_after_intervals",
      "0..1000000" },
    { RDS("'eviction':'sometimes'"), "$.redis.eviction", "refuse, allow" },
    { RDS("'eviction':true"), "$.redis.eviction", "expected a string" },
    { MATC("'max_row_per_sec':5"), "$.materialize.max_row_per_sec",
      "did you mean \"max_rows_per_sec\"" },
    { DOC("'materialize':[],", ENT_C, VIEW("")), "$.materialize", "object" },
    { "{'server':", "$", "line 1" },
    { "{\n'server': {,}\n}", "$", "line 2" },
    { "[]", "$", "object" },
    { "{'server':{'workers':1,'workers':2}}", "$", "duplicate" },
    { DOC("'sever':{},", ENT_C, VIEW("")), "$.sever", "did you mean \"server\"" },
    { "{'entities':[" ENT_C "]}", "$.feature_views", "missing" },
    { "{'feature_views':[" VIEW("") "]}", "$.entities", "missing" },
    { DOC("", ENT_C, ""), "$.feature_views", "empty" },
    { "{'entities':{},'feature_views':[]}", "$.entities", "array" },
    /* server */
    { SRV("'workers':0"), "$.server.workers", "1..64" },
    { SRV("'workers':65"), "$.server.workers", "out of range" },
    { SRV("'workers':'2'"), "$.server.workers", "integer" },
    { SRV("'workers':2.5"), "$.server.workers", "real" },
    { SRV("'worker':2"), "$.server.worker", "did you mean \"workers\"" },
    { SRV("'a b':2"), "$.server[\"a b\"]", "unknown key" },
    { SRV("'listen':'localhost'"), "$.server.listen", "host:port" },
    { SRV("'listen':'127.0.0.1:70000'"), "$.server.listen", "1..65535" },
    { SRV("'listen':'127.0.0.1:0'"), "$.server.listen", "1..65535" },
    { SRV("'listen':'::1:6566'"), "$.server.listen", "[::1]" },
    { SRV("'listen':'[::1]:x'"), "$.server.listen", "bad address" },
    { SRV("'listen':''"), "$.server.listen", "empty" },
    { SRV("'listen':null"), "$.server.listen", "expected a string" },
    { SRV("'admin_listen':'127.0.0.1:6566'"), "$.server.admin_listen", "same address" },
    { SRV("'admin_listen':'0.0.0.0:6566'"), "$.server.admin_listen", "same address" },
    { SRV("'admin_listen':'nope'"), "$.server.admin_listen", "disable" },
    { SRV("'max_frame_bytes':10"), "$.server.max_frame_bytes", "64..1073741824" },
    { SRV("'max_connections':-1"), "$.server.max_connections", "out of range" },
    { SRV("'admin_max_connections':0"), "$.server.admin_max_connections", "1..10000" },
    { SRV("'admin_max_connections':10001"), "$.server.admin_max_connections", "1..10000" },
    { SRV("'admin_max_connections':'64'"), "$.server.admin_max_connections", "integer" },
    { SRV("'admin_max_connections':null"), "$.server.admin_max_connections", "integer" },
    { SRV("'max_output_bytes':1"), "$.server.max_output_bytes", "out of range" },
    { SRV("'request_timeout_ms':0"), "$.server.request_timeout_ms", "1..600000" },
    { SRV("'slow_request_ms':-1"), "$.server.slow_request_ms", "out of range" },
    { SRV("'slow_request_ms':600001"), "$.server.slow_request_ms", "0..600000" },
    { SRV("'slow_request_ms':'10'"), "$.server.slow_request_ms", "integer" },
    { SRV("'slow_request_ms':1.5"), "$.server.slow_request_ms", "integer" },
    { SRV("'slow_request_ms':null"), "$.server.slow_request_ms", "integer" },
    { SRV("'slow_requests_ms':5"), "$.server.slow_requests_ms", "did you mean \"slow_request_ms\"" },
    { SRV("'max_entities_per_request':true"), "$.server.max_entities_per_request", "boolean" },
    { SRV("'log_level':'verbose'"), "$.server.log_level", "error, warn, info, debug" },
    { SRV("'log_format':'xml'"), "$.server.log_format", "text, json" },
    { SRV("'data_dir':''"), "$.server.data_dir", "empty" },
    { DOC("'server':[],", ENT_C, VIEW("")), "$.server", "object" },
    /* redis */
    { RDS("'url':'http://x:1'"), "$.redis.url", "unsupported url" },
    { RDS("'url':'redis://h:99999'"), "$.redis.url", "port" },
    { RDS("'url':'redis://h:6379/16'"), "$.redis.url", "database" },
    { RDS("'url':'redis://h:6379/x'"), "$.redis.url", "database" },
    { RDS("'url':'rediss://h:6379'"), "$.redis.url", "TLS" },
    { RDS("'url':'redis://bob@h:6379'"), "$.redis.url", "user but no password" },
    { RDS("'url':'redis://:@h:6379'"), "$.redis.url", "empty password" },
    { RDS("'url':'redis://:p%zz@h'"), "$.redis.url", "percent" },
    { RDS("'url':'redis:///0'"), "$.redis.url", "no host" },
    { RDS("'url':'unix://rel/path.sock'"), "$.redis.url", "absolute" },
    { RDS("'url':'unix:///tmp/r.sock?db=99'"), "$.redis.url", "db=N" },
    { RDS("'url':'redis://h:1?x=1'"), "$.redis.url", "query" },
    { RDS("'url':5"), "$.redis.url", "string or null" },
    { RDS("'url':'redis://:a@h','password':'b'"), "$.redis.url", "differs" },
    { RDS("'key_prefix':'a:b'"), "$.redis.key_prefix", "[A-Za-z0-9_.-]" },
    { RDS("'key_prefix':''"), "$.redis.key_prefix", "empty" },
    { RDS("'timeout_ms':0"), "$.redis.timeout_ms", "1..600000" },
    { RDS("'password':''"), "$.redis.password", "empty" },
    { RDS("'db':1"), "$.redis.db", "unknown key" },
    /* redis deployments (DESIGN.md §10): exactly one of url / cluster_nodes / sentinel */
    { RDS("'url':'redis://h','cluster_nodes':['h:1']"), "$.redis.cluster_nodes",
      "given together with $.redis.url (give exactly one of" },
    { RDS("'url':'embedded','cluster_nodes':['h:1']"), "$.redis.cluster_nodes",
      "together with $.redis.url" },
    { RDS("'url':'unix:///r.sock','sentinel':{'master_name':'m','nodes':['h:1']}"),
      "$.redis.sentinel", "together with $.redis.url" },
    { RDS("'cluster_nodes':['h:1'],'sentinel':{'master_name':'m','nodes':['h:1']}"),
      "$.redis.sentinel", "together with $.redis.cluster_nodes" },
    { RDS("'url':'redis://h','cluster_nodes':['h:1'],'sentinel':{'master_name':'m','nodes':['s:1']}"),
      "$.redis.sentinel", "together with $.redis.url and $.redis.cluster_nodes" },
    { RDS("'cluster_node':['h:1']"), "$.redis.cluster_node", "did you mean \"cluster_nodes\"" },
    { RDS("'cluster_nodes':[]"), "$.redis.cluster_nodes", "empty list" },
    { RDS("'cluster_nodes':'h:1'"), "$.redis.cluster_nodes", "expected an array of \"host:port\"" },
    { RDS("'cluster_nodes':{}"), "$.redis.cluster_nodes", "got an object" },
    { RDS("'cluster_nodes':['h']"), "$.redis.cluster_nodes[0]", "bad address" },
    { RDS("'cluster_nodes':['h:0']"), "$.redis.cluster_nodes[0]", "port 1..65535" },
    { RDS("'cluster_nodes':['h:1','h:70000']"), "$.redis.cluster_nodes[1]", "port 1..65535" },
    { RDS("'cluster_nodes':['::1:7000']"), "$.redis.cluster_nodes[0]", "[::1]:7000" },
    { RDS("'cluster_nodes':['h:1',''] "), "$.redis.cluster_nodes[1]", "bad address" },
    { RDS("'cluster_nodes':['h:1',5]"), "$.redis.cluster_nodes[1]", "got an integer" },
    { RDS("'cluster_nodes':['h:1',null]"), "$.redis.cluster_nodes[1]", "got null" },
    { RDS("'cluster_nodes':['a:1','b:1','A:1']"), "$.redis.cluster_nodes[2]", "duplicate node" },
    { RDS("'cluster_nodes':['[::1]:7000','[0:0::1]:7000']"), "$.redis.cluster_nodes[1]",
      "duplicate node" },
    { RDS("'read_from_replicas':true"), "$.redis.read_from_replicas", "needs $.redis.cluster_nodes" },
    { RDS("'url':'redis://h','read_from_replicas':true"), "$.redis.read_from_replicas",
      "needs $.redis.cluster_nodes" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1']},'read_from_replicas':true"),
      "$.redis.read_from_replicas", "Redis Cluster" },
    { RDS("'cluster_nodes':['h:1'],'read_from_replicas':'yes'"), "$.redis.read_from_replicas",
      "expected true or false" },
    { RDS("'cluster_nodes':['h:1'],'read_from_replicas':1"), "$.redis.read_from_replicas",
      "got an integer" },
    { RDS("'sentinel':{'nodes':['h:1']}"), "$.redis.sentinel.master_name", "missing" },
    { RDS("'sentinel':{'master_name':null,'nodes':['h:1']}"), "$.redis.sentinel.master_name",
      "missing" },
    { RDS("'sentinel':{'master_name':'m'}"), "$.redis.sentinel.nodes", "missing" },
    { RDS("'sentinel':{}"), "$.redis.sentinel.master_name", "missing" },
    { RDS("'sentinel':{}"), "$.redis.sentinel.nodes", "missing" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1'],'port':1}"), "$.redis.sentinel.port",
      "unknown key" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1'],'pasword':'x'}"),
      "$.redis.sentinel.pasword", "did you mean \"password\"" },
    { RDS("'sentinel':{'master_name':'','nodes':['h:1']}"), "$.redis.sentinel.master_name",
      "empty" },
    { RDS("'sentinel':{'master_name':7,'nodes':['h:1']}"), "$.redis.sentinel.master_name",
      "string or null" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1','h:1']}"), "$.redis.sentinel.nodes[1]",
      "duplicate node" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1','x']}"), "$.redis.sentinel.nodes[1]",
      "bad address" },
    { RDS("'sentinel':{'master_name':'m','nodes':[]}"), "$.redis.sentinel.nodes", "empty list" },
    { RDS("'sentinel':{'master_name':'m','nodes':['a:1','a:2','a:3','a:4','a:5','a:6','a:7','a:8',"
          "'a:9','a:10','a:11','a:12','a:13','a:14','a:15','a:16','a:17']}"),
      "$.redis.sentinel.nodes", "17 entries (at most 16" },
    { RDS("'sentinel':{'master_name':'m','nodes':['h:1'],'password':''}"),
      "$.redis.sentinel.password", "empty" },
    { RDS("'sentinel':['h:1']"), "$.redis.sentinel", "expected an object or null" },
    { RDS("'sentinels':{}"), "$.redis.sentinels", "did you mean \"sentinel\"" },
    /* ACL user */
    { RDS("'url':'redis://h','username':'u'"), "$.redis.username", "without a password" },
    { RDS("'cluster_nodes':['h:1'],'username':'u'"), "$.redis.username", "without a password" },
    { RDS("'username':'u','password':'p'"), "$.redis.username", "embedded redis-server" },
    { RDS("'url':'redis://h','username':'a b','password':'p'"), "$.redis.username",
      "whitespace" },
    { RDS("'url':'redis://h','username':'','password':'p'"), "$.redis.username", "empty" },
    { RDS("'url':'redis://bob:a@h','username':'alice'"), "$.redis.url", "user name differs" },
    { RDS("'url':'redis://bob:a@h','password':'b'"), "$.redis.url", "password differs" },
    { RDS("'url':'redis://b%zzb:a@h'"), "$.redis.url", "percent-escape in the url's user name" },
    /* entities */
    { DOC("", "{'join_keys':[{'name':'id','type':'int64'}]}", VIEW("")),
      "$.entities[0].name", "missing" },
    { DOC("", "{'name':'cust omer','join_keys':[{'name':'id','type':'int64'}]}", VIEW("")),
      "$.entities[0].name", "invalid character ' '" },
    { DOC("", "{'name':'-x','join_keys':[{'name':'id','type':'int64'}]}", VIEW("")),
      "$.entities[0].name", "invalid character '-'" },
    { DOC("", ENT_C "," ENT_C, VIEW("")), "$.entities[1].name", "duplicate entity" },
    { DOC("", "{'name':'customer','join_keys':[{'name':'customer_id','type':'double'}]}", VIEW("")),
      "$.entities[0].join_keys[0].type", "int64 or string" },
    { DOC("", "{'name':'customer','join_keys':[{'name':'customer_id','type':'int46'}]}", VIEW("")),
      "$.entities[0].join_keys[0].type", "unknown type" },
    { DOC("", "{'name':'customer','join_keys':[]}", VIEW("")),
      "$.entities[0].join_keys", "at least one join key" },
    { DOC("", "{'name':'customer'}", VIEW("")), "$.entities[0].join_keys", "missing" },
    { DOC("", "{'name':'customer','join_keys':[{'name':'a','type':'int64'},"
               "{'name':'a','type':'string'}]}", VIEW("")),
      "$.entities[0].join_keys[1].name", "duplicate join key" },
    { DOC("", "{'name':'customer','join_keys':[{'name':'customer_id','type':'int64','nullable':true}]}",
          VIEW("")), "$.entities[0].join_keys[0].nullable", "unknown key" },
    { DOC("", "{'name':'customer','joinkeys':[]}", VIEW("")),
      "$.entities[0].joinkeys", "did you mean \"join_keys\"" },
    { DOC("", "7", VIEW("")), "$.entities[0]", "object" },
    /* feature views */
    { DOC("", ENT_C, "{'name':'v','entities':['custmer'],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities[0]", "did you mean \"customer\"" },
    { DOC("", ENT_C, "{'name':'v','entities':['zzz'],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities[0]", "unknown entity" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[" FEAT("a", "int64") ","
                     FEAT("b", "int64") "," FEAT("c", "flaot") "]}"),
      "$.feature_views[0].features[2].type", "unknown type \"flaot\" (did you mean \"float\"?" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[" FEAT("c", "decimal") "]}"),
      "$.feature_views[0].features[0].type", "expected one of bool, int32" },
    { DOC("", ENT_C, VIEW("") "," VIEW("")), "$.feature_views[1].name", "duplicate feature view" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[" FEAT("a", "int64") ","
                     FEAT("a", "double") "]}"),
      "$.feature_views[0].features[1].name", "duplicate feature" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':["
                     FEAT("customer_id", "int64") "]}"),
      "$.feature_views[0].features[0].name", "join key" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':["
                     FEAT("event_timestamp", "timestamp") "]}"),
      "$.feature_views[0].features[0].name", "event-time column" },
    { SRC("'event_timestamp_column':'ts','columns':{'nope':'x'}"),
      "$.feature_views[0].source.columns.nope", "not a feature" },
    { SRC("'columns':{'f':5}"), "$.feature_views[0].source.columns.f", "column name" },
    { SRC("'columns':{'f':'customer_id'}"), "$.feature_views[0].source.columns.f", "join key" },
    { SRC("'columns':{'f':'event_timestamp'}"), "$.feature_views[0].source.columns.f",
      "event-time" },
    { SRC("'event_timestamp_column':'ts','created_timestamp_column':'ts'"),
      "$.feature_views[0].source.created_timestamp_column", "same column" },
    { SRC("'event_timestamp_column':'customer_id'"),
      "$.feature_views[0].source.event_timestamp_column", "join key" },
    { SRC("'event_timestamp_column':''"),
      "$.feature_views[0].source.event_timestamp_column", "empty" },
    { SRC("'colums':{}"), "$.feature_views[0].source.colums", "did you mean \"columns\"" },
    { VIEWX(",'source':{'event_timestamp_column':'ts'}"), "$.feature_views[0].source.path",
      "missing" },
    { VIEWX(",'ttl_seconds':-1"), "$.feature_views[0].ttl_seconds", "out of range" },
    { VIEWX(",'ttl_seconds':'1d'"), "$.feature_views[0].ttl_seconds", "integer" },
    { VIEWX(",'materialization':{'mode':'full'}"), "$.feature_views[0].materialization.mode",
      "snapshot or incremental" },
    { VIEWX(",'materialization':{'interval_seconds':0}"),
      "$.feature_views[0].materialization.interval_seconds", "out of range" },
    { VIEWX(",'materialization':{'every':5}"), "$.feature_views[0].materialization.every",
      "unknown key" },
    { VIEWX(",'ttl':5"), "$.feature_views[0].ttl", "unknown key" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[]}"),
      "$.feature_views[0].features", "at least one feature" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer']}"), "$.feature_views[0].features",
      "missing" },
    { DOC("", ENT_C, "{'name':'v','entities':[],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities", "no join keys" },
    { DOC("", ENT_C, "{'name':'a:b','entities':['customer'],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].name", "invalid character ':'" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer','customer'],'features':["
                     FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities[1]", "duplicate entity" },
    { DOC("", ENT_C ",{'name':'c2','join_keys':[{'name':'customer_id','type':'int64'}]}",
          "{'name':'v','entities':['customer','c2'],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities", "more than one" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[{'name':'f'}]}"),
      "$.feature_views[0].features[0].type", "missing" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[{'nmae':'f','type':'int64'}]}"),
      "$.feature_views[0].features[0].nmae", "did you mean \"name\"" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[" FEAT("a", "int64") ","
                     FEAT("b", "int64") "],'source':{'path':'d','columns':{'a':'x','b':'x'}}}"),
      "$.feature_views[0].source.columns.b", "both read column" },
    { DOC("", ENT_C, "{'name':'v','entities':['customer'],'features':[" FEAT("a", "int64") ","
                     FEAT("b", "int64") "],'source':{'path':'d','columns':{'a':'b'}}}"),
      "$.feature_views[0].features[1].name", "both read column" },
    { DOC("", ENT_C, "{'name':'v','entities':'customer','features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities", "array" },
    { DOC("", ENT_C, "{'name':'v','entities':[1],'features':[" FEAT("f", "int64") "]}"),
      "$.feature_views[0].entities[0]", "entity name" },
    { SRC("'stream':{'group':'g'}"), "$.feature_views[0].source.stream.key", "missing" },
    { SRC("'stream':{'key':''}"), "$.feature_views[0].source.stream.key", "empty" },
    { SRC("'stream':{'key':'s','grp':'g'}"), "$.feature_views[0].source.stream.grp", "group" },
    { SRC("'stream':'s'"), "$.feature_views[0].source.stream", "object" },
    { VIEWX(",'source':{'event_timestamp_column':'t'}"), "$.feature_views[0].source.path", "missing" },
    { DOC("'redis':{'cluster_nodes':['127.0.0.1:7000']},", ENT_C,
          VIEW(",'source':{'stream':{'key':'ev'}}")),
      "$.feature_views[0].source.stream.key", "hash tag" },
    { DOC("", ENT_C, VIEW(",'source':{'stream':{'key':'ev'}}") ","
          "{'name':'w','entities':['customer'],'features':[" FEAT("f", "double") "],"
          "'source':{'stream':{'key':'ev','group':'featd'}}}"),
      "$.feature_views[1].source.stream.key", "already the stream of view \"v\"" },
};

START_TEST(test_stream_source)
{
    struct featd_config *cfg = NULL;
    char err[ERRLEN];
    /* a stream alone (no Parquet path), group defaulted */
    ck_assert_msg(load_sq(VIEWX(",'source':{'stream':{'key':'events:v'}}"), &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->views[0].stream_key, "events:v");
    ck_assert_str_eq(cfg->views[0].stream_group, "featd");
    ck_assert_ptr_null(cfg->views[0].source_path);
    config_free(cfg);
    /* with a Parquet path and a group; on a cluster with a hash tag */
    ck_assert_msg(load_sq(DOC("'redis':{'cluster_nodes':['127.0.0.1:7000']},", ENT_C,
                              VIEW(",'source':{'path':'d','stream':{'key':'{ev}:v','group':'g1'}}")),
                          &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->views[0].stream_key, "{ev}:v");
    ck_assert_str_eq(cfg->views[0].stream_group, "g1");
    ck_assert_str_eq(cfg->views[0].source_path, "d");
    config_free(cfg);
    /* no stream: none */
    ck_assert_msg(load_sq(SRC("'event_timestamp_column':'t'"), &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_ptr_null(cfg->views[0].stream_key);
    config_free(cfg);
}
END_TEST

START_TEST(test_bad_configs)
{
    const struct bad_case *c = &bad_cases[_i];
    struct featd_config *cfg = (void *)1;
    char err[ERRLEN];
    int rc = load_sq(c->json, &cfg, err);
    ck_assert_msg(rc == FEATD_ERR, "case %d loaded but should fail: %s", _i, c->json);
    ck_assert_ptr_null(cfg);
    char want[512];
    snprintf(want, sizeof want, "%s: ", c->path);
    bool path_ok = strncmp(err, want, strlen(want)) == 0 ||
                   (strstr(err, want) != NULL && strstr(err, want)[-1] == '\n');
    ck_assert_msg(path_ok, "case %d: path %s not in:\n%s", _i, c->path, err);
    ck_assert_msg(strstr(err, c->word) != NULL, "case %d: word '%s' not in:\n%s", _i, c->word, err);
}
END_TEST

START_TEST(test_view_join_key_limit)
{
    /* 5 entities x 16 join keys = 80 > 64 join keys in one view */
    struct fbuf j = { 0 };
    ck_assert_int_eq(fbuf_appendf(&j, "{\"entities\":["), FEATD_OK);
    for (int e = 0; e < 5; e++) {
        ck_assert_int_eq(fbuf_appendf(&j, "%s{\"name\":\"e%d\",\"join_keys\":[", e ? "," : "", e), FEATD_OK);
        for (int k = 0; k < 16; k++) {
            ck_assert_int_eq(fbuf_appendf(&j, "%s{\"name\":\"k%d_%d\",\"type\":\"int64\"}", k ? "," : "",
                                          e, k), FEATD_OK);
        }
        ck_assert_int_eq(fbuf_appendf(&j, "]}"), FEATD_OK);
    }
    ck_assert_int_eq(fbuf_appendf(&j, "],\"feature_views\":[{\"name\":\"v\",\"entities\":"
                                      "[\"e0\",\"e1\",\"e2\",\"e3\",\"e4\"],"
                                      "\"features\":[{\"name\":\"f\",\"type\":\"double\"}]}]}"), FEATD_OK);
    struct featd_config *cfg = NULL;
    char err[ERRLEN];
    ck_assert_int_eq(config_load_string(j.data, &cfg, err, sizeof err), FEATD_ERR);
    ck_assert_msg(strstr(err, "$.feature_views[0].entities: ") != NULL &&
                  strstr(err, "80 join keys together (at most 64)") != NULL, "%s", err);
    fbuf_free(&j);
}
END_TEST

START_TEST(test_defaults)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
    const struct cfg_server *s = &cfg->server;
    ck_assert_str_eq(s->listen, "127.0.0.1:6566");
    ck_assert_str_eq(s->admin_listen, "127.0.0.1:6567");
    ck_assert_int_eq(s->workers, 2);
    ck_assert_int_eq(s->max_connections, 10000);
    ck_assert_int_eq(s->admin_max_connections, 64);
    ck_assert_uint_eq(s->max_frame_bytes, 4194304);
    ck_assert_int_eq(s->max_entities_per_request, 1000);
    ck_assert_int_eq(s->request_timeout_ms, 1000);
    ck_assert_uint_eq(s->max_output_bytes, 16u << 20);
    ck_assert_int_eq(s->max_inflight_requests, 10000);
    ck_assert_int_eq(s->slow_request_ms, 10);
    ck_assert_int_eq(s->shutdown_timeout_ms, 10000);
    ck_assert_str_eq(s->data_dir, "./featd-data");
    ck_assert_str_eq(s->log_level, "info");
    ck_assert_int_eq(s->log_format, LOGF_TEXT);
    const struct cfg_redis *r = &cfg->redis;
    ck_assert(r->embedded);
    ck_assert_ptr_null(r->url);
    ck_assert_ptr_null(r->host);
    ck_assert_ptr_null(r->unix_path);
    ck_assert_ptr_null(r->password);
    ck_assert_int_eq(r->db, 0);
    ck_assert_int_eq(r->timeout_ms, 200);
    ck_assert_str_eq(r->key_prefix, "featd");
    ck_assert_str_eq(r->server_bin, "redis-server");
    const struct cfg_materialize *m = &cfg->materialize;
    ck_assert_int_eq(m->pacing, MATP_ADAPTIVE);
    ck_assert_int_eq(m->max_rows_per_sec, 0);
    ck_assert_int_eq(m->pacing_latency_budget_us, 0);     /* auto */
    ck_assert_int_eq(m->pacing_min_rows_per_sec, 10000);
    ck_assert_int_eq(m->unready_after_intervals, 5);
    ck_assert_int_eq(r->eviction, EVICT_REFUSE);
    ck_assert_ptr_null(cfg->path);
    ck_assert_uint_eq(cfg->nentities, 1);
    ck_assert_uint_eq(cfg->nviews, 1);
    const struct cfg_view *v = &cfg->views[0];
    ck_assert_str_eq(v->name, "v");
    ck_assert_int_eq(v->ttl_seconds, 0);
    ck_assert_int_eq(v->mat_mode, MAT_SNAPSHOT);
    ck_assert_int_eq(v->mat_interval_seconds, 60);
    ck_assert_str_eq(v->event_ts_column, "event_timestamp");
    ck_assert_ptr_null(v->created_ts_column);
    ck_assert_ptr_null(v->source_path);
    ck_assert_uint_eq(v->nfeatures, 1);
    ck_assert_str_eq(v->features[0].column, "f");
    ck_assert_int_eq(v->features[0].type, FT_DOUBLE);
    ck_assert_uint_eq(v->nkeys, 1);
    ck_assert_str_eq(v->keys[0].name, "customer_id");
    ck_assert_int_eq(v->keys[0].type, FT_INT64);
    ck_assert_uint_eq(strlen(v->fingerprint_hex), 16);
    config_free(cfg);

    /* explicit embedded and explicit null */
    ck_assert_int_eq(load_sq(RDS("'url':'embedded'"), &cfg, err), FEATD_OK);
    ck_assert(cfg->redis.embedded);
    config_free(cfg);
    ck_assert_int_eq(load_sq(RDS("'url':null,'password':null"), &cfg, err), FEATD_OK);
    ck_assert(cfg->redis.embedded);
    config_free(cfg);
    /* admin disabled, IPv6 listen, json logs */
    ck_assert_int_eq(load_sq(SRV("'listen':'[::1]:7000','admin_listen':'','log_format':'json',"
                                 "'workers':64,'shutdown_timeout_ms':0"), &cfg, err), FEATD_OK);
    ck_assert_str_eq(cfg->server.listen, "[::1]:7000");
    ck_assert_str_eq(cfg->server.admin_listen, "");
    ck_assert_int_eq(cfg->server.log_format, LOGF_JSON);
    ck_assert_int_eq(cfg->server.workers, 64);
    ck_assert_int_eq(cfg->server.shutdown_timeout_ms, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_full_view)
{
    const char *j = DOC("'redis':{'url':'redis://:s%40cret@10.0.0.5:7001/3','key_prefix':'prod.fs-1'},",
        ENT_C "," ENT_M,
        "{'name':'cm','entities':['customer','merchant'],'ttl_seconds':3600,"
        "'features':[" FEAT("a", "int32") "," FEAT("b", "string_list") "," FEAT("c", "bytes") "],"
        "'source':{'path':'data/cm/*.parquet','event_timestamp_column':'et',"
        "'created_timestamp_column':'ct','columns':{'b':'b_col','c':'c-col'}},"
        "'materialization':{'mode':'incremental','interval_seconds':5}}");
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_msg(load_sq(j, &cfg, err) == FEATD_OK, "%s", err);
    ck_assert(!cfg->redis.embedded);
    ck_assert_str_eq(cfg->redis.host, "10.0.0.5");
    ck_assert_int_eq(cfg->redis.port, 7001);
    ck_assert_int_eq(cfg->redis.db, 3);
    ck_assert_str_eq(cfg->redis.password, "s@cret");
    ck_assert_str_eq(cfg->redis.key_prefix, "prod.fs-1");
    ck_assert_uint_eq(cfg->entities[1].nkeys, 2);
    const struct cfg_view *v = config_find_view(cfg, "cm");
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->nentities, 2);
    ck_assert_str_eq(v->entities[0], "customer");
    ck_assert_str_eq(v->entities[1], "merchant");
    ck_assert_uint_eq(v->nkeys, 3);
    ck_assert_str_eq(v->keys[0].name, "customer_id");
    ck_assert_int_eq(v->keys[0].type, FT_INT64);
    ck_assert_str_eq(v->keys[1].name, "merchant_id");
    ck_assert_int_eq(v->keys[1].type, FT_STRING);
    ck_assert_str_eq(v->keys[2].name, "country");
    ck_assert_int_eq(v->ttl_seconds, 3600);
    ck_assert_str_eq(v->source_path, "data/cm/*.parquet");
    ck_assert_str_eq(v->event_ts_column, "et");
    ck_assert_str_eq(v->created_ts_column, "ct");
    ck_assert_str_eq(v->features[0].column, "a");
    ck_assert_str_eq(v->features[1].column, "b_col");
    ck_assert_str_eq(v->features[2].column, "c-col");
    ck_assert_int_eq(v->features[1].type, FT_STRING_LIST);
    ck_assert_int_eq(v->mat_mode, MAT_INCREMENTAL);
    ck_assert_int_eq(v->mat_interval_seconds, 5);
    config_free(cfg);
}
END_TEST

static uint64_t fp_of(const char *json)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_msg(load_sq(json, &cfg, err) == FEATD_OK, "%s", err);
    uint64_t h = cfg->views[0].fingerprint;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    ck_assert_str_eq(hex, cfg->views[0].fingerprint_hex);
    config_free(cfg);
    return h;
}

#define FPV(name, f1, f2, extra) DOC("", ENT_C "," ENT_M, \
    "{'name':'" name "','entities':['customer','merchant'],'features':[" f1 "," f2 "]" extra "}")

START_TEST(test_fingerprint)
{
    uint64_t base = fp_of(FPV("v", FEAT("a", "int64"), FEAT("b", "float_list"), ""));
    /* whitespace, key order, non-schema settings: unchanged */
    uint64_t ws = fp_of("\n  {  'feature_views' : [ { 'features' : [ { 'type':'int64', 'name':'a' } ,"
                        "{'name':'b',\n'type':'float_list'}], 'entities':['customer', 'merchant'],"
                        " 'name':'v' } ] ,\n 'entities': [" ENT_C ",\n" ENT_M "] }\n");
    ck_assert_uint_eq(base, ws);
    ck_assert_uint_eq(base, fp_of(FPV("v", FEAT("a", "int64"), FEAT("b", "float_list"),
                                      ",'ttl_seconds':5,'source':{'path':'x','columns':{'a':'z'}}")));
    /* schema changes: changed */
    ck_assert_uint_ne(base, fp_of(FPV("v", FEAT("a", "int64"), FEAT("b", "double_list"), "")));
    ck_assert_uint_ne(base, fp_of(FPV("v", FEAT("a", "int32"), FEAT("b", "float_list"), "")));
    ck_assert_uint_ne(base, fp_of(FPV("v", FEAT("b", "float_list"), FEAT("a", "int64"), "")));
    ck_assert_uint_ne(base, fp_of(FPV("v", FEAT("a", "int64"), FEAT("c", "float_list"), "")));
    ck_assert_uint_ne(base, fp_of(FPV("w", FEAT("a", "int64"), FEAT("b", "float_list"), "")));
    /* join key type change */
    ck_assert_uint_ne(base, fp_of(DOC("", "{'name':'customer','join_keys':[{'name':'customer_id',"
                                          "'type':'string'}]}," ENT_M,
                                      "{'name':'v','entities':['customer','merchant'],'features':["
                                      FEAT("a", "int64") "," FEAT("b", "float_list") "]}")));
    /* separators: "ab"+"c" differs from "a"+"bc" */
    ck_assert_uint_ne(fp_of(FPV("v", FEAT("ab", "int64"), FEAT("c", "int64"), "")),
                      fp_of(FPV("v", FEAT("a", "int64"), FEAT("bc", "int64"), "")));
}
END_TEST

START_TEST(test_lookups)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    const char *j = DOC("", ENT_C, "{'name':'cs','entities':['customer'],'features':["
                        FEAT("x", "int64") "," FEAT("xy", "int64") "]},"
                        "{'name':'cs2','entities':['customer'],'features':[" FEAT("y", "bool") "]}");
    ck_assert_msg(load_sq(j, &cfg, err) == FEATD_OK, "%s", err);
    const char *req = "cs2:y";
    ck_assert_ptr_eq(config_find_viewn(cfg, req, 3), &cfg->views[1]);
    ck_assert_ptr_eq(config_find_viewn(cfg, req, 2), &cfg->views[0]);
    ck_assert_ptr_null(config_find_viewn(cfg, req, 1));
    ck_assert_ptr_null(config_find_viewn(cfg, "cs2x", 4));
    ck_assert_ptr_null(config_find_viewn(cfg, "", 0));
    ck_assert_ptr_null(config_find_viewn(cfg, "cs\0\0\0\0\0\0", 8));   /* embedded NULs */
    ck_assert_int_eq(config_feature_index(&cfg->views[0], "x\0\0\0\0", 5), -1);
    ck_assert_ptr_eq(config_find_view(cfg, "cs"), &cfg->views[0]);
    ck_assert_ptr_null(config_find_view(cfg, "nope"));
    ck_assert_ptr_null(config_find_view(cfg, NULL));
    const struct cfg_view *v = &cfg->views[0];
    ck_assert_int_eq(config_feature_index(v, "xy:zz", 2), 1);
    ck_assert_int_eq(config_feature_index(v, "xy", 1), 0);
    ck_assert_int_eq(config_feature_index(v, "xyz", 3), -1);
    ck_assert_int_eq(config_feature_index(v, "*", 1), -1);
    ck_assert_int_eq(config_feature_index(NULL, "x", 1), -1);
    config_free(cfg);
}
END_TEST

START_TEST(test_types)
{
    for (int t = 0; t < FT__COUNT; t++) {
        ck_assert_int_eq(config_type_parse(config_type_name(t)), t);
    }
    ck_assert_int_eq(config_type_parse("flaot"), -1);
    ck_assert_int_eq(config_type_parse(""), -1);
    ck_assert_int_eq(config_type_parse(NULL), -1);
    ck_assert_str_eq(config_type_name(FT_TIMESTAMP), "timestamp");
    ck_assert_str_eq(config_type_name(FT__COUNT), "?");
    ck_assert(config_type_is_list(FT_FLOAT_LIST));
    ck_assert(config_type_is_list(FT_STRING_LIST));
    ck_assert(!config_type_is_list(FT_STRING));
    ck_assert(!config_type_is_list(FT_BYTES));
}
END_TEST

START_TEST(test_hostport)
{
    static const struct { const char *s; const char *host; int port; } good[] = {
        { "127.0.0.1:6566", "127.0.0.1", 6566 }, { "localhost:1", "localhost", 1 },
        { "[::1]:6566", "::1", 6566 }, { "0.0.0.0:65535", "0.0.0.0", 65535 },
        { "[::]:80", "::", 80 }, { "redis-1.svc_local:6379", "redis-1.svc_local", 6379 },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(good); i++) {
        char *h;
        int p;
        ck_assert_msg(config_addr_parse_hostport(good[i].s, &h, &p) == FEATD_OK, "%s", good[i].s);
        ck_assert_str_eq(h, good[i].host);
        ck_assert_int_eq(p, good[i].port);
        free(h);
    }
    static const char *const bad[] = {
        "", ":6566", "host", "host:", "host:0", "host:65536", "host:-1", "host:+80", "host:80x",
        "::1:6566", "[::1]6566", "[::1]:", "[]:80", "[zz]:80", "a b:80", "-host:80",
        "host:123456", "[::1:80",
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(bad); i++) {
        char *h = (char *)1;
        int p = 1;
        ck_assert_msg(config_addr_parse_hostport(bad[i], &h, &p) == FEATD_ERR, "accepted '%s'", bad[i]);
        ck_assert_ptr_null(h);
    }
    char *h = (char *)1;
    int p;
    ck_assert_int_eq(config_addr_parse_hostport(NULL, &h, &p), FEATD_ERR);
}
END_TEST

START_TEST(test_redis_urls)
{
    static const struct {
        const char *url; const char *host; int port; const char *unix_path; int db;
        const char *password;
    } cases[] = {
        { "redis://127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, 0, NULL },
        { "redis://cache", "cache", 6379, NULL, 0, NULL },
        { "redis://cache/", "cache", 6379, NULL, 0, NULL },
        { "redis://cache:7000/15", "cache", 7000, NULL, 15, NULL },
        { "redis://:pw@cache:7000/2", "cache", 7000, NULL, 2, "pw" },
        { "redis://default:p%3Aw@cache", "cache", 6379, NULL, 0, "p:w" },
        { "redis://[::1]:6380/1", "::1", 6380, NULL, 1, NULL },
        { "redis://[::1]", "::1", 6379, NULL, 0, NULL },
        { "unix:///tmp/redis.sock", NULL, 0, "/tmp/redis.sock", 0, NULL },
        { "unix:///tmp/redis.sock?db=4", NULL, 0, "/tmp/redis.sock", 4, NULL },
        { "redis+unix:///var/run/r.sock?db=9", NULL, 0, "/var/run/r.sock", 9, NULL },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cases); i++) {
        char json[512], err[ERRLEN];
        snprintf(json, sizeof json, RDS("'url':'%s'"), cases[i].url);
        struct featd_config *cfg;
        ck_assert_msg(load_sq(json, &cfg, err) == FEATD_OK, "%s: %s", cases[i].url, err);
        const struct cfg_redis *r = &cfg->redis;
        ck_assert(!r->embedded);
        ck_assert_str_eq(r->url, cases[i].url);
        if (cases[i].host) {
            ck_assert_str_eq(r->host, cases[i].host);
        } else {
            ck_assert_ptr_null(r->host);
        }
        ck_assert_int_eq(r->port, cases[i].port);
        if (cases[i].unix_path) {
            ck_assert_str_eq(r->unix_path, cases[i].unix_path);
        } else {
            ck_assert_ptr_null(r->unix_path);
        }
        ck_assert_int_eq(r->db, cases[i].db);
        if (cases[i].password) {
            ck_assert_str_eq(r->password, cases[i].password);
        } else {
            ck_assert_ptr_null(r->password);
        }
        config_free(cfg);
    }
    /* same password twice is fine; a separate password works with any url */
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(load_sq(RDS("'url':'redis://:a@h','password':'a'"), &cfg, err), FEATD_OK);
    ck_assert_str_eq(cfg->redis.password, "a");
    config_free(cfg);
    ck_assert_int_eq(load_sq(RDS("'url':'unix:///s.sock','password':'b'"), &cfg, err), FEATD_OK);
    ck_assert_str_eq(cfg->redis.password, "b");
    config_free(cfg);
}
END_TEST

/* The redis deployments: defaults, each mode's parsed values, url users. */
START_TEST(test_redis_modes)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    /* defaults: the embedded single node */
    ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
    const struct cfg_redis *r = &cfg->redis;
    ck_assert_int_eq(r->mode, REDIS_MODE_EMBEDDED);
    ck_assert(r->embedded);
    ck_assert_ptr_null(r->username);
    ck_assert_uint_eq(r->cluster_nodes.n, 0);
    ck_assert_ptr_null(r->cluster_nodes.v);
    ck_assert(!r->read_from_replicas);
    ck_assert(!r->sentinel.given);
    ck_assert_ptr_null(r->sentinel.master_name);
    ck_assert_uint_eq(r->sentinel.nodes.n, 0);
    ck_assert_ptr_null(r->sentinel.password);
    config_free(cfg);
    /* every new key null / false: still embedded */
    ck_assert_msg(load_sq(RDS("'url':null,'cluster_nodes':null,'sentinel':null,'username':null,"
                              "'read_from_replicas':false"), &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_EMBEDDED);
    ck_assert(cfg->redis.embedded);
    config_free(cfg);
    /* one node */
    ck_assert_int_eq(load_sq(RDS("'url':'redis://h:1'"), &cfg, err), FEATD_OK);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_SINGLE);
    config_free(cfg);
    /* cluster with an ACL user */
    ck_assert_msg(load_sq(RDS("'cluster_nodes':['10.0.0.1:7000','[::1]:7001','node-3.local:7002',"
                              "'10.0.0.1:7001'],'read_from_replicas':true,'username':'featd',"
                              "'password':'p w'"), &cfg, err) == FEATD_OK, "%s", err);
    r = &cfg->redis;
    ck_assert_int_eq(r->mode, REDIS_MODE_CLUSTER);
    ck_assert(!r->embedded);
    ck_assert_ptr_null(r->host);
    ck_assert_ptr_null(r->unix_path);
    ck_assert_int_eq(r->db, 0);
    ck_assert_uint_eq(r->cluster_nodes.n, 4);
    ck_assert_str_eq(r->cluster_nodes.v[0].host, "10.0.0.1");
    ck_assert_int_eq(r->cluster_nodes.v[0].port, 7000);
    ck_assert_str_eq(r->cluster_nodes.v[1].host, "::1");
    ck_assert_int_eq(r->cluster_nodes.v[1].port, 7001);
    ck_assert_str_eq(r->cluster_nodes.v[2].host, "node-3.local");
    ck_assert_int_eq(r->cluster_nodes.v[3].port, 7001);
    ck_assert(r->read_from_replicas);
    ck_assert_str_eq(r->username, "featd");
    ck_assert_str_eq(r->password, "p w");
    ck_assert(!r->sentinel.given);
    config_free(cfg);
    /* sentinel */
    ck_assert_msg(load_sq(RDS("'sentinel':{'master_name':'my master','nodes':['s1:26379',"
                              "'[fe80::1]:26379'],'password':'sp'},'password':'dp'"), &cfg, err) ==
                  FEATD_OK, "%s", err);
    r = &cfg->redis;
    ck_assert_int_eq(r->mode, REDIS_MODE_SENTINEL);
    ck_assert(!r->embedded);
    ck_assert(r->sentinel.given);
    ck_assert_str_eq(r->sentinel.master_name, "my master");
    ck_assert_uint_eq(r->sentinel.nodes.n, 2);
    ck_assert_str_eq(r->sentinel.nodes.v[0].host, "s1");
    ck_assert_int_eq(r->sentinel.nodes.v[0].port, 26379);
    ck_assert_str_eq(r->sentinel.nodes.v[1].host, "fe80::1");
    ck_assert_str_eq(r->sentinel.password, "sp");
    ck_assert_str_eq(r->password, "dp");
    ck_assert_uint_eq(r->cluster_nodes.n, 0);
    config_free(cfg);
    ck_assert_msg(load_sq(RDS("'sentinel':{'master_name':'m','nodes':['s:1'],'password':null}"),
                          &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_ptr_null(cfg->redis.sentinel.password);
    ck_assert_ptr_null(cfg->redis.password);
    config_free(cfg);
    /* users in the url: percent-decoded; "default" is the default user */
    ck_assert_msg(load_sq(RDS("'url':'redis://al%40ice:s%20p@h:1'"), &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->redis.username, "al@ice");
    ck_assert_str_eq(cfg->redis.password, "s p");
    config_free(cfg);
    ck_assert_int_eq(load_sq(RDS("'url':'redis://default:pw@h'"), &cfg, err), FEATD_OK);
    ck_assert_ptr_null(cfg->redis.username);
    config_free(cfg);
    ck_assert_msg(load_sq(RDS("'url':'redis://bob:pw@h','username':'bob'"), &cfg, err) == FEATD_OK,
                  "%s", err);
    ck_assert_str_eq(cfg->redis.username, "bob");
    config_free(cfg);
    ck_assert_msg(load_sq(RDS("'url':'redis://h','username':'bob','password':'pw'"), &cfg, err) ==
                  FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->redis.username, "bob");
    config_free(cfg);
    /* 64 seed nodes are fine, 65 are not */
    char json[8192], list[4096] = "";
    for (int i = 0; i < 65; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s'n%d:7000'", i ? "," : "", i);
        if (i == 63) {
            snprintf(json, sizeof json, RDS("'cluster_nodes':[%s]"), list);
            ck_assert_msg(load_sq(json, &cfg, err) == FEATD_OK, "%s", err);
            ck_assert_uint_eq(cfg->redis.cluster_nodes.n, 64);
            config_free(cfg);
        }
    }
    snprintf(json, sizeof json, RDS("'cluster_nodes':[%s]"), list);
    ck_assert_int_eq(load_sq(json, &cfg, err), FEATD_ERR);
    ck_assert_msg(strstr(err, "$.redis.cluster_nodes: 65 entries (at most 64 allowed)") != NULL,
                  "%s", err);
    /* the exactly-one rule is one line, not one per key */
    ck_assert_int_eq(load_sq(RDS("'url':'redis://h','cluster_nodes':['h:1']"), &cfg, err), FEATD_ERR);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_str_eq(config_redis_mode_name(REDIS_MODE_EMBEDDED), "embedded");
    ck_assert_str_eq(config_redis_mode_name(REDIS_MODE_SINGLE), "single");
    ck_assert_str_eq(config_redis_mode_name(REDIS_MODE_CLUSTER), "cluster");
    ck_assert_str_eq(config_redis_mode_name(REDIS_MODE_SENTINEL), "sentinel");
    ck_assert_str_eq(config_redis_mode_name((enum featd_redis_mode)9), "?");
}
END_TEST

START_TEST(test_redis_password_file)
{
    struct featd_config *cfg;
    char err[ERRLEN], path[] = "/tmp/featd-redis-pw-XXXXXX", json[1024];
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "  s3cret pass\n", 14) == 14);
    close(fd);
    snprintf(json, sizeof json, RDS("'url':'redis://h:1','username':'featd','password_file':'%s'"),
             path);
    ck_assert_msg(load_sq(json, &cfg, err) == FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->redis.password, "s3cret pass");
    config_free(cfg);
    snprintf(json, sizeof json, RDS("'url':'redis://h:1','password':'x','password_file':'%s'"),
             path);
    ck_assert_int_eq(load_sq(json, &cfg, err), FEATD_ERR);
    ck_assert_msg(strstr(err, "$.redis.password_file: give the password once") != NULL, "%s", err);
    snprintf(json, sizeof json, RDS("'url':'redis://:x@h:1','password_file':'%s'"), path);
    ck_assert_int_eq(load_sq(json, &cfg, err), FEATD_ERR);
    unlink(path);
    ck_assert_int_eq(load_sq(RDS("'url':'redis://h:1','password_file':'/nonexistent/pw'"), &cfg, err),
                     FEATD_ERR);
    ck_assert_msg(strstr(err, "$.redis.password_file: cannot read /nonexistent/pw") != NULL, "%s",
                  err);
}
END_TEST

START_TEST(test_many_errors_collected)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    const char *j = DOC("'server':{'workers':0,'listen':'x'},'redis':{'key_prefix':'a b'},", ENT_C,
                        "{'name':'v','entities':['nope'],'features':[" FEAT("f", "flaot") "]}");
    ck_assert_int_eq(load_sq(j, &cfg, err), FEATD_ERR);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, "$.server.workers: "));
    ck_assert_ptr_nonnull(strstr(err, "$.server.listen: "));
    ck_assert_ptr_nonnull(strstr(err, "$.redis.key_prefix: "));
    ck_assert_ptr_nonnull(strstr(err, "$.feature_views[0].entities[0]: "));
    ck_assert_ptr_nonnull(strstr(err, "$.feature_views[0].features[0].type: "));
    int lines = 1;
    for (const char *p = err; *p; p++) {
        lines += *p == '\n';
    }
    ck_assert_int_eq(lines, 5);
    ck_assert(err[strlen(err) - 1] != '\n');

    /* the cap: 200 bad features give 50 lines and a tally */
    struct fbuf b = { 0 };
    ck_assert_int_eq(fbuf_appendf(&b, "{\"entities\":[{\"name\":\"e\",\"join_keys\":[{\"name\":\"k\","
                                  "\"type\":\"int64\"}]}],\"feature_views\":[{\"name\":\"v\","
                                  "\"entities\":[\"e\"],\"features\":["), FEATD_OK);
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(fbuf_appendf(&b, "%s{\"name\":\"f%d\",\"type\":\"bad\"}", i ? "," : "", i),
                         FEATD_OK);
    }
    ck_assert_int_eq(fbuf_appendf(&b, "]}]}"), FEATD_OK);
    char big[65536];
    ck_assert_int_eq(config_load_string(b.data, &cfg, big, sizeof big), FEATD_ERR);
    lines = 1;
    for (const char *p = big; *p; p++) {
        lines += *p == '\n';
    }
    ck_assert_int_eq(lines, 51);
    ck_assert_ptr_nonnull(strstr(big, "and 150 more errors"));
    /* a tiny err buffer is truncated, never overrun */
    char tiny[16];
    ck_assert_int_eq(config_load_string(b.data, &cfg, tiny, sizeof tiny), FEATD_ERR);
    ck_assert_uint_eq(strlen(tiny), 15);
    fbuf_free(&b);
    /* NULL input */
    ck_assert_int_eq(config_load_string(NULL, &cfg, err, sizeof err), FEATD_ERR);
}
END_TEST

START_TEST(test_hostile_strings)
{
    struct featd_config *cfg;
    char err[ERRLEN];
    /* a long unknown key with control characters is quoted, escaped and capped */
    struct fbuf b = { 0 };
    ck_assert_int_eq(fbuf_appendf(&b, "{\"server\":{\"\\u0001"), FEATD_OK);
    for (int i = 0; i < 5000; i++) {
        ck_assert_int_eq(fbuf_putc(&b, 'k'), FEATD_OK);
    }
    ck_assert_int_eq(fbuf_appendf(&b, "\":1}}"), FEATD_OK);
    ck_assert_int_eq(config_load_string(b.data, &cfg, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "$.server[\"\\x01kkk"));
    ck_assert_ptr_nonnull(strstr(err, "...\""));
    ck_assert_uint_lt(strlen(err), 1024);
    fbuf_free(&b);
    /* NUL escapes are rejected by the parser */
    ck_assert_int_eq(config_load_string("{\"server\":{\"data_dir\":\"a\\u0000b\"}}", &cfg, err,
                                        sizeof err), FEATD_ERR);
    /* a control character in a path value */
    ck_assert_int_eq(config_load_string("{\"server\":{\"data_dir\":\"a\\nb\"}}", &cfg, err,
                                        sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "$.server.data_dir: \"a\\x0ab\": control character"));
    /* a 129-byte name */
    char name[130];
    memset(name, 'n', 129);
    name[129] = '\0';
    char json[1024];
    snprintf(json, sizeof json, DOC("", ENT_C, "{'name':'%s','entities':['customer'],"
                                    "'features':[" FEAT("f", "int64") "]}"), name);
    ck_assert_int_eq(load_sq(json, &cfg, err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "$.feature_views[0].name: "));
    ck_assert_ptr_nonnull(strstr(err, "longer than 128"));
    name[128] = '\0';
    snprintf(json, sizeof json, DOC("", ENT_C, "{'name':'%s','entities':['customer'],"
                                    "'features':[" FEAT("f", "int64") "]}"), name);
    ck_assert_msg(load_sq(json, &cfg, err) == FEATD_OK, "%s", err);
    config_free(cfg);
    /* deep nesting is bounded by jansson, not a crash */
    char deep[4096];
    memset(deep, '[', 3000);
    deep[3000] = '\0';
    ck_assert_int_eq(config_load_string(deep, &cfg, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "$: invalid JSON"));
}
END_TEST

static void clear_env(void)
{
    static const char *const vars[] = {
        "FEATD_LISTEN", "FEATD_ADMIN_LISTEN", "FEATD_REDIS_URL", "FEATD_REDIS_PASSWORD",
        "FEATD_LOG_LEVEL", "FEATD_LOG_FORMAT", "FEATD_WORKERS", "FEATD_DATA_DIR",
        "FEATD_SLOW_REQUEST_MS", "FEATD_ADMIN_MAX_CONNECTIONS", "FEATD_MATERIALIZE_PACING",
        "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC", "FEATD_MATERIALIZE_PACING_LATENCY_BUDGET_US",
        "FEATD_REDIS_USERNAME", "FEATD_REDIS_CLUSTER_NODES", "FEATD_REDIS_SENTINEL_PASSWORD",
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(vars); i++) {
        unsetenv(vars[i]);
    }
}

START_TEST(test_env_good)
{
    clear_env();
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(load_sq(RDS("'url':'redis://:old@h:1/1','timeout_ms':5"), &cfg, err), FEATD_OK);
    ck_assert_str_eq(cfg->redis.password, "old");
    /* no variables: no change */
    ck_assert_int_eq(config_env_apply(cfg, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(cfg->server.workers, 2);
    setenv("FEATD_WORKERS", "8", 1);
    setenv("FEATD_LISTEN", "0.0.0.0:7000", 1);
    setenv("FEATD_ADMIN_LISTEN", "", 1);
    setenv("FEATD_LOG_LEVEL", "debug", 1);
    setenv("FEATD_LOG_FORMAT", "json", 1);
    setenv("FEATD_DATA_DIR", "/var/lib/featd", 1);
    setenv("FEATD_REDIS_URL", "redis://[::1]:7001/5", 1);
    setenv("FEATD_SLOW_REQUEST_MS", "0", 1);
    setenv("FEATD_ADMIN_MAX_CONNECTIONS", "8", 1);
    setenv("FEATD_MATERIALIZE_PACING", "fixed", 1);
    setenv("FEATD_MATERIALIZE_MAX_ROWS_PER_SEC", "20000", 1);
    setenv("FEATD_MATERIALIZE_PACING_LATENCY_BUDGET_US", "300", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->materialize.pacing, MATP_FIXED);
    ck_assert_int_eq(cfg->materialize.max_rows_per_sec, 20000);
    ck_assert_int_eq(cfg->materialize.pacing_latency_budget_us, 300);
    ck_assert_int_eq(cfg->materialize.pacing_min_rows_per_sec, 10000);  /* no env */
    ck_assert_int_eq(cfg->server.workers, 8);
    ck_assert_int_eq(cfg->server.slow_request_ms, 0);     /* 0 = off */
    ck_assert_int_eq(cfg->server.admin_max_connections, 8);
    ck_assert_str_eq(cfg->server.listen, "0.0.0.0:7000");
    ck_assert_str_eq(cfg->server.admin_listen, "");
    ck_assert_str_eq(cfg->server.log_level, "debug");
    ck_assert_int_eq(cfg->server.log_format, LOGF_JSON);
    ck_assert_str_eq(cfg->server.data_dir, "/var/lib/featd");
    ck_assert(!cfg->redis.embedded);
    ck_assert_str_eq(cfg->redis.host, "::1");
    ck_assert_int_eq(cfg->redis.port, 7001);
    ck_assert_int_eq(cfg->redis.db, 5);
    ck_assert_ptr_null(cfg->redis.password);    /* went with the old url */
    ck_assert_int_eq(cfg->redis.timeout_ms, 5); /* not overridden */
    /* password override beats a url password; "" clears it */
    setenv("FEATD_REDIS_URL", "redis://:inurl@h:2", 1);
    setenv("FEATD_REDIS_PASSWORD", "fromenv", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_str_eq(cfg->redis.password, "fromenv");
    setenv("FEATD_REDIS_URL", "redis://:inurl@h:2", 1);
    setenv("FEATD_REDIS_PASSWORD", "", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_ptr_null(cfg->redis.password);     /* "" = none, even with a url password */
    setenv("FEATD_REDIS_URL", "unix:///run/r.sock?db=2", 1);
    setenv("FEATD_REDIS_PASSWORD", "", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_ptr_null(cfg->redis.password);
    ck_assert_str_eq(cfg->redis.unix_path, "/run/r.sock");
    ck_assert_ptr_null(cfg->redis.host);
    ck_assert_int_eq(cfg->redis.db, 2);
    setenv("FEATD_REDIS_URL", "embedded", 1);
    unsetenv("FEATD_REDIS_PASSWORD");
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert(cfg->redis.embedded);
    ck_assert_ptr_null(cfg->redis.unix_path);
    config_free(cfg);
    clear_env();
}
END_TEST

START_TEST(test_env_bad)
{
    static const struct { const char *var, *val, *word; } cases[] = {
        { "FEATD_WORKERS", "abc", "integer in 1..64" },
        { "FEATD_WORKERS", "0", "1..64" },
        { "FEATD_WORKERS", "", "integer" },
        { "FEATD_WORKERS", "4 ", "integer" },
        { "FEATD_LISTEN", "nope", "host:port" },
        { "FEATD_LISTEN", "127.0.0.1:6567", "same address" },
        { "FEATD_ADMIN_LISTEN", "127.0.0.1:6566", "same address" },
        { "FEATD_LOG_LEVEL", "loud", "error, warn, info, debug" },
        { "FEATD_LOG_FORMAT", "XML", "text, json" },
        { "FEATD_REDIS_URL", "http://x", "unsupported url" },
        { "FEATD_REDIS_URL", "", "empty" },
        { "FEATD_DATA_DIR", "", "empty" },
        { "FEATD_SLOW_REQUEST_MS", "-5", "integer in 0..600000" },
        { "FEATD_SLOW_REQUEST_MS", "10ms", "integer in 0..600000" },
        { "FEATD_ADMIN_MAX_CONNECTIONS", "0", "integer in 1..10000" },
        { "FEATD_ADMIN_MAX_CONNECTIONS", "many", "integer in 1..10000" },
        { "FEATD_SLOW_REQUEST_MS", "600001", "0..600000" },
        { "FEATD_MATERIALIZE_PACING", "slow", "adaptive, fixed, off" },
        { "FEATD_MATERIALIZE_PACING", "", "adaptive, fixed, off" },
        { "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC", "-1", "integer in 0..1000000000" },
        { "FEATD_MATERIALIZE_MAX_ROWS_PER_SEC", "10k", "integer in 0..1000000000" },
        { "FEATD_MATERIALIZE_PACING_LATENCY_BUDGET_US", "10000001", "integer in 0..10000000" },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cases); i++) {
        clear_env();
        struct featd_config *cfg;
        char err[ERRLEN];
        ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
        setenv(cases[i].var, cases[i].val, 1);
        ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_ERR, "%s=%s accepted",
                      cases[i].var, cases[i].val);
        char want[64];
        snprintf(want, sizeof want, "%s: ", cases[i].var);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s=%s: %s", cases[i].var,
                      cases[i].val, err);
        ck_assert_msg(strstr(err, cases[i].word) != NULL, "%s=%s: %s", cases[i].var,
                      cases[i].val, err);
        config_free(cfg);
    }
    /* several bad variables: all reported */
    clear_env();
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
    setenv("FEATD_WORKERS", "x", 1);
    setenv("FEATD_LOG_LEVEL", "y", 1);
    ck_assert_int_eq(config_env_apply(cfg, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "FEATD_WORKERS: "));
    ck_assert_ptr_nonnull(strstr(err, "\nFEATD_LOG_LEVEL: "));
    config_free(cfg);
    /* url password in the environment conflicting with the file's password */
    clear_env();
    ck_assert_int_eq(load_sq(RDS("'password':'filepw'"), &cfg, err), FEATD_OK);
    setenv("FEATD_REDIS_URL", "redis://:other@h:1", 1);
    ck_assert_int_eq(config_env_apply(cfg, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "FEATD_REDIS_URL: "));
    ck_assert_ptr_nonnull(strstr(err, "differs"));
    config_free(cfg);
    clear_env();
}
END_TEST

/* FEATD_REDIS_CLUSTER_NODES, FEATD_REDIS_USERNAME, FEATD_REDIS_SENTINEL_PASSWORD. */
START_TEST(test_env_redis_modes)
{
    clear_env();
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
    setenv("FEATD_REDIS_CLUSTER_NODES", "10.0.0.1:7000, [::1]:7001,h:7002", 1);
    setenv("FEATD_REDIS_USERNAME", "featd", 1);
    setenv("FEATD_REDIS_PASSWORD", "pw", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_CLUSTER);
    ck_assert(!cfg->redis.embedded);
    ck_assert_uint_eq(cfg->redis.cluster_nodes.n, 3);
    ck_assert_str_eq(cfg->redis.cluster_nodes.v[1].host, "::1");
    ck_assert_int_eq(cfg->redis.cluster_nodes.v[2].port, 7002);
    ck_assert_str_eq(cfg->redis.username, "featd");
    /* "" = null: back to the embedded store; "" username = none */
    setenv("FEATD_REDIS_CLUSTER_NODES", "", 1);
    setenv("FEATD_REDIS_USERNAME", "", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_EMBEDDED);
    ck_assert(cfg->redis.embedded);
    ck_assert_uint_eq(cfg->redis.cluster_nodes.n, 0);
    ck_assert_ptr_null(cfg->redis.username);
    config_free(cfg);
    /* a url user goes with the url FEATD_REDIS_URL replaces */
    clear_env();
    ck_assert_int_eq(load_sq(RDS("'url':'redis://bob:pw@h'"), &cfg, err), FEATD_OK);
    setenv("FEATD_REDIS_URL", "redis://h2", 1);
    ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_OK, "%s", err);
    ck_assert_ptr_null(cfg->redis.username);
    ck_assert_ptr_null(cfg->redis.password);
    config_free(cfg);

    static const struct { const char *file, *var, *val, *word; } cases[] = {
        { RDS("'url':'redis://h'"), "FEATD_REDIS_CLUSTER_NODES", "h:1",
          "given together with $.redis.url" },
        { RDS("'cluster_nodes':['h:1']"), "FEATD_REDIS_URL", "redis://h",
          "given together with FEATD_REDIS_URL" },
        { VIEWX(""), "FEATD_REDIS_CLUSTER_NODES", "a:1,A:1", "duplicate node" },
        { VIEWX(""), "FEATD_REDIS_CLUSTER_NODES", "a:1,,b:2", "bad address" },
        { VIEWX(""), "FEATD_REDIS_CLUSTER_NODES", "a", "bad address" },
        { RDS("'url':'redis://h'"), "FEATD_REDIS_USERNAME", "u", "without a password" },
        { RDS("'url':'redis://h'"), "FEATD_REDIS_USERNAME", "u v", "whitespace" },
        { VIEWX(""), "FEATD_REDIS_SENTINEL_PASSWORD", "x", "$.redis.sentinel is not given" },
    };
    for (size_t i = 0; i < FEATD_ARRAY_LEN(cases); i++) {
        clear_env();
        ck_assert_msg(load_sq(cases[i].file, &cfg, err) == FEATD_OK, "%s", err);
        setenv(cases[i].var, cases[i].val, 1);
        if (strcmp(cases[i].var, "FEATD_REDIS_USERNAME") == 0) {
            unsetenv("FEATD_REDIS_PASSWORD");
        }
        ck_assert_msg(config_env_apply(cfg, err, sizeof err) == FEATD_ERR, "%s=%s accepted",
                      cases[i].var, cases[i].val);
        char want[64];
        snprintf(want, sizeof want, "%s", cases[i].var);
        ck_assert_msg(strstr(err, want) != NULL, "%s=%s: %s", cases[i].var, cases[i].val, err);
        ck_assert_msg(strstr(err, cases[i].word) != NULL, "%s=%s: %s", cases[i].var,
                      cases[i].val, err);
        config_free(cfg);
    }
    /* 65 seeds from the environment */
    clear_env();
    ck_assert_int_eq(load_sq(VIEWX(""), &cfg, err), FEATD_OK);
    char list[2048] = "";
    for (int i = 0; i < 65; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%sn%d:1", i ? "," : "", i);
    }
    setenv("FEATD_REDIS_CLUSTER_NODES", list, 1);
    ck_assert_int_eq(config_env_apply(cfg, err, sizeof err), FEATD_ERR);
    ck_assert_msg(strstr(err, "FEATD_REDIS_CLUSTER_NODES: 65 entries (at most 64") != NULL, "%s", err);
    config_free(cfg);
    clear_env();
}
END_TEST

START_TEST(test_repo_files)
{
    clear_env();
    struct featd_config *cfg;
    char err[ERRLEN];
    ck_assert_msg(config_load_file("config/featd.json", false, &cfg, err, sizeof err) == FEATD_OK,
                  "%s", err);
    ck_assert_str_eq(cfg->path, "config/featd.json");
    ck_assert(cfg->redis.embedded);
    ck_assert_str_eq(cfg->server.data_dir, "./featd-data");
    ck_assert_str_eq(cfg->server.listen, "127.0.0.1:6566");
    ck_assert_str_eq(cfg->server.admin_listen, "127.0.0.1:6567");
    ck_assert_uint_eq(cfg->nentities, 2);
    ck_assert_uint_eq(cfg->nviews, 3);
    bool seen[FT__COUNT] = { false };
    bool multi = false, composite = false;
    for (size_t i = 0; i < cfg->nviews; i++) {
        const struct cfg_view *v = &cfg->views[i];
        char want[256];
        snprintf(want, sizeof want, "examples/data/%s", v->name);
        ck_assert_str_eq(v->source_path, want);
        multi |= v->nentities > 1;
        for (size_t k = 0; k < v->nkeys; k++) {
            composite |= v->keys[k].type == FT_STRING;
        }
        for (size_t f = 0; f < v->nfeatures; f++) {
            seen[v->features[f].type] = true;
        }
    }
    for (int t = 0; t < FT__COUNT; t++) {
        ck_assert_msg(seen[t], "featd.json lacks a %s feature", config_type_name(t));
    }
    ck_assert(multi);
    ck_assert(composite);
    config_free(cfg);

    ck_assert_msg(config_load_file("config/featd-test.json", true, &cfg, err, sizeof err) == FEATD_OK,
                  "%s", err);
    ck_assert_uint_ge(cfg->nviews, 1);
    config_free(cfg);

    /* the Cluster and Sentinel examples */
    ck_assert_msg(config_load_file("config/featd-cluster.json", false, &cfg, err, sizeof err) ==
                  FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_CLUSTER);
    ck_assert_uint_eq(cfg->redis.cluster_nodes.n, 3);
    ck_assert_ptr_nonnull(cfg->redis.username);
    config_free(cfg);
    ck_assert_msg(config_load_file("config/featd-sentinel.json", false, &cfg, err, sizeof err) ==
                  FEATD_OK, "%s", err);
    ck_assert_int_eq(cfg->redis.mode, REDIS_MODE_SENTINEL);
    ck_assert_uint_eq(cfg->redis.sentinel.nodes.n, 3);
    ck_assert_str_eq(cfg->redis.sentinel.master_name, "featd");
    config_free(cfg);

    /* env applied by config_load_file only when asked */
    setenv("FEATD_WORKERS", "7", 1);
    ck_assert_int_eq(config_load_file("config/featd.json", true, &cfg, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(cfg->server.workers, 7);
    config_free(cfg);
    ck_assert_int_eq(config_load_file("config/featd.json", false, &cfg, err, sizeof err), FEATD_OK);
    ck_assert_int_eq(cfg->server.workers, 2);
    config_free(cfg);
    setenv("FEATD_WORKERS", "abc", 1);
    ck_assert_int_eq(config_load_file("config/featd.json", true, &cfg, err, sizeof err), FEATD_ERR);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, "FEATD_WORKERS: "));
    clear_env();

    /* missing and empty files */
    ck_assert_int_eq(config_load_file("config/no-such.json", false, &cfg, err, sizeof err),
                     FEATD_ERR);
    ck_assert_ptr_nonnull(strstr(err, "config/no-such.json"));
    char tmpl[] = "/tmp/check_config_XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(config_load_file(tmpl, false, &cfg, err, sizeof err), FEATD_ERR);
    ck_assert_msg(strstr(err, "$: invalid JSON at line 1") != NULL, "%s", err);
    unlink(tmpl);
}
END_TEST

START_TEST(test_restart_needed)
{
    struct featd_config *a, *b;
    char err[ERRLEN], out[2048];
    ck_assert_int_eq(load_sq(VIEWX(""), &a, err), FEATD_OK);
    ck_assert_int_eq(config_reload_restart_needed(a, a, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(load_sq(DOC("'server':{'workers':3,'log_level':'debug','request_timeout_ms':5},"
                                 "'redis':{'url':'redis://:pw@h:1'},", ENT_C, VIEW("")), &b, err),
                     FEATD_OK);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 3);
    ck_assert_ptr_nonnull(strstr(out, "$.server.workers: changed from 2 to 3"));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.url: "));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.password: changed from null to \"***\""));
    ck_assert_ptr_null(strstr(out, "log_level"));
    ck_assert_ptr_null(strstr(out, "pw\""));
    config_free(a);
    config_free(b);
}
END_TEST

/* The new redis keys are restart-only: a reload that changes them is
 * reported (passwords masked) and keeps the running values, also for a
 * change far into a long node list. */
START_TEST(test_restart_needed_redis_modes)
{
    struct featd_config *a, *b;
    char err[ERRLEN], out[4096], json[8192], list[4096] = "";
    for (int i = 0; i < 60; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s'node-%d.example:7000'", i ? "," : "", i);
    }
    snprintf(json, sizeof json, RDS("'cluster_nodes':[%s]"), list);
    ck_assert_msg(load_sq(json, &a, err) == FEATD_OK, "%s", err);
    char *p = strstr(list, "node-59");
    ck_assert_ptr_nonnull(p);
    p[5] = '8';     /* node-59 -> node-89: a change past any rendering cap */
    snprintf(json, sizeof json, RDS("'cluster_nodes':[%s],'read_from_replicas':true,"
                                    "'username':'u','password':'secretpw'"), list);
    ck_assert_msg(load_sq(json, &b, err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 4);
    ck_assert_ptr_nonnull(strstr(out, "$.redis.cluster_nodes: changed from [\"node-0.example:7000\""));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.read_from_replicas: changed from false to true"));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.username: changed from null to \"u\""));
    ck_assert_ptr_null(strstr(out, "secretpw"));
    config_reload_keep_restart_only(a, b);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 0);
    ck_assert_str_eq(b->redis.cluster_nodes.v[59].host, "node-59.example");
    ck_assert(!b->redis.read_from_replicas);
    ck_assert_ptr_null(b->redis.username);
    ck_assert_int_eq(b->redis.mode, REDIS_MODE_CLUSTER);
    config_free(b);
    /* cluster -> sentinel: the mode is kept with the keys */
    ck_assert_msg(load_sq(RDS("'sentinel':{'master_name':'m','nodes':['s:1'],'password':'spw'}"),
                          &b, err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 5);
    ck_assert_ptr_nonnull(strstr(out, "$.redis.sentinel: changed from null to {...}"));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.sentinel.master_name: changed from null to \"m\""));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.sentinel.nodes: changed from null to [\"s:1\"]"));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.sentinel.password: changed from null to \"***\""));
    ck_assert_ptr_nonnull(strstr(out, "$.redis.cluster_nodes: changed from ["));
    ck_assert_ptr_null(strstr(out, "spw"));
    config_reload_keep_restart_only(a, b);
    ck_assert_int_eq(b->redis.mode, REDIS_MODE_CLUSTER);
    ck_assert(!b->redis.sentinel.given);
    ck_assert_ptr_null(b->redis.sentinel.password);
    ck_assert_uint_eq(b->redis.sentinel.nodes.n, 0);
    ck_assert_uint_eq(b->redis.cluster_nodes.n, 60);
    config_free(a);
    config_free(b);
}
END_TEST

/* The materialize keys: all set, all reloadable (a SIGHUP applies them). */
START_TEST(test_materialize_keys)
{
    struct featd_config *a, *b;
    char err[ERRLEN], out[2048];
    ck_assert_int_eq(load_sq(VIEWX(""), &a, err), FEATD_OK);
    ck_assert_msg(load_sq(MATC("'pacing':'off','max_rows_per_sec':250000,"
                               "'pacing_latency_budget_us':0,'pacing_min_rows_per_sec':1"),
                          &b, err) == FEATD_OK, "%s", err);
    ck_assert_int_eq(b->materialize.pacing, MATP_OFF);
    ck_assert_int_eq(b->materialize.max_rows_per_sec, 250000);
    ck_assert_int_eq(b->materialize.pacing_latency_budget_us, 0);
    ck_assert_int_eq(b->materialize.pacing_min_rows_per_sec, 1);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 0);
    config_reload_keep_restart_only(a, b);
    ck_assert_int_eq(b->materialize.pacing, MATP_OFF);     /* the new values stay */
    ck_assert_int_eq(b->materialize.max_rows_per_sec, 250000);
    config_free(b);
    ck_assert_msg(load_sq(MATC("'pacing':'fixed','max_rows_per_sec':1000000000"), &b, err) ==
                  FEATD_OK, "%s", err);
    ck_assert_int_eq(b->materialize.pacing, MATP_FIXED);
    ck_assert_int_eq(b->materialize.max_rows_per_sec, 1000000000);
    config_free(b);
    config_free(a);
}
END_TEST

/* A reload keeps the running value of every restart-only key (and what
 * redis.url resolved to) and takes the reloadable ones from the new file. */
START_TEST(test_keep_restart_only)
{
    struct featd_config *a, *b;
    char err[ERRLEN], out[2048];
    ck_assert_int_eq(load_sq(DOC("'server':{'listen':'127.0.0.1:7001','workers':3},"
                                 "'redis':{'url':'redis://:pw@h:1/2','key_prefix':'p1'},",
                                 ENT_C, VIEW("")), &a, err), FEATD_OK);
    ck_assert_int_eq(load_sq(DOC("'server':{'listen':'127.0.0.1:7002','workers':4,"
                                 "'log_level':'debug','request_timeout_ms':5},"
                                 "'redis':{'url':'unix:///tmp/r.sock?db=3','timeout_ms':9},",
                                 ENT_C, VIEW("")), &b, err), FEATD_OK);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 6);
    config_reload_keep_restart_only(a, b);
    ck_assert_int_eq(config_reload_restart_needed(a, b, out, sizeof out), 0);
    ck_assert_str_eq(b->server.listen, "127.0.0.1:7001");
    ck_assert_int_eq(b->server.workers, 3);
    ck_assert_str_eq(b->redis.url, "redis://:pw@h:1/2");
    ck_assert_str_eq(b->redis.password, "pw");
    ck_assert_str_eq(b->redis.key_prefix, "p1");
    ck_assert_int_eq(b->redis.timeout_ms, 200);
    ck_assert(!b->redis.embedded);
    ck_assert_str_eq(b->redis.host, "h");
    ck_assert_int_eq(b->redis.port, 1);
    ck_assert_int_eq(b->redis.db, 2);
    ck_assert_ptr_null(b->redis.unix_path);
    ck_assert_str_eq(b->server.log_level, "debug");
    ck_assert_int_eq(b->server.request_timeout_ms, 5);
    config_free(a);
    config_free(b);
}
END_TEST

/* config/featd.json is the complete example: it gives every key of the
 * generated table (the keys inside redis.sentinel, which cannot be given
 * with the others, are in config/featd-sentinel.json). */
START_TEST(test_examples_list_every_key)
{
    struct fbuf md = { 0 };
    ck_assert_int_eq(config_doc_markdown(&md), FEATD_OK);
    ck_assert_int_eq(fbuf_append(&md, "", 0), FEATD_OK);
    json_error_t jerr;
    json_t *full = json_load_file("config/featd.json", 0, &jerr);
    json_t *sent = json_load_file("config/featd-sentinel.json", 0, &jerr);
    ck_assert_ptr_nonnull(full);
    ck_assert_ptr_nonnull(sent);
    int nkeys = 0;
    for (const char *p = strstr(md.data, "\n| `"); p != NULL; p = strstr(p + 1, "\n| `")) {
        const char *k = p + 4, *e = strchr(k, '`');
        ck_assert_ptr_nonnull(e);
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(e - k), k);
        /* walk "a.b.c" through the object */
        json_t *at = strncmp(key, "redis.sentinel.", 15) == 0 ? sent : full;
        char *save = NULL;
        for (char *part = strtok_r(key, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
            ck_assert_msg(json_is_object(at), "example lacks the object holding %s", part);
            at = json_object_get(at, part);
            ck_assert_msg(at != NULL, "an example config lacks key %.*s", (int)(e - k), k);
        }
        nkeys++;
    }
    ck_assert_int_ge(nkeys, 30);
    json_decref(full);
    json_decref(sent);
    fbuf_free(&md);
}
END_TEST

/* docs/config.md must embed exactly the table config_doc_markdown prints. */
START_TEST(test_docs_in_sync)
{
    struct fbuf md = { 0 };
    ck_assert_int_eq(config_doc_markdown(&md), FEATD_OK);
    FILE *f = fopen("docs/config.md", "r");
    ck_assert_msg(f != NULL, "docs/config.md missing (run from the repo root)");
    struct fbuf doc = { 0 };
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ck_assert_int_eq(fbuf_append(&doc, buf, n), FEATD_OK);
    }
    fclose(f);
    ck_assert_int_eq(fbuf_append(&doc, "", 0), FEATD_OK);
    if (strstr(doc.data, md.data) == NULL) {
        fprintf(stderr, "docs/config.md is out of date; the key table should read:\n%s", md.data);
        ck_abort_msg("docs/config.md does not contain the generated key table");
    }
    fbuf_free(&doc);
    fbuf_free(&md);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("bad");
    tcase_add_loop_test(tc, test_bad_configs, 0, (int)FEATD_ARRAY_LEN(bad_cases));
    tcase_add_test(tc, test_many_errors_collected);
    tcase_add_test(tc, test_hostile_strings);
    suite_add_tcase(s, tc);
    tc = tcase_create("good");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_view_join_key_limit);
    tcase_add_test(tc, test_stream_source);
    tcase_add_test(tc, test_full_view);
    tcase_add_test(tc, test_fingerprint);
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_hostport);
    tcase_add_test(tc, test_redis_urls);
    tcase_add_test(tc, test_redis_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("env");
    tcase_add_test(tc, test_env_good);
    tcase_add_test(tc, test_env_bad);
    tcase_add_test(tc, test_env_redis_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, test_repo_files);
    tcase_add_test(tc, test_restart_needed);
    tcase_add_test(tc, test_keep_restart_only);
    tcase_add_test(tc, test_restart_needed_redis_modes);
    tcase_add_test(tc, test_materialize_keys);
    tcase_add_test(tc, test_redis_password_file);
    tcase_add_test(tc, test_docs_in_sync);
    tcase_add_test(tc, test_examples_list_every_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
