// Function lifecycle over the REST API: deploy (both export styles), versions, rollback,
// delete, and the request validation a client can run into.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, uniqueName, assertError, rawRequest, waitFor, metricSum } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.close(); });

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

describe('deploy and invoke', () => {
  test('an ES module default export runs and returns its value', async () => {
    const name = uniqueName('esm');
    const code = 'export default async function (event, ctx) {\n  return { hello: event.who };\n}\n';
    const v = await srv.deploy(name, code);
    assert.equal(v.name, name);
    assert.equal(v.version, 1);
    assert.equal(v.code_sha256, sha256(code), 'code_sha256 is the SHA-256 of the code');
    const rec = await srv.invoke(name, { who: 'ada' });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(rec.result, { hello: 'ada' });
    assert.equal(rec.function, name);
    assert.equal(rec.version, 1);
  });

  test('a CommonJS module.exports function runs', async () => {
    const name = uniqueName('cjs');
    await srv.deploy(name, 'module.exports = async (event) => ({ sum: event.a + event.b });');
    const rec = await srv.invoke(name, { a: 2, b: 40 });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(rec.result, { sum: 42 });
  });

  test('a synchronous (non-async) handler is accepted', async () => {
    const name = uniqueName('sync');
    await srv.deploy(name, 'export default function (e) { return [e, typeof e]; }');
    const rec = await srv.invoke(name, 7);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(rec.result, [7, 'number']);
  });

  test('the version object echoes the limits given at deploy time', async () => {
    const name = uniqueName('limits');
    const v = await srv.deploy(name, 'export default () => 1', {
      timeout_ms: 1234, memory_mb: 64, isolation: 'fresh', concurrency: 3,
    });
    assert.equal(v.timeout_ms, 1234);
    assert.equal(v.memory_mb, 64);
    assert.equal(v.isolation, 'fresh');
    const d = await srv.post('/v1/functions', { name: uniqueName('defaults'), code: 'export default () => 1' });
    assert.equal(d.status, 201, d.text);
    assert.equal(d.body.timeout_ms, 10000, 'default timeout_ms');
    assert.equal(d.body.memory_mb, 128, 'default memory_mb');
    assert.equal(d.body.isolation, 'warm', 'default isolation');
  });

  test('deploying an existing name with POST is a conflict', async () => {
    const name = uniqueName('dup');
    await srv.deploy(name, 'export default () => 1');
    const r = await srv.post('/v1/functions', { name, code: 'export default () => 2' });
    assertError(r, 409, 'already_exists');
  });
});

describe('versions, rollback, delete', () => {
  test('PUT adds versions, rollback switches the active one, GET shows them all', async () => {
    const name = uniqueName('ver');
    const v1 = await srv.deploy(name, 'export default () => "v1"');
    assert.equal(v1.version, 1);
    const p2 = await srv.put(`/v1/functions/${name}`, { code: 'export default () => "v2"', timeout_ms: 2000 });
    assert.equal(p2.status, 201, p2.text);
    assert.equal(p2.body.version, 2);
    assert.equal(p2.body.timeout_ms, 2000);

    let rec = await srv.invoke(name);
    assert.equal(rec.result, 'v2');
    assert.equal(rec.version, 2);

    let g = await srv.get(`/v1/functions/${name}`);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.name, name);
    assert.equal(g.body.active_version, 2);
    assert.equal(g.body.latest_version, 2);
    assert.deepEqual(g.body.versions.map((v) => v.version), [1, 2]);
    for (const v of g.body.versions) {
      assert.match(v.code_sha256, /^[0-9a-f]{64}$/);
      assert.equal(typeof v.timeout_ms, 'number');
      assert.equal(typeof v.memory_mb, 'number');
      assert.ok(['warm', 'fresh'].includes(v.isolation));
      assert.ok(v.created_at, 'created_at present');
    }
    assert.equal(g.body.versions[0].code_sha256, sha256('export default () => "v1"'));

    const rb = await srv.put(`/v1/functions/${name}/active`, { version: 1 });
    assert.equal(rb.status, 200, rb.text);
    rec = await srv.invoke(name);
    assert.equal(rec.result, 'v1', 'rollback makes version 1 run');
    assert.equal(rec.version, 1);
    g = await srv.get(`/v1/functions/${name}`);
    assert.equal(g.body.active_version, 1);
    assert.equal(g.body.latest_version, 2);

    // A new deploy after a rollback becomes latest+1 and active.
    const p3 = await srv.put(`/v1/functions/${name}`, { code: 'export default () => "v3"' });
    assert.equal(p3.body.version, 3);
    rec = await srv.invoke(name);
    assert.equal(rec.result, 'v3');
  });

  test('an invocation in flight finishes on its version while a new one is deployed', async () => {
    const name = uniqueName('inflight');
    await srv.deploy(name, 'export default async () => { await new Promise((r) => setTimeout(r, 1000)); return "v1"; }');
    const first = srv.post(`/v1/functions/${name}/invoke`, {});
    await waitFor(async () => metricSum(await srv.metrics(), 'r3e_invocations_in_flight') >= 1,
      { timeoutMs: 10000, what: 'the v1 invocation to start' });
    const p2 = await srv.put(`/v1/functions/${name}`, { code: 'export default () => "v2"' });
    assert.equal(p2.status, 201, p2.text);
    const second = await srv.invoke(name);
    assert.equal(second.result, 'v2');
    assert.equal(second.version, 2);
    const r1 = await first;
    assert.equal(r1.body.result, 'v1');
    assert.equal(r1.body.version, 1);
  });

  test('rollback to a version that does not exist is 404, a bad version 400', async () => {
    const name = uniqueName('rb');
    await srv.deploy(name, 'export default () => 1');
    assertError(await srv.put(`/v1/functions/${name}/active`, { version: 9 }), 404, 'not_found');
    assertError(await srv.put(`/v1/functions/${name}/active`, { version: 'one' }), 400, 'invalid_argument');
    assertError(await srv.put(`/v1/functions/${name}/active`, {}), 400, 'invalid_argument');
    assertError(await srv.put(`/v1/functions/${uniqueName('nope')}/active`, { version: 1 }), 404, 'not_found');
  });

  test('PUT to a new name creates the function at version 1', async () => {
    const name = uniqueName('putnew');
    const r = await srv.put(`/v1/functions/${name}`, { code: 'export default () => "made"' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.version, 1);
    assert.equal((await srv.invoke(name)).result, 'made');
  });

  test('list shows deployed functions sorted by name with their versions', async () => {
    const a = uniqueName('list-a');
    const b = uniqueName('list-b');
    await srv.deploy(b, 'export default () => 1');
    await srv.deploy(a, 'export default () => 1');
    await srv.put(`/v1/functions/${a}`, { code: 'export default () => 2' });
    const r = await srv.get('/v1/functions');
    assert.equal(r.status, 200, r.text);
    const names = r.body.functions.map((f) => f.name);
    assert.deepEqual(names, [...names].sort(), 'sorted by name');
    const fa = r.body.functions.find((f) => f.name === a);
    assert.ok(fa, 'listed');
    assert.equal(fa.active_version, 2);
    assert.equal(fa.latest_version, 2);
    assert.ok(fa.created_at && fa.updated_at);
    assert.ok(names.includes(b));
  });

  test('delete removes the function: 404 afterwards for get, invoke and delete', async () => {
    const name = uniqueName('del');
    await srv.deploy(name, 'export default () => 1');
    const kept = await srv.invoke(name);
    const d = await srv.del(`/v1/functions/${name}`);
    assert.ok(d.status === 204 || d.status === 200, `delete: ${d.status} ${d.text}`);
    assertError(await srv.get(`/v1/functions/${name}`), 404, 'not_found');
    assertError(await srv.post(`/v1/functions/${name}/invoke`, {}), 404, 'not_found');
    assertError(await srv.del(`/v1/functions/${name}`), 404, 'not_found');
    const l = await srv.get('/v1/functions');
    assert.ok(!l.body.functions.some((f) => f.name === name), 'not listed');
    // Execution records are the audit trail: they outlive the function.
    const rec = await srv.get(`/v1/executions/${kept.execution_id}`);
    assert.equal(rec.status, 200, rec.text);
    assert.equal(rec.body.function, name);
    // The name can be used again, starting over at version 1.
    const again = await srv.deploy(name, 'export default () => 2');
    assert.equal(again.version, 1);
    assert.equal((await srv.invoke(name)).result, 2);
  });

  test('delete also deletes the function\'s KV state', async () => {
    const name = uniqueName('delkv');
    const code = 'export default async (e, ctx) => { if (e.put) await ctx.kv.put("k", "v"); return await ctx.kv.get("k"); }';
    await srv.deploy(name, code);
    assert.equal((await srv.invoke(name, { put: true })).result, 'v');
    const d = await srv.del(`/v1/functions/${name}`);
    assert.ok(d.status === 204 || d.status === 200, d.text);
    await srv.deploy(name, code);
    assert.equal((await srv.invoke(name, {})).result, null, 'a new function of the same name starts empty');
  });
});

describe('request validation', () => {
  test('invalid names are rejected with 400 invalid_argument', async () => {
    for (const name of ['Upper', '-lead', 'under_score', 'dot.name', 'sp ace', '', 'a'.repeat(64), 'ünï']) {
      const r = await srv.post('/v1/functions', { name, code: 'export default () => 1' });
      assertError(r, 400, 'invalid_argument');
    }
    // The longest valid name (63 chars) is accepted.
    const longest = `z${'9'.repeat(62)}`;
    const ok = await srv.post('/v1/functions', { name: longest, code: 'export default () => 1' });
    assert.equal(ok.status, 201, ok.text);
  });

  test('a syntax error is 400 with the line and column of the error', async () => {
    const code = 'export default async function (event) {\n  const x = 1;\n  return x +;\n}\n';
    const r = await srv.post('/v1/functions', { name: uniqueName('syntax'), code });
    assertError(r, 400, 'invalid_argument');
    assert.match(r.body.error.message, /SyntaxError/);
    assert.ok(r.body.error.details, `details present: ${r.text}`);
    assert.equal(r.body.error.details.line, 3, `line of the error: ${r.text}`);
    // 1-based column of the offending token: "  return x +;" -> the ';' is column 13.
    assert.equal(r.body.error.details.column, 13, `column of the error: ${r.text}`);
    assert.match(r.body.error.message, /line 3, column 13/);
    // The same for CommonJS code, and for early errors found after parsing.
    const cjs = await srv.post('/v1/functions', { name: uniqueName('syntax'), code: 'module.exports = async (e) => {\n  let y = {;\n}' });
    assertError(cjs, 400, 'invalid_argument');
    assert.deepEqual(cjs.body.error.details, { line: 2, column: 12 }, cjs.text);
    const early = await srv.post('/v1/functions', { name: uniqueName('syntax'), code: 'const a = 1;\nconst a = 2;\nexport default () => a;' });
    assertError(early, 400, 'invalid_argument');
    assert.equal(early.body.error.details.line, 2, early.text);
  });

  test('a NUL byte in the source is rejected', async () => {
    const r = await srv.post('/v1/functions', { name: uniqueName('nul'), code: 'export default () => 1;\nconst s = "a\u0000b";\n' });
    assertError(r, 400, 'invalid_argument');
  });

  test('a syntax error does not create the function', async () => {
    const name = uniqueName('nosyn');
    const r = await srv.post('/v1/functions', { name, code: 'export default (' });
    assertError(r, 400, 'invalid_argument');
    assertError(await srv.get(`/v1/functions/${name}`), 404, 'not_found');
  });

  test('malformed JSON bodies are 400', async () => {
    assertError(await srv.post('/v1/functions', '{"name": "x", '), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', 'not json at all'), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', '[1,2]'), 400, 'invalid_argument');
    const name = uniqueName('badev');
    await srv.deploy(name, 'export default (e) => e');
    assertError(await srv.post(`/v1/functions/${name}/invoke`, '{"unterminated'), 400, 'invalid_argument');
  });

  test('a body that is not application/json is 415', async () => {
    const body = JSON.stringify({ name: uniqueName('ct'), code: 'export default () => 1' });
    const r = await srv.post('/v1/functions', body, { headers: { 'content-type': 'text/plain' } });
    assertError(r, 415, 'unsupported_media_type');
    const ok = await srv.post('/v1/functions', JSON.stringify({ name: uniqueName('ct'), code: 'export default () => 1' }),
      { headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(ok.status, 201, `charset parameter is fine: ${ok.text}`);
  });

  test('unknown fields and wrongly typed fields are 400', async () => {
    const base = { name: uniqueName('fields'), code: 'export default () => 1' };
    assertError(await srv.post('/v1/functions', { ...base, bogus: 1 }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, timeout_ms: 'soon' }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, timeout_ms: -5 }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, memory_mb: 1 }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, isolation: 'hot' }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, env: { A: 1 } }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { name: base.name }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { code: base.code }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/functions', { ...base, code: 42 }), 400, 'invalid_argument');
    assertError(await srv.get(`/v1/functions/${base.name}`), 404, 'not_found');
  });

  test('an event over the body limit (7 MiB) is 413', async () => {
    const name = uniqueName('big');
    await srv.deploy(name, 'export default (e) => e.length');
    const body = JSON.stringify('x'.repeat(7 * 1024 * 1024));
    const r = await rawRequest(`${srv.url}/v1/functions/${name}/invoke`, {
      headers: { 'content-type': 'application/json' },
      body,
    });
    assertError(r, 413, 'payload_too_large');
    // Just under the limit still runs.
    const small = JSON.stringify('y'.repeat(5 * 1024 * 1024));
    const ok = await srv.post(`/v1/functions/${name}/invoke`, small);
    assert.equal(ok.status, 200, ok.text.slice(0, 500));
    assert.equal(ok.body.result, 5 * 1024 * 1024);
  });

  test('a plain client that sends all of an oversized body still gets the 413', async () => {
    // Browsers and fetch() do not use "Expect: 100-continue": the server has to answer
    // without resetting the connection while the upload is still arriving.
    const name = uniqueName('big2');
    await srv.deploy(name, 'export default (e) => e.length');
    const body = JSON.stringify('x'.repeat(7 * 1024 * 1024));
    for (let i = 0; i < 3; i++) {
      let r;
      try {
        r = await srv.post(`/v1/functions/${name}/invoke`, body);
      } catch (e) {
        assert.fail(`attempt ${i}: the request failed instead of answering 413: ${e.cause?.code ?? e.message}`);
      }
      assertError(r, 413, 'payload_too_large');
    }
  });

  test('unknown functions are 404 for invoke and get', async () => {
    const name = uniqueName('ghost');
    assertError(await srv.post(`/v1/functions/${name}/invoke`, {}), 404, 'not_found');
    assertError(await srv.get(`/v1/functions/${name}`), 404, 'not_found');
    assertError(await srv.get(`/v1/functions/${name}/executions`), 404, 'not_found');
  });

  test('unknown routes are 404 and known routes with the wrong method 405', async () => {
    assertError(await srv.get('/v1/nope'), 404, 'not_found');
    assertError(await srv.get('/nothing/here'), 404, 'not_found');
    assertError(await srv.del('/v1/functions'), 405, 'method_not_allowed');
    assertError(await srv.request('PATCH', '/v1/functions', {}), 405, 'method_not_allowed');
    const name = uniqueName('meth');
    await srv.deploy(name, 'export default () => 1');
    assertError(await srv.get(`/v1/functions/${name}/invoke`), 405, 'method_not_allowed');
  });
});
