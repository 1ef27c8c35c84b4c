// Event -> function start latency: one event at a time (idle queue), matched by one trigger
// of a no-op function; latency = the execution record's started_at - the event's
// received_ms (both server clocks, ms resolution).
//   R3E_BIN=build-rel/r3e node bench/events_latency.mjs [events=300]
import { startServer, waitFor } from '../tests/e2e/lib/server.mjs';

const N = Number(process.argv[2] ?? 300);
const srv = await startServer({ workers: 2 });
try {
  await srv.deploy('noop', 'export default async () => null');
  await srv.post('/v1/triggers', { function: 'noop', source: { type: 'custom' }, filter: { type: ['lat'] } });
  const lat = [];
  for (let i = 0; i < N; i++) {
    const p = await srv.post('/v1/events', { specversion: '1.0', source: 'lat', type: 'lat' },
      { headers: { 'content-type': 'application/cloudevents+json' } });
    const ev = await waitFor(async () => {
      const g = await srv.get(`/v1/events/${p.body.id}`);
      return g.body.executions.length ? g.body : null;
    }, { timeoutMs: 10000, intervalMs: 2 });
    const rec = (await srv.get(`/v1/executions/${ev.executions[0]}`)).body;
    lat.push(Date.parse(rec.started_at) - ev.received_ms);
  }
  lat.sort((a, b) => a - b);
  const q = (x) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))];
  console.log(JSON.stringify({ events: N, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: lat[lat.length - 1] }));
} finally {
  await srv.close({ expectCleanExit: false });
}
