//! The wiring: which component is built from which config section, and which core trait of one
//! feeds which other. The only place that knows the concrete component types.

use std::sync::Arc;

use andon_core::{AndonConfig, AndonError, DiagnosticsSource, MetricsSink, SignalSink};

use crate::system::AndonSystem;

/// The typed components of a running system, for `AndonSystem`'s accessors.
#[derive(Debug, Default)]
pub(crate) struct Components {}

impl Components {
    /// Stops background tasks (scheduled checks, rule evaluation) before the flush.
    pub(crate) async fn stop_background(&self) {}
}

/// Components given to the builder instead of being built from the config.
#[derive(Default)]
pub(crate) struct Parts {}

pub(crate) struct Wired {
    pub(crate) sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) metrics_sink: Option<Arc<dyn MetricsSink>>,
    pub(crate) components: Components,
}

/// Builds the enabled components, in fan-out order: log, metrics, trace, alert.
pub(crate) async fn build(
    _config: &AndonConfig,
    _parts: Parts,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
) -> Result<Wired, AndonError> {
    Ok(Wired {
        sinks: Vec::new(),
        diagnostics,
        metrics_sink: None,
        components: Components::default(),
    })
}

/// Starts background tasks that need the system itself (as the sink of their signals).
pub(crate) async fn start(_system: &AndonSystem) -> Result<(), AndonError> {
    Ok(())
}
