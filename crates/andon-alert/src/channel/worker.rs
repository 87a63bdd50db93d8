//! A channel's worker task: takes jobs from the channel's bounded queue (andon-runtime's
//! [`WorkQueue`](andon_runtime::WorkQueue)), folds bursts over the rate limit into one digest,
//! delivers with retries (andon-runtime's [`Backoff`]: exponential with jitter, or the
//! receiver's `Retry-After`), records the outcome in the outbox and counters, and raises
//! signals when the channel fails or recovers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use andon_core::{AndonSignal, names};
use andon_runtime::{Backoff, WorkReceiver};
use tokio::time::Instant;

use super::{DeliveryError, Job, Settings, Stats, Transport};
use crate::notification::Notification;

/// A token bucket: `per_minute` messages a minute, bursts of a few.
#[derive(Debug)]
pub(super) struct Bucket {
    pub(super) tokens: f64,
    pub(super) capacity: f64,
    pub(super) per_second: f64,
    pub(super) last: Instant,
}

impl Bucket {
    pub(super) fn new(per_minute: u32) -> Self {
        let capacity = f64::from((per_minute / 20).max(1));
        Bucket {
            tokens: capacity,
            capacity,
            per_second: f64::from(per_minute.max(1)) / 60.0,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    fn try_take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn until_next(&mut self) -> Duration {
        self.refill();
        Duration::from_secs_f64(((1.0 - self.tokens) / self.per_second).max(0.0))
    }
}

pub(super) struct Worker {
    pub(super) name: String,
    pub(super) kind: &'static str,
    pub(super) transport: Transport,
    pub(super) settings: Settings,
    pub(super) stats: Arc<Stats>,
    pub(super) bucket: Option<Bucket>,
}

impl Worker {
    pub(super) async fn run(mut self, mut rx: WorkReceiver<Job>) {
        while let Some(job) = rx.recv().await {
            let mut batch = vec![job];
            let over_budget = self.bucket.as_mut().is_some_and(|b| !b.try_take());
            if let Some(bucket) = self.bucket.as_mut().filter(|_| over_budget) {
                // Over budget: everything that arrives until the next token goes in one digest.
                let deadline = Instant::now() + bucket.until_next();
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => break,
                        next = rx.recv() => match next {
                            Some(job) => batch.push(job),
                            None => break,
                        },
                    }
                }
                bucket.try_take();
            }
            let notification = if batch.len() == 1 {
                Arc::clone(&batch[0].notification)
            } else {
                self.stats.digests.fetch_add(1, Ordering::Relaxed);
                let items: Vec<Arc<Notification>> =
                    batch.iter().map(|j| Arc::clone(&j.notification)).collect();
                Arc::new(Notification::digest(&items, SystemTime::now()))
            };
            let delivered = self.deliver_with_retries(&notification, &rx).await;
            for job in &batch {
                if let Some(outbox) = &self.settings.outbox {
                    outbox.done(&job.outbox_key, delivered);
                }
                if job.critical
                    && self
                        .settings
                        .critical
                        .report(&job.notification.key, delivered)
                {
                    self.raise(AndonSignal::red(format!(
                        "every channel failed to deliver critical alert `{}`: nobody was notified",
                        job.notification.title
                    )))
                    .await;
                }
                rx.done(1);
            }
        }
    }

    async fn deliver_with_retries(
        &self,
        notification: &Notification,
        rx: &WorkReceiver<Job>,
    ) -> bool {
        let started = Instant::now();
        let mut backoff =
            Backoff::new(self.settings.retry_backoff).with_max_retries(self.settings.max_retries);
        loop {
            let result = tokio::time::timeout(
                self.settings.timeout + Duration::from_secs(1),
                self.transport.deliver(notification),
            )
            .await
            .unwrap_or_else(|_| Err(DeliveryError::transient("timed out")));
            match result {
                Ok(()) => {
                    let elapsed = started.elapsed();
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    self.stats.latency_micros.fetch_add(
                        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    self.count(names::ALERT_NOTIFICATIONS, "sent");
                    if let Some(metrics) = self.settings.hooks.metrics() {
                        metrics.record_histogram(
                            names::ALERT_DELIVERY_DURATION,
                            &[("channel", &self.name)],
                            elapsed.as_secs_f64(),
                        );
                    }
                    self.stats.consecutive_failures.store(0, Ordering::Relaxed);
                    if self.stats.failing.swap(false, Ordering::Relaxed) {
                        self.raise(AndonSignal::green(format!(
                            "alert channel `{}` ({}) delivers again",
                            self.name, self.kind
                        )))
                        .await;
                    }
                    return true;
                }
                Err(e) if e.retryable && backoff.retries() < self.settings.max_retries => {
                    if let Some(wait) = e.retry_after {
                        backoff.with_retry_after(wait);
                    }
                    let wait = backoff.next_delay();
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    self.count(names::ALERT_RETRIES, "retry");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    let attempt = backoff.retries();
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    self.count(names::ALERT_NOTIFICATIONS, "failed");
                    let message = format!(
                        "alert channel `{}` ({}) failed to deliver `{}` after {} attempt(s): {}",
                        self.name,
                        self.kind,
                        notification.key,
                        attempt + 1,
                        e.message
                    );
                    rx.set_last_error(e.message.clone());
                    let failures = self
                        .stats
                        .consecutive_failures
                        .fetch_add(1, Ordering::Relaxed)
                        + 1;
                    if failures >= self.settings.failure_threshold
                        && !self.stats.failing.swap(true, Ordering::Relaxed)
                    {
                        self.raise(AndonSignal::yellow(format!(
                            "{message}; {failures} failures in a row"
                        )))
                        .await;
                    }
                    return false;
                }
            }
        }
    }

    fn count(&self, name: &str, outcome: &str) {
        if let Some(metrics) = self.settings.hooks.metrics() {
            metrics.add_counter(name, &[("channel", &self.name), ("outcome", outcome)], 1);
        }
    }

    async fn raise(&self, signal: AndonSignal) {
        if let Some(sink) = self.settings.hooks.self_sink() {
            let signal = signal
                .with_component("andon-alert")
                .with_attribute("channel", self.name.clone());
            // The self-signal is best effort: its own failure must not loop back here.
            let _ = sink.on_signal(&signal).await;
        }
    }
}
