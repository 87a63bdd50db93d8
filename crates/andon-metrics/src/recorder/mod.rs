//! The recorder layer: every series, andon's and the user's `metrics::counter!` alike, passes
//! through it on its way to the Prometheus recorder. It keeps what the exporter does not offer:
//! the current values (for alert rules), a cap on label sets per metric, one type per name,
//! exact escaping of backslashes, and threshold watches on every update.
//!
//! `watch.rs` holds the threshold and listener watches, `tracked.rs` the series types.

mod tracked;
mod watch;

pub(crate) use tracked::Renderer;
use tracked::{TrackedCounter, TrackedGauge, TrackedHistogram};
use watch::{LISTENED, Slot, THRESHOLD, Watch};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use andon_core::{AndonSignal, MetricsListener, Sample};
use andon_runtime::{WorkQueue, lock, read, write};
use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::PrometheusRecorder;
use metrics_exporter_prometheus::formatting::{sanitize_label_key, sanitize_metric_name};

use crate::error::MetricsError;
use crate::names::{
    REFUSED_SERIES, REJECTED, THRESHOLD_SIGNALS, check_label_name, protect_backslashes,
};
use andon_core::threshold::{Threshold, ThresholdState};

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The bounded queue of threshold signals waiting for the background dispatcher to hand
/// them to the signal sink (a full queue drops a signal and counts it); flushing it waits
/// until those queued before are handed over, and its last error is the sink's.
pub(crate) type Events = WorkQueue<Box<AndonSignal>>;

/// Counters andon keeps about itself, registered straight on the Prometheus recorder so that
/// the cardinality guard never refuses them.
#[derive(Debug)]
pub(crate) struct Internal {
    pub(crate) invalid_names: Counter,
    pub(crate) type_conflicts: Counter,
    pub(crate) threshold_delivered: Counter,
    pub(crate) threshold_failed: Counter,
    pub(crate) threshold_dropped: Counter,
    pub(crate) threshold_no_sink: Counter,
}

/// The shared state of the layer.
#[derive(Debug)]
pub(crate) struct Registry {
    prometheus: PrometheusRecorder,
    handle: Renderer,
    max_label_sets: usize,
    /// Every series by key: the fast path of every registration.
    series: RwLock<HashMap<Key, Series>>,
    /// Every family by name: type, series in order, threshold slot.
    families: Mutex<HashMap<String, Family>>,
    /// Thresholds and listener marks by metric name, also for names without series yet.
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// The slots the metrics listener watches, to unmark when it is replaced.
    listened: Mutex<Vec<Arc<Slot>>>,
    refused: Mutex<HashMap<String, (Counter, u64)>>,
    /// Names with HELP text already: the first description wins.
    described: Mutex<HashSet<String>>,
    events: Events,
    pub(crate) internal: Internal,
}

#[derive(Debug, Clone)]
enum Series {
    Counter(Arc<TrackedCounter>),
    Gauge(Arc<TrackedGauge>),
    Histogram(Arc<TrackedHistogram>),
}

#[derive(Debug)]
struct Family {
    kind: Kind,
    series: Vec<Series>,
}

/// Writes `name{a="x",b="y"}` with label values escaped as in the exposition format.
fn display(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", pairs.join(","))
}

impl Registry {
    pub(crate) fn new(
        prometheus: PrometheusRecorder,
        max_label_sets: usize,
        events: Events,
    ) -> Self {
        let handle = Renderer {
            handle: prometheus.handle(),
            gate: Arc::new(RwLock::new(())),
        };
        let meta = metadata();
        let counter = |name: &'static str, label: &'static str, value: &'static str| {
            prometheus.register_counter(
                &Key::from_parts(name, vec![Label::new(label, value)]),
                &meta,
            )
        };
        let outcome = |o| counter(THRESHOLD_SIGNALS, "outcome", o);
        let rejected = |reason| counter(REJECTED, "reason", reason);
        let internal = Internal {
            invalid_names: rejected("invalid_name"),
            type_conflicts: rejected("type_conflict"),
            threshold_delivered: outcome("delivered"),
            threshold_failed: outcome("failed"),
            threshold_dropped: outcome("dropped"),
            threshold_no_sink: outcome("no_sink"),
        };
        for (name, help) in [
            (
                THRESHOLD_SIGNALS,
                "Threshold signals by outcome: delivered to the signal sink, failed after retries, dropped because the queue was full, or raised with no sink set.",
            ),
            (
                REJECTED,
                "Metric updates rejected by reason: an invalid name, or a name already used by another type.",
            ),
            (
                REFUSED_SERIES,
                "New series refused because their metric already had metrics.max_label_sets label sets.",
            ),
        ] {
            prometheus.describe_counter(KeyName::from(name), None, SharedString::from(help));
        }
        Registry {
            prometheus,
            handle,
            max_label_sets,
            series: RwLock::new(HashMap::new()),
            families: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            listened: Mutex::new(Vec::new()),
            refused: Mutex::new(HashMap::new()),
            described: Mutex::new(HashSet::new()),
            events,
            internal,
        }
    }

    pub(crate) fn handle(&self) -> &Renderer {
        &self.handle
    }

    pub(crate) fn events(&self) -> &Events {
        &self.events
    }

    /// Sets (or with `None` removes) the threshold watched on metric `name`.
    pub(crate) fn set_threshold(&self, name: &str, source: &str, threshold: Option<Threshold>) {
        let slot = self.slot(name);
        *write(&slot.source) = source.to_owned();
        *write(&slot.threshold) = threshold;
        slot.set_flag(THRESHOLD, threshold.is_some());
    }

    /// Tells `listener` (replacing any earlier one; `None` removes it) of every update of the
    /// metrics it watches. Its names are read once, here, and marked on their slots.
    pub(crate) fn set_listener(&self, listener: Option<Arc<dyn MetricsListener>>) {
        let mut listened = lock(&self.listened);
        for slot in listened.drain(..) {
            slot.set_flag(LISTENED, false);
            *write(&slot.listener) = None;
        }
        let Some(listener) = listener else {
            return;
        };
        let names: HashSet<String> = listener
            .watched_metrics()
            .iter()
            .map(|name| sanitize_metric_name(name))
            .filter(|name| !name.is_empty())
            .collect();
        for name in names {
            let slot = self.slot(&name);
            *write(&slot.listener) = Some(Arc::clone(&listener));
            slot.set_flag(LISTENED, true);
            listened.push(slot);
        }
    }

    fn slot(&self, name: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        Arc::clone(
            slots
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(Slot::new(name))),
        )
    }

    /// What the registry holds: metric names with series, series, and series refused in all.
    pub(crate) fn stats(&self) -> crate::MetricsStats {
        let (metrics, series) = {
            let families = lock(&self.families);
            let series: usize = families.values().map(|f| f.series.len()).sum();
            (families.len() as u64, series as u64)
        };
        let refused_series = lock(&self.refused).values().map(|(_, n)| *n).sum();
        crate::MetricsStats {
            metrics,
            series,
            refused_series,
        }
    }

    /// How many series of `name` were refused by the cardinality guard.
    pub(crate) fn refused_count(&self, name: &str) -> u64 {
        lock(&self.refused).get(name).map_or(0, |(_, n)| *n)
    }

    /// Every series of the counter or gauge `name`.
    pub(crate) fn samples(&self, name: &str) -> Vec<Sample> {
        let families = lock(&self.families);
        let Some(family) = families.get(sanitize_metric_name(name).as_str()) else {
            return Vec::new();
        };
        family
            .series
            .iter()
            .filter_map(|series| match series {
                Series::Counter(c) => Some(Sample {
                    labels: c.labels.clone(),
                    #[allow(clippy::cast_precision_loss)] // alert rules compare approximately
                    value: c.value.load(Ordering::Relaxed) as f64,
                }),
                Series::Gauge(g) => Some(Sample {
                    labels: g.labels.clone(),
                    value: f64::from_bits(g.bits.load(Ordering::Relaxed)),
                }),
                Series::Histogram(_) => None,
            })
            .collect()
    }

    /// Gives `name` its HELP text; the first non-empty description wins.
    pub(crate) fn describe(&self, kind: Kind, name: &str, help: &str) {
        if help.is_empty() || !lock(&self.described).insert(name.to_owned()) {
            return;
        }
        let key = KeyName::from(name.to_owned());
        let help = SharedString::from(protect_backslashes(help).into_owned());
        match kind {
            Kind::Counter => self.prometheus.describe_counter(key, None, help),
            Kind::Gauge => self.prometheus.describe_gauge(key, None, help),
            Kind::Histogram => self.prometheus.describe_histogram(key, None, help),
        }
    }

    #[inline]
    fn cached(&self, key: &Key) -> Option<Series> {
        read(&self.series).get(key).cloned()
    }

    /// The counter for `key`, created if needed, or why it cannot be.
    pub(crate) fn counter(&self, key: &Key) -> Result<Counter, MetricsError> {
        match self.series_for(key, Kind::Counter)? {
            Series::Counter(c) => Ok(Counter::from_arc(c)),
            _ => Err(self.conflict(key, Kind::Counter)),
        }
    }

    /// The gauge for `key`, created if needed, or why it cannot be.
    pub(crate) fn gauge(&self, key: &Key) -> Result<Gauge, MetricsError> {
        match self.series_for(key, Kind::Gauge)? {
            Series::Gauge(g) => Ok(Gauge::from_arc(g)),
            _ => Err(self.conflict(key, Kind::Gauge)),
        }
    }

    /// The histogram for `key`, created if needed, or why it cannot be.
    pub(crate) fn histogram(&self, key: &Key) -> Result<Histogram, MetricsError> {
        match self.series_for(key, Kind::Histogram)? {
            Series::Histogram(h) => Ok(Histogram::from_arc(h)),
            _ => Err(self.conflict(key, Kind::Histogram)),
        }
    }

    fn conflict(&self, key: &Key, requested: Kind) -> MetricsError {
        self.internal.type_conflicts.increment(1);
        let families = lock(&self.families);
        let existing = families
            .get(sanitize_metric_name(key.name()).as_str())
            .map_or("metric", |f| f.kind.as_str());
        MetricsError::TypeConflict {
            metric: key.name().to_owned(),
            existing,
            requested: requested.as_str(),
        }
    }

    fn series_for(&self, key: &Key, kind: Kind) -> Result<Series, MetricsError> {
        if let Some(series) = self.cached(key) {
            return Ok(series);
        }
        self.create(key, kind)
    }

    #[cold]
    fn create(&self, key: &Key, kind: Kind) -> Result<Series, MetricsError> {
        let mut families = lock(&self.families);
        // Another thread may have created it while we waited.
        if let Some(series) = self.cached(key) {
            return Ok(series);
        }
        // Names are checked and grouped as the exposition writes them: the exporter turns what a
        // Prometheus name cannot hold into `_`, so names from the `metrics` macros that are empty,
        // reserved, or alike once written (`a-b` and `a_b`) are refused here (found by fuzzing:
        // they made expositions that no parser accepts). Names from andon's API are valid and
        // pass unchanged.
        let sanitized = sanitize_metric_name(key.name());
        let label_names: Vec<String> = key.labels().map(|l| sanitize_label_key(l.key())).collect();
        if let Err(e) = check_exposed(&sanitized, key, &label_names) {
            drop(families);
            self.internal.invalid_names.increment(1);
            return Err(e);
        }
        let name = sanitized.as_str();
        // A histogram `x` writes `x_bucket`, `x_sum` and `x_count`: no other family may take
        // those names, nor a histogram the base of an existing one (found by fuzzing).
        let clash = if kind == Kind::Histogram {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| families.get(format!("{name}{suffix}").as_str()))
        } else {
            ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .filter_map(|base| families.get(base))
                .find(|f| f.kind == Kind::Histogram)
        };
        if let Some(other) = clash {
            let existing = other.kind.as_str();
            drop(families);
            self.internal.type_conflicts.increment(1);
            return Err(MetricsError::TypeConflict {
                metric: name.to_owned(),
                existing,
                requested: kind.as_str(),
            });
        }
        if let Some(family) = families.get(name) {
            if family.kind != kind {
                drop(families);
                return Err(self.conflict(key, kind));
            }
            if family.series.len() >= self.max_label_sets {
                drop(families);
                self.refuse(name);
                return Err(MetricsError::TooManySeries {
                    metric: name.to_owned(),
                    limit: self.max_label_sets,
                });
            }
        }
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        // The key the exporter sees: the same, with backslashes doubled so its escaping is exact.
        let renamed =
            name != key.name() || key.labels().zip(&label_names).any(|(l, n)| l.key() != n);
        let exported = if renamed || key.labels().any(|l| l.value().contains('\\')) {
            Key::from_parts(
                name.to_owned(),
                key.labels()
                    .zip(&label_names)
                    .map(|(l, n)| {
                        Label::new(n.clone(), protect_backslashes(l.value()).into_owned())
                    })
                    .collect::<Vec<_>>(),
            )
        } else {
            key.clone()
        };
        let watch = Watch {
            slot: self.slot(name),
            state: ThresholdState::new(),
            display: display(name, &labels),
            labels: labels.clone(),
            events: self.events.clone(),
            dropped: self.internal.threshold_dropped.clone(),
        };
        let meta = metadata();
        let series = match kind {
            Kind::Counter => Series::Counter(Arc::new(TrackedCounter {
                inner: self.prometheus.register_counter(&exported, &meta),
                value: AtomicU64::new(0),
                labels,
                watch,
            })),
            Kind::Gauge => Series::Gauge(Arc::new(TrackedGauge {
                inner: self.prometheus.register_gauge(&exported, &meta),
                bits: AtomicU64::new(0.0_f64.to_bits()),
                labels,
                watch,
            })),
            Kind::Histogram => Series::Histogram(Arc::new(TrackedHistogram {
                inner: self.prometheus.register_histogram(&exported, &meta),
                gate: Arc::clone(&self.handle.gate),
                watch,
            })),
        };
        families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind,
                series: Vec::new(),
            })
            .series
            .push(series.clone());
        write(&self.series).insert(key.clone(), series.clone());
        Ok(series)
    }

    fn refuse(&self, name: &str) {
        let mut refused = lock(&self.refused);
        let (counter, count) = refused.entry(name.to_owned()).or_insert_with(|| {
            let counter = self.prometheus.register_counter(
                &Key::from_parts(
                    REFUSED_SERIES,
                    vec![Label::new("metric", protect_backslashes(name).into_owned())],
                ),
                &metadata(),
            );
            (counter, 0)
        });
        counter.increment(1);
        *count += 1;
    }
}

/// Checks a metric name and its label names as the exposition writes them.
fn check_exposed(name: &str, key: &Key, label_names: &[String]) -> Result<(), MetricsError> {
    if name.is_empty() {
        return Err(MetricsError::InvalidMetricName {
            name: key.name().to_owned(),
        });
    }
    for (index, (label, written)) in key.labels().zip(label_names).enumerate() {
        if check_label_name(name, written).is_err() {
            return Err(MetricsError::InvalidLabelName {
                metric: name.to_owned(),
                label: label.key().to_owned(),
            });
        }
        if label_names[..index].contains(written) {
            return Err(MetricsError::DuplicateLabel {
                metric: name.to_owned(),
                label: written.clone(),
            });
        }
    }
    Ok(())
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

/// The recorder installed globally (or lent to the user): every series goes through the layer.
/// Series it refuses become no-ops and are counted.
#[derive(Debug, Clone)]
pub struct AndonRecorder {
    pub(crate) registry: Arc<Registry>,
}

impl Recorder for AndonRecorder {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.registry
            .describe(Kind::Counter, key.as_str(), &description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.registry
            .describe(Kind::Gauge, key.as_str(), &description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.registry
            .describe(Kind::Histogram, key.as_str(), &description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        self.registry
            .counter(key)
            .unwrap_or_else(|_| Counter::noop())
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        self.registry.gauge(key).unwrap_or_else(|_| Gauge::noop())
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        self.registry
            .histogram(key)
            .unwrap_or_else(|_| Histogram::noop())
    }
}
