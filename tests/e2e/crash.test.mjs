// Failure and recovery: a worker killed mid-invocation, the server killed with SIGKILL and
// restarted on the same data directory, and a graceful SIGTERM with work in flight.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, uniqueName, waitFor, metricSum } from './lib/server.mjs';

const servers = [];
async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}
// Whatever a test left running is killed; clean exits are asserted inside the tests.
after(async () => {
  for (const s of servers) await s.close({ expectCleanExit: false }).catch(() => {});
});

const SLOW = 'export default async (e) => { await new Promise((r) => setTimeout(r, e.ms ?? 5000)); return "slept " + (e.ms ?? 5000); }';

// Waits (bounded) until the server reports an invocation in flight.
async function waitInFlight(srv, n = 1) {
  await waitFor(async () => metricSum(await srv.metrics(), 'r3e_invocations_in_flight') >= n,
    { timeoutMs: 10000, intervalMs: 50, what: `${n} invocation(s) in flight` });
}

describe('worker crash', () => {
  test('SIGKILL of the workers mid-invocation: status "crashed", the pool recovers', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('victim');
    await srv.deploy(name, SLOW, { timeout_ms: 30000 });
    const workersBefore = await waitFor(async () => {
      const p = await srv.workerPids();
      return p.length === 2 ? p : null;
    }, { timeoutMs: 10000, what: 'two worker processes' });
    const restartsBefore = metricSum(await srv.metrics(), 'r3e_worker_restarts_total');

    const pending = srv.post(`/v1/functions/${name}/invoke`, { ms: 8000 }, { timeoutMs: 60000 });
    await waitInFlight(srv);
    // Kill every worker: the one running the invocation is among them.
    for (const pid of workersBefore) process.kill(pid, 'SIGKILL');

    const r = await pending;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'crashed', JSON.stringify(r.body));
    assert.ok(r.body.error && typeof r.body.error.message === 'string', 'a crash has an error');
    const stored = await srv.get(`/v1/executions/${r.body.execution_id}`);
    assert.equal(stored.status, 200, stored.text);
    assert.equal(stored.body.status, 'crashed');

    // New workers replace the dead ones.
    const workersAfter = await waitFor(async () => {
      const p = await srv.workerPids();
      return p.length === 2 && p.every((x) => !workersBefore.includes(x)) ? p : null;
    }, { timeoutMs: 20000, what: 'two new worker processes' });
    assert.equal(workersAfter.length, 2);

    for (let i = 0; i < 4; i++) {
      const ok = await srv.invoke(name, { ms: 1 }, { timeoutMs: 30000 });
      assert.equal(ok.status, 'ok', JSON.stringify(ok));
      assert.equal(ok.result, 'slept 1');
    }
    const restartsAfter = metricSum(await srv.metrics(), 'r3e_worker_restarts_total');
    assert.ok(restartsAfter >= restartsBefore + 1,
      `r3e_worker_restarts_total grew: ${restartsBefore} -> ${restartsAfter}`);

    const res = await srv.close();
    assert.equal(res.code, 0);
  });

  test('an idle worker killed between invocations is replaced without failures', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('idlekill');
    await srv.deploy(name, 'export default () => "ok"');
    assert.equal((await srv.invoke(name)).status, 'ok');
    const [victim] = await srv.workerPids();
    assert.ok(victim, 'a worker exists');
    process.kill(victim, 'SIGKILL');
    await waitFor(async () => {
      const p = await srv.workerPids();
      return p.length === 2 && !p.includes(victim);
    }, { timeoutMs: 20000, what: 'the killed worker to be replaced' });
    for (let i = 0; i < 4; i++) assert.equal((await srv.invoke(name)).status, 'ok');
    const res = await srv.close();
    assert.equal(res.code, 0);
  });
});

describe('server restart', () => {
  test('kill -9 then restart on the same data dir keeps functions, versions, KV and executions', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('durable');
    const kvCode = (tag) => `export default async (e, ctx) => {
      if (e.put) { await ctx.kv.put(e.put, e.value); return "${tag} stored"; }
      return "${tag}:" + (await ctx.kv.get(e.get));
    }`;
    await srv.deploy(name, kvCode('v1'), { timeout_ms: 4000, env: { K: 'v' } });
    assert.equal((await srv.put(`/v1/functions/${name}`, { code: kvCode('v2') })).status, 201);
    assert.equal((await srv.put(`/v1/functions/${name}/active`, { version: 1 })).status, 200);
    const put = await srv.invoke(name, { put: 'color', value: 'teal' });
    assert.equal(put.result, 'v1 stored');
    const got = await srv.invoke(name, { get: 'color' });
    assert.equal(got.result, 'v1:teal');
    const before = (await srv.get(`/v1/functions/${name}`)).body;

    const killed = await srv.kill();
    assert.equal(killed.signal, 'SIGKILL');
    await srv.restart();

    const after = await srv.get(`/v1/functions/${name}`);
    assert.equal(after.status, 200, after.text);
    assert.equal(after.body.active_version, 1);
    assert.equal(after.body.latest_version, 2);
    assert.deepEqual(after.body.versions.map((v) => [v.version, v.code_sha256, v.timeout_ms]),
      before.versions.map((v) => [v.version, v.code_sha256, v.timeout_ms]));

    for (const rec of [put, got]) {
      const e = await srv.get(`/v1/executions/${rec.execution_id}`);
      assert.equal(e.status, 200, `execution ${rec.execution_id} after restart: ${e.text}`);
      assert.equal(e.body.status, 'ok');
      assert.deepEqual(e.body.result, rec.result);
    }
    const list = await srv.get(`/v1/functions/${name}/executions`);
    assert.equal(list.status, 200, list.text);
    const ids = list.body.executions.map((x) => x.execution_id);
    assert.ok(ids.includes(put.execution_id) && ids.includes(got.execution_id), `listed: ${ids}`);

    const again = await srv.invoke(name, { get: 'color' });
    assert.equal(again.status, 'ok', JSON.stringify(again));
    assert.equal(again.result, 'v1:teal', 'KV and the active version survived');
    // Versions still roll forward after the restart.
    assert.equal((await srv.put(`/v1/functions/${name}/active`, { version: 2 })).status, 200);
    assert.equal((await srv.invoke(name, { get: 'color' })).result, 'v2:teal');

    const res = await srv.close();
    assert.equal(res.code, 0);
  });
});

describe('clean restart', () => {
  test('SIGTERM then restart on the same data dir keeps everything too', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('clean');
    await srv.deploy(name, 'export default async (e, ctx) => { if (e.v) await ctx.kv.put("v", e.v); return await ctx.kv.get("v"); }');
    const rec = await srv.invoke(name, { v: 'kept' });
    const res = await srv.stop('SIGTERM');
    assert.equal(res.code, 0);
    await srv.restart();
    assert.equal((await srv.invoke(name, {})).result, 'kept');
    assert.equal((await srv.get(`/v1/executions/${rec.execution_id}`)).status, 200);
    assert.equal((await srv.close()).code, 0);
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM lets an in-flight invocation finish, then exits 0', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('drain');
    await srv.deploy(name, SLOW);
    const pending = srv.post(`/v1/functions/${name}/invoke`, { ms: 1500 }, { timeoutMs: 30000 });
    await waitInFlight(srv);
    const workers = await srv.workerPids();
    assert.ok(workers.length > 0, 'workers running');
    const t0 = Date.now();
    const stopped = srv.stop('SIGTERM', 20000);
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ok', JSON.stringify(r.body));
    assert.equal(r.body.result, 'slept 1500');
    const res = await stopped;
    assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
      `exit after SIGTERM: ${srv.stderr.slice(-2000)}`);
    assert.ok(Date.now() - t0 < 15000, 'shutdown did not hang');
    // The workers are gone with the server (a zombie awaiting its reaper counts as gone).
    await waitFor(async () => {
      for (const pid of workers) {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
        if (stat && !/^\d+ \(.*\) [ZX]/.test(stat)) return false;
      }
      return true;
    }, { timeoutMs: 10000, what: `worker processes ${workers} to exit` });
  });

  test('SIGTERM with a log follower attached ends the stream and exits 0 promptly', async () => {
    const srv = await start({ workers: 2 });
    const name = uniqueName('followed');
    await srv.deploy(name, 'export default () => { console.log("x"); return 1; }');
    await srv.invoke(name);
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/v1/functions/${name}/logs?follow=1`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const drained = (async () => {
      try {
        for await (const _ of res.body) { /* read until the server ends the stream */ }
        return 'ended';
      } catch (e) {
        return `error: ${e.message}`;
      }
    })();
    const t0 = Date.now();
    const ex = await srv.stop('SIGTERM', 20000);
    assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 10000, `exit took ${Date.now() - t0} ms with a follower attached`);
    const how = await Promise.race([drained, new Promise((r) => setTimeout(() => r('still open'), 5000).unref())]);
    assert.notEqual(how, 'still open', 'the follow stream ended with the server');
    ac.abort();
  });

  test('SIGINT is graceful too', async () => {
    const srv = await start({ workers: 2 });
    const res = await srv.stop('SIGINT', 20000);
    assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null });
  });
});
