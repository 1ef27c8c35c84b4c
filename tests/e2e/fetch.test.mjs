// fetch from inside a function and the egress policy: an allowed local server is reachable,
// every other loopback/private/link-local destination is refused with a clear error, also
// when reached through a redirect.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, uniqueName } from './lib/server.mjs';

// An upstream the functions may reach, and a second one they must never reach.
function listen(handler) {
  return new Promise((resolve, reject) => {
    const s = http.createServer(handler);
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

let upstream, forbidden, srv, fn;
let forbiddenHits = 0;
let upPort, forbiddenPort;

before(async () => {
  upstream = await listen((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const send = (status, obj, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(obj));
      };
      switch (req.url) {
        case '/json': return send(200, { hello: 'world', n: 7 }, { 'x-upstream': 'yes' });
        case '/echo': return send(200, { method: req.method, ctype: req.headers['content-type'] ?? null, xtest: req.headers['x-test'] ?? null, body });
        case '/status/418': return send(418, { teapot: true });
        case '/slow': return setTimeout(() => send(200, { slow: true }), 300);
        case '/big': res.writeHead(200, { 'content-type': 'application/octet-stream' }); return res.end(Buffer.alloc(11 * 1024 * 1024, 0x61));
        case '/medium': res.writeHead(200, { 'content-type': 'text/plain' }); return res.end(Buffer.alloc(1024 * 1024, 0x62));
        case '/hang': return setTimeout(() => send(200, { late: true }), 10000).unref();
        case '/redirect-ok': res.writeHead(302, { location: '/json' }); return res.end();
        case '/redirect-private': res.writeHead(302, { location: `http://127.0.0.1:${forbiddenPort}/secret` }); return res.end();
        case '/redirect-meta': res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }); return res.end();
        default: return send(404, { error: 'no such path' });
      }
    });
  });
  forbidden = await listen((req, res) => {
    forbiddenHits += 1;
    res.end('secret');
  });
  upPort = upstream.address().port;
  forbiddenPort = forbidden.address().port;
  srv = await startServer({ egressAllow: `127.0.0.1:${upPort}` });
  fn = uniqueName('fetcher');
  await srv.deploy(fn, `
    export default async function (e) {
      const r = await fetch(e.url, e.init);
      const text = await r.text();
      return { status: r.status, ok: r.ok, ctype: r.headers.get('content-type'),
               upstream: r.headers.get('x-upstream'), url: r.url, text };
    }`, { timeout_ms: 8000 });
});

after(async () => {
  await srv?.close();
  await new Promise((r) => (upstream ? upstream.close(r) : r()));
  await new Promise((r) => (forbidden ? forbidden.close(r) : r()));
  // Checked last: no test may have reached the forbidden server by any route.
  assert.equal(forbiddenHits, 0, 'the non-allowed local server was never contacted');
});

describe('allowed destinations', () => {
  test('GET JSON from the allowed server', async () => {
    const rec = await srv.invoke(fn, { url: `http://127.0.0.1:${upPort}/json` });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.status, 200);
    assert.equal(rec.result.ok, true);
    assert.match(rec.result.ctype, /application\/json/);
    assert.equal(rec.result.upstream, 'yes');
    assert.deepEqual(JSON.parse(rec.result.text), { hello: 'world', n: 7 });
  });

  test('response.json() and non-2xx statuses', async () => {
    const name = uniqueName('fetchjson');
    await srv.deploy(name, `export default async (e) => {
      const a = await (await fetch(e.base + '/json')).json();
      const t = await fetch(e.base + '/status/418');
      return { a, status: t.status, ok: t.ok, body: await t.json() };
    }`);
    const rec = await srv.invoke(name, { base: `http://127.0.0.1:${upPort}` });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(rec.result, { a: { hello: 'world', n: 7 }, status: 418, ok: false, body: { teapot: true } });
  });

  test('POST with headers and a body', async () => {
    const rec = await srv.invoke(fn, {
      url: `http://127.0.0.1:${upPort}/echo`,
      init: { method: 'POST', headers: { 'content-type': 'application/json', 'x-test': 'abc' }, body: '{"q":1}' },
    });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(JSON.parse(rec.result.text), { method: 'POST', ctype: 'application/json', xtest: 'abc', body: '{"q":1}' });
  });

  test('a redirect within the allowed server is followed', async () => {
    const rec = await srv.invoke(fn, { url: `http://127.0.0.1:${upPort}/redirect-ok` });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.status, 200);
    assert.deepEqual(JSON.parse(rec.result.text), { hello: 'world', n: 7 });
    assert.match(rec.result.url, /\/json$/, 'response.url is the final URL');
  });
});

describe('fetch limits', () => {
  test('parallel fetches overlap instead of running one after another', async () => {
    const name = uniqueName('fetchpar');
    await srv.deploy(name, `export default async (e) => {
      const t0 = Date.now();
      const all = await Promise.all(Array.from({ length: 8 }, () => fetch(e.url).then((r) => r.json())));
      return { n: all.filter((x) => x.slow).length, ms: Date.now() - t0 };
    }`);
    const rec = await srv.invoke(name, { url: `http://127.0.0.1:${upPort}/slow` });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.n, 8);
    assert.ok(rec.result.ms < 8 * 300 * 0.75, `8 x 300 ms fetches took ${rec.result.ms} ms`);
  });

  test('a fetch that outlasts timeout_ms ends the invocation as "timeout"', async () => {
    const name = uniqueName('fetchhang');
    await srv.deploy(name, 'export default async (e) => (await fetch(e.url)).status', { timeout_ms: 700 });
    const t0 = Date.now();
    const rec = await srv.invoke(name, { url: `http://127.0.0.1:${upPort}/hang` }, { timeoutMs: 30000 });
    assert.equal(rec.status, 'timeout', JSON.stringify(rec));
    assert.ok(Date.now() - t0 < 5000, `stopped near the limit, not after the upstream: ${Date.now() - t0} ms`);
    const next = await srv.invoke(fn, { url: `http://127.0.0.1:${upPort}/json` });
    assert.equal(next.status, 'ok', JSON.stringify(next));
  });

  test('a response body over 10 MiB rejects; 1 MiB is fine', async () => {
    const name = uniqueName('fetchbig');
    await srv.deploy(name, `export default async (e) => {
      try { const t = await (await fetch(e.url)).text(); return { len: t.length }; }
      catch (err) { return { name: err.name, msg: err.message }; }
    }`, { timeout_ms: 20000 });
    const ok = await srv.invoke(name, { url: `http://127.0.0.1:${upPort}/medium` }, { timeoutMs: 60000 });
    assert.equal(ok.status, 'ok', JSON.stringify(ok));
    assert.equal(ok.result.len, 1024 * 1024);
    const big = await srv.invoke(name, { url: `http://127.0.0.1:${upPort}/big` }, { timeoutMs: 60000 });
    assert.equal(big.status, 'ok', JSON.stringify(big));
    assert.equal(big.result.len, undefined, 'the 11 MiB body was not delivered');
    assert.match(big.result.msg, /exceeds|too large|limit/i, big.result.msg);
  });

  test('at most 50 fetches per invocation; the 51st rejects', async () => {
    const name = uniqueName('fetchmany');
    await srv.deploy(name, `export default async (e) => {
      let ok = 0;
      for (let i = 0; i < 60; i++) {
        try { await (await fetch(e.url)).text(); ok++; } catch (err) { return { ok, name: err.name, msg: err.message }; }
      }
      return { ok };
    }`, { timeout_ms: 20000 });
    const rec = await srv.invoke(name, { url: `http://127.0.0.1:${upPort}/json` }, { timeoutMs: 60000 });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.ok, 50, JSON.stringify(rec.result));
    assert.ok(rec.result.msg, 'the rejection says why');
    // The limit is per invocation: the next one can fetch again.
    const again = await srv.invoke(fn, { url: `http://127.0.0.1:${upPort}/json` });
    assert.equal(again.status, 'ok', JSON.stringify(again));
  });
});

// The message must say why (policy), not just fail to connect.
const POLICY = /egress|not allowed|blocked|forbidden|denied|loopback|private|link-local|metadata|reserved|internal/i;

describe('refused destinations', () => {
  const cases = () => [
    ['loopback on another port', `http://127.0.0.1:${forbiddenPort}/secret`],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['private 10/8', 'http://10.0.0.1/'],
    ['IPv6 loopback', `http://[::1]:${upPort}/json`],
    ['localhost by name', `http://localhost:${forbiddenPort}/secret`],
    ['IPv4-mapped IPv6 loopback', `http://[::ffff:127.0.0.1]:${forbiddenPort}/secret`],
    ['decimal IPv4 loopback', `http://2130706433:${forbiddenPort}/secret`],
    ['private 192.168/16', 'http://192.168.1.1/'],
  ];

  test('each is refused with a clear error in the execution record', async () => {
    for (const [what, url] of cases()) {
      const t0 = Date.now();
      const rec = await srv.invoke(fn, { url }, { timeoutMs: 30000 });
      assert.equal(rec.status, 'error', `${what} (${url}): ${JSON.stringify(rec)}`);
      assert.ok(rec.error && typeof rec.error.message === 'string', `${what}: error present`);
      assert.match(rec.error.message, POLICY, `${what}: the message names the policy: ${rec.error.message}`);
      assert.ok(Date.now() - t0 < 5000, `${what}: refused quickly, not after a connect timeout`);
    }
  });

  test('a function can catch the refusal (a TypeError) and go on', async () => {
    const name = uniqueName('catcher');
    await srv.deploy(name, `export default async (e) => {
      try { await fetch(e.url); return 'fetched'; } catch (err) { return { name: err.name, msg: err.message }; }
    }`);
    const rec = await srv.invoke(name, { url: 'http://169.254.169.254/latest/meta-data/' });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.name, 'TypeError');
    assert.match(rec.result.msg, POLICY);
  });

  test('a redirect from the allowed server to a private address is refused', async () => {
    for (const path of ['/redirect-private', '/redirect-meta']) {
      const rec = await srv.invoke(fn, { url: `http://127.0.0.1:${upPort}${path}` }, { timeoutMs: 30000 });
      assert.equal(rec.status, 'error', `${path}: ${JSON.stringify(rec)}`);
      assert.match(rec.error.message, POLICY, `${path}: ${rec.error.message}`);
    }
  });
});
