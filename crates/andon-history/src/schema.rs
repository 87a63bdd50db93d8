//! The database schema and its migrations, versioned with `PRAGMA user_version` from the first
//! release: version N is the state after the first N migrations. A migration is only ever added,
//! never edited, so that every file can be brought forward. Their SQL is frozen text in
//! `migrations/sqlite/` (beside `src/`), pinned by checksum in the tests; PostgreSQL's
//! dialect of the same tables is in `migrations/postgres/` and is not generated from this one,
//! so that no edit can change a migration already applied.

use rusqlite::Connection;

use crate::error::HistoryError;

/// Every migration, in order. `MIGRATIONS[0]` takes an empty file to version 1.
const MIGRATIONS: &[&str] = &[
    // v1: the first release.
    include_str!("../migrations/sqlite/0001_first_release.sql"),
    // v2: signal counts per hour, color, component and fingerprint, so that a Pareto over
    // millions of signals reads hours, not rows. Kept exact by the writer (inserts) and by
    // retention (deletes); backfilled here from the signals a v1 file holds.
    include_str!("../migrations/sqlite/0002_signal_counts.sql"),
    // v3: signals by component and by color within time, so that a filtered query reads the
    // rows of its component or color, not every row of its window.
    include_str!("../migrations/sqlite/0003_signal_filters.sql"),
    // v4: heartbeat check-ins and misses (issue 19).
    include_str!("../migrations/sqlite/0004_heartbeats.sql"),
];

/// The length of a `signal_counts` hour, in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The tables retention applies to.
pub(crate) const TABLES: [&str; 5] = [
    "signals",
    "alert_events",
    "line_events",
    "diagnostics",
    "heartbeats",
];

/// Fails unless each migration's checksum, FNV-1a 64 over its bytes, is the one pinned:
/// a migration databases have applied must never change (std's hashers may change between
/// Rust releases; this one does not).
#[cfg(test)]
pub(crate) fn assert_frozen(migrations: &[&str], pinned: &[u64]) {
    let sums: Vec<u64> = migrations
        .iter()
        .map(|sql| {
            sql.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            })
        })
        .collect();
    assert_eq!(
        sums, pinned,
        "an applied migration was edited: restore it and add a new migration instead"
    );
}

/// Brings the database to [`SCHEMA_VERSION`], one transaction per migration.
pub(crate) fn migrate(connection: &mut Connection, path: &str) -> Result<(), HistoryError> {
    let open = |source| HistoryError::Open {
        path: path.to_owned(),
        source,
    };
    let found: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open)?;
    if found > SCHEMA_VERSION {
        return Err(HistoryError::TooNew {
            path: path.to_owned(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let transaction = connection.transaction().map_err(open)?;
        transaction.execute_batch(sql).map_err(open)?;
        transaction
            .pragma_update(None, "user_version", index as i64 + 1)
            .map_err(open)?;
        transaction.commit().map_err(open)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use super::*;

    fn plan(connection: &Connection, sql: &str) -> String {
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = statement
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn the_migrations_files_have_applied_are_frozen() {
        let pinned = [
            0xd869_0282_82f2_b465,
            0xb55d_257c_6b7f_3557,
            0xbdf3_3146_03dd_0fa5,
            0x16c7_cf38_357c_d4f1,
        ];
        assert_frozen(MIGRATIONS, &pinned);
    }

    #[test]
    fn a_version_2_file_gains_the_filter_indexes_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite3");
        {
            // The file as the previous release left it: migrations 1 and 2, with rows.
            let mut old = Connection::open(&path).unwrap();
            let transaction = old.transaction().unwrap();
            for sql in &MIGRATIONS[..2] {
                transaction.execute_batch(sql).unwrap();
            }
            transaction.pragma_update(None, "user_version", 2).unwrap();
            transaction
                .execute(
                    "INSERT INTO signals (id, at_ms, color, component, message, fingerprint)
                     VALUES ('s1', 1000, 'red', 'db', 'disk full', 'disk full')",
                    [],
                )
                .unwrap();
            transaction.commit().unwrap();
        }
        let mut connection = Connection::open(&path).unwrap();
        migrate(&mut connection, "v2.sqlite3").unwrap();
        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 4);
        let kept: i64 = connection
            .query_row("SELECT count(*) FROM signals", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1, "the rows of the old file are kept");
        let by_component = plan(
            &connection,
            "SELECT * FROM signals WHERE component = 'db' AND at_ms >= 0 AND at_ms < 5000",
        );
        assert!(
            by_component.contains("signals_by_component"),
            "{by_component}"
        );
        let by_color = plan(
            &connection,
            "SELECT * FROM signals WHERE color = 'red' AND at_ms >= 0 AND at_ms < 5000",
        );
        assert!(by_color.contains("signals_by_color"), "{by_color}");
        // v4 added the heartbeat table.
        let heartbeats: i64 = connection
            .query_row("SELECT count(*) FROM heartbeats", [], |row| row.get(0))
            .unwrap();
        assert_eq!(heartbeats, 0);
        // Migrating again changes nothing.
        migrate(&mut connection, "v2.sqlite3").unwrap();
    }
}
