//! Property-based fuzzing with proptest, bounded by cases in `cargo test` and by time in
//! `cargo xtask fuzz` (feature `fuzz`).
//!
//! Every fuzz target of the workspace is a `#[test]` that calls [`run`] with a strategy (a
//! generator mixing structured inputs and arbitrary bytes) and a property:
//!
//! ```
//! use andon_tests::fuzz;
//! use proptest::prelude::*;
//!
//! fuzz::run("parse_u8", file!(), any::<String>(), |text| {
//!     let _ = text.parse::<u8>(); // must never panic
//!     Ok(())
//! });
//! ```
//!
//! - `PROPTEST_CASES` sets the cases of one round (default 256, so `cargo test` stays quick).
//! - `ANDON_FUZZ_SECONDS=N` repeats rounds with fresh seeds until N seconds have passed, as
//!   `cargo xtask fuzz --seconds N` does.
//! - A failure is shrunk to a minimal input and its seed is saved next to the test as
//!   `<test file>.proptest-regressions`; commit that file, and every later run replays the seed
//!   first.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};

/// The time budget of a fuzz run from `ANDON_FUZZ_SECONDS`; `None` runs one round of cases.
pub fn budget() -> Option<Duration> {
    std::env::var("ANDON_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// The proptest configuration of every fuzz target: cases from `PROPTEST_CASES` (default 256),
/// failures persisted beside `source_file` (pass `file!()`) as `<file>.proptest-regressions`.
pub fn config(source_file: &'static str) -> Config {
    Config {
        source_file: Some(source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Runs the property `test` over inputs from `strategy`: one round of cases, or rounds until
/// the [`budget`] is spent. Panics (failing the calling test) with the minimal failing input.
/// Prints `fuzz NAME: N cases in T` so that `cargo xtask fuzz` can report what ran.
pub fn run<S>(
    name: &str,
    source_file: &'static str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let started = Instant::now();
    let deadline = budget().map(|b| started + b);
    let mut cases: u64 = 0;
    loop {
        let config = config(source_file);
        let round = u64::from(config.cases);
        let mut runner = TestRunner::new(config);
        match runner.run(&strategy, &test) {
            Ok(()) => cases += round,
            Err(TestError::Fail(reason, input)) => {
                #[allow(clippy::panic)] // reason: a fuzz failure fails the calling test
                {
                    panic!(
                        "fuzz {name}: property failed after {cases} passing cases: {reason}\nminimal input: {input:#?}"
                    );
                }
            }
            Err(TestError::Abort(reason)) => {
                #[allow(clippy::panic)] // reason: a fuzz failure fails the calling test
                {
                    panic!("fuzz {name}: aborted: {reason}");
                }
            }
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    println!("fuzz {name}: {cases} cases in {:.1?}", started.elapsed());
}

/// Arbitrary text biased towards what breaks parsers and escapers: the given `pieces`, control
/// characters, quotes, backslashes, separators, non-ASCII and lone surrogates' replacement,
/// joined in any order, up to `max_parts` parts.
pub fn text(pieces: &'static [&'static str], max_parts: usize) -> impl Strategy<Value = String> {
    use proptest::prelude::*;
    const NASTY: &[&str] = &[
        "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1b}", "\u{7f}", "\u{85}", "\u{2028}",
        "\u{feff}", "\u{fffd}", "é", "日本", "🚦", " ", "=", ",", ";", "{", "}", "[", "]", "#",
        "%", "$", "${", "}}", "'", "\\u0000", "\\n",
    ];
    let piece = prop_oneof![
        4 => proptest::sample::select(pieces).prop_map(str::to_owned),
        3 => proptest::sample::select(NASTY).prop_map(str::to_owned),
        2 => any::<char>().prop_map(String::from),
        1 => "[ -~]{0,12}",
        1 => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    proptest::collection::vec(piece, 0..=max_parts).prop_map(|parts| parts.concat())
}
