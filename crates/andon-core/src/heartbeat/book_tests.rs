//! Unit tests of the heartbeat book, driven by a hand-held clock.

use std::time::{Duration, SystemTime};

use super::*;

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn two_seconds() -> HeartbeatConfig {
    HeartbeatConfig {
        grace: Some(Duration::from_secs(1)),
        ..HeartbeatConfig::new("job", Duration::from_secs(2))
    }
}

#[test]
fn a_silent_heartbeat_is_due_once_after_every_plus_grace() {
    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    assert_eq!(
        book.view("job", at(0)).unwrap().state,
        HeartbeatState::Never
    );
    book.check_in("job", HeartbeatStatus::Success, at(10))
        .unwrap();
    assert_eq!(book.view("job", at(11)).unwrap().state, HeartbeatState::Up);
    assert!(
        book.scan(at(12)).is_empty(),
        "due at 12, raised after grace"
    );
    assert_eq!(
        book.view("job", at(12) + Duration::from_millis(500))
            .unwrap()
            .state,
        HeartbeatState::Late
    );
    let due = book.scan(at(13));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].miss, Miss::Silent);
    assert_eq!(due[0].deadline, at(13));
    assert_eq!(due[0].last_check_in, Some(at(10)));
    assert!(
        due[0]
            .message()
            .starts_with("no check-in from job since 2027-01-15T08:00:10Z, expected every 2s"),
        "{}",
        due[0].message()
    );
    assert!(book.scan(at(100)).is_empty(), "a miss is reported once");
    let view = book.view("job", at(100)).unwrap();
    assert_eq!(view.state, HeartbeatState::Down);
    assert_eq!(view.next_due, None);
}

#[test]
fn a_success_after_a_miss_recovers_and_restarts_the_clock() {
    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    assert_eq!(
        book.scan(at(3)).len(),
        1,
        "never checked in: due at start + every + grace"
    );
    let checked = book
        .check_in("job", HeartbeatStatus::Success, at(20))
        .unwrap();
    assert_eq!(checked.transition, Transition::Recovered);
    assert_eq!(checked.view.state, HeartbeatState::Up);
    assert_eq!(checked.view.next_due, Some(at(22)));
    let again = book
        .check_in("job", HeartbeatStatus::Success, at(21))
        .unwrap();
    assert_eq!(
        again.transition,
        Transition::None,
        "only the first success recovers"
    );
    assert!(book.scan(at(23)).is_empty());
    assert_eq!(book.scan(at(24)).len(), 1);
}

#[test]
fn a_start_must_end_within_grace_and_a_fail_is_at_once() {
    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    book.check_in("job", HeartbeatStatus::Start, at(1)).unwrap();
    let due = book.scan(at(2));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].miss, Miss::Unfinished { started_at: at(1) });
    assert!(
        due[0].message().contains("did not finish within 1s"),
        "{}",
        due[0].message()
    );

    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    book.check_in("job", HeartbeatStatus::Start, at(1)).unwrap();
    book.check_in("job", HeartbeatStatus::Success, at(1))
        .unwrap();
    assert!(
        book.scan(at(3)).is_empty(),
        "the end came: the next deadline is every + grace"
    );
    let failed = book.check_in("job", HeartbeatStatus::Fail, at(3)).unwrap();
    assert_eq!(failed.transition, Transition::Failed);
    assert_eq!(failed.view.state, HeartbeatState::Down);
    assert!(
        book.scan(at(1000)).is_empty(),
        "a fail is its own signal, not a later miss"
    );
    assert_eq!(
        book.check_in("job", HeartbeatStatus::Success, at(1001))
            .unwrap()
            .transition,
        Transition::Recovered
    );
}

#[test]
fn unknown_names_are_refused_and_added_ones_are_kept() {
    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    let err = book
        .check_in("other", HeartbeatStatus::Success, at(0))
        .unwrap_err();
    assert!(
        err.to_string().contains("no heartbeat is named `other`"),
        "{err}"
    );
    assert!(book.add(HeartbeatConfig::auto("other"), at(0)));
    assert!(
        !book.add(HeartbeatConfig::auto("other"), at(0)),
        "a name is added once"
    );
    assert_eq!(book.names(), ["job", "other"]);
    assert!(
        book.check_in("other", HeartbeatStatus::Success, at(1))
            .is_ok()
    );
}

#[test]
fn a_restart_past_a_deadline_reports_the_miss_at_once() {
    let mut before = HeartbeatBook::new(&[two_seconds()], at(0));
    before
        .check_in("job", HeartbeatStatus::Success, at(10))
        .unwrap();
    let saved = before.saved();
    let json = serde_json::to_string(&saved).unwrap();
    let saved: Vec<SavedHeartbeat> = serde_json::from_str(&json).unwrap();

    // Back at 100, long past 13: due at once, from the last check-in, not started afresh.
    let mut after = HeartbeatBook::new(&[two_seconds()], at(100));
    after.restore(&saved);
    let due = after.scan(at(100));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].last_check_in, Some(at(10)));

    // Back at 11, before the deadline: it waits for 13 as before.
    let mut early = HeartbeatBook::new(&[two_seconds()], at(11));
    early.restore(&saved);
    assert!(early.scan(at(12)).is_empty());
    assert_eq!(early.scan(at(13)).len(), 1);

    // One that never checked in starts its clock at the restart.
    let mut fresh = HeartbeatBook::new(&[two_seconds()], at(100));
    fresh.restore(&[]);
    assert!(fresh.scan(at(102)).is_empty());
    assert_eq!(fresh.scan(at(103)).len(), 1);
}

#[test]
fn scan_visits_only_what_is_due() {
    let configs: Vec<HeartbeatConfig> = (0..1000)
        .map(|i| HeartbeatConfig {
            grace: Some(Duration::from_secs(1)),
            ..HeartbeatConfig::new(format!("hb-{i}"), Duration::from_secs(10 + i))
        })
        .collect();
    let mut book = HeartbeatBook::new(&configs, at(0));
    assert_eq!(book.next_deadline(), Some(at(11)));
    assert!(book.scan(at(10)).is_empty());
    let due = book.scan(at(15));
    let names: Vec<_> = due.iter().map(|d| d.config.name.as_str()).collect();
    assert_eq!(names, ["hb-0", "hb-1", "hb-2", "hb-3", "hb-4"]);
    book.check_in("hb-5", HeartbeatStatus::Success, at(15))
        .unwrap();
    let due = book.scan(at(17));
    let names: Vec<_> = due.iter().map(|d| d.config.name.as_str()).collect();
    assert_eq!(
        names,
        ["hb-6"],
        "hb-5's old deadline went with its check-in"
    );
}

#[test]
fn the_view_is_the_api_shape() {
    let mut book = HeartbeatBook::new(&[two_seconds()], at(0));
    book.check_in("job", HeartbeatStatus::Success, at(1))
        .unwrap();
    let json = serde_json::to_value(book.view("job", at(1)).unwrap()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "job", "component": "job", "every": "2s", "grace": "1s", "color": "red",
            "state": "up", "last_check_in": "2027-01-15T08:00:01.000000000Z", "last_status": "success",
            "next_due": "2027-01-15T08:00:03.000000000Z"
        })
    );
}
