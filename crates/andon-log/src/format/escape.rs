//! JSON escaping of every string a caller passes (quotes, backslashes, every control character
//! and DEL), eight clean bytes at a time, and messages cut to a size with a marker.

use std::fmt::{self, Write as _};

use super::Msg;

/// For each byte: 0 = copied as is, 1 = written as `\u00` and two hex digits, else the
/// letter after a backslash.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = 1;
        i += 1;
    }
    table[0x7f] = 1;
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the 8 bytes in `word` may need escaping: below 0x20, `"`, `\\` or DEL.
/// Exact for "none": a word that passes is copied as is.
fn word_needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        | has_zero(word ^ (ONES * 0x7f)))
        != 0
}

/// Appends `text` escaped for a JSON string (without the quotes). With `quotes` false (text
/// lines), `"` is left alone; control characters and backslashes are always escaped, so the
/// result never holds a raw newline.
pub(crate) fn escape_into(buf: &mut Vec<u8>, text: &str, quotes: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip 8 clean bytes at a time; look at bytes one by one only where one may need it.
        let mut word = [b' '; 8];
        let rest = bytes.get(i..).unwrap_or_default();
        let take = rest.len().min(8);
        word[..take].copy_from_slice(&rest[..take]);
        if !word_needs_escape(u64::from_le_bytes(word)) {
            i += take;
            continue;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            let code = ESCAPE[usize::from(b)];
            if code != 0 && (b != b'"' || quotes) {
                buf.extend_from_slice(&bytes[start..i]);
                if code == 1 {
                    buf.extend_from_slice(b"\\u00");
                    buf.extend_from_slice(&andon_core::hex::byte_digits(b, andon_core::hex::LOWER));
                } else {
                    buf.push(b'\\');
                    buf.push(code);
                }
                start = i + 1;
            }
            i += 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// A `fmt::Write` that escapes into the buffer and keeps at most `left` bytes of the text,
/// cut at a character boundary; `total` counts everything it was given.
struct Bounded<'b> {
    buf: &'b mut Vec<u8>,
    left: usize,
    total: usize,
    quotes: bool,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        if self.left == 0 {
            return Ok(());
        }
        if s.len() <= self.left {
            escape_into(self.buf, s, self.quotes);
            self.left -= s.len();
        } else {
            let mut cut = self.left;
            while cut > 0 && !s.is_char_boundary(cut) {
                cut -= 1;
            }
            escape_into(self.buf, &s[..cut], self.quotes);
            self.left = 0;
        }
        Ok(())
    }
}

/// Writes `message` escaped, cut to `max` bytes with a marker naming the full size.
pub(super) fn write_bounded(buf: &mut Vec<u8>, message: Msg<'_>, max: usize, quotes: bool) {
    let mut out = Bounded {
        buf,
        left: max,
        total: 0,
        quotes,
    };
    match message {
        Msg::Str(s) => {
            let _ = out.write_str(s);
        }
        Msg::Args(args) => match args.as_str() {
            Some(s) => {
                let _ = out.write_str(s);
            }
            None => {
                let _ = out.write_fmt(*args);
            }
        },
    }
    if out.total > max {
        let total = out.total;
        let _ = write!(VecWriter(out.buf), "… [truncated: {total} bytes]");
    }
}

/// `fmt::Write` straight into a byte buffer, for text we produce ourselves (no escaping needed).
pub(super) struct VecWriter<'b>(pub(super) &'b mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_agrees_with_serde_json_for_every_byte_position() {
        let specials = ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "✓", "a"];
        for len in 0..20 {
            for special in specials {
                for pos in 0..=len {
                    let mut text = "x".repeat(len);
                    text.insert_str(pos, special);
                    let mut buf = vec![b'"'];
                    escape_into(&mut buf, &text, true);
                    buf.push(b'"');
                    let back: String = serde_json::from_slice(&buf).unwrap();
                    assert_eq!(back, text);
                    assert!(!buf.iter().any(|&b| b < 0x20 || b == 0x7f), "{text:?}");
                }
            }
        }
        assert!(!word_needs_escape(u64::from_le_bytes(*b"abcdefgh")));
        assert!(!word_needs_escape(u64::from_le_bytes(*b"\xc3\xa9 !#[]~")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"abcdefg\"")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"\x7fbcdefgh")));
    }
}
