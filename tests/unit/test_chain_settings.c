/* Chain settings and metrics: the Neo flags (--neo-poll-ms, --neo-relayer-window and
 * --neo-relayer-poll-ms with or without NAME=, their environment forms, bad values refused
 * with the flag named) and the Prometheus text of the chain sources and relayers (one HELP
 * and TYPE per family, bounded labels, relayer series only for enabled relayers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/config.h"
#include "chain/net.h"

static int parse(api_config_t *c, err_t *e, char **argv) {
    int argc = 0;
    while (argv[argc])
        argc++;
    return api_config_parse(c, argc, argv, e);
}

static void neo_flags_parse_and_collect(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    char *argv[] = {"server",
                    "--dev",
                    "--neo-poll-ms",
                    "250",
                    "--neo-relayer-window",
                    "a=7",
                    "--neo-relayer-window",
                    "9",
                    "--neo-relayer-poll-ms",
                    "b=100",
                    NULL};
    assert_int_equal(parse(&c, &e, argv), 0);
    assert_int_equal(c.neo_poll_ms, 250);
    assert_string_equal(c.neo_relayer, "window a=7\nwindow 9\npoll-ms b=100\n");
}

static void neo_flags_from_the_environment_unless_given(void **state) {
    (void)state;
    api_config_t c;
    err_t e;
    setenv("R3E_NEO_POLL_MS", "40", 1);
    setenv("R3E_NEO_RELAYER_WINDOW", "3", 1);
    setenv("R3E_NEO_RELAYER_POLL_MS", "120", 1);
    char *plain[] = {"server", "--dev", NULL};
    assert_int_equal(parse(&c, &e, plain), 0);
    assert_int_equal(c.neo_poll_ms, 40);
    assert_non_null(strstr(c.neo_relayer, "window 3\n"));
    assert_non_null(strstr(c.neo_relayer, "poll-ms 120\n"));
    char *flagged[] = {"server", "--dev", "--neo-relayer-window", "x=5", NULL};
    assert_int_equal(parse(&c, &e, flagged), 0); /* the flag wins over the variable */
    assert_null(strstr(c.neo_relayer, "window 3\n"));
    assert_non_null(strstr(c.neo_relayer, "window x=5\n"));
    setenv("R3E_NEO_RELAYER_POLL_MS", "fast", 1);
    assert_int_equal(parse(&c, &e, plain), -1);
    assert_non_null(
        strstr(e.msg, "R3E_NEO_RELAYER_POLL_MS: --neo-relayer-poll-ms must be an integer"));
    unsetenv("R3E_NEO_POLL_MS");
    unsetenv("R3E_NEO_RELAYER_WINDOW");
    unsetenv("R3E_NEO_RELAYER_POLL_MS");
}

static void bad_neo_flags_are_refused(void **state) {
    (void)state;
    const char *cases[][3] = {
        {"--neo-poll-ms", "5", "--neo-poll-ms must be an integer in 10..600000"},
        {"--neo-relayer-window", "0", "--neo-relayer-window must be an integer in 1..5760"},
        {"--neo-relayer-window", "a=5761", "--neo-relayer-window must be an integer in 1..5760"},
        {"--neo-relayer-poll-ms", "a=9", "--neo-relayer-poll-ms must be an integer in 10..60000"},
        {"--neo-relayer-window", "=3", "--neo-relayer-window wants [NAME=]N"},
        {"--neo-relayer-poll-ms", "a b=30", "--neo-relayer-poll-ms wants [NAME=]MS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api_config_t c;
        err_t e;
        char *argv[] = {"server", "--dev", (char *)cases[i][0], (char *)cases[i][1], NULL};
        assert_int_equal(parse(&c, &e, argv), -1);
        if (!strstr(e.msg, cases[i][2])) fail_msg("%s %s: %s", cases[i][0], cases[i][1], e.msg);
    }
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void source_and_relayer_metrics_render_with_bounded_labels(void **state) {
    (void)state;
    chain_nets_t *n = chain_nets_new();
    err_t e;
    assert_int_equal(chain_nets_add(n, CHAIN_ETH, "main=http://127.0.0.1:1,1", &e), 0);
    assert_int_equal(chain_nets_add(n, CHAIN_NEO, "main=http://127.0.0.1:1", &e), 0);
    chain_net_t *eth = chain_nets_find(n, CHAIN_ETH, "main"),
                *neo = chain_nets_find(n, CHAIN_NEO, "main");
    char *t = chain_nets_metrics_text(n);
    /* no head read yet, no relayer: no head sample, no relayer family */
    assert_null(strstr(t, "r3e_chain_head{"));
    assert_null(strstr(t, "r3e_relayer_"));
    assert_non_null(strstr(t, "r3e_chain_source_lag_blocks{chain=\"neo\",network=\"main\"} 0\n"));
    free(t);

    atomic_store(&eth->src.head, 1234);
    atomic_store(&eth->src.head_known, true);
    atomic_store(&eth->src.lag, 7);
    atomic_store(&eth->src.events[CHAIN_EV_ITEM], 42);
    atomic_store(&eth->src.reorgs, 2);
    atomic_store(&neo->src.events[CHAIN_EV_BLOCK], 5);
    atomic_store(&eth->relayer.on, true);
    atomic_store(&eth->relayer.live[CHAIN_TX_SUBMITTED], 3);
    atomic_store(&eth->relayer.final[chain_relayer_final_index(CHAIN_ETH, "dropped")], 1);
    atomic_store(&eth->relayer.resubmits, 4);
    atomic_store(&eth->relayer.balance, 1e18);
    atomic_store(&eth->relayer.balance_known, true);
    t = chain_nets_metrics_text(n);
    assert_non_null(strstr(t, "r3e_chain_head{chain=\"eth\",network=\"main\"} 1234\n"));
    assert_non_null(strstr(t, "r3e_chain_source_lag_blocks{chain=\"eth\",network=\"main\"} 7\n"));
    assert_non_null(strstr(
        t, "r3e_chain_source_events_total{chain=\"eth\",network=\"main\",type=\"eth.log\"} 42\n"));
    assert_non_null(strstr(
        t, "r3e_chain_source_events_total{chain=\"neo\",network=\"main\",type=\"neo.block\"} 5\n"));
    assert_non_null(strstr(t, "r3e_chain_source_reorgs_total{chain=\"eth\",network=\"main\"} 2\n"));
    assert_null(strstr(t, "r3e_chain_source_reorgs_total{chain=\"neo\""));
    assert_non_null(strstr(
        t, "r3e_relayer_transactions{chain=\"eth\",network=\"main\",state=\"submitted\"} 3\n"));
    assert_non_null(strstr(t, "r3e_relayer_transactions_final_total{chain=\"eth\",network=\"main\","
                              "state=\"dropped\"} 1\n"));
    assert_non_null(strstr(t, "r3e_relayer_resubmits_total{chain=\"eth\",network=\"main\"} 4\n"));
    assert_non_null(strstr(t, "r3e_relayer_balance_wei{chain=\"eth\",network=\"main\"} 1e+18\n"));
    assert_null(strstr(t, "r3e_relayer_transactions{chain=\"neo\"")); /* no Neo relayer */
    const char *families[] = {"r3e_chain_head",
                              "r3e_chain_source_lag_blocks",
                              "r3e_chain_source_events_total",
                              "r3e_chain_source_reorgs_total",
                              "r3e_relayer_transactions",
                              "r3e_relayer_transactions_final_total",
                              "r3e_relayer_resubmits_total",
                              "r3e_relayer_balance_wei"};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char help[96];
        snprintf(help, sizeof help, "# TYPE %s ", families[i]);
        assert_int_equal(count(t, help), 1);
    }
    free(t);
    assert_int_equal(chain_relayer_final_index(CHAIN_NEO, "executed"), 0);
    assert_int_equal(chain_relayer_final_index(CHAIN_NEO, "mined"), -1);
    assert_int_equal(chain_relayer_final_index(CHAIN_ETH, NULL), -1);
    chain_nets_free(n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(neo_flags_parse_and_collect),
        cmocka_unit_test(neo_flags_from_the_environment_unless_given),
        cmocka_unit_test(bad_neo_flags_are_refused),
        cmocka_unit_test(source_and_relayer_metrics_render_with_bounded_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
