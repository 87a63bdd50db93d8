//! The series andon hands out: counters, gauges and histograms that pass each update to the
//! Prometheus recorder, keep the value andon reads, and tell their [`Watch`]; and the
//! [`Renderer`] that reads them out.

use std::sync::atomic::{AtomicU64, Ordering};

use andon_runtime::{read, write};
use std::sync::{Arc, RwLock};

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn};
use metrics_exporter_prometheus::PrometheusHandle;

use super::watch::Watch;

/// A counter whose total andon can read.
#[derive(Debug)]
pub(super) struct TrackedCounter {
    pub(super) inner: Counter,
    pub(super) value: AtomicU64,
    pub(super) labels: Vec<(String, String)>,
    pub(super) watch: Watch,
}

impl CounterFn for TrackedCounter {
    #[inline]
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        let total = self
            .value
            .fetch_add(value, Ordering::Relaxed)
            .wrapping_add(value);
        #[allow(clippy::cast_precision_loss)] // thresholds compare approximately anyway
        self.watch.observe(total as f64);
    }

    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
        let total = self.value.fetch_max(value, Ordering::Relaxed).max(value);
        #[allow(clippy::cast_precision_loss)] // thresholds compare approximately anyway
        self.watch.observe(total as f64);
    }
}

/// A gauge whose value andon can read and watch.
#[derive(Debug)]
pub(super) struct TrackedGauge {
    pub(super) inner: Gauge,
    pub(super) bits: AtomicU64,
    pub(super) labels: Vec<(String, String)>,
    pub(super) watch: Watch,
}

impl TrackedGauge {
    fn add(&self, delta: f64) -> f64 {
        let mut current = self.bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self.bits.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return f64::from_bits(next),
                Err(actual) => current = actual,
            }
        }
    }
}

impl GaugeFn for TrackedGauge {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
        let now = self.add(value);
        self.watch.observe(now);
    }

    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
        let now = self.add(-value);
        self.watch.observe(now);
    }

    #[inline]
    fn set(&self, value: f64) {
        self.inner.set(value);
        self.bits.store(value.to_bits(), Ordering::Relaxed);
        self.watch.observe(value);
    }
}

/// A histogram whose recorded values are watched: each value is compared to the threshold.
#[derive(Debug)]
pub(super) struct TrackedHistogram {
    pub(super) inner: Histogram,
    /// Shared with the [`Renderer`]: held (shared) while a value goes in.
    pub(super) gate: Arc<RwLock<()>>,
    pub(super) watch: Watch,
}

impl HistogramFn for TrackedHistogram {
    #[inline]
    fn record(&self, value: f64) {
        {
            let _recording = read(&self.gate);
            self.inner.record(value);
        }
        self.watch.observe(value);
    }

    fn record_many(&self, value: f64, count: usize) {
        {
            let _recording = read(&self.gate);
            self.inner.record_many(value, count);
        }
        self.watch.observe(value);
    }
}

/// Renders the exposition and drains histograms, never while a histogram value is going in.
///
/// The exporter keeps a histogram's new values in a lock-free bucket that a render swaps out
/// and reads; a value pushed by a thread that loaded the bucket just before the swap lands in
/// the detached bucket and is lost, and a block linked in during the swap can take a thousand
/// values with it (metrics-util 0.20's `AtomicBucket`; seen in every run of
/// `faults_metrics::a_scrape_during_heavy_updates_is_consistent_and_promtool_accepts_it`).
/// Recording holds `gate` shared, draining holds it exclusively, so every value recorded is
/// counted.
#[derive(Debug, Clone)]
pub(crate) struct Renderer {
    pub(super) handle: PrometheusHandle,
    pub(super) gate: Arc<RwLock<()>>,
}

impl Renderer {
    /// Everything in the Prometheus text exposition format.
    pub(crate) fn render(&self) -> String {
        let _draining = write(&self.gate);
        self.handle.render()
    }

    /// Moves recorded histogram values into their distributions.
    pub(crate) fn run_upkeep(&self) {
        let _draining = write(&self.gate);
        self.handle.run_upkeep();
    }
}
