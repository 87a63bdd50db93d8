//! The PostgreSQL schema and its versioned migrations: a `schema_migrations` table lists the
//! versions applied; version N is the state after the first N migrations. A migration is only
//! ever added, never edited. Agents that start together migrate one at a time (an advisory
//! lock), so a fleet can share one database from its first start.

use tokio_postgres::Client;

use crate::error::HistoryError;

/// Every migration, in order. `MIGRATIONS[0]` takes an empty database to version 1.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: the SQLite shape (issue 19), every row with the agent's `instance`, plus heartbeats.
    r#"
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
"#,
    // v2: the fleet's line states, one row per agent, refreshed every `fleet_interval`.
    r#"
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
"#,
    // v3: incident timelines: alerts by trace id, line stops and diagnostics by signal.
    r#"
CREATE INDEX alert_events_by_trace ON alert_events (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX line_events_by_signal ON line_events (signal_id) WHERE signal_id IS NOT NULL;
"#,
];

/// The schema version this build writes.
pub const POSTGRES_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key agents take while migrating (any constant, the same for all).
const MIGRATION_LOCK: i64 = 0x616e_646f_6e19;

fn failed(error: &tokio_postgres::Error) -> HistoryError {
    super::error("migrate the schema", error)
}

/// The version the database is at: 0 for an empty one.
pub(crate) async fn version(client: &Client) -> Result<i64, HistoryError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(|e| failed(&e))?;
    let row = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(|e| failed(&e))?;
    Ok(row.get(0))
}

/// Brings the database to `target` (at most [`POSTGRES_SCHEMA_VERSION`]) in one transaction,
/// under the migration lock.
pub(crate) async fn migrate_to(client: &mut Client, target: i64) -> Result<(), HistoryError> {
    // Two agents starting together both try to create `schema_migrations`: serialise that too.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| failed(&e))?;
    let result = migrate_locked(client, target).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn migrate_locked(client: &mut Client, target: i64) -> Result<(), HistoryError> {
    let found = version(client).await?;
    if found > POSTGRES_SCHEMA_VERSION {
        return Err(HistoryError::PostgresTooNew {
            found,
            known: POSTGRES_SCHEMA_VERSION,
        });
    }
    let transaction = client.transaction().await.map_err(|e| failed(&e))?;
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(usize::try_from(target).unwrap_or(0))
        .skip(usize::try_from(found).unwrap_or(0))
    {
        transaction
            .batch_execute(sql)
            .await
            .map_err(|e| failed(&e))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&(index as i64 + 1)],
            )
            .await
            .map_err(|e| failed(&e))?;
    }
    transaction.commit().await.map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::migration_checksum;

    #[test]
    fn the_migrations_databases_have_applied_are_frozen() {
        let sums: Vec<u64> = MIGRATIONS
            .iter()
            .map(|sql| migration_checksum(sql))
            .collect();
        assert_eq!(
            sums,
            [
                0x42a9_fc67_005f_6fe5,
                0x9b6d_669c_e3e3_bbe9,
                0xfa12_f2df_7119_e26c,
            ],
            "an applied migration was edited: restore it and add a new migration instead"
        );
    }
}
