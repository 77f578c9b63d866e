-- The memory scenario's second phase: a visitor without cookies, QUOTA answers in all,
-- split between the threads, cycling through the reads (and the one write) that must
-- never create a session:
--   wrk ... -s scripts/bench/cookieless.lua http://127.0.0.1:PORT -- TOTAL THREADS
-- It counts answers that try to set a cookie (there should be none).
counters = { "answers", "cookies_set" }
dofile("scripts/bench/report.lua")

answers, cookies_set = 0, 0

local quota
local i = 0
local requests = {
  wrk.format("GET", "/"),
  wrk.format("GET", "/server-session"),
  wrk.format("GET", "/api/server-session/items"),
  wrk.format("DELETE", "/api/server-session/items"), -- clearing nothing creates nothing
}

function init(args)
  local total, threads = tonumber(args[1]), tonumber(args[2])
  quota = math.floor(total / threads)
  if thread_id <= total % threads then
    quota = quota + 1
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function response(status, headers, body)
  answers = answers + 1
  if set_cookie(headers) then
    cookies_set = cookies_set + 1
  end
  if answers == quota then
    finish_thread()
  end
end
