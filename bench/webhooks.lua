-- wrk script for `make bench`: POST pre-generated bodies (one JSON document per line).
--
--   wrk -t T -c C -d D --latency -s bench/webhooks.lua URL -- BODIES PATH T MODE
--
-- Thread k of T sends lines k, k+T, k+2T, ... in order. MODE "cycle" starts over at the
-- end (for the no-op endpoint, where a body may be reused). MODE "once" sends each line
-- once: a thread that has sent all of its lines resends its last line until every one of
-- its requests is answered, then stops. wrk still reports the full -d as the duration
-- then, so the bench sizes the file for this not to happen and flags it if it does.
-- done() prints one line, `BENCH_JSON {...}`, with counts and the latency distribution
-- in microseconds.

local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local requests = {}
local count = 0
local sent = 0
local answered = 0
local cycle = false

function init(args)
  local file, path, nthreads, mode = args[1], args[2], tonumber(args[3]), args[4]
  assert(file and path and nthreads, "usage: -- BODIES PATH THREADS once|cycle")
  assert(mode == "once" or mode == "cycle", "MODE must be once or cycle")
  cycle = mode == "cycle"
  local headers = { ["Content-Type"] = "application/json" }
  local index = 0
  for line in io.lines(file) do
    if #line > 0 then
      if index % nthreads == thread_id then
        count = count + 1
        requests[count] = wrk.format("POST", path, headers, line)
      end
      index = index + 1
    end
  end
  assert(count > 0, "no bodies for this thread in " .. file)
end

function request()
  sent = sent + 1
  if cycle then
    return requests[(sent - 1) % count + 1]
  end
  if sent > count then
    return requests[count]
  end
  return requests[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if not cycle and answered >= count then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"stdev":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.stdev, latency.max))
end
