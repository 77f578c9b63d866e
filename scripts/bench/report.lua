-- Shared by every wrk script of the benchmark: when wrk finishes, print one line that
-- scripts/bench/bench.py reads, e.g.
--   BENCH requests=251234 duration_us=5000123 rps=50245.7 p50_us=512 p99_us=1803 max_us=9120
--         connect=0 read=0 write=0 status=0 timeout=0 resets=12
-- `status` counts answers with a 4xx or 5xx status; the other error kinds are socket errors.
-- A script that keeps per-thread counters (plain globals) lists their names in `counters`
-- before loading this file; their sums across threads are added to the line.
--
-- Used on its own (`wrk -s scripts/bench/report.lua ...`) it sends wrk's fixed request.

counters = counters or {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function done(summary, latency, requests)
  local e = summary.errors
  local line = string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d status=%d timeout=%d",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout)
  for _, name in ipairs(counters) do
    local sum = 0
    for _, thread in ipairs(threads) do
      sum = sum + (tonumber(thread:get(name)) or 0)
    end
    line = line .. string.format(" %s=%d", name, sum)
  end
  io.write(line .. "\n")
end

-- The `name=value` part of the Set-Cookie header in `headers`, or nil. Header names are
-- compared without case (hyper sends them in lower case).
function set_cookie(headers)
  for name, value in pairs(headers) do
    if string.lower(name) == "set-cookie" then
      return string.match(value, "^([^;]*)")
    end
  end
  return nil
end

-- wrk calls request() once in its first thread before any connection opens, only to check
-- the script; the request it returns is never sent. A script whose request() keeps count
-- asks this first and returns a request without counting it.
local called = false
function is_check_call()
  if called then
    return false
  end
  called = true
  return thread_id == 1
end

-- Tells bench.py that this thread has finished its quota, then stops the thread. bench.py
-- waits for one such line per thread, then ends wrk (which prints the BENCH line).
function finish_thread()
  io.write(string.format("THREAD_DONE %d\n", thread_id or 0))
  io.stdout:flush()
  wrk.thread:stop()
end
