-- What one-statement operations need beside the sessions (see src/store/postgres/sql.rs).

-- The random id of the last operation applied to a session's list: an UPDATE that runs a
-- second time (its first connection broke) finds it and changes nothing. (The `version`
-- column of the first migration is no longer read or written; it stays, so that instances of
-- an older build can run beside newer ones during a rollout.)
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_op bigint;

-- Where a rotated-away session id leads, for the grace window: the new id's key, and the new
-- id sealed so that only a holder of the old id can read it (never a usable cookie).
CREATE TABLE IF NOT EXISTS session_forwards (
    from_key text   PRIMARY KEY CHECK (length(from_key) = 64),
    to_key   text   NOT NULL CHECK (length(to_key) = 64),
    sealed   text   NOT NULL,
    until_ms bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS session_forwards_until_ms ON session_forwards (until_ms);

-- The rate on new sessions: each client network's theoretical arrival time (Unix ms), shared
-- by every instance. A row whose time has passed is a full bucket; the purge deletes it.
CREATE TABLE IF NOT EXISTS session_rates (
    network text   PRIMARY KEY,
    tat_ms  bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS session_rates_tat_ms ON session_rates (tat_ms);
