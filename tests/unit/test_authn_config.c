/* Server flags for authentication and transport: --auth, rate limits, TLS pairing and
 * connection limits parse as documented and bad values are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/config.h"

static int parse(api_config_t *c, err_t *e, char **argv) {
    int argc = 0;
    while (argv[argc])
        argc++;
    return api_config_parse(c, argc, argv, e);
}

static void auth_defaults_and_flag(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", NULL}), 0);
    assert_int_equal(c.auth, -1); /* decided at start from --dev and the address */
    assert_string_equal(c.jwt_issuer, "r3e");
    assert_string_equal(c.jwt_audience, "r3e-api");
    assert_true(c.rl_key_rate > 0 && c.rl_ns_rate > 0);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.per_ip_connections, 256);
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--auth", "on", NULL}), 0);
    assert_int_equal(c.auth, 1);
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--auth=off", NULL}), 0);
    assert_int_equal(c.auth, 0);
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--auth", "maybe", NULL}), -1);
    assert_non_null(strstr(e.msg, "--auth"));
}

static void rate_limits_parse_rate_and_burst(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    assert_int_equal(parse(&c, &e,
                           (char *[]){"server", "--dev", "--rate-limit-key", "2.5:10",
                                      "--rate-limit-ns", "100:100", NULL}),
                     0);
    assert_true(c.rl_key_rate == 2.5 && c.rl_key_burst == 10);
    assert_true(c.rl_ns_rate == 100 && c.rl_ns_burst == 100);
    const char *bad[] = {"0:10", "5", "5:0", "a:b", "5:10x", "-1:5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"server", "--dev", "--rate-limit-key", (char *)bad[i], NULL};
        assert_int_equal(parse(&c, &e, argv), -1);
        assert_non_null(strstr(e.msg, "RATE:BURST"));
    }
}

static void ip_rate_limit_and_audit_retention(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", NULL}), 0);
    assert_int_equal(c.rl_ip, -1); /* decided at start: off for --dev on loopback */
    assert_true(c.rl_ip_rate == 100 && c.rl_ip_burst == 200);
    assert_int_equal(c.audit_retention_days, 90);
    assert_int_equal(parse(&c, &e,
                           (char *[]){"server", "--dev", "--rate-limit-ip", "3:7",
                                      "--audit-retention-days", "0", NULL}),
                     0);
    assert_int_equal(c.rl_ip, 1);
    assert_true(c.rl_ip_rate == 3 && c.rl_ip_burst == 7);
    assert_int_equal(c.audit_retention_days, 0); /* keep forever */
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--rate-limit-ip", "off", NULL}),
                     0);
    assert_int_equal(c.rl_ip, 0);
    const char *bad[] = {"0:10", "5", "5:0", "on", "5:10x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"server", "--dev", "--rate-limit-ip", (char *)bad[i], NULL};
        assert_int_equal(parse(&c, &e, argv), -1);
        assert_non_null(strstr(e.msg, "--rate-limit-ip wants RATE:BURST"));
    }
    assert_int_equal(
        parse(&c, &e, (char *[]){"server", "--dev", "--audit-retention-days", "-1", NULL}), -1);
    assert_int_equal(
        parse(&c, &e, (char *[]){"server", "--dev", "--audit-retention-days", "x", NULL}), -1);
}

static void tls_flags_go_together(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--tls-cert", "c.pem", NULL}), -1);
    assert_non_null(strstr(e.msg, "--tls-key"));
    assert_int_equal(
        parse(&c, &e, (char *[]){"server", "--dev", "--tls-client-ca", "ca.pem", NULL}), -1);
    assert_int_equal(parse(&c, &e,
                           (char *[]){"server", "--dev", "--tls-cert", "c.pem", "--tls-key",
                                      "k.pem", "--tls-client-ca", "ca.pem", NULL}),
                     0);
    assert_string_equal(c.tls_client_ca, "ca.pem");
}

static void connection_limits(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    assert_int_equal(parse(&c, &e,
                           (char *[]){"server", "--dev", "--max-connections", "10",
                                      "--per-ip-connections", "0", NULL}),
                     0);
    assert_int_equal(c.max_connections, 10);
    assert_int_equal(c.per_ip_connections, 0);
    assert_int_equal(parse(&c, &e, (char *[]){"server", "--dev", "--max-connections", "0", NULL}),
                     -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auth_defaults_and_flag),
        cmocka_unit_test(rate_limits_parse_rate_and_burst),
        cmocka_unit_test(ip_rate_limit_and_audit_retention),
        cmocka_unit_test(tls_flags_go_together),
        cmocka_unit_test(connection_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
