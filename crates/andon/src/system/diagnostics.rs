//! Diagnostics: the snapshot a RED takes in the background (one at a time, shared within a
//! second), the last one kept, and what a reader is shown.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{AndonError, DiagnosticsReport, HistoryRecord, SignalId};

use super::{AndonSystem, SystemEvent};

/// A RED within this long of the last diagnostics snapshot shares it instead of taking its own.
const DIAGNOSTICS_REUSED_FOR: Duration = Duration::from_secs(1);

impl AndonSystem {
    /// The diagnostics snapshot taken for the last RED signal.
    pub fn last_diagnostics(&self) -> Option<Arc<DiagnosticsReport>> {
        self.inner
            .last_diagnostics
            .lock()
            .ok()
            .and_then(|d| d.clone())
    }

    /// The diagnostics to show a reader, if an observer is enabled. With the built-in
    /// observer: its latest scheduled check (`taken_at` tells its age; a fresh measurement only
    /// before the first check), so that reads, however many, never re-sample the host nor
    /// shorten the window the next health check judges by. A source given to the builder is
    /// asked for a snapshot.
    pub async fn diagnostics(&self) -> Option<Result<DiagnosticsReport, AndonError>> {
        let source = self.inner.diagnostics.as_ref()?;
        #[cfg(feature = "observe")]
        if let Some(observer) = self.inner.components.observer.as_ref().filter(|observer| {
            // The built-in observer is the source (not one given to the builder).
            std::ptr::addr_eq(Arc::as_ptr(observer), Arc::as_ptr(source))
        }) {
            return Some(observer.current_report().await.map_err(AndonError::from));
        }
        Some(source.snapshot().await)
    }

    pub(super) fn snapshot_in_background(&self, signal: SignalId) {
        let Some(source) = self.inner.diagnostics.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // A RED storm shares recent diagnostics: measuring the host for every RED would keep a
        // core busy with it and slow the callers it is meant to help.
        if let Some(recent) = self.last_diagnostics().filter(|d| {
            d.taken_at
                .elapsed()
                .is_ok_and(|age| age < DIAGNOSTICS_REUSED_FOR)
        }) {
            if let Some(history) = &self.inner.history {
                history.record(HistoryRecord::Diagnostics {
                    signal,
                    report: recent,
                });
            }
            return;
        }
        // One snapshot at a time: a storm of REDs must not queue a measurement each.
        let running = Arc::clone(&self.inner.snapshot_running);
        if running.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let result = source.snapshot().await;
            running.store(false, Ordering::Release);
            let Ok(report) = result else {
                return;
            };
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let report = Arc::new(report);
            if let Ok(mut last) = inner.last_diagnostics.lock() {
                *last = Some(Arc::clone(&report));
            }
            if let Some(history) = &inner.history {
                history.record(HistoryRecord::Diagnostics {
                    signal,
                    report: Arc::clone(&report),
                });
            }
            let _ = inner.events.send(SystemEvent::Diagnostics(report));
        });
    }
}
