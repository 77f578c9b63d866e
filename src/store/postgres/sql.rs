//! The one statement each session operation is, so that each is one round trip. A statement
//! is atomic: a row it changes is locked from its read to its commit, and a statement that
//! waited for the lock reads the row as the other one left it, so racing operations on one
//! session are applied one after the other.
//!
//! Each may run twice when its first connection turns out broken ([`super::pool`]), and a
//! second run leaves things as the first did: `UPDATE` applies an operation only if the row's
//! `last_op` is not already that operation's random id, `create` charges the rate only if the
//! session is not there yet, and `rotate` finds its own forward and reports it.
//!
//! The forward of a rotated-away id is a row of `session_forwards`; `$1` is always the key the
//! request came with, and `reached` below resolves it to the session it reaches.

/// The session `$1` reaches at `$2` (now): its own, or its successor's for the grace window.
macro_rules! reached {
    () => {
        "fwd AS (
             SELECT to_key, sealed FROM session_forwards WHERE from_key = $1 AND until_ms > $2
         )"
    };
}

/// $1 key, $2 now, $3 idle, $4 max, $5 refresh-after (ms). The live record, its visit recorded
/// once the last one is older than refresh-after; the seal and key of its successor's id when
/// reached through a forward.
pub const LOAD: &str = concat!(
    "WITH ",
    reached!(),
    ", live AS (
         SELECT s.key, s.items, s.created_ms, s.seen_ms FROM sessions s
         WHERE s.key = COALESCE((SELECT to_key FROM fwd), $1) AND s.expires_ms > $2
     ), touched AS (
         UPDATE sessions s SET seen_ms = $2, expires_ms = LEAST($2 + $3, s.created_ms + $4)
         FROM live WHERE s.key = live.key AND live.seen_ms <= $2 - $5
         RETURNING s.seen_ms
     )
     SELECT live.items::text, live.created_ms, COALESCE((SELECT seen_ms FROM touched), live.seen_ms),
            (SELECT sealed FROM fwd), (SELECT to_key FROM fwd)
     FROM live"
);

/// Whether the operation `$5` (`add`, `remove`, `clear`) is allowed on the row's list: the two
/// comparisons of `Op::allowed`, with the item cap `$8` and the index `$7`.
macro_rules! allowed {
    () => {
        "(($5 = 'add' AND jsonb_array_length(s.items) < $8)
          OR ($5 = 'remove' AND $7 < jsonb_array_length(s.items)) OR $5 = 'clear')"
    };
}

/// $1 key, $2 now, $3 idle, $4 max, $5 operation, $6 item, $7 index, $8 item cap, $9 this
/// operation's random id. Applies the operation if its rule allows it (or if a first run
/// already did), records the visit either way. The list after, the times, whether it was
/// applied, the list's length, and the successor's seal and key when reached through a forward.
pub const UPDATE: &str = concat!(
    "WITH ",
    reached!(),
    ", changed AS (
         UPDATE sessions s SET
             items = CASE
                 WHEN s.last_op = $9 THEN s.items
                 WHEN NOT ",
    allowed!(),
    " THEN s.items
                 WHEN $5 = 'add' THEN s.items || jsonb_build_array($6::text)
                 WHEN $5 = 'remove' THEN s.items - $7::int
                 ELSE '[]'::jsonb END,
             last_op = CASE WHEN s.last_op = $9 OR ",
    allowed!(),
    " THEN $9 ELSE s.last_op END,
             seen_ms = $2, expires_ms = LEAST($2 + $3, s.created_ms + $4)
         WHERE s.key = COALESCE((SELECT to_key FROM fwd), $1) AND s.expires_ms > $2
         RETURNING s.items::text AS items, s.created_ms, s.seen_ms,
                   COALESCE(s.last_op = $9, false) AS applied, jsonb_array_length(s.items) AS len
     )
     SELECT changed.items, changed.created_ms, changed.seen_ms, changed.applied, changed.len::bigint,
            (SELECT sealed FROM fwd), (SELECT to_key FROM fwd)
     FROM changed"
);

/// $1 key, $2 items (JSON), $3 now, $4 deadline, $5 network, $6 interval, $7 tolerance (ms).
/// Charges the network's bucket and stores the session, or neither; a second run finds the
/// session and charges nothing. Whether the session is stored, and the bucket's TAT.
pub const CREATE: &str = "WITH existing AS (
         SELECT 1 FROM sessions WHERE key = $1
     ), bucket AS (
         INSERT INTO session_rates AS r (network, tat_ms)
         SELECT $5, $3 + $6 WHERE NOT EXISTS (SELECT 1 FROM existing)
         ON CONFLICT (network) DO UPDATE SET tat_ms = GREATEST(r.tat_ms, $3) + $6
             WHERE GREATEST(r.tat_ms, $3) - $3 <= $7
         RETURNING tat_ms
     ), made AS (
         INSERT INTO sessions (key, items, created_ms, seen_ms, expires_ms)
         SELECT $1, $2::jsonb, $3, $3, $4 WHERE EXISTS (SELECT 1 FROM bucket)
         RETURNING key
     )
     SELECT EXISTS (SELECT 1 FROM made) OR EXISTS (SELECT 1 FROM existing),
            (SELECT tat_ms FROM session_rates WHERE network = $5)";

/// $1 old key, $2 new key, $3 now, $4 the new id sealed for the old one's holders, $5 when the
/// forward ends. Moves a live session and leaves the forward; else the successor a forward
/// already names (a second press, or a second run): moved, and that successor's seal and key.
pub const ROTATE: &str = "WITH moved AS (
         UPDATE sessions SET key = $2 WHERE key = $1 AND expires_ms > $3 RETURNING key
     ), forwarded AS (
         INSERT INTO session_forwards (from_key, to_key, sealed, until_ms)
         SELECT $1, $2, $4, $5 FROM moved
         ON CONFLICT (from_key) DO UPDATE
             SET to_key = EXCLUDED.to_key, sealed = EXCLUDED.sealed, until_ms = EXCLUDED.until_ms
         RETURNING 1
     ), earlier AS (
         SELECT f.to_key, f.sealed FROM session_forwards f JOIN sessions s ON s.key = f.to_key
         WHERE f.from_key = $1 AND f.until_ms > $3 AND s.expires_ms > $3
     )
     SELECT EXISTS (SELECT 1 FROM moved), (SELECT sealed FROM earlier), (SELECT to_key FROM earlier)";

/// $1 key, $2 now. Deletes the session `$1` reaches and the forward: how many live ones.
pub const DESTROY: &str = "WITH fwd AS (
         DELETE FROM session_forwards WHERE from_key = $1 RETURNING to_key, until_ms
     ), gone AS (
         DELETE FROM sessions
         WHERE key = $1 OR key = (SELECT to_key FROM fwd WHERE until_ms > $2)
         RETURNING expires_ms
     )
     SELECT count(*) FROM gone WHERE expires_ms > $2";

/// $1 now. Deletes expired sessions, forwards and full buckets: how many sessions.
pub const PURGE: &str = "WITH gone AS (
         DELETE FROM sessions WHERE expires_ms <= $1 RETURNING 1
     ), forwards AS (
         DELETE FROM session_forwards WHERE until_ms <= $1 RETURNING 1
     ), buckets AS (
         DELETE FROM session_rates WHERE tat_ms <= $1 RETURNING 1
     )
     SELECT count(*) FROM gone";

/// $1 now: live sessions.
pub const COUNT: &str = "SELECT count(*) FROM sessions WHERE expires_ms > $1";
