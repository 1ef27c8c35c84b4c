// POST /v1/events: CloudEvents in structured, batched and binary mode, dedupe by
// (source, id), errors that name the attribute, and the event log (GET /v1/events[/{id}]).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName, assertError, waitFor } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close(); });

const CE = { 'content-type': 'application/cloudevents+json' };

test('structured mode: 202 once durable, id and time filled in, readable back', async () => {
  const src = uniqueName('src');
  const r = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'demo.created', data: { a: 1 } }, { headers: CE });
  assert.equal(r.status, 202, r.text);
  assert.match(r.body.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(r.body.duplicate, false);
  assert.ok(r.body.ce_id, 'a generated CloudEvents id');
  const g = await srv.get(`/v1/events/${r.body.id}`);
  assert.equal(g.status, 200, g.text);
  assert.equal(g.body.event.source, src);
  assert.deepEqual(g.body.event.data, { a: 1 });
  assert.ok(!Number.isNaN(Date.parse(g.body.event.time)), 'time filled in');
  assert.deepEqual(g.body.executions, []);
});

test('binary mode: ce-* headers carry the attributes, the body is the data', async () => {
  const src = uniqueName('bin');
  const r = await srv.post('/v1/events', JSON.stringify({ k: 'v' }), {
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'b-1', 'ce-source': src, 'ce-type': 'demo.bin' },
  });
  assert.equal(r.status, 202, r.text);
  const g = await srv.get(`/v1/events/${r.body.id}`);
  assert.equal(g.body.event.id, 'b-1');
  assert.deepEqual(g.body.event.data, { k: 'v' });
  assert.equal(g.body.event.datacontenttype, 'application/json');
});

test('batched mode: one result per event, in order', async () => {
  const src = uniqueName('batch');
  const batch = [1, 2, 3].map((i) => ({ specversion: '1.0', id: `e${i}`, source: src, type: 'demo.batch', data: { i } }));
  const r = await srv.post('/v1/events', JSON.stringify(batch), { headers: { 'content-type': 'application/cloudevents-batch+json' } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.events.length, 3);
  assert.deepEqual(r.body.events.map((e) => e.ce_id), ['e1', 'e2', 'e3']);
  const l = await srv.get(`/v1/events?source=${src}&limit=10`);
  assert.equal(l.status, 200, l.text);
  assert.equal(l.body.events.length, 3);
  assert.deepEqual(l.body.events.map((e) => e.ce_id), ['e3', 'e2', 'e1'], 'newest first');
});

test('re-posting the same source+id is a no-op that says so', async () => {
  const ev = { specversion: '1.0', id: 'dup-1', source: uniqueName('dup'), type: 'demo.dup' };
  const a = await srv.post('/v1/events', ev, { headers: CE });
  assert.equal(a.status, 202, a.text);
  const b = await srv.post('/v1/events', ev, { headers: CE });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.body.duplicate, true);
  assert.equal(b.body.id, a.body.id, 'the original event id');
  const l = await srv.get(`/v1/events?source=${ev.source}`);
  assert.equal(l.body.events.length, 1);
});

test('bad payloads: 400 naming the attribute; unknown media type 415', async () => {
  const src = uniqueName('bad');
  let r = await srv.post('/v1/events', { specversion: '1.0', source: src }, { headers: CE });
  assertError(r, 400, 'invalid_argument');
  assert.match(r.body.error.message, /type/);
  r = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 't', time: 'yesterday' }, { headers: CE });
  assertError(r, 400, 'invalid_argument');
  assert.match(r.body.error.message, /'time'/);
  r = await srv.post('/v1/events', { specversion: '0.3', source: src, type: 't' }, { headers: CE });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.message, /specversion/);
  r = await srv.post('/v1/events', '[{"specversion":"1.0","source":"s","type":"t"},{"specversion":"1.0","source":"s"}]',
    { headers: { 'content-type': 'application/cloudevents-batch+json' } });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.message, /item 1/);
  r = await srv.post('/v1/events', 'hello', { headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 415, r.text);
  r = await srv.get('/v1/events/01ARZ3NDEKTSV4RRFFQ69G5FAV');
  assertError(r, 404, 'not_found');
});

test('the event log filters by type and since', async () => {
  const src = uniqueName('flt');
  const t0 = Date.now();
  for (const type of ['a.x', 'b.y', 'a.x']) {
    const r = await srv.post('/v1/events', { specversion: '1.0', source: src, type }, { headers: CE });
    assert.equal(r.status, 202, r.text);
  }
  const l = await srv.get(`/v1/events?source=${src}&type=a.x`);
  assert.equal(l.body.events.length, 2);
  const s = await srv.get(`/v1/events?source=${src}&since=${t0 + 3600_000}`);
  assert.equal(s.body.events.length, 0);
  await waitFor(async () => true);
});

test('CLI: events publish / ls, triggers create / ls / disable / rm, dlq ls, invoke --async', async () => {
  const { execFile } = await import('node:child_process');
  const { BIN } = await import('./lib/server.mjs');
  const r3e = (...args) => new Promise((resolve) => {
    execFile(BIN, ['--json', ...args], { env: { ...process.env, R3E_SERVER: srv.url }, timeout: 20000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout, err: stderr }));
  });
  const name = uniqueName('clifn');
  await srv.deploy(name, 'export default async (e) => e');
  const src = uniqueName('clisrc');
  const t = await r3e('triggers', 'create', name, '--custom', '--filter', JSON.stringify({ source: [src] }), '--sequential', '--max-attempts', '2');
  assert.equal(t.code, 0, t.err);
  const trig = JSON.parse(t.out);
  assert.equal(trig.mode, 'sequential');
  assert.equal(trig.retry.max_attempts, 2);
  const p = await r3e('events', 'publish', '--type', 'cli.t', '--source', src, '--id', 'c1', '--data', '{"x":1}');
  assert.equal(p.code, 0, p.err);
  assert.equal(JSON.parse(p.out).jobs, 1);
  const l = await r3e('events', 'ls', '--source', src);
  assert.equal(JSON.parse(l.out).events[0].ce_id, 'c1');
  assert.ok(JSON.parse((await r3e('triggers', 'ls')).out).triggers.some((x) => x.id === trig.id));
  assert.equal(JSON.parse((await r3e('triggers', 'disable', trig.id)).out).enabled, false);
  assert.equal((await r3e('triggers', 'rm', trig.id)).code, 0);
  assert.ok(Array.isArray(JSON.parse((await r3e('dlq', 'ls')).out).dead_letters));
  const a = await r3e('invoke', name, '--async', '--data', '{"q":2}');
  assert.equal(a.code, 0, a.err);
  assert.match(JSON.parse(a.out).execution_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  const bad = await r3e('triggers', 'create', name);
  assert.equal(bad.code, 2, 'usage error without a source');
});
