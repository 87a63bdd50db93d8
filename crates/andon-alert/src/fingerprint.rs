//! Fingerprints: the stable identity of an alert (rule + labels), the same across restarts.

use std::collections::BTreeMap;

/// FNV-1a, 64 bits: stable across processes and versions, unlike the standard hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The fingerprint of the alert of `rule` with `labels`: 16 hex digits.
///
/// ```
/// use std::collections::BTreeMap;
/// let mut labels = BTreeMap::new();
/// labels.insert("component".to_string(), "db".to_string());
/// let a = andon_alert::fingerprint("high-queue", &labels);
/// assert_eq!(a.len(), 16);
/// assert_eq!(a, andon_alert::fingerprint("high-queue", &labels));
/// assert_ne!(a, andon_alert::fingerprint("high-queue", &BTreeMap::new()));
/// ```
pub fn fingerprint(rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut text = String::with_capacity(64);
    text.push_str(rule);
    for (k, v) in labels {
        text.push('\u{1f}');
        text.push_str(k);
        text.push('=');
        text.push_str(v);
    }
    andon_core::hex::encode(&fnv1a(text.as_bytes()).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fingerprints are alert identities stored by the history and acknowledged by providers:
    /// their text must never change (leading zeros kept, lower case, 16 digits).
    #[test]
    fn fingerprints_are_pinned() {
        let mut labels = BTreeMap::new();
        labels.insert("component".to_owned(), "db".to_owned());
        assert_eq!(fingerprint("high-queue", &labels), "0c43309d0464c9fc");
        assert_eq!(
            fingerprint("high-queue", &BTreeMap::new()),
            "63f5231e2d2aeaff"
        );
        assert_eq!(fingerprint("", &BTreeMap::new()), "cbf29ce484222325");
    }
}
