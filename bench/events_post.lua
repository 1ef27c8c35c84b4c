-- wrk script: one new CloudEvent per request (structured mode), ids unique per thread.
-- wrk -t2 -c32 -d5s -s bench/events_post.lua http://127.0.0.1:PORT/
local n = 0
tid = 0
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  n = n + 1
  local body = '{"specversion":"1.0","source":"wrk","type":"bench","id":"t' .. tid .. '-' .. n .. '"}'
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/cloudevents+json"}, body)
end
