//! The `traceparent` header: trace id, parent id and flags (W3C Trace Context Level 2).

use std::fmt;

use andon_core::hex;

use super::{FLAG_RANDOM, FLAG_SAMPLED, InvalidHeader, TRACEPARENT, trim_ows};

/// A parsed `traceparent`: trace id, parent (span) id and trace flags.
///
/// ```
/// use andon_trace::TraceParent;
///
/// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?;
/// assert!(tp.sampled() && tp.random());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
/// // A future version is read by its first four fields and written back as version 00.
/// let future = TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?;
/// assert_eq!(future.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), andon_trace::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// A traceparent from its parts. Only the sampled and random bits of `flags` are kept.
    ///
    /// # Errors
    ///
    /// An all-zero trace id or parent id is invalid.
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Result<Self, InvalidHeader> {
        if trace_id == [0; 16] {
            return Err(InvalidHeader::new(TRACEPARENT, "the trace id is all zero"));
        }
        if parent_id == [0; 8] {
            return Err(InvalidHeader::new(TRACEPARENT, "the parent id is all zero"));
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags: flags & (FLAG_SAMPLED | FLAG_RANDOM),
        })
    }

    /// Parses one `traceparent` value; spaces and tabs around it are ignored.
    ///
    /// # Errors
    ///
    /// Version `ff`, a version-00 value that is not exactly four fields, wrong field lengths,
    /// characters other than lower-case hex, and an all-zero trace or parent id.
    pub fn parse(value: &str) -> Result<Self, InvalidHeader> {
        const ERR_FORMAT: InvalidHeader = InvalidHeader::new(
            TRACEPARENT,
            "expected VERSION-TRACEID-PARENTID-FLAGS in lower-case hex (2-32-16-2 digits)",
        );
        let bytes = trim_ows(value).as_bytes();
        if bytes.len() < 55 {
            return Err(ERR_FORMAT);
        }
        let mut version = [0u8; 1];
        hex::decode_lower(&bytes[0..2], &mut version).ok_or(ERR_FORMAT)?;
        if version[0] == 0xff {
            return Err(InvalidHeader::new(TRACEPARENT, "version ff is forbidden"));
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(ERR_FORMAT);
        }
        if version[0] == 0 && bytes.len() != 55 {
            return Err(InvalidHeader::new(
                TRACEPARENT,
                "version 00 has exactly four fields and no trailing data",
            ));
        }
        if bytes.len() > 55 && bytes[55] != b'-' {
            return Err(InvalidHeader::new(
                TRACEPARENT,
                "fields of a future version must follow the flags after a `-`",
            ));
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        let mut flags = [0u8; 1];
        hex::decode_lower(&bytes[3..35], &mut trace_id).ok_or(ERR_FORMAT)?;
        hex::decode_lower(&bytes[36..52], &mut parent_id).ok_or(ERR_FORMAT)?;
        hex::decode_lower(&bytes[53..55], &mut flags).ok_or(ERR_FORMAT)?;
        Self::new(trace_id, parent_id, flags[0])
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The parent (caller's span) id.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags: [`FLAG_SAMPLED`] and [`FLAG_RANDOM`] bits.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// Whether the Level 2 random flag is set.
    pub fn random(&self) -> bool {
        self.flags & FLAG_RANDOM != 0
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        hex::encode_into(&mut out, &self.trace_id);
        out.push('-');
        hex::encode_into(&mut out, &self.parent_id);
        out.push('-');
        hex::encode_into(&mut out, &[self.flags]);
        f.write_str(&out)
    }
}
