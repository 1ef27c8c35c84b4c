-- wrk reporter for bench/run.sh: one machine-readable line after the human summary.
-- RESULT <requests> <seconds> <req/s> <p50 us> <p99 us> <socket errors> <non-2xx/3xx>
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %d %d %d %d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
