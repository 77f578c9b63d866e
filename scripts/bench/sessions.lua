-- The memory scenario's first phase: creates QUOTA server-side sessions of ITEMS items
-- each, through the API, split between the wrk threads:
--   wrk ... -s scripts/bench/sessions.lua http://127.0.0.1:PORT -- TOTAL THREADS ITEMS
-- An add without a cookie creates a session (its answer sets `session_id`); the thread
-- keeps that id in a pool and spends its remaining ITEMS - 1 adds on it, from whichever
-- connection is free. When the thread has made its share and every answer is in, it
-- prints THREAD_DONE and stops; while its last answers are outstanding it sends
-- GET /healthz, which creates nothing.
counters = { "created", "completed", "refused" }
dofile("scripts/bench/report.lua")

created, completed, refused = 0, 0, 0

local quota, per_session
local started, outstanding = 0, 0 -- adds sent and not yet answered
local pool = {} -- sessions still short of ITEMS: { cookie = "session_id=...", left = n }
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local total, threads = tonumber(args[1]), tonumber(args[2])
  per_session = tonumber(args[3] or "10")
  quota = math.floor(total / threads)
  if thread_id <= total % threads then
    quota = quota + 1
  end
end

local function add(cookie, n)
  headers["Cookie"] = cookie
  local body = string.format('{"item":"session item %02d"}', n)
  return wrk.format("POST", "/api/server-session/items", headers, body)
end

function request()
  if is_check_call() then
    return add(nil, 1)
  end
  local session = pool[#pool]
  if session then
    outstanding = outstanding + 1
    session.left = session.left - 1
    if session.left == 0 then
      pool[#pool] = nil
    end
    return add(session.cookie, per_session - session.left)
  end
  if started < quota then
    started = started + 1
    outstanding = outstanding + 1
    return add(nil, 1)
  end
  return wrk.format("GET", "/healthz")
end

function response(status, headers, answer)
  if string.find(answer, '"status":', 1, true) then
    return -- a GET /healthz sent while waiting
  end
  outstanding = outstanding - 1
  if status >= 400 then
    refused = refused + 1
  end
  local count = tonumber(string.match(answer, '"count":(%d+)'))
  local fresh = set_cookie(headers)
  if fresh and count == 1 then
    created = created + 1
    if per_session > 1 then
      table.insert(pool, { cookie = fresh, left = per_session - 1 })
    end
  end
  if count == per_session then
    completed = completed + 1
  end
  if started >= quota and #pool == 0 and outstanding == 0 then
    finish_thread()
  end
end
