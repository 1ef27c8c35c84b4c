/* The API route table semantics: literal and {param} segments, the trailing rest match of
 * the HTTP trigger, HEAD on GET routes, and 404 versus 405 (with the Allow list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/router.h"

static void h_list(void) {}
static void h_deploy(void) {}
static void h_get(void) {}
static void h_put(void) {}
static void h_del(void) {}
static void h_invoke(void) {}
static void h_exec(void) {}
static void h_trigger(void) {}

static const route_t table[] = {
    {"GET", "/v1/functions", h_list},          {"POST", "/v1/functions", h_deploy},
    {"GET", "/v1/functions/{name}", h_get},    {"PUT", "/v1/functions/{name}", h_put},
    {"DELETE", "/v1/functions/{name}", h_del}, {"POST", "/v1/functions/{name}/invoke", h_invoke},
    {"GET", "/v1/executions/{id}", h_exec},    {"*", "/fn/{name}/*", h_trigger},
};
#define N (sizeof table / sizeof table[0])

static route_status_t match(const char *method, const char *path, route_match_t *m) {
    return router_match(table, N, method, path, m);
}

static void test_literal_routes_dispatch_by_method(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("GET", "/v1/functions", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_list);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(match("POST", "/v1/functions", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_deploy);
}

static void test_params_are_copied_out(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("POST", "/v1/functions/hello-2/invoke", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_invoke);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "hello-2");
    assert_int_equal(match("DELETE", "/v1/functions/x", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_del);
    assert_string_equal(m.params[0], "x");
    assert_int_equal(match("GET", "/v1/executions/01ABC", &m), ROUTE_FOUND);
    assert_string_equal(m.params[0], "01ABC");
}

static void test_empty_param_segment_is_not_found(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("GET", "/v1/functions/", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("POST", "/v1/functions//invoke", &m), ROUTE_NOT_FOUND);
}

static void test_unknown_paths_are_not_found(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("GET", "/", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1/functionsx", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1/functions/a/b", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/v1/functions/a/invoke/extra", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/fn", &m), ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/fn/", &m), ROUTE_NOT_FOUND);
}

static void test_wrong_method_is_405_with_allow_list(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("PATCH", "/v1/functions/hello", &m), ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, PUT, DELETE");
    assert_int_equal(match("DELETE", "/v1/functions", &m), ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    assert_int_equal(match("GET", "/v1/functions/hello/invoke", &m), ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
}

static void test_head_matches_get_routes(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("HEAD", "/v1/functions/hello", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_get);
}

static void test_trigger_matches_any_method_and_keeps_the_rest(void **state) {
    (void)state;
    route_match_t m;
    assert_int_equal(match("GET", "/fn/hello", &m), ROUTE_FOUND);
    assert_ptr_equal(m.route->handler, h_trigger);
    assert_string_equal(m.params[0], "hello");
    assert_string_equal(m.rest, "");
    assert_int_equal(match("PATCH", "/fn/hello/", &m), ROUTE_FOUND);
    assert_string_equal(m.rest, "/");
    assert_int_equal(match("POST", "/fn/hello/orders/42", &m), ROUTE_FOUND);
    assert_string_equal(m.params[0], "hello");
    assert_string_equal(m.rest, "/orders/42");
}

static void test_overlong_param_is_not_found(void **state) {
    (void)state;
    char path[1200] = "/v1/functions/";
    memset(path + strlen(path), 'a', 900);
    route_match_t m;
    assert_int_equal(match("GET", path, &m), ROUTE_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_routes_dispatch_by_method),
        cmocka_unit_test(test_params_are_copied_out),
        cmocka_unit_test(test_empty_param_segment_is_not_found),
        cmocka_unit_test(test_unknown_paths_are_not_found),
        cmocka_unit_test(test_wrong_method_is_405_with_allow_list),
        cmocka_unit_test(test_head_matches_get_routes),
        cmocka_unit_test(test_trigger_matches_any_method_and_keeps_the_rest),
        cmocka_unit_test(test_overlong_param_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
