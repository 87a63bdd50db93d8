//! The timeline of one incident over PostgreSQL: the same steps as SQLite's
//! ([`SqliteHistory::timeline_page`](crate::SqliteHistory::timeline_page)), found across every
//! instance of the database; a line stop is followed by the next resumption of *its* instance.

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::PostgresHistory;
use super::query::stored_signal;
use crate::error::HistoryError;
use crate::timeline::TimelineEntry;
use crate::timeline_rows::{AlertRow, Incident};

/// The trace ids an alert fingerprint (`$1`) was raised with.
const TRACES_OF_ALERT: &str = "SELECT DISTINCT trace_id FROM alert_events WHERE fingerprint = $1 AND trace_id IS NOT NULL LIMIT 100";

/// The alert fingerprints raised with any of the trace ids `$1`.
const ALERTS_OF_TRACES: &str =
    "SELECT DISTINCT fingerprint FROM alert_events WHERE trace_id = ANY($1) LIMIT 100";

impl PostgresHistory {
    /// The records of the incident with trace id or alert fingerprint `key`, at most `rows` of
    /// each kind (the [`Reader`](crate::read::Reader)'s `incident`).
    pub(crate) async fn incident(&self, key: &str, rows: usize) -> Result<Incident, HistoryError> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let e = |error: tokio_postgres::Error| self.query_error(&error);
        let mut incident = Incident::new(key);
        // Widen once in each direction: fingerprint -> its trace ids -> their fingerprints.
        incident
            .trace_ids
            .extend(strings(&client, TRACES_OF_ALERT, &key).await.map_err(e)?);
        let traces: Vec<String> = incident.trace_ids.iter().cloned().collect();
        incident.fingerprints.extend(
            strings(&client, ALERTS_OF_TRACES, &traces)
                .await
                .map_err(e)?,
        );

        let mut signal_ids: Vec<String> = Vec::new();
        for row in client
            .query(
                "SELECT id, at_ms, color, component, message, fingerprint, trace_id, attributes, instance
                 FROM signals WHERE trace_id = ANY($1) ORDER BY at_ms, seq LIMIT $2",
                &[&traces, &rows],
            )
            .await
            .map_err(e)?
        {
            let signal = stored_signal(&row);
            signal_ids.push(signal.id.clone());
            incident.entries.push(TimelineEntry::signal(&signal));
        }

        let prints: Vec<String> = incident.fingerprints.iter().cloned().collect();
        for row in client
            .query(
                "SELECT at_ms, fingerprint, rule, severity, component, trace_id, summary, kind, by_whom, note, level, instance
                 FROM alert_events WHERE fingerprint = ANY($1) ORDER BY at_ms, seq LIMIT $2",
                &[&prints, &rows],
            )
            .await
            .map_err(e)?
        {
            let alert = AlertRow {
                at: row.get(0),
                fingerprint: row.get(1),
                rule: row.get(2),
                severity: row.get(3),
                component: row.get(4),
                trace_id: row.get(5),
                summary: row.get(6),
                kind: row.get(7),
                by: row.get(8),
                note: row.get(9),
                level: row.get(10),
            };
            let instance: String = row.get(11);
            incident.alert(alert, Some(&instance));
        }

        if !signal_ids.is_empty() {
            let stops = client
                .query(
                    "SELECT at_ms, signal_id, component, message, instance FROM line_events
                     WHERE kind = 'stopped' AND signal_id = ANY($1) ORDER BY at_ms, seq LIMIT $2",
                    &[&signal_ids, &rows],
                )
                .await
                .map_err(e)?;
            for stop in stops {
                let at: i64 = stop.get(0);
                let signal_id: Option<String> = stop.get(1);
                let component: Option<String> = stop.get(2);
                let message: Option<String> = stop.get(3);
                let instance: String = stop.get(4);
                incident.entries.push(TimelineEntry::line_stopped(
                    at,
                    signal_id.as_deref(),
                    component,
                    message.as_deref(),
                    Some(&instance),
                ));
                let resumed = client
                    .query_opt(
                        "SELECT at_ms, by_whom, note FROM line_events
                         WHERE kind = 'resumed' AND instance = $1 AND at_ms >= $2 ORDER BY at_ms, seq LIMIT 1",
                        &[&instance, &at],
                    )
                    .await
                    .map_err(e)?;
                if let Some(row) = resumed {
                    let by: Option<String> = row.get(1);
                    let note: Option<String> = row.get(2);
                    incident.entries.push(TimelineEntry::line_resumed(
                        row.get(0),
                        by.as_deref(),
                        note.as_deref(),
                        Some(&instance),
                    ));
                }
            }
            for row in client
                .query(
                    "SELECT at_ms, signal_id, health, summary, report FROM diagnostics
                     WHERE signal_id = ANY($1) ORDER BY at_ms, seq LIMIT $2",
                    &[&signal_ids, &rows],
                )
                .await
                .map_err(e)?
            {
                let health: String = row.get(2);
                let summary: String = row.get(3);
                let signal_id: String = row.get(1);
                incident.entries.push(TimelineEntry::diagnostics(
                    row.get(0),
                    &signal_id,
                    &health,
                    &summary,
                    row.get(4),
                ));
            }
        }
        Ok(incident)
    }
}

/// The first column of every row `sql` (one parameter) returns, as text.
async fn strings(
    client: &Client,
    sql: &str,
    param: &(dyn ToSql + Sync),
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client.query(sql, &[param]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
