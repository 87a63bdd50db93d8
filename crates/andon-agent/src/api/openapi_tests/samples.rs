//! The samples the schema check serializes: for each schema of `docs/openapi.yaml`, values of
//! its type with every optional field set and with none (and, for an enum, one per variant).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use andon::core::{Health, HealthStatus, Resumption};
use andon::{AndonSignal, Color, HeartbeatState, HeartbeatStatus};
use serde::Serialize;
use serde_json::{Value, json};

use super::super::*;

fn value(sample: impl Serialize) -> Value {
    serde_json::to_value(sample).expect("serializes")
}

fn signal() -> AndonSignal {
    AndonSignal::red("disk full")
        .with_component("db")
        .with_trace_id("trace-1")
        .with_attribute("depth", 150)
}

fn alert(full: bool) -> AlertView {
    AlertView {
        fingerprint: "f1".into(),
        rule: "r".into(),
        state: "firing".into(),
        severity: "critical".into(),
        component: full.then(|| "db".into()),
        summary: "s".into(),
        since: "2026-12-01T10:00:00.000Z".into(),
        count: 1,
        acknowledged_by: full.then(|| "bo".into()),
        silenced: false,
        trace_id: full.then(|| "trace-1".into()),
        trace_url: full.then(|| "http://j/trace/00".into()),
    }
}

fn heartbeat(full: bool) -> HeartbeatView {
    HeartbeatView {
        name: "nightly".into(),
        component: "backup".into(),
        every: Duration::from_secs(86_400),
        grace: Duration::from_secs(60),
        color: Color::Red,
        state: HeartbeatState::Up,
        last_check_in: full.then_some(UNIX_EPOCH),
        last_status: full.then_some(HeartbeatStatus::Success),
        next_due: full.then_some(UNIX_EPOCH),
    }
}

fn window() -> HistoryWindow {
    HistoryWindow {
        from: UNIX_EPOCH,
        to: UNIX_EPOCH + Duration::from_secs(60),
    }
}

fn fleet_instance(full: bool) -> FleetInstance {
    let text = |t: &str| full.then(|| t.to_owned());
    FleetInstance {
        instance: "press-7".into(),
        line: "STOPPED".into(),
        last_state: "STOPPED".into(),
        signal_id: text("0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b"),
        component: text("press"),
        message: text("jam"),
        stopped_at: text("2026-12-01T10:00:00Z"),
        board_url: text("http://press-7:7600/"),
        version: "0.1.0".into(),
        heartbeat_at: "2026-12-01T10:00:00Z".into(),
        age_seconds: 1.5,
    }
}

fn response_times(full: bool) -> ResponseTimes {
    ResponseTimes {
        component: "db".into(),
        fired: 2,
        acknowledged: 1,
        resolved: 1,
        escalated: 0,
        mtta_seconds: full.then_some(30.0),
        mttr_seconds: full.then_some(90.0),
    }
}

/// Every schema's samples: one with every optional field set, one with none (and, for an enum,
/// one per variant).
pub(super) fn samples() -> BTreeMap<&'static str, Vec<Value>> {
    let signal = Arc::new(signal());
    let stopped = LineState::Stopped {
        since: UNIX_EPOCH,
        signal: Arc::clone(&signal),
    };
    let resumption = |note: Option<&str>| Resumption {
        by: "alice".into(),
        note: note.map(str::to_owned),
        at: UNIX_EPOCH,
    };
    let running = LineState::Running {
        since: UNIX_EPOCH,
        resumed: Some(resumption(Some("fixed"))),
    };
    let station = StationView {
        component: "db".into(),
        color: Color::Red,
        last_signal: Arc::clone(&signal),
        counts: [(Color::Red, 1)].into(),
        open_alerts: vec![alert(true)],
    };
    let board = |trace_ui_url: Option<&str>| BoardView {
        line: stopped.clone(),
        stations: vec![station.clone()],
        alerts: vec![alert(true)],
        alerting: true,
        recent: vec![Arc::clone(&signal)],
        token_required: false,
        trace_ui_url: trace_ui_url.map(str::to_owned),
    };
    let pareto = ParetoReport {
        by: ParetoBy::Component,
        window: window(),
        colors: vec![Color::Red],
        total: 1,
        rows: vec![ParetoBar {
            key: "db".into(),
            count: 1,
            percent: 100.0,
            cumulative_percent: 100.0,
        }],
    };
    let full_signal = NewSignal {
        component: Some("db".into()),
        trace_id: Some("trace-1".into()),
        timestamp: Some("2026-12-01T10:00:00Z".into()),
        attributes: [("depth".to_owned(), json!(150))].into(),
        ..NewSignal::new(Color::Red, "disk full")
    };
    let check_in = CheckIn {
        message: Some("exit 3".into()),
        attributes: [("exit_code".to_owned(), json!(3))].into(),
        ..CheckIn::new(HeartbeatStatus::Fail)
    };
    let health = Health {
        status: HealthStatus::Degraded,
        reasons: vec!["memory 91%".into()],
    };
    let report = DiagnosticsReport {
        taken_at: UNIX_EPOCH,
        health: health.clone(),
        summary: "memory 91%".into(),
        details: json!({"memory": {"used_percent": 91.0}}),
    };
    let pagerduty = |full: bool| PagerDutyReply {
        acted: full,
        event_type: "incident.acknowledged".into(),
        fingerprint: full.then(|| "f1".into()),
        by: full.then(|| "bo".into()),
        resolved: full.then_some(false),
        assignees: full.then(|| vec!["bo".into()]),
        message: "done".into(),
    };
    let slack = |full: bool| SlackReply {
        acted: full,
        by: full.then(|| "bo".into()),
        text: "done".into(),
        response_type: "ephemeral".into(),
        replace_original: false,
    };
    BTreeMap::from([
        (
            "ErrorBody",
            vec![
                value(ErrorBody {
                    error: "color: is required".into(),
                    field: Some("color".into()),
                }),
                value(ErrorBody {
                    error: "no such endpoint".into(),
                    field: None,
                }),
            ],
        ),
        ("HistoryWindow", vec![value(window())]),
        (
            "NewSignal",
            vec![value(&full_signal), value(NewSignal::new(Color::Red, "m"))],
        ),
        (
            "Signal",
            vec![value(&*signal), value(AndonSignal::red("m"))],
        ),
        (
            "SignalAccepted",
            vec![value(SignalAccepted {
                id: signal.id().to_string(),
                stopped_line: true,
                resumed_line: false,
                delivered_to: vec!["logger".into()],
                failures: Vec::new(),
            })],
        ),
        (
            "SignalList",
            vec![value(SignalList {
                signals: vec![Arc::clone(&signal)],
            })],
        ),
        (
            "LineState",
            vec![
                value(&stopped),
                value(&running),
                value(LineState::Running {
                    since: UNIX_EPOCH,
                    resumed: None,
                }),
            ],
        ),
        (
            "Resumption",
            vec![value(resumption(Some("fixed"))), value(resumption(None))],
        ),
        (
            "ResumeRequest",
            vec![
                value(ResumeRequest {
                    by: Some("alice".into()),
                    note: Some("fixed".into()),
                }),
                value(ResumeRequest::default()),
            ],
        ),
        (
            "ResumeAnswer",
            vec![value(ResumeAnswer {
                resumed: true,
                line: running.clone(),
            })],
        ),
        ("AlertView", vec![value(alert(true)), value(alert(false))]),
        (
            "AlertList",
            vec![value(AlertList {
                alerting: true,
                alerts: vec![alert(true)],
            })],
        ),
        (
            "AckRequest",
            vec![
                value(AckRequest {
                    by: Some("bo".into()),
                }),
                value(AckRequest::default()),
            ],
        ),
        (
            "Acknowledged",
            vec![value(Acknowledged {
                acknowledged: 1,
                fingerprint: "f1".into(),
            })],
        ),
        (
            "BoardView",
            vec![value(board(Some("http://j"))), value(board(None))],
        ),
        ("StationView", vec![value(&station)]),
        ("DiagnosticsReport", vec![value(&report)]),
        ("Health", vec![value(&health)]),
        (
            "HeartbeatView",
            vec![value(heartbeat(true)), value(heartbeat(false))],
        ),
        (
            "HeartbeatList",
            vec![value(HeartbeatList {
                heartbeats: vec![heartbeat(true)],
            })],
        ),
        (
            "CheckIn",
            vec![
                value(&check_in),
                value(CheckIn::new(HeartbeatStatus::Success)),
            ],
        ),
        (
            "UnknownHeartbeat",
            vec![value(UnknownHeartbeat {
                error: "no heartbeat is named `x`".into(),
                known: vec!["nightly".into()],
            })],
        ),
        (
            "FleetView",
            vec![value(FleetView {
                shared: true,
                this_instance: "press-7".into(),
                running: 0,
                stopped: 1,
                no_data: 0,
                instances: vec![fleet_instance(true)],
            })],
        ),
        (
            "FleetInstance",
            vec![value(fleet_instance(true)), value(fleet_instance(false))],
        ),
        ("ParetoReport", vec![value(&pareto)]),
        ("ParetoBar", vec![value(&pareto.rows[0])]),
        (
            "ResponseTimesReport",
            vec![value(ResponseTimesReport {
                window: window(),
                by: "component".into(),
                components: vec![response_times(true)],
            })],
        ),
        (
            "ResponseTimes",
            vec![value(response_times(true)), value(response_times(false))],
        ),
        (
            "Liveness",
            vec![value(Liveness {
                status: "ok".into(),
            })],
        ),
        (
            "Readiness",
            vec![
                value(Readiness {
                    status: "ready".into(),
                    line: Some("RUNNING".into()),
                }),
                value(Readiness {
                    status: "stopping".into(),
                    line: None,
                }),
            ],
        ),
        (
            "PagerDutyReply",
            vec![value(pagerduty(true)), value(pagerduty(false))],
        ),
        ("SlackReply", vec![value(slack(true)), value(slack(false))]),
        (
            "Hello",
            vec![value(Hello {
                agent: "andon".into(),
                api: "v1".into(),
            })],
        ),
        (
            "AlertsEvent",
            vec![value(AlertsEvent {
                alerts: Arc::new(vec![alert(true)]),
            })],
        ),
        ("Lagged", vec![value(Lagged { missed: 3 })]),
    ])
}

/// The samples of the history's answers, whose rows are andon-history's records (`full`).
#[cfg(feature = "full")]
pub(super) fn history_samples() -> BTreeMap<&'static str, Vec<Value>> {
    use andon::history::{Downtime, StoredSignal, TimelineEntry};
    let stored = |full: bool| StoredSignal {
        id: "0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b".into(),
        at: UNIX_EPOCH,
        color: Color::Red,
        component: full.then(|| "db".into()),
        message: "disk full".into(),
        fingerprint: "disk full".into(),
        trace_id: full.then(|| "trace-1".into()),
        attributes: json!({}),
        instance: full.then(|| "press-7".into()),
    };
    let bucket = Downtime {
        start: UNIX_EPOCH,
        stopped_seconds: 60.0,
        stops: 1,
    };
    let per_instance = InstanceDowntime {
        stopped_seconds: 60.0,
        stops: 1,
        buckets: vec![bucket.clone()],
    };
    let downtime = |full: bool| DowntimeReport {
        window: window(),
        bucket_seconds: 86_400,
        stopped_seconds: 60.0,
        buckets: vec![bucket.clone()],
        instances: full.then(|| [("press-7".to_owned(), per_instance.clone())].into()),
    };
    let step = |full: bool| TimelineStep {
        entry: TimelineEntry {
            at: UNIX_EPOCH,
            kind: "signal".into(),
            summary: "RED db: disk full".into(),
            component: full.then(|| "db".into()),
            trace_id: full.then(|| "trace-1".into()),
            detail: json!({}),
        },
        trace_url: full.then(|| "http://j/trace/00".into()),
    };
    let timeline = |full: bool| TimelineView {
        key: "trace-1".into(),
        trace_ids: vec!["trace-1".into()],
        fingerprints: Vec::new(),
        entries: vec![step(full)],
        trace_urls: full.then(|| [("trace-1".to_owned(), "http://j/trace/00".to_owned())].into()),
        next_offset: full.then_some(1000),
    };
    BTreeMap::from([
        (
            "HistorySignals",
            vec![value(HistorySignals {
                window: window(),
                signals: vec![stored(true)],
            })],
        ),
        (
            "StoredSignal",
            vec![value(stored(true)), value(stored(false))],
        ),
        (
            "DowntimeReport",
            vec![value(downtime(true)), value(downtime(false))],
        ),
        ("Downtime", vec![value(&bucket)]),
        ("InstanceDowntime", vec![value(&per_instance)]),
        (
            "TimelineView",
            vec![value(timeline(true)), value(timeline(false))],
        ),
        ("TimelineStep", vec![value(step(true)), value(step(false))]),
    ])
}
