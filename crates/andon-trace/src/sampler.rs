//! Sampling: andon's ratio rule for its own spans, and the SDK sampler for the `tracing`
//! layer's spans, which follow the same parent-based ratio rule.
//!
//! andon decides itself whether a span of its own is recorded and makes its ids (see
//! `record.rs`), so its spans never ask the SDK's sampler or id generator.

use opentelemetry_sdk::trace::Sampler;

/// The SDK sampler for the `tracing` layer's spans: a parent's decision, else the ratio rule
/// (the same rule as [`ratio_keeps`]).
pub(crate) fn sampler(ratio: f64) -> Sampler {
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)))
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
}
