//! The parts as the system's lifecycle sees them: every component, and every sink added to the
//! builder, as a [`Component`] in shutdown order; and the system itself as the signal sink its
//! components raise their own signals through.

use std::sync::Arc;
use std::time::Duration;

use andon_core::stats::{StatLine, Stats};
use andon_core::{
    AndonError, AndonSignal, Component, Deferred, ShutdownReport, SignalSink, async_trait,
};

use crate::system::{AndonSystem, WeakSystem};
use crate::wire::Components;

/// Every component, and every sink added to the system's builder, in shutdown order: the
/// alert manager first (its `log` channel writes its last notifications into the log, which
/// must still be open), the observer, then the fan-out order, the added sinks, and the history
/// last (so that the alert manager's final changes are in it).
pub(crate) fn shutdown_order(
    components: &Components,
    added: &[Arc<dyn SignalSink>],
) -> Vec<Arc<dyn Component>> {
    let mut parts: Vec<Arc<dyn Component>> = Vec::new();
    #[cfg(feature = "alert")]
    parts.extend(
        components
            .alerts
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    #[cfg(feature = "observe")]
    parts.extend(
        components
            .observer
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    #[cfg(feature = "log")]
    parts.extend(
        components
            .logger
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    #[cfg(feature = "metrics")]
    parts.extend(
        components
            .metrics
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    #[cfg(feature = "trace")]
    parts.extend(
        components
            .tracer
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    parts.extend(
        added
            .iter()
            .map(|sink| Arc::new(AddedSink(sink.clone())) as Arc<dyn Component>),
    );
    #[cfg(feature = "history")]
    parts.extend(
        components
            .history
            .iter()
            .map(|c| c.clone() as Arc<dyn Component>),
    );
    let _ = components;
    parts
}

/// The system as a signal sink, held weakly so that the components holding it do not keep a
/// dropped system alive. Bound into the components' [`Deferred`] slot once the system exists.
#[derive(Debug)]
struct SystemSink(WeakSystem);

#[async_trait]
impl SignalSink for SystemSink {
    fn name(&self) -> &'static str {
        "system"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        let Some(system) = self.0.upgrade() else {
            return Err(AndonError::ShutDown {
                component: "system",
            });
        };
        system
            .signal_problem(signal.clone())
            .await
            .map(|_| ())
            .map_err(AndonError::from)
    }
}

/// Binds the components' signal slot to `system`, once it exists.
pub(crate) fn bind_system(slot: &Deferred<dyn SignalSink>, system: &AndonSystem) {
    let _ = slot.bind(Arc::new(SystemSink(system.downgrade())));
}

/// A sink added to the system's builder, stopped with the components through [`Component`].
#[derive(Debug)]
struct AddedSink(Arc<dyn SignalSink>);

/// The counters of a part that keeps none of its own.
#[derive(Debug)]
struct NoStats;

impl Stats for NoStats {
    fn describe(&self) -> Vec<StatLine> {
        Vec::new()
    }
}

#[async_trait]
impl Component for AddedSink {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn stats(&self) -> Box<dyn Stats> {
        Box::new(NoStats)
    }

    async fn flush(&self) -> Result<(), AndonError> {
        self.0.flush().await
    }

    async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        match tokio::time::timeout(deadline, self.0.shutdown()).await {
            Ok(Ok(())) => ShutdownReport::complete(self.0.name()),
            Ok(Err(error)) => ShutdownReport::incomplete(self.0.name(), 0, error.to_string()),
            Err(_) => ShutdownReport::timed_out(self.0.name(), 0, deadline),
        }
    }
}
