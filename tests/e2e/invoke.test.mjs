// What a function sees and what an invocation returns: results, errors with user stack
// traces, console capture, async work, env, KV, limits, isolation and concurrency.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName, assertError } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close(); });

describe('results', () => {
  test('the execution record has the documented fields', async () => {
    const name = uniqueName('rec');
    await srv.deploy(name, 'export default async (e) => e');
    const rec = await srv.invoke(name, { a: 1 });
    assert.match(rec.execution_id, /^[0-9A-HJKMNP-TV-Z]{26}$/, 'a ULID');
    assert.equal(rec.function, name);
    assert.equal(rec.version, 1);
    assert.equal(rec.status, 'ok');
    assert.deepEqual(rec.result, { a: 1 });
    assert.ok(Array.isArray(rec.logs));
    assert.equal(typeof rec.duration_us, 'number');
    assert.ok(rec.duration_us >= 0);
    assert.equal(typeof rec.cold, 'boolean');
    assert.ok(!Number.isNaN(Date.parse(rec.started_at)), `started_at: ${rec.started_at}`);
    assert.equal(rec.error, undefined, 'no error on ok');
    // The stored record matches what the invoke returned.
    const g = await srv.get(`/v1/executions/${rec.execution_id}`);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.execution_id, rec.execution_id);
    assert.equal(g.body.status, 'ok');
    assert.deepEqual(g.body.result, { a: 1 });
  });

  test('every JSON shape comes back as returned; undefined becomes null', async () => {
    const name = uniqueName('shapes');
    await srv.deploy(name, `
      export default async function (e) {
        switch (e.kind) {
          case 'num': return 3.5;
          case 'str': return 'héllo ✓';
          case 'bool': return false;
          case 'null': return null;
          case 'undef': return undefined;
          case 'arr': return [1, 'two', [3], { four: 4 }];
          case 'obj': return { nested: { deep: [true, null] }, n: -1 };
          case 'date': return { d: new Date(0) };
          case 'big': return 'x'.repeat(100000).length;
        }
      }`);
    const cases = [
      ['num', 3.5], ['str', 'héllo ✓'], ['bool', false], ['null', null], ['undef', null],
      ['arr', [1, 'two', [3], { four: 4 }]], ['obj', { nested: { deep: [true, null] }, n: -1 }],
      ['date', { d: '1970-01-01T00:00:00.000Z' }], ['big', 100000],
    ];
    for (const [kind, want] of cases) {
      const rec = await srv.invoke(name, { kind });
      assert.equal(rec.status, 'ok', `${kind}: ${JSON.stringify(rec)}`);
      assert.deepEqual(rec.result ?? null, want, kind);
    }
  });

  test('strings with any code point, including U+0000, round-trip through event and result', async () => {
    const name = uniqueName('codepoints');
    await srv.deploy(name, 'export default (e) => ({ s: e.s, codes: [...e.s].map((c) => c.codePointAt(0)) })');
    const s = 'a\u0000b\u001f\u2028é😀';
    const rec = await srv.invoke(name, { s });
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result.s, s);
    assert.deepEqual(rec.result.codes, [...s].map((c) => c.codePointAt(0)));
  });

  test('the event can be any JSON value', async () => {
    const name = uniqueName('events');
    await srv.deploy(name, 'export default (e) => ({ type: e === null ? "null" : Array.isArray(e) ? "array" : typeof e, e })');
    for (const [ev, type] of [[1, 'number'], ['s', 'string'], [[1, 2], 'array'], [null, 'null'], [{ k: 'v' }, 'object']]) {
      const rec = await srv.invoke(name, ev);
      assert.deepEqual(rec.result, { type, e: ev });
    }
  });
});

describe('errors', () => {
  test('a thrown error has its message and a stack pointing at the user code', async () => {
    const name = uniqueName('throw');
    const code = [
      'export default async function (event) {', // 1
      '  const x = event.n + 1;', // 2
      '  return helper(x);', // 3
      '}', // 4
      'function helper(v) {', // 5
      '  throw new TypeError("bad thing " + v);', // 6
      '}', // 7
    ].join('\n');
    await srv.deploy(name, code);
    const rec = await srv.invoke(name, { n: 1 });
    assert.equal(rec.status, 'error', JSON.stringify(rec));
    assert.equal(rec.error.name, 'TypeError');
    assert.equal(rec.error.message, 'bad thing 2');
    assert.equal(rec.result ?? null, null);
    const stack = rec.error.stack;
    assert.equal(typeof stack, 'string');
    assert.match(stack, /helper/, `names the throwing function: ${stack}`);
    // Frames carry line numbers of the user's file (no wrapper offset).
    assert.match(stack, /:6(:\d+)?(\)|\s|$)/m, `line 6 (the throw) in: ${stack}`);
    assert.match(stack, /:3(:\d+)?(\)|\s|$)/m, `line 3 (the call) in: ${stack}`);
    // No internal frames: every frame with a source location is in the user's file.
    const frames = stack.split('\n').map((l) => l.trim()).filter(Boolean);
    const files = new Set();
    for (const f of frames) {
      const m = f.match(/(?:@|\(|at )([^@()\s]+?):\d+(?::\d+)?\)?$/);
      if (m) files.add(m[1]);
    }
    assert.ok(files.size <= 1, `frames from more than the user's file: ${stack}`);
    assert.doesNotMatch(stack, /prelude|r3e_internal|__r3e|webapi|runtime\.c|worker\.c/i, stack);
  });

  test('a rejected promise and a thrown non-Error are errors too', async () => {
    const name = uniqueName('reject');
    await srv.deploy(name, `
      export default async function (e) {
        if (e.kind === 'reject') return Promise.reject(new RangeError('out of range'));
        if (e.kind === 'string') throw 'just a string';
        if (e.kind === 'await') { await new Promise((r) => setTimeout(r, 10)); throw new Error('after await'); }
        return 'fine';
      }`);
    let rec = await srv.invoke(name, { kind: 'reject' });
    assert.equal(rec.status, 'error');
    assert.equal(rec.error.name, 'RangeError');
    assert.equal(rec.error.message, 'out of range');
    rec = await srv.invoke(name, { kind: 'string' });
    assert.equal(rec.status, 'error');
    assert.match(rec.error.message, /just a string/);
    rec = await srv.invoke(name, { kind: 'await' });
    assert.equal(rec.status, 'error');
    assert.equal(rec.error.message, 'after await');
    rec = await srv.invoke(name, { kind: 'none' });
    assert.equal(rec.status, 'ok', 'the same context keeps working after errors');
    assert.equal(rec.result, 'fine');
  });

  test('an error at the top level of the module is reported at invocation', async () => {
    const name = uniqueName('toplevel');
    await srv.deploy(name, 'const v = undefinedThing.x;\nexport default () => v;');
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'error', JSON.stringify(rec));
    assert.match(rec.error.message, /undefinedThing/);
  });

  test('top-level await runs before the first invocation', async () => {
    const name = uniqueName('tla');
    await srv.deploy(name, 'const v = await new Promise((r) => setTimeout(() => r(41), 20));\nexport default () => v + 1;');
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result, 42);
  });

  test('code without a handler export fails with a clear error', async () => {
    const name = uniqueName('nohandler');
    const r = await srv.post('/v1/functions', { name, code: 'const x = 1;' });
    if (r.status === 400) {
      assertError(r, 400, 'invalid_argument');
      return;
    }
    assert.equal(r.status, 201, r.text);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'error');
    assert.match(rec.error.message, /handler|export|function/i, rec.error.message);
  });
});

describe('console, async work, env', () => {
  test('console output is captured in order with levels', async () => {
    const name = uniqueName('console');
    await srv.deploy(name, `
      export default async function () {
        console.log('plain', 1, { b: 2 });
        console.info('info line');
        console.warn('warn line');
        console.error('error line');
        console.debug('debug line');
        return 'done';
      }`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok');
    const msgs = rec.logs.map((l) => l.msg);
    assert.equal(rec.logs.length, 5, JSON.stringify(rec.logs));
    assert.match(msgs[0], /^plain 1 /);
    assert.match(msgs[0], /"?b"?: ?2/);
    assert.deepEqual(msgs.slice(1), ['info line', 'warn line', 'error line', 'debug line']);
    // docs/api.md names console.log's level "log"; "info" is accepted as well.
    const levels = rec.logs.map((l) => l.level);
    assert.ok(['log', 'info'].includes(levels[0]), `console.log level: ${levels[0]}`);
    assert.deepEqual(levels.slice(1), ['info', 'warn', 'error', 'debug']);
    for (const l of rec.logs) assert.equal(typeof l.t, 'number', 'each line has a time');
  });

  test('logs written before a failure are kept', async () => {
    const name = uniqueName('logfail');
    await srv.deploy(name, 'export default () => { console.log("before"); throw new Error("x"); }');
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'error');
    assert.deepEqual(rec.logs.map((l) => l.msg), ['before']);
  });

  test('awaited promises and setTimeout run in order within the invocation', async () => {
    const name = uniqueName('timers');
    await srv.deploy(name, `
      export default async function () {
        const order = [];
        const t0 = Date.now();
        setTimeout(() => order.push('late'), 60);
        setTimeout(() => order.push('early'), 10);
        const cancelled = setTimeout(() => order.push('never'), 20);
        clearTimeout(cancelled);
        await Promise.resolve().then(() => order.push('micro'));
        await new Promise((r) => setTimeout(r, 120));
        const v = await Promise.all([1, Promise.resolve(2), new Promise((r) => setTimeout(() => r(3), 5))]);
        return { order, v, elapsed: Date.now() - t0 };
      }`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.deepEqual(rec.result.order, ['micro', 'early', 'late']);
    assert.deepEqual(rec.result.v, [1, 2, 3]);
    assert.ok(rec.result.elapsed >= 110, `waited: ${rec.result.elapsed} ms`);
    assert.ok(rec.duration_us >= 110000, `duration_us covers the wait: ${rec.duration_us}`);
  });

  test('ctx.env holds the env given at deploy time', async () => {
    const name = uniqueName('env');
    await srv.deploy(name, 'export default (e, ctx) => ({ g: ctx.env.GREETING, n: ctx.env.NUM, missing: ctx.env.NOPE ?? null })',
      { env: { GREETING: 'hi', NUM: '3' } });
    const rec = await srv.invoke(name);
    assert.deepEqual(rec.result, { g: 'hi', n: '3', missing: null });
    // A new version with another env sees only that env.
    await srv.put(`/v1/functions/${name}`, { code: 'export default (e, ctx) => ctx.env', env: { ONLY: 'this' } });
    assert.deepEqual((await srv.invoke(name)).result, { ONLY: 'this' });
  });

  test('web globals are there', async () => {
    const name = uniqueName('globals');
    await srv.deploy(name, `
      export default async function () {
        const u = new URL('https://example.com/a/b?x=1&y=two#h');
        const bytes = new TextEncoder().encode('héllo');
        const rnd = new Uint8Array(16);
        crypto.getRandomValues(rnd);
        const clone = structuredClone({ a: [1, { b: 2 }] });
        return {
          host: u.host, path: u.pathname, y: u.searchParams.get('y'),
          len: bytes.length, back: new TextDecoder().decode(bytes),
          b64: btoa('hi!'), unb64: atob('aGkh'),
          uuid: crypto.randomUUID(), nonzero: rnd.some((x) => x !== 0), clone,
        };
      }`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    const r = rec.result;
    assert.equal(r.host, 'example.com');
    assert.equal(r.path, '/a/b');
    assert.equal(r.y, 'two');
    assert.equal(r.len, 6);
    assert.equal(r.back, 'héllo');
    assert.equal(r.b64, 'aGkh');
    assert.equal(r.unb64, 'hi!');
    assert.match(r.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(r.nonzero, true);
    assert.deepEqual(r.clone, { a: [1, { b: 2 }] });
  });
});

describe('sandbox', () => {
  test('no ambient authority: no require, process, filesystem or raw networking', async () => {
    const name = uniqueName('sandbox');
    await srv.deploy(name, `export default () => ({
      require: typeof require, process: typeof process, Deno: typeof Deno, Bun: typeof Bun,
      XMLHttpRequest: typeof XMLHttpRequest, WebSocket: typeof WebSocket,
      importScripts: typeof importScripts,
      dynamicImport: (() => { try { return typeof eval("import('fs')"); } catch (e) { return 'throws'; } })(),
    })`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    const r = rec.result;
    for (const k of ['require', 'process', 'Deno', 'Bun', 'XMLHttpRequest', 'WebSocket', 'importScripts']) {
      assert.equal(r[k], 'undefined', `${k} is not available`);
    }
    if (r.dynamicImport === 'object') {
      // import() returned a promise: it must not load anything.
      const name2 = uniqueName('dynimport');
      await srv.deploy(name2, 'export default async () => { try { await import("fs"); return "loaded"; } catch (e) { return "refused"; } }');
      const rec2 = await srv.invoke(name2);
      assert.notEqual(rec2.result, 'loaded', JSON.stringify(rec2));
    }
  });

  test('functions do not share globals with each other', async () => {
    const a = uniqueName('share-a');
    const b = uniqueName('share-b');
    await srv.deploy(a, 'export default () => { globalThis.leak = "from a"; return 1; }');
    await srv.deploy(b, 'export default () => globalThis.leak ?? null');
    await srv.invoke(a);
    assert.equal((await srv.invoke(b)).result, null);
  });
});

describe('kv', () => {
  test('put/get/list/delete persist across invocations and are per function', async () => {
    const name = uniqueName('kv');
    await srv.deploy(name, `
      export default async function (e, ctx) {
        switch (e.op) {
          case 'put': await ctx.kv.put(e.key, e.value); return 'ok';
          case 'get': return await ctx.kv.get(e.key);
          case 'del': await ctx.kv.delete(e.key); return 'ok';
          case 'list': return await ctx.kv.list(e.prefix === undefined ? undefined : { prefix: e.prefix });
        }
      }`, { isolation: 'fresh' });
    const call = async (ev) => {
      const rec = await srv.invoke(name, ev);
      assert.equal(rec.status, 'ok', JSON.stringify(rec));
      return rec.result;
    };
    await call({ op: 'put', key: 'user:1', value: 'ada' });
    await call({ op: 'put', key: 'user:2', value: 'grace' });
    await call({ op: 'put', key: 'cfg', value: JSON.stringify({ on: true }) });
    assert.equal(await call({ op: 'get', key: 'user:1' }), 'ada', 'a fresh context reads what another wrote');
    assert.equal(await call({ op: 'get', key: 'cfg' }), '{"on":true}');
    assert.equal(await call({ op: 'get', key: 'absent' }), null);
    assert.deepEqual(await call({ op: 'list' }), ['cfg', 'user:1', 'user:2']);
    assert.deepEqual(await call({ op: 'list', prefix: 'user:' }), ['user:1', 'user:2']);
    await call({ op: 'put', key: 'user:1', value: 'ada2' });
    assert.equal(await call({ op: 'get', key: 'user:1' }), 'ada2', 'put replaces');
    await call({ op: 'del', key: 'user:1' });
    await call({ op: 'del', key: 'never-there' });
    assert.equal(await call({ op: 'get', key: 'user:1' }), null);
    assert.deepEqual(await call({ op: 'list' }), ['cfg', 'user:2']);

    // Another function has its own key space.
    const other = uniqueName('kv-other');
    await srv.deploy(other, 'export default async (e, ctx) => ({ v: await ctx.kv.get("user:2"), keys: await ctx.kv.list() })');
    assert.deepEqual((await srv.invoke(other)).result, { v: null, keys: [] });
  });

  test('a non-string value rejects with a catchable error', async () => {
    const name = uniqueName('kvtype');
    await srv.deploy(name, `
      export default async (e, ctx) => {
        try { await ctx.kv.put('k', { not: 'a string' }); return 'stored'; }
        catch (err) { return err.name; }
      }`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(rec.result, 'TypeError');
  });
});

describe('limits', () => {
  test('an infinite loop ends as "timeout" at timeout_ms and the next invocation is ok', async () => {
    const name = uniqueName('loop');
    await srv.deploy(name, 'export default (e) => { if (e.loop) { for (;;) {} } return "alive"; }', { timeout_ms: 500 });
    const t0 = Date.now();
    const rec = await srv.invoke(name, { loop: true }, { timeoutMs: 30000 });
    const took = Date.now() - t0;
    assert.equal(rec.status, 'timeout', JSON.stringify(rec));
    assert.ok(rec.error && typeof rec.error.message === 'string', 'timeout has an error');
    assert.ok(took >= 450, `stopped too early: ${took} ms`);
    assert.ok(took < 10000, `stopped too late: ${took} ms`);
    for (let i = 0; i < 3; i++) {
      const next = await srv.invoke(name, { loop: false });
      assert.equal(next.status, 'ok', JSON.stringify(next));
      assert.equal(next.result, 'alive');
    }
  });

  test('a timer-based wait past timeout_ms is a timeout too', async () => {
    const name = uniqueName('slowtimer');
    await srv.deploy(name, 'export default async () => { await new Promise((r) => setTimeout(r, 5000)); return 1; }', { timeout_ms: 300 });
    const t0 = Date.now();
    const rec = await srv.invoke(name, {}, { timeoutMs: 30000 });
    assert.equal(rec.status, 'timeout', JSON.stringify(rec));
    assert.ok(Date.now() - t0 < 4000, 'did not wait for the timer');
  });

  test('a heap bomb ends as "memory_limit" and the next invocation is ok', async () => {
    const name = uniqueName('bomb');
    await srv.deploy(name,
      'export default (e) => { if (e.bomb) { const a = []; for (;;) a.push(new Array(1e6).fill(1)); } return "alive"; }',
      { memory_mb: 64, timeout_ms: 20000 });
    const rec = await srv.invoke(name, { bomb: true }, { timeoutMs: 60000 });
    assert.equal(rec.status, 'memory_limit', JSON.stringify({ ...rec, logs: undefined }));
    for (let i = 0; i < 3; i++) {
      const next = await srv.invoke(name, { bomb: false }, { timeoutMs: 30000 });
      assert.equal(next.status, 'ok', JSON.stringify(next));
      assert.equal(next.result, 'alive');
    }
    // Other functions keep working too.
    const other = uniqueName('after-bomb');
    await srv.deploy(other, 'export default () => "fine"');
    assert.equal((await srv.invoke(other)).result, 'fine');
  });
});

describe('output limits', () => {
  test('a single huge allocation ends as "memory_limit" and the worker is replaced', async () => {
    const name = uniqueName('hugealloc');
    await srv.deploy(name, 'export default (e) => e.huge ? new Array(2e8).fill(7).length : "alive"',
      { memory_mb: 64, timeout_ms: 20000 });
    const rec = await srv.invoke(name, { huge: true }, { timeoutMs: 60000 });
    assert.equal(rec.status, 'memory_limit', JSON.stringify({ ...rec, logs: undefined }));
    const next = await srv.invoke(name, { huge: false }, { timeoutMs: 30000 });
    assert.equal(next.status, 'ok', JSON.stringify(next));
  });

  test('console output over 64 KiB is cut and flagged logs_truncated', async () => {
    const name = uniqueName('chatty');
    await srv.deploy(name, 'export default () => { for (let i = 0; i < 2000; i++) console.log(i + " " + "x".repeat(100)); return "done"; }');
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify({ ...rec, logs: rec.logs?.length }));
    assert.equal(rec.result, 'done');
    assert.equal(rec.logs_truncated, true);
    const bytes = rec.logs.reduce((n, l) => n + Buffer.byteLength(l.msg), 0);
    // At most 64 KiB, give or take the line that crossed the limit.
    assert.ok(bytes <= 64 * 1024 + 1024, `kept about 64 KiB of output: ${bytes}`);
    assert.ok(bytes >= 32 * 1024, `kept the output up to the limit: ${bytes}`);
    assert.ok(rec.logs.length > 0 && rec.logs[0].msg.startsWith('0 '), 'the first lines are kept');
  });

  test('a result over 6 MiB is an error, not a crash', async () => {
    const name = uniqueName('bigresult');
    await srv.deploy(name, 'export default (e) => e.big ? "r".repeat(7 * 1024 * 1024) : "small"');
    const rec = await srv.invoke(name, { big: true }, { timeoutMs: 60000 });
    assert.equal(rec.status, 'error', JSON.stringify({ ...rec, result: typeof rec.result }));
    assert.equal((await srv.invoke(name, { big: false })).result, 'small');
  });

  test('KV keys and values over their limits reject catchably', async () => {
    const name = uniqueName('kvlimits');
    await srv.deploy(name, `export default async (e, ctx) => {
      const out = {};
      try { await ctx.kv.put('k'.repeat(513), 'v'); out.longKey = 'stored'; } catch (err) { out.longKey = err.name; }
      try { await ctx.kv.put('big', 'v'.repeat(256 * 1024 + 1)); out.bigValue = 'stored'; } catch (err) { out.bigValue = err.name; }
      try { await ctx.kv.put('', 'v'); out.emptyKey = 'stored'; } catch (err) { out.emptyKey = err.name; }
      await ctx.kv.put('k'.repeat(512), 'v'.repeat(256 * 1024));
      out.maxOk = (await ctx.kv.get('k'.repeat(512))).length;
      return out;
    }`);
    const rec = await srv.invoke(name);
    assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.ok(['TypeError', 'RangeError'].includes(rec.result.longKey), `long key: ${rec.result.longKey}`);
    assert.ok(['TypeError', 'RangeError'].includes(rec.result.bigValue), `big value: ${rec.result.bigValue}`);
    assert.ok(['TypeError', 'RangeError'].includes(rec.result.emptyKey), `empty key: ${rec.result.emptyKey}`);
    assert.equal(rec.result.maxOk, 256 * 1024, 'values at the limit are fine');
  });
});

describe('isolation and concurrency', () => {
  const counter = 'let n = 0;\nexport default () => ++n;';

  test('fresh isolation: every invocation starts from a new context (cold)', async () => {
    const name = uniqueName('fresh');
    await srv.deploy(name, counter, { isolation: 'fresh' });
    for (let i = 0; i < 4; i++) {
      const rec = await srv.invoke(name);
      assert.equal(rec.result, 1, 'the global counter resets');
      assert.equal(rec.cold, true);
    }
  });

  test('warm isolation: globals survive and later invocations are not cold', async () => {
    const name = uniqueName('warm');
    await srv.deploy(name, counter, { isolation: 'warm' });
    const recs = [];
    for (let i = 0; i < 6; i++) recs.push(await srv.invoke(name));
    assert.equal(recs[0].cold, true, 'the first invocation creates the context');
    assert.equal(recs[0].result, 1);
    assert.ok(recs.some((r) => r.cold === false), `some warm invocations: ${recs.map((r) => r.cold)}`);
    assert.ok(Math.max(...recs.map((r) => r.result)) >= 3,
      `the counter grows in a warm context: ${recs.map((r) => r.result)}`);
    // A new version starts cold with its own globals.
    await srv.put(`/v1/functions/${name}`, { code: counter });
    const v2 = await srv.invoke(name);
    assert.equal(v2.version, 2);
    assert.equal(v2.result, 1);
    assert.equal(v2.cold, true);
  });

  test('64 concurrent clients all get ok results', async () => {
    const name = uniqueName('par');
    await srv.deploy(name, 'export default async (e) => { await new Promise((r) => setTimeout(r, 5)); return e.i * 2; }');
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) =>
      srv.post(`/v1/functions/${name}/invoke`, { i }, { timeoutMs: 120000 })));
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200, `client ${i}: ${r.status} ${r.text}`);
      assert.equal(r.body.status, 'ok', `client ${i}: ${r.text}`);
      assert.equal(r.body.result, i * 2);
    }
    assert.equal(new Set(results.map((r) => r.body.execution_id)).size, 64, 'distinct execution ids');
  });

  test('concurrency 1: a second parallel invocation is 429 while the first runs', async () => {
    const name = uniqueName('conc');
    await srv.deploy(name, 'export default async () => { await new Promise((r) => setTimeout(r, 1500)); return "slow"; }',
      { concurrency: 1 });
    const [a, b] = await Promise.all([
      srv.post(`/v1/functions/${name}/invoke`, {}),
      srv.post(`/v1/functions/${name}/invoke`, {}),
    ]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 429], `${a.status} ${a.text} / ${b.status} ${b.text}`);
    const limited = a.status === 429 ? a : b;
    const ran = a.status === 200 ? a : b;
    assertError(limited, 429, 'too_many_requests');
    assert.equal(ran.body.status, 'ok');
    assert.equal(ran.body.result, 'slow');
    // Once the first finished, the slot is free again.
    assert.equal((await srv.invoke(name)).status, 'ok');
  });
});
