-- FlowSense PostgreSQL schema, version 2 (issue 5): order types, cancellations and alerts.
-- Orders keep the status the risk gate gave them (accepted | denied); later events of an
-- order (cancellations) are rows of order_events, with deterministic ids as everywhere.

ALTER TABLE orders ADD COLUMN order_type TEXT NOT NULL DEFAULT 'market';
ALTER TABLE orders ADD COLUMN limit_px DOUBLE PRECISION;
ALTER TABLE orders ADD COLUMN account TEXT NOT NULL DEFAULT 'paper';

CREATE TABLE order_events (
    event_id        TEXT PRIMARY KEY,           -- client order id + ':' + status
    client_order_id TEXT NOT NULL,
    ts_event        BIGINT NOT NULL,
    symbol          TEXT NOT NULL,
    status          TEXT NOT NULL,              -- cancelled | rejected
    quantity        DOUBLE PRECISION NOT NULL,  -- the quantity left open that it ended
    reason          TEXT NOT NULL,
    run_id          TEXT NOT NULL DEFAULT 'live'
);
CREATE INDEX order_events_order ON order_events (client_order_id);

CREATE TABLE alerts (
    alert_id    TEXT PRIMARY KEY,
    ts_event    BIGINT NOT NULL,
    symbol      TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    name        TEXT NOT NULL,                  -- HighDrawdown, RiskReset, ...
    message     TEXT NOT NULL,
    run_id      TEXT NOT NULL DEFAULT 'live'
);
CREATE INDEX alerts_ts ON alerts (ts_event DESC);
