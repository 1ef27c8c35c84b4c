/* r3e.eth inside a real JavaScriptCore context: ethers-shaped calls with BigInt values must
 * reproduce the EIP-155 and EIP-712 spec vectors, round-trip ABI data and events, and throw
 * ordinary JS errors on bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chain/eth/eth_js.h"

/* JavaScriptCore 2.50 leaks a few bytes per process by itself (as test_neo_js.c notes), so
 * leaks with JSC frames are suppressed here; the C operations behind r3e.eth are the eth.h
 * functions that test_eth and eth_tool check with leak detection on. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libjavascriptcoregtk\n";
}

/* Runs script and returns its completion value as a malloc'd string (exceptions included). */
static char *eval(JSGlobalContextRef ctx, const char *script) {
    JSStringRef src = JSStringCreateWithUTF8CString(script);
    JSValueRef exc = NULL;
    JSValueRef v = JSEvaluateScript(ctx, src, NULL, NULL, 1, &exc);
    JSStringRelease(src);
    JSStringRef s = JSValueToStringCopy(ctx, v ? v : exc, NULL);
    size_t max = JSStringGetMaximumUTF8CStringSize(s);
    char *out = malloc(max);
    JSStringGetUTF8CString(s, out, max);
    JSStringRelease(s);
    return out;
}

static const char checks[] =
    "(() => {\n"
    "const e = r3e.eth, fails = [];\n"
    "const eq = (name, got, want) => { if (got !== want) fails.push(`${name}: got ${String(got)} "
    "want ${String(want)}`); };\n"
    "eq('keccak', e.keccak256('0x'), "
    "'0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');\n"
    "eq('keccak bytes', e.keccak256(new Uint8Array([0x61, 0x62, 0x63])), "
    "'0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');\n"
    "eq('id', e.id('Transfer(address,address,uint256)'), "
    "'0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef');\n"
    "const w = new e.Wallet('0x' + '46'.repeat(32));\n"
    "eq('address', w.address, '0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F');\n"
    "const raw = w.signTransactionSync({ type: 0, chainId: 1n, nonce: 9, gasPrice: "
    "20000000000n, gasLimit: 21000n, to: '0x' + '35'.repeat(20), value: 10n ** 18n });\n"
    "eq('eip155', raw, "
    "'0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000802"
    "5a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703"
    "304b3800ccf555c9f3dc64214b297fb1966a3b6d83');\n"
    "const tx = e.Transaction.from(raw);\n"
    "eq('tx from', tx.from, w.address); eq('tx nonce', tx.nonce, 9); eq('tx value', tx.value, "
    "10n ** 18n); eq('tx chainId', tx.chainId, 1n);\n"
    "eq('tx unsignedHash', tx.unsignedHash, "
    "'0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53');\n"
    "const t2 = e.Transaction.from({ chainId: 1, nonce: 0, maxFeePerGas: 2n, "
    "maxPriorityFeePerGas: 1n, gasLimit: 21000 });\n"
    "eq('type inferred', t2.type, 2); t2.signature = w.signingKey.sign(t2.unsignedHash);\n"
    "eq('1559 round trip', e.Transaction.from(t2.serialized).from, w.address);\n"
    "const iface = new e.Interface(['function transfer(address to, uint256 amount) returns "
    "(bool)', 'event Transfer(address indexed from, address indexed to, uint256 value)', "
    "'event Note(string indexed topic, bytes data)']);\n"
    "eq('selector', iface.getFunction('transfer').selector, '0xa9059cbb');\n"
    "const cd = iface.encodeFunctionData('transfer', [w.address, 1000n]);\n"
    "eq('calldata', cd.slice(0, 10), '0xa9059cbb');\n"
    "const args = iface.parseTransaction({ data: cd }).args;\n"
    "eq('decoded amount', args.amount, 1000n); eq('decoded to', args[0], w.address);\n"
    "eq('result', iface.decodeFunctionResult('transfer', "
    "iface.encodeFunctionResult('transfer', [true]))[0], true);\n"
    "const log = iface.encodeEventLog('Transfer', [w.address, w.address, 5n]);\n"
    "eq('topic0', log.topics[0], "
    "'0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef');\n"
    "const parsed = iface.parseLog(log);\n"
    "eq('log name', parsed.name, 'Transfer'); eq('log value', parsed.args.value, 5n); "
    "eq('log from', parsed.args.from, w.address);\n"
    "const note = iface.parseLog(iface.encodeEventLog('Note', ['hi', '0x01']));\n"
    "eq('indexed string hash', note.args.topic.hash, e.id('hi'));\n"
    "const coder = e.AbiCoder.defaultAbiCoder();\n"
    "const dec = coder.decode(['uint8[]', 'string', '(int16 a, bool b)'], "
    "coder.encode(['uint8[]', 'string', '(int16 a, bool b)'], [[1n, 2], 'hi', [-5n, true]]));\n"
    "eq('abi array', dec[0][1], 2n); eq('abi string', dec[1], 'hi'); eq('abi tuple name', "
    "dec[2].a, -5n);\n"
    "const types = { Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: "
    "'address' }], Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { "
    "name: 'contents', type: 'string' }] };\n"
    "const domain = { name: 'Ether Mail', version: '1', chainId: 1n, verifyingContract: "
    "'0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' };\n"
    "const mail = { from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' }, "
    "to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }, contents: "
    "'Hello, Bob!' };\n"
    "eq('712 hash', e.TypedDataEncoder.hash(domain, types, mail), "
    "'0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2');\n"
    "eq('712 primary', e.TypedDataEncoder.from(types).primaryType, 'Mail');\n"
    "eq('712 struct', e.TypedDataEncoder.from(types).hash(mail), "
    "'0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e');\n"
    "const cow = new e.Wallet(e.id('cow'));\n"
    "eq('712 sig', cow.signTypedDataSync(domain, types, mail), "
    "'0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d07299936d304c153f6443dfa0"
    "5f40ff007d72911b6f72307f996231605b915621c');\n"
    "eq('hashMessage', e.hashMessage('hello'), "
    "'0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750');\n"
    "eq('verifyMessage', e.verifyMessage('hello', w.signMessageSync('hello')), w.address);\n"
    "let threw = '';\n"
    "try { e.getAddress('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'); } catch (x) { threw = "
    "String(x.message); }\n"
    "eq('bad checksum throws', threw.includes('checksum'), true);\n"
    "threw = '';\n"
    "try { coder.encode(['uint8'], [256n]); } catch (x) { threw = String(x.message); }\n"
    "eq('range throws', threw.includes('out of range'), true);\n"
    "return fails.length ? fails.join('\\n') : 'ok';\n"
    "})()";

static void test_eth_js_matches_spec_vectors(void **state) {
    (void)state;
    JSGlobalContextRef ctx = JSGlobalContextCreate(NULL);
    eth_js_install(ctx);
    char *res = eval(ctx, checks);
    if (strcmp(res, "ok") != 0) fail_msg("%s", res);
    free(res);
    JSGlobalContextRelease(ctx);
}

static void test_eth_js_is_read_only(void **state) {
    (void)state;
    JSGlobalContextRef ctx = JSGlobalContextCreate(NULL);
    eth_js_install(ctx);
    char *res = eval(ctx, "r3e.eth = null; delete r3e.eth; typeof r3e.eth.keccak256");
    assert_string_equal(res, "function");
    free(res);
    JSGlobalContextRelease(ctx);
}

/* Every entry point called with hostile arguments must throw a JS error or return, never
 * crash the process (the worker would die with it). */
static void test_eth_js_survives_garbage_arguments(void **state) {
    (void)state;
    JSGlobalContextRef ctx = JSGlobalContextCreate(NULL);
    eth_js_install(ctx);
    char *res = eval(
        ctx,
        "(() => {\n"
        "const e = r3e.eth;\n"
        "const junk = [undefined, null, {}, [], [[]], 1.5, -1, 2 ** 64, '0x', '0x1', 'zz', "
        "'0x' + 'ff'.repeat(65), 10n ** 80n, { r: 1 }, [null, {}], 'x'.repeat(5000), "
        "new Uint8Array(3), { types: 1 }, '((((((((((uint8))))))))))[]', 'function f(', "
        "'event E(uint8 indexed a) anonymous'];\n"
        "const fns = [(a, b, c) => e.keccak256(a), (a) => e.id(a), (a) => e.getAddress(a), (a) => "
        "e.computeAddress(a), (a) => e.hashMessage(a), (a, b) => e.recoverAddress(a, b), (a, b) => "
        "e.verifyMessage(a, b), (a) => e.encodeRlp(a), (a) => e.decodeRlp(a), (a) => new "
        "e.SigningKey(a).sign(a), (a) => new e.Wallet(a).signMessageSync(a), (a) => "
        "e.Transaction.from(a).serialized, (a) => e.Transaction.from(a).unsignedHash, (a, b) => "
        "e.AbiCoder.defaultAbiCoder().encode(a, b), (a, b) => "
        "e.AbiCoder.defaultAbiCoder().decode(a, b), (a) => new e.Interface(a), (a, b) => new "
        "e.Interface(['function f(uint8 x) returns (string)']).decodeFunctionResult('f', a), (a, "
        "b) => new e.Interface(['event E(string indexed s, uint8 v)']).decodeEventLog('E', a, b), "
        "(a, b, c) => e.TypedDataEncoder.hash(a, b, c), (a) => e.TypedDataEncoder.hashDomain(a), "
        "(a, b) => e.TypedDataEncoder.from(a).hashStruct(b, a), (a, b) => "
        "e.TypedDataEncoder.from(a).encodeType(b), (a) => "
        "e.TypedDataEncoder.from(a).primaryType];\n"
        "let calls = 0;\n"
        "for (const f of fns) for (const a of junk) for (const b of junk) { calls++; try { f(a, "
        "b, a); } catch (x) { if (!(x instanceof Error) && typeof x !== 'object') throw x; } }\n"
        "return 'calls ' + calls;\n"
        "})()");
    if (strncmp(res, "calls ", 6) != 0) fail_msg("%s", res);
    free(res);
    JSGlobalContextRelease(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_js_matches_spec_vectors),
        cmocka_unit_test(test_eth_js_is_read_only),
        cmocka_unit_test(test_eth_js_survives_garbage_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
