//! W3C Trace Context (Level 2) and W3C Baggage: parsing, validation and formatting of the
//! `traceparent`, `tracestate` and `baggage` headers, over `http::HeaderMap` and plain maps.
//!
//! The rules follow <https://www.w3.org/TR/trace-context-2/> and <https://www.w3.org/TR/baggage/>:
//! an invalid `traceparent` starts a new trace and drops the `tracestate`; an invalid
//! `tracestate` is discarded without touching `traceparent`; an invalid baggage member is
//! skipped and the others are kept.
//!
//! One file per header: [`TraceParent`] (`traceparent.rs`), [`TraceState`] (`tracestate.rs`),
//! [`Baggage`] (`baggage.rs`), the carriers they are read from and written to (`carrier.rs`),
//! and here the context they make together and [`InvalidHeader`], the error they share.

mod baggage;
mod carrier;
mod traceparent;
mod tracestate;

pub use baggage::{Baggage, BaggageEntry};
pub use carrier::{Extractor, Injector};
pub use traceparent::TraceParent;
pub use tracestate::TraceState;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";
/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// The `sampled` trace flag (`01`): the caller may have recorded this trace.
pub const FLAG_SAMPLED: u8 = 0x01;
/// The Level 2 `random` trace flag (`02`): the rightmost 7 bytes of the trace id are random.
pub const FLAG_RANDOM: u8 = 0x02;

/// Most `tracestate` members allowed by the W3C specification.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Most baggage members propagated (the W3C Baggage minimum every platform must carry).
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// Most bytes of a `baggage` header propagated (the W3C Baggage minimum).
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// Optional whitespace (OWS) as HTTP defines it: spaces and tabs.
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A header value: the members, each written by `write`, joined by commas.
fn join_members<'a, T: 'a>(
    members: impl IntoIterator<Item = &'a T>,
    mut write: impl FnMut(&mut String, &'a T),
) -> String {
    let mut out = String::new();
    for (i, member) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(&mut out, member);
    }
    out
}

/// A `traceparent`, `tracestate` or `baggage` value that breaks the W3C rules, or an entry that
/// cannot be added to one.
///
/// [`extract`](crate::extract) never returns it: an invalid header is dropped the way the W3C
/// specifications say (a new trace is started, an invalid tracestate is discarded, an invalid
/// baggage member is skipped). The parse functions return it so that callers can tell why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {header}: {reason}")]
pub struct InvalidHeader {
    /// The header: `traceparent`, `tracestate` or `baggage`.
    pub header: &'static str,
    /// What is wrong, and what the specification allows.
    pub reason: &'static str,
}

impl InvalidHeader {
    pub(crate) const fn new(header: &'static str, reason: &'static str) -> Self {
        InvalidHeader { header, reason }
    }
}

/// The trace context received with a request: the caller's `traceparent` (if valid), its
/// `tracestate` and the baggage. Start spans under it with
/// [`AndonTracer::start_span_from`](crate::AndonTracer::start_span_from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropagationContext {
    traceparent: Option<TraceParent>,
    tracestate: TraceState,
    baggage: Baggage,
}

impl PropagationContext {
    /// A context from its parts. A tracestate without a traceparent is dropped.
    pub fn new(traceparent: Option<TraceParent>, tracestate: TraceState, baggage: Baggage) -> Self {
        let tracestate = if traceparent.is_some() {
            tracestate
        } else {
            TraceState::default()
        };
        PropagationContext {
            traceparent,
            tracestate,
            baggage,
        }
    }

    /// The caller's traceparent; `None` when absent or invalid (a new trace starts).
    pub fn traceparent(&self) -> Option<&TraceParent> {
        self.traceparent.as_ref()
    }

    /// The caller's tracestate (empty when invalid, or when there is no valid traceparent).
    pub fn tracestate(&self) -> &TraceState {
        &self.tracestate
    }

    /// The W3C baggage that came with the context (empty when none did).
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// Writes `traceparent` (version 00), `tracestate` and `baggage`, leaving out what is empty.
    pub fn inject(&self, carrier: &mut impl Injector) {
        if let Some(tp) = &self.traceparent {
            carrier.set(TRACEPARENT, tp.to_string());
            if !self.tracestate.is_empty() {
                carrier.set(TRACESTATE, self.tracestate.header());
            }
        }
        if !self.baggage.is_empty() {
            carrier.set(BAGGAGE, self.baggage.header());
        }
    }

    /// The context as an `http::HeaderMap`.
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        self.inject(&mut headers);
        headers
    }
}

/// Reads the W3C trace context and baggage from `carrier`, following the specifications: more
/// than one `traceparent` or an invalid one starts a new trace and drops the tracestate; an
/// invalid tracestate is discarded on its own; invalid baggage members are skipped.
///
/// ```
/// use std::collections::HashMap;
/// use andon_trace::extract;
///
/// let headers = HashMap::from([
///     ("TraceParent".to_owned(), " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t".to_owned()),
///     ("tracestate".to_owned(), "rojo=00f067aa0ba902b7".to_owned()),
/// ]);
/// let context = extract(&headers);
/// assert!(context.traceparent().unwrap().sampled());
/// assert_eq!(context.tracestate().get("rojo"), Some("00f067aa0ba902b7"));
/// ```
pub fn extract(carrier: &impl Extractor) -> PropagationContext {
    let parents = carrier.values(TRACEPARENT);
    let traceparent = match parents.as_slice() {
        [one] => TraceParent::parse(one).ok(),
        _ => None,
    };
    let tracestate = if traceparent.is_some() {
        let values = carrier.values(TRACESTATE);
        TraceState::parse(values.iter().map(|v| v.as_ref())).unwrap_or_default()
    } else {
        TraceState::default()
    };
    let values = carrier.values(BAGGAGE);
    let baggage = Baggage::parse(values.iter().map(|v| v.as_ref()));
    PropagationContext {
        traceparent,
        tracestate,
        baggage,
    }
}
