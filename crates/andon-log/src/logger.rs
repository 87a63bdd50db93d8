//! [`AndonLogger`], its builder, and its [`SignalSink`] implementation.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use andon_core::config::LoggerConfig;
use andon_core::{
    AndonError, AndonSignal, LogEntry, LogLevel, LogSink, ShutdownReport, SignalSink, TraceContext,
    async_trait,
};

use crate::bridge::LogBridge;
use crate::drain::{AndonDrain, to_slog_level};
use crate::error::LogError;
use crate::format::{Entry, Loc, Msg};
use crate::pipeline::{self, Core, Guard};
use crate::queue::Bound;
use crate::stats::LogStats;

/// Structured logging that never hides a failure and never stalls the host.
///
/// Records are formatted on the caller's thread and written by a background thread through a
/// bounded queue; see the [crate docs](crate) for the record schema and the guarantees.
/// Clones share one queue, one writer and one set of counters. The writer stops, delivering
/// everything accepted, at [`shutdown`](Self::shutdown) or when the last clone, drain and bridge
/// are dropped; that drop blocks the thread until the queue is written (or a sink is found
/// stuck for `logger.stall_timeout`), so async code should call `shutdown().await` first.
///
/// The umbrella wires it as a [`SignalSink`] (`on_signal` is [`log_signal`](Self::log_signal)),
/// as the [`LogSink`] of components that write records of their own
/// ([`write_entry`](Self::write_entry)),
/// gives its builder the tracer ([`AndonLoggerBuilder::with_trace_context`]), and reads
/// [`stats`](Self::stats) (or exports them with [`LogStats::export`]).
#[derive(Clone)]
pub struct AndonLogger {
    core: Arc<Core>,
    guard: Arc<Guard>,
    #[cfg(feature = "tracing")]
    directives: Option<Arc<crate::LogDirectives>>,
    /// The lowest level of `tracing` events when no `RUST_LOG` filters them and `ANDON_LOG`
    /// moved andon's own level: the configured `[logger] level`.
    #[cfg(feature = "tracing")]
    events_min: Option<LogLevel>,
}

impl fmt::Debug for AndonLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonLogger")
            .field("component", &self.core.component)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AndonLogger`] with the parts that are not configuration.
#[derive(Debug)]
#[must_use]
pub struct AndonLoggerBuilder {
    config: LoggerConfig,
    component: Option<Arc<str>>,
    trace: Option<Arc<dyn TraceContext>>,
    #[cfg(feature = "tracing")]
    directives: Option<crate::LogDirectives>,
}

impl AndonLoggerBuilder {
    /// Names the component written on records that do not name their own (signals do).
    pub fn with_component(mut self, component: impl Into<Arc<str>>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Puts the active span's `trace_id` and `span_id` on every record, so that logs join
    /// traces. The tracer implements [`TraceContext`].
    pub fn with_trace_context(mut self, trace: Arc<dyn TraceContext>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// [`with_trace_context`](Self::with_trace_context) unless a context was given already:
    /// how the umbrella hands its tracer to a logger whose builder the user gave, keeping the
    /// user's own context when there is one.
    pub fn with_default_trace_context(mut self, trace: Arc<dyn TraceContext>) -> Self {
        self.trace.get_or_insert(trace);
        self
    }

    /// Checks the configuration, sets up the sinks and starts the writer thread.
    ///
    /// Files and network peers are opened by the writer: one that is missing or unreachable
    /// does not fail here, it is counted, reported to stderr and retried.
    pub fn build(self) -> Result<AndonLogger, LogError> {
        #[cfg(feature = "tracing")]
        {
            let mut config = self.config;
            let configured = config.level;
            let notice = self.directives.as_ref().map(|d| d.apply(&mut config));
            // `tracing` events follow RUST_LOG when it is set, else the configured level:
            // ANDON_LOG moves andon's own records alone.
            let (tracing_level, events_min) = match &self.directives {
                Some(d) if d.rust_log().is_some() => (d.tracing_level(), None),
                Some(_) => (Some(configured), Some(configured)),
                None => (None, None),
            };
            let (core, guard) =
                pipeline::start(&config, self.component, self.trace, tracing_level)?;
            let logger = AndonLogger {
                core,
                guard,
                directives: self.directives.map(Arc::new),
                events_min,
            };
            if let Some(notice) = notice {
                // Said once, at start-up: on stderr, where the logger reports its own
                // troubles, and in the log itself when INFO records are kept.
                eprintln!("{notice}");
                let _ = logger.event(LogLevel::Info, &notice, slog::o!());
            }
            Ok(logger)
        }
        #[cfg(not(feature = "tracing"))]
        {
            let (core, guard) = pipeline::start(&self.config, self.component, self.trace, None)?;
            Ok(AndonLogger { core, guard })
        }
    }

    /// Applies `RUST_LOG` / `ANDON_LOG` directives: they override `[logger] level` for
    /// andon's records (`ANDON_LOG` first), and `RUST_LOG` filters the `tracing` events of
    /// [`AndonLogger::tracing_layer`]; the logger says so once, at start-up (stderr, and an
    /// INFO record). See [`LogDirectives`](crate::LogDirectives).
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn with_directives(mut self, directives: Option<crate::LogDirectives>) -> Self {
        self.directives = directives;
        self
    }

    /// [`with_directives`](Self::with_directives) of the environment's `ANDON_LOG` and
    /// `RUST_LOG` ([`LogDirectives::from_env`](crate::LogDirectives::from_env)).
    ///
    /// # Errors
    ///
    /// [`LogError::Config`] naming the variable when a directive does not parse.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn with_env_directives(self) -> Result<Self, LogError> {
        Ok(self.with_directives(crate::LogDirectives::from_env()?))
    }
}

/// The per-level shorthands of [`AndonLogger::log`], one line each: the same signature and
/// the same call, so they are written once.
macro_rules! level_methods {
    ($($(#[$doc:meta])* $name:ident => $level:expr;)*) => {
        $(
            $(#[$doc])*
            #[track_caller]
            pub fn $name<'a>(
                &'a self,
                message: &'a str,
            ) -> impl Future<Output = Result<(), LogError>> + Send + 'a {
                self.log($level, message)
            }
        )*
    };
}

impl AndonLogger {
    /// A logger for `config` (the `[logger]` section), with its writer thread started.
    ///
    /// # Errors
    ///
    /// [`LogError::Config`] when the configuration is invalid, [`LogError::Spawn`] when the
    /// writer thread cannot start.
    pub fn new(config: LoggerConfig) -> Result<Self, LogError> {
        Self::builder(config).build()
    }

    /// A builder for a logger of `config` (the `[logger]` section): a component name, a trace
    /// context, `RUST_LOG` directives, then [`build`](AndonLoggerBuilder::build). See
    /// [`andon_core::contract`] for the shape every component shares.
    pub fn builder(config: LoggerConfig) -> AndonLoggerBuilder {
        AndonLoggerBuilder {
            config,
            component: None,
            trace: None,
            #[cfg(feature = "tracing")]
            directives: None,
        }
    }

    fn entry<'a>(
        &'a self,
        level: LogLevel,
        message: &'a str,
        caller: &'a Location<'a>,
    ) -> Entry<'a> {
        Entry {
            level,
            time: SystemTime::now(),
            message: Msg::Str(message),
            component: self.core.component.as_deref(),
            signal: None,
            location: Some(Loc {
                file: caller.file(),
                line: caller.line(),
                function: "",
            }),
            fields: &[],
            kv: None,
            sampled: true,
            tracing: false,
        }
    }

    /// Logs `message` at `level`.
    ///
    /// Returns once the record is queued; at CRITICAL, once it is written to its sinks, or
    /// after `logger.stall_timeout` when a sink is stuck. A WARNING or CRITICAL record waits
    /// (asynchronously) for room in a full queue; a DEBUG or INFO record does so only under
    /// `overflow = "block"`; neither waits for a stuck sink.
    ///
    /// # Errors
    ///
    /// [`LogError::QueueFull`] when the record was dropped (counted), [`LogError::Stalled`]
    /// when a sink is stuck (counted in `timed_out`, or `dropped` when there was no room),
    /// [`LogError::ShutDown`] after shutdown, [`LogError::WriterGone`] if the writer stopped.
    #[track_caller]
    pub fn log<'a>(
        &'a self,
        level: LogLevel,
        message: &'a str,
    ) -> impl Future<Output = Result<(), LogError>> + Send + 'a {
        let caller = Location::caller();
        async move {
            let pending = self.core.prepare(&self.entry(level, message, caller))?;
            self.core.complete(pending).await
        }
    }

    level_methods! {
        /// Logs at DEBUG. See [`log`](Self::log).
        debug => LogLevel::Debug;
        /// Logs at INFO. See [`log`](Self::log).
        info => LogLevel::Info;
        /// Logs at WARNING, never dropped. See [`log`](Self::log).
        warn => LogLevel::Warning;
        /// Logs at CRITICAL, never dropped, and returns once the record is written to its sinks.
        /// See [`log`](Self::log).
        critical => LogLevel::Critical;
    }

    /// Logs an Andon signal: RED at CRITICAL (written before this returns), YELLOW at WARNING,
    /// GREEN at INFO. The record carries the signal's id, color, component, timestamp and
    /// attributes; its trace id is the record's `trace_id` (in any other form than 32
    /// lower-case hex digits it is mapped as the signal's span maps it, and kept as given in
    /// `correlation_id`).
    ///
    /// # Errors
    ///
    /// As [`log`](Self::log).
    #[track_caller]
    pub fn log_signal<'a>(
        &'a self,
        signal: &'a AndonSignal,
    ) -> impl Future<Output = Result<(), LogError>> + Send + 'a {
        let caller = Location::caller();
        async move {
            // The entry borrows non-Send parts: it must not live across an await.
            let pending = {
                let entry = Entry {
                    time: signal.timestamp(),
                    component: signal.component().or(self.core.component.as_deref()),
                    signal: Some(signal),
                    // A signal is never sampled away: a GREEN is news too.
                    sampled: false,
                    ..self.entry(signal.log_level(), signal.message(), caller)
                };
                self.core.prepare(&entry)?
            };
            self.core.complete(pending).await
        }
    }

    /// The synchronous hot-path form, with structured key-values: formats on this thread into a
    /// reused buffer and queues the bytes, allocating nothing in the common case.
    ///
    /// ```
    /// # use andon_log::{AndonLogger, LogLevel};
    /// # let logger = AndonLogger::new(Default::default())?;
    /// logger.event(LogLevel::Info, "request served", slog::o!("status" => 200, "path" => "/"))?;
    /// # Ok::<(), andon_log::LogError>(())
    /// ```
    ///
    /// A WARNING or CRITICAL record blocks the thread while the queue is full, and a CRITICAL
    /// one until it is written; use the async methods inside an async runtime for those.
    ///
    /// # Errors
    ///
    /// As [`log`](Self::log).
    #[track_caller]
    pub fn event(&self, level: LogLevel, message: &str, kv: impl slog::KV) -> Result<(), LogError> {
        if !self.core.accepts_own(level) {
            return Ok(());
        }
        let caller = Location::caller();
        let location = slog::RecordLocation {
            file: caller.file(),
            line: caller.line(),
            column: caller.column(),
            function: "",
            module: "",
        };
        let rstatic = slog::RecordStatic {
            location: &location,
            tag: "",
            level: to_slog_level(level),
        };
        self.event_with(
            level,
            message,
            caller,
            &slog::Record::new(&rstatic, &format_args!("{message}"), slog::b!()),
            &kv,
        )
    }

    fn event_with(
        &self,
        level: LogLevel,
        message: &str,
        caller: &Location<'_>,
        record: &slog::Record<'_>,
        kv: &dyn slog::KV,
    ) -> Result<(), LogError> {
        let kv_fn = |s: &mut dyn slog::Serializer| kv.serialize(record, s);
        let mut entry = self.entry(level, message, caller);
        entry.kv = Some(&kv_fn);
        self.core.submit_blocking(&entry)
    }

    /// A `slog::Logger` whose records go through this logger's filter, sampling, queue and
    /// sinks, so existing slog code plugs straight in. slog's `Error` maps to CRITICAL and
    /// `Trace` to DEBUG.
    pub fn slog_logger(&self) -> slog::Logger {
        slog::Logger::root(self.drain(), slog::o!())
    }

    /// This logger as a slog [`Drain`](slog::Drain), to compose with other drains.
    pub fn drain(&self) -> AndonDrain {
        AndonDrain::new(Arc::clone(&self.core), Arc::clone(&self.guard))
    }

    /// A `log` crate logger that sends records to this logger's sinks.
    pub fn log_bridge(&self) -> LogBridge {
        LogBridge::new(Arc::clone(&self.core), Arc::clone(&self.guard))
    }

    /// A [`tracing_subscriber::Layer`] that writes every `tracing` event as a record of this
    /// logger ([`AndonLayer`](crate::AndonLayer)), filtered by the logger's `RUST_LOG`
    /// directives when it was built with them ([`AndonLoggerBuilder::with_directives`]).
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// # let logger = andon_log::AndonLogger::new(Default::default())?;
    /// let subscriber = tracing_subscriber::registry().with(logger.tracing_layer());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info!(user = "alice", status = 200, "request served");
    /// });
    /// # Ok::<(), andon_log::LogError>(())
    /// ```
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn tracing_layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + use<S>
    where
        S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        use tracing_subscriber::Layer as _;
        let layer = crate::AndonLayer::new(
            Arc::clone(&self.core),
            Arc::clone(&self.guard),
            self.events_min,
        );
        layer.with_filter(self.directives.as_ref().and_then(|d| d.event_filter()))
    }

    /// The directives (`RUST_LOG` / `ANDON_LOG`) this logger was built with.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn directives(&self) -> Option<&crate::LogDirectives> {
        self.directives.as_deref()
    }

    /// Installs [`log_bridge`](Self::log_bridge) as the global `log` logger, with the `log`
    /// max level set to the lowest level any sink takes.
    ///
    /// # Errors
    ///
    /// [`LogError::LogBridgeTaken`] when a global `log` logger is already installed.
    pub fn install_log_bridge(&self) -> Result<(), LogError> {
        self.log_bridge().install()
    }

    /// Waits until every record accepted before the call is written to its sinks.
    ///
    /// # Errors
    ///
    /// [`LogError::WriterGone`] if the writer stopped before writing them,
    /// [`LogError::Stalled`] when a sink is stuck (no progress for `logger.stall_timeout`).
    pub async fn flush(&self) -> Result<(), LogError> {
        let target = self.core.queue.accepted();
        self.core.queue.wait(target, Bound::Progress).await
    }

    /// [`flush`](Self::flush) for synchronous code: blocks the thread.
    ///
    /// The one sync twin kept beside the contract's async methods, for the same reason as
    /// [`shutdown_blocking`](Self::shutdown_blocking): the logger also serves programs without
    /// an async runtime (the `log`, `slog` and `tracing` bridges, benchmarks), which must still
    /// be able to write everything out before they exit.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush).
    pub fn flush_blocking(&self) -> Result<(), LogError> {
        let target = self.core.queue.accepted();
        self.core.queue.wait_blocking(target, Bound::Progress)
    }

    /// Refuses new records (they are counted as dropped), writes everything accepted, closes
    /// the sinks and stops the writer, within `deadline`. Idempotent; affects every clone.
    ///
    /// A stuck sink does not hold it: once the writer has made no progress for
    /// `logger.stall_timeout`, or at the deadline, it returns an incomplete report (a stall
    /// says [`LogError::Stalled`]'s text), leaving the writer thread to end with the process and
    /// what it holds counted in `queued`. Needs no tokio timer (the deadline is kept by a
    /// thread of its own), so it works on a runtime without one.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let outcome = within(deadline, self.guard.shutdown()).await;
        match outcome {
            Some(Ok(())) => ShutdownReport::complete("log"),
            Some(Err(error)) => {
                ShutdownReport::incomplete("log", self.stats().queued, error.to_string())
            }
            None => ShutdownReport::timed_out("log", self.stats().queued, deadline),
        }
    }

    /// [`shutdown`](Self::shutdown) for synchronous code, without a deadline of its own (a
    /// stuck sink still returns it after `logger.stall_timeout`): blocks the thread. Kept for
    /// programs without an async runtime (see [`flush_blocking`](Self::flush_blocking)).
    pub fn shutdown_blocking(&self) {
        self.guard.shutdown_blocking();
    }

    /// The counters now; see [`LogStats`].
    pub fn stats(&self) -> LogStats {
        self.core.stats()
    }

    /// Writes one [`LogEntry`] (the alert manager's `log` channel writes through this, as
    /// [`LogSink::write`]): the entry's level, message, component and fields, with their JSON
    /// types, through the same queue and sinks as every record. It is never sampled away; a
    /// CRITICAL entry returns once written or after `logger.stall_timeout`, like any CRITICAL
    /// record.
    ///
    /// # Errors
    ///
    /// As [`log`](Self::log).
    #[track_caller]
    pub fn write_entry(&self, entry: &LogEntry) -> Result<(), LogError> {
        let caller = Location::caller();
        let record = Entry {
            component: entry
                .component
                .as_deref()
                .or(self.core.component.as_deref()),
            fields: &entry.fields,
            sampled: false,
            tracing: false,
            ..self.entry(entry.level, &entry.message, caller)
        };
        self.core.submit_blocking(&record)
    }
}

/// A stalled sink is not a refusal: the record is queued (or, with no room, dropped), and either
/// way already counted by the logger (`timed_out`, `dropped`, `andon_log_stalled`). Answering
/// `Ok` keeps the alert manager's `log` channel from retrying it, which would write it twice
/// once the sink moves again.
impl LogSink for AndonLogger {
    fn write(&self, entry: LogEntry) -> Result<(), AndonError> {
        match self.write_entry(&entry) {
            Ok(()) | Err(LogError::Stalled { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

#[async_trait]
impl SignalSink for AndonLogger {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        Ok(self.log_signal(signal).await?)
    }

    async fn flush(&self) -> Result<(), AndonError> {
        Ok(AndonLogger::flush(self).await?)
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        Ok(self.guard.shutdown().await?)
    }
}

andon_core::impl_component!(AndonLogger, "log");

/// Runs `work` until it finishes (`Some`) or `deadline` passes (`None`), timed by a thread of
/// its own rather than tokio's timer, which a runtime may lack. Without a thread, no deadline.
async fn within<T>(deadline: Duration, work: impl Future<Output = T>) -> Option<T> {
    let (fire, fired) = tokio::sync::oneshot::channel::<()>();
    let Some(alarm) = andon_runtime::Alarm::start("andon-log-deadline", deadline, move || {
        let _ = fire.send(());
    }) else {
        return Some(work.await);
    };
    let mut work = std::pin::pin!(work);
    let mut fired = Some(fired);
    let outcome = std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(done) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(done));
        }
        if let Some(timer) = fired.as_mut()
            && let std::task::Poll::Ready(result) = std::pin::Pin::new(timer).poll(cx)
        {
            fired = None;
            if result.is_ok() {
                return std::task::Poll::Ready(None);
            }
            // The timer thread ended without firing: wait for the work alone.
        }
        std::task::Poll::Pending
    })
    .await;
    // Wakes the alarm's thread at once so that it ends.
    drop(alarm);
    outcome
}
