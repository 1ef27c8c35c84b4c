// The secret vault end to end (issue 4): set/list/delete over the API, values never
// returned by any endpoint, ctx.secrets inside the function only for its own function,
// redaction of logged/returned values, restart with the same key, a wrong key failing the
// start loudly, and master key rotation after which the old key is not needed.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, uniqueName, runCli } from './lib/server.mjs';

const VALUE = 'sk-live-' + randomBytes(12).toString('hex');

describe('secrets API and ctx.secrets', () => {
  let srv;
  before(async () => { srv = await startServer({ workers: 2 }); });
  after(async () => { await srv?.close(); });

  test('--dev generates a 0600 master key in the data directory', async () => {
    const st = await stat(join(srv.dataDir, 'master.key'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(srv.stderr, /DEV MODE: generated a master key/);
  });

  test('set, list (names and versions only), replace, delete', async () => {
    const name = uniqueName('sec');
    await srv.deploy(name, 'export default async () => 1');
    let r = await srv.put(`/v1/functions/${name}/secrets/API_KEY`, VALUE, { headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.version, 1);
    assert.ok(!r.text.includes(VALUE));
    r = await srv.put(`/v1/functions/${name}/secrets/OTHER`, { value: 'second-value' });
    assert.equal(r.status, 201, r.text);
    r = await srv.put(`/v1/functions/${name}/secrets/OTHER`, { value: 'second-value-2' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.version, 2);
    r = await srv.get(`/v1/functions/${name}/secrets`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.secrets.map((s) => [s.name, s.version]), [['API_KEY', 1], ['OTHER', 2]]);
    assert.ok(!r.text.includes(VALUE) && !r.text.includes('second-value'));
    r = await srv.del(`/v1/functions/${name}/secrets/OTHER`);
    assert.equal(r.status, 204, r.text);
    r = await srv.del(`/v1/functions/${name}/secrets/OTHER`);
    assert.equal(r.status, 404, r.text);
    r = await srv.get(`/v1/functions/${name}/secrets`);
    assert.deepEqual(r.body.secrets.map((s) => s.name), ['API_KEY']);
    const d = await srv.get(`/v1/functions/${name}`);
    assert.ok(!d.text.includes(VALUE), 'describe never shows values');
  });

  test('deleting a function deletes its secrets (a new function of that name starts empty)', async () => {
    const name = uniqueName('sec');
    await srv.deploy(name, 'export default async (e, ctx) => Object.keys(ctx.secrets)');
    await srv.put(`/v1/functions/${name}/secrets/OLD`, { value: VALUE });
    assert.equal((await srv.del(`/v1/functions/${name}`)).status, 200);
    await srv.deploy(name, 'export default async (e, ctx) => Object.keys(ctx.secrets)');
    assert.deepEqual((await srv.invoke(name, {})).result, []);
    assert.deepEqual((await srv.get(`/v1/functions/${name}/secrets`)).body.secrets, []);
  });

  test('unknown function is 404, bad secret name is 400', async () => {
    let r = await srv.put('/v1/functions/no-such-fn/secrets/K', { value: 'x' });
    assert.equal(r.status, 404, r.text);
    r = await srv.get('/v1/functions/no-such-fn/secrets');
    assert.equal(r.status, 404, r.text);
    const name = uniqueName('sec');
    await srv.deploy(name, 'export default async () => 1');
    r = await srv.put(`/v1/functions/${name}/secrets/1bad-name`, { value: 'x' });
    assert.equal(r.status, 400, r.text);
  });

  test('ctx.secrets works, is frozen, and a logged or returned value is redacted everywhere', async () => {
    const name = uniqueName('sec');
    await srv.deploy(name, `export default async (e, ctx) => {
      console.log('the key is ' + ctx.secrets.API_KEY);
      const k = ctx.secrets.API_KEY;
      try { ctx.secrets.API_KEY = 'changed'; } catch (_) {}
      return { k, len: k.length, frozen: Object.isFrozen(ctx.secrets), same: ctx.secrets.API_KEY === k,
               names: Object.keys(ctx.secrets) };
    }`);
    assert.equal((await srv.put(`/v1/functions/${name}/secrets/API_KEY`, { value: VALUE })).status, 201);
    const rec = await srv.invoke(name, {});
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.k, '***');
    assert.equal(rec.result.len, VALUE.length);
    assert.equal(rec.result.frozen, true);
    assert.equal(rec.result.same, true);
    assert.deepEqual(rec.result.names, ['API_KEY']);
    assert.ok(rec.logs.some((l) => l.msg === 'the key is ***'), JSON.stringify(rec.logs));
    const g = await srv.get(`/v1/executions/${rec.execution_id}`);
    assert.ok(!g.text.includes(VALUE), 'stored record redacted');
    const logs = await srv.get(`/v1/functions/${name}/logs`);
    assert.ok(logs.text.includes('***') && !logs.text.includes(VALUE), 'logs endpoint redacted');
    assert.ok(!srv.stderr.includes(VALUE), 'server log never shows the value');
  });

  test('the live log stream (?follow=1) shows the redacted line', async () => {
    const name = uniqueName('secf');
    await srv.deploy(name, 'export default async (e, ctx) => { console.log("streamed " + ctx.secrets.API_KEY); return 1; }');
    await srv.put(`/v1/functions/${name}/secrets/API_KEY`, { value: VALUE });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 15000);
    try {
      const res = await fetch(`${srv.url}/v1/functions/${name}/logs?follow=1`, { signal: ac.signal });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      await new Promise((r) => setTimeout(r, 200)); // the follower is registered
      await srv.invoke(name, {});
      let text = '';
      while (!text.includes('streamed')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      assert.match(text, /streamed \*\*\*/);
      assert.ok(!text.includes(VALUE));
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  });

  test('a thrown error carrying a secret is redacted', async () => {
    const name = uniqueName('sec');
    await srv.deploy(name, 'export default async (e, ctx) => { throw new Error("bad " + ctx.secrets.API_KEY); }');
    await srv.put(`/v1/functions/${name}/secrets/API_KEY`, { value: VALUE });
    const rec = await srv.invoke(name, {});
    assert.equal(rec.status, 'error');
    assert.ok(!JSON.stringify(rec).includes(VALUE), JSON.stringify(rec.error));
    assert.match(rec.error.message, /bad \*\*\*/);
  });

  test("function B does not see function A's secrets", async () => {
    const a = uniqueName('seca');
    const b = uniqueName('secb');
    await srv.deploy(a, 'export default async (e, ctx) => Object.keys(ctx.secrets)');
    await srv.deploy(b, 'export default async (e, ctx) => ({ keys: Object.keys(ctx.secrets), v: ctx.secrets.API_KEY ?? null })');
    await srv.put(`/v1/functions/${a}/secrets/API_KEY`, { value: VALUE });
    assert.deepEqual((await srv.invoke(a, {})).result, ['API_KEY']);
    // run B on every worker (warm contexts included)
    for (let i = 0; i < 4; i++) {
      const rec = await srv.invoke(b, {});
      assert.deepEqual(rec.result, { keys: [], v: null });
    }
  });

  test('r3e secrets set (value from stdin) / ls / rm / rotate-master', async () => {
    const name = uniqueName('seccli');
    await srv.deploy(name, 'export default async (e, ctx) => ctx.secrets.CLI_KEY ?? null');
    let r = await runCli(['secrets', 'set', name, 'CLI_KEY'], { server: srv.url, input: `${VALUE}\n` });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(VALUE));
    r = await runCli(['secrets', 'ls', name], { server: srv.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CLI_KEY\s+1/);
    // the value arrived without its trailing newline (and comes back redacted)
    const rec = await srv.invoke(name, {});
    assert.equal(rec.result, '***');
    r = await runCli(['secrets', 'rotate-master'], { server: srv.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no longer needed/);
    r = await runCli(['secrets', 'rm', name, 'CLI_KEY'], { server: srv.url });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await srv.invoke(name, {})).result, null);
    r = await runCli(['secrets', 'set', name, 'bad/key'], { server: srv.url, input: 'x' });
    assert.notEqual(r.code, 0);
  });

  test('worker processes never hold the master key in their environment', async () => {
    const pids = await srv.workerPids();
    assert.ok(pids.length >= 1);
    for (const p of pids) {
      const env = await readFile(`/proc/${p}/environ`, 'utf8').catch(() => '');
      assert.ok(!/R3E_MASTER_KEY/.test(env), `worker ${p} env: ${env.replace(/\0/g, ' ')}`);
    }
  });
});

describe('master key lifecycle', () => {
  const hex = () => randomBytes(32).toString('hex');

  test('restart with the same key works; a wrong key fails the start loudly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r3e-sec-'));
    const keyFile = join(dir, 'k1');
    await writeFile(keyFile, hex(), { mode: 0o600 });
    try {
      const srv = await startServer({ dataDir: join(dir, 'data'), env: { R3E_MASTER_KEY_FILE: keyFile } });
      const name = uniqueName('sec');
      await srv.deploy(name, 'export default async (e, ctx) => ctx.secrets.K.length');
      await srv.put(`/v1/functions/${name}/secrets/K`, { value: VALUE });
      await srv.restart();
      assert.equal((await srv.invoke(name, {})).result, VALUE.length);
      await srv.close();
      const r = await runCli(['server', '--dev', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0'],
        { env: { R3E_MASTER_KEY: hex() }, timeoutMs: 30000 });
      assert.notEqual(r.code, 0);
      assert.equal(typeof r.code, 'number', 'exited by itself');
      assert.match(r.stderr, /master key does not match/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('rotation re-wraps every data key; afterwards the old key is not needed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'r3e-sec-'));
    const k1 = join(dir, 'k1');
    const k2 = join(dir, 'k2');
    await writeFile(k1, hex(), { mode: 0o600 });
    await writeFile(k2, hex(), { mode: 0o600 });
    const data = join(dir, 'data');
    try {
      let srv = await startServer({ dataDir: data, env: { R3E_MASTER_KEY_FILE: k1 } });
      const name = uniqueName('sec');
      await srv.deploy(name, 'export default async (e, ctx) => ctx.secrets.K.length + ctx.secrets.L.length');
      await srv.put(`/v1/functions/${name}/secrets/K`, { value: VALUE });
      await srv.put(`/v1/functions/${name}/secrets/L`, { value: 'abcdef' });
      await srv.close();
      // new current key (version 2) plus the old one: the start completes the rotation
      srv = await startServer({ dataDir: data, env: {
        R3E_MASTER_KEY_FILE: k2, R3E_MASTER_KEY_VERSION: '2', R3E_MASTER_KEY_OLD_FILE: k1 } });
      assert.equal((await srv.invoke(name, {})).result, VALUE.length + 6);
      const rot = await srv.post('/v1/admin/rotate-master', {});
      assert.equal(rot.status, 200, rot.text);
      assert.equal(rot.body.rotating, false);
      assert.equal(rot.body.sealed, 2);
      await srv.close();
      // the old key is gone: only version 2
      srv = await startServer({ dataDir: data, env: { R3E_MASTER_KEY_FILE: k2, R3E_MASTER_KEY_VERSION: '2' } });
      assert.equal((await srv.invoke(name, {})).result, VALUE.length + 6);
      const l = await srv.get(`/v1/functions/${name}/secrets`);
      assert.equal(l.status, 200);
      await srv.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
