// The HTTP trigger: any request to /fn/{name}/{path…} becomes the event, the return value
// becomes the HTTP response.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName, assertError } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.close(); });

const ECHO = `
export default async function (req) {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: { method: req.method, path: req.path, query: req.query,
            custom: req.headers['x-custom'] ?? null, ctype: req.headers['content-type'] ?? null,
            body: req.body, json: req.json ?? null, hasJson: 'json' in req },
  };
}`;

describe('the request as the event', () => {
  let echo;
  before(async () => {
    echo = uniqueName('echo');
    await srv.deploy(echo, ECHO);
  });

  test('method, path, query and headers reach the function', async () => {
    const r = await srv.fetch(`/fn/${echo}/orders/42?verbose=1&tag=a&tag=b`, {
      headers: { 'X-Custom': 'yes' },
    });
    assert.equal(r.status, 200);
    const ev = await r.json();
    assert.equal(ev.method, 'GET');
    assert.equal(ev.path, '/orders/42');
    assert.deepEqual(ev.query, { verbose: '1', tag: 'b' }, 'last value wins');
    assert.equal(ev.custom, 'yes', 'header names are lower-case');
    assert.equal(ev.body, '');
    assert.equal(ev.hasJson, false);
  });

  test('an empty path is "/"', async () => {
    for (const p of [`/fn/${echo}`, `/fn/${echo}/`]) {
      const r = await srv.fetch(p);
      assert.equal(r.status, 200, p);
      assert.equal((await r.json()).path, '/', p);
    }
  });

  test('a JSON body arrives as text and parsed', async () => {
    const r = await srv.fetch(`/fn/${echo}/submit`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"qty":3}',
    });
    const ev = await r.json();
    assert.equal(ev.method, 'POST');
    assert.equal(ev.body, '{"qty":3}');
    assert.deepEqual(ev.json, { qty: 3 });
    assert.equal(ev.ctype, 'application/json');
  });

  test('any content type and method is accepted', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const r = await srv.fetch(`/fn/${echo}/x`, {
        method, headers: { 'content-type': 'text/plain' }, body: 'plain text body',
      });
      assert.equal(r.status, 200, method);
      const ev = await r.json();
      assert.equal(ev.method, method);
      assert.equal(ev.body, 'plain text body');
      assert.equal(ev.hasJson, false, 'non-JSON body has no json');
    }
  });
});

describe('binary request bodies', () => {
  test('a body that is not UTF-8 reaches the function intact (base64, flagged)', async () => {
    const name = uniqueName('binary');
    await srv.deploy(name, 'export default (r) => ({ b64: r.isBase64Encoded === true, body: r.body, json: "json" in r })');
    const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x00, 0x63, 0x80]);
    const r = await srv.fetch(`/fn/${name}/up`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(r.status, 200);
    const ev = await r.json();
    assert.equal(ev.b64, true, 'flagged isBase64Encoded');
    assert.deepEqual(Buffer.from(ev.body, 'base64'), bytes, 'the bytes decode back exactly');
    assert.equal(ev.json, false);
  });
});

describe('the return value as the response', () => {
  test('{status, headers, body} shapes the response; a string body is text', async () => {
    const name = uniqueName('shape');
    await srv.deploy(name, `export default () => ({ status: 201, headers: { 'x-made-by': 'r3e', 'cache-control': 'no-store' }, body: 'created!' })`);
    const r = await srv.fetch(`/fn/${name}`, { method: 'POST' });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-made-by'), 'r3e');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await r.text(), 'created!');
    assert.ok(r.headers.get('x-r3e-execution-id'), 'execution id header');
  });

  test('an explicit content-type wins and a non-string body is JSON', async () => {
    const name = uniqueName('ctype');
    await srv.deploy(name, `export default (req) => req.query.kind === 'html'
      ? { status: 200, headers: { 'content-type': 'text/html' }, body: '<b>hi</b>' }
      : { status: 202, body: { ok: true, list: [1, 2] } }`);
    let r = await srv.fetch(`/fn/${name}?kind=html`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.equal(await r.text(), '<b>hi</b>');
    r = await srv.fetch(`/fn/${name}`);
    assert.equal(r.status, 202);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.deepEqual(await r.json(), { ok: true, list: [1, 2] });
  });

  test('a plain value is 200 JSON', async () => {
    const name = uniqueName('plain');
    await srv.deploy(name, `export default (req) => req.query.v === 'str' ? 'hello' : req.query.v === 'num' ? 42 : { a: 1, status: 'not a number' }`);
    let r = await srv.fetch(`/fn/${name}?v=obj`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.deepEqual(await r.json(), { a: 1, status: 'not a number' });
    r = await srv.fetch(`/fn/${name}?v=str`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '"hello"');
    r = await srv.fetch(`/fn/${name}?v=num`);
    assert.equal(await r.text(), '42');
  });

  test('a thrown error is a 5xx with the error shape and no stack', async () => {
    const name = uniqueName('boom');
    await srv.deploy(name, 'export default () => { throw new Error("kaput at line"); }');
    const r = await srv.fetch(`/fn/${name}/x`);
    assert.ok(r.status >= 500 && r.status < 600, `status ${r.status}`);
    assert.equal(r.status, 502);
    const text = await r.text();
    const body = JSON.parse(text);
    assert.equal(typeof body.error.code, 'string');
    assert.equal(typeof body.error.message, 'string');
    assert.doesNotMatch(text, /\bat \w+ \(|@.*:\d+:\d+/, 'no stack trace in the response');
    const id = r.headers.get('x-r3e-execution-id');
    assert.ok(id, 'execution id header on failure');
    const rec = await srv.get(`/v1/executions/${id}`);
    assert.equal(rec.body.status, 'error');
    assert.equal(rec.body.error.message, 'kaput at line');
  });

  test('a timeout is 504', async () => {
    const name = uniqueName('slowfn');
    await srv.deploy(name, 'export default () => { for (;;) {} }', { timeout_ms: 300 });
    const r = await srv.fetch(`/fn/${name}`);
    assert.equal(r.status, 504);
    const body = await r.json();
    assert.equal(typeof body.error.code, 'string');
    assert.match(body.error.code, /timeout/, `code names the timeout: ${JSON.stringify(body)}`);
  });

  test('header values cannot inject headers (no response splitting)', async () => {
    const name = uniqueName('inject');
    await srv.deploy(name, `export default () => ({ status: 200,
      headers: { 'x-ok': 'fine', 'x-evil': 'a\\r\\nInjected: yes', 'bad name': 'v' }, body: 'b' })`);
    const r = await srv.fetch(`/fn/${name}`);
    await r.text();
    assert.equal(r.headers.get('injected'), null, 'no injected header');
    assert.ok(r.status === 200 || r.status >= 500, `status ${r.status}`);
    if (r.status === 200) assert.equal(r.headers.get('x-ok'), 'fine');
    assert.equal((await srv.get('/healthz')).status, 200, 'the server is fine');
  });

  test('a status outside 100..599 is never passed through', async () => {
    // Either an error, or (the server's choice) the object is not a response shape and is
    // sent as a plain value.
    const name = uniqueName('badstatus');
    await srv.deploy(name, 'export default (r) => ({ status: Number(r.query.s), body: "x" })');
    for (const st of ['42', '1000', '-1']) {
      const r = await srv.fetch(`/fn/${name}?s=${st}`);
      const text = await r.text();
      if (r.status === 200) assert.deepEqual(JSON.parse(text), { status: Number(st), body: 'x' }, `status ${st}`);
      else assert.ok(r.status >= 500 && r.status <= 599, `status ${st} -> ${r.status}`);
    }
  });

  test('the function concurrency limit applies to the trigger too (429)', async () => {
    const name = uniqueName('trig429');
    await srv.deploy(name, 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "done"; }', { concurrency: 1 });
    const [a, b] = await Promise.all([srv.get(`/fn/${name}`), srv.get(`/fn/${name}`)]);
    assert.deepEqual([a.status, b.status].sort(), [200, 429], `${a.text} / ${b.text}`);
    assertError(a.status === 429 ? a : b, 429, 'too_many_requests');
  });

  test('204 and 304 responses carry no body', async () => {
    const name = uniqueName('nobody');
    await srv.deploy(name, 'export default (r) => ({ status: Number(r.query.s), body: "should not be sent" })');
    for (const st of [204, 304]) {
      const r = await srv.fetch(`/fn/${name}?s=${st}`);
      assert.equal(r.status, st);
      assert.equal(await r.text(), '', `${st} has no body`);
    }
  });

  test('an unknown function is 404', async () => {
    const r = await srv.get(`/fn/${uniqueName('nobody')}/x`);
    assertError(r, 404, 'not_found');
  });
});
