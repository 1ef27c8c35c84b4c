// Event ingest rate: CloudEvents matching one trigger of a no-op function, accepted by
// POST /v1/events (202 = durable: event log + queue job in one atomic write). Dispatch runs
// concurrently on the same machine, as in production.
//   R3E_BIN=build-rel/r3e node bench/events_ingest.mjs [batches=20] [singles=4000]
// Prints one JSON line per mode.
import { startServer } from '../tests/e2e/lib/server.mjs';

const BATCHES = Number(process.argv[2] ?? 20);
const SINGLES = Number(process.argv[3] ?? 4000);
const srv = await startServer({ workers: 2 });
try {
  await srv.deploy('noop', 'export default async () => null');
  const t = await srv.post('/v1/triggers', { function: 'noop', source: { type: 'custom' }, filter: { type: ['bench'] } });
  if (t.status !== 201) throw new Error(t.text);
  let seq = 0;
  const batch = () => JSON.stringify(Array.from({ length: 1000 }, () =>
    ({ specversion: '1.0', id: `b${seq++}`, source: 'bench', type: 'bench', data: { i: seq } })));
  let t0 = performance.now();
  for (let b = 0; b < BATCHES; b++) {
    const r = await srv.post('/v1/events', batch(), { headers: { 'content-type': 'application/cloudevents-batch+json' } });
    if (r.status !== 202) throw new Error(r.text);
  }
  let s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ mode: 'batched (1000 per request)', events: BATCHES * 1000, seconds: +s.toFixed(3), events_per_s: Math.round(BATCHES * 1000 / s) }));
  t0 = performance.now();
  let k = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (k < SINGLES) {
      k += 1;
      const r = await srv.post('/v1/events', { specversion: '1.0', source: 'bench1', type: 'bench', id: `s${k}` },
        { headers: { 'content-type': 'application/cloudevents+json' } });
      if (r.status !== 202) throw new Error(r.text);
    }
  }));
  s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ mode: 'structured, 32 concurrent', events: SINGLES, seconds: +s.toFixed(3), events_per_s: Math.round(SINGLES / s) }));
} finally {
  await srv.close({ expectCleanExit: false });
}
