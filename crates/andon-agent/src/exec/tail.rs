//! The bounded tail of a command's stderr: the last bytes it wrote, kept while every byte is
//! passed through, and cut to whole lines for the failure report.

use std::collections::VecDeque;

/// The most bytes of stderr kept for the `stderr_tail` attribute.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// The most lines of stderr kept for the `stderr_tail` attribute.
pub const STDERR_TAIL_LINES: usize = 20;

/// The last [`STDERR_TAIL_BYTES`] bytes written to a stream, whatever was written before.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    bytes: VecDeque<u8>,
    /// Whether bytes were dropped from the front.
    cut: bool,
}

impl Tail {
    /// Keeps `chunk`, dropping the oldest bytes beyond the bound.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let chunk = if chunk.len() > STDERR_TAIL_BYTES {
            self.cut = true;
            self.bytes.clear();
            &chunk[chunk.len() - STDERR_TAIL_BYTES..]
        } else {
            chunk
        };
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(STDERR_TAIL_BYTES);
        if overflow > 0 {
            self.cut = true;
            self.bytes.drain(..overflow);
        }
        self.bytes.extend(chunk);
    }

    /// The kept text: at most [`STDERR_TAIL_LINES`] lines, UTF-8 decoded lossily, without a
    /// character or line cut in half at the front, and without the final newline.
    pub(crate) fn text(&self) -> String {
        let bytes: Vec<u8> = self.bytes.iter().copied().collect();
        let mut start = 0;
        if self.cut {
            // A multi-byte character cut by the bound: skip its continuation bytes.
            while start < bytes.len() && bytes[start] & 0b1100_0000 == 0b1000_0000 {
                start += 1;
            }
        }
        let text = String::from_utf8_lossy(&bytes[start..]);
        let text = text.trim_end_matches(['\n', '\r']);
        let lines: Vec<&str> = text
            .split('\n')
            .map(|line| line.trim_end_matches('\r'))
            .collect();
        let mut keep = lines.len().min(STDERR_TAIL_LINES);
        // A first line cut by the byte bound is a fragment: drop it if other lines remain.
        if self.cut && keep == lines.len() && keep > 1 {
            keep -= 1;
        }
        lines[lines.len() - keep..].join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_whole() {
        let mut tail = Tail::default();
        for i in 0..100 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert_eq!(text.lines().count(), STDERR_TAIL_LINES);
        assert!(text.starts_with("line 80\n"), "{text}");
        assert!(text.ends_with("line 99"), "{text}");
    }

    #[test]
    fn bounds_bytes_and_never_splits_a_character_or_a_line() {
        let mut tail = Tail::default();
        tail.push("é".repeat(3000).as_bytes());
        tail.push(b"\nlast words\n");
        let text = tail.text();
        assert!(text.len() <= STDERR_TAIL_BYTES, "{}", text.len());
        assert_eq!(text, "last words");

        let mut one_long_line = Tail::default();
        one_long_line.push("é".repeat(5000).as_bytes());
        let text = one_long_line.text();
        assert!(text.len() <= STDERR_TAIL_BYTES);
        assert!(!text.contains('\u{FFFD}'), "no half character at the front");
        assert!(text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_lost() {
        let mut tail = Tail::default();
        tail.push(b"bad \xff byte\r\n");
        assert_eq!(tail.text(), "bad \u{FFFD} byte");
        assert_eq!(Tail::default().text(), "");
    }
}
