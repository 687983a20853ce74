-- FlowSense PostgreSQL schema, version 1: users, orders, fills, the seed's trades table and the audit log.
-- Ids of orders and fills derive from the input, so a replay or a restart inserts nothing twice
-- (writers use ON CONFLICT DO NOTHING).

CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    email       TEXT UNIQUE,
    tier        TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'institutional')),
    role        TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'trader', 'admin')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The account the dataflows trade for until users own strategies.
INSERT INTO users (username, tier, role) VALUES ('system', 'institutional', 'admin');

CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    ts_event        BIGINT NOT NULL,            -- ns since the epoch, UTC
    symbol          TEXT NOT NULL,
    side            SMALLINT NOT NULL CHECK (side IN (-1, 1)),
    quantity        DOUBLE PRECISION NOT NULL CHECK (quantity > 0),
    status          TEXT NOT NULL,              -- accepted | denied | filled | ...
    rule            TEXT,                       -- the risk rule that denied it
    detail          TEXT,
    prediction_id   TEXT NOT NULL,
    bid_px          DOUBLE PRECISION,
    ask_px          DOUBLE PRECISION,
    run_id          TEXT NOT NULL DEFAULT 'live'
);
CREATE INDEX orders_symbol_ts ON orders (symbol, ts_event DESC);

CREATE TABLE fills (
    fill_id         TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,              -- the order's id (not a foreign key: orders and
                                                -- fills reach the writer on separate streams)
    ts_event        BIGINT NOT NULL,
    symbol          TEXT NOT NULL,
    side            SMALLINT NOT NULL CHECK (side IN (-1, 1)),
    quantity        DOUBLE PRECISION NOT NULL CHECK (quantity > 0),
    price           DOUBLE PRECISION NOT NULL,
    fee             DOUBLE PRECISION NOT NULL DEFAULT 0,
    position_after  DOUBLE PRECISION NOT NULL,
    run_id          TEXT NOT NULL DEFAULT 'live'
);
CREATE INDEX fills_symbol_ts ON fills (symbol, ts_event DESC);

-- The seed's trade log: one row per execution, for the user's history and PnL.
CREATE TABLE trades (
    id          TEXT PRIMARY KEY,               -- the fill id
    user_id     BIGINT NOT NULL REFERENCES users (id),
    "timestamp" TIMESTAMPTZ NOT NULL,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity    DOUBLE PRECISION NOT NULL,
    entry_price DOUBLE PRECISION NOT NULL,
    pnl         DOUBLE PRECISION
);
CREATE INDEX trades_user_time ON trades (user_id, "timestamp" DESC);

-- Append-only record of every decision (order, denial, fill, halt); rows are never changed.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,           -- deterministic: kind + the record's id
    ts_event    BIGINT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind        TEXT NOT NULL,
    symbol      TEXT,
    user_id     BIGINT REFERENCES users (id),
    payload     JSONB NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
