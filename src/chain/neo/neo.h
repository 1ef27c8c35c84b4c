/* Neo N3 primitives: keys, addresses, NeoVM scripts, transactions, signatures and
 * application-log decoding. Byte-for-byte compatible with @cityofzion/neon-js 5.9.0
 * (checked by tests/e2e/neo_diff.test.mjs) and with the strict limits of the Neo N3 node.
 *
 * Byte order: a script hash (UInt160) or tx hash (UInt256) is kept in its serialized
 * (little-endian) order everywhere in this API. The "0x…" strings shown by explorers and
 * neon-js are the reverse; use neo_hash_to_display()/neo_hash_from_display() at the edges.
 *
 * Errors are values: every fallible function returns 0 or -1 and fills err_t. Crypto is
 * OpenSSL 3 (P-256, SHA-256) and nettle (RIPEMD-160). Thread-safe: no mutable globals
 * besides a once-initialised curve group. */
#ifndef R3E_CHAIN_NEO_H
#define R3E_CHAIN_NEO_H

#include "core/buf.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

#define NEO_ADDRESS_VERSION 0x35
#define NEO_ADDRESS_LEN 34 /* chars; buffers take NEO_ADDRESS_LEN + 1 */
#define NEO_WIF_LEN 52
#define NEO_MAINNET_MAGIC 860833102u
#define NEO_TESTNET_MAGIC 894710606u

/* Limits of the Neo N3 node (Transaction.cs, Signer.cs, WitnessCondition.cs). */
#define NEO_TX_MAX_SIZE 102400
#define NEO_TX_MAX_SIGNERS 16
#define NEO_TX_MAX_ATTRIBUTES 16 /* signers + attributes together */
#define NEO_TX_MAX_SCRIPT 65535
#define NEO_MAX_INVOCATION_SCRIPT 1024
#define NEO_MAX_VERIFICATION_SCRIPT 1024
#define NEO_SIGNER_MAX_SUBITEMS 16 /* allowed contracts, groups, rules, And/Or items */
#define NEO_CONDITION_MAX_DEPTH 2  /* nested Not/And/Or levels */
#define NEO_ORACLE_MAX_RESULT 65535

/* ---- growable byte buffer ------------------------------------------------------------ */

/* Heap buffer owned by the caller: zero-initialise, append, then neo_buf_free(). Appends
 * abort on out-of-memory, like arena_alloc. */
typedef buf_t neo_buf_t; /* core/buf.h */

void neo_buf_append(neo_buf_t *b, const void *p, size_t n);
void neo_buf_byte(neo_buf_t *b, uint8_t v);
void neo_buf_free(neo_buf_t *b);
/* Neo variable-length integer (1, 3, 5 or 9 bytes, little-endian). */
void neo_buf_varint(neo_buf_t *b, uint64_t v);

/* ---- hashes and encodings ------------------------------------------------------------- */

void neo_hash160(const void *data, size_t n, uint8_t out[20]); /* RIPEMD-160(SHA-256) */
void neo_hash256(const void *data, size_t n, uint8_t out[32]); /* SHA-256(SHA-256) */
/* Reversed hex with 0x prefix, e.g. script hash -> "0x…"; out: 2n+3 bytes. */
void neo_hash_to_display(const uint8_t *h, size_t n, char *out);
/* Parses a display hash (0x optional, n bytes big-endian) into serialized order. */
int neo_hash_from_display(const char *s, uint8_t *h, size_t n, err_t *err);

/* Base58Check: payload || first 4 bytes of hash256(payload). out gets a NUL-terminated
 * string; fails when outcap is too small. */
int neo_base58check_encode(const uint8_t *in, size_t n, char *out, size_t outcap, err_t *err);
/* Decodes and validates the checksum; *outlen is the payload length. */
int neo_base58check_decode(const char *s, uint8_t *out, size_t outcap, size_t *outlen, err_t *err);

/* Standard base64 with padding (RPC ByteString values, OracleResponse results).
 * Returns bytes written or -1 (invalid or too long). */
int neo_base64_decode(const char *s, uint8_t *out, size_t outcap, err_t *err);

/* ---- keys, accounts, signatures ------------------------------------------------------- */

int neo_privkey_check(const uint8_t priv[32], err_t *err); /* 1 <= k < n */
int neo_wif_encode(const uint8_t priv[32], char out[NEO_WIF_LEN + 1], err_t *err);
int neo_wif_decode(const char *wif, uint8_t priv[32], err_t *err);
/* Compressed SEC1 public key (02/03 || X). */
int neo_pubkey_from_privkey(const uint8_t priv[32], uint8_t pub[33], err_t *err);
/* Accepts a compressed point only if it decodes onto the curve. */
int neo_pubkey_check(const uint8_t pub[33], err_t *err);

/* Single-signature verification script: PUSHDATA1 33 <pub> SYSCALL System.Crypto.CheckSig
 * (40 bytes). */
void neo_verification_script(const uint8_t pub[33], uint8_t out[40]);
/* m-of-n verification script. Keys are sorted as the node sorts them (by X, then Y) —
 * the order of `pubs` does not matter. 1 <= m <= n <= 1024. Appends to out. */
int neo_multisig_script(int m, const uint8_t (*pubs)[33], size_t n, neo_buf_t *out, err_t *err);
void neo_script_hash(const uint8_t *script, size_t n, uint8_t out[20]);
void neo_address_from_script_hash(const uint8_t hash[20], char out[NEO_ADDRESS_LEN + 1]);
/* Validates checksum, length and version byte (NEO_ADDRESS_VERSION). */
int neo_address_to_script_hash(const char *addr, uint8_t hash[20], err_t *err);

/* ECDSA P-256 over SHA-256(msg), 64-byte r||s with low s (as neon-js's noble signer).
 * The nonce is random (OpenSSL 3.0 has no RFC 6979). This is neon-js wallet.sign(hex). */
int neo_sign(const uint8_t priv[32], const uint8_t *msg, size_t n, uint8_t sig[64], err_t *err);
/* A parsed signing key, for signing many messages with one key (a relayer): parsing the
 * key costs more than a signature. Immutable, so one key may sign from several threads.
 * neo_key_free(NULL) is fine. */
typedef struct neo_key neo_key_t;
neo_key_t *neo_key_new(const uint8_t priv[32], err_t *err);
void neo_key_free(neo_key_t *k);
const uint8_t *neo_key_pubkey(const neo_key_t *k); /* 33 bytes, owned by k */
int neo_key_sign(const neo_key_t *k, const uint8_t *msg, size_t n, uint8_t sig[64], err_t *err);

/* 1 = valid, 0 = invalid signature, -1 = malformed key (err filled). High s accepted. */
int neo_verify(const uint8_t pub[33], const uint8_t *msg, size_t n, const uint8_t sig[64],
               err_t *err);

/* ---- NeoVM script builder ------------------------------------------------------------- */

enum {
    NEO_OP_PUSHINT8 = 0x00,
    NEO_OP_PUSHINT256 = 0x05,
    NEO_OP_PUSHT = 0x08,
    NEO_OP_PUSHF = 0x09,
    NEO_OP_PUSHNULL = 0x0b,
    NEO_OP_PUSHDATA1 = 0x0c,
    NEO_OP_PUSHDATA2 = 0x0d,
    NEO_OP_PUSHDATA4 = 0x0e,
    NEO_OP_PUSHM1 = 0x0f,
    NEO_OP_PUSH0 = 0x10,
    NEO_OP_SYSCALL = 0x41,
    NEO_OP_PACKMAP = 0xbe,
    NEO_OP_PACK = 0xc0,
    NEO_OP_NEWARRAY0 = 0xc2,
};

enum {
    NEO_CALL_NONE = 0,
    NEO_CALL_READ_STATES = 1,
    NEO_CALL_WRITE_STATES = 2,
    NEO_CALL_ALLOW_CALL = 4,
    NEO_CALL_ALLOW_NOTIFY = 8,
    NEO_CALL_STATES = 3,
    NEO_CALL_READ_ONLY = 5,
    NEO_CALL_ALL = 15,
};

/* The builder appends to a neo_buf_t; pushes mirror neon-js ScriptBuilder byte for byte. */
void neo_sb_emit(neo_buf_t *b, uint8_t op);
void neo_sb_push_bool(neo_buf_t *b, bool v);
void neo_sb_push_null(neo_buf_t *b);
void neo_sb_push_int(neo_buf_t *b, int64_t v);
/* Decimal string, optional '-', up to what fits PUSHINT256. */
int neo_sb_push_int_dec(neo_buf_t *b, const char *dec, err_t *err);
/* Little-endian two's complement of any length (trimmed and widened as needed). */
int neo_sb_push_int_le(neo_buf_t *b, const uint8_t *le, size_t n, err_t *err);
int neo_sb_push_bytes(neo_buf_t *b, const uint8_t *p, size_t n, err_t *err); /* PUSHDATA1/2/4 */
int neo_sb_push_string(neo_buf_t *b, const char *s, err_t *err);             /* UTF-8 bytes */
void neo_sb_push_hash160(neo_buf_t *b, const uint8_t h[20]);                 /* serialized order */
void neo_sb_push_hash256(neo_buf_t *b, const uint8_t h[32]);
void neo_sb_push_pubkey(neo_buf_t *b, const uint8_t pub[33]);
/* Pushes count then PACK (an array of the `count` items pushed before, last first). */
void neo_sb_pack(neo_buf_t *b, size_t count);
/* SYSCALL with the interop id: first 4 bytes of SHA-256(name). */
void neo_sb_syscall(neo_buf_t *b, const char *name);
uint32_t neo_interop_id(const char *name); /* as the 4 script bytes, read little-endian */
/* System.Contract.Call of `method` on `contract`. The nargs arguments must already be
 * pushed in reverse order (last argument first); nargs 0 emits NEWARRAY0. */
int neo_sb_contract_call(neo_buf_t *b, const uint8_t contract[20], const char *method,
                         uint8_t call_flags, size_t nargs, err_t *err);
/* NEP-17 helpers (CallFlags.All, as neon-js Nep17Contract). data_null pushes PUSHNULL. */
int neo_sb_nep17_transfer(neo_buf_t *b, const uint8_t token[20], const uint8_t from[20],
                          const uint8_t to[20], const char *amount_dec, err_t *err);
int neo_sb_nep17_balance_of(neo_buf_t *b, const uint8_t token[20], const uint8_t account[20],
                            err_t *err);

/* ---- transactions --------------------------------------------------------------------- */

enum {
    NEO_SCOPE_NONE = 0x00,
    NEO_SCOPE_CALLED_BY_ENTRY = 0x01,
    NEO_SCOPE_CUSTOM_CONTRACTS = 0x10,
    NEO_SCOPE_CUSTOM_GROUPS = 0x20,
    NEO_SCOPE_WITNESS_RULES = 0x40,
    NEO_SCOPE_GLOBAL = 0x80,
};

enum {
    NEO_COND_BOOLEAN = 0x00,
    NEO_COND_NOT = 0x01,
    NEO_COND_AND = 0x02,
    NEO_COND_OR = 0x03,
    NEO_COND_SCRIPT_HASH = 0x18,
    NEO_COND_GROUP = 0x19,
    NEO_COND_CALLED_BY_ENTRY = 0x20,
    NEO_COND_CALLED_BY_CONTRACT = 0x28,
    NEO_COND_CALLED_BY_GROUP = 0x29,
};

enum {
    NEO_ATTR_HIGH_PRIORITY = 0x01,
    NEO_ATTR_ORACLE_RESPONSE = 0x11,
    NEO_ATTR_NOT_VALID_BEFORE = 0x20,
    NEO_ATTR_CONFLICTS = 0x21,
};

typedef struct neo_condition neo_condition_t;
struct neo_condition {
    uint8_t type;
    bool expression;        /* BOOLEAN */
    uint8_t hash[20];       /* SCRIPT_HASH, CALLED_BY_CONTRACT */
    uint8_t group[33];      /* GROUP, CALLED_BY_GROUP */
    neo_condition_t *items; /* NOT (exactly 1), AND, OR */
    size_t nitems;
};

typedef struct {
    uint8_t action; /* 0 deny, 1 allow */
    neo_condition_t condition;
} neo_rule_t;

typedef struct {
    uint8_t account[20];
    uint8_t scopes;
    const uint8_t (*contracts)[20];
    size_t ncontracts;
    const uint8_t (*groups)[33];
    size_t ngroups;
    const neo_rule_t *rules;
    size_t nrules;
} neo_signer_t;

typedef struct {
    uint8_t type;
    uint64_t oracle_id;    /* ORACLE_RESPONSE */
    uint8_t oracle_code;   /* ORACLE_RESPONSE */
    const uint8_t *result; /* ORACLE_RESPONSE */
    size_t result_len;
    uint32_t height;  /* NOT_VALID_BEFORE */
    uint8_t hash[32]; /* CONFLICTS */
} neo_attr_t;

typedef struct {
    const uint8_t *invocation;
    size_t invocation_len;
    const uint8_t *verification;
    size_t verification_len;
} neo_witness_t;

/* A transaction is a view: the caller owns every array it points to (or an arena does,
 * after neo_tx_deserialize). */
typedef struct {
    uint8_t version;
    uint32_t nonce;
    int64_t system_fee, network_fee;
    uint32_t valid_until_block;
    const neo_signer_t *signers;
    size_t nsigners;
    const neo_attr_t *attrs;
    size_t nattrs;
    const uint8_t *script;
    size_t script_len;
    const neo_witness_t *witnesses;
    size_t nwitnesses;
} neo_tx_t;

/* Checks every node rule (sizes, scopes, nesting, duplicates, fee signs). Signed form also
 * requires one witness per signer. */
int neo_tx_validate(const neo_tx_t *tx, bool with_witnesses, err_t *err);
/* Appends the serialization (validated first). with_witnesses=false gives the unsigned
 * form that is hashed. */
int neo_tx_serialize(const neo_tx_t *tx, bool with_witnesses, neo_buf_t *out, err_t *err);
/* Strict parse of exactly n bytes; all arrays are allocated from `a`. with_witnesses=false
 * parses the unsigned form. */
int neo_tx_deserialize(arena_t *a, const uint8_t *p, size_t n, bool with_witnesses, neo_tx_t *tx,
                       err_t *err);
/* SHA-256 of the unsigned serialization (serialized order; display it reversed). */
int neo_tx_hash(const neo_tx_t *tx, uint8_t hash[32], err_t *err);
/* network magic (u32 LE) || hash: the 36 bytes a witness signs. */
int neo_tx_sign_data(const neo_tx_t *tx, uint32_t magic, uint8_t out[36], err_t *err);
int neo_tx_sign(const neo_tx_t *tx, uint32_t magic, const uint8_t priv[32], uint8_t sig[64],
                err_t *err);
int neo_tx_sign_key(const neo_tx_t *tx, uint32_t magic, const neo_key_t *key, uint8_t sig[64],
                    err_t *err);
/* 1 valid, 0 invalid, -1 error. */
int neo_tx_verify(const neo_tx_t *tx, uint32_t magic, const uint8_t pub[33], const uint8_t sig[64],
                  err_t *err);
/* Network fee the node charges for `tx` once it carries standard witnesses: fee_per_byte x
 * size (with 64-byte placeholder signatures) + exec_fee_factor x verification cost (PolicyContract
 * getFeePerByte / getExecFeeFactor; 1000 and 30 on MainNet today). tx->witnesses give each
 * signer's verification script, in signer order (invocation scripts are ignored); single-sig
 * and m-of-n multisig accounts only — contract witnesses need the node's calculatenetworkfee.
 * Per-attribute policy fees (PolicyContract getAttributeFee, e.g. for Conflicts) are not
 * included: add them when the transaction carries such attributes. */
int neo_tx_network_fee(const neo_tx_t *tx, int64_t fee_per_byte, int64_t exec_fee_factor,
                       int64_t *fee, err_t *err);
/* Invocation script for one signature: PUSHDATA1 64 <sig> (66 bytes). */
void neo_invocation_script(const uint8_t sig[64], uint8_t out[66]);

/* Builds a transaction from the JSON shape neon-js uses (Transaction constructor /
 * export()): {version, nonce, systemFee, networkFee, validUntilBlock, signers:[{account
 * ("0x…" or address), scopes (number or "CalledByEntry,CustomContracts"),
 * allowedContracts, allowedGroups, rules:[{action, condition:{type, …}}]}],
 * attributes:[{type, …}], script (hex), witnesses:[{invocationScript,
 * verificationScript}]}. Everything is allocated from `a`; validation happens on
 * serialize. */
int neo_tx_from_json(arena_t *a, const json_t *j, neo_tx_t *tx, err_t *err);
/* The inverse, in the same shape (hashes big-endian without 0x as neon-js export(), rule
 * actions and attribute types by name). New reference; the caller json_decrefs it. */
json_t *neo_tx_to_json(const neo_tx_t *tx);

/* Builds a script from a JSON program, one op per element: ["int", "123"|123],
 * ["bool", b], ["null"], ["str", s], ["bytes", hex], ["b64", base64], ["h160", "0x…"|address],
 * ["h256", "0x…"], ["pubkey", hex], ["array", [ops]], ["syscall", name],
 * ["call", hash, method, flags, [args]], ["transfer", token, from, to, amount],
 * ["balanceOf", token, account]. Appends to out. */
int neo_script_from_json(const json_t *ops, neo_buf_t *out, err_t *err);

/* ---- application logs ----------------------------------------------------------------- */

/* Turns an RPC stack item ({"type":…, "value":…}) into plain JSON: Any -> null, Boolean ->
 * bool, Integer -> decimal string, ByteString/Buffer -> {"type","hex"} plus "text" when
 * valid UTF-8 and "address" when 20 bytes, Array/Struct -> array, Map -> array of
 * {"key","value"}, Pointer -> number, InteropInterface -> {"type":"InteropInterface"}.
 * Returns a new reference (caller json_decref) or NULL with err. Depth limited to 64. */
json_t *neo_stack_item_decode(const json_t *item, err_t *err);
/* ByteString of exactly 20 bytes -> Neo address; Integer / ByteString -> decimal string
 * (ByteString read as little-endian two's complement, as NeoVM converts). */
int neo_stack_item_address(const json_t *item, char out[NEO_ADDRESS_LEN + 1], err_t *err);
int neo_stack_item_integer(const json_t *item, char *out, size_t outcap, err_t *err);
/* One notification {contract, eventname, state} -> {contract, event, state: decoded}; a
 * NEP-17 "Transfer" also gets "transfer": {from, to, amount} (null for mint/burn side). */
json_t *neo_notification_decode(const json_t *notification, err_t *err);

#endif
