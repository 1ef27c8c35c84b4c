/* The function-source transform: `export default` and CommonJS styles, strings, comments,
 * templates and regexes that merely contain the keywords, and line numbers preserved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/module.h"

#include <stdlib.h>
#include <string.h>

static int count_lines(const char *s, size_t n) {
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

/* The user's code as it appears inside the wrapper (between prefix and suffix). */
static char *body_of(const module_src_t *m, size_t user_len) {
    char *b = malloc(user_len + 1);
    memcpy(b, m->code + m->prefix_cols, user_len);
    b[user_len] = '\0';
    return b;
}

static void transform_ok(const char *src, module_src_t *m) {
    module_error_t e;
    int rc = module_transform(src, strlen(src), m, &e);
    if (rc != 0) fail_msg("transform failed: %s (%d:%d)", e.message, e.line, e.column);
}

static void test_export_default_becomes_assignment_with_same_columns(void **state) {
    (void)state;
    const char *src = "// hello\nexport default async function (event, ctx) {\n  return 1;\n}\n";
    module_src_t m;
    transform_ok(src, &m);
    char *body = body_of(&m, strlen(src));
    assert_non_null(strstr(body, "\n__r3e_d.v=     async function (event, ctx) {"));
    assert_null(strstr(body, "export"));
    assert_int_equal(strlen(body), strlen(src)); /* same length: columns unchanged */
    /* the wrapper adds exactly one line, after the user's code */
    assert_int_equal(count_lines(m.code, m.len), count_lines(src, strlen(src)) + 1);
    assert_int_equal(strncmp(m.code, "(async function(module,exports,__r3e_d){", m.prefix_cols), 0);
    free(body);
    module_src_free(&m);
}

static void test_named_default_declaration_stays_declared(void **state) {
    (void)state;
    const char *src = "export default async function handler(e) { return helper(); }\n"
                      "function helper() { return handler.name; }\n";
    module_src_t m;
    transform_ok(src, &m);
    assert_non_null(strstr(m.code, "{               async function handler(e)"));
    assert_non_null(strstr(m.code, "\n;__r3e_d.v=handler;})"));
    module_src_free(&m);

    transform_ok("export default class Greeter { hi() {} }", &m);
    assert_non_null(strstr(m.code, "__r3e_d.v=Greeter;"));
    module_src_free(&m);

    transform_ok("export default class extends Base {}", &m);
    assert_non_null(strstr(m.code, "__r3e_d.v=     class extends Base {}"));
    module_src_free(&m);
}

static void test_commonjs_source_is_copied_verbatim(void **state) {
    (void)state;
    const char *src = "module.exports = async (event) => ({ ok: true });\n"
                      "exports.handler = module.exports;";
    module_src_t m;
    transform_ok(src, &m);
    char *body = body_of(&m, strlen(src));
    assert_string_equal(body, src);
    assert_string_equal(m.code + m.prefix_cols + strlen(src), "\n;})");
    free(body);
    module_src_free(&m);
}

static void test_keywords_inside_strings_comments_templates_regexes_untouched(void **state) {
    (void)state;
    const char *src = "const a = 'export default 1', b = \"import x from 'y'\";\n"
                      "/* export default 2\n   import z */ // export default 3\n"
                      "const t = `export default ${ `nested ${'}'} export default` } import`;\n"
                      "const r = /export default ['\"`]/g, d = 4 / 2 / 1;\n"
                      "const o = { export: 1, import: 2 }; o.export; o?.import;\n"
                      "import('dynamic'); const u = import.meta;\n"
                      "module.exports = () => a;\n";
    module_src_t m;
    transform_ok(src, &m);
    char *body = body_of(&m, strlen(src));
    assert_string_equal(body, src);
    free(body);
    module_src_free(&m);
}

static void test_default_found_after_tricky_tokens(void **state) {
    (void)state;
    const char *src = "const re = /[/`'\"]/; const s = `a${ {x: '}'}.x }b`;\n"
                      "let i = 0; i++ / 2;\n"
                      "export default () => s;\n";
    module_src_t m;
    transform_ok(src, &m);
    assert_non_null(strstr(m.code, "\n__r3e_d.v=     () => s;"));
    module_src_free(&m);
}

static void test_import_declaration_rejected_with_position(void **state) {
    (void)state;
    const char *src = "const a = 1;\n  import fs from 'fs';\nexport default () => a;";
    module_src_t m;
    module_error_t e;
    assert_int_equal(module_transform(src, strlen(src), &m, &e), -1);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.column, 3);
    assert_non_null(strstr(e.message, "import"));
}

static void test_other_export_forms_rejected(void **state) {
    (void)state;
    module_src_t m;
    module_error_t e;
    const char *bad[] = {"export const a = 1;", "const a = 1;\nexport { a };",
                         "export function f() {}", "export default 1;\nexport default 2;"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(module_transform(bad[k], strlen(bad[k]), &m, &e), -1);
        assert_true(e.line >= 1);
        assert_true(e.column >= 1);
    }
    assert_int_equal(module_transform(bad[1], strlen(bad[1]), &m, &e), -1);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.column, 1);
}

static void test_hashbang_becomes_comment(void **state) {
    (void)state;
    const char *src = "#!/usr/bin/env node\nmodule.exports = () => 1;";
    module_src_t m;
    transform_ok(src, &m);
    assert_non_null(strstr(m.code, "{///usr/bin/env node\nmodule.exports"));
    module_src_free(&m);
}

static void test_nul_bytes_and_invalid_utf8_are_reported_where_they_are(void **state) {
    (void)state;
    module_src_t m;
    module_error_t e;
    const char nul[] = "const a = 1;\nconst b = '\0';";
    assert_int_equal(module_transform(nul, sizeof nul - 1, &m, &e), -1);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.column, 12);
    assert_non_null(strstr(e.message, "NUL"));
    const char *bad = "const s = '\xff';";
    assert_int_equal(module_transform(bad, strlen(bad), &m, &e), -1);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 12);
    const char *good =
        "const s = 'h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'; module.exports = () => s;";
    transform_ok(good, &m);
    module_src_free(&m);
}

static void test_user_column_maps_line_one_only(void **state) {
    (void)state;
    module_src_t m;
    transform_ok("export default 1", &m);
    assert_int_equal(module_user_column(&m, 1, (int)m.prefix_cols + 5), 5);
    assert_int_equal(module_user_column(&m, 1, 2), 1);
    assert_int_equal(module_user_column(&m, 2, 7), 7);
    module_src_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_default_becomes_assignment_with_same_columns),
        cmocka_unit_test(test_named_default_declaration_stays_declared),
        cmocka_unit_test(test_commonjs_source_is_copied_verbatim),
        cmocka_unit_test(test_keywords_inside_strings_comments_templates_regexes_untouched),
        cmocka_unit_test(test_default_found_after_tricky_tokens),
        cmocka_unit_test(test_import_declaration_rejected_with_position),
        cmocka_unit_test(test_other_export_forms_rejected),
        cmocka_unit_test(test_hashbang_becomes_comment),
        cmocka_unit_test(test_nul_bytes_and_invalid_utf8_are_reported_where_they_are),
        cmocka_unit_test(test_user_column_maps_line_one_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
