-- wrk script: one new CloudEvent per request (structured mode), ids unique per thread and
-- per run, type "bench" (matched by bench/events.mjs's trigger). Prints the same RESULT
-- line as bench/report.lua, so that run.sh knows how many events were accepted.
-- wrk -t2 -c32 -d5s -s bench/events_post.lua http://127.0.0.1:PORT/
local n = 0
tid = 0
run = tostring(os.time())
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  n = n + 1
  local body = '{"specversion":"1.0","source":"wrk","type":"bench","id":"w' .. run .. '-' .. tid .. '-' .. n .. '"}'
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/cloudevents+json"}, body)
end
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.1f %d %d %d %d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
