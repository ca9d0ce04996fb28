-- An outbox written by schema version 1 (as shipped), kept so later schema versions must migrate it.
PRAGMA user_version = 1;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    priority INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    device TEXT NOT NULL,
    ts REAL NOT NULL,
    accepted_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX records_lane ON records (priority, seq);
CREATE INDEX records_accepted ON records (accepted_at);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('last_seq', 1207), ('evicted_total', 40), ('expired_total', 3);
INSERT INTO records VALUES (1201, 2, 0, 'meter1', 1700000000.5, 1700000000.6, '["energy",12.5,"kWh","good"]');
INSERT INTO records VALUES (1202, 0, 1, 'meter1', 1700000001.0, 1700000001.1, '["over_voltage",{"v":261}]');
INSERT INTO records VALUES (1203, 1, 1, 'meter1', 1700000002.0, 1700000002.1, '["gap",{"device":"meter1","first_ts":1699990000.0,"last_ts":1699999999.0,"count":40,"reason":"evicted"}]');
INSERT INTO records VALUES (1205, 2, 0, 'aq7', 1700000003.0, 1700000003.1, '["pm25",null,"ug/m3","bad"]');
