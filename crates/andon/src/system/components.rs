//! The components a system runs, for callers that want more than a signal: the board, recent
//! signals, and each enabled component by feature.

use std::sync::Arc;

use andon_core::AndonSignal;

use super::AndonSystem;
use crate::board::BoardSnapshot;

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

    /// The logger, when the `log` feature is on.
    #[cfg(feature = "log")]
    #[cfg_attr(docsrs, doc(cfg(feature = "log")))]
    pub fn logger(&self) -> Option<&andon_log::AndonLogger> {
        self.inner.components.logger.as_deref()
    }

    /// The metrics, when the `metrics` feature is on and `[metrics] enabled`.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(&self) -> Option<&andon_metrics::AndonMetrics> {
        self.inner.components.metrics.as_deref()
    }

    /// The tracer, when the `trace` feature is on and `[tracer] enabled`.
    #[cfg(feature = "trace")]
    #[cfg_attr(docsrs, doc(cfg(feature = "trace")))]
    pub fn tracer(&self) -> Option<&andon_trace::AndonTracer> {
        self.inner.components.tracer.as_deref()
    }

    /// The observer, when the `observe` feature is on and `[observer] enabled`.
    #[cfg(feature = "observe")]
    #[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
    pub fn observer(&self) -> Option<&andon_observe::AndonObserver> {
        self.inner.components.observer.as_deref()
    }

    /// The alert manager, when the `alert` feature is on and `[alerts] enabled`.
    #[cfg(feature = "alert")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
    pub fn alerts(&self) -> Option<&andon_alert::AlertManager> {
        self.inner.components.alerts.as_deref()
    }

    /// The history store, when the `history` feature is on and `[history] enabled` (or one was
    /// given to the builder): query it for Pareto, MTTA/MTTR, downtime and timelines.
    #[cfg(feature = "history")]
    #[cfg_attr(docsrs, doc(cfg(feature = "history")))]
    pub fn history(&self) -> Option<&andon_history::HistoryBackend> {
        self.inner.components.history.as_deref()
    }
}
