/* `r3e.eth` for function sandboxes: the Ethereum primitives of eth.h with ethers v6 shapes
 * (BigInt integers, "0x" hex strings for bytes, checksummed addresses):
 *
 *   keccak256, id, getAddress, computeAddress, hashMessage, recoverAddress, verifyMessage,
 *   encodeRlp, decodeRlp,
 *   Wallet (address, signingKey.sign, signMessage[Sync], signTransaction[Sync],
 *   signTypedData[Sync]), Transaction.from (serialized, unsignedSerialized, unsignedHash,
 *   hash, from), AbiCoder.defaultAbiCoder().encode/decode, Interface (human-readable
 *   fragments: getFunction/getEvent, encodeFunctionData, decodeFunctionData,
 *   encodeFunctionResult, decodeFunctionResult, encodeErrorResult, decodeErrorResult,
 *   encodeEventLog, decodeEventLog, parseLog, parseTransaction),
 *   TypedDataEncoder (hash, hashDomain, hashStruct, encodeType).
 *
 * Native work is one hidden dispatcher taking and returning JSON; a small JS layer converts
 * BigInt/Uint8Array on the way in and BigInt on the way out (guided by the ABI types). */
#ifndef R3E_CHAIN_ETH_JS_H
#define R3E_CHAIN_ETH_JS_H

#include <JavaScriptCore/JavaScript.h>

/* Defines globalThis.r3e.eth (creating globalThis.r3e when absent). Call once per context
 * before user code runs. */
void eth_js_install(JSGlobalContextRef ctx);
/* A fresh r3e.eth object, not installed anywhere (ctx.eth keeps a private one); NULL on an
 * engine-level error. */
JSValueRef eth_js_make(JSGlobalContextRef ctx);

#endif
