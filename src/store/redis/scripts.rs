//! The Lua scripts that make each session operation one round trip to Redis. A script runs
//! atomically: no other command runs between its reads and its writes, which is what makes an
//! operation's checks (live, the list rule, the rate) and its change one step.
//!
//! Keys, for a session id with hash `H` and the store's prefix `P` (`session:`):
//! - `P H`: the session, a hash of `items` (the list as JSON), `created_ms` and `seen_ms`,
//!   expiring (`PEXPIREAT`) at its deadline;
//! - `forward:P H`: where a rotated-away id leads for the grace window, a hash of `to` (the
//!   successor's `H`) and `sealed` (its id, sealed for the old id's holders);
//! - `rate:P network`: a network's theoretical arrival time (Unix ms), expiring when the
//!   bucket is full again.
//!
//! Scripts that follow a forward name the successor's key only inside the script: a single
//! Redis (not a cluster, which needs every key named up front) is what this app uses.

use redis::Script;

/// Finds the session `KEYS[1]` (or, through the forward `KEYS[2]`, its successor under the
/// prefix `ARGV[1]`): its key, its `items`, `created_ms`, `seen_ms`, and the seal when it was
/// reached through a forward. Expiry is Redis's (a key past its deadline is gone).
const FIND: &str = "local function find()
  local h = redis.call('HMGET', KEYS[1], 'items', 'created_ms', 'seen_ms')
  if h[1] then return KEYS[1], h, false end
  local f = redis.call('HMGET', KEYS[2], 'to', 'sealed')
  if not f[1] then return nil end
  local key = ARGV[1] .. f[1]
  h = redis.call('HMGET', key, 'items', 'created_ms', 'seen_ms')
  if not h[1] then return nil end
  return key, h, f[2]
end
local function deadline(created, now)
  return math.min(now + tonumber(ARGV[4]), tonumber(created) + tonumber(ARGV[5]))
end
";

/// ARGV: prefix, now, refresh-after, idle, max (ms). The record (items, created, seen, seal or
/// false), its visit recorded once the last one is older than refresh-after; `false` if none.
const LOAD: &str = "local key, h, sealed = find()
if not key then return false end
local now = tonumber(ARGV[2])
if now - tonumber(h[3]) >= tonumber(ARGV[3]) then
  redis.call('HSET', key, 'seen_ms', ARGV[2])
  redis.call('PEXPIREAT', key, deadline(h[2], now))
  h[3] = ARGV[2]
end
return {h[1], h[2], h[3], sealed}";

/// ARGV: prefix, now, refresh-after (unused), idle, max, operation (`add`, `remove`, `clear`), its argument
/// (the item, or the index counted from 0), the most items a list holds. Applies the
/// operation if the list rule allows it, and records the visit either way. `false` if there is
/// no session; else {applied (1 or 0), items, created, seen, seal or false, length before}.
const UPDATE: &str = "local key, h, sealed = find()
if not key then return false end
local items = cjson.decode(h[1])
local len = #items
local op, arg = ARGV[6], ARGV[7]
local applied = 1
if op == 'add' and len < tonumber(ARGV[8]) then table.insert(items, arg)
elseif op == 'remove' and tonumber(arg) < len then table.remove(items, tonumber(arg) + 1)
elseif op == 'clear' then items = {}
else applied = 0 end
local json = h[1]
if applied == 1 then
  if #items == 0 then json = '[]' else json = cjson.encode(items) end
  redis.call('HSET', key, 'items', json, 'seen_ms', ARGV[2])
else
  redis.call('HSET', key, 'seen_ms', ARGV[2])
end
redis.call('PEXPIREAT', key, deadline(h[2], tonumber(ARGV[2])))
return {applied, json, h[2], ARGV[2], sealed, len}";

/// KEYS[1] the new session, KEYS[2] its network's bucket; ARGV: items (JSON), now, deadline,
/// interval, tolerance (ms). Charges the bucket and stores the session, or returns how many ms
/// to wait (the bucket is charged only when the session is stored).
const CREATE: &str = "local now = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[2]) or ARGV[2])
if tat < now then tat = now end
local tolerance = tonumber(ARGV[5])
if tat - now > tolerance then return tat - tolerance - now end
local next = tat + tonumber(ARGV[4])
redis.call('SET', KEYS[2], string.format('%d', next), 'PXAT', string.format('%d', next))
redis.call('HSET', KEYS[1], 'items', ARGV[1], 'created_ms', ARGV[2], 'seen_ms', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 0";

/// KEYS[1] the old session, KEYS[2] its forward, KEYS[3] the new session; ARGV: prefix, the new
/// id's hash, its seal (`<seal> <hash>`), the grace (ms). RENAME keeps the deadline and is atomic. {1, -, -}
/// moved; {2, to, seal} already rotated within the grace window; {0, -, -} no such session.
const ROTATE: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  redis.call('HSET', KEYS[2], 'to', ARGV[2], 'sealed', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return {1, false, false}
end
local f = redis.call('HMGET', KEYS[2], 'to', 'sealed')
if f[1] and redis.call('EXISTS', ARGV[1] .. f[1]) == 1 then return {2, f[1], f[2]} end
return {0, false, false}";

/// KEYS[1] the session, KEYS[2] its forward; ARGV[1] the prefix. Deletes the session, or the
/// one the forward leads to, and the forward: how many sessions it deleted.
const DESTROY: &str = "local n = redis.call('DEL', KEYS[1])
local to = redis.call('HGET', KEYS[2], 'to')
if to then
  n = n + redis.call('DEL', ARGV[1] .. to)
  redis.call('DEL', KEYS[2])
end
return n";

pub(super) struct Scripts {
    pub load: Script,
    pub update: Script,
    pub create: Script,
    pub rotate: Script,
    pub destroy: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        let with_find = |body: &str| Script::new(&format!("{FIND}{body}"));
        Scripts {
            load: with_find(LOAD),
            update: with_find(UPDATE),
            create: Script::new(CREATE),
            rotate: Script::new(ROTATE),
            destroy: Script::new(DESTROY),
        }
    }
}
