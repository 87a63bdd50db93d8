//! `GET /v1/history/...`: the Pareto and response times that `andon report` reads (any build),
//! and the signals, downtime and incident timeline, whose rows are the history's own records
//! (`full` builds, which have the history).

use serde::{Deserialize, Serialize};

/// The time range an analysis read, `[from, to)` as RFC 3339: the one asked for, cut to what
/// the history keeps. andon-core's [`Window`](andon::core::history::Window), the one the
/// history reads.
pub use andon::core::history::Window as HistoryWindow;

/// The answer to `GET /v1/history/pareto`: problem signals counted by a key, most frequent
/// first, with cumulative percentages. andon-core's [`Pareto`](andon::core::history::Pareto),
/// the one the history answers with.
pub use andon::core::history::Pareto as ParetoReport;

/// One bar of a [`ParetoReport`]: andon-core's [`ParetoRow`](andon::core::history::ParetoRow).
pub use andon::core::history::ParetoRow as ParetoBar;

/// What a [`ParetoReport`] counts by: `component`, `fingerprint` (the message without numbers
/// and ids) or `instance`.
pub use andon::core::history::ParetoBy;

/// The answer to `GET /v1/history/mttr`: mean time to acknowledge and to resolve, over the
/// alerts fired in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseTimesReport {
    /// The window read.
    pub window: HistoryWindow,
    /// `component` (the default) or `instance`: what each row's `component` holds.
    pub by: String,
    /// One row per component (or instance).
    pub components: Vec<ResponseTimes>,
}

/// The response times of one component's (or instance's) alerts: andon-core's type, the
/// one the history answers with.
pub use andon::core::history::ResponseTimes;

/// The answer to `GET /v1/history/signals`: the signals the history kept in the window, newest
/// first, as the history records them.
#[cfg(feature = "full")]
#[cfg_attr(docsrs, doc(cfg(feature = "full")))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistorySignals {
    /// The window read.
    pub window: HistoryWindow,
    /// The signals, at most the query's `limit`.
    pub signals: Vec<andon::history::StoredSignal>,
}

/// The answer to `GET /v1/history/downtime`: how long the line was stopped, per bucket of time.
#[cfg(feature = "full")]
#[cfg_attr(docsrs, doc(cfg(feature = "full")))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DowntimeReport {
    /// The window read.
    pub window: HistoryWindow,
    /// The buckets' length, in seconds (aligned to the Unix epoch: days start at UTC midnight).
    pub bucket_seconds: u64,
    /// How long the line was stopped in the whole window, in seconds.
    pub stopped_seconds: f64,
    /// The buckets, oldest first.
    pub buckets: Vec<andon::history::Downtime>,
    /// With `by=instance`: the same per agent of the fleet; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<std::collections::BTreeMap<String, InstanceDowntime>>,
}

/// One agent's downtime in a [`DowntimeReport`] by instance.
#[cfg(feature = "full")]
#[cfg_attr(docsrs, doc(cfg(feature = "full")))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceDowntime {
    /// How long its line was stopped in the window, in seconds.
    pub stopped_seconds: f64,
    /// How many stops began in the window.
    pub stops: u64,
    /// Its buckets, oldest first.
    pub buckets: Vec<andon::history::Downtime>,
}

/// The answer to `GET /v1/history/timeline/{key}`: one incident in time order, one page of it,
/// with links to the trace UI when `[tracer] ui_url` is set.
#[cfg(feature = "full")]
#[cfg_attr(docsrs, doc(cfg(feature = "full")))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineView {
    /// The trace id or alert fingerprint asked for.
    pub key: String,
    /// The trace ids involved (open them in the trace UI).
    pub trace_ids: Vec<String>,
    /// The alert fingerprints involved.
    pub fingerprints: Vec<String>,
    /// The steps: signal, alert fired, acknowledged, escalated, resolved, line stopped and
    /// resumed, diagnostics.
    pub entries: Vec<TimelineStep>,
    /// With `[tracer] ui_url`: each of `trace_ids` to its link in the trace UI; absent without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_urls: Option<std::collections::BTreeMap<String, String>>,
    /// The offset of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// One step of a [`TimelineView`]: the history's record, and its trace's link.
#[cfg(feature = "full")]
#[cfg_attr(docsrs, doc(cfg(feature = "full")))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineStep {
    /// The step as the history records it (`at`, `kind`, `summary`, `component`, `trace_id`,
    /// and the free-form `detail`).
    #[serde(flatten)]
    pub entry: andon::history::TimelineEntry,
    /// With `[tracer] ui_url` and a `trace_id`: the step's trace in the trace UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}
