/* Fuzzes the NeoVM script builder and the text decoders around it (decimal integers,
 * Base58Check addresses and WIFs, base64, RPC stack items, and the JSON forms of scripts
 * and transactions that r3e.neo passes in from JS). The first byte picks the
 * target. Invariant for integers: the emitted PUSH opcode decodes back to the same value. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"

/* Reads back the integer a PUSHM1/PUSH0..16/PUSHINT* opcode pushes, as 32 LE bytes. */
static void decode_push(const uint8_t *s, size_t n, uint8_t out[32]) {
    if (n == 0) abort();
    uint8_t op = s[0];
    if (op >= NEO_OP_PUSHM1 && op <= NEO_OP_PUSH0 + 16) {
        int v = (int)op - NEO_OP_PUSH0;
        memset(out, v < 0 ? 0xff : 0, 32);
        out[0] = (uint8_t)v;
        return;
    }
    if (op > NEO_OP_PUSHINT256) abort();
    size_t w = (size_t)1 << op;
    if (n != 1 + w) abort();
    memcpy(out, s + 1, w);
    memset(out + w, (s[w] & 0x80) ? 0xff : 0, 32 - w);
}

static void fuzz_int_le(const uint8_t *p, size_t n) {
    neo_buf_t b = {0};
    err_t e = {0};
    if (n > 40) n = 40;
    if (neo_sb_push_int_le(&b, p, n, &e) == 0) {
        uint8_t got[32], want[32];
        decode_push(b.data, b.len, got);
        uint8_t fill = (n && (p[n - 1] & 0x80)) ? 0xff : 0;
        for (size_t i = 0; i < 32; i++)
            want[i] = i < n ? p[i] : fill;
        for (size_t i = 32; i < n; i++) /* bytes past 32 must be pure sign extension */
            if (p[i] != fill) abort();
        if (memcmp(got, want, 32) != 0) abort();
    } else if (n <= 32) {
        abort(); /* anything up to 32 bytes fits PUSHINT256 */
    }
    neo_buf_free(&b);
}

static char *cstr(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0] % 8;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    char *s = cstr(p, n);
    neo_buf_t b = {0};
    err_t e = {0};
    switch (sel) {
    case 0:
        fuzz_int_le(p, n);
        break;
    case 1:
        (void)neo_sb_push_int_dec(&b, s, &e);
        break;
    case 2: {
        uint8_t h[20], k[32];
        (void)neo_address_to_script_hash(s, h, &e);
        (void)neo_wif_decode(s, k, &e);
        break;
    }
    case 3: {
        uint8_t out[64];
        (void)neo_base64_decode(s, out, sizeof out, &e);
        break;
    }
    case 4: {
        json_t *j = json_loadb((const char *)p, n, 0, NULL);
        json_t *d = j ? neo_stack_item_decode(j, &e) : NULL;
        json_t *nd = j ? neo_notification_decode(j, &e) : NULL;
        json_decref(d);
        json_decref(nd);
        json_decref(j);
        break;
    }
    case 6: { /* JSON script program, as r3e.neo's ScriptBuilder sends it */
        json_t *j = json_loadb((const char *)p, n, JSON_ALLOW_NUL, NULL);
        if (j && neo_script_from_json(j, &b, &e) != 0 && e.msg[0] == '\0') abort();
        json_decref(j);
        break;
    }
    case 7: { /* JSON transaction -> serialize both forms */
        json_t *j = json_loadb((const char *)p, n, JSON_ALLOW_NUL, NULL);
        arena_t *a = arena_create(0);
        neo_tx_t tx;
        if (j && neo_tx_from_json(a, j, &tx, &e) == 0) {
            (void)neo_tx_serialize(&tx, false, &b, &e);
            (void)neo_tx_serialize(&tx, true, &b, &e);
        }
        arena_destroy(a);
        json_decref(j);
        break;
    }
    case 5: { /* builder program: each byte is an op, args taken from the following bytes */
        for (size_t i = 0; i < n; i++) {
            uint8_t op = p[i] % 8;
            size_t rest = n - i - 1;
            switch (op) {
            case 0:
                neo_sb_push_bool(&b, p[i] & 8);
                break;
            case 1:
                neo_sb_push_null(&b);
                break;
            case 2:
                neo_sb_push_int(&b, (int8_t)(rest ? p[++i] : 0));
                break;
            case 3: {
                size_t len = rest ? p[i + 1] : 0;
                if (len > rest - (rest ? 1 : 0)) len = rest ? rest - 1 : 0;
                (void)neo_sb_push_bytes(&b, p + i + 1, len, &e);
                i += len;
                break;
            }
            case 4:
                neo_sb_pack(&b, p[i] >> 3);
                break;
            case 5:
                neo_sb_syscall(&b, "System.Runtime.Notify");
                break;
            case 6:
                if (rest >= 20) {
                    (void)neo_sb_contract_call(&b, p + i + 1, "transfer", p[i] >> 4, 0, &e);
                    i += 20;
                }
                break;
            default: {
                uint8_t pub[33] = {0x02};
                if (rest >= 32) {
                    memcpy(pub + 1, p + i + 1, 32);
                    neo_buf_t ms = {0};
                    if (neo_pubkey_check(pub, &e) == 0)
                        (void)neo_multisig_script(1, (const uint8_t(*)[33])pub, 1, &ms, &e);
                    neo_buf_free(&ms);
                    i += 32;
                }
            }
            }
        }
        uint8_t h[20];
        neo_script_hash(b.data, b.len, h);
        break;
    }
    }
    neo_buf_free(&b);
    free(s);
    return 0;
}
