
CREATE TABLE signal_counts (
    hour        INTEGER NOT NULL,
    color       TEXT    NOT NULL,
    component   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (hour, color, component, fingerprint)
) WITHOUT ROWID;
INSERT INTO signal_counts (hour, color, component, fingerprint, n)
    SELECT at_ms / 3600000, color, COALESCE(component, 'unknown'), fingerprint, count(*)
    FROM signals GROUP BY 1, 2, 3, 4;
