//! Message fingerprints: a message with its numbers and ids taken out, so that
//! `"queue depth 150 on worker-7"` and `"queue depth 212 on worker-3"` count as one problem in a
//! Pareto.

/// The longest fingerprint kept, in characters.
const MAX_CHARS: usize = 200;

/// Normalises a message: every run of letters and digits that starts with a digit (`150`,
/// `250ms`, `3rd`) or is a hex id of 4 or more characters with a digit in it (`8f7c`,
/// `0192e4a4`) becomes `#`; `#`s joined by `-`, `_`, `.`, `:` or `/` merge (a UUID, `1.5`,
/// `10:42:07` become one `#`); runs of whitespace become one space; the result is cut at 200
/// characters.
///
/// ```
/// use andon_history::fingerprint;
///
/// assert_eq!(fingerprint("queue depth 150 on worker-7"), "queue depth # on worker-#");
/// assert_eq!(
///     fingerprint("order 0192e4a4-8f7c-7cc1-9d1b-3f0e6a1b2c3d failed after 250ms"),
///     "order # failed after #"
/// );
/// ```
pub fn fingerprint(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_CHARS));
    let mut chars = message.char_indices().peekable();
    let mut pending_space = false;
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c.is_alphanumeric() {
            let mut end = start + c.len_utf8();
            while let Some(&(i, next)) = chars.peek() {
                if next.is_alphanumeric() {
                    end = i + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = &message[start..end];
            if is_variable(word) {
                // `#-#`, `#.#`, `#:#`: one value, one `#`.
                let joined = out.ends_with('#')
                    || (out.len() >= 2
                        && out.ends_with(['-', '_', '.', ':', '/'])
                        && out[..out.len() - 1].ends_with('#'));
                if joined && !out.ends_with('#') {
                    out.pop();
                } else if !joined {
                    out.push('#');
                }
            } else {
                out.push_str(word);
            }
        } else {
            out.push(c);
        }
        if out.chars().count() >= MAX_CHARS {
            break;
        }
    }
    let mut cut: String = out.chars().take(MAX_CHARS).collect();
    let trimmed = cut.trim_end().len();
    cut.truncate(trimmed);
    cut
}

/// A number, a value with a unit, or a hex id.
fn is_variable(word: &str) -> bool {
    let starts_with_digit = word.chars().next().is_some_and(|c| c.is_ascii_digit());
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    starts_with_digit
        || (has_digit && word.len() >= 4 && word.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn numbers_and_ids_become_one_mark() {
        let cases = [
            ("queue depth 150 exceeds 100", "queue depth # exceeds #"),
            ("worker-7 crashed", "worker-# crashed"),
            ("latency 1.5s at 10:42:07", "latency # at #"),
            (
                "trace 4bf92f3577b34da6a3ce929d0e0e4736 slow",
                "trace # slow",
            ),
            ("disk  /dev/sda1   full", "disk /dev/sda1 full"),
            ("beef is not an id", "beef is not an id"),
            ("  leading and trailing  ", "leading and trailing"),
            ("", ""),
        ];
        for (message, expected) in cases {
            assert_eq!(fingerprint(message), expected, "{message}");
        }
    }

    #[test]
    fn same_problem_different_values_same_fingerprint() {
        assert_eq!(
            fingerprint("payment 8812 timed out after 3000ms"),
            fingerprint("payment 9 timed out after 12ms")
        );
        assert_ne!(
            fingerprint("payment timed out"),
            fingerprint("payment declined")
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(fingerprint(&long).chars().count(), 200);
        let wide = "é".repeat(300);
        assert_eq!(fingerprint(&wide).chars().count(), 200);
    }
}
