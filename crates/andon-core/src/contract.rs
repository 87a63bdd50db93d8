//! The one shape every component follows, written once here.
//!
//! The six components (`AndonLogger`, `AndonMetrics`, `AndonTracer`, `AndonObserver`,
//! `AlertManager`, `HistoryBackend`) are built, wired, flushed, stopped and asked for their
//! counters the same way, so that knowing one is knowing all:
//!
//! ```text
//! let x = X::builder(section_config)      // the section of AndonConfig, by value
//!     .with_signal_sink(sink)             // where it raises signals of its own
//!     .with_metrics_sink(metrics)         // where it counts what it does
//!     .with_…(…)                          // anything else it needs, each a `with_*` on the builder
//!     .build()?;                          // `build().await?` where building must connect
//! x.flush().await?;                       // everything accepted so far delivered
//! let report = x.shutdown(deadline).await; // flushed and stopped within the deadline
//! let stats = x.stats();                  // a type implementing `Stats`
//! ```
//!
//! - The section config implements [`SectionConfig`]: `validate()` checks it alone and names
//!   each bad field as `section.field` with the fix. [`AndonConfig::validate`] calls each.
//! - Everything a component needs is given to its builder. Once built, nothing is bound later;
//!   where two components need each other (the metrics recorder tells the alert manager of a
//!   gauge change, the alert manager reads the gauges), the one built first takes a
//!   [`Deferred`] that the umbrella binds once the other exists. `Deferred` is the one way of
//!   binding late.
//! - `flush`, `shutdown` and `stats` are inherent methods (no trait to import); the
//!   [`Component`] trait forwards to them, so the umbrella can hold every part as
//!   `Arc<dyn Component>` for its lifecycle; a component gets the trait with
//!   [`impl_component!`](crate::impl_component)`(Type, "name")`.
//!
//! [`AndonConfig::validate`]: crate::AndonConfig::validate

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{AndonError, ConfigError};
use crate::stats::Stats;

/// A section of [`AndonConfig`](crate::AndonConfig) that one component is built from.
pub trait SectionConfig: Clone + fmt::Debug + Send + Sync + 'static {
    /// The TOML section's name (`"logger"`, `"metrics"`, `"tracer"`, `"observer"`, `"alerts"`,
    /// `"history"`), which prefixes every field named in an error.
    const SECTION: &'static str;

    /// Checks the section on its own: every error names the field (`logger.sinks.0.path`) and
    /// says how to fix it.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// What a component did with its deadline when asked to shut down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The component (`"log"`, `"alert"`, …).
    pub component: &'static str,
    /// Items it had accepted (records, spans, notifications, rows) but had not delivered when
    /// the deadline came.
    pub undelivered: u64,
    /// Of those, how many are kept durably for the next start (the alert outbox) rather than
    /// lost.
    pub kept: u64,
    /// Why the shutdown is incomplete, for people; `None` when it is complete.
    pub error: Option<String>,
    /// Whether the deadline passed with the component still at work (a writer stuck on a
    /// sink): it may block if dropped, so its owner keeps it alive instead.
    pub timed_out: bool,
}

impl ShutdownReport {
    /// A shutdown that delivered everything in time.
    pub fn complete(component: &'static str) -> Self {
        ShutdownReport {
            component,
            ..ShutdownReport::default()
        }
    }

    /// A shutdown that failed or ran out of time, with what it left undelivered.
    pub fn incomplete(component: &'static str, undelivered: u64, error: impl Into<String>) -> Self {
        ShutdownReport {
            component,
            undelivered,
            kept: 0,
            error: Some(error.into()),
            timed_out: false,
        }
    }

    /// A shutdown whose deadline passed with the component still at work, said as "did not
    /// shut down within {deadline}" and what may be lost.
    pub fn timed_out(component: &'static str, undelivered: u64, deadline: Duration) -> Self {
        ShutdownReport {
            timed_out: true,
            ..ShutdownReport::incomplete(
                component,
                undelivered,
                format!("did not shut down within {deadline:?}; what it held may be lost"),
            )
        }
    }

    /// The report with `kept` of its undelivered items kept for the next start.
    #[must_use]
    pub fn with_kept(mut self, kept: u64) -> Self {
        self.kept = kept;
        self
    }

    /// Whether everything was delivered before the deadline.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && self.undelivered == 0
    }

    /// `Ok` when complete, else an [`AndonError::Component`] naming the component and what
    /// was left.
    pub fn into_result(self) -> Result<(), AndonError> {
        if self.is_complete() {
            return Ok(());
        }
        let lost = self.undelivered.saturating_sub(self.kept);
        let why = self.error.unwrap_or_else(|| "ran out of time".to_owned());
        Err(AndonError::component(
            self.component,
            format!(
                "{why}: {} item(s) not delivered, {} kept for the next start, {lost} lost",
                self.undelivered, self.kept
            ),
        ))
    }
}

/// The lifecycle every component has, for holding them all alike (`Arc<dyn Component>`).
///
/// Each component also has these as inherent methods with the same names; this trait forwards
/// to them, and [`impl_component!`](crate::impl_component) is how a component gets it.
#[async_trait]
pub trait Component: Send + Sync + fmt::Debug {
    /// A short name for reports (`"log"`, `"metrics"`, `"trace"`, `"observe"`, `"alert"`,
    /// `"history"`).
    fn name(&self) -> &'static str;

    /// A snapshot of its counters.
    fn stats(&self) -> Box<dyn Stats>;

    /// Delivers everything accepted so far.
    async fn flush(&self) -> Result<(), AndonError>;

    /// Flushes and stops within `deadline`; later work is refused. Never blocks past the
    /// deadline: what is left is said in the report.
    async fn shutdown(&self, deadline: Duration) -> ShutdownReport;
}

/// Implements [`Component`] for a type that follows the contract: how a component gets the
/// trait.
///
/// `impl_component!(Type, "name")` writes the one `impl Component for Type` every component
/// has, forwarding to its inherent methods with the contract's names: `stats()` (boxed as a
/// [`Stats`]), `flush().await` (its error turned into an [`AndonError`] with `From`) and
/// `shutdown(deadline).await`; `"name"` is the short name in shutdown reports (`"log"`,
/// `"alert"`, …). A type whose inherent methods differ from the contract does not compile, so
/// the macro also checks that the component follows it.
///
/// ```
/// use std::time::Duration;
///
/// use andon_core::stats::{StatLine, Stats};
/// use andon_core::{AndonError, Component, ShutdownReport};
///
/// #[derive(Debug)]
/// struct QueueStats(u64);
///
/// impl Stats for QueueStats {
///     fn describe(&self) -> Vec<StatLine> {
///         vec![StatLine::gauge("demo_queued", "Items waiting.", self.0 as f64)]
///     }
/// }
///
/// #[derive(Debug)]
/// struct Queue;
///
/// impl Queue {
///     fn stats(&self) -> QueueStats {
///         QueueStats(0)
///     }
///     async fn flush(&self) -> Result<(), AndonError> {
///         Ok(())
///     }
///     async fn shutdown(&self, _deadline: Duration) -> ShutdownReport {
///         ShutdownReport::complete("queue")
///     }
/// }
///
/// andon_core::impl_component!(Queue, "queue");
///
/// let part: Box<dyn Component> = Box::new(Queue);
/// assert_eq!(part.name(), "queue");
/// assert_eq!(part.stats().describe().len(), 1);
/// ```
#[macro_export]
macro_rules! impl_component {
    ($component:ty, $name:literal) => {
        #[$crate::async_trait]
        impl $crate::Component for $component {
            fn name(&self) -> &'static str {
                $name
            }

            fn stats(&self) -> ::std::boxed::Box<dyn $crate::Stats> {
                ::std::boxed::Box::new(<$component>::stats(self))
            }

            async fn flush(&self) -> ::core::result::Result<(), $crate::AndonError> {
                <$component>::flush(self)
                    .await
                    .map_err(<$crate::AndonError as ::core::convert::From<_>>::from)
            }

            async fn shutdown(&self, deadline: ::std::time::Duration) -> $crate::ShutdownReport {
                <$component>::shutdown(self, deadline).await
            }
        }
    };
}

/// A part bound after it is handed out: the one way andon binds late.
///
/// Given to a builder before the part it forwards to exists; the umbrella binds it once, after
/// building that part. Until bound (or after the part is gone), forwarding does nothing and
/// says so where the trait has a way to.
///
/// A part that must act once when the target arrives (the metrics recorder reads a listener's
/// watched names once) registers that with [`when_bound`](Deferred::when_bound) instead of
/// polling.
pub struct Deferred<T: ?Sized> {
    target: OnceLock<Arc<T>>,
    /// What to run once bound; emptied by the bind.
    on_bind: Mutex<Vec<OnBind<T>>>,
}

/// An action waiting for a [`Deferred`] to be bound.
type OnBind<T> = Box<dyn FnOnce(&Arc<T>) + Send>;

impl<T: ?Sized> Deferred<T> {
    /// An unbound slot.
    pub fn new() -> Self {
        Deferred {
            target: OnceLock::new(),
            on_bind: Mutex::new(Vec::new()),
        }
    }

    /// Binds the slot, then runs what [`when_bound`](Deferred::when_bound) registered; a
    /// second bind is refused and returns the part it was given.
    pub fn bind(&self, target: Arc<T>) -> Result<(), Arc<T>> {
        self.target.set(target)?;
        let waiting = std::mem::take(&mut *self.on_bind.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(bound) = self.target.get() {
            for action in waiting {
                action(bound);
            }
        }
        Ok(())
    }

    /// Runs `action` with the bound part: now if the slot is bound, else right after the bind
    /// (on the binding thread). Runs at most once.
    pub fn when_bound(&self, action: impl FnOnce(&Arc<T>) + Send + 'static) {
        let mut waiting = self.on_bind.lock().unwrap_or_else(|e| e.into_inner());
        match self.target.get() {
            Some(bound) => {
                drop(waiting);
                action(bound);
            }
            None => waiting.push(Box::new(action)),
        }
    }

    /// The bound part, if any.
    pub fn get(&self) -> Option<&Arc<T>> {
        self.target.get()
    }

    /// Whether the slot is bound.
    pub fn is_bound(&self) -> bool {
        self.target.get().is_some()
    }
}

impl<T: ?Sized> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::new()
    }
}

impl<T: ?Sized> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("bound", &self.is_bound())
            .finish()
    }
}

#[async_trait]
impl crate::component::SignalSink for Deferred<dyn crate::component::SignalSink> {
    fn name(&self) -> &'static str {
        self.get().map_or("deferred", |sink| sink.name())
    }

    async fn on_signal(&self, signal: &crate::signal::AndonSignal) -> Result<(), AndonError> {
        match self.get() {
            Some(sink) => sink.on_signal(signal).await,
            None => Err(AndonError::ShutDown {
                component: "deferred",
            }),
        }
    }
}

impl crate::component::TraceContext for Deferred<dyn crate::component::TraceContext> {
    fn current(&self) -> Option<crate::component::TraceIds> {
        self.get().and_then(|context| context.current())
    }
}

impl crate::component::LogSink for Deferred<dyn crate::component::LogSink> {
    fn write(&self, entry: crate::component::LogEntry) -> Result<(), AndonError> {
        match self.get() {
            Some(sink) => sink.write(entry),
            None => Err(AndonError::ShutDown {
                component: "deferred",
            }),
        }
    }
}

impl crate::component::MetricsListener for Deferred<dyn crate::component::MetricsListener> {
    /// The bound listener's names; none until bound (a recorder reads them with
    /// [`Deferred::when_bound`] instead).
    fn watched_metrics(&self) -> Vec<String> {
        self.get()
            .map_or_else(Vec::new, |listener| listener.watched_metrics())
    }

    fn metric_changed(&self, name: &str) {
        if let Some(listener) = self.get() {
            listener.metric_changed(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_report_names_the_component_and_what_was_lost() {
        let report = ShutdownReport::incomplete("alert", 5, "deadline of 2s passed").with_kept(3);
        assert!(!report.is_complete());
        let text = report.into_result().unwrap_err().to_string();
        assert!(text.contains("alert"), "{text}");
        assert!(text.contains("5 item(s) not delivered, 3 kept"), "{text}");
        assert!(text.contains("2 lost"), "{text}");
        assert!(ShutdownReport::complete("log").into_result().is_ok());
    }

    #[test]
    fn a_deferred_slot_binds_once() {
        let slot: Deferred<str> = Deferred::new();
        assert!(slot.get().is_none());
        assert!(slot.bind(Arc::from("first")).is_ok());
        assert!(slot.bind(Arc::from("second")).is_err());
        assert_eq!(slot.get().map(|s| &**s), Some("first"));
    }

    #[test]
    fn what_waits_for_the_bind_runs_once_after_it_and_at_once_later() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let slot: Deferred<str> = Deferred::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let before = Arc::clone(&runs);
        slot.when_bound(move |s| {
            assert_eq!(&**s, "bound");
            before.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert!(slot.bind(Arc::from("bound")).is_ok());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let after = Arc::clone(&runs);
        slot.when_bound(move |_| {
            after.fetch_add(10, Ordering::SeqCst);
        });
        assert_eq!(runs.load(Ordering::SeqCst), 11);
        assert!(slot.bind(Arc::from("again")).is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 11);
    }
}
