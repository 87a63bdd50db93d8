//! The components a system runs, for callers that want more than a signal: the board, recent
//! signals, and each enabled component by feature.

use std::sync::Arc;

use andon_core::AndonSignal;

use super::AndonSystem;
use crate::board::BoardSnapshot;

/// One accessor per component, each behind its feature: `"feature" field: Type;` gives
/// `pub fn field(&self) -> Option<&Type>`, the component built into `Components::field`.
macro_rules! component_accessors {
    ($($(#[doc = $doc:literal])* $feature:literal $field:ident: $component:ty;)*) => {$(
        $(#[doc = $doc])*
        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        pub fn $field(&self) -> Option<&$component> {
            self.inner.components.$field.as_deref()
        }
    )*};
}

impl AndonSystem {
    /// The board: the line and every station's light.
    pub fn board(&self) -> BoardSnapshot {
        BoardSnapshot {
            line: self.inner.line.state(),
            stations: self.inner.board.stations(),
        }
    }

    /// The most recent signals, newest first.
    pub fn recent_signals(&self, limit: usize) -> Vec<Arc<AndonSignal>> {
        self.inner.board.recent(limit)
    }

    component_accessors! {
        /// The logger, when the `log` feature is on.
        "log" logger: andon_log::AndonLogger;
        /// The metrics, when the `metrics` feature is on and `[metrics] enabled`.
        "metrics" metrics: andon_metrics::AndonMetrics;
        /// The tracer, when the `trace` feature is on and `[tracer] enabled`.
        "trace" tracer: andon_trace::AndonTracer;
        /// The observer, when the `observe` feature is on and `[observer] enabled`.
        "observe" observer: andon_observe::AndonObserver;
        /// The alert manager, when the `alert` feature is on and `[alerts] enabled`.
        "alert" alerts: andon_alert::AlertManager;
        /// The history store, when the `history` feature is on and `[history] enabled` (or one
        /// was given to the builder): query it for Pareto, MTTA/MTTR, downtime and timelines.
        "history" history: andon_history::HistoryBackend;
    }
}
