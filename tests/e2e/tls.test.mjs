// Transport: HTTPS with --tls-cert/--tls-key, client certificates with --tls-client-ca,
// and slow clients (slowloris) that must not starve normal requests. Certificates are a
// throwaway CA, server and client generated with the openssl CLI in a temp dir.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, httpsRequest, runCli } from './lib/server.mjs';

let dir;
const pem = {};

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA;
// plus a second, untrusted CA with its own client certificate.
async function makeCerts() {
  const ext = join(dir, 'san.ext');
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const cext = join(dir, 'client.ext');
  await writeFile(cext, 'extendedKeyUsage=clientAuth\n');
  for (const ca of ['ca', 'evil-ca']) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`);
  }
  const leaf = (name, ca, extfile) => {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
      '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', extfile);
  };
  leaf('server', 'ca', ext);
  leaf('client', 'ca', cext);
  leaf('evil-client', 'evil-ca', cext);
  for (const f of ['ca', 'server', 'client', 'evil-client']) {
    pem[f] = await readFile(join(dir, `${f}.pem`), 'utf8');
    if (f !== 'ca') pem[`${f}Key`] = await readFile(join(dir, `${f}.key`), 'utf8');
  }
}

const tlsArgs = () => ['--tls-cert', join(dir, 'server.pem'), '--tls-key', join(dir, 'server.key')];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'r3e-e2e-tls-'));
  await makeCerts();
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('HTTPS serves the API; plain HTTP to the TLS port gets no HTTP answer', async () => {
  const s = await startServer({ workers: 1, auth: true, args: tlsArgs(), tls: { ca: pem.ca } });
  try {
    const r = await httpsRequest(`${s.url}/v1/functions`, { ca: pem.ca, headers: { authorization: `Bearer ${s.adminKey}` } });
    assert.equal(r.status, 200, r.text);
    const anon = await httpsRequest(`${s.url}/v1/functions`, { ca: pem.ca });
    assert.equal(anon.status, 401);
    // an untrusted server certificate is refused by the client (the CA matters)
    await assert.rejects(httpsRequest(`${s.url}/healthz`, { ca: pem['evil-client'] }));
    let plainStatus;
    try {
      const p = await fetch(`http://127.0.0.1:${s.port}/healthz`, { signal: AbortSignal.timeout(5000) });
      plainStatus = p.status;
    } catch {
      plainStatus = 'failed';
    }
    assert.notEqual(plainStatus, 200, 'plain HTTP must not be served on the TLS port');
  } finally {
    await s.close();
  }
});

test('mTLS: no client certificate or one from another CA is refused; a signed one works', async () => {
  const s = await startServer({ workers: 1, args: [...tlsArgs(), '--tls-client-ca', join(dir, 'ca.pem')],
    tls: { ca: pem.ca, cert: pem.client, key: pem.clientKey } });
  try {
    const ok = await httpsRequest(`${s.url}/v1/functions`, { ca: pem.ca, cert: pem.client, key: pem.clientKey });
    assert.equal(ok.status, 200, ok.text);
    const refused = async (opts) => {
      try {
        const r = await httpsRequest(`${s.url}/v1/functions`, { ca: pem.ca, ...opts });
        return r.status === 403;
      } catch {
        return true; // handshake refused: also a refusal
      }
    };
    assert.ok(await refused({}), 'without a client certificate');
    // the CLI speaks https with --cacert and presents --cert/--key
    const cli = await runCli(['--cacert', join(dir, 'ca.pem'), '--cert', join(dir, 'client.pem'),
      '--key', join(dir, 'client.key'), 'ls'], { server: s.url });
    assert.equal(cli.code, 0, cli.stderr);
    const cliNoCert = await runCli(['--cacert', join(dir, 'ca.pem'), 'ls'], { server: s.url });
    assert.notEqual(cliNoCert.code, 0);
    const cliNoCa = await runCli(['--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key'), 'ls'], { server: s.url });
    assert.notEqual(cliNoCa.code, 0, 'an unknown server CA is refused');
    assert.ok(await refused({ cert: pem['evil-client'], key: pem['evil-clientKey'] }), 'with an untrusted one');
  } finally {
    await s.close();
  }
});

// MHD restarts a connection's idle timer on every byte it receives, so the timeout drops
// clients that pause longer than it between bytes; clients that drip faster are bounded
// by the per-IP connection limit (and the total limit) instead. Both are shown here: slow
// clients come from 127.0.0.2 (still loopback) and fill only their own per-IP quota.
test('slowloris: slow header senders are cut off (timeout, per-IP limit) and never starve others', async () => {
  const TIMEOUT_S = 1;
  const PER_IP = 20;
  const s = await startServer({ workers: 1, args: ['--connection-timeout', String(TIMEOUT_S),
    '--per-ip-connections', String(PER_IP)] });
  const socks = [];
  try {
    const closedAt = new Map();
    const start = Date.now();
    for (let i = 0; i < 2 * PER_IP; i++) {
      const c = net.connect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      c.on('error', () => {});
      c.on('close', () => closedAt.set(i, Date.now() - start));
      socks.push(c);
    }
    // about one header byte per second and a half each, never finishing the headers
    const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
    let pos = 0;
    const drip = setInterval(() => {
      for (const c of socks) if (!c.destroyed) c.write(line[pos % line.length]);
      pos++;
    }, 1500);
    try {
      // normal requests keep being answered quickly while the slow ones hang on
      for (let i = 0; i < 6; i++) {
        const t0 = Date.now();
        const r = await s.get('/healthz', { timeoutMs: 5000 });
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 1500, `normal request took ${Date.now() - t0} ms`);
        await sleep(300);
      }
      const deadline = Date.now() + 15000;
      while (closedAt.size < socks.length && Date.now() < deadline) await sleep(200);
    } finally {
      clearInterval(drip);
    }
    assert.equal(closedAt.size, socks.length, `only ${closedAt.size}/${socks.length} slow connections were dropped`);
    const slowest = Math.max(...closedAt.values());
    assert.ok(slowest < 12000, `the last slow connection lasted ${slowest} ms`);
    const r = await s.get('/healthz', { timeoutMs: 5000 });
    assert.equal(r.status, 200);
  } finally {
    for (const c of socks) c.destroy();
    await s.close();
  }
});
