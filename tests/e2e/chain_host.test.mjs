// The path from a function to a blockchain node (ctx.eth / ctx.neo → host call → server →
// JSON-RPC): what a function may call, how node errors reach it, and what happens when the
// node is down, slow, or not speaking JSON-RPC. Node behaviour itself is tested against a
// real hardhat node and the Neo test peer (eth_ctx, neo_ctx); here the node is a small
// scripted HTTP peer so each failure mode can be produced on demand.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer, uniqueName } from './lib/server.mjs';

// A JSON-RPC peer: `answer(call)` returns {result} | {error} | 'hang' | 'html' | 'http500'.
function startPeer(answer) {
  const seen = [];
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let msg;
      try { msg = JSON.parse(body); } catch { res.writeHead(400).end(); return; }
      const one = (call) => {
        seen.push(call.method);
        const a = answer(call);
        if (typeof a === 'string') return a;
        return { jsonrpc: '2.0', id: call.id, ...a };
      };
      const out = Array.isArray(msg) ? msg.map(one) : one(msg);
      const mode = Array.isArray(out) ? null : typeof out === 'string' ? out : null;
      if (mode === 'hang') return; // never answers; closed when the peer stops
      if (mode === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
        return;
      }
      if (mode === 'http500') { res.writeHead(500).end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}`,
    seen,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); srv.close(r); }),
  })));
}

// A port nothing listens on.
async function deadPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('function → node host calls', () => {
  let srv, good, bad;
  before(async () => {
    good = await startPeer((call) => {
      switch (call.method) {
        case 'eth_chainId': return { result: '0x539' };
        case 'eth_blockNumber': return { result: '0x2a' };
        case 'eth_call': return { error: { code: 3, message: 'execution reverted: not owner', data: '0x08c379a0' } };
        case 'eth_getBalance': return 'hang';
        case 'eth_gasPrice': return 'html';
        case 'eth_getCode': return 'http500';
        case 'getversion': return { result: { protocol: { network: 860833102 } } };
        case 'getblockcount': return { result: 1234 };
        default: return { error: { code: -32601, message: 'Method not found' } };
      }
    });
    bad = await deadPort();
    srv = await startServer({
      workers: 2,
      args: ['--eth', `local=${good.url}`, '--eth', `down=http://127.0.0.1:${bad},5`,
        '--neo', `neolocal=${good.url}`],
    });
  });
  after(async () => { if (process.env.DEBUG_STDERR) console.log(srv?.stderr.slice(-6000)); await srv?.close(); await good?.close(); });

  async function run(code, spec = {}) {
    const name = uniqueName('chainhost');
    await srv.deploy(name, code, spec);
    return srv.invoke(name, {});
  }

  test('reads go to the default network and to named ones; ids come from the node', async () => {
    const b = await run(`export default async (e, ctx) => {
      const net = await ctx.eth.getNetwork();
      const batch = await ctx.eth.batch([{ method: 'eth_chainId' }, { method: 'eth_call', params: [{}] }]);
      return {
        bn: await ctx.eth.send('eth_blockNumber', []),
        info: { name: net.name, chainId: net.chainId.toString() },
        neo: await ctx.neo.request('getblockcount'),
        neoInfo: await ctx.neo.info(),
        batch: [batch[0], batch[1] instanceof Error ? { error: { code: batch[1].rpcCode } } : batch[1]],
      };
    }`);
    assert.equal(b.status, 'ok', JSON.stringify(b.error));
    assert.equal(b.result.bn, '0x2a');
    assert.deepEqual(b.result.info, { name: 'local', chainId: '1337' });
    assert.equal(b.result.neo, 1234);
    assert.deepEqual(b.result.neoInfo, { name: 'neolocal', magic: '860833102' });
    assert.equal(b.result.batch[0], '0x539');
    assert.equal(b.result.batch[1].error.code, 3);
  });

  test("a node's error reaches the function with its message, code and data", async () => {
    const b = await run(`export default async (e, ctx) => {
      try { await ctx.eth.send('eth_call', [{ to: '0x' + '11'.repeat(20) }, 'latest']); return 'no error'; }
      catch (err) { return { name: err.name, message: err.message, code: err.platformCode, rpcCode: err.rpcCode, data: err.data }; }
    }`);
    assert.equal(b.status, 'ok', JSON.stringify(b.error));
    assert.equal(b.result.name, 'Error');
    assert.match(b.result.message, /execution reverted: not owner/);
    assert.equal(b.result.code, 'upstream_error');
    assert.equal(b.result.rpcCode, 3);
    assert.equal(b.result.data, '0x08c379a0');
  });

  test('methods outside the allow-list never reach the node', async () => {
    const before = good.seen.length;
    const b = await run(`export default async (e, ctx) => {
      const out = [];
      const E = (err) => (err.platformCode || err.code) + ' ' + err.message;
      for (const m of ['hardhat_setBalance', 'evm_revert', 'debug_traceTransaction', 'personal_sign']) {
        try { await ctx.eth.send(m, []); out.push('allowed ' + m); } catch (err) { out.push(E(err)); }
      }
      for (const m of ['submitblock', 'openwallet']) {
        try { await ctx.neo.request(m, []); out.push('allowed ' + m); } catch (err) { out.push(E(err)); }
      }
      try { await ctx.eth.batch([{ method: 'eth_chainId' }, { method: 'hardhat_mine' }]); out.push('batch allowed'); }
      catch (err) { out.push(E(err)); }
      return out;
    }`);
    assert.equal(b.status, 'ok');
    assert.equal(b.result.length, 7);
    for (const line of b.result) assert.match(line, /^permission_denied .*method \w+ is not available to functions$/);
    assert.equal(good.seen.length, before, 'the peer saw none of them');
  });

  test('unknown and unconfigured networks are clear errors', async () => {
    const b = await run(`export default async (e, ctx) => {
      const out = {};
      try { await ctx.eth.network('mainnet').send('eth_blockNumber', []); } catch (err) { out.eth = [err.platformCode || err.code, err.message]; }
      try { await ctx.neo.network('testnet').request('getblockcount'); } catch (err) { out.neo = [err.platformCode || err.code, err.message]; }
      return out;
    }`);
    assert.equal(b.result.eth[0], 'not_found');
    assert.match(b.result.eth[1], /no Ethereum network named "mainnet" is configured/);
    assert.equal(b.result.neo[0], 'not_found');
    assert.match(b.result.neo[1], /no Neo N3 network named "testnet" is configured/);
  });

  test('a node that is down fails the call, not the function', async () => {
    const b = await run(`export default async (e, ctx) => {
      const down = ctx.eth.network('down');
      const net = await down.getNetwork();   // the configured chain id needs no node
      try { await down.send('eth_blockNumber', []); return 'no error'; }
      catch (err) { return { info: { name: net.name, chainId: net.chainId.toString() }, code: err.platformCode, message: err.message }; }
    }`);
    assert.deepEqual(b.result.info, { name: 'down', chainId: '5' });
    assert.equal(b.result.code, 'unavailable');
    assert.match(b.result.message, /eth network "down" unreachable/);
    // node URLs often carry API keys: errors name the network, never the URL
    assert.ok(!b.result.message.includes(String(bad)), b.result.message);
  });

  test("a node that never answers times out inside the function's time limit", async () => {
    const b = await run(`export default async (e, ctx) => {
      const t0 = Date.now();
      try { await ctx.eth.send('eth_getBalance', ['0x' + '22'.repeat(20), 'latest']); return 'no error'; }
      catch (err) { return { code: err.platformCode, ms: Date.now() - t0 }; }
    }`, { timeout_ms: 1500 });
    assert.equal(b.status, 'ok', JSON.stringify(b.error));
    assert.equal(b.result.code, 'timeout');
    assert.ok(b.result.ms < 1500, `took ${b.result.ms} ms`);
  });

  test('answers that are not JSON-RPC are upstream errors; 5xx is retried then unavailable', async () => {
    const before = good.seen.filter((m) => m === 'eth_getCode').length;
    const b = await run(`export default async (e, ctx) => {
      const out = {};
      try { await ctx.eth.send('eth_gasPrice', []); } catch (err) { out.html = [err.platformCode, err.message]; }
      try { await ctx.eth.send('eth_getCode', ['0x' + '33'.repeat(20), 'latest']); } catch (err) { out.h500 = [err.platformCode, err.message]; }
      return out;
    }`);
    assert.equal(b.result.html[0], 'upstream_error');
    assert.match(b.result.html[1], /eth network "local" answered HTTP 200 without JSON-RPC/);
    assert.ok(!b.result.html[1].includes(good.url), b.result.html[1]);
    assert.equal(b.result.h500[0], 'unavailable');
    assert.equal(good.seen.filter((m) => m === 'eth_getCode').length - before, 3, 'one call and two retries');
  });

  test('hostile arguments are refused in the sandbox', async () => {
    const b = await run(`export default async (e, ctx) => {
      const out = {};
      try { await ctx.neo.request('getblock', [1n]); } catch (err) { out.bigint = [err.name, err.message]; }
      try { await ctx.neo.request('getblock', ['x'.repeat(2 * 1024 * 1024)]); } catch (err) { out.big = [err.name, err.message]; }
      const cyc = {}; cyc.self = cyc;
      try { await ctx.neo.request('getblock', [cyc]); } catch (err) { out.cycle = err.name; }
      let n = 0;
      try { for (;;) { await ctx.neo.request('submitblock', []).catch((err) => { if (err.name === 'RangeError') throw err; }); n++; } }
      catch (err) { out.flood = [n, err.name, err.message]; }
      return out;
    }`);
    assert.equal(b.status, 'ok', JSON.stringify(b.error));
    assert.equal(b.result.bigint[0], 'TypeError');
    assert.equal(b.result.big[0], 'RangeError');
    assert.match(b.result.big[1], /arguments exceed 1 MiB/);
    assert.equal(b.result.cycle, 'TypeError');
    assert.equal(b.result.flood[1], 'RangeError');
    assert.match(b.result.flood[2], /more than 1000 platform calls in one invocation/);
  });

  test('node calls are counted per network and outcome in /metrics', async () => {
    const m = await srv.metrics();
    const get = (network, outcome) => m.find((x) => x.name === 'r3e_chain_rpc_calls_total' &&
      x.labels.network === network && x.labels.outcome === outcome)?.value;
    assert.ok(get('local', 'ok') >= 2);
    assert.ok(get('local', 'node_error') >= 1);
    assert.ok(get('local', 'timeout') >= 1);
    assert.ok(get('down', 'unavailable') >= 1);
    assert.ok(m.some((x) => x.name === 'r3e_chain_rpc_duration_seconds_count' && x.labels.chain === 'neo'));
  });
});

describe('network flags', () => {
  test('bad --eth / --neo values stop the server with the flag named', async () => {
    for (const [args, re] of [
      [['--eth', 'nourl'], /--eth wants NAME=URL/],
      [['--eth', 'x=ftp://h'], /must start with http/],
      [['--eth', 'x=http://h,zero'], /chain id must be a positive integer/],
      [['--neo', 'x=http://h,5'], /--neo takes NAME=URL/],
      [['--eth', 'a=http://h', '--eth', 'a=http://i'], /configured twice/],
    ]) {
      await assert.rejects(startServer({ args, workers: 1 }), re);
    }
  });
});
