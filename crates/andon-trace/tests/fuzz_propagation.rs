//! Fuzz target: `traceparent`, `tracestate` and `baggage` parsing and the
//! extract → inject → extract round trip, as proptest properties over structured headers mixed
//! with arbitrary text (`cargo xtask fuzz` runs them for a bounded time; see docs/fuzzing.md).
//!
//! Properties: no input panics; whatever andon emits re-parses to the same value; an invalid
//! traceparent is never emitted; a tracestate has at most 32 members; baggage stays within 64
//! members and 8192 bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::collections::{BTreeMap, HashMap};

use andon_tests::fuzz;
use andon_trace::{
    Baggage, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, MAX_TRACESTATE_MEMBERS, TraceParent,
    TraceState, extract,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

/// Pieces that matter to the three parsers.
const PIECES: &[&str] = &[
    "00", "01", "02", "03", "ff", "cc", "-", ",", "=", ";", "@", "%", "%2", "%zz", "%C3%A9", "%e9",
    " ", "\t", "0", "a", "Z", TID, PID, "key", "k@v", "rojo", "congo", "+",
];

fn hex(len: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::string::string_regex(&format!("[0-9a-f]{{{len}}}")).unwrap(),
        1 => Just("0".repeat(len)),
        1 => proptest::string::string_regex(&format!("[0-9a-fA-FxX-]{{{}, {}}}", len.saturating_sub(1), len + 1)).unwrap(),
    ]
}

/// A traceparent that is mostly well formed: version, ids and flags from good and bad choices,
/// sometimes with trailing fields, sometimes wrapped in whitespace; or arbitrary text.
fn traceparent() -> impl Strategy<Value = String> {
    let structured = (
        prop_oneof![Just("00".to_owned()), Just("ff".to_owned()), hex(2)],
        hex(32),
        hex(16),
        hex(2),
        prop_oneof![
            4 => Just(String::new()),
            1 => Just("-".to_owned()),
            1 => fuzz::text(PIECES, 4).prop_map(|t| format!("-{t}")),
            1 => fuzz::text(PIECES, 2),
        ],
        prop_oneof![Just(""), Just(" "), Just("\t"), Just("\n")],
    )
        .prop_map(|(v, t, p, f, tail, ws)| format!("{ws}{v}-{t}-{p}-{f}{tail}{ws}"));
    prop_oneof![4 => structured, 1 => fuzz::text(PIECES, 40)]
}

fn tracestate_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z][a-z0-9_*/-]{0,8}",
        2 => "[a-z0-9][a-z0-9_*/-]{0,5}@[a-z][a-z0-9_*/-]{0,4}",
        1 => "[a-z]{250,260}",
        1 => fuzz::text(PIECES, 3),
    ]
}

fn tracestate_value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[!-+\\--<>-~][ !-+\\--<>-~]{0,10}[!-+\\--<>-~]",
        1 => "[!-+\\--<>-~]{250,260}",
        1 => fuzz::text(PIECES, 3),
    ]
}

/// One or more `tracestate` header values of up to 40 members, some repeated, some invalid.
fn tracestate_headers() -> impl Strategy<Value = Vec<String>> {
    let member = prop_oneof![
        8 => (tracestate_key(), tracestate_value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => Just(String::new()),
        1 => Just("rojo=00f067aa0ba902b7".to_owned()),
        1 => fuzz::text(PIECES, 6),
    ];
    let header = proptest::collection::vec(member, 0..20).prop_map(|members| members.join(","));
    proptest::collection::vec(header, 0..3)
}

fn baggage_value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[!#-+\\--:<-\\[\\]-~]{0,12}",
        2 => "(%[0-9A-Fa-f]{2}|[a-z]){0,8}",
        1 => "[a-z]{500,3000}",
        1 => fuzz::text(PIECES, 4),
    ]
}

/// `baggage` header values: members with keys from a small set (so that later members replace
/// earlier ones), values up to 3000 bytes, properties, and noise.
fn baggage_headers() -> impl Strategy<Value = Vec<String>> {
    let key = prop_oneof![
        4 => proptest::sample::select(&["a", "b", "userId", "k1", "k2", "k3"][..]).prop_map(str::to_owned),
        4 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,6}",
        1 => fuzz::text(PIECES, 2),
    ];
    let property = prop_oneof![
        Just(String::new()),
        "[a-z]{1,5}".prop_map(|p| format!(";{p}")),
        ("[a-z]{1,5}", baggage_value()).prop_map(|(k, v)| format!(";{k}={v}")),
        fuzz::text(PIECES, 2).prop_map(|t| format!(";{t}")),
    ];
    let member = prop_oneof![
        8 => (key, baggage_value(), property, prop_oneof![Just(""), Just(" "), Just("\t")])
            .prop_map(|(k, v, p, ws)| format!("{ws}{k}{ws}={ws}{v}{p}{ws}")),
        1 => fuzz::text(PIECES, 6),
    ];
    let header = proptest::collection::vec(member, 0..24).prop_map(|members| members.join(","));
    proptest::collection::vec(header, 0..3)
}

fn check_traceparent(text: &str) -> Result<(), TestCaseError> {
    if let Ok(tp) = TraceParent::parse(text) {
        let emitted = tp.to_string();
        prop_assert_eq!(emitted.len(), 55);
        prop_assert!(emitted.starts_with("00-"));
        prop_assert!(
            emitted
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        prop_assert_eq!(TraceParent::parse(&emitted), Ok(tp));
    }
    Ok(())
}

fn check_tracestate(values: &[String]) -> Result<(), TestCaseError> {
    if let Ok(state) = TraceState::parse(values.iter().map(String::as_str)) {
        prop_assert!(state.len() <= MAX_TRACESTATE_MEMBERS);
        let header = state.header();
        prop_assert_eq!(TraceState::parse([header.as_str()]), Ok(state));
    }
    Ok(())
}

fn check_baggage(baggage: &Baggage) -> Result<(), TestCaseError> {
    let header = baggage.header();
    prop_assert!(
        baggage.len() <= MAX_BAGGAGE_MEMBERS,
        "{} members",
        baggage.len()
    );
    prop_assert!(
        header.len() <= MAX_BAGGAGE_BYTES,
        "{} bytes emitted",
        header.len()
    );
    prop_assert_eq!(&Baggage::parse([header.as_str()]), baggage);
    Ok(())
}

#[test]
fn fuzz_traceparent() {
    fuzz::run("traceparent", file!(), traceparent(), |text| {
        check_traceparent(&text)
    });
}

#[test]
fn fuzz_tracestate() {
    fuzz::run(
        "tracestate",
        file!(),
        (tracestate_headers(), tracestate_key(), tracestate_value()),
        |(values, key, value)| {
            check_tracestate(&values)?;
            if let Ok(mut state) = TraceState::parse(values.iter().map(String::as_str)) {
                let before = state.clone();
                match state.insert(&key, &value) {
                    Ok(()) => {
                        prop_assert_eq!(state.iter().next(), Some((key.as_str(), value.as_str())));
                        check_tracestate(&[state.header()])?;
                    }
                    Err(_) => prop_assert_eq!(state, before),
                }
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_baggage() {
    fuzz::run(
        "baggage",
        file!(),
        (
            baggage_headers(),
            "[A-Za-z0-9_-]{1,8}",
            fuzz::text(PIECES, 12),
        ),
        |(values, key, value)| {
            let mut baggage = Baggage::parse(values.iter().map(String::as_str));
            check_baggage(&baggage)?;
            let before = baggage.clone();
            match baggage.set(&key, &value) {
                Ok(()) => {
                    check_baggage(&baggage)?;
                    let again = Baggage::parse([baggage.header().as_str()]);
                    prop_assert_eq!(again.get(&key), Some(value.as_str()));
                }
                Err(_) => prop_assert_eq!(baggage, before),
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_extract_inject_round_trip() {
    fuzz::run(
        "extract_inject",
        file!(),
        (
            proptest::collection::vec(traceparent(), 0..3),
            tracestate_headers(),
            baggage_headers(),
            proptest::sample::select(&["traceparent", "TraceParent", "TRACEPARENT"][..]),
        ),
        |(parents, states, baggages, name)| {
            let mut list: Vec<(String, String)> = Vec::new();
            list.extend(parents.iter().map(|v| (name.to_owned(), v.clone())));
            list.extend(states.iter().map(|v| ("tracestate".to_owned(), v.clone())));
            list.extend(baggages.iter().map(|v| ("Baggage".to_owned(), v.clone())));
            let context = extract(&list);
            if parents.len() != 1 {
                prop_assert!(context.traceparent().is_none(), "one traceparent or none");
            }
            if context.traceparent().is_none() {
                prop_assert!(
                    context.tracestate().is_empty(),
                    "no tracestate without a traceparent"
                );
            }
            prop_assert!(context.tracestate().len() <= MAX_TRACESTATE_MEMBERS);
            check_baggage(context.baggage())?;

            // Every carrier re-reads exactly what was injected.
            let mut map = HashMap::new();
            context.inject(&mut map);
            if let Some(emitted) = map.get("traceparent") {
                prop_assert!(
                    TraceParent::parse(emitted).is_ok(),
                    "invalid traceparent emitted: {emitted}"
                );
            }
            prop_assert_eq!(&extract(&map), &context);
            let mut tree = BTreeMap::new();
            context.inject(&mut tree);
            prop_assert_eq!(&extract(&tree), &context);
            let mut pairs: Vec<(String, String)> = Vec::new();
            context.inject(&mut pairs);
            prop_assert_eq!(&extract(&pairs), &context);
            let headers = context.to_header_map();
            prop_assert_eq!(&extract(&headers), &context);
            Ok(())
        },
    );
}

/// Found by `fuzz_baggage`: a later value for an existing key was taken without counting its
/// bytes, so the emitted header could pass 8192 bytes.
#[test]
fn a_longer_value_for_an_existing_key_never_passes_8192_bytes() {
    let (big, bigger) = ("v".repeat(4000), "w".repeat(5000));
    let header = format!("a=1,b={bigger},c=2,a={big}");
    let baggage = Baggage::parse([header.as_str()]);
    assert!(baggage.header().len() <= MAX_BAGGAGE_BYTES);
    assert_eq!(
        baggage.get("a"),
        Some("1"),
        "the replacement that does not fit is dropped"
    );
    assert_eq!(baggage.len(), 3);
    // One that fits still replaces.
    let baggage = Baggage::parse(["a=1,b=2,a=3"]);
    assert_eq!(baggage.get("a"), Some("3"));
}
