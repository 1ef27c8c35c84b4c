// Local Ethereum test node for the e2e suites: `hardhat node` (Hardhat 2, pinned in
// package-lock.json) on 127.0.0.1 with chain id 1337 and the fixed test mnemonic
// (hardhat.config.cjs), plus solc-js compilation and an ethers-based deploy helper.
//
//   const node = await startHardhat();          // {url, wsUrl, chainId, accounts, rpc, stop}
//   const art = compileSol(src, 'Emitter');     // {abi, bytecode}
//   const c = await deployContract(node, node.accounts[0], art, [42n]);  // ethers Contract
//   await node.stop();
//
// Every wait is bounded. Nothing here reaches beyond 127.0.0.1: solc-js compiles in-process
// (no compiler download) and hardhat runs with its telemetry prompt disabled.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as ethers from 'ethers';

const { ContractFactory, HDNodeWallet, JsonRpcProvider, Mnemonic, Wallet } = ethers;
// The pinned ethers, for suites outside tests/eth that check results against it.
export { ethers };

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const MNEMONIC = 'test test test test test test test test test test test junk';
export const CHAIN_ID = 1337;
const ACCOUNT_COUNT = 10;
const START_TIMEOUT_MS = Number(process.env.R3E_HARDHAT_START_TIMEOUT_MS ?? 60000);
const RPC_TIMEOUT_MS = 30000;

// The accounts hardhat derives from the mnemonic (m/44'/60'/0'/0/i).
export function testAccounts(count = ACCOUNT_COUNT) {
  const m = Mnemonic.fromPhrase(MNEMONIC);
  const out = [];
  for (let i = 0; i < count; i++) {
    const w = HDNodeWallet.fromMnemonic(m, `m/44'/60'/0'/0/${i}`);
    out.push({ address: w.address, privateKey: w.privateKey });
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// One JSON-RPC call; rejects with the node's message (err.code = node's code, err.data).
export async function rpcCall(url, method, params = []) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
  });
  const body = await r.json();
  if (body.error) {
    const e = new Error(`${method}: ${body.error.message}`);
    e.code = body.error.code;
    e.data = body.error.data;
    throw e;
  }
  return body.result;
}

// Starts `hardhat node` in its own process group on a free (or the given) port and waits
// until eth_chainId answers 1337. stop() kills the whole group and waits for the exit.
export async function startHardhat({ port } = {}) {
  const p = port ?? await freePort();
  const bin = path.join(path.dirname(require.resolve('hardhat/package.json')), 'internal/cli/bootstrap.js');
  const env = { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env.HARDHAT_CONFIG; // always tests/eth/hardhat.config.cjs
  const child = spawn(process.execPath, [bin, 'node', '--hostname', '127.0.0.1', '--port', String(p)], {
    cwd: here,
    detached: true, // own process group: stop() kills hardhat and anything it forked
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let log = '';
  const keep = (d) => { log = (log + d).slice(-20000); };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); });
    child.on('error', (e) => { exited = { error: e.message }; resolve(exited); });
  });

  const url = `http://127.0.0.1:${p}`;
  const killGroup = (sig) => {
    try { process.kill(-child.pid, sig); } catch { /* already gone */ }
  };
  const stop = async () => {
    if (exited) return exited;
    killGroup('SIGTERM');
    let timer;
    const res = await Promise.race([exitPromise, new Promise((r) => { timer = setTimeout(() => r(null), 10000); })]);
    clearTimeout(timer);
    if (res) { killGroup('SIGKILL'); return res; }
    killGroup('SIGKILL');
    return exitPromise;
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastErr;
  for (;;) {
    if (exited) {
      throw new Error(`hardhat node exited early (${JSON.stringify(exited)})\n--- hardhat output ---\n${log.slice(-4000)}`);
    }
    try {
      const id = await rpcCall(url, 'eth_chainId');
      if (Number(id) !== CHAIN_ID) {
        await stop();
        throw new Error(`hardhat node on ${url} reports chain id ${id}, expected ${CHAIN_ID}`);
      }
      break;
    } catch (e) {
      if (/expected 1337/.test(e.message)) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hardhat node did not answer eth_chainId within ${START_TIMEOUT_MS} ms` +
        ` (last error: ${lastErr?.message})\n--- hardhat output ---\n${log.slice(-4000)}`);
    }
    await sleep(200);
  }

  return {
    url,
    wsUrl: `ws://127.0.0.1:${p}`,
    chainId: CHAIN_ID,
    accounts: testAccounts(),
    rpc: (method, params = []) => rpcCall(url, method, params),
    provider() {
      // A fresh ethers provider pinned to the chain (no network auto-detection polling).
      return new JsonRpcProvider(url, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
    },
    get log() { return log; },
    stop,
  };
}

// Compiles one Solidity source with solc-js (standard JSON) and returns the named
// contract's {abi, bytecode}. Throws with the compiler's messages on errors.
export function compileSol(sourceText, contractName) {
  const solc = require('solc');
  const input = {
    language: 'Solidity',
    sources: { 'main.sol': { content: sourceText } },
    settings: {
      optimizer: { enabled: false },
      evmVersion: 'paris',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), {
    import: (p) => ({ error: `imports are not supported here: ${p}` }),
  }));
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`solc: ${errors.map((e) => e.formattedMessage ?? e.message).join('\n')}`);
  const c = out.contracts?.['main.sol']?.[contractName];
  if (!c) throw new Error(`solc: no contract ${contractName} in the source`);
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

// Reads and compiles tests/eth/contracts/<name>.sol (contract <name>).
export async function compileContract(name) {
  const { readFile } = await import('node:fs/promises');
  return compileSol(await readFile(path.join(here, 'contracts', `${name}.sol`), 'utf8'), name);
}

// Deploys {abi, bytecode} from account ({privateKey}) with constructor args; waits for the
// receipt and returns the ethers Contract (connected to the deployer's wallet).
export async function deployContract(node, account, { abi, bytecode }, args = []) {
  const wallet = new Wallet(account.privateKey, node.provider());
  const factory = new ContractFactory(abi, bytecode, wallet);
  const c = await factory.deploy(...args);
  await c.waitForDeployment();
  return c;
}
