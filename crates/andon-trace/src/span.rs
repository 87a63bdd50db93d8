//! Span handles: cheap `Copy` ids into the tracer's table of open spans.

use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::SpanContext;

use crate::propagation::{Baggage, TraceState};
use crate::record::Record;

/// A handle to a span started by an [`AndonTracer`](crate::AndonTracer): a cheap `Copy` id.
///
/// Using the handle of a span that has ended, or of another tracer, is an
/// [`UnknownSpan`](crate::TraceError::UnknownSpan) error, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanHandle {
    pub(crate) tracer: u32,
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Display for SpanHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}.{}", self.tracer, self.index, self.generation)
    }
}

/// How a span ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// The operation succeeded.
    Ok,
    /// The operation failed, with a description.
    Error(String),
    /// No judgement (the OpenTelemetry default).
    #[default]
    Unset,
}

impl SpanStatus {
    pub(crate) fn into_otel(self) -> opentelemetry::trace::Status {
        match self {
            SpanStatus::Ok => opentelemetry::trace::Status::Ok,
            SpanStatus::Error(message) => opentelemetry::trace::Status::error(message),
            SpanStatus::Unset => opentelemetry::trace::Status::Unset,
        }
    }
}

/// An open span.
#[derive(Debug)]
pub(crate) struct Live {
    /// The span's ids, sampled flag and W3C tracestate as the SDK knows them.
    pub(crate) context: SpanContext,
    /// Whether the trace id is random (the W3C Level 2 random flag).
    pub(crate) random: bool,
    /// The recorded data; `None` when not sampled.
    ///
    /// andon's own data rather than an SDK span: building an SDK span cost a clone of the
    /// provider's `Arc`, the sampler and id generator asked through thread-local hints, and a
    /// move of a few hundred bytes into the table (see `record.rs`).
    pub(crate) record: Option<Record>,
    /// The W3C tracestate carried to children and injected headers.
    /// `None` when empty, so that most spans allocate nothing for it.
    pub(crate) tracestate: Option<Arc<TraceState>>,
    /// The baggage carried to children and injected headers.
    /// `None` when empty.
    pub(crate) baggage: Option<Arc<Baggage>>,
    /// Set by a RED signal: the span ends as an error with this message.
    pub(crate) error: Option<String>,
}

impl Live {
    /// The span's ids and sampled flag.
    pub(crate) fn context(&self) -> &SpanContext {
        &self.context
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    live: Option<Live>,
}

/// The open spans, indexed by handle; freed slots are reused with a new generation.
#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    open: usize,
    /// Spans ever inserted: the `spans_started` counter, kept under the lock the insert
    /// takes anyway instead of in an atomic of its own.
    started: u64,
    /// Of those, spans not recorded: `spans_not_sampled`, counted the same way.
    not_sampled: u64,
}

impl Table {
    /// Puts the span that `make` builds in a free slot, built there (so that it is not moved
    /// through temporaries on its way in).
    #[inline]
    pub(crate) fn insert_with(
        &mut self,
        tracer: u32,
        make: impl FnOnce() -> Live,
    ) -> Option<SpanHandle> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot::default());
                index
            }
        };
        let slot = self.slots.get_mut(index as usize)?;
        // A free slot is always empty.
        if slot.live.is_some() {
            return None;
        }
        let live = slot.live.insert(make());
        self.started += 1;
        self.not_sampled += u64::from(live.record.is_none());
        self.open += 1;
        Some(SpanHandle {
            tracer,
            index,
            generation: slot.generation,
        })
    }

    pub(crate) fn get_mut(&mut self, handle: &SpanHandle) -> Option<&mut Live> {
        self.slots
            .get_mut(handle.index as usize)
            .filter(|s| s.generation == handle.generation)
            .and_then(|s| s.live.as_mut())
    }

    /// Runs `end` on the open span of `handle`, then frees the slot, dropping the span in
    /// place; `None` if the span is not open.
    #[inline]
    pub(crate) fn end_with<T>(
        &mut self,
        handle: &SpanHandle,
        end: impl FnOnce(&mut Live) -> T,
    ) -> Option<T> {
        let slot = self
            .slots
            .get_mut(handle.index as usize)
            .filter(|s| s.generation == handle.generation)?;
        let out = end(slot.live.as_mut()?);
        slot.live = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(handle.index);
        self.open -= 1;
        Some(out)
    }

    /// Spans started and not yet ended.
    pub(crate) fn open(&self) -> usize {
        self.open
    }

    /// Spans started since the tracer was built, and how many of them were not recorded.
    pub(crate) fn started(&self) -> (u64, u64) {
        (self.started, self.not_sampled)
    }

    /// Removes every open span (at shutdown).
    pub(crate) fn drain(&mut self) -> Vec<Live> {
        let mut out = Vec::with_capacity(self.open);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(live) = slot.live.take() {
                slot.generation = slot.generation.wrapping_add(1);
                if let Ok(index) = u32::try_from(index) {
                    self.free.push(index);
                }
                out.push(live);
            }
        }
        self.open = 0;
        out
    }
}
