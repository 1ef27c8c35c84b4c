// Queued work and what follows it: a trigger job's "queued" record exists from the moment
// its event is accepted; on_failure destinations fire on every path to the dead letters
// (here: the event grew older than max_event_age_s) with the reason; X-Callback-Url POSTs
// are durable: retried with backoff, bounded, recorded in the execution record, and not
// lost by a kill -9 in the middle of the retries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, uniqueName, waitFor } from './lib/server.mjs';

// Small bounds so the retry tests are quick: 4 tries, backoff 0..50 ms, 0..100 ms, ...
const ENV = { R3E_DELIVERY_ATTEMPTS: '4', R3E_DELIVERY_BACKOFF_MS: '50' };
const CE = { 'content-type': 'application/cloudevents+json' };
const FINAL = new Set(['ok', 'error', 'timeout', 'memory_limit', 'crashed']);

let srv;
before(async () => { srv = await startServer({ workers: 2, egressAllow: '127.0.0.1', env: ENV }); });
after(async () => { await srv?.close(); });

// A 127.0.0.1 listener whose answer to the n-th request (1-based) is status(n); it keeps
// every request body.
async function listener(status) {
  const got = [];
  const hs = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      got.push(JSON.parse(body));
      res.statusCode = status(got.length);
      res.end('x');
    });
  });
  await new Promise((resolve) => hs.listen(0, '127.0.0.1', resolve));
  return { got, url: `http://127.0.0.1:${hs.address().port}/cb`, close: () => hs.close() };
}

async function record(s, id) {
  const g = await s.get(`/v1/executions/${id}`);
  return g.status === 200 ? g.body : null;
}

test('a trigger job has its queued record as soon as the event is accepted, then runs', async () => {
  const name = uniqueName('qrec');
  await srv.deploy(name, `export default async (e) => {
    await new Promise((r) => setTimeout(r, e.data.ms));
    return e.data.i;
  }`);
  const src = uniqueName('qsrc');
  // sequential: the second event's job waits behind the first (which sleeps 2 s)
  const t = await srv.post('/v1/triggers', { function: name, mode: 'sequential', source: { type: 'custom' },
    filter: { source: [src] } });
  assert.equal(t.status, 201, t.text);
  const post = (i, ms) => srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x', data: { i, ms } },
    { headers: CE });
  const a = await post(1, 2000);
  const b = await post(2, 0);
  assert.equal(b.body.jobs, 1, b.text);
  const list = await srv.get(`/v1/functions/${name}/executions`);
  assert.equal(list.status, 200, list.text);
  const byEvent = Object.fromEntries(list.body.executions.map((r) => [r.event_id, r]));
  assert.ok(byEvent[a.body.id], 'the first job is listed');
  const q = byEvent[b.body.id];
  assert.ok(q, `the pending job is listed at once: ${list.text}`);
  assert.equal(q.status, 'queued');
  assert.equal(q.trigger_id, t.body.id);
  assert.equal(q.attempts, 0);
  assert.equal(q.async, true);
  assert.ok(q.queued_at);
  const fin = await waitFor(async () => {
    const r = await record(srv, q.execution_id);
    return r && FINAL.has(r.status) ? r : null;
  }, { timeoutMs: 20000, what: 'the queued job to finish' });
  assert.equal(fin.status, 'ok');
  assert.equal(fin.result, 2);
  assert.equal(fin.attempts, 1);
  assert.equal(fin.event_id, b.body.id);
  const ev = await waitFor(async () => {
    const g = await srv.get(`/v1/events/${b.body.id}`);
    return g.body.executions?.length ? g.body : null;
  }, { timeoutMs: 10000, what: 'the event -> execution link' });
  assert.deepEqual(ev.executions, [q.execution_id]);
});

test('on_failure fires with reason max_event_age when an event is too old to retry', async () => {
  const sink = await listener(() => 200);
  try {
    const name = uniqueName('old');
    // the first attempt alone outlives max_event_age_s, with attempts to spare
    await srv.deploy(name, `export default async () => {
      await new Promise((r) => setTimeout(r, 1300));
      throw new Error('still broken');
    }`);
    const src = uniqueName('oldsrc');
    const t = await srv.post('/v1/triggers', { function: name, source: { type: 'custom' }, filter: { source: [src] },
      retry: { max_attempts: 5, backoff_ms: 50, max_event_age_s: 1 }, on_failure: { url: sink.url } });
    assert.equal(t.status, 201, t.text);
    const p = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x', data: { v: 7 } },
      { headers: CE });
    assert.equal(p.body.jobs, 1, p.text);
    await waitFor(() => sink.got.length > 0, { timeoutMs: 20000, what: 'the on_failure POST' });
    const doc = sink.got[0];
    assert.equal(doc.condition, 'failure');
    assert.equal(doc.reason, 'max_event_age');
    assert.equal(doc.execution.status, 'error');
    assert.equal(doc.execution.attempts, 1);
    assert.equal(doc.execution.dead_letter.reason, 'max_event_age');
    assert.match(doc.execution.dead_letter.last_error, /still broken/);
    assert.equal(doc.execution.will_retry, undefined);
    assert.deepEqual(doc.event.data, { v: 7 });
    const id = doc.execution.execution_id;
    const dlq = await srv.get('/v1/dlq');
    assert.ok(JSON.stringify(dlq.body).includes(id), `the job is in the dead-letter list: ${dlq.text}`);
    const rec = await waitFor(async () => {
      const r = await record(srv, id);
      return r?.destination?.state === 'delivered' ? r : null;
    }, { timeoutMs: 10000, what: 'the destination state in the record' });
    assert.equal(rec.destination.condition, 'failure');
    assert.equal(rec.dead_letter.reason, 'max_event_age');
    assert.equal(sink.got.length, 1);
  } finally {
    sink.close();
  }
});

test('a callback that fails twice (500) is retried and delivered on the third try', async () => {
  const cb = await listener((n) => (n <= 2 ? 500 : 200));
  try {
    const name = uniqueName('cb3');
    await srv.deploy(name, 'export default async () => 42');
    const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': cb.url } });
    assert.equal(r.status, 202, r.text);
    const rec = await waitFor(async () => {
      const x = await record(srv, r.body.execution_id);
      return x?.callback?.state === 'delivered' ? x : null;
    }, { timeoutMs: 20000, what: 'the callback to be delivered' });
    assert.equal(rec.callback.attempts, 3);
    assert.equal(rec.callback.last_error, undefined);
    assert.equal(rec.status, 'ok');
    assert.equal(cb.got.length, 3);
    for (const body of cb.got) {
      assert.equal(body.execution_id, r.body.execution_id);
      assert.equal(body.result, 42);
    }
  } finally {
    cb.close();
  }
});

test('a callback that always fails ends as failed after the bound, with the last error', async () => {
  const cb = await listener(() => 503);
  try {
    const name = uniqueName('cbx');
    await srv.deploy(name, 'export default async () => 1');
    const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': cb.url } });
    assert.equal(r.status, 202, r.text);
    const rec = await waitFor(async () => {
      const x = await record(srv, r.body.execution_id);
      return x?.callback?.state === 'failed' ? x : null;
    }, { timeoutMs: 20000, what: 'the callback to fail' });
    assert.deepEqual(rec.callback, { state: 'failed', attempts: 4, last_error: 'HTTP 503' });
    assert.equal(cb.got.length, 4);
    assert.equal(rec.status, 'ok', 'the execution itself succeeded');
  } finally {
    cb.close();
  }
});

test('a callback refused by the receiver (4xx) is not retried', async () => {
  const cb = await listener(() => 404);
  try {
    const name = uniqueName('cb4');
    await srv.deploy(name, 'export default async () => 1');
    const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': cb.url } });
    const rec = await waitFor(async () => {
      const x = await record(srv, r.body.execution_id);
      return x?.callback?.state === 'failed' ? x : null;
    }, { timeoutMs: 20000, what: 'the callback to fail' });
    assert.deepEqual(rec.callback, { state: 'failed', attempts: 1, last_error: 'HTTP 404' });
    assert.equal(cb.got.length, 1);
  } finally {
    cb.close();
  }
});

test('kill -9 in the middle of a callback\'s retries: delivered after the restart', async () => {
  let up = false; // the receiver fails until the server has been killed
  const cb = await listener(() => (up ? 200 : 500));
  // long backoff (0..2 s, 0..4 s, ...) so the kill lands between tries
  const s = await startServer({ workers: 1, egressAllow: '127.0.0.1',
    env: { R3E_DELIVERY_ATTEMPTS: '8', R3E_DELIVERY_BACKOFF_MS: '2000' } });
  try {
    const name = uniqueName('cbr');
    await s.deploy(name, 'export default async () => "done"');
    const r = await s.post(`/v1/functions/${name}/invoke?async=1`, {}, { headers: { 'x-callback-url': cb.url } });
    assert.equal(r.status, 202, r.text);
    await waitFor(() => cb.got.length >= 1, { timeoutMs: 20000, what: 'the first (failing) callback try' });
    await s.kill();
    const before = cb.got.length;
    up = true;
    await s.restart();
    const rec = await waitFor(async () => {
      const x = await record(s, r.body.execution_id);
      return x?.callback?.state === 'delivered' ? x : null;
    }, { timeoutMs: 40000, intervalMs: 100, what: 'the callback to be delivered after the restart' });
    assert.ok(cb.got.length > before, 'a try after the restart');
    assert.equal(cb.got.at(-1).result, 'done');
    assert.ok(rec.callback.attempts >= 2);
  } finally {
    await s.close();
    cb.close();
  }
});
