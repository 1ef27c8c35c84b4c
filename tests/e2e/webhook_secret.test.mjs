// Webhook HMAC secrets are sealed in the secret vault: the trigger record keeps only
// has_secret, signatures still verify (good -> 202, wrong or missing -> 401), the secret
// text appears in no API response and in no file of the data directory (RocksDB WAL and
// tables, scanned after the server stopped), survives a restart, and without a master key
// (a server started without --dev) a webhook secret is refused with 503.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startServer, uniqueName, assertError, waitFor } from './lib/server.mjs';

const SECRET = 'whsec-' + randomBytes(16).toString('hex');

function sign(body, secret = SECRET) {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

// Every regular file under dir (recursively).
async function filesUnder(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function filesContaining(dir, text) {
  const hits = [];
  for (const f of await filesUnder(dir)) {
    if ((await readFile(f)).includes(Buffer.from(text))) hits.push(f);
  }
  return hits;
}

describe('webhook secrets in the vault', () => {
  let srv;
  let trig;
  let fn;
  const responses = [];
  const call = async (method, path, body, opts) => {
    const r = await srv.request(method, path, body, opts);
    responses.push(`${method} ${path} -> ${r.status} ${r.text}`);
    return r;
  };

  before(async () => { srv = await startServer({ workers: 1 }); });
  after(async () => { await srv?.close(); });

  test('created with a secret: the answer says has_secret and never shows it', async () => {
    fn = uniqueName('hooksec');
    await srv.deploy(fn, 'export default async (e) => e.data');
    const r = await call('POST', '/v1/triggers', { function: fn, source: { type: 'webhook', secret: SECRET } });
    assert.equal(r.status, 201, r.text);
    trig = r.body;
    assert.equal(trig.source.has_secret, true);
    assert.equal(trig.source.secret, undefined);
    assert.equal(trig.webhook_url, `/hooks/${trig.id}`);
  });

  test('a valid signature is accepted, a wrong or missing one is 401', async () => {
    const body = JSON.stringify({ push: 1 });
    const ok = await call('POST', trig.webhook_url, body, { headers: { 'x-hub-signature-256': sign(body) } });
    assert.equal(ok.status, 202, ok.text);
    const wrong = await call('POST', trig.webhook_url, body, { headers: { 'x-hub-signature-256': sign(body, 'not-the-secret') } });
    assertError(wrong, 401, 'unauthenticated');
    const missing = await call('POST', trig.webhook_url, body);
    assertError(missing, 401, 'unauthenticated');
    const ev = await waitFor(async () => {
      const g = await call('GET', `/v1/events/${ok.body.event_id}`);
      return g.body.executions.length ? g.body : null;
    }, { timeoutMs: 15000, what: 'the webhook run' });
    assert.deepEqual(ev.event.data, { push: 1 });
  });

  test('GET, list, disable and enable never return the secret', async () => {
    for (const [m, p] of [['GET', `/v1/triggers/${trig.id}`], ['GET', '/v1/triggers'],
      ['GET', `/v1/triggers?function=${fn}`], ['POST', `/v1/triggers/${trig.id}/disable`],
      ['POST', `/v1/triggers/${trig.id}/enable`], ['GET', '/v1/audit'], ['GET', '/v1/events']]) {
      const r = await call(m, p);
      assert.equal(r.status, 200, `${m} ${p}: ${r.text}`);
    }
    const one = await srv.get(`/v1/triggers/${trig.id}`);
    assert.equal(one.body.source.has_secret, true);
    const listed = (await srv.get('/v1/triggers')).body.triggers.find((t) => t.id === trig.id);
    assert.equal(listed.source.has_secret, true);
    assert.equal(listed.source.secret, undefined);
    for (const text of responses) assert.ok(!text.includes(SECRET), `secret in: ${text.slice(0, 200)}`);
  });

  test('after a restart the sealed secret still verifies; the data directory never holds it', async () => {
    await srv.stop();
    assert.deepEqual(await filesContaining(srv.dataDir, SECRET), [], 'the secret text is in a data file');
    // the scan does see record contents: the trigger id is in the store's files
    assert.ok((await filesContaining(srv.dataDir, trig.id)).length > 0, 'the scan finds the trigger record');
    await srv.restart();
    const body = '{"after":"restart"}';
    const ok = await srv.post(trig.webhook_url, body, { headers: { 'x-hub-signature-256': sign(body) } });
    assert.equal(ok.status, 202, ok.text);
    assertError(await srv.post(trig.webhook_url, body, { headers: { 'x-hub-signature-256': sign(body, 'x') } }), 401, 'unauthenticated');
  });

  test('deleting the trigger deletes its webhook; a new trigger without a secret takes anything', async () => {
    assert.equal((await srv.del(`/v1/triggers/${trig.id}`)).status, 200);
    assertError(await srv.post(trig.webhook_url, '{}', { headers: { 'x-hub-signature-256': sign('{}') } }), 404, 'not_found');
    const r = await srv.post('/v1/triggers', { function: fn, source: { type: 'webhook' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.source.has_secret, undefined);
    assert.equal((await srv.post(r.body.webhook_url, '{}')).status, 202);
  });

  test('a bad secret is a 400', async () => {
    assertError(await srv.post('/v1/triggers', { function: fn, source: { type: 'webhook', secret: '' } }), 400, 'invalid_argument');
    assertError(await srv.post('/v1/triggers', { function: fn, source: { type: 'webhook', secret: 7 } }), 400, 'invalid_argument');
  });
});

// Outside --dev without a master key the vault is disabled: a webhook secret cannot be
// sealed, so it is refused (503) instead of being stored in plain text.
describe('without a master key', () => {
  let dir;
  let proc;
  let url;
  let key;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'r3e-e2e-novault-'));
    const portFile = join(dir, 'port');
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('R3E_MASTER_KEY')) delete env[k];
    proc = spawn(BIN, ['server', '--data', dir, '--listen', '127.0.0.1:0', '--port-file', portFile,
      '--workers', '1', '--admin-key-file', join(dir, 'admin.key')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const port = await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`server exited: ${stderr.slice(-2000)}`);
      return Number.parseInt((await readFile(portFile, 'utf8').catch(() => '')).trim(), 10) || null;
    }, { timeoutMs: 60000, what: 'the port file' });
    url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs: 60000, what: '/readyz' });
    key = (await readFile(join(dir, 'admin.key'), 'utf8')).trim();
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('creating a webhook with a secret is 503 and says why; without a secret it works', async () => {
    const h = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const name = uniqueName('novault');
    let r = await fetch(`${url}/v1/functions`, { method: 'POST', headers: h, body: JSON.stringify({ name, code: 'export default async () => 1' }) });
    assert.equal(r.status, 201, await r.text());
    r = await fetch(`${url}/v1/triggers`, { method: 'POST', headers: h, body: JSON.stringify({ function: name, source: { type: 'webhook', secret: SECRET } }) });
    const text = await r.text();
    assert.equal(r.status, 503, text);
    const body = JSON.parse(text);
    assert.equal(body.error.code, 'unavailable');
    assert.match(body.error.message, /vault.*master key/);
    assert.ok(!text.includes(SECRET));
    r = await fetch(`${url}/v1/triggers`, { headers: h });
    assert.deepEqual((await r.json()).triggers, [], 'nothing was stored');
    r = await fetch(`${url}/v1/triggers`, { method: 'POST', headers: h, body: JSON.stringify({ function: name, source: { type: 'webhook' } }) });
    assert.equal(r.status, 201, await r.text());
  });
});
