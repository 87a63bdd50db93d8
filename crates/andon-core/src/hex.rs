//! Hexadecimal text: the one encoder and decoder the andon crates share for trace ids, span
//! ids, digests and percent-encoding.
//!
//! ```
//! use andon_core::hex;
//!
//! assert_eq!(hex::encode(&[0x4b, 0xf9]), "4bf9");
//! let mut id = [0u8; 2];
//! assert_eq!(hex::decode_lower(b"4bf9", &mut id), Some(()));
//! assert_eq!(id, [0x4b, 0xf9]);
//! assert_eq!(hex::decode_lower(b"4BF9", &mut id), None); // W3C ids are lower case
//! ```

/// The lower-case hex digits.
pub const LOWER: &[u8; 16] = b"0123456789abcdef";
/// The upper-case hex digits (percent-encoding uses them).
pub const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    encode_into(&mut out, bytes);
    out
}

/// Appends `bytes` to `out` as lower-case hex.
pub fn encode_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        let [hi, lo] = byte_digits(b, LOWER);
        out.push(char::from(hi));
        out.push(char::from(lo));
    }
}

/// The two digits of `byte`, high first, from `digits` ([`LOWER`] or [`UPPER`]).
pub fn byte_digits(byte: u8, digits: &[u8; 16]) -> [u8; 2] {
    [
        digits[usize::from(byte >> 4)],
        digits[usize::from(byte & 0x0f)],
    ]
}

/// The value of one hex digit of either case; `None` for any other character.
pub fn digit_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes lower-case hex `text` (bytes, so a slice of any input is safe) into `out`, which it must fill exactly; `None` on a wrong
/// length or any character other than `0-9a-f` (the W3C Trace Context form).
pub fn decode_lower(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    let lower = |b: u8| {
        if b.is_ascii_uppercase() {
            None
        } else {
            digit_value(b)
        }
    };
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (lower(pair[0])? << 4) | lower(pair[1])?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = encode(&all);
        assert_eq!(&text[..6], "000102");
        assert_eq!(&text[text.len() - 4..], "feff");
        let mut back = vec![0u8; 256];
        assert_eq!(decode_lower(text.as_bytes(), &mut back), Some(()));
        assert_eq!(back, all);
    }

    #[test]
    fn decoding_refuses_upper_case_other_characters_and_wrong_lengths() {
        let mut out = [0u8; 2];
        assert_eq!(decode_lower(b"abCd", &mut out), None);
        assert_eq!(decode_lower(b"abcg", &mut out), None);
        assert_eq!(decode_lower(b"abc", &mut out), None);
        assert_eq!(decode_lower(b"abcdef", &mut out), None);
        assert_eq!(digit_value(b'F'), Some(15));
        assert_eq!(digit_value(b'g'), None);
        assert_eq!(byte_digits(0xab, UPPER), *b"AB");
    }
}
