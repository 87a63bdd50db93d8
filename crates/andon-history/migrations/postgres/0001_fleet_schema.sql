
CREATE TABLE signals (
    seq         BIGSERIAL PRIMARY KEY,
    instance    TEXT   NOT NULL,
    id          TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    color       TEXT   NOT NULL,
    component   TEXT,
    message     TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    trace_id    TEXT,
    attributes  TEXT
);
CREATE INDEX signals_by_time ON signals (at_ms);
CREATE INDEX signals_by_instance ON signals (instance, at_ms);
CREATE INDEX signals_by_trace ON signals (trace_id) WHERE trace_id IS NOT NULL;

CREATE TABLE signal_counts (
    hour        BIGINT NOT NULL,
    instance    TEXT   NOT NULL,
    color       TEXT   NOT NULL,
    component   TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (hour, instance, color, component, fingerprint)
);

CREATE TABLE alert_events (
    seq         BIGSERIAL PRIMARY KEY,
    instance    TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    fingerprint TEXT   NOT NULL,
    rule        TEXT   NOT NULL,
    severity    TEXT   NOT NULL,
    component   TEXT,
    trace_id    TEXT,
    labels      TEXT   NOT NULL,
    summary     TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    by_whom     TEXT,
    note        TEXT,
    level       BIGINT
);
CREATE INDEX alert_events_by_fingerprint ON alert_events (fingerprint, at_ms);
CREATE INDEX alert_events_by_time ON alert_events (at_ms);

CREATE TABLE line_events (
    seq       BIGSERIAL PRIMARY KEY,
    instance  TEXT   NOT NULL,
    at_ms     BIGINT NOT NULL,
    kind      TEXT   NOT NULL,
    signal_id TEXT,
    component TEXT,
    message   TEXT,
    by_whom   TEXT,
    note      TEXT
);
CREATE INDEX line_events_by_instance ON line_events (instance, at_ms);

CREATE TABLE diagnostics (
    seq       BIGSERIAL PRIMARY KEY,
    instance  TEXT   NOT NULL,
    at_ms     BIGINT NOT NULL,
    signal_id TEXT   NOT NULL,
    health    TEXT   NOT NULL,
    summary   TEXT   NOT NULL,
    report    TEXT   NOT NULL
);
CREATE INDEX diagnostics_by_signal ON diagnostics (signal_id);

CREATE TABLE heartbeats (
    seq              BIGSERIAL PRIMARY KEY,
    instance         TEXT   NOT NULL,
    at_ms            BIGINT NOT NULL,
    name             TEXT   NOT NULL,
    component        TEXT   NOT NULL,
    kind             TEXT   NOT NULL,
    status           TEXT,
    last_check_in_ms BIGINT,
    every_ms         BIGINT
);
CREATE INDEX heartbeats_by_instance ON heartbeats (instance, at_ms);
