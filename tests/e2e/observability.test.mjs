// Health, metrics, function logs (NDJSON and follow), execution history and the server's
// own structured logs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, uniqueName, waitFor, metricSum, assertError } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.close(); });

describe('health', () => {
  test('/healthz and /readyz answer 200 with JSON', async () => {
    const h = await srv.get('/healthz');
    assert.equal(h.status, 200, h.text);
    assert.equal(h.body.status, 'ok');
    const r = await srv.get('/readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ready');
  });

  test('the listening address is logged as a JSON line', async () => {
    const line = srv.logLines().find((l) => l.msg === 'listening');
    assert.ok(line, `a "listening" line on stderr:\n${srv.stderr.slice(0, 2000)}`);
    assert.equal(line.addr, `127.0.0.1:${srv.port}`);
  });
});

describe('metrics', () => {
  test('/metrics counts invocations by function and status', async () => {
    const name = uniqueName('metered');
    await srv.deploy(name, 'export default (e) => { if (e.fail) throw new Error("no"); return 1; }');
    for (let i = 0; i < 3; i++) assert.equal((await srv.invoke(name)).status, 'ok');
    assert.equal((await srv.invoke(name, { fail: true })).status, 'error');

    const r = await srv.get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    assert.match(r.text, /# TYPE r3e_invocations_total counter/);
    assert.match(r.text, /# TYPE r3e_invocation_duration_seconds histogram/);
    const m = await srv.metrics();
    assert.equal(metricSum(m, 'r3e_invocations_total', { function: name, status: 'ok' }), 3);
    assert.equal(metricSum(m, 'r3e_invocations_total', { function: name, status: 'error' }), 1);
    assert.equal(metricSum(m, 'r3e_invocation_duration_seconds_count', { function: name }), 4);
    const inf = m.find((s) => s.name === 'r3e_invocation_duration_seconds_bucket' &&
      s.labels.function === name && s.labels.le === '+Inf');
    assert.ok(inf, 'a +Inf bucket');
    assert.equal(inf.value, 4);
    assert.ok(metricSum(m, 'r3e_invocation_duration_seconds_sum', { function: name }) > 0);
    assert.ok(metricSum(m, 'r3e_cold_starts_total', { function: name }) >= 1, 'a cold start counted');
    assert.ok(m.some((s) => s.name === 'r3e_invocations_in_flight'), 'in-flight gauge present');
    assert.ok(m.some((s) => s.name === 'r3e_worker_restarts_total'), 'restarts counter present');
    // Buckets are cumulative.
    const buckets = m.filter((s) => s.name === 'r3e_invocation_duration_seconds_bucket' && s.labels.function === name);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, 'cumulative');
  });
});

describe('function logs', () => {
  test('logs are NDJSON lines with time, level, msg, execution_id, function', async () => {
    const name = uniqueName('logger');
    const marker = randomUUID();
    await srv.deploy(name, 'export default (e) => { console.log("hello", e.m); console.warn("careful"); return 1; }');
    const rec = await srv.invoke(name, { m: marker });
    const lines = await waitFor(async () => {
      const r = await srv.get(`/v1/functions/${name}/logs`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /ndjson/);
      const parsed = r.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
      return parsed.some((l) => l.msg.includes(marker)) ? parsed : null;
    }, { timeoutMs: 10000, what: 'the log line in /logs' });
    const hello = lines.find((l) => l.msg.includes(marker));
    assert.equal(hello.msg, `hello ${marker}`);
    assert.ok(['log', 'info'].includes(hello.level), `console.log level: ${hello.level}`);
    assert.equal(hello.execution_id, rec.execution_id);
    assert.equal(hello.function, name);
    assert.ok(!Number.isNaN(Date.parse(hello.time)), `time: ${hello.time}`);
    const warn = lines.find((l) => l.msg === 'careful');
    assert.equal(warn.level, 'warn');
    assert.ok(lines.indexOf(hello) < lines.indexOf(warn), 'oldest first');
  });

  test('?limit=N returns the newest N lines', async () => {
    const name = uniqueName('loglimit');
    await srv.deploy(name, 'export default (e) => { console.log("line", e.i); return 1; }');
    for (let i = 0; i < 4; i++) await srv.invoke(name, { i });
    const msgs = await waitFor(async () => {
      const r = await srv.get(`/v1/functions/${name}/logs?limit=2`);
      assert.equal(r.status, 200, r.text);
      const m = r.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l).msg);
      return m.includes('line 3') ? m : null;
    }, { timeoutMs: 10000, what: 'the newest line' });
    assert.deepEqual(msgs, ['line 2', 'line 3']);
  });

  test('logs of an unknown function are 404', async () => {
    assertError(await srv.get(`/v1/functions/${uniqueName('nolog')}/logs`), 404, 'not_found');
  });

  test('?follow=1 streams a line from a new invocation', async () => {
    const name = uniqueName('follow');
    await srv.deploy(name, 'export default (e) => { console.log("live", e.m); return 1; }');
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 20000);
    const markers = [];
    try {
      const resP = fetch(`${srv.url}/v1/functions/${name}/logs?follow=1`, { signal: ac.signal });
      // Invocations happen after the stream was requested; any of them must show up. The
      // loop keeps invoking in case the subscription became active after the first one.
      let seen = null;
      const reader = (async () => {
        const res = await resP;
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /ndjson/);
        const dec = new TextDecoder();
        let buf = '';
        for await (const chunk of res.body) {
          buf += dec.decode(chunk, { stream: true });
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue; // keep-alive
            const obj = JSON.parse(line);
            if (markers.some((m) => obj.msg === `live ${m}`)) {
              seen = obj;
              return obj;
            }
          }
        }
        return null;
      })();
      reader.catch(() => {}); // the abort at the end rejects it; failures surface via the races
      const deadline = Date.now() + 15000;
      while (!seen && Date.now() < deadline) {
        const m = randomUUID();
        markers.push(m);
        await srv.invoke(name, { m });
        await Promise.race([reader, new Promise((r) => setTimeout(r, 700).unref())]);
      }
      const got = await Promise.race([reader, new Promise((r) => setTimeout(() => r(null), 1000).unref())]);
      assert.ok(got, `a followed line arrived (invoked ${markers.length} times)`);
      assert.equal(got.function, name);
      assert.ok(['log', 'info'].includes(got.level));
      assert.ok(got.execution_id);
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    // The server is still healthy after the follower left.
    assert.equal((await srv.get('/healthz')).status, 200);
  });
});

describe('execution history', () => {
  test('executions are listed newest first with paging', async () => {
    const name = uniqueName('history');
    await srv.deploy(name, 'export default (e) => e.i');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await srv.invoke(name, { i })).execution_id);
    const p1 = await srv.get(`/v1/functions/${name}/executions?limit=2`);
    assert.equal(p1.status, 200, p1.text);
    assert.deepEqual(p1.body.executions.map((e) => e.execution_id), [ids[4], ids[3]]);
    assert.ok(p1.body.next, 'a next cursor');
    const p2 = await srv.get(`/v1/functions/${name}/executions?limit=2&before=${p1.body.next}`);
    assert.deepEqual(p2.body.executions.map((e) => e.execution_id), [ids[2], ids[1]]);
    const p3 = await srv.get(`/v1/functions/${name}/executions?limit=2&before=${p2.body.next}`);
    assert.deepEqual(p3.body.executions.map((e) => e.execution_id), [ids[0]]);
    assert.equal(p3.body.next ?? null, null, 'no next on the last page');
    const all = await srv.get(`/v1/functions/${name}/executions`);
    assert.equal(all.body.executions.length, 5);
    assert.deepEqual(all.body.executions.map((e) => e.result), [4, 3, 2, 1, 0]);
    assertError(await srv.get(`/v1/functions/${name}/executions?limit=abc`), 400, 'invalid_argument');
  });

  test('an unknown execution id is 404', async () => {
    assertError(await srv.get('/v1/executions/01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404, 'not_found');
  });
});

describe('request ids', () => {
  test('every response carries X-Request-Id; a valid client id is kept', async () => {
    for (const [method, path] of [['GET', '/healthz'], ['GET', '/v1/functions'], ['GET', '/v1/nope'],
      ['DELETE', '/v1/functions']]) {
      const r = await srv.request(method, path);
      assert.ok(r.headers.get('x-request-id'), `${method} ${path} has X-Request-Id`);
    }
    const name = uniqueName('reqid');
    await srv.deploy(name, 'export default () => 1');
    const inv = await srv.post(`/v1/functions/${name}/invoke`, {});
    assert.equal(inv.body.request_id, inv.headers.get('x-request-id'), 'the record repeats the request id');
    const stored = await srv.get(`/v1/executions/${inv.body.execution_id}`);
    assert.equal(stored.body.request_id, inv.body.request_id);
    const mine = 'test-req-0123456789';
    const r = await srv.get('/v1/functions', { headers: { 'x-request-id': mine } });
    assert.equal(r.headers.get('x-request-id'), mine);
  });
});

describe('server logs', () => {
  test('stderr is JSON lines; an invocation is logged with request_id, function, execution_id', async () => {
    const name = uniqueName('traced');
    await srv.deploy(name, 'export default () => 1');
    const r = await srv.post(`/v1/functions/${name}/invoke`, {});
    assert.equal(r.status, 200);
    const reqId = r.headers.get('x-request-id');
    assert.ok(reqId, 'X-Request-Id header');
    const id = r.body.execution_id;
    const line = await waitFor(() => srv.logLines().find((l) => l.execution_id === id),
      { timeoutMs: 10000, what: `a server log line with execution_id ${id}` });
    assert.equal(line.function, name);
    assert.equal(typeof line.request_id, 'string');
    assert.ok(line.request_id.length > 0);
    assert.equal(line.request_id, reqId, 'the log line carries the request id of the response');
    for (const l of [line]) {
      assert.ok(l.time && l.level && l.msg, 'time, level, msg');
    }
    const bad = srv.stderr.split('\n').filter((l) => l.trim()).filter((l) => {
      try { JSON.parse(l); return false; } catch { return true; }
    });
    assert.deepEqual(bad, [], 'every stderr line is JSON');
  });
});
