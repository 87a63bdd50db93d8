//! The PostgreSQL writer thread: takes batches from the bounded queue and commits each in one
//! transaction, with one multi-row `INSERT ... SELECT FROM unnest(...)` for the signals and one
//! upsert for their hourly counts. While the server is away it holds the batch and reconnects
//! with backoff; records keep arriving in the queue, up to its bounds.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use andon_core::HistoryRecord;
use andon_core::config::Secret;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

use super::{RECONNECTS_TOTAL, error, reconnect_backoff};
use crate::error::HistoryError;
use crate::fingerprint::fingerprint;
use crate::queue::WriterEnds;
use crate::rows::{Cell, Row, row_of};
use crate::schema::HOUR_MS;
use crate::store::millis;

/// How often retention by age runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Connects one client, its connection driven on the current runtime.
pub(crate) async fn connect(
    config: &tokio_postgres::Config,
    tls: &super::tls::MakeRustls,
) -> Result<Client, HistoryError> {
    let (client, connection) = config
        .connect(tls.clone())
        .await
        .map_err(|e| super::tls::explain(error("connect", &e)))?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the writer notices the
        // latter on its next statement.
        let _ = connection.await;
    });
    Ok(client)
}

/// The writer thread's state.
pub(crate) struct Worker {
    pub(crate) ends: WriterEnds,
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) tls: super::tls::MakeRustls,
    pub(crate) instance: String,
    pub(crate) batch_size: usize,
    pub(crate) retention_age: Duration,
    pub(crate) url: Secret,
}

/// Whether a failed statement is worth retrying on a new connection: the connection was lost
/// or the server is shutting down or starting, rather than the server refusing the data.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            let class = &code.code()[..2.min(code.code().len())];
            matches!(class, "08" | "57" | "53" | "40")
        }
    }
}

impl Worker {
    pub(crate) fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                self.ends
                    .set_last_error(format!("cannot start the PostgreSQL writer: {e}"));
                return self.ends.drain_after_stop();
            }
        };
        runtime.block_on(self.serve());
    }

    async fn serve(&mut self) {
        let mut client: Option<Client> = None;
        let mut batch: Vec<HistoryRecord> = Vec::with_capacity(self.batch_size);
        let mut next_retention = Instant::now() + RETENTION_INTERVAL;
        let mut stop = false;
        while !stop {
            // A blocking receive on this thread's own runtime: nothing else runs on it but the
            // connection, which is idle between batches.
            let wait = next_retention
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200));
            stop = self.ends.fill_batch(&mut batch, self.batch_size, wait);
            if !batch.is_empty() {
                self.write(&mut client, &mut batch).await;
            }
            if Instant::now() >= next_retention {
                if let Some(c) = client.as_mut() {
                    self.retain(c).await;
                }
                next_retention = Instant::now() + RETENTION_INTERVAL;
            }
        }
        self.ends.drain_after_stop();
    }

    /// Commits `batch`, reconnecting and retrying while the server is away; gives up (counting
    /// the batch as failed) only when the server refuses the data, or after shutdown began.
    async fn write(&self, client: &mut Option<Client>, batch: &mut Vec<HistoryRecord>) {
        let count = batch.len() as u64;
        let mut backoff = reconnect_backoff();
        let mut attempts_while_stopping = 0;
        let outcome = loop {
            if client.as_ref().is_none_or(Client::is_closed) {
                match connect(&self.pg, &self.tls).await {
                    Ok(c) => {
                        *client = Some(c);
                        if let Some(sink) = &self.ends.metrics {
                            sink.add_counter(RECONNECTS_TOTAL, &[], 1);
                        }
                    }
                    Err(e) => {
                        self.ends.set_last_error(self.url.redact_in(&e.to_string()));
                        if self.give_up(&mut attempts_while_stopping) {
                            break Err(());
                        }
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                }
            }
            let Some(c) = client.as_mut() else { continue };
            match write_batch(c, &self.instance, batch).await {
                Ok(()) => break Ok(()),
                Err(e) => {
                    let message = self.url.redact_in(&error("write", &e).to_string());
                    self.ends.set_last_error(message);
                    if !is_transient(&e) {
                        break Err(());
                    }
                    *client = None;
                    if self.give_up(&mut attempts_while_stopping) {
                        break Err(());
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        };
        batch.clear();
        self.ends.batch_done(count, outcome.is_ok());
    }

    /// After shutdown began, a lost server gets three more tries, then the batch is counted.
    fn give_up(&self, attempts: &mut u32) -> bool {
        if self.ends.shutdown_began() {
            *attempts += 1;
            *attempts > 3
        } else {
            false
        }
    }

    async fn retain(&self, client: &mut Client) {
        if self.retention_age.is_zero() {
            return;
        }
        let Some(cutoff) = SystemTime::now().checked_sub(self.retention_age) else {
            return;
        };
        let cutoff = millis(cutoff);
        let mut deleted = 0_u64;
        for table in [
            "signals",
            "alert_events",
            "line_events",
            "diagnostics",
            "heartbeats",
        ] {
            match client
                .execute(
                    &format!("DELETE FROM {table} WHERE instance = $1 AND at_ms < $2"),
                    &[&self.instance, &cutoff],
                )
                .await
            {
                Ok(n) => deleted += n,
                Err(e) => {
                    self.ends.set_last_error(format!(
                        "retention: {}",
                        self.url.redact_in(&error("retain", &e).to_string())
                    ));
                    return;
                }
            }
        }
        let _ = client
            .execute(
                "DELETE FROM signal_counts WHERE instance = $1 AND hour < $2",
                &[&self.instance, &cutoff.div_euclid(HOUR_MS)],
            )
            .await;
        self.ends.add_retention_deleted(deleted);
    }
}

/// The columns of a batch's signals, one vector per column (for `unnest`).
#[derive(Default)]
struct SignalColumns {
    id: Vec<String>,
    at: Vec<i64>,
    color: Vec<&'static str>,
    component: Vec<Option<String>>,
    message: Vec<String>,
    fingerprint: Vec<String>,
    trace_id: Vec<Option<String>>,
    attributes: Vec<Option<String>>,
}

pub(crate) async fn write_batch(
    client: &mut Client,
    instance: &str,
    batch: &[HistoryRecord],
) -> Result<(), tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    let mut signals = SignalColumns::default();
    for record in batch {
        match record {
            HistoryRecord::Signal(signal) => {
                signals.id.push(signal.id().to_string());
                signals.at.push(millis(signal.timestamp()));
                signals.color.push(signal.color().as_str());
                signals.component.push(signal.component().map(text));
                signals.message.push(text(signal.message()));
                signals
                    .fingerprint
                    .push(text(&fingerprint(signal.message())));
                signals.trace_id.push(signal.trace_id().map(text));
                signals.attributes.push(
                    (!signal.attributes().is_empty())
                        .then(|| serde_json::to_string(signal.attributes()).ok())
                        .flatten(),
                );
            }
            other => {
                if let Some(row) = row_of(other) {
                    insert(&transaction, instance, row).await?;
                }
            }
        }
    }
    if !signals.id.is_empty() {
        transaction
            .execute(
                "INSERT INTO signals (instance, id, at_ms, color, component, message, fingerprint, trace_id, attributes)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
                &[
                    &instance,
                    &signals.id,
                    &signals.at,
                    &signals.color,
                    &signals.component,
                    &signals.message,
                    &signals.fingerprint,
                    &signals.trace_id,
                    &signals.attributes,
                ],
            )
            .await?;
        let mut counts: HashMap<(i64, &str, &str, &str), i64> = HashMap::new();
        for i in 0..signals.id.len() {
            *counts
                .entry((
                    signals.at[i].div_euclid(HOUR_MS),
                    signals.color[i],
                    signals.component[i].as_deref().unwrap_or("unknown"),
                    signals.fingerprint[i].as_str(),
                ))
                .or_insert(0) += 1;
        }
        let mut hour = Vec::with_capacity(counts.len());
        let mut color = Vec::with_capacity(counts.len());
        let mut component = Vec::with_capacity(counts.len());
        let mut print = Vec::with_capacity(counts.len());
        let mut n = Vec::with_capacity(counts.len());
        for ((h, c, comp, f), count) in counts {
            hour.push(h);
            color.push(c);
            component.push(comp);
            print.push(f);
            n.push(count);
        }
        transaction
            .execute(
                "INSERT INTO signal_counts (hour, instance, color, component, fingerprint, n)
                 SELECT h, $1, c, comp, f, n FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(h, c, comp, f, n)
                 ON CONFLICT (hour, instance, color, component, fingerprint)
                 DO UPDATE SET n = signal_counts.n + excluded.n",
                &[&instance, &hour, &color, &component, &print, &n],
            )
            .await?;
    }
    transaction.commit().await
}

/// `value` as PostgreSQL can keep it: its text type refuses NUL, which SQLite (and a signal's
/// message) may hold; one such byte must not fail a whole batch, so it becomes U+FFFD.
pub(crate) fn text(value: &str) -> String {
    if value.contains('\0') {
        value.replace('\0', "\u{FFFD}")
    } else {
        value.to_owned()
    }
}

/// Inserts one record's row (see [`rows`](crate::rows)) with this agent's `instance` as `$1`
/// and the columns as `$2`, `$3`, …; a text's NUL bytes become U+FFFD (see [`text`]).
async fn insert(
    tx: &Transaction<'_>,
    instance: &str,
    row: Row<'_>,
) -> Result<(), tokio_postgres::Error> {
    let marks: Vec<String> = (1..=row.cells.len() + 1).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {} (instance, {}) VALUES ({})",
        row.table,
        row.columns.join(", "),
        marks.join(", ")
    );
    let cells: Vec<Cell<'_>> = row
        .cells
        .into_iter()
        .map(|cell| match cell {
            Cell::Text(Some(value)) if value.contains('\0') => {
                Cell::Text(Some(text(&value).into()))
            }
            other => other,
        })
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&instance];
    params.extend(cells.iter().map(|cell| match cell {
        Cell::Int(value) => value as &(dyn ToSql + Sync),
        Cell::Text(value) => value,
    }));
    tx.execute(&sql, &params).await?;
    Ok(())
}
