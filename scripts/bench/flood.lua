-- The flood scenario: cookie-less `POST /api/server-session/items`, each of which would start
-- a new server-side session, counted by the status of the answer:
--   wrk ... -s scripts/bench/flood.lua http://127.0.0.1:PORT
counters = { "created", "too_many", "full", "other" }
dofile("scripts/bench/report.lua")

created, too_many, full, other = 0, 0, 0, 0

local body = '{"item":"flood"}'

function request()
  return wrk.format("POST", "/api/server-session/items", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 429 then
    too_many = too_many + 1
  elseif status == 503 then
    full = full + 1
  else
    other = other + 1
  end
end
