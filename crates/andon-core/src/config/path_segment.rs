//! The one rule for a name that travels as one segment of an API path (a heartbeat name, an
//! alert fingerprint): the client puts it in a URL as it is, so it must not be read as a path
//! of its own.

/// Whether `text` is 1 to `max_chars` ASCII letters, digits and characters of `punctuation`,
/// and not only dots: no `/`, `?`, `#` or `%` can make a URL of another endpoint, and `.` or
/// `..` are not left for a URL parser to read as "this" or "the parent" folder.
///
/// ```
/// use andon_core::config::is_path_segment;
///
/// assert!(is_path_segment("nightly-backup", 128, &['-', '_', '.']));
/// assert!(!is_path_segment("x/../../line/resume?", 256, &['-', '_', ':', '.']));
/// assert!(!is_path_segment("..", 128, &['-', '_', '.']));
/// ```
pub fn is_path_segment(text: &str, max_chars: usize, punctuation: &[char]) -> bool {
    !text.is_empty()
        && text.chars().count() <= max_chars
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || punctuation.contains(&c))
        && !text.chars().all(|c| c == '.')
}
