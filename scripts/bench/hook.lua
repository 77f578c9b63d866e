-- The floor with a Lua `response()` hook that does nothing: how much wrk itself slows down
-- when it has to hand every answer to Lua, as the add script must (to follow Set-Cookie).
-- Compare it with the plain floor to see how much of the adds' gap is the load generator.
dofile("scripts/bench/report.lua")

function response(status, headers, body) end
