//! Heartbeats: the expected signals whose *absence* is the problem (a dead man's switch).
//!
//! A heartbeat is a named check (`[[heartbeats]]` in the configuration) that something must
//! check in with every `every`, plus `grace`. A job checks in with a [`HeartbeatStatus`]:
//! `success` (it ran), `start` (it began; an end must follow within `grace`) or `fail` (it ran
//! and failed: a signal at once). A check-in that does not come in time is a signal of the
//! heartbeat's color. This module holds the shared vocabulary; the umbrella keeps the clocks and
//! the agent takes check-ins over HTTP (`POST /v1/heartbeats/{name}`).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

mod book;

pub use book::{
    CheckedIn, Due, HeartbeatBook, HeartbeatState, HeartbeatView, Miss, SavedHeartbeat, Transition,
    UnknownHeartbeat,
};

/// What a check-in says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatStatus {
    /// The job ran (or the process is alive). Resolves a missed or failed heartbeat.
    #[default]
    Success,
    /// The job began; a `success` or `fail` must follow within the heartbeat's `grace`.
    Start,
    /// The job ran and failed: the heartbeat's signal is raised at once.
    Fail,
}

impl HeartbeatStatus {
    /// The lower-case name used in the API and the CLI: `success`, `start`, `fail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeartbeatStatus::Success => "success",
            HeartbeatStatus::Start => "start",
            HeartbeatStatus::Fail => "fail",
        }
    }
}

display_as_str!(HeartbeatStatus);

/// A check-in status that is not `success`, `start` or `fail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown heartbeat status {0:?}: expected \"success\", \"start\" or \"fail\"")]
pub struct ParseHeartbeatStatusError(pub String);

parse_keyword!(HeartbeatStatus, ParseHeartbeatStatusError, to_ascii_lowercase, {
    "success" | "ok" => Success,
    "start" => Start,
    "fail" | "failure" => Fail,
});

/// What happened to a heartbeat, as history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeartbeatEventKind {
    /// Someone checked in.
    CheckIn {
        /// What the check-in said.
        status: HeartbeatStatus,
    },
    /// The deadline passed with no check-in (or a `start` had no end within `grace`): the
    /// heartbeat's signal was raised.
    Missed {
        /// The last check-in before the miss, if there ever was one.
        #[serde(default, with = "crate::rfc3339::option")]
        last_check_in: Option<SystemTime>,
        /// The period the heartbeat expects (`every`).
        #[serde(with = "humantime_serde_secs")]
        every: Duration,
    },
}

/// One check-in or miss of one heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatEvent {
    /// When it happened.
    #[serde(with = "crate::signal::rfc3339")]
    pub at: SystemTime,
    /// The heartbeat's name (`[[heartbeats]] name`).
    pub name: String,
    /// The component its signals carry (`[[heartbeats]] component`, default the name).
    pub component: String,
    /// What happened: a check-in, a missed deadline, or a recovery.
    pub kind: HeartbeatEventKind,
}

/// Serialises a period as seconds (a number), which every history backend can store.
mod humantime_serde_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_from_their_names_and_reject_others() {
        for status in [
            HeartbeatStatus::Success,
            HeartbeatStatus::Start,
            HeartbeatStatus::Fail,
        ] {
            assert_eq!(status.as_str().parse::<HeartbeatStatus>(), Ok(status));
        }
        assert_eq!("FAIL".parse::<HeartbeatStatus>(), Ok(HeartbeatStatus::Fail));
        let error = "done".parse::<HeartbeatStatus>().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("\"success\", \"start\" or \"fail\"")
        );
    }

    #[test]
    fn a_missed_event_round_trips_through_json() {
        let event = HeartbeatEvent {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            name: "nightly-backup".into(),
            component: "backup".into(),
            kind: HeartbeatEventKind::Missed {
                last_check_in: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_699_913_600)),
                every: Duration::from_secs(86_400),
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains("\"kind\":\"missed\""), "{json}");
        assert_eq!(
            serde_json::from_str::<HeartbeatEvent>(&json).unwrap(),
            event
        );
    }
}
