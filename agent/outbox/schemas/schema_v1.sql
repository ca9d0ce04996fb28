-- edgepost outbox, schema version 1.
-- seq is assigned by the outbox (never reused); body is compact JSON text (orjson):
--   reading: [point, value, unit, quality]    event: [kind, data]
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    priority INTEGER NOT NULL,      -- 0 alarm, 1 event, 2 telemetry
    kind INTEGER NOT NULL,          -- 0 reading, 1 event
    device TEXT NOT NULL,
    ts REAL NOT NULL,               -- read / event wall-clock time
    accepted_at REAL NOT NULL,      -- commit time, never decreasing with seq
    body TEXT NOT NULL
);
-- lane scheduling: one priority in seq order
CREATE INDEX records_lane ON records (priority, seq);
-- live-vs-backlog split and TTL expiry
CREATE INDEX records_accepted ON records (accepted_at);

-- durable counters: last_seq (high-water mark), evicted_total, expired_total
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('last_seq', 0), ('evicted_total', 0), ('expired_total', 0);
