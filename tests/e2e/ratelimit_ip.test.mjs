// Per-client-IP limits for unauthenticated traffic (--rate-limit-ip RATE:BURST): public HTTP
// triggers, webhooks and failed authentication from 127.0.0.1 get 429 with Retry-After and
// the error JSON once the burst is spent, and are served again after the wait; health
// probes and authenticated requests are not charged to the IP; the 429s do not grow the
// audit log. A --dev server on loopback without the flag does not limit anonymous bursts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, uniqueName, assertError } from './lib/server.mjs';

const BURST = 5;

// Fires n sequential requests; returns the statuses and the first 429 response.
async function burst(srv, n, fn) {
  const statuses = [];
  let limited;
  for (let i = 0; i < n; i++) {
    const r = await fn(i);
    statuses.push(r.status);
    if (r.status === 429 && !limited) limited = r;
  }
  return { statuses, limited };
}

// Waits out a 429's Retry-After (bounded), then expects the next request to be served.
async function recovers(limited, again) {
  const wait = Number(limited.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 5, `Retry-After ${wait}`);
  await sleep(wait * 1000 + 100);
  const r = await again();
  assert.notEqual(r.status, 429, r.text);
  return r;
}

describe('--rate-limit-ip with authentication on', () => {
  let srv;
  let fn;
  // 1 token/s: a burst of BURST, then about one request per second
  before(async () => {
    srv = await startServer({ workers: 1, auth: true, args: ['--rate-limit-ip', `1:${BURST}`, '--rate-limit-key', '1000:1000'] });
    fn = uniqueName('pub');
    await srv.deploy(fn, 'export default async () => "hi"');
  });
  after(async () => { await srv?.close(); });

  test('a public trigger: burst, then 429 with Retry-After and the error JSON, then recovery', async () => {
    const { statuses, limited } = await burst(srv, BURST + 3, () => srv.get(`/fn/${fn}`, { token: null }));
    assert.deepEqual(statuses.slice(0, BURST), Array(BURST).fill(200), statuses.join(','));
    assert.ok(limited, `no 429 in ${statuses}`);
    assertError(limited, 429, 'too_many_requests');
    assert.match(limited.body.error.message, /rate limit exceeded/);
    await recovers(limited, () => srv.get(`/fn/${fn}`, { token: null }));
  });

  test('authenticated requests are not charged to the IP; health probes are never limited', async () => {
    await burst(srv, BURST + 2, () => srv.get(`/fn/${fn}`, { token: null }));
    assert.equal((await srv.get(`/fn/${fn}`, { token: null })).status, 429);
    for (let i = 0; i < 20; i++) {
      assert.equal((await srv.get('/v1/functions')).status, 200, 'admin key, own limits');
      assert.equal((await srv.get(`/fn/${fn}`)).status, 200, 'a valid key on a public trigger');
      assert.equal((await srv.get('/healthz', { token: null })).status, 200);
    }
    assert.equal((await srv.get(`/fn/${fn}`, { token: null })).status, 429, 'the IP is still limited');
    await sleep(BURST * 1000 + 200); // refill
  });

  test('failed authentication: 401s, then 429 (a bogus credential does not dodge the limit)', async () => {
    const bad = 'r3e_aaaaaaaaaaaa_' + 'b'.repeat(52);
    const { statuses, limited } = await burst(srv, BURST + 3, () => srv.get('/v1/functions', { token: bad }));
    assert.deepEqual(statuses.slice(0, BURST), Array(BURST).fill(401), statuses.join(','));
    assertError(limited, 429, 'too_many_requests');
    // a bogus credential on a public route is unauthenticated traffic too
    assert.equal((await srv.get(`/fn/${fn}`, { token: bad })).status, 429);
    assert.equal((await srv.get('/v1/functions')).status, 200, 'a valid key still gets in');
    await recovers(limited, () => srv.get('/v1/functions', { token: bad }));
    // the audit log has the 401s but none of the anonymous 429s
    const audit = (await srv.get('/v1/audit?limit=1000')).body.entries;
    assert.ok(audit.some((e) => e.status === 401 && e.who === 'anonymous'));
    assert.ok(!audit.some((e) => e.status === 429 && e.who === 'anonymous'), 'anonymous 429s are not audited');
    await sleep(BURST * 1000 + 200);
  });

  test('webhooks are limited per IP as well', async () => {
    const t = await srv.post('/v1/triggers', { function: fn, source: { type: 'webhook' } });
    assert.equal(t.status, 201, t.text);
    const { statuses, limited } = await burst(srv, BURST + 3, () => srv.post(t.body.webhook_url, '{}', { token: null }));
    assert.deepEqual(statuses.slice(0, BURST), Array(BURST).fill(202), statuses.join(','));
    assertError(limited, 429, 'too_many_requests');
    await recovers(limited, () => srv.post(t.body.webhook_url, '{}', { token: null }));
  });
});

describe('defaults and the off switch', () => {
  test('--dev on loopback does not limit anonymous bursts by default', async () => {
    const srv = await startServer({ workers: 1 });
    try {
      const { statuses } = await burst(srv, 250, () => srv.post('/hooks/01ARZ3NDEKTSV4RRFFQ69G5FAV', '{}'));
      assert.ok(statuses.every((s) => s === 404), 'no 429 without the flag');
    } finally {
      await srv.close();
    }
  });

  test('--rate-limit-ip off turns it off (bad values: unit test_authn_config)', async () => {
    const srv = await startServer({ workers: 1, args: ['--rate-limit-ip', 'off'] });
    try {
      const { statuses } = await burst(srv, 250, () => srv.post('/hooks/01ARZ3NDEKTSV4RRFFQ69G5FAV', '{}'));
      assert.ok(statuses.every((s) => s === 404));
    } finally {
      await srv.close();
    }
  });
});
