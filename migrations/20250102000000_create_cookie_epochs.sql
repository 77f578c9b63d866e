-- Revocation epochs for private-cookie sessions (see src/strategy/cookie_session/mod.rs).
-- "Sign out everywhere" raises a family's epoch; cookies sealed with an older one are
-- refused. A row is needed only until every cookie it could revoke has expired.
CREATE TABLE IF NOT EXISTS cookie_epochs (
    -- The random family id inside the encrypted cookie; not a credential on its own.
    family     text   PRIMARY KEY,
    epoch      bigint NOT NULL,
    expires_ms bigint NOT NULL
);

CREATE INDEX IF NOT EXISTS cookie_epochs_expires_ms ON cookie_epochs (expires_ms);
