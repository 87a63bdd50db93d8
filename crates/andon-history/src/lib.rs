//! The andon history: every signal, alert state change, line stop and resumption, and the
//! diagnostics taken for a RED, kept in an embedded SQLite database for root-cause analysis
//! and for preventing recurrence (the Knowledge of MAPE-K, Toyota's Pareto of stoppages).
//!
//! # The component contract
//!
//! [`HistoryBackend`] follows [`andon_core::contract`], like every andon component:
//! [`HistoryBackend::builder`] takes the `[history]` section, its `with_*` setters take the
//! metrics sink and the clock, and [`build`](HistoryBackendBuilder::build)`.await` opens the
//! SQLite file or connects to PostgreSQL (`[history] url`); [`HistoryBackend::flush`] and
//! [`HistoryBackend::shutdown`] (with a deadline, returning an [`andon_core::ShutdownReport`])
//! write what was accepted; [`HistoryBackend::stats`] returns [`HistoryStats`], which
//! implements [`andon_core::Stats`]; and it implements [`andon_core::Component`]. The stores
//! inside ([`SqliteHistory::builder`], [`PostgresHistory::builder`]) are also usable alone.
//!
//! [`SqliteHistory`] implements [`andon_core::HistoryStore`]: `record` only enqueues into a
//! bounded queue; a background thread commits batches in WAL mode; a full queue or a failing
//! database is counted and never blocks signalling; `flush` and `shutdown` commit what was
//! accepted. The schema is versioned with `PRAGMA user_version` ([`SCHEMA_VERSION`]). Retention
//! by age and by row count runs in the background.
//!
//! The read side answers: signals by time, component and color; the [`Timeline`] of one
//! incident by trace id or alert fingerprint; a [`Pareto`] by component or by message
//! [`fingerprint`]; MTTA and MTTR per component ([`ResponseTimes`]); line [`Downtime`] per day
//! or hour. Every query takes its window from the caller, so the clock is yours.
//!
//! With `[history] url = "postgres://…"`, [`PostgresHistory`] keeps the same records in a
//! PostgreSQL database that a fleet of agents shares (every row carrying the agent's
//! `instance`), through the same bounded queue, reconnecting with backoff while the server is
//! away; it also holds the fleet's line states ([`FleetEntry`]). [`HistoryBackend`] is either
//! store behind one async query API, with an optional instance filter and [`ParetoBy::Instance`].
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use andon_core::{AndonSignal, HistoryRecord, HistoryStore};
//! use andon_history::{ParetoBy, SqliteHistory, Window};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let history = SqliteHistory::in_memory()?; // or SqliteHistory::open("andon-history.sqlite3")
//! let now = SystemTime::now();
//! for depth in [150, 212, 180] {
//!     let signal = AndonSignal::red(format!("queue depth {depth}"))
//!         .with_component("queue-handler")
//!         .with_timestamp(now - Duration::from_secs(60));
//!     history.record(HistoryRecord::Signal(signal.into()));
//! }
//! history.record(HistoryRecord::Signal(AndonSignal::yellow("slow query").with_component("db").into()));
//! history.flush().await?;
//!
//! let pareto = history.pareto(Window::last(Duration::from_secs(3600), now), ParetoBy::Fingerprint, &[])?;
//! assert_eq!(pareto.rows[0].key, "queue depth #");
//! assert_eq!(pareto.rows[0].count, 3);
//! assert_eq!(pareto.rows[0].cumulative_percent, 100.0);
//! history.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Crate feature flags
//!
//! None: SQLite is compiled in (rusqlite's `bundled`), so no system library is needed; the
//! PostgreSQL driver (`tokio-postgres`, `deadpool-postgres`) is pure Rust, its TLS rustls with ring
//! (the URL's `sslmode` and `sslrootcert`, as libpq).
//!
//! # Related crates
//!
//! - `andon-core`: the records ([`andon_core::HistoryRecord`]) and the
//!   [`HistoryStore`](andon_core::HistoryStore) trait, and the `[history]` section.
//! - `andon` (feature `history`): builds this store from `[history]` and feeds it every signal,
//!   line change and RED diagnostics; the alert manager feeds it alert events.
//! - `andon-agent`: `andon report` and `GET /v1/history/...`.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod budget;
mod builder;
mod error;
mod fingerprint;
mod fold;
mod postgres;
mod query;
mod queue;
mod read;
mod rows;
mod schema;
mod stats;
mod store;
mod timeline;
mod timeline_rows;

pub use backend::HistoryBackend;
pub use budget::QUERY_BUDGET;
pub use builder::HistoryBackendBuilder;
pub use error::HistoryError;
pub use fingerprint::fingerprint;
pub use postgres::{
    FleetEntry, FleetLine, FleetReport, GroupBy, NO_DATA_AFTER_INTERVALS, POSTGRES_SCHEMA_VERSION,
    PostgresHistory, PostgresHistoryBuilder, default_instance, instance_of,
};
pub use query::{
    Downtime, Pareto, ParetoBy, ParetoRow, ResponseTimes, SignalQuery, StoredSignal, Window,
};
pub use schema::SCHEMA_VERSION;
pub use store::{
    Clock, DEFAULT_BUSY_TIMEOUT, DEFAULT_RETENTION_INTERVAL, HistoryStats, MEMORY, ManualClock,
    RetentionReport, SqliteHistory, SqliteHistoryBuilder, SystemClock,
};
pub use timeline::{MAX_TIMELINE_OFFSET, TIMELINE_PAGE, Timeline, TimelineEntry};
