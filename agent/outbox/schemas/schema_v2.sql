-- edgepost outbox, schema version 2 (migration from version 1, run in the same transaction).
-- Ingest speed: every index is maintained on every insert, and telemetry is the bulk of the rows.
-- * records_lane becomes partial: alarms and events only. Telemetry (priority 2) is read in rowid
--   (seq) order, which the table itself already is, so it needs no index.
-- * records_accepted goes: accepted_at never decreases with seq, so a time bound becomes a seq
--   bound by bisecting on the rowid (agent/outbox/timeline.py).
DROP INDEX IF EXISTS records_accepted;
DROP INDEX IF EXISTS records_lane;
CREATE INDEX records_lane ON records (priority, seq) WHERE priority < 2;
