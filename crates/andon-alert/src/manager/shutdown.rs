//! Flush, and shutdown within a deadline, inherent and through [`Component`]. Shutdown: stop
//! the periodic evaluation, deliver what the channels can until the deadline, then stop their
//! tasks where they are. What was not delivered stays pending in the outbox (nothing marks
//! it done), so the next start on the same `[alerts] outbox_path` replays it; the result and a
//! log record say how many, and `AlertStats::left_at_shutdown` counts them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{LogEntry, LogLevel, ShutdownReport};

use super::AlertManager;
use crate::channel::ChannelHandle;
use crate::error::AlertError;

/// The deadline of [`SignalSink::shutdown`](andon_core::SignalSink::shutdown) on the manager
/// (which calls [`AlertManager::shutdown`] with it):
/// under the umbrella's 10 s per part, so that the manager reports what it left behind itself.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(9);

/// What a shutdown left undone at its deadline, for the WARNING record; the caller gets it
/// as an [`andon_core::ShutdownReport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Left {
    /// Channel deliveries (one notification to one channel) not finished at the deadline.
    undelivered: u64,
    /// Of those, how many the outbox keeps for the next start to replay (all of them with
    /// `[alerts] outbox_path`, none without).
    kept_in_outbox: u64,
    /// Notifications still waiting for their diagnostics snapshot: never queued, so lost.
    lost: u64,
}

impl Left {
    /// Whether everything was delivered (or given up on) before the deadline.
    fn is_complete(&self) -> bool {
        self.undelivered == 0 && self.lost == 0
    }

    /// The contract's report: `undelivered` counts every notification not delivered (those
    /// lost waiting for diagnostics too), `kept` those the outbox keeps for the next start.
    fn report(self, deadline: Duration) -> ShutdownReport {
        if self.is_complete() {
            return ShutdownReport::complete("alert");
        }
        let undelivered = self.undelivered + self.lost;
        let lost = self.lost + self.undelivered.saturating_sub(self.kept_in_outbox);
        ShutdownReport::incomplete(
            "alert",
            undelivered,
            format!(
                "{undelivered} notification(s) not delivered within {deadline:?}: {} kept in the outbox for the next start, {lost} lost",
                self.kept_in_outbox,
            ),
        )
        .with_kept(self.kept_in_outbox)
    }
}

impl AlertManager {
    /// Stops the manager within `deadline`: the periodic evaluation
    /// ([`start`](AlertManager::start)) stops first, letting an evaluation in progress finish;
    /// the channels deliver what they can until the deadline (retries included), then their
    /// tasks stop where they are. Undelivered notifications
    /// stay in the outbox (`[alerts] outbox_path`) and are replayed by the next manager that
    /// opens it; the report and a WARNING log record say how many, and
    /// [`AlertStats::left_at_shutdown`](crate::AlertStats::left_at_shutdown) counts them.
    /// Later signals and evaluations are refused
    /// ([`AlertError::ShutDown`](crate::AlertError::ShutDown)). Returns at most a few
    /// milliseconds after `deadline`, whatever the channels do.
    ///
    /// In the report, `undelivered` counts the notifications not delivered and `kept` those
    /// of them the outbox keeps; the rest are lost. A second shutdown reports nothing left.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        // A little of the deadline is kept for stopping the tasks and saying what was left.
        let margin = (deadline / 10).min(Duration::from_millis(200));
        let until = tokio::time::Instant::now() + deadline.saturating_sub(margin);
        // No new evaluation from now on; one in progress finishes (and queues what it found).
        self.stop_evaluation(deadline.saturating_sub(margin)).await;
        let flushed = self
            .flush_within(until.saturating_duration_since(tokio::time::Instant::now()))
            .await;
        self.inner.shut_down.store(true, Ordering::Relaxed);
        let channels = std::mem::take(&mut *self.inner.write_channels());
        if flushed {
            // Every task is idle: dropping the handles ends them.
            return ShutdownReport::complete("alert");
        }
        channels.values().for_each(ChannelHandle::abort);
        let undelivered: u64 = channels.values().map(ChannelHandle::pending).sum();
        let left = Left {
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
        if !left.is_complete() {
            self.inner.hooks.log(self.shutdown_record(deadline, &left));
        }
        left.report(deadline)
    }

    /// The WARNING record of a shutdown that left notifications undelivered.
    fn shutdown_record(&self, deadline: Duration, report: &Left) -> LogEntry {
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

impl AlertManager {
    /// Delivers what is due: waits until every channel has delivered (or given up on, after
    /// its retries) what it holds, at most as long as one delivery may take with its retries
    /// (capped at two minutes). What is still pending then stays queued; this never fails.
    pub async fn flush(&self) -> Result<(), AlertError> {
        self.flush_within(self.flush_budget()).await;
        Ok(())
    }
}

andon_core::impl_component!(AlertManager, "alert");
