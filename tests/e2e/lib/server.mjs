// End-to-end harness: starts the real `r3e server` binary (R3E_BIN) on 127.0.0.1:0 in a
// fresh data directory, waits until it is ready, and gives tests a small fetch-based
// client. Every wait is bounded so a broken server fails a test instead of hanging it.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import https from 'node:https';
import assert from 'node:assert/strict';

export const BIN = process.env.R3E_BIN;
if (!BIN) throw new Error('R3E_BIN must point at the r3e binary (ctest sets it)');

const START_TIMEOUT_MS = Number(process.env.R3E_E2E_START_TIMEOUT_MS ?? 60000);
const STOP_TIMEOUT_MS = 20000;
const REQUEST_TIMEOUT_MS = 60000;

// An error that ends a waitFor at once instead of being retried (e.g. the server died).
export class FatalError extends Error {}

// Polls fn until it returns a truthy value; throws with `what` after timeoutMs. Errors
// thrown by fn are retried (the last one is reported), except FatalError.
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof FatalError) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(intervalMs);
  }
}

let nameSeq = 0;
// A valid, unique function name per call (names are [a-z0-9][a-z0-9-]{0,62}).
export function uniqueName(prefix = 'fn') {
  nameSeq += 1;
  return `${prefix}-${process.pid}-${nameSeq}`;
}

export class Server {
  constructor({ dataDir, ownsDataDir, args, env, auth, tls }) {
    this.auth = auth; // started with --auth on: adminKey/token are read from the key file
    this.tls = tls; // {ca, cert?, key?} PEM texts: the server speaks HTTPS
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.args = args;
    this.env = env;
    this.stderr = '';
    this.exited = null; // {code, signal} once the process ended
  }

  get pid() {
    return this.proc?.pid;
  }

  get url() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  // The admin key file the server writes on its first start with --auth on.
  get adminKeyFile() {
    return join(this.dataDir, 'admin.key');
  }

  async _spawn() {
    const portFile = join(this.dataDir, `port-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const args = ['server', '--dev', '--data', this.dataDir, '--listen', '127.0.0.1:0',
      '--port-file', portFile, ...this.args];
    this.stderr = '';
    this.exited = null;
    this.proc = spawn(BIN, args, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => { this.stdout = (this.stdout ?? '') + d; });
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve(this.exited);
      });
      this.proc.on('error', (e) => {
        this.exited = { code: null, signal: null, error: e.message };
        resolve(this.exited);
      });
    });
    try {
      this.port = await waitFor(async () => {
        if (this.exited) throw new FatalError(`server exited early: ${JSON.stringify(this.exited)}`);
        const text = await readFile(portFile, 'utf8').catch(() => '');
        const port = Number.parseInt(text.trim(), 10);
        return port > 0 && port < 65536 ? port : null;
      }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 50, what: 'the port file' });
      await waitFor(async () => {
        if (this.exited) throw new FatalError(`server exited early: ${JSON.stringify(this.exited)}`);
        // Re-read: the first read may have raced the writer.
        const port = Number.parseInt((await readFile(portFile, 'utf8')).trim(), 10);
        if (port > 0) this.port = port;
        if (this.tls) return (await httpsRequest(`${this.url}/readyz`, { ...this.tls, timeoutMs: 2000 })).status === 200;
        const r = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        return r.status === 200;
      }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, what: '/readyz to answer 200' });
    } catch (e) {
      await this.kill();
      e.message += `\n--- server stderr (tail) ---\n${this.stderr.slice(-4000)}`;
      throw e;
    }
    if (this.auth && !this.adminKey) {
      this.adminKey = (await readFile(this.adminKeyFile, 'utf8')).trim();
      this.token = this.adminKey;
    }
  }

  // Raw fetch against the server with a bounded timeout.
  fetch(path, opts = {}) {
    const { timeoutMs = REQUEST_TIMEOUT_MS, ...rest } = opts;
    return fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs), ...rest });
  }

  // Sends a request and returns {status, headers, text, body}; body is the parsed JSON when
  // the response is JSON (else undefined). `body` objects are sent as JSON.
  // With auth, this.token (the admin key unless changed) is sent unless opts.token says
  // otherwise (a string: that credential; null: none); opts.namespace sets X-R3E-Namespace.
  async request(method, path, body, opts = {}) {
    const headers = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.authorization = `Bearer ${token}`;
    }
    if (opts.namespace) headers['x-r3e-namespace'] = opts.namespace;
    let payload = body;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const r = await this.fetch(path, { method, headers, body: payload, timeoutMs: opts.timeoutMs });
    const text = await r.text();
    let parsed;
    if ((r.headers.get('content-type') ?? '').includes('json') && text.length > 0) {
      try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    }
    return { status: r.status, headers: r.headers, text, body: parsed };
  }

  get(path, opts) { return this.request('GET', path, undefined, opts); }
  post(path, body, opts) { return this.request('POST', path, body, opts); }
  put(path, body, opts) { return this.request('PUT', path, body, opts); }
  del(path, opts) { return this.request('DELETE', path, undefined, opts); }

  // Deploys code as a new function; asserts 201 and returns the version object.
  async deploy(name, code, spec = {}) {
    const r = await this.post('/v1/functions', { name, code, ...spec });
    assert.equal(r.status, 201, `deploy ${name}: ${r.text}`);
    return r.body;
  }

  // Invokes and asserts 200; returns the execution record.
  async invoke(name, event = {}, opts = {}) {
    const r = await this.post(`/v1/functions/${name}/invoke`, JSON.stringify(event), opts);
    assert.equal(r.status, 200, `invoke ${name}: ${r.text}`);
    return r.body;
  }

  // Parsed Prometheus samples: [{name, labels, value}].
  async metrics() {
    const r = await this.get('/metrics');
    assert.equal(r.status, 200, `/metrics: ${r.text}`);
    return parsePrometheus(r.text);
  }

  // Server stderr as parsed JSON log lines (lines that are not JSON are skipped).
  logLines() {
    const out = [];
    for (const line of this.stderr.split('\n')) {
      if (!line.trim()) continue;
      try { out.push(JSON.parse(line)); } catch { /* not a JSON line */ }
    }
    return out;
  }

  // pids of live worker processes: children of the server running `r3e __worker`.
  async workerPids() {
    const pids = new Set();
    const tasks = await readdir(`/proc/${this.pid}/task`).catch(() => []);
    for (const t of tasks) {
      const text = await readFile(`/proc/${this.pid}/task/${t}/children`, 'utf8').catch(() => '');
      for (const p of text.split(/\s+/).filter(Boolean)) pids.add(Number(p));
    }
    const workers = [];
    for (const p of pids) {
      const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
      if (cmd.split('\0').includes('__worker')) workers.push(p);
    }
    return workers.sort((a, b) => a - b);
  }

  // Sends signal and waits (bounded) for the exit; returns {code, signal}.
  async stop(signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS) {
    if (this.exited) return this.exited;
    this.proc.kill(signal);
    // The timer is cleared so that it cannot keep the test process alive after the exit.
    let timer;
    const res = await Promise.race([this.exitPromise,
      new Promise((r) => { timer = setTimeout(() => r(null), timeoutMs); })]);
    clearTimeout(timer);
    if (res) return res;
    this.proc.kill('SIGKILL');
    await this.exitPromise;
    throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}; killed\n` +
      `--- stderr (tail) ---\n${this.stderr.slice(-4000)}`);
  }

  async kill() {
    if (this.exited || !this.proc) return this.exited;
    this.proc.kill('SIGKILL');
    return this.exitPromise;
  }

  // Starts the binary again on the same data directory (after stop or kill).
  async restart() {
    if (!this.exited) await this.stop();
    await this._spawn();
    return this;
  }

  // Stops the server (SIGTERM, asserting exit code 0 unless told otherwise), then removes
  // the data directory. Safe to call twice.
  async close({ expectCleanExit = true } = {}) {
    let res;
    try {
      if (!this.exited) {
        res = await this.stop('SIGTERM');
        if (expectCleanExit) {
          assert.deepEqual({ code: res.code, signal: res.signal }, { code: 0, signal: null },
            `server exit after SIGTERM\n--- stderr (tail) ---\n${this.stderr.slice(-4000)}`);
        }
      }
    } finally {
      await this.kill();
      if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
    }
    return res;
  }
}

// Starts a server. Options: workers (default 2), egressAllow, dataDir (reuse), args, env,
// auth (--auth on; the admin key becomes s.adminKey and the default token), tls
// ({ca, cert?, key?}: how the harness reaches an HTTPS server; pass the server's --tls-*
// flags in args).
export async function startServer({ workers = 2, egressAllow, dataDir, args = [], env = {}, auth = false, tls } = {}) {
  const owns = !dataDir;
  const dir = dataDir ?? await mkdtemp(join(tmpdir(), 'r3e-e2e-'));
  const extra = ['--workers', String(workers), ...args];
  if (egressAllow) extra.push('--egress-allow', egressAllow);
  if (auth) extra.push('--auth', 'on', '--admin-key-file', join(dir, 'admin.key'));
  const s = new Server({ dataDir: dir, ownsDataDir: owns, args: extra, env, auth, tls });
  try {
    await s._spawn();
  } catch (e) {
    if (owns) await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return s;
}

// Prometheus text format 0.0.4 → [{name, labels, value}] (comments skipped).
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[3]) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

// Sum of the samples named `name` whose labels include `match`.
export function metricSum(samples, name, match = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

// Asserts the API's error shape: the status and {"error":{"code","message"}}.
export function assertError(res, status, code) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.ok(res.body && typeof res.body.error === 'object', `error shape: ${res.text}`);
  if (code) assert.equal(res.body.error.code, code, `error code: ${res.text}`);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'error message is not empty');
}

// A raw HTTP/1.1 upload with "Expect: 100-continue" (what curl sends for large bodies):
// the headers go first, and the body only after the server's "100 Continue", so a server
// that rejects by Content-Length (413) answers before any body byte is sent. Without it, a
// server that closes with unread input makes the kernel send a reset that can discard its
// answer at the client. Returns {status, headers, text, body}.
export function rawRequest(url, { method = 'POST', headers = {}, body = '', timeoutMs = 30000 } = {}) {
  const u = new URL(url);
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    let bodySent = false;
    const sock = net.connect(Number(u.port), u.hostname);
    const fail = (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`raw request timed out after ${timeoutMs} ms`)), timeoutMs);
    const sendBody = () => {
      if (bodySent) return;
      bodySent = true;
      sock.write(payload);
    };
    // Without a 100 within a second, send the body anyway (as curl does).
    const continueTimer = setTimeout(sendBody, 1000);
    // Parses one response from buf; returns it, or null when more bytes are needed.
    const parse = () => {
      const sep = buf.indexOf('\r\n\r\n');
      if (sep < 0) return null;
      const [statusLine, ...hl] = buf.subarray(0, sep).toString('latin1').split('\r\n');
      const h = new Headers();
      for (const line of hl) {
        const i = line.indexOf(':');
        if (i > 0) h.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      const status = Number(statusLine.split(' ')[1]);
      const len = Number(h.get('content-length') ?? 0);
      if (status !== 100 && buf.length < sep + 4 + len) return null;
      const text = buf.subarray(sep + 4, sep + 4 + len).toString('utf8');
      buf = buf.subarray(sep + 4 + len);
      return { status, headers: h, text };
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (let r = parse(); r; r = parse()) {
        if (r.status === 100) {
          clearTimeout(continueTimer);
          sendBody();
          continue;
        }
        settled = true;
        clearTimeout(timer);
        clearTimeout(continueTimer);
        sock.destroy();
        let parsed;
        try { parsed = JSON.parse(r.text); } catch { parsed = undefined; }
        resolve({ ...r, body: parsed, bodySent });
        return;
      }
    });
    sock.on('error', (e) => fail(e));
    sock.on('close', () => fail(new Error(`connection closed before a response (${buf.length} bytes)`)));
    sock.write([`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Connection: close',
      `Content-Length: ${payload.length}`, 'Expect: 100-continue',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
  });
}

// Runs the CLI (R3E_BIN) with args; resolves {code, stdout, stderr}. Bounded.
export function runCli(args, { server, env = {}, input, timeoutMs = 60000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(BIN, args, {
      env: { ...process.env, ...(server ? { R3E_SERVER: server } : {}), ...env },
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// One HTTPS request with node:https (fetch cannot take a private CA or a client
// certificate). Options: ca, cert, key (PEM), method, headers, body, timeoutMs. Resolves
// {status, headers, text, body}; rejects on TLS or socket errors.
export function httpsRequest(url, { ca, cert, key, method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, cert, key, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed;
        try { parsed = JSON.parse(text); } catch { parsed = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`https request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
