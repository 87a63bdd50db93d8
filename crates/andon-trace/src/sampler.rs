//! Sampling and id generation shared by andon's own spans and the `tracing` layer's spans.
//!
//! andon decides itself whether a span of its own is recorded (so that a span that is not
//! recorded never reaches the SDK), then asks the SDK to record it with a thread-local hint that
//! this sampler and id generator obey. Spans from the `tracing` layer use the same parent-based
//! ratio rule through the SDK.

use std::cell::Cell;

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, SamplingResult, ShouldSample,
};

thread_local! {
    /// Set while andon starts a span it has already decided to record.
    static FORCE_RECORD: Cell<bool> = const { Cell::new(false) };
    /// The trace id andon chose for a root span it is starting.
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Whether the ratio rule keeps `trace_id`: the same rule as the SDK's `TraceIdRatioBased`
/// (the low 8 bytes of the trace id, shifted right by one, below `ratio * 2^63`).
pub(crate) fn ratio_keeps(ratio: f64, trace_id: [u8; 16]) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    // Truncation is the rule: the bound is the integer part of ratio * 2^63.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    (u64::from_be_bytes(low) >> 1) < bound
}

/// Runs `start` with the hints that make the SDK record the span, with `trace_id` for a root.
#[cfg(test)]
pub(crate) fn with_forced_record<T>(trace_id: Option<TraceId>, start: impl FnOnce() -> T) -> T {
    let _hints = ForcedRecord::set(trace_id);
    start()
}

/// The hints that make the SDK record the span being started (with `trace_id` for a root),
/// set while this guard lives. A guard rather than a closure, so that the span the SDK
/// returns is not copied once more on its way out.
pub(crate) struct ForcedRecord(());

impl ForcedRecord {
    #[inline]
    pub(crate) fn set(trace_id: Option<TraceId>) -> Self {
        FORCE_RECORD.with(|f| f.set(true));
        NEXT_TRACE_ID.with(|n| n.set(trace_id));
        ForcedRecord(())
    }
}

impl Drop for ForcedRecord {
    #[inline]
    fn drop(&mut self) {
        FORCE_RECORD.with(|f| f.set(false));
        NEXT_TRACE_ID.with(|n| n.set(None));
    }
}

/// Parent-based ratio sampling, overridden by andon's own decision when one is set.
#[derive(Debug, Clone)]
pub(crate) struct AndonSampler {
    inner: Sampler,
}

impl AndonSampler {
    pub(crate) fn new(ratio: f64) -> Self {
        AndonSampler {
            inner: Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))),
        }
    }
}

impl ShouldSample for AndonSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if FORCE_RECORD.with(Cell::get) {
            let trace_state = parent_context
                .filter(|cx| cx.has_active_span())
                .map_or(TraceState::NONE, |cx| {
                    cx.span().span_context().trace_state().clone()
                });
            return SamplingResult {
                decision: SamplingDecision::RecordAndSample,
                attributes: Vec::new(),
                trace_state,
            };
        }
        self.inner
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// Random ids, except the root trace id andon chose.
#[derive(Debug, Default)]
pub(crate) struct AndonIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for AndonIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .with(Cell::get)
            .unwrap_or_else(|| self.random.new_trace_id())
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        self.random.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_rule_matches_its_bounds() {
        let mut id = [0u8; 16];
        assert!(ratio_keeps(1.0, [0xff; 16]));
        assert!(!ratio_keeps(0.0, id));
        id[15] = 2; // low half 2, shifted 1: kept by any ratio above 1/2^63
        assert!(ratio_keeps(0.01, id));
        id[8] = 0xff;
        assert!(!ratio_keeps(0.5, id));
        assert!(ratio_keeps(1.0, id));
    }

    #[test]
    fn forced_hints_are_cleared_after_the_start() {
        let id = TraceId::from_bytes([7; 16]);
        let generator = AndonIdGenerator::default();
        let seen = with_forced_record(Some(id), || generator.new_trace_id());
        assert_eq!(seen, id);
        assert_ne!(generator.new_trace_id(), id);
        assert!(!FORCE_RECORD.with(Cell::get));
    }
}
