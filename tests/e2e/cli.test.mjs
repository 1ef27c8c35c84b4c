// The CLI against a running server, as a user would drive it: deploy a file, invoke it,
// list, describe, read logs and executions, roll back, delete; --json for scripts; clear
// failures.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startServer, uniqueName, runCli, waitFor, BIN } from './lib/server.mjs';

let srv, dir;
const cli = (args, opts = {}) => runCli(args, { server: srv.url, ...opts });

before(async () => {
  srv = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'r3e-cli-'));
});
after(async () => {
  await srv?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function file(name, text) {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

describe('round trip', () => {
  test('deploy, invoke, ls, get, logs, exec, rollback, rm', async () => {
    const name = uniqueName('cli');
    const v1 = await file('v1.js', 'export default async (e, ctx) => { console.log("v1 got", e.who); return { v: 1, who: e.who, g: ctx.env.G }; };\n');
    const v2 = await file('v2.js', 'module.exports = async (e) => ({ v: 2 });\n');

    let r = await cli(['deploy', name, v1, '--timeout', '3000', '--memory', '64', '--env', 'G=hello', '--isolation', 'fresh']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`deployed ${name} version 1`));

    r = await cli(['invoke', name, '--data', '{"who":"ada"}']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /status:\s+ok/);
    assert.match(r.stdout, /v1 got ada/, 'logs are shown');
    assert.match(r.stdout, /"who": "ada"/, 'the result is shown');
    assert.match(r.stdout, /"g": "hello"/, '--env reached ctx.env');
    const execId = r.stdout.match(/execution:\s+(\S+)/)[1];

    // --data @file and the raw JSON mode.
    const ev = await file('event.json', '{"who":"grace"}');
    r = await cli(['--json', 'invoke', name, '--data', `@${ev}`]);
    assert.equal(r.code, 0, r.stderr);
    const rec = JSON.parse(r.stdout);
    assert.equal(rec.status, 'ok');
    assert.deepEqual(rec.result, { v: 1, who: 'grace', g: 'hello' });

    r = await cli(['deploy', name, v2]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /version 2/);

    r = await cli(['ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NAME\s+ACTIVE\s+LATEST/);
    assert.match(r.stdout, new RegExp(`${name}\\s+2\\s+2`));

    r = await cli(['--json', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).functions.some((f) => f.name === name));

    r = await cli(['get', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /active_version:\s+2/);
    assert.match(r.stdout, /latest_version:\s+2/);
    assert.match(r.stdout, /^\s+1\s+[0-9a-f]{12}\s+3000ms\s+64MB\s+fresh/m, r.stdout);
    assert.match(r.stdout, /^\s+2\s+\*\s+[0-9a-f]{12}/m, 'version 2 is marked active');

    r = await cli(['rollback', name, '1']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['--json', 'invoke', name, '--data', '{"who":"x"}']);
    assert.equal(JSON.parse(r.stdout).result.v, 1, 'rollback took effect');
    r = await cli(['--json', 'get', name]);
    assert.equal(JSON.parse(r.stdout).active_version, 1);

    r = await waitFor(async () => {
      const x = await cli(['logs', name]);
      return x.code === 0 && x.stdout.includes('v1 got ada') ? x : null;
    }, { timeoutMs: 10000, what: 'logs to show the invocation' });
    assert.match(r.stdout, new RegExp(`(log|info)\\s+${execId} v1 got ada`));
    r = await cli(['--json', 'logs', name, '--limit', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, `--limit 1: ${r.stdout}`);
    r = await cli(['--json', 'logs', name]);
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.execution_id === execId && l.msg === 'v1 got ada'));

    r = await cli(['exec', execId]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`execution:\\s+${execId}`));
    assert.match(r.stdout, /status:\s+ok/);
    r = await cli(['--json', 'exec', execId]);
    assert.equal(JSON.parse(r.stdout).execution_id, execId);

    r = await cli(['rm', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`deleted ${name}`));
    r = await cli(['get', name]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: not_found: /m);
  });

  test('logs -f prints a line from a new invocation as it arrives', async () => {
    const name = uniqueName('clif');
    await srv.deploy(name, 'export default (e) => { console.log("followed", e.m); return 1; }');
    const child = spawn(BIN, ['logs', name, '-f'], { env: { ...process.env, R3E_SERVER: srv.url } });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
    try {
      const markers = [];
      await waitFor(async () => {
        const m = randomUUID();
        markers.push(m);
        await srv.invoke(name, { m });
        return waitFor(() => markers.some((x) => out.includes(`followed ${x}`)),
          { timeoutMs: 700, what: 'line' }).catch(() => false);
      }, { timeoutMs: 15000, intervalMs: 10, what: `a followed line in: ${out}` });
      const ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 50))]);
      assert.equal(ex, null, 'still following');
    } finally {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      child.kill('SIGKILL');
    }
  });
});

describe('triggers and dead letters', () => {
  test('triggers ls is a table; a dead-lettered run shows in dlq ls, replays and is removed', async () => {
    const name = uniqueName('clidlq');
    await srv.deploy(name, 'export default () => { throw new Error("always broken"); }');
    const src = uniqueName('clidlqsrc');
    let r = await cli(['triggers', 'create', name, '--custom', '--filter', JSON.stringify({ source: [src] }), '--max-attempts', '1']);
    assert.equal(r.code, 0, r.stderr);
    const tid = r.stdout.match(/^created trigger (\S+)$/m)[1];
    assert.match(r.stdout, /^source:\s+custom$/m);
    r = await cli(['triggers', 'ls']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${tid}\\s+${name}\\s+yes\\s+custom$`, 'm'));
    r = await cli(['events', 'publish', '--type', 'x', '--source', src]);
    assert.equal(r.code, 0, r.stderr);
    const dead = await waitFor(async () => {
      const l = await cli(['--json', 'dlq', 'ls', '--limit', '1000']);
      return JSON.parse(l.stdout).dead_letters.find((d) => d.trigger_id === tid);
    }, { timeoutMs: 20000, what: 'the dead letter' });
    assert.equal(dead.execution_id, dead.id, 'a run is its own execution');
    assert.equal(dead.url, undefined);
    r = await cli(['dlq', 'ls', '--limit', '1000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+FUNCTION\s+KIND\s+EXECUTION\s+ATTEMPTS\s+DEAD_AT\s+LAST_ERROR$/m);
    assert.match(r.stdout, new RegExp(`^${dead.id}\\s+${name}\\s+run\\s+${dead.id}\\s+1\\s+\\S+\\s+.*always broken`, 'm'));
    r = await cli(['dlq', 'ls', '--limit', '0']);
    assert.equal(r.code, 2);
    r = await cli(['dlq', 'replay', dead.id]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['dlq', 'rm', '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: /m);
    const again = await waitFor(async () => {
      const l = await cli(['--json', 'dlq', 'ls', '--limit', '1000']);
      return JSON.parse(l.stdout).dead_letters.find((d) => d.id === dead.id);
    }, { timeoutMs: 20000, what: 'the replayed job to be dead again' });
    r = await cli(['dlq', 'rm', again.id]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['triggers', 'rm', tid]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('input and output modes', () => {
  test('--data @- reads the event from stdin; --json deploy and rm print JSON', async () => {
    const name = uniqueName('clistdin');
    const src = await file('stdin.js', 'export default (e) => ({ got: e });\n');
    let r = await cli(['--json', 'deploy', name, src]);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.name, name);
    assert.equal(v.version, 1);
    r = await cli(['invoke', name, '--data', '@-', '--json'], { input: '{"from":"stdin"}' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).result, { got: { from: 'stdin' } });
    r = await cli(['invoke', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"got": \{\s*\}/, 'no --data sends {}');
    r = await cli(['--json', 'rm', name]);
    assert.equal(r.code, 0, r.stderr);
    JSON.parse(r.stdout);
  });

  test('--server works with a trailing slash and overrides R3E_SERVER', async () => {
    const r = await runCli(['--server', `${srv.url}/`, 'ls'], { env: { R3E_SERVER: 'http://127.0.0.1:1' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NAME|no functions/);
  });
});

describe('failures', () => {
  test('a server error exits non-zero with the server code and message', async () => {
    const bad = await file('bad.js', 'export default function (e) {\n  return 1 +;\n}\n');
    let r = await cli(['deploy', uniqueName('bad'), bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: SyntaxError.*line 2/m);
    r = await cli(['invoke', uniqueName('ghost')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: /m);
    r = await cli(['deploy', 'Bad_Name', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_argument: /m);
    r = await cli(['--json', 'get', uniqueName('ghost')]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'not_found', '--json prints the error body too');
  });

  test('a failing function exits non-zero and shows the error', async () => {
    const name = uniqueName('clierr');
    await srv.deploy(name, 'export default () => { throw new RangeError("too far"); }');
    const r = await cli(['invoke', name]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /status:\s+error/);
    assert.match(r.stdout, /RangeError: too far/);
    assert.match(r.stderr, /^error: function error: RangeError: too far/m);
  });

  test('usage errors exit 2', async () => {
    for (const args of [['deploy'], ['invoke'], ['rollback', 'x', 'notanumber'], ['frobnicate'], ['ls', '--bogus'],
      ['invoke', 'x', '--data', '{not json']]) {
      const r = await cli(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, /^error: /m, args.join(' '));
    }
    const r = await cli(['deploy', 'x', join(dir, 'missing.js')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read/);
  });

  test('an unreachable server gives a clear error', async () => {
    // A port that was just free: nothing listens there.
    const net = await import('node:net');
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    for (const how of ['flag', 'env']) {
      const args = how === 'flag' ? ['--server', `http://127.0.0.1:${port}`, 'ls'] : ['ls'];
      const r = await runCli(args, { env: how === 'env' ? { R3E_SERVER: `http://127.0.0.1:${port}` } : {} });
      assert.equal(r.code, 1, how);
      assert.match(r.stderr, new RegExp(`error: unavailable: cannot reach server at http://127\\.0\\.0\\.1:${port}`), how);
    }
  });

  test('help and version', async () => {
    let r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: r3e/);
    assert.match(r.stdout, /deploy NAME FILE/);
    r = await cli([]);
    assert.equal(r.code, 2, 'no command is a usage error');
    assert.match(r.stdout + r.stderr, /usage: r3e/);
    r = await cli(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^r3e \d+\.\d+\.\d+/);
  });
});
