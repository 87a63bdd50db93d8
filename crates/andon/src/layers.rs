//! [`AndonSystem::tracing_layers`]: the user's `tracing` spans and events into andon's traces
//! and log, with one call.

use tracing_core::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::AndonSystem;

impl AndonSystem {
    /// The `tracing` layers of the system's parts, as one layer: andon-trace's (the user's
    /// spans become OpenTelemetry spans in the same traces, sampled and exported like andon's,
    /// when the tracer is enabled) and andon-log's (every event becomes an andon record with
    /// the active span's `trace_id` and `span_id`, filtered by `RUST_LOG` / `ANDON_LOG`).
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::util::SubscriberInitExt as _;
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = andon::AndonSystem::new(andon::AndonConfig::default()).await?;
    /// tracing_subscriber::registry().with(system.tracing_layers()).init();
    /// tracing::warn!(queue = "orders", depth = 150, "queue approaching threshold");
    /// # Ok(()) }
    /// ```
    ///
    /// A part that is off (feature or `enabled = false`) adds nothing.
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn tracing_layers<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        #[cfg(feature = "trace")]
        let trace = self.tracer().map(|tracer| tracer.layer());
        #[cfg(not(feature = "trace"))]
        let trace: Option<tracing_subscriber::layer::Identity> = None;
        let log = self.logger().map(|logger| logger.tracing_layer());
        Layer::and_then(trace, log)
    }
}
