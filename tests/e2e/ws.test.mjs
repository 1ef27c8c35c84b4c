// GET /v1/ws, the live stream: subscriptions and their filters, errors that keep the
// connection, protocol closes (1003, 1009, 1008, 1001), pings both ways, a slow consumer
// dropped while invocations keep their latency, the connection cap, and `r3e logs -f`.
// The client is the `ws` package (pinned in package-lock.json): Node 20 has no WebSocket
// client by default.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { BIN, startServer, uniqueName, waitFor, metricSum, runCli, httpsRequest } from './lib/server.mjs';

const WAIT_MS = 15000;

// Opens a WebSocket to srv and collects what arrives: parsed text messages, pings, the
// close code/reason. next(pred) waits (bounded) for the first unseen message matching pred.
async function connect(srv, opts = {}) {
  const scheme = srv.tls ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://127.0.0.1:${srv.port}/v1/ws`, opts);
  const c = { ws, messages: [], pings: 0, closed: null, seen: 0 };
  ws.on('message', (data, isBinary) => {
    c.messages.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
  });
  ws.on('ping', () => { c.pings += 1; });
  c.closedPromise = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      c.closed = { code, reason: reason.toString() };
      resolve(c.closed);
    });
  });
  ws.on('error', () => {}); // surfaced through close
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(Object.assign(
      new Error(`unexpected response ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  c.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  c.next = (pred = () => true, what = 'a message', timeoutMs = WAIT_MS) => waitFor(() => {
    for (let i = 0; i < c.messages.length; i++) {
      if (!c.messages[i].used && pred(c.messages[i])) {
        c.messages[i].used = true;
        return c.messages[i];
      }
    }
    return null;
  }, { timeoutMs, intervalMs: 10, what });
  c.waitClose = (timeoutMs = WAIT_MS) => waitFor(() => c.closed, { timeoutMs, intervalMs: 10, what: 'the close' });
  c.subscribe = async (sub) => {
    const id = `s${Math.random().toString(36).slice(2)}`;
    c.send({ ...sub, id });
    const ack = await c.next((m) => m.id === id, `the answer to ${JSON.stringify(sub)}`);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return ack;
  };
  return c;
}

let srv;
before(async () => { srv = await startServer({ env: { R3E_WS_PING_INTERVAL_MS: '400' } }); });
after(async () => { await srv?.close(); });

describe('subscriptions', () => {
  test('an execution message arrives with the record\'s fields when a subscribed function finishes', async () => {
    const name = uniqueName('live');
    await srv.deploy(name, 'export default (e) => ({ doubled: e.n * 2 })');
    const c = await connect(srv);
    const ack = await c.subscribe({ subscribe: 'executions', function: name });
    assert.deepEqual(ack.subscribed, { topic: 'executions', function: name, logs: false });
    const rec = await srv.invoke(name, { n: 21 });
    const m = await c.next((x) => x.type === 'execution', 'the execution message');
    const x = m.execution;
    assert.equal(x.execution_id, rec.execution_id);
    assert.equal(x.function, name);
    assert.equal(x.version, 1);
    assert.equal(x.status, 'ok');
    assert.equal(typeof x.duration_us, 'number');
    assert.equal(x.started_at, rec.started_at);
    assert.equal(x.result, undefined, 'the message is a summary: fetch the record for the result');
    c.ws.close(1000);
    assert.equal((await c.waitClose()).code, 1000);
  });

  test('log lines come before their execution with logs:true, as NDJSON lines have them', async () => {
    const name = uniqueName('livelogs');
    await srv.deploy(name, 'export default () => { console.log("first", 1); console.warn("second"); return 1; }');
    const c = await connect(srv);
    await c.subscribe({ subscribe: 'executions', function: name, logs: true });
    const rec = await srv.invoke(name);
    await c.next((m) => m.type === 'execution', 'the execution message');
    const kinds = c.messages.filter((m) => m.type).map((m) => m.type);
    assert.deepEqual(kinds, ['log', 'log', 'execution']);
    const [a, b] = c.messages.filter((m) => m.type === 'log').map((m) => m.log);
    assert.equal(a.msg, 'first 1');
    assert.equal(a.level, 'info');
    assert.equal(b.level, 'warn');
    assert.equal(a.execution_id, rec.execution_id);
    assert.equal(a.function, name);
    const ndjson = (await srv.get(`/v1/functions/${name}/logs`)).text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual([a, b], ndjson);
    c.ws.close();
  });

  test('a function filter excludes other functions; no filter sees all; the HTTP trigger publishes too', async () => {
    const mine = uniqueName('mine');
    const other = uniqueName('other');
    await srv.deploy(mine, 'export default () => "m"');
    await srv.deploy(other, 'export default () => "o"');
    const filtered = await connect(srv);
    const all = await connect(srv);
    await filtered.subscribe({ subscribe: 'executions', function: mine });
    await all.subscribe({ subscribe: 'executions' });
    await srv.invoke(other);
    const t = await srv.get(`/fn/${mine}/x`);
    assert.equal(t.status, 200, t.text);
    const got = await filtered.next((m) => m.type === 'execution', 'mine');
    assert.equal(got.execution.function, mine);
    await all.next((m) => m.type === 'execution' && m.execution.function === other, 'other on the unfiltered');
    await all.next((m) => m.type === 'execution' && m.execution.function === mine, 'mine on the unfiltered');
    await sleep(200);
    assert.equal(filtered.messages.filter((m) => m.type === 'execution').length, 1);
    filtered.ws.close();
    all.ws.close();
  });

  test('unsubscribe stops the messages and says how many subscriptions went', async () => {
    const name = uniqueName('unsub');
    await srv.deploy(name, 'export default () => 1');
    const c = await connect(srv);
    await c.subscribe({ subscribe: 'executions', function: name });
    c.send({ unsubscribe: 'executions', id: 'u' });
    const ack = await c.next((m) => m.id === 'u');
    assert.equal(ack.removed, 1);
    await srv.invoke(name);
    await sleep(200);
    assert.equal(c.messages.filter((m) => m.type).length, 0);
    c.ws.close();
  });

  test('an events subscription with filters is acknowledged', async () => {
    const c = await connect(srv);
    const ack = await c.subscribe({ subscribe: 'events', type: 'com.example.*', source: '/shop' });
    assert.deepEqual(ack.subscribed, { topic: 'events', type: 'com.example.*', source: '/shop' });
    c.ws.close();
  });
});

describe('bad input', () => {
  test('malformed JSON gets an error message and the connection stays usable', async () => {
    const c = await connect(srv);
    c.send('{"subscribe": ');
    const e = await c.next((m) => m.error, 'the error');
    assert.equal(e.error.code, 'invalid_argument');
    assert.match(e.error.message, /malformed JSON/);
    await c.subscribe({ subscribe: 'executions' });
    assert.equal(c.closed, null);
    c.ws.close();
  });

  test('an unknown subscription or field is an error that echoes the id', async () => {
    const c = await connect(srv);
    c.send({ subscribe: 'blocks', id: 42 });
    const e = await c.next((m) => m.error, 'the error');
    assert.equal(e.id, 42);
    assert.match(e.error.message, /unknown subscription "blocks"/);
    c.send({ subscribe: 'executions', fucntion: 'x' });
    const f = await c.next((m) => m.error, 'the second error');
    assert.match(f.error.message, /unknown field "fucntion"/);
    c.send({ hello: 1 });
    assert.match((await c.next((m) => m.error)).error.message, /expected "subscribe" or "unsubscribe"/);
    assert.equal(c.closed, null);
    c.ws.close();
  });

  test('a message over 64 KiB closes with 1009', async () => {
    const c = await connect(srv);
    c.send(JSON.stringify({ subscribe: 'events', type: 'x'.repeat(70 * 1024) }));
    const closed = await c.waitClose();
    assert.equal(closed.code, 1009);
  });

  test('a binary message closes with 1003', async () => {
    const c = await connect(srv);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await c.waitClose()).code, 1003);
  });

  test('invalid UTF-8 in a text message closes with 1007', async () => {
    const c = await connect(srv);
    // ws validates what it sends; write a masked text frame with bytes 0xff 0xfe by hand
    const payload = Buffer.from([0xff, 0xfe]);
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    c.ws._socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
    assert.equal((await c.waitClose()).code, 1007);
  });

  test('a plain GET without the handshake is 426 with Upgrade: websocket', async () => {
    const r = await srv.get('/v1/ws');
    assert.equal(r.status, 426, r.text);
    assert.equal(r.headers.get('upgrade'), 'websocket');
    assert.equal(r.body.error.code, 'upgrade_required');
  });
});

describe('keep-alive', () => {
  test('a client ping is answered with a pong carrying its payload', async () => {
    const c = await connect(srv);
    const pong = new Promise((resolve) => c.ws.once('pong', (d) => resolve(d.toString())));
    c.ws.ping('hello');
    assert.equal(await Promise.race([pong, sleep(WAIT_MS).then(() => 'timeout')]), 'hello');
    c.ws.close();
  });

  test('the server pings (every 400 ms here) and keeps a ponging client', async () => {
    const c = await connect(srv);
    await waitFor(() => c.pings >= 3, { timeoutMs: WAIT_MS, what: 'three server pings' });
    assert.equal(c.closed, null);
    c.ws.close();
  });

  test('a client that never pongs is dropped with 1008 after two intervals', async () => {
    const c = await connect(srv, { autoPong: false });
    const closed = await c.waitClose();
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'ping timeout');
    const samples = await srv.metrics();
    assert.ok(metricSum(samples, 'r3e_ws_dropped_total', { reason: 'ping_timeout' }) >= 1);
  });
});

// Spawns the CLI with a live command; collects stdout. Killed by the caller (or at 60 s).
function spawnCli(server, args) {
  const child = spawn(BIN, args, {
    env: { ...process.env, R3E_SERVER: server.url },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60000,
    killSignal: 'SIGKILL',
  });
  const p = { child, stdout: '', stderr: '', exited: null };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { p.stdout += d; });
  child.stderr.on('data', (d) => { p.stderr += d; });
  p.exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    p.exited = { code, signal };
    resolve(p.exited);
  }));
  return p;
}

const connectedCount = (s) => s.logLines().filter((l) => l.msg === 'ws: connected').length;

describe('cli', () => {
  test('`r3e logs NAME -f` prints the history, then lines of new invocations as `r3e logs` does', async () => {
    const name = uniqueName('tail');
    await srv.deploy(name, 'export default (e) => { console.log("run", e.n); return e.n; }');
    await srv.invoke(name, { n: 1 });
    const follower = spawnCli(srv, ['logs', name, '-f']);
    const jsonFollower = spawnCli(srv, ['--json', 'logs', name, '-f']);
    try {
      await waitFor(() => follower.stdout.includes('run 1') && jsonFollower.stdout.includes('run 1'),
        { timeoutMs: WAIT_MS, what: 'the history line' });
      // the history is printed after the subscription: an invocation now is not missed
      const rec = await srv.invoke(name, { n: 2 });
      await waitFor(() => follower.stdout.includes('run 2') && jsonFollower.stdout.includes('run 2'),
        { timeoutMs: WAIT_MS, what: `the new line in:\n${follower.stdout}\n${follower.stderr}` });
      const plain = await runCli(['logs', name], { server: srv.url });
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(follower.stdout, plain.stdout, 'the same lines as `r3e logs`');
      const plainJson = await runCli(['--json', 'logs', name], { server: srv.url });
      assert.equal(jsonFollower.stdout, plainJson.stdout, 'the same NDJSON as `r3e --json logs`');
      assert.match(follower.stdout, new RegExp(`${rec.execution_id} run 2`));
    } finally {
      follower.child.kill('SIGKILL');
      jsonFollower.child.kill('SIGKILL');
    }
  });

  test('`r3e logs -f` of an unknown function fails like `r3e logs`', async () => {
    const r = await runCli(['logs', 'no-such-fn', '-f'], { server: srv.url, timeoutMs: 20000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: not_found: function "no-such-fn" not found/);
  });

  test('accepted events reach matching subscribers and `r3e events tail`', async (t) => {
    const probe = await srv.get('/v1/events?limit=1');
    if (probe.status === 404 || probe.status === 405) {
      t.skip('this build has no events API (POST /v1/events) yet');
      return;
    }
    const c = await connect(srv);
    await c.subscribe({ subscribe: 'events', type: 'order.*' });
    const before = connectedCount(srv);
    const tail = spawnCli(srv, ['events', 'tail', '--type', 'order.*']);
    const jsonTail = spawnCli(srv, ['--json', 'events', 'tail', '--source', '/shop-ws']);
    try {
      await waitFor(() => connectedCount(srv) >= before + 2, { what: 'the tails to connect' });
      await sleep(300); // the tails' subscriptions are acknowledged right after connecting
      for (const [id, type] of [['w1', 'order.created'], ['w2', 'user.created']]) {
        const r = await srv.post('/v1/events', { specversion: '1.0', id, source: '/shop-ws', type, data: { id } },
          { headers: { 'content-type': 'application/cloudevents+json' } });
        assert.ok(r.status < 300, r.text);
      }
      const m = await c.next((x) => x.type === 'event', 'the event message');
      assert.equal(m.event.id, 'w1');
      assert.equal(m.event.type, 'order.created');
      await waitFor(() => tail.stdout.includes(' order.created /shop-ws w1 {"id":"w1"}'), { what: `the tail line in ${tail.stdout}` });
      await waitFor(() => jsonTail.stdout.trim().split('\n').length === 2, { what: `two JSON events in ${jsonTail.stdout}` });
      assert.deepEqual(jsonTail.stdout.trim().split('\n').map((l) => JSON.parse(l).id), ['w1', 'w2']);
      await sleep(200);
      assert.equal(c.messages.filter((x) => x.type === 'event').length, 1, 'user.created is filtered out');
      assert.ok(!tail.stdout.includes('user.created'));
    } finally {
      c.ws.close();
      tail.child.kill('SIGKILL');
      jsonTail.child.kill('SIGKILL');
    }
  });

  test('`r3e events tail` checks its flags', async () => {
    const r = await runCli(['events', 'tail', '--type'], { server: srv.url });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage: events tail/);
    const before = connectedCount(srv);
    const t = spawnCli(srv, ['events', 'tail', '--type', 'com.example.*']);
    try {
      await waitFor(() => connectedCount(srv) > before, { what: 'the tail to connect' });
      await sleep(200);
      assert.equal(t.exited, null, `still tailing: ${t.stderr}`);
    } finally {
      t.child.kill('SIGKILL');
    }
  });
});

describe('limits and shutdown', () => {
  test('a slow consumer is dropped with 1008 while invocations keep their latency', async () => {
    const s = await startServer({ env: { R3E_WS_QUEUE_MESSAGES: '50' } });
    try {
      const name = uniqueName('chatty');
      await s.deploy(name, 'export default () => { for (let i = 0; i < 20; i++) console.log(i, "x".repeat(500)); return 1; }');
      const time = async () => {
        const t0 = performance.now();
        const r = await s.post(`/v1/functions/${name}/invoke`, '{}');
        assert.equal(r.status, 200, r.text);
        return performance.now() - t0;
      };
      const baseline = [];
      for (let i = 0; i < 10; i++) baseline.push(await time());
      const c = await connect(s);
      await c.subscribe({ subscribe: 'executions', function: name, logs: true });
      c.ws.pause(); // stops reading: the kernel buffers fill, then the server's queue
      const during = [];
      let dropped = 0;
      for (let i = 0; i < 400 && dropped === 0; i++) {
        during.push(await time());
        if (i % 10 === 9) dropped = metricSum(await s.metrics(), 'r3e_ws_dropped_total', { reason: 'slow_consumer' });
      }
      assert.equal(dropped, 1, `dropped after ${during.length} invocations`);
      const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
      assert.ok(median(during) < median(baseline) * 3 + 50,
        `median latency ${median(during).toFixed(1)} ms with a stuck client vs ${median(baseline).toFixed(1)} ms before`);
      assert.ok(Math.max(...during) < 5000, `slowest invocation ${Math.max(...during).toFixed(0)} ms`);
      c.ws.resume(); // reads what was in flight, then the close frame
      const closed = await c.waitClose();
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, 'slow consumer');
      const line = s.logLines().find((l) => l.msg === 'ws: client dropped' && l.reason === 'slow_consumer');
      assert.ok(line, 'the drop is logged');
      assert.ok(line.queued_messages > 50);
    } finally {
      await s.close();
    }
  });

  test('connections past R3E_WS_MAX_CONNECTIONS get 503', async () => {
    const s = await startServer({ env: { R3E_WS_MAX_CONNECTIONS: '2' } });
    try {
      const a = await connect(s);
      const b = await connect(s);
      await assert.rejects(connect(s), (e) => e.status === 503);
      a.ws.close();
      await a.waitClose();
      await waitFor(async () => metricSum(await s.metrics(), 'r3e_ws_connections') === 1, { what: 'one connection left' });
      const c = await connect(s);
      assert.ok(metricSum(await s.metrics(), 'r3e_ws_rejected_total') >= 1);
      b.ws.close();
      c.ws.close();
    } finally {
      await s.close();
    }
  });

  test('SIGTERM closes every socket with 1001 and the server exits 0 promptly', async () => {
    const s = await startServer();
    const clients = [await connect(s), await connect(s)];
    await clients[0].subscribe({ subscribe: 'executions' });
    const name = uniqueName('bye');
    await s.deploy(name, 'export default () => { console.log("still here"); return 1; }');
    const follower = spawnCli(s, ['logs', name, '-f']);
    await waitFor(async () => {
      await s.invoke(name);
      return follower.stdout.includes('still here');
    }, { timeoutMs: WAIT_MS, intervalMs: 200, what: 'the CLI follower to print a line' });
    const t0 = Date.now();
    const res = await s.close(); // asserts exit code 0
    assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 8000, `exit took ${Date.now() - t0} ms`);
    for (const c of clients) {
      const closed = await c.waitClose();
      assert.equal(closed.code, 1001);
      assert.equal(closed.reason, 'server shutting down');
    }
    const cli = await Promise.race([follower.exit, sleep(WAIT_MS).then(() => null)]);
    follower.child.kill('SIGKILL');
    assert.deepEqual(cli, { code: 0, signal: null }, `\`r3e logs -f\` ends with 0 on shutdown: ${follower.stderr}`);
  });
});

describe('authentication and TLS', () => {
  test('with auth on, the upgrade needs a credential and the stream works with one', async () => {
    const s = await startServer({ auth: true });
    try {
      await assert.rejects(connect(s), (e) => e.status === 401);
      const c = await connect(s, { headers: { authorization: `Bearer ${s.adminKey}` } });
      await c.subscribe({ subscribe: 'executions' });
      const name = uniqueName('authed');
      await s.deploy(name, 'export default () => 1');
      const rec = await s.invoke(name);
      const m = await c.next((x) => x.type === 'execution', 'the execution message');
      assert.equal(m.execution.execution_id, rec.execution_id);
      c.ws.close();
    } finally {
      await s.close();
    }
  });

  test('wss: the stream works over TLS and closes with 1001 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r3e-e2e-wss-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      const ca = await readFile(join(dir, 'cert.pem'), 'utf8');
      const s = await startServer({ args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], tls: { ca } });
      try {
        const c = await connect(s, { ca });
        await c.subscribe({ subscribe: 'executions', logs: true });
        const name = uniqueName('wss');
        const dep = await httpsRequest(`${s.url}/v1/functions`, { ca, method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name, code: 'export default () => { console.log("over tls"); return 1; }' }) });
        assert.equal(dep.status, 201, dep.text);
        const inv = await httpsRequest(`${s.url}/v1/functions/${name}/invoke`, { ca, method: 'POST',
          headers: { 'content-type': 'application/json' }, body: '{}' });
        assert.equal(inv.status, 200, inv.text);
        assert.equal((await c.next((x) => x.type === 'log')).log.msg, 'over tls');
        assert.equal((await c.next((x) => x.type === 'execution')).execution.execution_id, inv.body.execution_id);
        const res = await s.close();
        assert.equal(res.code, 0);
        assert.equal((await c.waitClose()).code, 1001);
      } finally {
        await s.kill();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
