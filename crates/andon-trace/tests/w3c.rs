//! Table-driven tests of `traceparent`, `tracestate` and `baggage` handling, with the valid and
//! invalid cases of the W3C Trace Context (Level 2) specification and its test suite
//! (w3c/trace-context `test/test.py`), and of the W3C Baggage specification. The fuzz target
//! (no input panics, emitted headers re-parse) is `fuzz_propagation.rs`.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The case tables are tuples on purpose: one line per case reads best.
#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, HashMap};

use andon_trace::{Baggage, TraceParent, TraceState, extract};
use http::{HeaderMap, HeaderName, HeaderValue};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

/// (traceparent, expected: Some((trace id, parent id, flags)) when accepted)
fn traceparent_cases() -> Vec<(String, Option<(&'static str, &'static str, u8)>)> {
    let ok = Some((TID, PID, 1));
    vec![
        // Version 00: exactly four fields.
        (format!("00-{TID}-{PID}-01"), ok),
        (format!("00-{TID}-{PID}-00"), Some((TID, PID, 0))),
        (format!("00-{TID}-{PID}-01-"), None),
        (format!("00-{TID}-{PID}-01-."), None),
        (
            format!("00-{TID}-{PID}-01-what-the-future-will-not-be-like"),
            None,
        ),
        (format!("00-{TID}-{PID}-01 x"), None),
        // Level 2 random flag kept, unknown flags cleared.
        (format!("00-{TID}-{PID}-03"), Some((TID, PID, 3))),
        (format!("00-{TID}-{PID}-02"), Some((TID, PID, 2))),
        (format!("00-{TID}-{PID}-ff"), Some((TID, PID, 3))),
        (format!("00-{TID}-{PID}-09"), Some((TID, PID, 1))),
        // Higher versions: the first four fields, more fields after a dash.
        (format!("cc-{TID}-{PID}-01"), ok),
        (format!("01-{TID}-{PID}-01"), ok),
        (
            format!("cc-{TID}-{PID}-01-what-the-future-will-be-like"),
            ok,
        ),
        (
            format!("cc-{TID}-{PID}-01.what-the-future-will-be-like"),
            None,
        ),
        (format!("fe-{TID}-{PID}-03-x"), Some((TID, PID, 3))),
        // Version ff and malformed versions.
        (format!("ff-{TID}-{PID}-01"), None),
        (format!(".0-{TID}-{PID}-01"), None),
        (format!("0.-{TID}-{PID}-01"), None),
        (format!("000-{TID}-{PID}-01"), None),
        (format!("0-{TID}-{PID}-01"), None),
        (format!("0A-{TID}-{PID}-01"), None),
        // Trace id: all zero, wrong length, upper case, illegal characters.
        (format!("00-{}-{PID}-01", "0".repeat(32)), None),
        (format!("00-{}-{PID}-01", &TID[..31]), None),
        (format!("00-{TID}0-{PID}-01"), None),
        (format!("00-{}-{PID}-01", TID.to_uppercase()), None),
        (
            format!("00-4bf92f3577b34da6a3ce929d0e0e473.-{PID}-01"),
            None,
        ),
        (
            format!("00-4bf92f3577b34da6a3ce929d0e0e473g-{PID}-01"),
            None,
        ),
        // Parent id: all zero, wrong length, upper case, illegal characters.
        (format!("00-{TID}-{}-01", "0".repeat(16)), None),
        (format!("00-{TID}-{}-01", &PID[..15]), None),
        (format!("00-{TID}-{PID}0-01"), None),
        (format!("00-{TID}-00F067AA0BA902B7-01"), None),
        (format!("00-{TID}-00f067aa0ba902b.-01"), None),
        // Flags: wrong length, illegal characters.
        (format!("00-{TID}-{PID}-1"), None),
        (format!("00-{TID}-{PID}-001"), None),
        (format!("00-{TID}-{PID}-.1"), None),
        (format!("00-{TID}-{PID}-0G"), None),
        // Separators and whitespace: OWS around is tolerated, inside is not.
        (format!(" 00-{TID}-{PID}-01"), ok),
        (format!("\t00-{TID}-{PID}-01 \t"), ok),
        (format!("00_{TID}-{PID}-01"), None),
        (format!("00-{TID} {PID}-01"), None),
        (String::new(), None),
        ("garbage".to_owned(), None),
    ]
}

#[test]
fn traceparent_follows_the_w3c_rules() {
    for (value, expected) in traceparent_cases() {
        let parsed = TraceParent::parse(&value).ok().map(|tp| {
            let (t, p) = (tp.trace_id(), tp.parent_id());
            (
                t.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                p.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                tp.flags(),
            )
        });
        let expected = expected.map(|(t, p, f)| (t.to_owned(), p.to_owned(), f));
        assert_eq!(parsed, expected, "traceparent {value:?}");
        // Whatever was accepted is re-emitted as version 00 with only the known flags.
        if let Ok(tp) = TraceParent::parse(&value) {
            let text = tp.to_string();
            assert!(text.starts_with("00-") && text.len() == 55, "{text}");
            assert_eq!(TraceParent::parse(&text).unwrap(), tp);
        }
    }
}

#[test]
fn header_names_are_case_insensitive_in_every_carrier() {
    let value = format!("00-{TID}-{PID}-01");
    let map = HashMap::from([("TraceParent".to_owned(), value.clone())]);
    assert!(extract(&map).traceparent().is_some());
    let tree = BTreeMap::from([("TRACEPARENT".to_owned(), value.clone())]);
    assert!(extract(&tree).traceparent().is_some());
    let list = vec![("traceParent".to_owned(), value.clone())];
    assert!(extract(&list).traceparent().is_some());
    let header_map = headers(&[("TraceParent", &value)]);
    assert!(extract(&header_map).traceparent().is_some());
}

#[test]
fn a_repeated_traceparent_starts_a_new_trace() {
    let value = format!("00-{TID}-{PID}-01");
    let map = headers(&[
        ("traceparent", &value),
        ("traceparent", &value),
        ("tracestate", "foo=1"),
    ]);
    let context = extract(&map);
    assert!(context.traceparent().is_none());
    assert!(context.tracestate().is_empty());
    // Two spellings of the name in a plain map are two headers too.
    let list = vec![
        ("traceparent".to_owned(), value.clone()),
        ("TraceParent".to_owned(), value),
    ];
    assert!(extract(&list).traceparent().is_none());
}

#[test]
fn an_invalid_traceparent_drops_the_tracestate_but_keeps_the_baggage() {
    let map = headers(&[
        ("traceparent", &format!("00-{}-{PID}-01", "0".repeat(32))),
        ("tracestate", "foo=1"),
        ("baggage", "user=alice"),
    ]);
    let context = extract(&map);
    assert!(context.traceparent().is_none());
    assert!(context.tracestate().is_empty());
    assert_eq!(context.baggage().get("user"), Some("alice"));
}

/// (tracestate headers, expected header after merge when valid)
fn tracestate_cases() -> Vec<(Vec<String>, Option<String>)> {
    let all_key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@";
    let all_value_chars: String = (0x20u8..=0x7e)
        .filter(|&b| b != b',' && b != b'=')
        .map(char::from)
        .collect();
    let thirty_two: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let thirty_three: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let s = |v: &str| v.to_owned();
    vec![
        (vec![s("foo=1,bar=2")], Some(s("foo=1,bar=2"))),
        // Merged across headers, in order.
        (
            vec![s("foo=1,bar=2"), s("rojo=1,congo=2"), s("baz=3")],
            Some(s("foo=1,bar=2,rojo=1,congo=2,baz=3")),
        ),
        // Empty headers and members, OWS around members.
        (vec![s(""), s("foo=1")], Some(s("foo=1"))),
        (vec![s("foo=1,,bar=2")], Some(s("foo=1,bar=2"))),
        (
            vec![s("foo=1 \t , \t bar=2, \t baz=3")],
            Some(s("foo=1,bar=2,baz=3")),
        ),
        (vec![s(" , ")], Some(s(""))),
        // Every allowed character.
        (
            vec![format!("{all_key_chars}=1")],
            Some(format!("{all_key_chars}=1")),
        ),
        (
            vec![format!("foo={all_value_chars}")],
            Some(format!("foo={}", all_value_chars.trim_end())),
        ),
        (vec![s("foo= leading-space")], Some(s("foo= leading-space"))),
        // Keys by the Level 2 grammar, `( lcalpha / DIGIT ) 0*255 ( keychar )` with `@` a
        // keychar: multi-tenant keys at the Level 1 limits (241 + 14) and past them, beside
        // `foo=1` in a second header, are kept with it.
        (vec![s("0tenant@system=1")], Some(s("0tenant@system=1"))),
        (
            vec![
                s("foo=1"),
                format!("{}@{}=1", "t".repeat(241), "v".repeat(14)),
            ],
            Some(format!("foo=1,{}@{}=1", "t".repeat(241), "v".repeat(14))),
        ),
        (
            vec![s("foo=1"), format!("{}@v=1", "t".repeat(240))],
            Some(format!("foo=1,{}@v=1", "t".repeat(240))),
        ),
        (
            vec![s("foo=1"), format!("{}@v=1", "t".repeat(242))],
            Some(format!("foo=1,{}@v=1", "t".repeat(242))),
        ),
        (
            vec![s("foo=1"), format!("t@{}=1", "v".repeat(15))],
            Some(format!("foo=1,t@{}=1", "v".repeat(15))),
        ),
        // 257 characters with an `@` is too long, like any key.
        (
            vec![
                s("foo=1"),
                format!("{}@{}=1", "t".repeat(242), "v".repeat(14)),
            ],
            None,
        ),
        // Only a key that starts with `@` is invalid.
        (vec![s("foo@=1,bar=2")], Some(s("foo@=1,bar=2"))),
        (vec![s("@foo=1")], None),
        (vec![s("@foo=1,bar=2")], None),
        (vec![s("foo@@bar=1,bar=2")], Some(s("foo@@bar=1,bar=2"))),
        (
            vec![s("foo@bar@baz=1,bar=2")],
            Some(s("foo@bar@baz=1,bar=2")),
        ),
        (vec![s("tenant@0system=1")], Some(s("tenant@0system=1"))),
        // Key length and characters.
        (
            vec![format!("{}=1", "k".repeat(256))],
            Some(format!("{}=1", "k".repeat(256))),
        ),
        (vec![format!("{}=1", "k".repeat(257))], None),
        (vec![s("foo =1")], None),
        (vec![s("FOO=1")], None),
        (vec![s("foo.bar=1")], None),
        (vec![s("_foo=1")], None),
        (vec![s("0foo=1")], Some(s("0foo=1"))),
        // Values: empty, `=`, `,` via splitting, over 256 characters, non-ASCII.
        (vec![s("foo=")], None),
        (vec![s("foo=bar=baz")], None),
        (vec![s("foo")], None),
        (
            vec![format!("foo={}", "v".repeat(256))],
            Some(format!("foo={}", "v".repeat(256))),
        ),
        (vec![format!("foo={}", "v".repeat(257))], None),
        (vec![s("foo=\u{e9}")], None),
        // Duplicated keys, within and across headers: the leftmost entry stays, the rest too.
        (vec![s("foo=1,foo=1")], Some(s("foo=1"))),
        (vec![s("foo=1,foo=2")], Some(s("foo=1"))),
        (vec![s("foo=1"), s("foo=1")], Some(s("foo=1"))),
        (vec![s("foo=1"), s("foo=2")], Some(s("foo=1"))),
        (
            vec![s("bar=0,foo=1,baz=2"), s("foo=2,qux=3")],
            Some(s("bar=0,foo=1,baz=2,qux=3")),
        ),
        // A duplicate does not count towards the 32 members.
        (
            vec![thirty_two.join(","), s("k0=again")],
            Some(thirty_two.join(",")),
        ),
        // At most 32 members.
        (vec![thirty_two.join(",")], Some(thirty_two.join(","))),
        (vec![thirty_three.join(",")], None),
        (vec![thirty_two.join(","), s("one=more")], None),
    ]
}

#[test]
fn tracestate_follows_the_w3c_rules() {
    for (values, expected) in tracestate_cases() {
        let parsed = TraceState::parse(values.iter().map(String::as_str)).map(|s| s.header());
        assert_eq!(parsed.ok(), expected, "tracestate {values:?}");
    }
}

#[test]
fn the_inherited_tracestate_survives_duplicates_and_level_2_keys() {
    // The three cases of issue 18.0, through the header map as a service receives them.
    let long_tenant = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let long_key = format!("{}@v", "t".repeat(242));
    let cases: Vec<(Vec<String>, Vec<(&str, &str)>)> = vec![
        (vec!["foo=1,foo=1".into()], vec![("foo", "1")]),
        (vec!["foo=1,foo=2".into()], vec![("foo", "1")]),
        (
            vec!["foo=1".into(), format!("{long_tenant}=1")],
            vec![("foo", "1"), (long_tenant.as_str(), "1")],
        ),
        (
            vec!["foo=1".into(), format!("{long_key}=1")],
            vec![("foo", "1"), (long_key.as_str(), "1")],
        ),
        (
            vec!["foo@=1,bar=2".into()],
            vec![("foo@", "1"), ("bar", "2")],
        ),
    ];
    for (states, expected) in cases {
        let mut pairs = vec![("traceparent".to_owned(), format!("00-{TID}-{PID}-01"))];
        pairs.extend(states.iter().map(|v| ("tracestate".to_owned(), v.clone())));
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let context = extract(&headers(&borrowed));
        let got: Vec<(&str, &str)> = context.tracestate().iter().collect();
        assert_eq!(got, expected, "tracestate {states:?}");
    }
}

#[test]
fn an_invalid_tracestate_is_discarded_without_touching_traceparent() {
    let map = headers(&[
        ("traceparent", &format!("00-{TID}-{PID}-01")),
        ("tracestate", "foo=1"),
        ("tracestate", "FOO=2"),
    ]);
    let context = extract(&map);
    assert!(context.traceparent().unwrap().sampled());
    assert!(context.tracestate().is_empty());
}

#[test]
fn a_changed_tracestate_entry_moves_left_and_the_rightmost_falls_off() {
    let mut state = TraceState::parse(["a=1,b=2,c=3"]).unwrap();
    state.insert("c", "9").unwrap();
    assert_eq!(state.header(), "c=9,a=1,b=2");
    let full: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let mut state = TraceState::parse([full.join(",").as_str()]).unwrap();
    state.insert("mine", "1").unwrap();
    assert_eq!(state.len(), 32);
    assert_eq!(state.iter().next(), Some(("mine", "1")));
    assert_eq!(state.get("k31"), None);
    assert!(state.insert("Bad", "1").is_err());
    assert!(state.insert("ok", "bad,value").is_err());
    assert_eq!(state.remove("mine").as_deref(), Some("1"));
}

/// (baggage headers, expected entries (key, decoded value, properties))
fn baggage_cases() -> Vec<(
    Vec<&'static str>,
    Vec<(&'static str, &'static str, &'static str)>,
)> {
    vec![
        (
            vec!["key1=value1,key2=value2"],
            vec![("key1", "value1", ""), ("key2", "value2", "")],
        ),
        // OWS around members, keys, values and properties.
        (
            vec!["key1 = value1 , key2\t=\tvalue2"],
            vec![("key1", "value1", ""), ("key2", "value2", "")],
        ),
        // Properties, with and without values.
        (
            vec!["key1=value1;property1;property2=p2"],
            vec![("key1", "value1", ";property1;property2=p2")],
        ),
        (
            vec!["key1=value1 ; p1 ; p2 = v2"],
            vec![("key1", "value1", ";p1;p2=v2")],
        ),
        // Percent-encoding, including UTF-8 and a literal percent.
        (
            vec!["userId=Am%C3%A9lie,serverNode=DF%2028,pct=100%25"],
            vec![
                ("userId", "Amélie", ""),
                ("serverNode", "DF 28", ""),
                ("pct", "100%", ""),
            ],
        ),
        // Empty values are allowed.
        (vec!["empty="], vec![("empty", "", "")]),
        // Merged across headers; a later duplicate replaces the value in place.
        (vec!["a=1,b=2", "a=3"], vec![("a", "3", ""), ("b", "2", "")]),
        // Invalid members are skipped, the others kept.
        (vec!["novalue,key=ok"], vec![("key", "ok", "")]),
        (vec!["=nokey,key=ok"], vec![("key", "ok", "")]),
        (vec!["bad key=1,key=ok"], vec![("key", "ok", "")]),
        (vec!["key=has space,other=ok"], vec![("other", "ok", "")]),
        (vec!["key=\"quoted\",other=ok"], vec![("other", "ok", "")]),
        (vec!["key=bad%zz,other=ok"], vec![("other", "ok", "")]),
        (vec!["key=bad%,other=ok"], vec![("other", "ok", "")]),
        (vec!["key=%FF,other=ok"], vec![("other", "ok", "")]),
        (vec!["key=v;bad prop,other=ok"], vec![("other", "ok", "")]),
        (vec!["key=a\\b,other=ok"], vec![("other", "ok", "")]),
        (vec!["", " , "], vec![]),
    ]
}

#[test]
fn baggage_follows_the_w3c_rules() {
    for (values, expected) in baggage_cases() {
        let baggage = Baggage::parse(values.iter().copied());
        let got: Vec<(String, String, String)> = baggage
            .iter()
            .map(|e| {
                (
                    e.key().to_owned(),
                    e.value().to_owned(),
                    e.properties().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(k, v, p)| ((*k).to_owned(), (*v).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(got, expected, "baggage {values:?}");
        // What is parsed is re-emitted in a form that parses to the same entries.
        assert_eq!(
            Baggage::parse([baggage.header().as_str()]),
            baggage,
            "{values:?}"
        );
    }
}

#[test]
fn baggage_is_limited_to_64_members_and_8192_bytes() {
    let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let baggage = Baggage::parse([many.join(",").as_str()]);
    assert_eq!(baggage.len(), 64);
    assert_eq!(baggage.get("k63"), Some("v"));
    assert_eq!(baggage.get("k64"), None);

    let big = "x".repeat(3000);
    let header = format!("a={big},b={big},c={big},d=small");
    let baggage = Baggage::parse([header.as_str()]);
    // a and b fit in 8192 bytes, c does not and is dropped whole, d still fits.
    assert_eq!(
        baggage.iter().map(|e| e.key()).collect::<Vec<_>>(),
        ["a", "b", "d"]
    );
    assert!(baggage.header().len() <= 8192);

    let mut baggage = Baggage::default();
    baggage.set("a", &big).unwrap();
    baggage.set("b", &big).unwrap();
    assert!(baggage.set("c", &big).is_err());
    assert_eq!(baggage.len(), 2);
    assert!(baggage.set("bad key", "v").is_err());
    baggage.set("a", "héllo, world;=").unwrap();
    assert_eq!(
        baggage.header().split(',').next(),
        Some("a=h%C3%A9llo%2C%20world%3B=")
    );
    assert_eq!(
        Baggage::parse([baggage.header().as_str()]).get("a"),
        Some("héllo, world;=")
    );
}
