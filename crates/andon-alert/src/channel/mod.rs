//! Channels: each runs on its own task with its own bounded queue, delivery budget, retries and
//! counters, so that a slow or dead channel never delays another.

mod alertmanager;
mod email;
mod file;
#[cfg(test)]
mod fixtures;
mod log;
mod pagerduty;
mod redact;
mod slack;
mod transport;
mod webhook;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use andon_core::config::ChannelConfig;
use andon_core::{AlertSeverity, AndonSignal, MetricsSink, SignalSink};
use andon_runtime::{WorkQueue, work_queue};

use crate::error::AlertError;
use crate::notification::{AlertStatus, Notification};
use crate::outbox::Outbox;
use worker::{Bucket, Worker};

pub(crate) use alertmanager::alertmanager_body;
pub(crate) use pagerduty::host_name;
pub(crate) use pagerduty::pagerduty_events;
pub(crate) use slack::slack_body;
pub(crate) use transport::HttpTransport;

/// A time as RFC 3339 with milliseconds, as the services' payloads write it.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// What a channel task needs besides its own configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) failure_threshold: u32,
    /// How long an Alertmanager alert stays active without being sent again.
    pub(crate) alert_valid_for: Duration,
    pub(crate) outbox: Option<Arc<Outbox>>,
    pub(crate) hooks: Arc<Hooks>,
    pub(crate) critical: Arc<CriticalTracker>,
}

/// Where channel tasks report: given to the manager's builder, fixed once it is built.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    pub(crate) self_sink: Option<Arc<dyn SignalSink>>,
    pub(crate) metrics: Option<Arc<dyn MetricsSink>>,
    /// Where `log` channels write (standard error without one).
    pub(crate) log: Option<Arc<dyn andon_core::LogSink>>,
}

impl Hooks {
    /// Writes a record about alerting itself through the log sink, or as a JSON line to
    /// standard error without one; a refused record is dropped (best effort).
    pub(crate) fn log(&self, entry: andon_core::LogEntry) {
        log::write_now(self, entry);
    }

    pub(crate) fn metrics(&self) -> Option<Arc<dyn MetricsSink>> {
        self.metrics.clone()
    }

    fn self_sink(&self) -> Option<Arc<dyn SignalSink>> {
        self.self_sink.clone()
    }
}

/// One notification waiting for a channel.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) notification: Arc<Notification>,
    /// The outbox key: the notification's key and the channel's name.
    pub(crate) outbox_key: String,
    /// Set for CRITICAL firing notifications, whose total failure raises a RED signal.
    pub(crate) critical: bool,
}

/// Why one delivery attempt failed.
#[derive(Debug)]
pub(crate) struct DeliveryError {
    pub(crate) retryable: bool,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) message: String,
}

impl DeliveryError {
    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            retryable: false,
            retry_after: None,
            message: message.into(),
        }
    }

    pub(crate) fn transient(message: impl Into<String>) -> Self {
        DeliveryError {
            retryable: true,
            retry_after: None,
            message: message.into(),
        }
    }
}

/// The delivery counters of one channel; what is pending, dropped and the last error are
/// its [`WorkQueue`]'s.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    digests: AtomicU64,
    latency_micros: AtomicU64,
    consecutive_failures: AtomicU32,
    failing: AtomicBool,
}

/// A channel's counters as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReport {
    /// The channel's name.
    pub name: String,
    /// `slack`, `pagerduty`, `email`, `alertmanager`, `webhook` or `file`.
    pub kind: &'static str,
    /// Notifications delivered (a digest counts once).
    pub sent: u64,
    /// Notifications given up on after retries, or refused with a 4xx.
    pub failed: u64,
    /// Attempts that failed and were tried again (a notification delivered on its third try counts
    /// 2).
    pub retries: u64,
    /// Notifications refused because the channel's queue was full.
    pub dropped: u64,
    /// Digests sent because the channel was over its delivery budget.
    pub digests: u64,
    /// Notifications queued or being delivered.
    pub pending: u64,
    /// Whether the channel failed `failure_threshold` times in a row (a YELLOW was raised).
    pub failing: bool,
    /// The last failure, secrets redacted.
    pub last_error: Option<String>,
    /// The mean time of a successful delivery, retries included.
    pub mean_latency: Option<Duration>,
}

/// Tracks CRITICAL notifications across their channels: if every one fails, a RED is raised.
#[derive(Debug, Default)]
pub(crate) struct CriticalTracker(Mutex<HashMap<String, (usize, usize, usize)>>);

impl CriticalTracker {
    pub(crate) fn register(&self, key: &str, channels: usize) {
        if channels > 0 {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            map.insert(key.to_owned(), (channels, 0, channels));
        }
    }

    /// Records one channel's outcome; true when the last channel reported and every one failed.
    fn report(&self, key: &str, delivered: bool) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some((remaining, failed, total)) = map.get_mut(key) else {
            return false;
        };
        *remaining = remaining.saturating_sub(1);
        if !delivered {
            *failed += 1;
        }
        if *remaining == 0 {
            let all_failed = *failed == *total;
            map.remove(key);
            return all_failed;
        }
        false
    }
}

/// The sending side of a channel task.
#[derive(Debug, Clone)]
pub(crate) struct ChannelHandle {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    /// The channel's bounded queue: its depth is the pending count, its drops and last error
    /// are the channel's.
    queue: WorkQueue<Job>,
    stats: Arc<Stats>,
    /// To finish a job that could not be queued, so that no restart replays it.
    outbox: Option<Arc<Outbox>>,
    critical: Arc<CriticalTracker>,
    hooks: Arc<Hooks>,
    /// Stops the channel's task where it is (see [`ChannelHandle::abort`]).
    task: Arc<tokio::task::AbortHandle>,
}

impl ChannelHandle {
    /// Builds the channel's transport and starts its task on the current tokio runtime.
    pub(crate) fn spawn(
        name: &str,
        config: &ChannelConfig,
        settings: Settings,
    ) -> Result<Self, AlertError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AlertError::Channel {
            channel: name.to_owned(),
            message: "no tokio runtime: create the alert manager inside a tokio runtime".to_owned(),
        })?;
        let transport = Transport::build(name, config, &settings)?;
        let (queue, rx) = work_queue(settings.queue_capacity);
        let stats = Arc::new(Stats::default());
        let outbox = settings.outbox.clone();
        let critical = Arc::clone(&settings.critical);
        let hooks = Arc::clone(&settings.hooks);
        let worker = Worker {
            name: name.to_owned(),
            kind: config.kind(),
            transport,
            settings,
            stats: Arc::clone(&stats),
            bucket: config.budget_per_minute().map(Bucket::new),
        };
        let task = Arc::new(runtime.spawn(worker.run(rx)).abort_handle());
        Ok(ChannelHandle {
            name: name.to_owned(),
            kind: config.kind(),
            queue,
            stats,
            outbox,
            critical,
            hooks,
            task,
        })
    }

    /// Stops the channel's task at its next await, without finishing what it holds: the
    /// notifications still queued or being retried stay pending in the outbox (nothing marks
    /// them done), so the next start replays them. For a shutdown past its deadline.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }

    /// Queues a job without waiting; false (counted) when the queue is full or closed. A job
    /// that could not be queued is marked done in the outbox (a restart must not page for it
    /// later), and counts as a failed channel of its critical notification.
    pub(crate) fn enqueue(&self, job: Job) -> bool {
        match self.queue.try_push(job) {
            Ok(()) => true,
            Err(e) => {
                let job = e.into_inner();
                if let Some(outbox) = &self.outbox {
                    outbox.done(&job.outbox_key, false);
                }
                if job.critical && self.critical.report(&job.notification.key, false) {
                    self.raise_detached(AndonSignal::red(format!(
                        "every channel failed to deliver critical alert `{}`: nobody was notified",
                        job.notification.title
                    )));
                }
                false
            }
        }
    }

    /// Raises a signal from a task of its own: `enqueue` never waits.
    fn raise_detached(&self, signal: AndonSignal) {
        let (Some(sink), Ok(runtime)) = (
            self.hooks.self_sink(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        let signal = signal
            .with_component("andon-alert")
            .with_attribute("channel", self.name.clone());
        runtime.spawn(async move {
            let _ = sink.on_signal(&signal).await;
        });
    }

    pub(crate) fn pending(&self) -> u64 {
        self.queue.counts().depth()
    }

    pub(crate) fn report(&self) -> ChannelReport {
        let s = &self.stats;
        let sent = s.sent.load(Ordering::Relaxed);
        let latency = s.latency_micros.load(Ordering::Relaxed);
        let queue = self.queue.counts();
        ChannelReport {
            name: self.name.clone(),
            kind: self.kind,
            sent,
            failed: s.failed.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            dropped: queue.dropped(),
            digests: s.digests.load(Ordering::Relaxed),
            pending: queue.depth(),
            failing: s.failing.load(Ordering::Relaxed),
            last_error: queue.last_error(),
            mean_latency: (sent > 0).then(|| Duration::from_micros(latency / sent)),
        }
    }
}

/// How a channel sends.
#[derive(Debug)]
enum Transport {
    Http(transport::HttpTransport),
    Email(email::EmailTransport),
    File(PathBuf),
    Log(log::LogTransport),
}

impl Transport {
    fn build(name: &str, config: &ChannelConfig, settings: &Settings) -> Result<Self, AlertError> {
        Ok(match config {
            ChannelConfig::Email(_) => Transport::Email(email::EmailTransport::build(
                name,
                config,
                settings.timeout,
            )?),
            ChannelConfig::File { path } => Transport::File(path.clone()),
            ChannelConfig::Log {} => Transport::Log(log::LogTransport::new(&settings.hooks)),
            _ => Transport::Http(transport::HttpTransport::build(name, config, settings)?),
        })
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        match self {
            Transport::Http(t) => t.deliver(notification).await,
            Transport::Email(t) => t.deliver(notification).await,
            Transport::File(path) => file::append_line(path, notification).await,
            Transport::Log(t) => t.deliver(notification).await,
        }
    }
}

/// Whether a notification should be tracked as critical across its channels.
pub(crate) fn is_critical_firing(notification: &Notification) -> bool {
    notification.severity == AlertSeverity::Critical && notification.status == AlertStatus::Firing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_critical_tracker_reports_only_when_every_channel_failed() {
        let t = CriticalTracker::default();
        t.register("a", 2);
        assert!(!t.report("a", false));
        assert!(t.report("a", false));
        t.register("b", 2);
        assert!(!t.report("b", true));
        assert!(!t.report("b", false));
        assert!(!t.report("unknown", false));
    }
}
