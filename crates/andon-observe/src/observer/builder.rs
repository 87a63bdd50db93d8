//! [`AndonObserverBuilder`]: the probe and the sinks, given before the observer is built (the
//! [`andon_core::contract`] every component follows).

use std::sync::Arc;

use andon_core::config::ObserverConfig;
use andon_core::{MetricsSink, SignalSink};

use super::AndonObserver;
use crate::error::ObserveError;
use crate::probe::{Probe, SysinfoProbe};

/// Builds an [`AndonObserver`] from its `[observer]` section and the parts it works with.
///
/// ```
/// use std::sync::Arc;
/// use andon_core::config::ObserverConfig;
/// use andon_core::Noop;
/// use andon_observe::AndonObserver;
///
/// let observer = AndonObserver::builder(ObserverConfig::default())
///     .with_signal_sink(Arc::new(Noop))  // where health changes go
///     .with_metrics_sink(Arc::new(Noop)) // where the gauges go
///     .build()?;
/// assert_eq!(observer.stats().checks, 0);
/// # Ok::<(), andon_observe::ObserveError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AndonObserverBuilder {
    config: ObserverConfig,
    probe: Option<Box<dyn Probe>>,
    metrics: Option<Arc<dyn MetricsSink>>,
    signal_sink: Option<Arc<dyn SignalSink>>,
}

impl AndonObserverBuilder {
    pub(super) fn new(config: ObserverConfig) -> Self {
        AndonObserverBuilder {
            config,
            probe: None,
            metrics: None,
            signal_sink: None,
        }
    }

    /// Reads from `probe` instead of sysinfo: for tests, simulations, or another backend.
    pub fn with_probe(mut self, probe: impl Probe) -> Self {
        self.probe = Some(Box::new(probe));
        self
    }

    /// Exports every reading as gauges through `sink` (`andon_host_memory_percent`,
    /// `andon_process_resident_memory_bytes`, …; see [`GAUGES`](crate::GAUGES)), each
    /// described once, on every check. With the process section on, this includes
    /// `andon_memory_usage_bytes` (the resident memory) and `andon_cpu_usage_ratio` (the
    /// process's CPU as a share of the cores it may use), which the `[metrics.thresholds]`
    /// `memory_usage_mb` and `cpu_usage_percent` watch.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Sends the scheduled checks' health changes to `sink`: a YELLOW (Degraded) or RED
    /// (Critical) signal with the reasons when the health worsens, a GREEN one when it
    /// recovers (see [`AndonObserver::start`]).
    pub fn with_signal_sink(mut self, sink: Arc<dyn SignalSink>) -> Self {
        self.signal_sink = Some(sink);
        self
    }

    /// Checks the section and builds the observer. Cheap: nothing is read until the first
    /// check.
    ///
    /// # Errors
    ///
    /// [`ObserveError::Config`] when the section is invalid, [`ObserveError::Unsupported`]
    /// when no probe was given and this platform cannot be observed with sysinfo.
    pub fn build(self) -> Result<AndonObserver, ObserveError> {
        andon_core::SectionConfig::validate(&self.config)?;
        let probe: Box<dyn Probe> = match self.probe {
            Some(probe) => probe,
            None => Box::new(SysinfoProbe::new()?),
        };
        Ok(AndonObserver::assemble(
            self.config,
            probe,
            self.metrics,
            self.signal_sink,
        ))
    }
}
