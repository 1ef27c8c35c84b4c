// Durability: the server killed with SIGKILL while 1,000 async invocations are queued or
// running; after a restart on the same data every accepted execution id ends in a final
// status (at-least-once: a run in flight at the kill may run again, none is lost).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName, waitFor } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close({ expectCleanExit: false }); });

const FINAL = new Set(['ok', 'error', 'timeout', 'memory_limit', 'crashed']);

async function statuses(ids) {
  const counts = {};
  const pending = [];
  for (let i = 0; i < ids.length; i += 50) {
    const recs = await Promise.all(ids.slice(i, i + 50).map((id) => srv.get(`/v1/executions/${id}`)));
    recs.forEach((g, k) => {
      const st = g.status === 200 ? g.body.status : `http_${g.status}`;
      counts[st] = (counts[st] ?? 0) + 1;
      if (!FINAL.has(st) || g.body.will_retry) pending.push(ids[i + k]);
    });
  }
  return { counts, pending };
}

test('kill -9 with 1,000 async invocations queued or running: all complete after restart', async () => {
  const name = uniqueName('dur');
  await srv.deploy(name, 'export default async (e) => { await new Promise((r) => setTimeout(r, 40)); return e.i; }');
  const ids = [];
  for (let i = 0; i < 1000; i += 25) {
    const rs = await Promise.all(Array.from({ length: 25 }, (_, k) =>
      srv.post(`/v1/functions/${name}/invoke?async=1`, { i: i + k })));
    for (const r of rs) {
      assert.equal(r.status, 202, r.text);
      ids.push(r.body.execution_id);
    }
  }
  assert.equal(new Set(ids).size, 1000);
  const m = await srv.get('/metrics');
  const depth = [...m.text.matchAll(/^r3e_queue_depth\{state="(?:ready|leased)"\} (\d+)/gm)]
    .reduce((a, x) => a + Number(x[1]), 0);
  const killed = await srv.kill();
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(depth > 0, 'work was still queued or running at the kill');
  await srv.restart();
  let last;
  await waitFor(async () => {
    last = await statuses(ids);
    return last.pending.length === 0;
  }, { timeoutMs: 90000, intervalMs: 1000, what: 'every execution to finish' });
  assert.equal(last.counts.ok, 1000, `final statuses: ${JSON.stringify(last.counts)} (queued or running at the kill: ${depth})`);
  const dlq = await srv.get('/v1/dlq?limit=1000');
  assert.equal(dlq.body.dead_letters.filter((d) => d.function === name).length, 0);
});

test('an event acknowledged before kill -9 still runs its trigger after restart', async () => {
  const name = uniqueName('evdur');
  await srv.deploy(name, 'export default async (e) => e.data');
  const src = uniqueName('evsrc');
  const t = await srv.post('/v1/triggers', { function: name, source: { type: 'custom' }, filter: { source: [src] } });
  assert.equal(t.status, 201, t.text);
  const acc = [];
  for (let i = 0; i < 50; i++) {
    const r = await srv.post('/v1/events', { specversion: '1.0', source: src, type: 'x', data: { i } },
      { headers: { 'content-type': 'application/cloudevents+json' } });
    assert.equal(r.status, 202, r.text);
    acc.push(r.body.id);
  }
  await srv.kill();
  await srv.restart();
  await waitFor(async () => {
    for (const id of acc) {
      const g = await srv.get(`/v1/events/${id}`);
      if (!g.body.executions.length) return false;
      const rec = await srv.get(`/v1/executions/${g.body.executions[0]}`);
      if (rec.body.status !== 'ok') return false;
    }
    return true;
  }, { timeoutMs: 60000, intervalMs: 500, what: 'every acknowledged event to run' });
});

test('SIGTERM lets an in-flight async run finish: one attempt, status ok', async () => {
  const name = uniqueName('graceful');
  await srv.deploy(name, 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return 1; }');
  const r = await srv.post(`/v1/functions/${name}/invoke?async=1`, {});
  assert.equal(r.status, 202, r.text);
  await waitFor(async () => (await srv.get(`/v1/executions/${r.body.execution_id}`)).body.status === 'running',
    { timeoutMs: 10000, what: 'the run to start' });
  const stopped = await srv.stop('SIGTERM');
  assert.equal(stopped.code, 0, JSON.stringify(stopped));
  await srv.restart();
  const g = await srv.get(`/v1/executions/${r.body.execution_id}`);
  assert.equal(g.body.status, 'ok', g.text);
  assert.equal(g.body.attempts, 1, 'finished before the stop, not re-run');
});
