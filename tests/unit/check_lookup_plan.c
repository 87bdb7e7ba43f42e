/*
 * check_lookup_plan.c — lookup_plan_build directly, without Redis or a
 * socket: valid plans (feature order, "view:*", views shared and in
 * first-use order, composite keys, columns shared between views) and each
 * refusal with its message (what e2e_serve checks through the wire).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "config/config.h"
#include "core/arena.h"
#include "serve/lookup_plan.h"

#define CFG \
    "{ \"server\": { \"listen\": \"127.0.0.1:6566\", \"max_entities_per_request\": 100 }," \
    "  \"redis\": { \"url\": \"redis://127.0.0.1:1/0\" }," \
    "  \"entities\": [" \
    "    { \"name\": \"user\", \"join_keys\": [ { \"name\": \"user_id\", \"type\": \"int64\" } ] }," \
    "    { \"name\": \"item\", \"join_keys\": [ { \"name\": \"item_id\", \"type\": \"string\" } ] } ]," \
    "  \"feature_views\": [" \
    "    { \"name\": \"all_types\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"b\", \"type\": \"bool\" }, { \"name\": \"i64\", \"type\": \"int64\" }," \
    "        { \"name\": \"s\", \"type\": \"string\" } ] }," \
    "    { \"name\": \"user_item\", \"entities\": [\"user\", \"item\"], \"features\": [" \
    "        { \"name\": \"score\", \"type\": \"float\" }, { \"name\": \"seen\", \"type\": \"bool\" } ] }," \
    "    { \"name\": \"profile\", \"entities\": [\"user\"], \"features\": [" \
    "        { \"name\": \"age\", \"type\": \"int64\" }, { \"name\": \"city\", \"type\": \"string\" } ] } ] }"

static struct featd_config *cfg;
static struct arena A;

/* A GetOnlineFeatures request built in the arena A. */
struct req {
    Featd__V1__GetOnlineFeaturesRequest g;
    char *feats[8192];
    Featd__V1__EntityColumn *cols[8192];
};

static void setup(void)
{
    char err[256];
    ck_assert_msg(config_load_string(CFG, &cfg, err, sizeof err) == FEATD_OK, "config: %s", err);
    arena_init(&A, 64u << 20);
}

static void teardown(void)
{
    arena_release(&A);
    config_free(cfg);
    cfg = NULL;
}

static struct req *req_new(void)
{
    struct req *r = arena_alloc(&A, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    memset(r, 0, sizeof(*r));
    featd__v1__get_online_features_request__init(&r->g);
    r->g.features = r->feats;
    r->g.entities = r->cols;
    return r;
}

static void add_feature(struct req *r, const char *ref)
{
    r->feats[r->g.n_features++] = (char *)ref;
}

/* The column named key (added when new). */
static Featd__V1__EntityColumn *col(struct req *r, const char *key)
{
    for (size_t i = 0; i < r->g.n_entities; i++) {
        if (strcmp(r->cols[i]->join_key, key) == 0) {
            return r->cols[i];
        }
    }
    Featd__V1__EntityColumn *c = arena_alloc(&A, sizeof(*c));
    featd__v1__entity_column__init(c);
    c->join_key = (char *)key;
    c->values = arena_alloc(&A, sizeof(*c->values) * 256);
    r->cols[r->g.n_entities++] = c;
    return c;
}

static Featd__V1__Value *add_value(struct req *r, const char *key)
{
    Featd__V1__EntityColumn *c = col(r, key);
    Featd__V1__Value *v = arena_alloc(&A, sizeof(*v));
    featd__v1__value__init(v);
    c->values[c->n_values++] = v;
    return v;
}

static void add_int64(struct req *r, const char *key, int64_t x)
{
    Featd__V1__Value *v = add_value(r, key);
    v->kind_case = FEATD__V1__VALUE__KIND_INT64_VAL;
    v->int64_val = x;
}

static void add_string(struct req *r, const char *key, const char *s)
{
    Featd__V1__Value *v = add_value(r, key);
    v->kind_case = FEATD__V1__VALUE__KIND_STRING_VAL;
    v->string_val = (char *)s;
}

static const struct lookup_plan *plan_ok(struct req *r)
{
    struct lookup_plan_error err = { 0 };
    const struct lookup_plan *p = lookup_plan_build(cfg, &r->g, &A, &err);
    ck_assert_msg(p != NULL, "refused: %s", err.msg);
    return p;
}

/* Asserts r is refused with code and a message containing needle. */
static void plan_bad(struct req *r, int code, const char *needle)
{
    struct lookup_plan_error err = { 0 };
    ck_assert_ptr_null(lookup_plan_build(cfg, &r->g, &A, &err));
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "wanted \"%s\" in: %s", needle, err.msg);
}

#define BAD_ARG FEATD__V1__ERROR_CODE__INVALID_ARGUMENT

START_TEST(test_single_view)
{
    struct req *r = req_new();
    add_feature(r, "all_types:s");
    add_feature(r, "all_types:b");
    add_int64(r, "user_id", 7);
    add_int64(r, "user_id", 7);     /* the same entity twice: still two rows */
    const struct lookup_plan *p = plan_ok(r);
    ck_assert_uint_eq(p->nviews, 1);
    ck_assert_uint_eq(p->nfeats, 2);
    ck_assert_uint_eq(p->nrows, 2);
    ck_assert_ptr_eq(p->views[0].v, config_find_view(cfg, "all_types"));
    ck_assert_uint_eq(p->views[0].vidx, 0);
    ck_assert_int_eq(p->views[0].key_col[0], 0);
    ck_assert_str_eq(p->feats[0].name, "all_types:s");
    ck_assert_int_eq(p->feats[0].fidx, 2);
    ck_assert_str_eq(p->feats[1].name, "all_types:b");
    ck_assert_int_eq(p->feats[1].fidx, 0);
}
END_TEST

START_TEST(test_star_and_multi_view)
{
    struct req *r = req_new();
    add_feature(r, "profile:*");
    add_feature(r, "user_item:score");
    add_feature(r, "all_types:i64");
    add_feature(r, "user_item:seen");
    add_string(r, "item_id", "book");
    add_int64(r, "user_id", 1);
    const struct lookup_plan *p = plan_ok(r);
    ck_assert_uint_eq(p->nviews, 3);        /* first-use order, each once */
    ck_assert_str_eq(p->views[0].v->name, "profile");
    ck_assert_str_eq(p->views[1].v->name, "user_item");
    ck_assert_str_eq(p->views[2].v->name, "all_types");
    ck_assert_uint_eq(p->nfeats, 5);        /* request order; "*" expands in view order */
    const char *want[] = { "profile:age", "profile:city", "user_item:score", "all_types:i64", "user_item:seen" };
    const size_t want_pv[] = { 0, 0, 1, 2, 1 };
    for (size_t f = 0; f < 5; f++) {
        ck_assert_str_eq(p->feats[f].name, want[f]);
        ck_assert_uint_eq(p->feats[f].pv, want_pv[f]);
    }
    /* composite key of user_item: user_id is column 1, item_id column 0 */
    ck_assert_int_eq(p->views[1].key_col[0], 1);
    ck_assert_int_eq(p->views[1].key_col[1], 0);
    /* the user_id column feeds all three views */
    ck_assert_int_eq(p->views[0].key_col[0], 1);
    ck_assert_int_eq(p->views[2].key_col[0], 1);
    ck_assert_uint_eq(p->nrows, 1);
}
END_TEST

START_TEST(test_int32_key_accepted)
{
    struct req *r = req_new();
    add_feature(r, "profile:age");
    Featd__V1__Value *v = add_value(r, "user_id");
    v->kind_case = FEATD__V1__VALUE__KIND_INT32_VAL;
    v->int32_val = 3;
    ck_assert_uint_eq(plan_ok(r)->nrows, 1);
}
END_TEST

START_TEST(test_refusals)
{
    struct req *r = req_new();
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "no features");

    r = req_new();
    add_feature(r, "nope:x");
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "unknown feature view \"nope\"");

    r = req_new();
    add_feature(r, "all_types:nope");
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "feature view \"all_types\" has no feature \"nope\"");

    const char *malformed[] = { "all_types", ":b", "all_types:" };
    for (size_t i = 0; i < 3; i++) {
        r = req_new();
        add_feature(r, malformed[i]);
        add_int64(r, "user_id", 1);
        plan_bad(r, BAD_ARG, "not of the form");
    }

    r = req_new();
    add_feature(r, "user_item:score");
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "missing join key \"item_id\" required by feature view \"user_item\"");

    r = req_new();
    add_feature(r, "all_types:b");
    add_string(r, "user_id", "42");
    plan_bad(r, BAD_ARG, "join key \"user_id\" row 0: expected int64_val, got string_val");

    r = req_new();
    add_feature(r, "all_types:b");
    add_value(r, "user_id");
    plan_bad(r, BAD_ARG, "got null");

    r = req_new();
    add_feature(r, "user_item:score");
    add_int64(r, "user_id", 1);
    add_int64(r, "item_id", 2);
    plan_bad(r, BAD_ARG, "join key \"item_id\" row 0: expected string_val, got int64_val");

    r = req_new();
    add_feature(r, "user_item:score");
    add_int64(r, "user_id", 1);
    add_int64(r, "user_id", 2);
    add_string(r, "item_id", "book");
    plan_bad(r, BAD_ARG, "entity columns have unequal lengths: \"user_id\" has 2 values, \"item_id\" has 1");

    r = req_new();
    add_feature(r, "all_types:b");
    add_int64(r, "user_id", 1);
    add_string(r, "item_id", "book");
    plan_bad(r, BAD_ARG, "join key \"item_id\" is not used by any requested feature view");

    r = req_new();
    add_feature(r, "all_types:b");
    add_feature(r, "all_types:*");
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "feature \"all_types:b\" is requested more than once");

    r = req_new();
    add_feature(r, "all_types:b");
    plan_bad(r, BAD_ARG, "no entity columns given");

    r = req_new();
    add_feature(r, "all_types:b");
    add_int64(r, "", 1);
    plan_bad(r, BAD_ARG, "entity column 0 has an empty join_key");

    r = req_new();
    add_feature(r, "user_item:score");
    add_int64(r, "user_id", 1);
    add_string(r, "item_id", "a");
    r->cols[r->g.n_entities++] = r->cols[0];    /* user_id again */
    plan_bad(r, BAD_ARG, "join key \"user_id\" is given more than once");

    r = req_new();
    add_feature(r, "all_types:b");
    for (int i = 0; i < 101; i++) {
        add_int64(r, "user_id", i);
    }
    plan_bad(r, BAD_ARG, "too many entities: 101 rows exceed max_entities_per_request (100)");
}
END_TEST

/* Hostile sizes are refused from cheap bounds (e2e_serve sends them too). */
/* Issue #12 failure 6: request bytes quoted into a refusal never make the
 * message invalid UTF-8 (it becomes a protobuf string); invalid bytes read
 * as U+FFFD, control bytes as escapes. */
START_TEST(test_refusal_messages_are_utf8)
{
    static const char *const bad_feats[] = {
        "n\xFFpe:x", "all_types:n\xC0\x80pe", "\xED\xA0\x80", "all_types:\xE2\x82",
        "vi\x01" "ew:\xF4\x90\x80\x80", "all_types:b\xFE" };
    for (size_t i = 0; i < sizeof(bad_feats) / sizeof(bad_feats[0]); i++) {
        struct req *r = req_new();
        add_feature(r, bad_feats[i]);
        add_int64(r, "user_id", 1);
        struct lookup_plan_error err = { 0 };
        ck_assert_ptr_null(lookup_plan_build(cfg, &r->g, &A, &err));
        ck_assert_int_eq(err.code, BAD_ARG);
        ck_assert_msg(jsonw_utf8_valid(err.msg, strlen(err.msg)), "case %zu: %s", i, err.msg);
    }
    struct req *r = req_new();
    add_feature(r, "n\xFFpe:x");
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "unknown feature view \"n\xEF\xBF\xBDpe\"");

    r = req_new();
    add_feature(r, "all_types:b");
    add_int64(r, "user_id", 1);
    add_int64(r, "us\xC3\x28r\n", 1);           /* an invalid 2-byte sequence, a newline */
    plan_bad(r, BAD_ARG, "join key \"us\xEF\xBF\xBD(r\\n\" is not used");

    /* a long invalid reference: the cut message is still valid */
    char *big = arena_alloc(&A, 2000);
    for (int i = 0; i < 1999; i++) {
        big[i] = i % 3 == 0 ? 'a' : (char)0xC3;
    }
    big[1999] = '\0';
    r = req_new();
    add_feature(r, big);
    add_int64(r, "user_id", 1);
    struct lookup_plan_error err = { 0 };
    ck_assert_ptr_null(lookup_plan_build(cfg, &r->g, &A, &err));
    ck_assert(jsonw_utf8_valid(err.msg, strlen(err.msg)));
}
END_TEST

START_TEST(test_hostile_sizes)
{
    static char names[4000][8];
    struct req *r = req_new();
    add_feature(r, "all_types:b");
    add_int64(r, "user_id", 1);
    for (int i = 0; i < 4000; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        col(r, names[i]);       /* no rows */
    }
    plan_bad(r, BAD_ARG, "join key \"k0\" is not used");

    r = req_new();
    for (int i = 0; i < 3000; i++) {
        add_feature(r, "all_types:*");
    }
    add_int64(r, "user_id", 1);
    plan_bad(r, BAD_ARG, "3000 feature references, but the registry has only 7 features: some are repeated");
}
END_TEST

START_TEST(test_arena_limit)
{
    struct arena small;
    arena_init(&small, 64);
    struct req *r = req_new();
    add_feature(r, "profile:*");
    add_int64(r, "user_id", 1);
    struct lookup_plan_error err = { 0 };
    ck_assert_ptr_null(lookup_plan_build(cfg, &r->g, &small, &err));
    ck_assert_int_eq(err.code, FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED);
    ck_assert_str_eq(err.msg, "request needs more memory than allowed");
    arena_release(&small);
}
END_TEST

static Suite *plan_suite(void)
{
    Suite *s = suite_create("lookup_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_single_view);
    tcase_add_test(tc, test_star_and_multi_view);
    tcase_add_test(tc, test_int32_key_accepted);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_refusal_messages_are_utf8);
    tcase_add_test(tc, test_hostile_sizes);
    tcase_add_test(tc, test_arena_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
