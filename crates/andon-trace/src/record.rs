//! A recorded span's data while it is open, kept by andon itself, and the SDK's `SpanData` it
//! becomes when it ends.
//!
//! andon decides itself whether a span of its own is recorded and makes its ids, so it does
//! not build an SDK span for it: an SDK span is a few hundred bytes that were moved into the
//! span table, cloned the provider's `Arc` and asked the sampler and id generator through
//! thread-local hints, only to be turned into a `SpanData` at its end. A [`Record`] holds what
//! that `SpanData` needs, with the SDK's rules for limits and status, and goes to the export
//! queue as the SDK's span processor would have received it.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLimits, SpanLinks};

/// The data of an open recorded span: what the SDK keeps in its span until the end.
#[derive(Debug)]
pub(crate) struct Record {
    /// The parent's span id; invalid for a root.
    parent_span_id: SpanId,
    /// Whether the parent came from another process (a `traceparent` header).
    parent_is_remote: bool,
    name: Cow<'static, str>,
    start_time: SystemTime,
    attributes: Vec<KeyValue>,
    /// Attributes refused by the span limit, as the SDK counts them.
    dropped_attributes_count: u32,
    events: SpanEvents,
    status: Status,
}

impl Record {
    /// A span named `name` under `parent` (its span id, and whether it is remote), started at
    /// `start_time` (now when `None`) with `attributes`, which the SDK's span limit truncates.
    #[inline]
    pub(crate) fn new(
        parent: Option<&SpanContext>,
        name: Cow<'static, str>,
        start_time: Option<SystemTime>,
        attributes: Option<Vec<KeyValue>>,
    ) -> Record {
        // The SDK's rule: a parent that is not valid is no parent.
        let parent = parent.filter(|cx| cx.is_valid());
        let (attributes, dropped_attributes_count) = match attributes {
            None => (Vec::new(), 0),
            Some(mut attributes) => {
                let limit = limits().max_attributes_per_span as usize;
                let dropped = attributes.len().saturating_sub(limit);
                attributes.truncate(limit);
                (attributes, u32::try_from(dropped).unwrap_or(u32::MAX))
            }
        };
        Record {
            parent_span_id: parent.map_or(SpanId::INVALID, SpanContext::span_id),
            parent_is_remote: parent.is_some_and(SpanContext::is_remote),
            name,
            start_time: start_time.unwrap_or_else(opentelemetry::time::now),
            attributes,
            dropped_attributes_count,
            events: SpanEvents::default(),
            status: Status::Unset,
        }
    }

    /// Adds an attribute; past the span limit it is counted as dropped (as the SDK does).
    pub(crate) fn set_attribute(&mut self, attribute: KeyValue) {
        if self.attributes.len() < limits().max_attributes_per_span as usize {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes_count = self.dropped_attributes_count.saturating_add(1);
        }
    }

    /// Adds an event timestamped now, within the SDK's limits on events and their attributes.
    pub(crate) fn add_event(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        mut attributes: Vec<KeyValue>,
    ) {
        let limits = limits();
        if self.events.events.len() < limits.max_events_per_span as usize {
            let limit = limits.max_attributes_per_event as usize;
            let dropped = attributes.len().saturating_sub(limit);
            attributes.truncate(limit);
            self.events.events.push(Event::new(
                name,
                opentelemetry::time::now(),
                attributes,
                u32::try_from(dropped).unwrap_or(u32::MAX),
            ));
        } else {
            self.events.dropped_count = self.events.dropped_count.saturating_add(1);
        }
    }

    /// Sets the status by the SDK's rule: it only moves up the order Unset < Error < Ok.
    pub(crate) fn set_status(&mut self, status: Status) {
        if status > self.status {
            self.status = status;
        }
    }

    /// The span as exported: ended now, with `context` (its ids) and the tracer's `scope`.
    #[inline]
    pub(crate) fn into_span_data(
        self,
        context: SpanContext,
        scope: &InstrumentationScope,
    ) -> SpanData {
        SpanData {
            span_context: context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: SpanKind::Internal,
            name: self.name,
            start_time: self.start_time,
            end_time: opentelemetry::time::now(),
            attributes: self.attributes,
            dropped_attributes_count: self.dropped_attributes_count,
            events: self.events,
            links: SpanLinks::default(),
            status: self.status,
            instrumentation_scope: scope.clone(),
        }
    }
}

/// The SDK's default span limits, the ones andon's provider has always used.
#[inline]
fn limits() -> SpanLimits {
    SpanLimits::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceFlags, TraceId, TraceState};

    fn context(remote: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            TraceFlags::SAMPLED,
            remote,
            TraceState::NONE,
        )
    }

    #[test]
    fn the_sdk_limits_and_status_rules_hold() {
        let many = (0..200)
            .map(|i| KeyValue::new(format!("k{i}"), i))
            .collect();
        let mut record = Record::new(Some(&context(true)), "x".into(), None, Some(many));
        record.set_attribute(KeyValue::new("late", 1));
        for _ in 0..130 {
            record.add_event("e", vec![KeyValue::new("a", 1)]);
        }
        record.set_status(Status::Ok);
        record.set_status(Status::error("after ok"));
        let scope = InstrumentationScope::builder("andon-trace").build();
        let data = record.into_span_data(context(false), &scope);
        assert_eq!(data.attributes.len(), 128);
        assert_eq!(data.dropped_attributes_count, 73);
        assert_eq!(data.events.len(), 128);
        assert_eq!(data.events.dropped_count, 2);
        assert_eq!(data.status, Status::Ok);
        assert_eq!(data.parent_span_id, SpanId::from(9));
        assert!(data.parent_span_is_remote);
        assert_eq!(data.span_kind, SpanKind::Internal);
        assert!(data.end_time >= data.start_time);
        assert_eq!(data.instrumentation_scope.name(), "andon-trace");
    }

    #[test]
    fn a_root_has_no_parent_and_a_local_parent_is_not_remote() {
        let root = Record::new(None, "r".into(), None, None);
        assert_eq!(root.parent_span_id, SpanId::INVALID);
        assert!(!root.parent_is_remote);
        let child = Record::new(Some(&context(false)), "c".into(), None, None);
        assert!(!child.parent_is_remote);
    }
}
