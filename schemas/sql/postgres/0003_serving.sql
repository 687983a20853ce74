-- FlowSense PostgreSQL schema, version 2: what the serving layer needs.
-- Passwords (argon2id) on users; API keys and refresh tokens stored only as hashes;
-- broker credentials encrypted (Fernet) by the API before they reach the database;
-- backtests run by the API, with their summary.

ALTER TABLE users ADD COLUMN password_hash TEXT;       -- argon2id; NULL: API keys only
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL DEFAULT '',
    prefix      TEXT NOT NULL,                  -- first characters, to recognise a key in lists
    key_hash    TEXT NOT NULL UNIQUE,           -- sha256 hex of the whole key
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE refresh_tokens (
    jti         TEXT PRIMARY KEY,               -- the token's id claim
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ                     -- set when used (rotation) or at logout
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE broker_credentials (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    broker      TEXT NOT NULL,
    ciphertext  BYTEA NOT NULL,                 -- Fernet token of the JSON credentials
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, broker)
);

CREATE TABLE backtests (
    id          TEXT PRIMARY KEY,
    user_id     BIGINT REFERENCES users (id),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    params      JSONB NOT NULL,
    summary     JSONB,
    error       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

CREATE INDEX orders_user_symbol ON orders (user_id, symbol);
