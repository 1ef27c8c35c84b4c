/* r3e.neo in a JavaScriptCore context: neon-js shaped calls give the bytes neon-js 5.9.0
 * gives (expected values below were produced by neon-js), and bad input throws a JS Error
 * with a clear message instead of crashing the worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chain/neo/neo_js.h"

/* JavaScriptCore 2.50 itself leaks a few hundred bytes per process (a bare
 * JSGlobalContextCreate + release shows it), so leaks whose stack is inside JSC are
 * suppressed here. The C side of r3e.neo is leak-checked without suppressions through
 * neo_tool in tests/e2e/neo_diff.test.mjs. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libjavascriptcoregtk\n";
}

static JSContextGroupRef g_group; /* lives for the process, like a worker's VM */
static JSGlobalContextRef g_ctx;

/* Evaluates `src` and returns String(result) or "throw:" + message (malloc'd). */
static char *eval(const char *src) {
    JSValueRef exc = NULL;
    JSStringRef s = JSStringCreateWithUTF8CString(src);
    JSValueRef v = JSEvaluateScript(g_ctx, s, NULL, NULL, 1, &exc);
    JSStringRelease(s);
    JSStringRef str = JSValueToStringCopy(g_ctx, v ? v : exc, NULL);
    size_t cap = JSStringGetMaximumUTF8CStringSize(str);
    char *out = malloc(cap + 6);
    strcpy(out, v ? "" : "throw:");
    JSStringGetUTF8CString(str, out + strlen(out), cap);
    JSStringRelease(str);
    return out;
}

static void expect(const char *src, const char *want) {
    char *got = eval(src);
    if (strcmp(got, want) != 0) fail_msg("%s\n  got:  %s\n  want: %s", src, got, want);
    free(got);
}

static void expect_throw(const char *src, const char *needle) {
    char *got = eval(src);
    if (strncmp(got, "throw:", 6) != 0 || !strstr(got, needle))
        fail_msg("%s\n  got: %s\n  want a throw mentioning \"%s\"", src, got, needle);
    free(got);
}

static int setup(void **state) {
    (void)state;
    g_group = JSContextGroupCreate();
    g_ctx = JSGlobalContextCreateInGroup(g_group, NULL);
    neo_js_install(g_ctx);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    JSGlobalContextRelease(g_ctx);
    return 0;
}

static void test_account_matches_neon_js(void **state) {
    (void)state;
    expect("const a = new r3e.neo.wallet.Account('01'.repeat(32));"
           "[a.WIF, a.publicKey, a.scriptHash, a.address].join(' ')",
           "KwFfNUhSDaASSAwtG7ssQM1uVX8RgX5GHWnnLfhfiQDigjioWXHH "
           "026ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca16 "
           "902e0d38da5e513b6d07c1c55b85e77d3dce8063 NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWo");
    expect("new r3e.neo.wallet.Account('KwFfNUhSDaASSAwtG7ssQM1uVX8RgX5GHWnnLfhfiQDigjioWXHH')"
           ".privateKey === '01'.repeat(32)",
           "true");
    expect("r3e.neo.wallet.getScriptHashFromAddress('NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWo')",
           "902e0d38da5e513b6d07c1c55b85e77d3dce8063");
    expect("r3e.neo.wallet.isAddress('NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWp')", "false");
}

static void test_script_builder_matches_neon_js(void **state) {
    (void)state;
    expect("const { sc } = r3e.neo;"
           "const gas = new sc.Nep17Contract('d2a4cff31913016155e38e474a2c06d08be276cf');"
           "new sc.ScriptBuilder().emitContractCall(gas.transfer("
           "'NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWo', '22'.repeat(20), '100000000')).build()",
           "0b0200e1f5050c1422222222222222222222222222222222222222220c146380ce3d7de7855bc5c107"
           "6d3b515eda380d2e9014c01f0c087472616e736665720c14cf76e28bd0062c4a478ee35561011319f3"
           "cfa4d241627d5b52");
    expect("new r3e.neo.sc.ScriptBuilder().emitPush(5).emitPush('hi').emitPush(true)"
           ".emitPush(null).emitPush([1, 'a']).emitPush(r3e.neo.sc.ContractParam.byteArray('AQID'))"
           ".emitSysCall('System.Runtime.Notify').build()",
           "150c02686908090c01611112c00c030102034195016f61");
}

static void test_transaction_hash_and_sign(void **state) {
    (void)state;
    expect(
        "const t = new r3e.neo.tx.Transaction({ nonce: 1, systemFee: '100', networkFee: '200',"
        " validUntilBlock: 1000, signers: [{ account: '902e0d38da5e513b6d07c1c55b85e77d3dce8063',"
        " scopes: 1 }], script: '1140' });"
        "t.serialize(false) + ' ' + t.hash()",
        "00010000006400000000000000c800000000000000e8030000016380ce3d7de7855bc5c1076d3b515eda"
        "380d2e900100021140 e68155e5b4073e6d1fb8bff55c4cc45f65d79b7e148ee193d63309b9b6bb1cb5");
    /* ECDSA is randomised: check the witness shape and that the signature verifies. */
    expect("const acct = new r3e.neo.wallet.Account('01'.repeat(32));"
           "t.sign(acct, 894710606);"
           "const w = t.witnesses[0];"
           "[w.verificationScript, w.invocationScript.length,"
           " r3e.neo.wallet.verify(t.getMessageForSigning(894710606), w.invocationScript.slice(4),"
           " acct.publicKey), t.serialize(true).length].join(' ')",
           "0c21026ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca164156e7b327 132 "
           "true 320");
    expect("const back = r3e.neo.tx.Transaction.deserialize(t.serialize(true));"
           "[back.hash() === t.hash(), back.witnesses.length, back.signers[0].account,"
           " back.serialize(true) === t.serialize(true)].join(' ')",
           "true 1 902e0d38da5e513b6d07c1c55b85e77d3dce8063 true");
    expect_throw("r3e.neo.tx.Transaction.deserialize('00')", "truncated");
    /* same value as neon-js api.calculateNetworkFee(t, 1000, 30).toString() */
    expect("r3e.neo.api.calculateNetworkFee(t, 1000, 30)", "1143520");
}

static void test_decode_notification(void **state) {
    (void)state;
    expect(
        "JSON.stringify(r3e.neo.decodeNotification({ contract: "
        "'0x70e2301955bf1e74cbb31d18c2f96972abadb328', eventname: 'Transfer', state: { type: "
        "'Array', value: [{ type: 'ByteString', value: '4rZTInKT6ZxPKQbVNVOrtKZy34Y=' }, { type: "
        "'ByteString', value: '+on7LBTfD1nd3wT25WUX8rNKrus=' }, { type: 'Integer', value: "
        "'10000000000' }] } }).transfer)",
        "{\"from\":\"NgaiKFjurmNmiRzDRQGs44yzByXuSkdGPF\",\"to\":"
        "\"NikhQp1aAD1YFCiwknhM5LQQebj4464bCJ\",\"amount\":\"10000000000\"}");
}

static void test_bad_input_throws_clear_errors(void **state) {
    (void)state;
    expect_throw("new r3e.neo.wallet.Account('nope')", "private key");
    expect_throw("r3e.neo.wallet.getScriptHashFromAddress('AK2nJJpJr6o664CWJKi1QRXjqeic2zRp8y')",
                 "version");
    expect_throw("new r3e.neo.sc.ScriptBuilder().emitNumber('1e5').build()", "decimal integer");
    expect_throw("new r3e.neo.tx.Transaction({ signers: [{ account: '00'.repeat(20), scopes: 0x81"
                 " }], script: '11' }).serialize()",
                 "Global");
    expect_throw("new r3e.neo.tx.Transaction({ signers: [], script: '11' }).hash()", "signers");
    expect_throw("r3e.neo.decodeStackItem({ type: 'Nope' })", "unknown type");
    expect("typeof r3e.neo.wallet.Account", "function"); /* context still healthy */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_matches_neon_js),
        cmocka_unit_test(test_script_builder_matches_neon_js),
        cmocka_unit_test(test_transaction_hash_and_sign),
        cmocka_unit_test(test_decode_notification),
        cmocka_unit_test(test_bad_input_throws_clear_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
