//! Fuzz target: the signal JSON accepted by `POST /v1/signals`, sent over HTTP to a running
//! agent: objects built from the real fields with values of every type, unknown fields, long
//! strings, nesting, and arbitrary text (`cargo xtask fuzz` runs it for a bounded time; see
//! docs/fuzzing.md).
//!
//! Properties: the agent never fails or stops answering; a body is accepted (201 with an id)
//! or refused with 400 and a JSON error; a refused JSON object always names the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

mod common;

use andon_tests::fuzz;
use common::{QUIET, TestAgent};
use proptest::prelude::*;
use serde_json::{Map, Value};

const PIECES: &[&str] = &[
    "red",
    "RED",
    "yellow",
    "green",
    "blue",
    "",
    " ",
    "\u{0}",
    "2026-11-26T23:41:07.5Z",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        fuzz::text(PIECES, 6).prop_map(Value::String),
        (4090usize..4100).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(fuzz::text(PIECES, 2), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = (String, bool)> {
    let field = prop_oneof![
        4 => proptest::sample::select(&["color", "message", "component", "trace_id", "attributes", "timestamp"][..]).prop_map(str::to_owned),
        1 => fuzz::text(PIECES, 2),
    ];
    let object = proptest::collection::vec((field, json_value()), 0..7).prop_map(|pairs| {
        let map: Map<String, Value> = pairs.into_iter().collect();
        (Value::Object(map).to_string(), true)
    });
    prop_oneof![
        6 => object,
        1 => fuzz::text(&["{", "}", "\"color\":", "\"red\"", ",", "[", "null"], 12).prop_map(|t| (t, false)),
    ]
}

#[test]
fn fuzz_signal_json() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let agent = runtime.block_on(TestAgent::start(QUIET));
    fuzz::run("signal_json", file!(), body(), |(body, is_object)| {
        let (status, answer) = runtime.block_on(agent.post("/v1/signals", &body));
        match status {
            201 => prop_assert!(answer["id"].is_string(), "{answer}"),
            400 => {
                let error = answer["error"].as_str().unwrap_or_default();
                prop_assert!(!error.is_empty(), "a 400 says why: {answer}");
                if is_object {
                    let field = answer["field"].as_str();
                    prop_assert!(
                        field.is_some(),
                        "a refused object names the field: {answer}"
                    );
                    let prefix = format!("{}: ", field.unwrap_or_default());
                    prop_assert!(error.starts_with(&prefix), "{answer}");
                }
            }
            other => prop_assert!(false, "status {other} for {body:?}: {answer}"),
        }
        Ok(())
    });
    let (status, _) = runtime.block_on(agent.get("/healthz"));
    assert_eq!(status, 200, "the agent still answers");
    runtime.block_on(agent.stop()).unwrap();
}
