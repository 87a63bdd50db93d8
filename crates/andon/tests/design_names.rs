//! The original design's names work at the umbrella's root: `use andon::{AndonLogger, …,
//! Result}`, an `AlertRule` written as the design writes it, and `?` on the system's
//! operations inside a function returning `andon::Result<()>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use andon::{
    AlertChannel, AlertCondition, AlertManager, AlertRule, AlertSeverity, AndonConfig, AndonLogger,
    AndonMetrics, AndonObserver, AndonSignal, AndonSystem, AndonTracer, Result, SpanStatus,
};

#[test]
fn an_alert_rule_is_written_as_the_design_writes_it() {
    let rule = AlertRule {
        name: "queue_overflow".into(),
        condition: AlertCondition::QueueDepth { max_depth: 100 },
        severity: AlertSeverity::Critical,
        ..Default::default()
    };
    assert_eq!(rule.name, "queue_overflow");
    let channel = AlertChannel::File {
        path: "alerts.jsonl".into(),
    };
    assert!(format!("{channel:?}").contains("alerts.jsonl"));
    // The root names are the component types themselves, not copies.
    let same = |_: Option<&AndonLogger>, _: Option<&AndonMetrics>| {};
    same(
        None::<&andon::log::AndonLogger>,
        None::<&andon::metrics::AndonMetrics>,
    );
    let same = |_: Option<&AndonTracer>, _: Option<&AndonObserver>, _: Option<&AlertManager>| {};
    same(
        None::<&andon::trace::AndonTracer>,
        None::<&andon::observe::AndonObserver>,
        None::<&andon::alert::AlertManager>,
    );
    let _: andon::trace::SpanStatus = SpanStatus::Ok;
}

/// The design's `main`, with its errors carried by `?`.
async fn design_main() -> Result<()> {
    let config = AndonConfig::from_toml_str(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
         [logger]\nsinks = [{ type = \"Stderr\", level = \"CRITICAL\" }]\n",
    )?;
    let system = AndonSystem::new(config).await?;
    system
        .signal_problem(AndonSignal::yellow("queue filling up").with_component("queue-handler"))
        .await?;
    system.shutdown().await?;
    // After shutdown the system refuses signals, and `?` turns that into an AndonError.
    system.signal_problem(AndonSignal::green("late")).await?;
    Ok(())
}

#[tokio::test]
async fn question_mark_works_in_a_fn_returning_andon_result() {
    let error = design_main().await.unwrap_err();
    assert!(error.to_string().contains("shut down"), "{error}");
}
