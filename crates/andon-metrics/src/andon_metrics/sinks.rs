//! [`AndonMetrics`] as the component traits see it: a [`SignalSink`] (signals are counted), a
//! [`MetricsSource`] (alert rules read current values) and a [`MetricsSink`] (other
//! components publish their own counters through it).

use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{
    AndonError, AndonSignal, MetricsSink, MetricsSource, Sample, ShutdownReport, SignalSink,
};

use super::{AndonMetrics, key};
use crate::error::MetricsError;
use crate::names;
use crate::recorder::Kind;

#[async_trait::async_trait]
impl SignalSink for AndonMetrics {
    fn name(&self) -> &'static str {
        "metrics"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        Ok(self.count_signal(signal)?)
    }

    /// Waits for queued threshold deliveries, as [`AndonMetrics::flush`] does.
    async fn flush(&self) -> Result<(), AndonError> {
        Ok(AndonMetrics::flush(self).await?)
    }

    /// [`AndonMetrics::shutdown`] without a deadline of its own (the caller sets one).
    async fn shutdown(&self) -> Result<(), AndonError> {
        self.stop_all().await;
        Ok(())
    }
}

impl AndonMetrics {
    /// Waits until every threshold signal raised so far has been delivered to the sink (or
    /// given up on after retries).
    pub async fn flush(&self) -> Result<(), MetricsError> {
        self.drain().await;
        Ok(())
    }

    /// Delivers pending threshold signals, stops the endpoint (freeing the port) and the
    /// background work, and drops the signal sink, within `deadline`; later recording through
    /// this value fails with a shut-down error. A second shutdown reports complete at once.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        match tokio::time::timeout(deadline, self.stop_all()).await {
            Ok(()) => ShutdownReport::complete("metrics"),
            Err(_) => ShutdownReport::timed_out("metrics", 0, deadline),
        }
    }

    async fn stop_all(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.drain().await;
        // Stopping the background task drops the signal sink with it.
        let _ = self.stop.send(true);
    }
}

andon_core::impl_component!(AndonMetrics, "metrics");

impl MetricsSource for AndonMetrics {
    fn samples(&self, name: &str) -> Vec<Sample> {
        self.registry.samples(name)
    }
}

impl AndonMetrics {
    /// The key of an update through [`MetricsSink`], or `None` (counted as an invalid name)
    /// for an invalid name or label or a value that is not finite: the trait cannot fail.
    fn sink_key(&self, name: &str, labels: &[(&str, &str)], finite: bool) -> Option<metrics::Key> {
        if names::check(name, labels).is_err() || !finite {
            self.registry.internal.invalid_names.increment(1);
            return None;
        }
        Some(key(name, labels))
    }
}

impl MetricsSink for AndonMetrics {
    fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let Some(key) = self.sink_key(name, labels, value.is_finite()) else {
            return;
        };
        if let Ok(gauge) = self.registry.gauge(&key) {
            gauge.set(value);
        }
    }

    fn add_counter(&self, name: &str, labels: &[(&str, &str)], delta: u64) {
        let Some(key) = self.sink_key(name, labels, true) else {
            return;
        };
        if let Ok(counter) = self.registry.counter(&key) {
            counter.increment(delta);
        }
    }

    fn set_counter(&self, name: &str, labels: &[(&str, &str)], total: u64) {
        let Some(key) = self.sink_key(name, labels, true) else {
            return;
        };
        if let Ok(counter) = self.registry.counter(&key) {
            counter.absolute(total);
        }
    }

    fn record_histogram(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let Some(key) = self.sink_key(name, labels, value.is_finite()) else {
            return;
        };
        if let Ok(histogram) = self.registry.histogram(&key) {
            histogram.record(value);
        }
    }

    fn describe(&self, name: &str, help: &str) {
        if names::check_metric_name(name).is_ok() {
            self.registry.describe(Kind::Gauge, name, help);
        }
    }
}
