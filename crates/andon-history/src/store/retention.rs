//! Retention: rows older than `retention_age`, then the oldest beyond `retention_rows`, per
//! table, with `signal_counts` kept exact.

use std::time::SystemTime;

use andon_core::config::HistoryConfig;
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::millis;
use crate::error::HistoryError;
use crate::schema::{HOUR_MS, TABLES};

/// Rows deleted by one retention pass, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Rows deleted from `signals`.
    pub signals: u64,
    /// Rows deleted from `alert_events`.
    pub alert_events: u64,
    /// Rows deleted from `line_events`.
    pub line_events: u64,
    /// Rows deleted from `diagnostics`.
    pub diagnostics: u64,
    /// Rows deleted from `heartbeats`.
    pub heartbeats: u64,
}

impl RetentionReport {
    /// Every row deleted.
    pub fn total(&self) -> u64 {
        self.signals + self.alert_events + self.line_events + self.diagnostics + self.heartbeats
    }
}

/// Deletes what `config` no longer keeps, as of `now`, in one transaction.
pub(super) fn retain(
    connection: &mut Connection,
    config: &HistoryConfig,
    now: SystemTime,
) -> Result<RetentionReport, HistoryError> {
    let mut deleted = [0_u64; 5];
    let cutoff = (!config.retention_age.is_zero())
        .then(|| now.checked_sub(config.retention_age))
        .flatten()
        .map(millis);
    let transaction = connection.transaction()?;
    for (table, deleted) in TABLES.iter().zip(deleted.iter_mut()) {
        if let Some(cutoff) = cutoff {
            *deleted += delete(&transaction, table, "at_ms < ?1", cutoff)?;
        }
        if config.retention_rows > 0 {
            let keep = i64::try_from(config.retention_rows).unwrap_or(i64::MAX);
            let first_kept: Option<i64> = transaction
                .prepare_cached(&format!(
                    "SELECT seq FROM {table} ORDER BY seq DESC LIMIT 1 OFFSET ?1"
                ))?
                .query_row([keep - 1], |row| row.get(0))
                .optional()?;
            if let Some(first_kept) = first_kept {
                *deleted += delete(&transaction, table, "seq < ?1", first_kept)?;
            }
        }
    }
    transaction.commit()?;
    Ok(RetentionReport {
        signals: deleted[0],
        alert_events: deleted[1],
        line_events: deleted[2],
        diagnostics: deleted[3],
        heartbeats: deleted[4],
    })
}

/// Deletes the rows of `table` where `condition` (on `?1`) holds; for signals, their counts
/// in `signal_counts` go first, so that the Pareto stays exact.
fn delete(tx: &Transaction<'_>, table: &str, condition: &str, value: i64) -> rusqlite::Result<u64> {
    if table == "signals" {
        tx.prepare_cached(&format!(
            "UPDATE signal_counts SET n = n - gone.d
             FROM (SELECT at_ms / {HOUR_MS} AS hour, color, COALESCE(component, 'unknown') AS component,
                          fingerprint, count(*) AS d
                   FROM signals WHERE {condition} GROUP BY 1, 2, 3, 4) AS gone
             WHERE signal_counts.hour = gone.hour AND signal_counts.color = gone.color
               AND signal_counts.component = gone.component
               AND signal_counts.fingerprint = gone.fingerprint"
        ))?
        .execute([value])?;
        tx.prepare_cached("DELETE FROM signal_counts WHERE n <= 0")?
            .execute([])?;
    }
    let n = tx
        .prepare_cached(&format!("DELETE FROM {table} WHERE {condition}"))?
        .execute([value])?;
    Ok(n as u64)
}
