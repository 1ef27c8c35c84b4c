// The CLI's chain commands against a server with real chain nodes: hardhat (tests/eth/
// hardhat.mjs, the relayer key imported from a funded hardhat account) and the Neo test peer
// (tests/neo/peer.mjs). Chain triggers are created, listed and deleted with `r3e triggers`;
// `r3e relayer` reads the relayers, sends through them and waits for the outcome; bad input
// is a usage error (exit 2) or the server's own error (exit 1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, uniqueName, runCli } from './lib/server.mjs';
import { startNeoPeer } from '../neo/peer.mjs';

const ethDir = new URL('../eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat, compileContract, deployContract } = await import('../eth/hardhat.mjs');

const TRANSFER = 'event Transfer(address indexed from, address indexed to, uint256 value)';
let node, peer, srv, keyDir, relayerAccount, fn;
const cli = (args, opts = {}) => runCli(args, { server: srv.url, ...opts });

before(async () => {
  node = await startHardhat();
  peer = await startNeoPeer({});
  relayerAccount = node.accounts[1];
  keyDir = await mkdtemp(join(tmpdir(), 'r3e-cli-chain-'));
  const keyFile = join(keyDir, 'local.key');
  await writeFile(keyFile, `${relayerAccount.privateKey}\n`, { mode: 0o600 });
  srv = await startServer({
    args: ['--eth', `local=${node.url},1337`, '--eth-relayer-key-file', `local=${keyFile}`,
      '--eth-relayer-poll-ms', 'local=100', '--eth-poll-ms', '100',
      '--neo', `local=${peer.url}`, '--neo-poll-ms', '100'],
    env: { R3E_NEO_RELAYER_POLL_MS: '100' },
  });
  fn = uniqueName('chaincli');
  await srv.deploy(fn, 'export default async (e) => e');
});

after(async () => {
  await srv?.close();
  await peer?.stop();
  await node?.stop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('chain triggers', () => {
  test('create eth and neo triggers, see their sources in ls, delete them', async () => {
    const addr = node.accounts[3].address;
    let r = await cli(['triggers', 'create', fn, '--eth-blocks', '--confirmations', '2']);
    assert.equal(r.code, 0, r.stderr);
    const blocks = r.stdout.match(/^created trigger (\S+)$/m)[1];
    assert.match(r.stdout, /^source:\s+eth:local blocks \(2 confirmations\)$/m);

    r = await cli(['--json', 'triggers', 'create', fn, '--eth-logs', '--address', addr, '--abi', TRANSFER,
      '--from-block', '0', '--network', 'local']);
    assert.equal(r.code, 0, r.stderr);
    const logs = JSON.parse(r.stdout);
    assert.deepEqual([logs.source.type, logs.source.events, logs.source.network, logs.source.fromBlock],
      ['eth', 'logs', 'local', 0]);
    assert.equal(logs.source.address.toLowerCase(), addr.toLowerCase());
    assert.equal(logs.source.abi, TRANSFER);

    r = await cli(['--json', 'triggers', 'create', fn, '--eth-logs', '--topic0', `0x${'ab'.repeat(32)}`]);
    assert.equal(r.code, 0, r.stderr);
    const topic = JSON.parse(r.stdout);
    assert.deepEqual(topic.source.topics, [`0x${'ab'.repeat(32)}`]);

    r = await cli(['--json', 'triggers', 'create', fn, '--neo-blocks']);
    assert.equal(r.code, 0, r.stderr);
    const neoBlocks = JSON.parse(r.stdout);
    assert.equal(neoBlocks.source.type, 'neo');
    assert.equal(neoBlocks.source.network, 'local');

    r = await cli(['triggers', 'create', fn, '--neo-notifications', '--contract', peer.tokens.TST, '--event', 'Transfer']);
    assert.equal(r.code, 0, r.stderr);
    const notes = r.stdout.match(/^created trigger (\S+)$/m)[1];
    assert.match(r.stdout, new RegExp(`^source:\\s+neo:local notifications ${peer.tokens.TST} Transfer$`, 'm'));

    r = await cli(['triggers', 'ls', '--function', fn]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+FUNCTION\s+ENABLED\s+SOURCE$/m);
    const row = (id) => r.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
    assert.match(row(blocks), new RegExp(`${fn}\\s+yes\\s+eth:local blocks \\(2 confirmations\\)$`));
    assert.match(row(logs.id), new RegExp(`eth:local logs ${addr} Transfer$`, 'i'));
    assert.match(row(topic.id), /eth:local logs topic0=0xabababab…$/);
    assert.match(row(neoBlocks.id), /neo:local blocks$/);
    assert.match(row(notes), /neo:local notifications 0x[0-9a-f]{40} Transfer$/);

    const ids = [blocks, logs.id, topic.id, neoBlocks.id, notes];
    for (const id of ids) {
      const d = await cli(['triggers', 'rm', id]);
      assert.equal(d.code, 0, d.stderr);
    }
    r = await cli(['--json', 'triggers', 'ls', '--function', fn]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).triggers.filter((t) => ids.includes(t.id)), []);
    r = await cli(['triggers', 'ls', '--function', fn]);
    assert.match(r.stdout, /^no triggers$/m);
  });

  test('bad chain trigger input: usage errors exit 2, the server\'s errors exit 1 with its message', async () => {
    for (const [args, msg] of [
      [['--eth-logs'], /--eth-logs needs --address/],
      [['--neo-notifications'], /needs --contract/],
      [['--eth-blocks', '--contract', '0x00'], /--contract applies to --neo-notifications only/],
      [['--neo-blocks', '--confirmations', '1'], /--confirmations applies to --eth-blocks and --eth-logs only/],
      [['--eth-blocks', '--neo-blocks'], /give one source/],
      [['--eth-blocks', '--from-block', '-1'], /--from-block needs a non-negative integer/],
      [['--eth-logs', '--topics', '{"a":1}'], /--topics needs a JSON array/],
      [['--eth-logs', '--address'], /--address needs a value/],
    ]) {
      const r = await cli(['triggers', 'create', fn, ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, msg, args.join(' '));
    }
    let r = await cli(['triggers', 'create', fn, '--eth-blocks', '--network', 'nowhere']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: .*nowhere/m);
    r = await cli(['triggers', 'create', fn, '--eth-logs', '--address', '0x1234']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: .*address/m);
    r = await cli(['triggers', 'create', fn, '--eth-logs', '--abi', 'event Broken(uint257 x)']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: /m);
    r = await cli(['triggers', 'create', fn, '--neo-notifications', '--contract', 'NotAHash']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: .*contract/m);
  });
});

describe('relayer', () => {
  test('eth: info, send --wait until mined, ls and get', async () => {
    let r = await cli(['relayer', 'info', 'eth', 'local']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^address:\\s+${relayerAccount.address}$`, 'm'));
    assert.match(r.stdout, /^chainId:\s+1337$/m);
    r = await cli(['--json', 'relayer', 'info', 'eth', 'local']);
    assert.equal(JSON.parse(r.stdout).address, relayerAccount.address);

    const to = node.accounts[4].address;
    const provider = node.provider();
    const before = await provider.getBalance(to);
    r = await cli(['relayer', 'send', 'eth', 'local', '--to', to, '--value', '12345', '--speed', 'fast', '--wait', '--timeout', '60']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^state:\s+mined$/m);
    const id = r.stdout.match(/^id:\s+(\S+)$/m)[1];
    const hash = r.stdout.match(/^hash:\s+(0x[0-9a-f]{64})$/m)[1];
    assert.equal(await provider.getBalance(to), before + 12345n);
    assert.equal((await provider.getTransaction(hash)).from, relayerAccount.address);

    r = await cli(['--json', 'relayer', 'send', 'eth', 'local', '--to', to, '--data', '0x', '--gas-limit', '30000', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const second = JSON.parse(r.stdout);
    assert.equal(second.state, 'mined', r.stdout);
    assert.equal(second.receipt.status, 1);
    assert.equal(String(second.gasLimit), '30000');

    r = await cli(['relayer', 'ls', 'eth', 'local', '--limit', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+STATE\s+CREATED\s+HASH$/m);
    assert.match(r.stdout, new RegExp(`^${second.id}\\s+mined\\s+\\S+\\s+${second.hash}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^${id}\\s+mined\\s+\\S+\\s+${hash}$`, 'm'));
    r = await cli(['--json', 'relayer', 'ls', 'eth', 'local', '--limit', '1']);
    assert.deepEqual(JSON.parse(r.stdout).transactions.map((t) => t.id), [second.id]);

    r = await cli(['relayer', 'get', 'eth', 'local', id, '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^id:\\s+${id}$`, 'm'));
    assert.match(r.stdout, /^receipt:\n(  \S+:.*\n)*  status:\s+1$/m);
  });

  test('eth: a reverting call is the server\'s error; mined reverted, --wait exits 1', async () => {
    const emitter = await deployContract(node, node.accounts[0], await compileContract('Emitter'), [1n]);
    const to = await emitter.getAddress();
    const data = emitter.interface.encodeFunctionData('fail', ['nope']);
    let r = await cli(['relayer', 'send', 'eth', 'local', '--to', to, '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: upstream_error: gas estimation failed: .*nope/m);
    r = await cli(['relayer', 'send', 'eth', 'local', '--to', to, '--data', data, '--gas-limit', '100000', '--wait']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^state:\s+failed$/m);
    assert.match(r.stdout, /^receipt:\n(  \S+:.*\n)*  status:\s+0$/m);
    assert.match(r.stderr, /^error: transaction_failed: /m);
  });

  test('neo: info, send a contract call, get --wait while blocks are mined', async () => {
    let r = await cli(['--json', 'relayer', 'info', 'neo', 'local']);
    assert.equal(r.code, 0, r.stderr);
    const relayer = JSON.parse(r.stdout);
    peer.control.emitTransfer({ from: 0, to: relayer.address, amount: 1000n * 10n ** 8n, token: 'GAS' });
    peer.control.emitTransfer({ from: 0, to: relayer.address, amount: 10n ** 8n, token: 'TST' });
    const to = peer.accounts[2].address;
    const args = [{ type: 'Hash160', value: relayer.address }, { type: 'Hash160', value: to }, { type: 'Integer', value: '77' }, null];
    r = await cli(['relayer', 'send', 'neo', 'local', '--contract', peer.tokens.TST, '--method', 'transfer', '--args', JSON.stringify(args)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^state:\s+submitted$/m);
    const id = r.stdout.match(/^id:\s+(\S+)$/m)[1];
    const before = BigInt(peer.control.balance('TST', 2));
    // no block yet: --wait gives up after --timeout with the record as it is
    r = await cli(['relayer', 'get', 'neo', 'local', id, '--wait', '--timeout', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^state:\s+submitted$/m);
    assert.match(r.stderr, new RegExp(`^error: timeout: transaction ${id} is still submitted after 1 s$`, 'm'));
    const miner = setInterval(() => peer.control.mineBlock(), 200);
    try {
      r = await cli(['relayer', 'get', 'neo', 'local', id, '--wait', '--timeout', '30']);
    } finally {
      clearInterval(miner);
    }
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^state:\s+executed$/m);
    assert.match(r.stdout, /^vmstate:\s+HALT$/m);
    assert.equal(BigInt(peer.control.balance('TST', 2)), before + 77n);
    r = await cli(['relayer', 'ls', 'neo', 'local']);
    assert.match(r.stdout, new RegExp(`^${id}\\s+executed\\s`, 'm'));
  });

  test('bad relayer input: usage errors exit 2, the server\'s errors exit 1 with its message', async () => {
    for (const [args, msg] of [
      [['relayer', 'info', 'btc', 'local'], /relayer info\|send\|ls\|get eth\|neo NETWORK/],
      [['relayer', 'send', 'eth', 'local'], /--to 0x…/],
      [['relayer', 'send', 'eth', 'local', '--to', '0x00', '--speed', 'warp'], /--speed must be slow, normal or fast/],
      [['relayer', 'send', 'eth', 'local', '--to', '0x00', '--gas-limit', 'lots'], /--gas-limit needs/],
      [['relayer', 'send', 'neo', 'local', '--script', '00', '--contract', '0x00', '--method', 'm'], /--script HEX \| --contract/],
      [['relayer', 'send', 'neo', 'local', '--contract', '0x00', '--method', 'm', '--args', '{}'], /--args needs a JSON array/],
      [['relayer', 'ls', 'eth', 'local', '--limit', '0'], /--limit must be 1\.\.100/],
      [['relayer', 'get', 'eth', 'local'], /relayer get eth\|neo NETWORK ID/],
      [['relayer', 'get', 'eth', 'local', 'X', '--wait', '--timeout', '0'], /--timeout needs seconds/],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, msg, args.join(' '));
    }
    let r = await cli(['relayer', 'info', 'eth', 'nowhere']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: .*nowhere/m);
    r = await cli(['relayer', 'send', 'eth', 'local', '--to', '0x1234']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: .*to/m);
    r = await cli(['relayer', 'get', 'eth', 'local', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: /m);
    r = await cli(['--json', 'relayer', 'get', 'neo', 'local', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'not_found');
  });
});
