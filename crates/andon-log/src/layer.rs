//! The `tracing` side: [`AndonLayer`] writes every `tracing` event as an andon record.

use std::fmt;
use std::sync::Arc;

use andon_core::LogLevel;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;

use crate::filter::from_tracing_level;
use crate::format::{Entry, Loc};
use crate::pipeline::{Core, Guard, in_writer};

/// A [`tracing_subscriber::Layer`] that turns every `tracing` event into an andon record,
/// through the logger's level filter, sampling, bounded queue, sinks and drop accounting.
///
/// - `ERROR` → CRITICAL (written before the event returns, like every CRITICAL record, or
///   counted after `logger.stall_timeout`), `WARN` → WARNING, `INFO` → INFO, `DEBUG` and
///   `TRACE` → DEBUG.
/// - The `message` field is the record's message; every other field is a key-value with its
///   JSON type (integers and floats as numbers, booleans as booleans, strings and `?debug` /
///   `%display` values as strings).
/// - `target`, `file` and `line` (the callsite) are key-values; in the Cloud Logging layout
///   the callsite is also the record's `sourceLocation`, with the module path as `function`.
/// - Inside a span of andon-trace's layer (`AndonTracer::layer`) the record carries the span's
///   W3C `trace_id` and `span_id`, read through the logger's
///   [`TraceContext`](andon_core::TraceContext).
///
/// Events raised on the logger's own writer thread (by a sink's HTTP client, say) are left
/// out, so that writing a record can never feed back into the log.
///
/// Get one from [`AndonLogger::tracing_layer`](crate::AndonLogger::tracing_layer), which also
/// filters by `RUST_LOG` when the logger was built with
/// [`LogDirectives`](crate::LogDirectives).
#[derive(Debug, Clone)]
pub struct AndonLayer {
    core: Arc<Core>,
    _guard: Arc<Guard>,
    /// Events below this are left out (the configured level, when `ANDON_LOG` moved andon's
    /// own level and no `RUST_LOG` filters events).
    min: Option<LogLevel>,
}

impl AndonLayer {
    pub(crate) fn new(core: Arc<Core>, guard: Arc<Guard>, min: Option<LogLevel>) -> Self {
        AndonLayer {
            core,
            _guard: guard,
            min,
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for AndonLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = from_tracing_level(*meta.level());
        if !self.core.accepts(level) || self.min.is_some_and(|min| level < min) || in_writer() {
            return;
        }
        let target = meta.target();
        let kv = |s: &mut dyn slog::Serializer| {
            s.emit_str("target", target)?;
            if let Some(file) = meta.file() {
                s.emit_str("file", file)?;
            }
            if let Some(line) = meta.line() {
                s.emit_u32("line", line)?;
            }
            let mut fields = Fields {
                out: s,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result
        };
        let message = Message(event);
        // One statement, so that the message's format arguments live until the record is
        // queued. A dropped record is counted (`dropped`,
        // `andon_log_records_total{outcome="dropped"}`); `tracing` has no way to tell the caller.
        let _ = self.core.submit_blocking(&Entry::bridged(
            level,
            &format_args!("{message}"),
            self.core.component.as_deref(),
            Loc::reported(meta.file(), meta.line(), meta.module_path()),
            &kv,
            true,
        ));
    }
}

/// Fields that are not key-values: the message, and the `log` crate's metadata that
/// `tracing-log` adds to converted records.
fn skipped(name: &str) -> bool {
    name == "message" || name.starts_with("log.")
}

/// Formats an event's `message` field, straight into the record's buffer.
struct Message<'a>(&'a Event<'a>);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Find<'a, 'b> {
            f: &'a mut fmt::Formatter<'b>,
            result: fmt::Result,
        }
        impl Visit for Find<'_, '_> {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "message" {
                    self.result = self.f.write_str(value);
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    // `format_args!` is the message's usual value; its Debug is its Display.
                    self.result = fmt::Debug::fmt(value, self.f);
                }
            }
        }
        let mut find = Find { f, result: Ok(()) };
        self.0.record(&mut find);
        find.result
    }
}

/// Writes an event's fields into the record as key-values with their JSON types.
struct Fields<'a> {
    out: &'a mut dyn slog::Serializer,
    result: slog::Result,
}

impl Fields<'_> {
    fn emit(&mut self, field: &Field, f: impl FnOnce(&mut dyn slog::Serializer) -> slog::Result) {
        if self.result.is_ok() && !skipped(field.name()) {
            self.result = f(self.out);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.emit(field, |s| s.emit_f64(field.name(), value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.emit(field, |s| s.emit_i64(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.emit(field, |s| s.emit_u64(field.name(), value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.emit(field, |s| match i64::try_from(value) {
            Ok(v) => s.emit_i64(field.name(), v),
            Err(_) => s.emit_arguments(field.name(), &format_args!("{value}")),
        });
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.emit(field, |s| match u64::try_from(value) {
            Ok(v) => s.emit_u64(field.name(), v),
            Err(_) => s.emit_arguments(field.name(), &format_args!("{value}")),
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.emit(field, |s| s.emit_bool(field.name(), value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.emit(field, |s| s.emit_str(field.name(), value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.emit(field, |s| {
            s.emit_arguments(field.name(), &format_args!("{value}"))
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.emit(field, |s| {
            s.emit_arguments(field.name(), &format_args!("{value:?}"))
        });
    }
}
