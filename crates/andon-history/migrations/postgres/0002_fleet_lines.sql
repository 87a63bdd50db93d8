
CREATE TABLE fleet (
    instance        TEXT   PRIMARY KEY,
    state           TEXT   NOT NULL,
    signal_id       TEXT,
    component       TEXT,
    message         TEXT,
    stopped_at_ms   BIGINT,
    board_url       TEXT,
    version         TEXT   NOT NULL,
    interval_ms     BIGINT NOT NULL,
    heartbeat_at_ms BIGINT NOT NULL
);
