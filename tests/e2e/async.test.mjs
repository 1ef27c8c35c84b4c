// Asynchronous invocation: POST /v1/functions/{name}/invoke?async=1 -> 202 + execution id,
// the record from "queued" to its final status, Idempotency-Key, retries with the attempt
// count recorded, and X-Callback-Url (egress policy applies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, uniqueName, assertError, waitFor } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2, egressAllow: '127.0.0.1' }); });
after(async () => { await srv?.close(); });

const FINAL = new Set(['ok', 'error', 'timeout', 'memory_limit', 'crashed']);

async function finalRecord(id, timeoutMs = 20000) {
  return waitFor(async () => {
    const g = await srv.get(`/v1/executions/${id}`);
    return g.status === 200 && FINAL.has(g.body.status) && !g.body.will_retry ? g.body : null;
  }, { timeoutMs, intervalMs: 100, what: `execution ${id} to finish` });
}

test('202 with an execution id; the record goes from queued to ok', async () => {
  const name = uniqueName('async');
  await srv.deploy(name, 'export default async (e) => ({ got: e })');
  const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, { x: 1 });
  assert.equal(r.status, 202, r.text);
  assert.match(r.body.execution_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(r.headers.get('x-r3e-execution-id'), r.body.execution_id);
  const g = await srv.get(`/v1/executions/${r.body.execution_id}`);
  assert.equal(g.status, 200, 'the record exists from enqueue');
  assert.ok(['queued', 'running', 'ok'].includes(g.body.status), g.text);
  const rec = await finalRecord(r.body.execution_id);
  assert.equal(rec.status, 'ok');
  assert.deepEqual(rec.result, { got: { x: 1 } });
  assert.equal(rec.attempts, 1);
  assert.equal(rec.async, true);
});

test('unknown function: 404 before anything is queued', async () => {
  const r = await srv.post(`/v1/functions/${uniqueName('nope')}/invoke?async=1`, {});
  assertError(r, 404, 'not_found');
});

test('Idempotency-Key: the same key returns the first execution id', async () => {
  const name = uniqueName('idem');
  await srv.deploy(name, 'export default async (e) => e');
  const key = `k-${Date.now()}`;
  const a = await srv.post(`/v1/functions/${name}/invoke?async=1`, { n: 1 }, { headers: { 'idempotency-key': key } });
  const b = await srv.post(`/v1/functions/${name}/invoke?async=1`, { n: 2 }, { headers: { 'idempotency-key': key } });
  const c = await srv.post(`/v1/functions/${name}/invoke?async=1`, { n: 3 }, { headers: { 'idempotency-key': `${key}-other` } });
  assert.equal(a.status, 202, a.text);
  assert.equal(b.status, 202, b.text);
  assert.equal(b.body.execution_id, a.body.execution_id);
  assert.notEqual(c.body.execution_id, a.body.execution_id);
  const rec = await finalRecord(a.body.execution_id);
  assert.deepEqual(rec.result, { n: 1 }, 'the first request ran, the repeat did not');
});

test('a function failing twice then succeeding: three attempts recorded', async () => {
  const name = uniqueName('flaky');
  await srv.deploy(name, `export default async function (e, ctx) {
    const n = Number((await ctx.kv.get('n')) || 0) + 1;
    await ctx.kv.put('n', String(n));
    if (n < 3) throw new Error('attempt ' + n + ' fails');
    return { n };
  }`);
  const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {});
  assert.equal(r.status, 202, r.text);
  const rec = await finalRecord(r.body.execution_id, 30000);
  assert.equal(rec.status, 'ok', JSON.stringify(rec));
  assert.equal(rec.attempts, 3);
  assert.deepEqual(rec.result, { n: 3 });
});

test('X-Callback-Url receives the final execution record (allowed by --egress-allow)', async () => {
  const got = [];
  const hs = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push(JSON.parse(body)); res.end('ok'); });
  });
  await new Promise((resolve) => hs.listen(0, '127.0.0.1', resolve));
  try {
    const name = uniqueName('cb');
    await srv.deploy(name, 'export default async () => 42');
    const url = `http://127.0.0.1:${hs.address().port}/done`;
    const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': url } });
    assert.equal(r.status, 202, r.text);
    await waitFor(() => got.length > 0, { timeoutMs: 15000, what: 'the callback' });
    assert.equal(got[0].execution_id, r.body.execution_id);
    assert.equal(got[0].status, 'ok');
    assert.equal(got[0].result, 42);
    const bad = await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': 'ftp://x' } });
    assertError(bad, 400, 'invalid_argument');
  } finally {
    hs.close();
  }
});

test('X-Callback-Url to a loopback address is refused without --egress-allow', async () => {
  let hits = 0;
  const hs = http.createServer((req, res) => { hits += 1; res.end('ok'); });
  await new Promise((resolve) => hs.listen(0, '127.0.0.1', resolve));
  const strict = await startServer({ workers: 1 });
  try {
    const name = uniqueName('cbdeny');
    await strict.deploy(name, 'export default async () => 1');
    const r = await strict.post(`/v1/functions/${name}/invoke?async=1`, {},
      { headers: { 'x-callback-url': `http://127.0.0.1:${hs.address().port}/x` } });
    assert.equal(r.status, 202, r.text);
    await waitFor(() => strict.logLines().some((l) => /X-Callback-Url POST failed: egress refused/.test(l.msg)),
      { timeoutMs: 15000, what: 'the refusal in the log' });
    const g = await waitFor(async () => {
      const x = await strict.get(`/v1/executions/${r.body.execution_id}`);
      return x.body.callback?.state === 'failed' ? x : null;
    }, { timeoutMs: 10000, what: 'the callback recorded as failed' });
    assert.equal(g.body.status, 'ok', 'the execution itself succeeded');
    assert.equal(g.body.callback.attempts, 1, 'a refusal by policy is final, not retried');
    assert.match(g.body.callback.last_error, /egress refused/);
    assert.equal(hits, 0, 'nothing reached the loopback listener');
  } finally {
    await strict.close();
    hs.close();
  }
});

test('an on_success URL destination receives {condition, execution, event}', async () => {
  const got = [];
  const hs = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push(JSON.parse(body)); res.end('ok'); });
  });
  await new Promise((resolve) => hs.listen(0, '127.0.0.1', resolve));
  try {
    const name = uniqueName('dest');
    await srv.deploy(name, 'export default async (e) => e.data.v * 2');
    const src = uniqueName('destsrc');
    const t = await srv.post('/v1/triggers', { function: name, source: { type: 'custom' }, filter: { source: [src] },
      on_success: { url: `http://127.0.0.1:${hs.address().port}/ok` } });
    assert.equal(t.status, 201, t.text);
    const p = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x', data: { v: 21 } },
      { headers: { 'content-type': 'application/cloudevents+json' } });
    assert.equal(p.body.jobs, 1, p.text);
    await waitFor(() => got.length > 0, { timeoutMs: 15000, what: 'the destination POST' });
    assert.equal(got[0].condition, 'success');
    assert.equal(got[0].execution.result, 42);
    assert.equal(got[0].execution.trigger_id, t.body.id);
    assert.deepEqual(got[0].event.data, { v: 21 });
  } finally {
    hs.close();
  }
});

test('triggers, events and async executions are scoped to the namespace', async () => {
  const name = uniqueName('nsfn');
  await srv.deploy(name, 'export default async () => 1');
  const t = await srv.post('/v1/triggers', { function: name, source: { type: 'custom' } });
  assert.equal(t.status, 201, t.text);
  const other = await srv.post('/v1/events', { specversion: '1.0', source: 'ns-test', type: 'x' },
    { headers: { 'content-type': 'application/cloudevents+json' }, namespace: 'other' });
  assert.equal(other.status, 202, other.text);
  assert.equal(other.body.jobs, 0, 'a default-namespace trigger does not see events of "other"');
  assert.equal((await srv.get(`/v1/triggers/${t.body.id}`, { namespace: 'other' })).status, 404);
  assert.equal((await srv.get(`/v1/events/${other.body.id}`)).status, 404);
  assertError(await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { namespace: 'other' }), 404, 'not_found');
  assert.equal((await srv.del(`/v1/triggers/${t.body.id}`)).status, 200);
});
