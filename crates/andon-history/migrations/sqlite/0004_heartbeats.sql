
CREATE TABLE IF NOT EXISTS heartbeats (
    seq              INTEGER PRIMARY KEY,
    at_ms            INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    component        TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    status           TEXT,
    last_check_in_ms INTEGER,
    every_ms         INTEGER
);
CREATE INDEX IF NOT EXISTS heartbeats_by_time ON heartbeats (at_ms);
CREATE INDEX IF NOT EXISTS heartbeats_by_name ON heartbeats (name, at_ms);
