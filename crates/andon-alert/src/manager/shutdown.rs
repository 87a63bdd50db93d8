//! Shutdown within a deadline: deliver what the channels can until the deadline, then stop
//! their tasks where they are. What was not delivered stays pending in the outbox (nothing marks
//! it done), so the next start on the same `[alerts] outbox_path` replays it; the result and a
//! log record say how many, and `AlertStats::left_at_shutdown` counts them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{LogEntry, LogLevel};

use super::AlertManager;
use crate::channel::ChannelHandle;

/// The deadline of [`SignalSink::shutdown`](andon_core::SignalSink::shutdown) on the manager:
/// under the umbrella's 10 s per part, so that the manager reports what it left behind itself.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(9);

/// What [`AlertManager::shutdown_within`] left undone at its deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Channel deliveries (one notification to one channel) not finished at the deadline.
    pub undelivered: u64,
    /// Of those, how many the outbox keeps for the next start to replay (all of them with
    /// `[alerts] outbox_path`, none without).
    pub kept_in_outbox: u64,
    /// Notifications still waiting for their diagnostics snapshot: never queued, so lost.
    pub lost: u64,
}

impl ShutdownReport {
    /// Whether everything was delivered (or given up on) before the deadline.
    pub fn is_complete(&self) -> bool {
        self.undelivered == 0 && self.lost == 0
    }
}

impl AlertManager {
    /// Stops the manager within `deadline`: the channels deliver what they can until then
    /// (retries included), then their tasks stop where they are. Undelivered notifications
    /// stay in the outbox (`[alerts] outbox_path`) and are replayed by the next manager that
    /// opens it; the report and a WARNING log record say how many, and
    /// [`AlertStats::left_at_shutdown`](crate::AlertStats::left_at_shutdown) counts them.
    /// Later signals and evaluations are refused
    /// ([`AlertError::ShutDown`](crate::AlertError::ShutDown)). Returns at most a few
    /// milliseconds after `deadline`, whatever the channels do.
    pub async fn shutdown_within(&self, deadline: Duration) -> ShutdownReport {
        // A little of the deadline is kept for stopping the tasks and saying what was left.
        let margin = (deadline / 10).min(Duration::from_millis(200));
        let flushed = self.flush_within(deadline.saturating_sub(margin)).await;
        self.inner.shut_down.store(true, Ordering::Relaxed);
        let channels = std::mem::take(&mut *self.inner.write_channels());
        if flushed {
            // Every task is idle: dropping the handles ends them.
            return ShutdownReport::default();
        }
        channels.values().for_each(ChannelHandle::abort);
        let undelivered: u64 = channels.values().map(ChannelHandle::pending).sum();
        let report = ShutdownReport {
            undelivered,
            kept_in_outbox: if self.inner.outbox.is_some() {
                undelivered
            } else {
                0
            },
            lost: self.inner.in_snapshot.load(Ordering::Relaxed),
        };
        self.inner
            .counters
            .left_at_shutdown
            .fetch_add(undelivered, Ordering::Relaxed);
        if !report.is_complete() {
            self.inner
                .hooks
                .log(self.shutdown_record(deadline, &report));
        }
        report
    }

    /// The WARNING record of a shutdown that left notifications undelivered.
    fn shutdown_record(&self, deadline: Duration, report: &ShutdownReport) -> LogEntry {
        let whereto = match &self.inner.outbox {
            Some(outbox) => format!(
                "kept in the outbox {} for the next start to replay",
                outbox.path().display()
            ),
            None => "lost: set [alerts] outbox_path to keep them across a restart".to_owned(),
        };
        let mut message = format!(
            "the alert manager shut down after {deadline:?} with {} delivery(ies) unfinished, {whereto}",
            report.undelivered
        );
        if report.lost > 0 {
            message.push_str(&format!(
                "; {} notification(s) waiting for diagnostics were lost",
                report.lost
            ));
        }
        LogEntry {
            level: LogLevel::Warning,
            message,
            component: Some("andon-alert".to_owned()),
            fields: vec![
                ("undelivered".to_owned(), report.undelivered.into()),
                ("kept_in_outbox".to_owned(), report.kept_in_outbox.into()),
                ("lost".to_owned(), report.lost.into()),
            ],
        }
    }
}
