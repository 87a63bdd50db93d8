//! Threshold and listener watches: the [`Slot`] of one metric name (its threshold, its
//! listener) and the [`Watch`] of one series, which raises and clears threshold signals.

use std::sync::atomic::{AtomicU8, Ordering};

use andon_runtime::read;
use std::sync::{Arc, RwLock};

use super::Events;
use andon_core::threshold::{Crossing, Threshold, ThresholdState};
use andon_core::{AndonSignal, MetricsListener};
use metrics::Counter;

/// The threshold and the listener of one metric name, shared by all its series.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(super) name: String,
    /// Which configured threshold it came from (`queue_depth`), for the signal.
    pub(super) source: RwLock<String>,
    /// [`THRESHOLD`] and [`LISTENED`]: an update of a name with neither costs one load.
    pub(super) flags: AtomicU8,
    pub(super) threshold: RwLock<Option<Threshold>>,
    pub(super) listener: RwLock<Option<Arc<dyn MetricsListener>>>,
}

/// A threshold watches the name.
pub(super) const THRESHOLD: u8 = 1;
/// The metrics listener watches the name.
pub(super) const LISTENED: u8 = 2;

impl Slot {
    pub(super) fn new(name: &str) -> Self {
        Slot {
            name: name.to_owned(),
            source: RwLock::new(name.to_owned()),
            flags: AtomicU8::new(0),
            threshold: RwLock::new(None),
            listener: RwLock::new(None),
        }
    }

    pub(super) fn set_flag(&self, flag: u8, on: bool) {
        if on {
            self.flags.fetch_or(flag, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!flag, Ordering::AcqRel);
        }
    }
}

/// The threshold state of one series.
#[derive(Debug)]
pub(super) struct Watch {
    pub(super) slot: Arc<Slot>,
    pub(super) state: ThresholdState,
    /// `name{label="value",...}` as a person reads it, for the signal message.
    pub(super) display: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) events: Events,
    pub(super) dropped: Counter,
}

impl Watch {
    #[inline]
    pub(super) fn observe(&self, value: f64) {
        if self.slot.flags.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.observe_slow(value);
    }

    #[cold]
    fn observe_slow(&self, value: f64) {
        let flags = self.slot.flags.load(Ordering::Acquire);
        if flags & THRESHOLD != 0 {
            self.compare(value);
        }
        if flags & LISTENED != 0 {
            // Cloned out of the lock: the listener may take its time without holding it.
            let listener = read(&self.slot.listener).clone();
            if let Some(listener) = listener {
                listener.metric_changed(&self.slot.name);
            }
        }
    }

    /// Raises or clears the threshold signal of this series.
    fn compare(&self, value: f64) {
        let threshold = *read(&self.slot.threshold);
        let Some(threshold) = threshold else {
            return;
        };
        let Some(crossing) = self.state.observe(&threshold, value) else {
            return;
        };
        let signal = match crossing {
            Crossing::Raised => AndonSignal::new(
                threshold.color,
                format!(
                    "{} is {value}, above its threshold {}",
                    self.display, threshold.level
                ),
            ),
            Crossing::Cleared => AndonSignal::green(format!(
                "{} is back to {value}, at or below {} (threshold {})",
                self.display, threshold.clear, threshold.level
            )),
        };
        let source = read(&self.slot.source).clone();
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        let signal = signal
            .with_component("metrics")
            .with_attribute("metric", self.slot.name.as_str())
            .with_attribute("threshold", source)
            .with_attribute("value", value)
            .with_attribute("level", threshold.level)
            .with_attribute("clear", threshold.clear)
            .with_attribute("labels", serde_json::Value::Object(labels));
        if self.events.try_push(Box::new(signal)).is_err() {
            self.dropped.increment(1);
        }
    }
}
