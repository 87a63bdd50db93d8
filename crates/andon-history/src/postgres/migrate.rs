//! The PostgreSQL schema and its versioned migrations: a `schema_migrations` table lists the
//! versions applied; version N is the state after the first N migrations. A migration is only
//! ever added, never edited (their SQL is frozen text in `migrations/postgres/`, beside `src/`,
//! pinned by checksum in the tests). Agents that start together migrate one at a time (an
//! advisory lock), so a fleet can share one database from its first start.

use tokio_postgres::Client;

use crate::error::HistoryError;

/// Every migration, in order. `MIGRATIONS[0]` takes an empty database to version 1.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: the SQLite shape (issue 19), every row with the agent's `instance`, plus heartbeats.
    include_str!("../../migrations/postgres/0001_fleet_schema.sql"),
    // v2: the fleet's line states, one row per agent, refreshed every `fleet_interval`.
    include_str!("../../migrations/postgres/0002_fleet_lines.sql"),
    // v3: incident timelines: alerts by trace id, line stops and diagnostics by signal.
    include_str!("../../migrations/postgres/0003_timeline_indexes.sql"),
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

    #[test]
    fn the_migrations_databases_have_applied_are_frozen() {
        let pinned = [
            0x42a9_fc67_005f_6fe5,
            0x9b6d_669c_e3e3_bbe9,
            0xfa12_f2df_7119_e26c,
        ];
        crate::schema::assert_frozen(MIGRATIONS, &pinned);
    }
}
