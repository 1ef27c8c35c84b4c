/* Egress policy tables: which addresses are internal and why, and how the operator
 * allow-list is parsed and matched (including malformed entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "runtime/egress.h"

/* Builds a sockaddr from "1.2.3.4" or "::1" plus a port. */
static const struct sockaddr *sa_of(const char *addr, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    }
    return (const struct sockaddr *)ss;
}

static void test_classifier_table(void **state) {
    static const struct {
        const char *addr;
        const char *why; /* NULL = public */
    } t[] = {
        {"8.8.8.8", NULL},
        {"1.1.1.1", NULL},
        {"93.184.216.34", NULL},
        {"2606:4700:4700::1111", NULL},
        {"2001:4860:4860::8888", NULL},
        {"0.0.0.0", "unspecified/this-network address"},
        {"0.1.2.3", "unspecified/this-network address"},
        {"127.0.0.1", "loopback address"},
        {"127.255.255.254", "loopback address"},
        {"10.0.0.1", "private address"},
        {"172.16.0.1", "private address"},
        {"172.31.255.255", "private address"},
        {"172.32.0.1", NULL},
        {"192.168.1.1", "private address"},
        {"100.64.0.1", "carrier-grade NAT address"},
        {"100.127.255.255", "carrier-grade NAT address"},
        {"100.128.0.1", NULL},
        {"169.254.169.254", "link-local/metadata address"},
        {"169.254.0.1", "link-local/metadata address"},
        {"224.0.0.1", "multicast address"},
        {"239.255.255.250", "multicast address"},
        {"240.0.0.1", "reserved address"},
        {"255.255.255.255", "reserved address"},
        {"192.0.2.1", "reserved address (documentation)"},
        {"198.18.0.1", "reserved address (benchmarking)"},
        {"192.0.0.170", "reserved address (IETF protocol assignments)"},
        {"::", "unspecified/this-network address"},
        {"::1", "loopback address"},
        {"fc00::1", "private address (unique local)"},
        {"fd12:3456::1", "private address (unique local)"},
        {"fd00:ec2::254", "link-local/metadata address"},
        {"fe80::1", "link-local/metadata address"},
        {"febf::1", "link-local/metadata address"},
        {"fec0::1", "private address (site-local)"},
        {"ff02::1", "multicast address"},
        {"2001:db8::1", "reserved address (documentation)"},
        {"2001:0:4136:e378::1", "reserved address (Teredo)"},
        {"100::1", "reserved address"},
        /* IPv6 forms embedding an IPv4 address are judged by that address */
        {"::ffff:127.0.0.1", "loopback address"},
        {"::ffff:169.254.169.254", "link-local/metadata address"},
        {"::ffff:10.1.2.3", "private address"},
        {"::ffff:8.8.8.8", NULL},
        {"::127.0.0.1", "reserved address (IPv4-compatible)"},
        {"64:ff9b::a9fe:a9fe", "link-local/metadata address"},
        {"64:ff9b::808:808", NULL},
        {"2002:7f00:1::1", "loopback address"},
        {"2002:a9fe:a9fe::1", "link-local/metadata address"},
        {"2002:808:808::1", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sockaddr_storage ss;
        const char *why = egress_classify(sa_of(t[i].addr, 80, &ss));
        if ((why == NULL) != (t[i].why == NULL) || (why && strcmp(why, t[i].why) != 0))
            fail_msg("%s: got \"%s\", want \"%s\"", t[i].addr, why ? why : "(public)",
                     t[i].why ? t[i].why : "(public)");
    }
}

static void test_allow_list_parses_valid_entries(void **state) {
    err_t err = {0};
    egress_policy_t *p = egress_policy_parse(
        " 127.0.0.1:8080, 10.0.0.0/8 ,192.168.1.0/24:443,::1,fc00::/7,[::1]:9000,"
        "[fd00::/8]:53, api.internal ,*.svc.local:8443,,",
        &err);
    assert_non_null(p);
    assert_int_equal(egress_policy_count(p), 9);
    egress_policy_free(p);
    p = egress_policy_parse(NULL, &err);
    assert_non_null(p);
    assert_int_equal(egress_policy_count(p), 0);
    egress_policy_free(p);
    p = egress_policy_parse("", &err);
    assert_non_null(p);
    egress_policy_free(p);
}

static void test_allow_list_rejects_malformed_entries(void **state) {
    static const char *bad[] = {
        "256.1.1.1",     "1.2.3",     "10.0.0.0/33",  "10.0.0.0/",
        "10.0.0.0/x",    "1.2.3.4:",  "1.2.3.4:0",    "1.2.3.4:65536",
        "1.2.3.4:80x",   "::1/129",   "[::1",         "[::1]x",
        "[::1]:",        "[1.2.3.4]", "[]",           "gg::1",
        "host name",     "-",         "a..b",         "*.",
        "exa_mple!.com", ":80",       "http://x.com", "1.2.3.4/8:99999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_t err = {0};
        char list[128];
        snprintf(list, sizeof list, "8.8.8.8, %s", bad[i]);
        egress_policy_t *p = egress_policy_parse(list, &err);
        if (p) {
            egress_policy_free(p);
            fail_msg("accepted malformed entry \"%s\"", bad[i]);
        }
        assert_int_equal(err.code, R3E_EINVAL);
        assert_non_null(strstr(err.msg, "malformed egress allow-list entry"));
    }
}

static void test_check_applies_allow_list_then_classification(void **state) {
    err_t err = {0};
    egress_policy_t *p = egress_policy_parse(
        "127.0.0.1:8080, 10.1.0.0/16, [::1]:9000, fd00::/8, api.internal, *.svc.local:8443", &err);
    assert_non_null(p);
    static const struct {
        const char *host, *addr;
        int port;
        bool ok;
        const char *why;
    } t[] = {
        {"127.0.0.1", "127.0.0.1", 8080, true, NULL},
        {"127.0.0.1", "127.0.0.1", 8081, false, "loopback address"},
        {"localhost", "127.0.0.1", 8081, false, "loopback address"},
        {"x", "::ffff:127.0.0.1", 8080, true, NULL}, /* mapped form matches the v4 entry */
        {"x", "10.1.200.3", 5432, true, NULL},
        {"x", "10.2.0.1", 5432, false, "private address"},
        {"x", "::1", 9000, true, NULL},
        {"x", "::1", 9001, false, "loopback address"},
        {"x", "fd00:ec2::254", 80, true, NULL}, /* explicitly allowed by fd00::/8 */
        {"api.internal", "10.9.9.9", 80, true, NULL},
        {"API.Internal.", "10.9.9.9", 80, true, NULL},
        {"other.internal", "10.9.9.9", 80, false, "private address"},
        {"a.svc.local", "192.168.0.5", 8443, true, NULL},
        {"a.svc.local", "192.168.0.5", 80, false, "private address"},
        {"svc.local", "192.168.0.5", 8443, false, "private address"},
        {"example.com", "93.184.216.34", 443, true, NULL},
        {NULL, "169.254.169.254", 80, false, "link-local/metadata address"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sockaddr_storage ss;
        char why[128] = "";
        bool ok = egress_check(p, t[i].host, sa_of(t[i].addr, t[i].port, &ss), why, sizeof why);
        if (ok != t[i].ok || (!ok && strcmp(why, t[i].why) != 0))
            fail_msg("%s %s:%d: got %d \"%s\"", t[i].host ? t[i].host : "-", t[i].addr, t[i].port,
                     ok, why);
    }
    egress_policy_free(p);
}

static void test_empty_policy_refuses_every_internal_class(void **state) {
    egress_policy_t *p = egress_policy_parse(NULL, NULL);
    struct sockaddr_storage ss;
    char why[128];
    assert_false(egress_check(p, "localhost", sa_of("::1", 80, &ss), why, sizeof why));
    assert_string_equal(why, "loopback address");
    assert_true(egress_check(p, "dns.google", sa_of("8.8.4.4", 443, &ss), why, sizeof why));
    egress_policy_free(p);
}

static void test_addr_str(void **state) {
    struct sockaddr_storage ss;
    char buf[64];
    egress_addr_str(sa_of("169.254.169.254", 80, &ss), buf, sizeof buf);
    assert_string_equal(buf, "169.254.169.254");
    egress_addr_str(sa_of("fd00:ec2::254", 80, &ss), buf, sizeof buf);
    assert_string_equal(buf, "fd00:ec2::254");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classifier_table),
        cmocka_unit_test(test_allow_list_parses_valid_entries),
        cmocka_unit_test(test_allow_list_rejects_malformed_entries),
        cmocka_unit_test(test_check_applies_allow_list_then_classification),
        cmocka_unit_test(test_empty_policy_refuses_every_internal_class),
        cmocka_unit_test(test_addr_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
