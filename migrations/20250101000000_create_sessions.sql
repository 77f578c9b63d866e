-- Server-side sessions (see src/store/postgres.rs). One row per session, keyed by the hex
-- SHA-256 of the session id: the table never holds a value that works as a cookie.
-- `IF NOT EXISTS` on top of sqlx's migration lock, so a table made by hand is adopted.
CREATE TABLE IF NOT EXISTS sessions (
    key        text   PRIMARY KEY CHECK (length(key) = 64),
    -- The visitor's list, as a JSON array of strings.
    items      jsonb  NOT NULL,
    -- Unix milliseconds, like every store (see src/clock.rs).
    created_ms bigint NOT NULL,
    seen_ms    bigint NOT NULL,
    -- The earlier of the idle and absolute deadlines, moved on every visit. A row at or past
    -- it is expired: every query ignores it, and the periodic purge deletes it.
    expires_ms bigint NOT NULL,
    -- Bumped by every write; a write applies only if the version is still the one it read,
    -- so two writers racing on one session cannot overwrite each other (see `update`).
    version    bigint NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS sessions_expires_ms ON sessions (expires_ms);
