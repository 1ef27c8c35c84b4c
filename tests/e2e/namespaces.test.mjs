// Namespaces: two developers in namespaces a and b deploy a function with the same name.
// Neither can read or change the other's functions, executions (by id), logs or KV state,
// through the API or from inside a function; triggers address a namespace in the path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertError } from './lib/server.mjs';

let srv;
let devA;
let devB;
const FN = 'shared-name';
// Counts its invocations in KV; reports which namespace's code ran and what it saw.
const code = (tag) => `export default async (e, ctx) => {
  if (e && e.peek) return { tag: "${tag}", peek: await ctx.kv.get(e.peek) };
  const n = Number((await ctx.kv.get("count")) ?? 0) + 1;
  await ctx.kv.put("count", String(n));
  await ctx.kv.put("owner", "${tag}");
  console.log("ran in ${tag}");
  return { tag: "${tag}", count: n, status: 200, body: "${tag}" };
}`;

async function key(role, namespace) {
  const r = await srv.post('/v1/keys', { role, namespace });
  assert.equal(r.status, 201, r.text);
  return r.body.key;
}

before(async () => {
  srv = await startServer({ workers: 1, auth: true });
  devA = await key('developer', 'ns-a');
  devB = await key('developer', 'ns-b');
  // a namespace-scoped key acts in its own namespace without naming it
  let r = await srv.post('/v1/functions', { name: FN, code: code('A') }, { token: devA });
  assert.equal(r.status, 201, r.text);
  r = await srv.post('/v1/functions', { name: FN, code: code('B') }, { token: devB, namespace: 'ns-b' });
  assert.equal(r.status, 201, r.text);
});

after(async () => {
  await srv?.close();
});

test('the same function name runs separate code in each namespace', async () => {
  const a = await srv.post(`/v1/functions/${FN}/invoke`, '{}', { token: devA });
  const b = await srv.post(`/v1/functions/${FN}/invoke`, '{}', { token: devB });
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.equal(a.body.result.tag, 'A');
  assert.equal(b.body.result.tag, 'B');
  // the default namespace has no such function
  assertError(await srv.post(`/v1/functions/${FN}/invoke`, '{}', { namespace: 'default' }), 404, 'not_found');
  // a global admin reaches either by naming it
  const viaAdmin = await srv.get(`/v1/functions/${FN}`, { namespace: 'ns-b' });
  assert.equal(viaAdmin.status, 200, viaAdmin.text);
});

test('a developer cannot name another namespace: functions, executions, logs, writes', async () => {
  const b = await srv.post(`/v1/functions/${FN}/invoke`, '{}', { token: devB });
  const execB = b.body.execution_id;
  // from a, naming b: 403 everywhere
  for (const [m, path, body] of [
    ['GET', '/v1/functions'],
    ['GET', `/v1/functions/${FN}`],
    ['GET', `/v1/functions/${FN}/executions`],
    ['GET', `/v1/functions/${FN}/logs`],
    ['GET', `/v1/executions/${execB}`],
    ['POST', `/v1/functions/${FN}/invoke`, '{}'],
    ['PUT', `/v1/functions/${FN}`, { code: code('evil') }],
    ['DELETE', `/v1/functions/${FN}`],
  ]) {
    const r = await srv.request(m, path, body, { token: devA, namespace: 'ns-b' });
    assertError(r, 403, 'permission_denied');
  }
  // from a in its own namespace, b's execution id does not exist
  assertError(await srv.get(`/v1/executions/${execB}`, { token: devA }), 404, 'not_found');
  // and b's list shows only b's records; a's logs never contain b's lines
  const logsA = await srv.get(`/v1/functions/${FN}/logs`, { token: devA });
  assert.equal(logsA.status, 200);
  assert.ok(!logsA.text.includes('ran in B'), logsA.text);
  const listB = await srv.get(`/v1/functions/${FN}/executions`, { token: devB });
  assert.ok(listB.text.includes(execB));
  // vice versa
  assertError(await srv.get(`/v1/functions/${FN}`, { token: devB, namespace: 'ns-a' }), 403, 'permission_denied');
  // and b's function is untouched
  const still = await srv.post(`/v1/functions/${FN}/invoke`, '{}', { token: devB });
  assert.equal(still.body.result.tag, 'B');
});

test('KV state is per namespace from inside functions with the same name', async () => {
  for (let i = 0; i < 3; i++) await srv.post(`/v1/functions/${FN}/invoke`, '{}', { token: devA });
  const a = await srv.post(`/v1/functions/${FN}/invoke`, '{"peek":"owner"}', { token: devA });
  const b = await srv.post(`/v1/functions/${FN}/invoke`, '{"peek":"owner"}', { token: devB });
  assert.deepEqual(a.body.result, { tag: 'A', peek: 'A' });
  assert.deepEqual(b.body.result, { tag: 'B', peek: 'B' });
  const ca = await srv.post(`/v1/functions/${FN}/invoke`, '{"peek":"count"}', { token: devA });
  const cb = await srv.post(`/v1/functions/${FN}/invoke`, '{"peek":"count"}', { token: devB });
  assert.notEqual(ca.body.result.peek, cb.body.result.peek, 'separate counters');
  assert.ok(Number(ca.body.result.peek) > Number(cb.body.result.peek));
});

test('HTTP triggers address a namespace with /ns/{ns}/fn/{name}', async () => {
  const a = await srv.fetch(`/ns/ns-a/fn/${FN}/x`);
  const b = await srv.fetch(`/ns/ns-b/fn/${FN}/x`);
  assert.equal(a.status, 200);
  assert.equal(await a.text(), 'A');
  assert.equal(b.status, 200);
  assert.equal(await b.text(), 'B');
  assert.equal((await srv.fetch(`/fn/${FN}/x`)).status, 404);
  // /fn/… is always "default": the namespace header does not move it
  assert.equal((await srv.fetch(`/fn/${FN}/x`, { headers: { 'x-r3e-namespace': 'ns-a' } })).status, 404);
  assert.equal((await srv.fetch(`/ns/ns-c/fn/${FN}/x`)).status, 404);
  assert.equal((await srv.fetch(`/ns/BAD!/fn/${FN}/x`)).status, 404);
});

test('a malformed namespace header is 400', async () => {
  assertError(await srv.get('/v1/functions', { namespace: 'Not Valid' }), 400, 'invalid_argument');
});
