-- Adds items through the JSON API, as one visitor per wrk thread:
--   wrk ... -s scripts/bench/add.lua http://127.0.0.1:PORT -- SLUG RESET_AT BRAKE_AT
-- Each answer's Set-Cookie is followed, and the list starts over once an answer says it
-- holds RESET_AT items, well before the 100-item cap.
--   global          the shared list is cleared with one DELETE, sent by the thread that
--                   gets the answer whose count is exactly RESET_AT (one clear per round).
--                   Until it lands, the adds already in flight still go in (one per
--                   connection), so RESET_AT + connections stays under BRAKE_AT. Should the
--                   DELETE be held up (a busy machine can stall one request for 100 ms), an
--                   answer counting BRAKE_AT or more is followed by a read instead of an
--                   add ("waits"): BRAKE_AT + connections stays under the cap.
--   server-session  adds go to the thread's current session; a spare session is created in
--                   advance (one cookie-less add) and takes over at RESET_AT. So a round is
--                   one session created and about RESET_AT updates, as for a real visitor.
--   cookie-session  every add answers with a new, longer cookie; the thread keeps the one
--                   with the most items, and drops it at RESET_AT (the next add starts a new
--                   cookie).
counters = { "added", "created", "resets", "waits" }
dofile("scripts/bench/report.lua")

added, created, resets, waits = 0, 0, 0, 0

local slug, reset_at, brake_at
local current, current_count, spare, creating = nil, 0, nil, false
local clears, brakes = 0, 0 -- global: DELETEs and reads owed
local body = '{"item":"bench item"}'

function init(args)
  slug = args[1] or "server-session"
  reset_at = tonumber(args[2] or "30")
  brake_at = tonumber(args[3] or "65")
end

local function add(cookie)
  local headers = { ["Content-Type"] = "application/json", ["Cookie"] = cookie }
  return wrk.format("POST", "/api/" .. slug .. "/items", headers, body)
end

function request()
  if is_check_call() then
    return add(nil)
  end
  if clears > 0 then
    clears = clears - 1
    return wrk.format("DELETE", "/api/global/items")
  end
  if brakes > 0 then
    brakes, waits = brakes - 1, waits + 1
    return wrk.format("GET", "/api/global/items")
  end
  if slug == "server-session" and (current == nil or spare == nil) and not creating then
    creating = true
    return add(nil) -- creates a session: the current one, or the spare
  end
  return add(current) -- nil only until the first session exists
end

function response(status, headers, answer)
  local count = tonumber(string.match(answer, '"count":(%d+)')) or 0
  local fresh = set_cookie(headers)
  if status == 201 then
    added = added + 1
    if count == 1 and slug ~= "global" then
      created = created + 1
    end
  end
  if slug == "global" then
    if count == reset_at then
      resets, clears = resets + 1, clears + 1
    elseif count >= brake_at then
      brakes = brakes + 1
    end
  elseif slug == "server-session" then
    if fresh then -- only a new session sets the cookie
      creating = false
      if current == nil then
        current = fresh
      elseif spare == nil then
        spare = fresh
      end
    end
    if count == reset_at then
      resets = resets + 1
      current, spare = spare, nil
    end
  elseif count >= reset_at then
    resets = resets + 1
    current, current_count = nil, 0
  elseif fresh and count > current_count then
    current, current_count = fresh, count
  end
end
