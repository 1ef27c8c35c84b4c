// Events benchmark for bench/run.sh (issue 3), against a running r3e server. Every mode
// prints one JSON line; every wait is bounded.
//   node bench/events.mjs setup   URL                 deploy "evnoop" + a custom trigger on types bench/lat
//   node bench/events.mjs delivered URL               deliveries finished so far (ok+failed+busy... see below)
//   node bench/events.mjs batched URL BATCHES TIMEOUT_S
//        BATCHES requests of 1,000 events (application/cloudevents-batch+json); accepted/s, then
//        waits for the backlog to drain: deliveries/s from the first POST to the last delivery
//   node bench/events.mjs drain URL FROM EXPECT T0_MS TIMEOUT_S
//        waits until EXPECT more deliveries than FROM; deliveries/s since T0_MS (epoch ms)
//   node bench/events.mjs latency URL N
//        N events one at a time on an idle queue; the function returns Date.now() at its start,
//        the event's `time` is set (ms) just before the POST: latency = result - time.
//        Also started_at (server, before the worker runs) - time.
const [mode, url, ...rest] = process.argv.slice(2);

async function req(method, path, body, type = 'application/json') {
  const r = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* metrics are text */ }
  return { status: r.status, text, json };
}

// Deliveries that finished (ok + failed): the counter of the dispatcher's final outcomes.
// "busy" is a deferral (the job runs again), so it is not a completion.
async function delivered() {
  const m = (await req('GET', '/metrics')).text;
  let n = 0;
  for (const o of ['ok', 'failed']) {
    const x = m.match(new RegExp(`^r3e_deliveries_total\\{outcome="${o}"\\} (\\d+)`, 'm'));
    if (x) n += Number(x[1]);
  }
  return n;
}

async function drain(from, expect, t0, timeoutS) {
  const deadline = Date.now() + timeoutS * 1000;
  let n = await delivered();
  while (n - from < expect && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    n = await delivered();
  }
  const s = (Date.now() - t0) / 1000;
  return { delivered: n - from, expected: expect, drained: n - from >= expect, seconds: +s.toFixed(3),
    deliveries_per_s: Math.round((n - from) / s) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quant = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

if (mode === 'setup') {
  const code = 'export default async function () { return Date.now(); }';
  const d = await req('POST', '/v1/functions', { name: 'evnoop', code });
  if (d.status >= 300) throw new Error(`deploy: ${d.status} ${d.text}`);
  const t = await req('POST', '/v1/triggers', { function: 'evnoop', source: { type: 'custom' }, filter: { type: ['bench', 'lat'] } });
  if (t.status !== 201) throw new Error(`trigger: ${t.status} ${t.text}`);
  console.log(JSON.stringify({ ok: true }));
} else if (mode === 'delivered') {
  console.log(await delivered());
} else if (mode === 'batched') {
  const batches = Number(rest[0] ?? 20), timeoutS = Number(rest[1] ?? 60);
  const from = await delivered();
  let seq = 0;
  const batch = () => JSON.stringify(Array.from({ length: 1000 }, () =>
    ({ specversion: '1.0', id: `b${seq++}`, source: 'bench', type: 'bench', data: { i: seq } })));
  const bodies = Array.from({ length: batches }, batch); // built before the clock starts
  const t0 = Date.now();
  for (const b of bodies) {
    const r = await req('POST', '/v1/events', b, 'application/cloudevents-batch+json');
    if (r.status !== 202) throw new Error(`batch: ${r.status} ${r.text.slice(0, 200)}`);
  }
  const s = (Date.now() - t0) / 1000;
  const d = await drain(from, batches * 1000, t0, timeoutS);
  console.log(JSON.stringify({ events: batches * 1000, seconds: +s.toFixed(3),
    events_per_s: Math.round(batches * 1000 / s), ...Object.fromEntries(Object.entries(d).map(([k, v]) => [`drain_${k}`, v])) }));
} else if (mode === 'drain') {
  const [from, expect, t0, timeoutS] = rest.map(Number);
  console.log(JSON.stringify(await drain(from, expect, t0, timeoutS)));
} else if (mode === 'latency') {
  const n = Number(rest[0] ?? 300);
  const fn = [], srv = [];
  const warmup = 5; // not recorded: the first runs after the batches may still pay a cold start
  for (let i = -warmup; i < n; i++) {
    const time = new Date().toISOString();
    const p = await req('POST', '/v1/events', { specversion: '1.0', source: 'lat', type: 'lat', id: `lat-${Date.now()}-${i}`, time },
      'application/cloudevents+json');
    if (p.status !== 202) throw new Error(`post: ${p.status} ${p.text}`);
    const id = p.json.id ?? p.json.ids?.[0];
    let rec = null;
    for (let k = 0; k < 2000 && !rec; k++) { // 2 ms polls, at most ~4 s per event
      const g = await req('GET', `/v1/events/${encodeURIComponent(id)}`);
      const ex = g.json?.executions ?? [];
      if (ex.length) {
        const e = await req('GET', `/v1/executions/${ex[0]}`);
        if (e.json && e.json.status !== 'running' && e.json.status !== 'queued') rec = e.json;
      }
      if (!rec) await sleep(2);
    }
    if (!rec) throw new Error(`event ${id}: no finished execution within 4 s`);
    const t = Date.parse(time);
    if (i < 0) continue;
    if (typeof rec.result === 'number') fn.push(rec.result - t);
    srv.push(Date.parse(rec.started_at) - t);
  }
  fn.sort((a, b) => a - b);
  srv.sort((a, b) => a - b);
  console.log(JSON.stringify({ events: n, resolution_ms: 1,
    fn_p50_ms: quant(fn, 0.5), fn_p99_ms: quant(fn, 0.99), fn_max_ms: fn[fn.length - 1], fn_samples: fn.length,
    started_p50_ms: quant(srv, 0.5), started_p99_ms: quant(srv, 0.99) }));
} else {
  console.error('usage: see the header of bench/events.mjs');
  process.exit(2);
}
