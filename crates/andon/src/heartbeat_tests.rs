//! The heartbeat file: where it lives, what it keeps, what it refuses.

use std::time::{Duration, SystemTime};

use super::*;

#[test]
fn the_file_sits_beside_the_line_state_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = HeartbeatFile::beside(&dir.path().join("line.json"));
    assert_eq!(file.path, dir.path().join("line.heartbeats.json"));
    assert_eq!(file.load().unwrap(), Vec::new(), "no file: nothing kept");
    let saved = vec![SavedHeartbeat {
        name: "backup".into(),
        last_check_in: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        last_status: Some(HeartbeatStatus::Start),
        down: true,
    }];
    file.write(&saved).unwrap();
    assert_eq!(file.load().unwrap(), saved);
}

#[test]
fn a_damaged_or_newer_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = HeartbeatFile::beside(&dir.path().join("line.json"));
    std::fs::write(&file.path, b"{\"version\":1,\"heartbeats\":[{").unwrap();
    assert!(file.load().unwrap_err().contains("not a heartbeat file"));
    std::fs::write(&file.path, br#"{"version":7,"heartbeats":[]}"#).unwrap();
    assert!(file.load().unwrap_err().contains("version 7"));
}
