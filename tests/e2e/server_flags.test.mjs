// Operator settings of `r3e server`: worker count, queue timeout (503), body limit,
// default concurrency, and how bad flags are reported.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, uniqueName, assertError, waitFor, runCli, metricSum } from './lib/server.mjs';

const servers = [];
async function start(opts) {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}
after(async () => {
  for (const s of servers) await s.close({ expectCleanExit: false }).catch(() => {});
});

const SLOW = 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "slow"; }';

describe('pool and queue', () => {
  test('--workers N starts N worker processes', async () => {
    const srv = await start({ workers: 3 });
    const pids = await waitFor(async () => {
      const p = await srv.workerPids();
      return p.length === 3 ? p : null;
    }, { timeoutMs: 15000, what: 'three workers' });
    assert.equal(pids.length, 3);
    const ready = await srv.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal((await srv.close()).code, 0);
  });

  test('no free worker within --queue-timeout-ms is 503 unavailable', async () => {
    const srv = await start({ workers: 1, args: ['--queue-timeout-ms', '200'] });
    const name = uniqueName('busy');
    await srv.deploy(name, SLOW, { concurrency: 10 });
    const first = srv.post(`/v1/functions/${name}/invoke`, {});
    await waitFor(async () => metricSum(await srv.metrics(), 'r3e_invocations_in_flight') >= 1,
      { timeoutMs: 10000, what: 'the first invocation to run' });
    const t0 = Date.now();
    const second = await srv.post(`/v1/functions/${name}/invoke`, {});
    assertError(second, 503, 'unavailable');
    assert.ok(Date.now() - t0 < 1400, `gave up after the queue timeout, not after the first call: ${Date.now() - t0} ms`);
    const r = await first;
    assert.equal(r.body.status, 'ok');
    assert.equal((await srv.close()).code, 0);
  });

  test('--default-concurrency applies to functions deployed without a limit', async () => {
    const srv = await start({ workers: 2, args: ['--default-concurrency', '1'] });
    const name = uniqueName('dflt');
    await srv.deploy(name, SLOW);
    const [a, b] = await Promise.all([
      srv.post(`/v1/functions/${name}/invoke`, {}),
      srv.post(`/v1/functions/${name}/invoke`, {}),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 429], `${a.text} / ${b.text}`);
    assert.equal((await srv.close()).code, 0);
  });
});

describe('body limit', () => {
  test('--max-body lowers the request body limit', async () => {
    const srv = await start({ args: ['--max-body', '2048'] });
    const name = uniqueName('small');
    await srv.deploy(name, 'export default (e) => e.length');
    const ok = await srv.post(`/v1/functions/${name}/invoke`, JSON.stringify('a'.repeat(1000)));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.result, 1000);
    const big = await srv.post(`/v1/functions/${name}/invoke`, JSON.stringify('a'.repeat(4000)));
    assertError(big, 413, 'payload_too_large');
    assert.equal((await srv.close()).code, 0);
  });
});

describe('bad settings', () => {
  const bad = [
    [['--workers', 'abc'], /--workers/],
    [['--listen', '127.0.0.1:99999'], /--listen/],
    [['--bogus-flag', 'x'], /bogus-flag/],
  ];
  for (const [args, re] of bad) {
    test(`\`r3e server ${args.join(' ')}\` exits non-zero and names the problem`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'r3e-flags-'));
      try {
        const r = await runCli(['server', '--data', dir, ...args], { timeoutMs: 20000 });
        assert.notEqual(r.code, 0);
        assert.ok(typeof r.code === 'number', `exited by itself, not killed: ${r.code}`);
        assert.match(r.stderr, re);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  test('a port that is already taken fails the start with a clear error', async () => {
    const srv = await start();
    const dir = await mkdtemp(join(tmpdir(), 'r3e-flags-'));
    try {
      const r = await runCli(['server', '--data', dir, '--listen', `127.0.0.1:${srv.port}`], { timeoutMs: 30000 });
      assert.notEqual(r.code, 0);
      assert.equal(typeof r.code, 'number', 'exited by itself');
      assert.match(r.stderr, /address|in use|listen|bind/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal((await srv.get('/healthz')).status, 200, 'the running server is unaffected');
    assert.equal((await srv.close()).code, 0);
  });

  test('a data directory in use by another server is refused', async () => {
    const srv = await start();
    const r = await runCli(['server', '--data', srv.dataDir, '--listen', '127.0.0.1:0'], { timeoutMs: 30000 });
    assert.notEqual(r.code, 0, 'the second server must not open the same RocksDB');
    assert.equal(typeof r.code, 'number', 'exited by itself');
    assert.match(r.stderr, /lock|in use|store|open/i);
    assert.equal((await srv.get('/healthz')).status, 200);
    assert.equal((await srv.close()).code, 0);
  });
});
