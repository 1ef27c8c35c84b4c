// Authentication and authorization on a server started with --auth on: 401 vs 403, the
// four roles, API key expiry and revocation, JWT exchange and rejection (alg none,
// expired, wrong secret), per-function trigger auth, rate limits, the audit log, and the
// rule that only --dev on loopback may run without authentication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, uniqueName, assertError, waitFor, BIN, runCli } from './lib/server.mjs';

const HS_SECRET = 'e2e-test-secret-of-at-least-32-bytes-long!!';
const EXT_SECRET = 'an-external-issuers-shared-key-32-bytes+';
let srv;
let secretDir;

const b64url = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

// An HS256 token signed with `secret` (the server trusts HS_SECRET via --jwt-secret-file).
function hsToken(claims, secret = HS_SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iss: 'r3e', aud: 'r3e-api', sub: 'e2e-user', role: 'developer', ns: 'default',
    iat: now, exp: now + 300, ...claims };
  const signing = `${b64url(header)}.${b64url(body)}`;
  const sig = createHmac('sha256', secret).update(signing).digest('base64url');
  return `${signing}.${sig}`;
}

async function createKey(role, namespace = 'default', extra = {}) {
  const r = await srv.post('/v1/keys', { role, namespace, name: `${role}-key`, ...extra });
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.key, /^r3e_/);
  return r.body;
}

before(async () => {
  secretDir = await mkdtemp(join(tmpdir(), 'r3e-e2e-jwt-'));
  await writeFile(join(secretDir, 'hs.secret'), HS_SECRET, { mode: 0o600 });
  await writeFile(join(secretDir, 'jwks.json'), JSON.stringify({ keys: [
    { kty: 'oct', kid: 'ext-1', alg: 'HS256', k: Buffer.from(EXT_SECRET).toString('base64url') }] }));
  srv = await startServer({ workers: 1, auth: true,
    args: ['--jwt-secret-file', join(secretDir, 'hs.secret'), '--jwks-file', join(secretDir, 'jwks.json'),
      '--jwks-issuer', 'https://idp.example']});
});

after(async () => {
  await srv?.close();
  if (secretDir) await rm(secretDir, { recursive: true, force: true });
});

test('the first start prints the admin key once and writes the key file', async () => {
  assert.match(srv.adminKey, /^r3e_[a-z2-7]{12}_[a-z2-7]{52}$/);
  assert.ok(srv.stdout.includes(srv.adminKey), 'admin key on stdout');
  await srv.restart();
  assert.equal((srv.stdout.match(/Admin API key/g) ?? []).length, 1, 'not printed again');
  assert.equal((await srv.get('/v1/functions')).status, 200, 'admin key still valid');
});

test('no credentials and bad credentials are 401 with WWW-Authenticate', async () => {
  const none = await srv.get('/v1/functions', { token: null });
  assertError(none, 401, 'unauthenticated');
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  for (const bad of ['nonsense', `r3e_aaaaaaaaaaaa_${'a'.repeat(52)}`, 'a.b.c']) {
    const r = await srv.get('/v1/functions', { token: bad });
    assertError(r, 401, 'unauthenticated');
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
  const basic = await srv.get('/v1/functions', { headers: { authorization: 'Basic YTpi' } });
  assertError(basic, 401, 'unauthenticated');
  // health stays public
  assert.equal((await srv.get('/healthz', { token: null })).status, 200);
});

test('viewer reads but cannot deploy; invoker invokes but cannot deploy; developer deploys', async () => {
  const name = uniqueName('roles');
  await srv.deploy(name, 'export default async (e) => ({ hi: e.who ?? "x" })');
  const viewer = await createKey('viewer');
  const invoker = await createKey('invoker');
  const dev = await createKey('developer');
  const code = 'export default async () => 1';

  assert.equal((await srv.get('/v1/functions', { token: viewer.key })).status, 200);
  assert.equal((await srv.get(`/v1/functions/${name}`, { token: viewer.key })).status, 200);
  assertError(await srv.post('/v1/functions', { name: uniqueName('v'), code }, { token: viewer.key }), 403, 'permission_denied');
  assertError(await srv.post(`/v1/functions/${name}/invoke`, '{}', { token: viewer.key }), 403, 'permission_denied');

  const inv = await srv.post(`/v1/functions/${name}/invoke`, '{"who":"inv"}', { token: invoker.key });
  assert.equal(inv.status, 200, inv.text);
  assert.deepEqual(inv.body.result, { hi: 'inv' });
  assertError(await srv.post('/v1/functions', { name: uniqueName('i'), code }, { token: invoker.key }), 403, 'permission_denied');
  assertError(await srv.del(`/v1/functions/${name}`, { token: invoker.key }), 403, 'permission_denied');

  const d = await srv.post('/v1/functions', { name: uniqueName('d'), code }, { token: dev.key });
  assert.equal(d.status, 201, d.text);
  // keys and audit are admin business
  assertError(await srv.post('/v1/keys', { role: 'viewer' }, { token: dev.key }), 403, 'permission_denied');
  assertError(await srv.get('/v1/audit', { token: dev.key }), 403, 'permission_denied');
  assertError(await srv.get('/metrics', { token: dev.key }), 403, 'permission_denied');
});

test('an expired key and a revoked key are 401', async () => {
  const short = await createKey('viewer', 'default', { expires_in: 1 });
  assert.equal((await srv.get('/v1/functions', { token: short.key })).status, 200);
  await sleep(1300);
  assertError(await srv.get('/v1/functions', { token: short.key }), 401, 'unauthenticated');

  const k = await createKey('viewer');
  assert.equal((await srv.get('/v1/functions', { token: k.key })).status, 200);
  const rv = await srv.del(`/v1/keys/${k.id}`);
  assert.equal(rv.status, 200, rv.text);
  assert.equal(rv.body.revoked, true);
  assertError(await srv.get('/v1/functions', { token: k.key }), 401, 'unauthenticated');
  const list = await srv.get('/v1/keys');
  assert.equal(list.status, 200);
  const listed = list.body.keys.find((x) => x.id === k.id);
  assert.equal(listed.revoked, true);
  assert.ok(!('key' in listed) && !list.text.includes(k.key), 'keys are never listed in full');
});

test('an API key is exchanged for a JWT that works but cannot renew itself', async () => {
  const dev = await createKey('developer');
  const t = await srv.post('/v1/auth/token', undefined, { token: dev.key });
  assert.equal(t.status, 200, t.text);
  assert.equal(t.body.token_type, 'Bearer');
  const [h] = t.body.token.split('.');
  assert.equal(JSON.parse(Buffer.from(h, 'base64url')).alg, 'ES256');
  assert.equal((await srv.get('/v1/functions', { token: t.body.token })).status, 200);
  assertError(await srv.post('/v1/keys', { role: 'viewer' }, { token: t.body.token }), 403, 'permission_denied');
  assertError(await srv.post('/v1/auth/token', undefined, { token: t.body.token }), 403, 'permission_denied');
  assertError(await srv.post('/v1/auth/token', undefined, { token: null }), 401, 'unauthenticated');
  // revoking the key recalls its tokens at once
  assert.equal((await srv.del(`/v1/keys/${dev.id}`)).status, 200);
  assertError(await srv.get('/v1/functions', { token: t.body.token }), 401, 'unauthenticated');
});

test('JWTs: configured HS256 accepted; alg none, wrong secret, expired, wrong audience refused', async () => {
  assert.equal((await srv.get('/v1/functions', { token: hsToken({}) })).status, 200);
  const now = Math.floor(Date.now() / 1000);
  const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: 'r3e', aud: 'r3e-api', sub: 'x', role: 'admin', ns: '*', iat: now, exp: now + 300 })}.`;
  const cases = {
    none,
    noneSigned: hsToken({}, HS_SECRET, { alg: 'none' }),
    wrongSecret: hsToken({}, 'another-secret-that-is-32-bytes-or-more!!'),
    expired: hsToken({ iat: now - 4000, exp: now - 3600 }),
    wrongAudience: hsToken({ aud: 'someone-else' }),
    wrongIssuer: hsToken({ iss: 'evil' }),
  };
  for (const [what, tok] of Object.entries(cases)) {
    const r = await srv.get('/v1/functions', { token: tok });
    assert.equal(r.status, 401, `${what}: ${r.text}`);
  }
});

test('HTTP trigger auth: public, key and jwt per function', async () => {
  const pub = uniqueName('tpub');
  const key = uniqueName('tkey');
  const jwt = uniqueName('tjwt');
  const code = 'export default async () => ({ status: 200, body: "ok" })';
  await srv.deploy(pub, code);
  const v = await srv.deploy(key, code, { auth: 'key' });
  assert.equal(v.auth, 'key');
  await srv.deploy(jwt, code, { auth: 'jwt' });
  assertError(await srv.post('/v1/functions', { name: uniqueName('bad'), code, auth: 'maybe' }), 400, 'invalid_argument');

  const invoker = await createKey('invoker');
  const viewer = await createKey('viewer');
  const tok = (await srv.post('/v1/auth/token', undefined, { token: invoker.key })).body.token;

  assert.equal((await srv.get(`/fn/${pub}/`, { token: null })).status, 200);
  const kNone = await srv.get(`/fn/${key}/`, { token: null });
  assertError(kNone, 401, 'unauthenticated');
  assert.match(kNone.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal((await srv.get(`/fn/${key}/`, { token: invoker.key })).status, 200);
  assertError(await srv.get(`/fn/${key}/`, { token: viewer.key }), 403, 'permission_denied');
  assertError(await srv.get(`/fn/${key}/`, { token: tok }), 401, 'unauthenticated');

  assertError(await srv.get(`/fn/${jwt}/`, { token: null }), 401, 'unauthenticated');
  assertError(await srv.get(`/fn/${jwt}/`, { token: invoker.key }), 401, 'unauthenticated');
  assert.equal((await srv.get(`/fn/${jwt}/`, { token: tok })).status, 200);
});

test('the audit log lists writes and auth failures, for admins only', async () => {
  const since = Date.now() - 1;
  const name = uniqueName('aud');
  await srv.deploy(name, 'export default async () => 1');
  await srv.get('/v1/functions', { token: 'garbage' });
  const viewer = await createKey('viewer');
  await srv.del(`/v1/functions/${name}`, { token: viewer.key });
  const r = await srv.get(`/v1/audit?since=${since}&limit=1000`);
  assert.equal(r.status, 200, r.text);
  const e = r.body.entries;
  const deploy = e.find((x) => x.action === 'POST /v1/functions' && x.target === name);
  assert.ok(deploy, `deploy audited: ${r.text}`);
  assert.equal(deploy.result, 'ok');
  assert.equal(deploy.status, 201);
  assert.match(deploy.source, /^127\.0\.0\.1:\d+$/);
  assert.ok(deploy.who && deploy.who !== 'anonymous');
  assert.ok(e.some((x) => x.result === 'unauthenticated' && x.status === 401 && x.who === 'anonymous'));
  const denied = e.find((x) => x.result === 'denied' && x.action === `DELETE /v1/functions/${name}`);
  assert.ok(denied, 'denied delete audited');
  assert.equal(denied.who, viewer.id);
  assert.ok(e.some((x) => x.action === 'POST /v1/keys' && x.target === viewer.id));
});

test('namespace admins manage only their namespace keys', async () => {
  const nsAdmin = await createKey('admin', 'team-a');
  const r = await srv.post('/v1/keys', { role: 'developer', namespace: 'team-a' }, { token: nsAdmin.key });
  assert.equal(r.status, 201, r.text);
  assertError(await srv.post('/v1/keys', { role: 'developer', namespace: 'team-b' }, { token: nsAdmin.key }), 403, 'permission_denied');
  assertError(await srv.post('/v1/keys', { role: 'admin', namespace: '*' }, { token: nsAdmin.key }), 403, 'permission_denied');
  const other = await createKey('viewer', 'team-b');
  assertError(await srv.del(`/v1/keys/${other.id}`, { token: nsAdmin.key }), 404, 'not_found');
  const list = await srv.get('/v1/keys', { token: nsAdmin.key });
  assert.equal(list.status, 200);
  assert.ok(list.body.keys.length >= 2 && list.body.keys.every((k) => k.namespace === 'team-a'));
  assertError(await srv.get('/v1/audit', { token: nsAdmin.key }), 403, 'permission_denied');
  // server-wide operations are for global admins only
  assertError(await srv.post('/v1/admin/rotate-master', undefined, { token: nsAdmin.key }), 403, 'permission_denied');
  assertError(await srv.get('/metrics', { token: nsAdmin.key }), 403, 'permission_denied');
});

test('rate limits per key answer 429 with Retry-After', async () => {
  const s = await startServer({ workers: 1, auth: true, args: ['--rate-limit-key', '1:3'] });
  try {
    const statuses = [];
    let limited;
    for (let i = 0; i < 8; i++) {
      const r = await s.get('/v1/functions');
      statuses.push(r.status);
      if (r.status === 429) { limited = r; break; }
    }
    assert.ok(limited, `no 429 in ${statuses}`);
    assertError(limited, 429, 'too_many_requests');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // another key has its own bucket (the namespace bucket is generous)
    const r2 = await s.get('/v1/functions', { token: null });
    assert.equal(r2.status, 401);
  } finally {
    await s.close();
  }
});

test('--dev on loopback without --auth runs open and warns in the log', async () => {
  const s = await startServer({ workers: 1 });
  try {
    assert.equal((await s.get('/v1/functions')).status, 200);
    const warn = s.logLines().find((l) => /authentication is OFF/.test(l.msg ?? ''));
    assert.ok(warn, 'warning logged');
    assert.equal(warn.level, 'warn');
  } finally {
    await s.close();
  }
});

test('auth off is refused off loopback or without --dev; non-dev starts require auth', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'r3e-e2e-noauth-'));
  try {
    const run = (args) => new Promise((resolve) => {
      const p = spawn(BIN, ['server', '--data', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      const t = setTimeout(() => p.kill('SIGKILL'), 20000);
      p.on('exit', (code) => { clearTimeout(t); resolve({ code, err }); });
    });
    const a = await run(['--dev', '--listen', '0.0.0.0:0', '--auth', 'off']);
    assert.notEqual(a.code, 0);
    assert.match(a.err, /--auth off is allowed only with --dev on a loopback address/);
    const b = await run(['--listen', '127.0.0.1:0', '--auth', 'off']);
    assert.notEqual(b.code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // a non-dev start on loopback has auth on by default
  const dir2 = await mkdtemp(join(tmpdir(), 'r3e-e2e-nondev-'));
  const p = spawn(BIN, ['server', '--data', dir2, '--listen', '127.0.0.1:0', '--workers', '1',
    '--port-file', join(dir2, 'port'), '--admin-key-file', join(dir2, 'admin')], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const { readFile } = await import('node:fs/promises');
    const port = await waitFor(async () => Number((await readFile(join(dir2, 'port'), 'utf8')).trim()), { timeoutMs: 30000, what: 'port file' });
    const r = await fetch(`http://127.0.0.1:${port}/v1/functions`);
    assert.equal(r.status, 401);
    const key = (await readFile(join(dir2, 'admin'), 'utf8')).trim();
    const ok = await fetch(`http://127.0.0.1:${port}/v1/functions`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(ok.status, 200);
  } finally {
    p.kill('SIGKILL');
    await rm(dir2, { recursive: true, force: true });
  }
});

test('CLI: --token / R3E_TOKEN, --namespace, keys create/ls/revoke, token', async () => {
  const noTok = await runCli(['ls'], { server: srv.url, env: { R3E_TOKEN: '' } });
  assert.notEqual(noTok.code, 0);
  assert.match(noTok.stderr, /unauthenticated/);
  const created = await runCli(['--token', srv.adminKey, 'keys', 'create', '--role', 'developer',
    '--namespace', 'cli-ns', '--expires', '30d', '--name', 'ci'], { server: srv.url });
  assert.equal(created.code, 0, created.stderr);
  const key = created.stdout.match(/key:\s+(r3e_\S+)/)[1];
  const id = created.stdout.match(/id:\s+(\S+)/)[1];
  assert.match(created.stdout, /namespace: cli-ns/);
  const ls = await runCli(['keys', 'ls'], { server: srv.url, env: { R3E_TOKEN: srv.adminKey } });
  assert.equal(ls.code, 0, ls.stderr);
  assert.ok(ls.stdout.includes(id) && !ls.stdout.includes(key));
  // the developer key deploys into its own namespace, and cannot name another one
  const { writeFile: wf } = await import('node:fs/promises');
  const file = join(secretDir, 'fn.js');
  await wf(file, 'export default async () => "from cli-ns"');
  const dep = await runCli(['deploy', 'clifn', file], { server: srv.url, env: { R3E_TOKEN: key } });
  assert.equal(dep.code, 0, dep.stderr);
  const inv = await runCli(['--namespace', 'cli-ns', 'invoke', 'clifn'], { server: srv.url, env: { R3E_TOKEN: key } });
  assert.equal(inv.code, 0, inv.stderr);
  assert.match(inv.stdout, /from cli-ns/);
  const other = await runCli(['--namespace', 'default', 'ls'], { server: srv.url, env: { R3E_TOKEN: key } });
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /permission_denied/);
  const tok = await runCli(['token'], { server: srv.url, env: { R3E_TOKEN: key } });
  assert.equal(tok.code, 0, tok.stderr);
  const jwt = tok.stdout.trim();
  assert.equal(jwt.split('.').length, 3);
  const viaJwt = await runCli(['ls', '--token', jwt], { server: srv.url });
  assert.equal(viaJwt.code, 0, viaJwt.stderr);
  assert.match(viaJwt.stdout, /clifn/);
  const rv = await runCli(['keys', 'revoke', id], { server: srv.url, env: { R3E_TOKEN: srv.adminKey } });
  assert.equal(rv.code, 0, rv.stderr);
  const after = await runCli(['ls'], { server: srv.url, env: { R3E_TOKEN: key } });
  assert.notEqual(after.code, 0);
});

test('`r3e server init` creates the admin key once, and the server then requires it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'r3e-e2e-init-'));
  try {
    const { runCli: run } = await import('./lib/server.mjs');
    const first = await run(['server', 'init', '--data', join(dir, 'data'), '--admin-key-file', join(dir, 'admin.key')]);
    assert.equal(first.code, 0, first.stderr);
    const key = first.stdout.match(/(r3e_\S+)/)[1];
    const { readFile, stat } = await import('node:fs/promises');
    assert.equal((await readFile(join(dir, 'admin.key'), 'utf8')).trim(), key);
    assert.equal((await stat(join(dir, 'admin.key'))).mode & 0o777, 0o600);
    const again = await run(['server', 'init', '--data', join(dir, 'data')]);
    assert.equal(again.code, 0);
    assert.ok(!/r3e_/.test(again.stdout), 'never printed twice');
    const s = await startServer({ workers: 1, dataDir: join(dir, 'data'), args: ['--auth', 'on'] });
    try {
      assert.ok(!/Admin API key/.test(s.stdout ?? ''), 'the server does not make another');
      assert.equal((await s.get('/v1/functions')).status, 401);
      assert.equal((await s.get('/v1/functions', { token: key })).status, 200);
    } finally {
      await s.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tokens of an external issuer are trusted through the JWKS file, by kid and issuer', async () => {
  const hdr = { alg: 'HS256', typ: 'JWT', kid: 'ext-1' };
  const good = hsToken({ iss: 'https://idp.example', role: 'viewer' }, EXT_SECRET, hdr);
  assert.equal((await srv.get('/v1/functions', { token: good })).status, 200);
  // a viewer from the external issuer still cannot write
  assertError(await srv.post('/v1/functions', { name: uniqueName('x'), code: 'export default 1' }, { token: good }), 403, 'permission_denied');
  // the JWKS key with our own issuer, an unknown kid, or our key with their issuer: 401
  for (const bad of [hsToken({ role: 'viewer' }, EXT_SECRET, hdr),
    hsToken({ iss: 'https://idp.example' }, EXT_SECRET, { ...hdr, kid: 'nope' }),
    hsToken({ iss: 'https://idp.example' }, HS_SECRET)]) {
    assert.equal((await srv.get('/v1/functions', { token: bad })).status, 401);
  }
});
