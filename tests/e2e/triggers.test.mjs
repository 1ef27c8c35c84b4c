// Triggers: custom events with EventBridge filters, schedules (@every 1s), webhooks with
// X-Hub-Signature-256, sequential ordering, retries into the dead-letter list and replay,
// on_failure destinations, enable/disable and validation errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, uniqueName, assertError, waitFor } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close(); });

const CE = { 'content-type': 'application/cloudevents+json' };

// A function that appends event.data.i (or the event type) to a KV list and returns it;
// invoked synchronously with {read:true} it returns the list.
const RECORDER = `export default async function (e, ctx) {
  if (e && e.read) return JSON.parse((await ctx.kv.get('seen')) || '[]');
  const seen = JSON.parse((await ctx.kv.get('seen')) || '[]');
  seen.push(e.data && e.data.i !== undefined ? e.data.i : e.type);
  await ctx.kv.put('seen', JSON.stringify(seen));
  return seen.length;
}`;

async function seen(name) {
  return (await srv.invoke(name, { read: true })).result;
}

async function createTrigger(spec) {
  const r = await srv.post('/v1/triggers', spec);
  assert.equal(r.status, 201, r.text);
  return r.body;
}

test('a custom-event trigger with a filter fires only on matching events', async () => {
  const name = uniqueName('flt');
  await srv.deploy(name, RECORDER);
  const src = uniqueName('shop');
  const t = await createTrigger({ function: name, source: { type: 'custom' },
    filter: { source: [src], type: ['order.created'], data: { amount: [{ numeric: ['>', 10] }] } } });
  assert.match(t.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  const post = (type, amount, i) => srv.post('/v1/events', { specversion: '1.0', source: src, type, data: { amount, i } }, { headers: CE });
  const a = await post('order.created', 20, 1);
  assert.equal(a.body.jobs, 1, a.text);
  assert.equal((await post('order.created', 5, 2)).body.jobs, 0);
  assert.equal((await post('order.deleted', 50, 3)).body.jobs, 0);
  await waitFor(async () => (await seen(name)).length === 1, { timeoutMs: 15000, what: 'the matching event to run' });
  assert.deepEqual(await seen(name), [1]);
  // the event shows the execution it caused, and the record links event and trigger
  const ev = await waitFor(async () => {
    const g = await srv.get(`/v1/events/${a.body.id}`);
    return g.body.executions.length ? g.body : null;
  }, { timeoutMs: 10000, what: 'the execution link' });
  const rec = (await srv.get(`/v1/executions/${ev.executions[0]}`)).body;
  assert.equal(rec.event_id, a.body.id);
  assert.equal(rec.trigger_id, t.id);
  assert.equal(rec.status, 'ok');
});

test('a malformed filter is a 400 that points at the bad part; unknown function 404', async () => {
  const name = uniqueName('bad');
  await srv.deploy(name, RECORDER);
  const r = await srv.post('/v1/triggers', { function: name, source: { type: 'custom' }, filter: { data: { amount: [{ numerc: ['>', 1] }] } } });
  assertError(r, 400, 'invalid_argument');
  assert.match(r.body.error.message, /^filter\.data\.amount\[0\]/);
  const n = await srv.post('/v1/triggers', { function: uniqueName('ghost'), source: { type: 'custom' } });
  assertError(n, 404, 'not_found');
  const c = await srv.post('/v1/triggers', { function: name, source: { type: 'schedule', cron: '61 * * * *' } });
  assertError(c, 400, 'invalid_argument');
  assert.match(c.body.error.message, /source\.cron/);
});

test('an @every 1s schedule fires (and stops when disabled)', async () => {
  const name = uniqueName('tick');
  await srv.deploy(name, RECORDER);
  const t = await createTrigger({ function: name, source: { type: 'schedule', cron: '@every 1s' } });
  await waitFor(async () => (await seen(name)).length >= 2, { timeoutMs: 15000, what: 'two ticks' });
  assert.ok((await seen(name)).every((x) => x === 'r3e.schedule'));
  const d = await srv.post(`/v1/triggers/${t.id}/disable`);
  assert.equal(d.status, 200, d.text);
  assert.equal(d.body.enabled, false);
  await new Promise((r) => setTimeout(r, 1500));
  const n = (await seen(name)).length;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await seen(name)).length, n, 'no ticks while disabled');
  assert.equal((await srv.del(`/v1/triggers/${t.id}`)).status, 200);
  assertError(await srv.get(`/v1/triggers/${t.id}`), 404, 'not_found');
});

test('webhook: HMAC good -> 202 and the body is the event data; bad or missing -> 401', async () => {
  const name = uniqueName('hook');
  await srv.deploy(name, `export default async function (e, ctx) { await ctx.kv.put('last', JSON.stringify(e.data)); return e.data; }`);
  const t = await createTrigger({ function: name, source: { type: 'webhook', secret: 'topsecret' } });
  assert.equal(t.webhook_url, `/hooks/${t.id}`);
  assert.equal(t.source.secret, undefined, 'the secret is never returned');
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  const sig = 'sha256=' + createHmac('sha256', 'topsecret').update(body).digest('hex');
  const ok = await srv.post(t.webhook_url, body, { headers: { 'x-hub-signature-256': sig } });
  assert.equal(ok.status, 202, ok.text);
  const bad = await srv.post(t.webhook_url, body, { headers: { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) } });
  assertError(bad, 401, 'unauthenticated');
  assert.match(bad.body.error.message, /does not match/);
  const missing = await srv.post(t.webhook_url, body);
  assertError(missing, 401, 'unauthenticated');
  assert.match(missing.body.error.message, /missing X-Hub-Signature-256/);
  const ev = await waitFor(async () => {
    const g = await srv.get(`/v1/events/${ok.body.event_id}`);
    return g.body.executions.length ? g.body : null;
  }, { timeoutMs: 10000, what: 'the webhook run' });
  assert.deepEqual(ev.event.data, { ref: 'refs/heads/main' });
  assertError(await srv.post('/hooks/01ARZ3NDEKTSV4RRFFQ69G5FAV', '{}'), 404, 'not_found');
});

test('sequential mode: 20 events processed one at a time, in order', async () => {
  const name = uniqueName('seq');
  await srv.deploy(name, RECORDER);
  const src = uniqueName('seqsrc');
  await createTrigger({ function: name, source: { type: 'custom' }, filter: { source: [src] }, mode: 'sequential' });
  for (let i = 1; i <= 20; i++) {
    const r = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'n', data: { i } }, { headers: CE });
    assert.equal(r.status, 202, r.text);
  }
  await waitFor(async () => (await seen(name)).length >= 20, { timeoutMs: 30000, what: '20 runs' });
  assert.deepEqual(await seen(name), Array.from({ length: 20 }, (_, k) => k + 1));
});

test('exhaustion -> DLQ (+ on_failure destination) -> replay -> success', async () => {
  const sink = uniqueName('sink');
  await srv.deploy(sink, `export default async function (e, ctx) {
    if (e && e.read) return JSON.parse((await ctx.kv.get('got')) || 'null');
    await ctx.kv.put('got', JSON.stringify({ condition: e.condition, status: e.execution.status, fn: e.execution.function }));
  }`);
  const name = uniqueName('dlq');
  await srv.deploy(name, `export default async function (e, ctx) {
    if (e && e.heal) { await ctx.kv.put('healed', '1'); return 'healed'; }
    if (!(await ctx.kv.get('healed'))) throw new Error('still broken');
    return 'fine';
  }`);
  const src = uniqueName('dlqsrc');
  const t = await createTrigger({ function: name, source: { type: 'custom' }, filter: { source: [src] },
    retry: { max_attempts: 2, backoff_ms: 50 }, on_failure: { function: sink } });
  const p = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x' }, { headers: CE });
  assert.equal(p.body.jobs, 1, p.text);
  const dead = await waitFor(async () => {
    const l = await srv.get('/v1/dlq');
    return l.body.dead_letters.find((d) => d.trigger_id === t.id);
  }, { timeoutMs: 20000, what: 'the dead letter' });
  assert.equal(dead.attempts, 2);
  assert.match(dead.last_error, /still broken/);
  const got = await waitFor(async () => (await srv.invoke(sink, { read: true })).result, { timeoutMs: 15000, what: 'the on_failure destination' });
  assert.deepEqual(got, { condition: 'failure', status: 'error', fn: name });
  await srv.invoke(name, { heal: true });
  const rp = await srv.post(`/v1/dlq/${dead.id}/replay`);
  assert.equal(rp.status, 202, rp.text);
  const rec = await waitFor(async () => {
    const g = await srv.get(`/v1/executions/${dead.execution_id}`);
    return g.body.status === 'ok' ? g.body : null;
  }, { timeoutMs: 15000, what: 'the replay to succeed' });
  assert.equal(rec.result, 'fine');
  const l = await srv.get('/v1/dlq');
  assert.ok(!l.body.dead_letters.some((d) => d.id === dead.id), 'gone from the DLQ');
  assertError(await srv.post(`/v1/dlq/${dead.id}/replay`), 404, 'not_found');
});

test('triggers are listed, survive a restart, and are deleted', async () => {
  const name = uniqueName('persist');
  await srv.deploy(name, RECORDER);
  const src = uniqueName('psrc');
  const t = await createTrigger({ function: name, source: { type: 'custom' }, filter: { source: [src] } });
  const l = await srv.get(`/v1/triggers?function=${name}`);
  assert.deepEqual(l.body.triggers.map((x) => x.id), [t.id]);
  await srv.restart();
  const p = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x', data: { i: 7 } }, { headers: CE });
  assert.equal(p.body.jobs, 1, 'loaded into the matcher at start');
  await waitFor(async () => (await seen(name)).length === 1, { timeoutMs: 15000, what: 'the run after restart' });
  assert.equal((await srv.del(`/v1/triggers/${t.id}`)).status, 200);
  const q = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x' }, { headers: CE });
  assert.equal(q.body.jobs, 0);
});

test('missed ticks after downtime: catch_up fires them, skip does not', async () => {
  const name = uniqueName('missed');
  await srv.deploy(name, 'export default async () => null');
  const mk = async (missed) => (await createTrigger({ function: name, source: { type: 'schedule', cron: '@every 1s', missed } })).id;
  const catchUp = await mk('catch_up');
  const skip = await mk('skip');
  const ticks = async (id) => {
    const l = await srv.get(`/v1/events?source=${encodeURIComponent(`r3e://schedule/${id}`)}&limit=1000`);
    return l.body.events.map((e) => Date.parse(e.event.time) / 1000).sort((a, b) => a - b);
  };
  await waitFor(async () => (await ticks(catchUp)).length >= 1 && (await ticks(skip)).length >= 1,
    { timeoutMs: 10000, what: 'the first ticks' });
  await srv.stop('SIGTERM');
  const down = Date.now();
  await new Promise((r) => setTimeout(r, 5000));
  await srv.restart();
  const downS = (Date.now() - down) / 1000;
  // catch_up: one tick for every second, no gap across the downtime
  const c = await waitFor(async () => {
    const t = await ticks(catchUp);
    return t[t.length - 1] >= Math.floor(Date.now() / 1000) - 1 ? t : null;
  }, { timeoutMs: 10000, what: 'catch_up to reach now' });
  for (let i = 1; i < c.length; i++) assert.equal(c[i] - c[i - 1], 1, `catch_up ticks are contiguous: ${c.join(',')}`);
  // skip: a gap at least as long as most of the downtime
  const s = await ticks(skip);
  const gaps = s.slice(1).map((t, i) => t - s[i]);
  assert.ok(Math.max(...gaps) >= Math.floor(downS) - 2, `skip leaves a gap (downtime ${downS}s): ${s.join(',')}`);
});

test('with authentication on: permissions of the event routes; /hooks/{id} needs no key', async () => {
  const a = await startServer({ workers: 1, auth: true });
  try {
    const key = async (role) => {
      const r = await a.post('/v1/keys', { role, namespace: 'default', name: `${role}-ev` });
      assert.equal(r.status, 201, r.text);
      return r.body.key;
    };
    const viewer = await key('viewer');
    const invoker = await key('invoker');
    const dev = await key('developer');
    const name = uniqueName('authfn');
    await a.deploy(name, 'export default async () => 1');
    const ev = { specversion: '1.0', source: 'auth', type: 'x' };
    const ce = { 'content-type': 'application/cloudevents+json' };
    assertError(await a.post('/v1/events', ev, { token: null, headers: ce }), 401, 'unauthenticated');
    assertError(await a.post('/v1/events', ev, { token: viewer, headers: ce }), 403, 'permission_denied');
    assert.equal((await a.post('/v1/events', ev, { token: invoker, headers: ce })).status, 202);
    assert.equal((await a.get('/v1/events', { token: viewer })).status, 200);
    const spec = { function: name, source: { type: 'webhook' } };
    assertError(await a.post('/v1/triggers', spec, { token: invoker }), 403, 'permission_denied');
    const t = await a.post('/v1/triggers', spec, { token: dev });
    assert.equal(t.status, 201, t.text);
    assert.equal((await a.get('/v1/triggers', { token: viewer })).status, 200);
    assert.equal((await a.get('/v1/dlq', { token: viewer })).status, 200);
    assertError(await a.post(`/v1/triggers/${t.body.id}/disable`, undefined, { token: invoker }), 403, 'permission_denied');
    assertError(await a.post(`/v1/functions/${name}/invoke?async=1`, {}, { token: viewer }), 403, 'permission_denied');
    assert.equal((await a.post(`/v1/functions/${name}/invoke?async=1`, {}, { token: invoker })).status, 202);
    assert.equal((await a.post(t.body.webhook_url, '{"a":1}', { token: null })).status, 202, 'webhooks are public');
  } finally {
    await a.close();
  }
});
