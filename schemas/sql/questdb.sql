-- FlowSense QuestDB tables. Designated timestamp ts (ns), one partition a day, WAL, and
-- DEDUP UPSERT KEYS so that ingesting the same rows again (a replay, a restart) adds nothing.
-- (symbol, ts) alone is not a key: one market order gives many rows in one nanosecond, so
-- seq, the row's position in its feed, is part of every key.

CREATE TABLE IF NOT EXISTS ticks (
    ts TIMESTAMP_NS, symbol SYMBOL, seq LONG, flags INT,
    bid_px DOUBLE, bid_sz DOUBLE, ask_px DOUBLE, ask_sz DOUBLE,
    trade_px DOUBLE, trade_sz DOUBLE
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, symbol, seq);

CREATE TABLE IF NOT EXISTS features (
    ts TIMESTAMP_NS, symbol SYMBOL, seq LONG, flags INT,
    bid_px DOUBLE, bid_sz DOUBLE, ask_px DOUBLE, ask_sz DOUBLE,
    mid DOUBLE, spread DOUBLE, weighted_mid DOUBLE, microprice DOUBLE,
    ofi DOUBLE, bid_depth DOUBLE, ask_depth DOUBLE, trade_sz DOUBLE
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, symbol, seq);

CREATE TABLE IF NOT EXISTS predictions (
    ts TIMESTAMP_NS, symbol SYMBOL, seq LONG, model SYMBOL,
    direction INT, confidence DOUBLE, mid DOUBLE,
    p_down DOUBLE, p_flat DOUBLE, p_up DOUBLE,
    ofi_direction INT, ofi_confidence DOUBLE,
    hawkes_direction INT, hawkes_confidence DOUBLE,
    transformer_direction INT, transformer_confidence DOUBLE
) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, symbol, model, seq);
