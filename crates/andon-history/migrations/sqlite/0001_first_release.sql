
CREATE TABLE signals (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    color       TEXT    NOT NULL,
    component   TEXT,
    message     TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    trace_id    TEXT,
    attributes  TEXT
);
CREATE INDEX signals_by_time ON signals (at_ms);
CREATE INDEX signals_by_trace ON signals (trace_id) WHERE trace_id IS NOT NULL;

CREATE TABLE alert_events (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    rule        TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    component   TEXT,
    trace_id    TEXT,
    labels      TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    by_whom     TEXT,
    note        TEXT,
    level       INTEGER
);
CREATE INDEX alert_events_by_fingerprint ON alert_events (fingerprint, at_ms);
CREATE INDEX alert_events_by_time ON alert_events (at_ms);
CREATE INDEX alert_events_by_trace ON alert_events (trace_id) WHERE trace_id IS NOT NULL;

CREATE TABLE line_events (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    signal_id TEXT,
    component TEXT,
    message   TEXT,
    by_whom   TEXT,
    note      TEXT
);
CREATE INDEX line_events_by_time ON line_events (at_ms);

CREATE TABLE diagnostics (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    signal_id TEXT    NOT NULL,
    health    TEXT    NOT NULL,
    summary   TEXT    NOT NULL,
    report    TEXT    NOT NULL
);
CREATE INDEX diagnostics_by_signal ON diagnostics (signal_id);
CREATE INDEX diagnostics_by_time ON diagnostics (at_ms);
