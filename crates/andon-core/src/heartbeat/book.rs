//! The heartbeats' clocks as plain data: a [`HeartbeatBook`] takes check-ins and, asked with
//! the time, says which deadlines passed. No runtime and no I/O: the umbrella ticks it and
//! raises the signals, the tests drive it with any clock.
//!
//! Deadlines are kept sorted (a `BTreeSet` of `(deadline, entry)`), so [`HeartbeatBook::scan`]
//! looks only at the deadlines that passed: with nothing due it is one comparison, however many
//! heartbeats there are.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{HeartbeatEvent, HeartbeatEventKind, HeartbeatStatus};
use crate::config::HeartbeatConfig;
use crate::signal::Color;

/// What a heartbeat looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatState {
    /// It checked in on time (or a `start` is within its grace).
    Up,
    /// Its check-in is due and has not come, but the grace has not run out.
    Late,
    /// It missed its deadline or checked in a `fail`: its signal was raised.
    Down,
    /// It has not checked in since andon started keeping it, and its first deadline is ahead.
    Never,
}

impl HeartbeatState {
    /// `up`, `late`, `down` or `never`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeartbeatState::Up => "up",
            HeartbeatState::Late => "late",
            HeartbeatState::Down => "down",
            HeartbeatState::Never => "never",
        }
    }
}

/// One heartbeat as the API and the board show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatView {
    /// The heartbeat's name, as configured under `[heartbeats.<name>]`.
    pub name: String,
    /// The component its signals carry.
    pub component: String,
    /// How often a check-in is expected (humantime, `"24h"`).
    #[serde(with = "crate::config::duration")]
    pub every: Duration,
    /// How late a check-in may be (humantime).
    #[serde(with = "crate::config::duration")]
    pub grace: Duration,
    /// The color of the signal a miss raises.
    pub color: Color,
    /// Up, late, down or never.
    pub state: HeartbeatState,
    /// The last check-in, if any.
    #[serde(default, with = "crate::rfc3339::option")]
    pub last_check_in: Option<SystemTime>,
    /// What the last check-in said.
    #[serde(default)]
    pub last_status: Option<HeartbeatStatus>,
    /// When the next check-in is expected (a `start`'s end: by its start plus `grace`); `null`
    /// while it is down.
    #[serde(default, with = "crate::rfc3339::option")]
    pub next_due: Option<SystemTime>,
}

/// What a heartbeat remembers across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedHeartbeat {
    /// The heartbeat's name, as configured under `[heartbeats.<name>]`.
    pub name: String,
    /// The last check-in, if any.
    #[serde(default, with = "crate::rfc3339::option")]
    pub last_check_in: Option<SystemTime>,
    /// What the last check-in said.
    #[serde(default)]
    pub last_status: Option<HeartbeatStatus>,
    /// Whether its signal was raised and not yet resolved by a success.
    #[serde(default)]
    pub down: bool,
}

/// A check-in for a name the book does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no heartbeat is named `{name}`: add a [[heartbeats]] entry for it (or set [agent] heartbeats_auto = true)"
)]
pub struct UnknownHeartbeat {
    /// The name given.
    pub name: String,
}

/// How a deadline was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// No check-in since `since` (when andon started keeping the heartbeat).
    Never {
        /// When the clock started.
        since: SystemTime,
    },
    /// No check-in since the last one.
    Silent,
    /// A `start` at `started_at` had no end within the grace.
    Unfinished {
        /// When the job started.
        started_at: SystemTime,
    },
}

/// A heartbeat whose deadline passed, as [`HeartbeatBook::scan`] reports it: raise its signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The heartbeat's configuration.
    pub config: HeartbeatConfig,
    /// The deadline that passed.
    pub deadline: SystemTime,
    /// The last check-in before it, if any.
    pub last_check_in: Option<SystemTime>,
    /// How it was missed.
    pub miss: Miss,
}

impl Due {
    /// The signal's message: `no check-in from nightly-backup since 2026-12-05T02:00:04Z,
    /// expected every 1day`.
    pub fn message(&self) -> String {
        let name = &self.config.name;
        let every = humantime::format_duration(self.config.every);
        match (self.miss, self.last_check_in) {
            (Miss::Unfinished { started_at }, _) => format!(
                "{name} started at {} and did not finish within {}",
                humantime::format_rfc3339_seconds(started_at),
                humantime::format_duration(self.config.effective_grace())
            ),
            (Miss::Silent, Some(last)) => format!(
                "no check-in from {name} since {}, expected every {every}",
                humantime::format_rfc3339_seconds(last)
            ),
            (Miss::Never { since }, _) => format!(
                "{name} never checked in (expected every {every}; waiting since {})",
                humantime::format_rfc3339_seconds(since)
            ),
            (Miss::Silent, None) => format!("no check-in from {name}, expected every {every}"),
        }
    }

    /// The history record of the miss.
    pub fn event(&self, at: SystemTime) -> HeartbeatEvent {
        HeartbeatEvent {
            at,
            name: self.config.name.clone(),
            component: self.config.effective_component().to_owned(),
            kind: HeartbeatEventKind::Missed {
                last_check_in: self.last_check_in,
                every: self.config.every,
            },
        }
    }
}

/// What a check-in changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing a person must hear of.
    None,
    /// A `success` for a heartbeat that was down: resolve it (a GREEN).
    Recovered,
    /// A `fail`: raise its signal.
    Failed,
}

/// What [`HeartbeatBook::check_in`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedIn {
    /// The heartbeat after the check-in.
    pub view: HeartbeatView,
    /// The heartbeat's configuration (its schedule, grace and the color a miss raises).
    pub config: HeartbeatConfig,
    /// How its state changed (e.g. up to down), which decides whether a signal is raised.
    pub transition: Transition,
}

#[derive(Debug, Clone)]
struct Entry {
    config: HeartbeatConfig,
    grace: Duration,
    /// When the clock started for a heartbeat that never checked in.
    since: SystemTime,
    last_check_in: Option<SystemTime>,
    last_status: Option<HeartbeatStatus>,
    started_at: Option<SystemTime>,
    /// The pending deadline (also in `deadlines`).
    deadline: Option<SystemTime>,
    down: bool,
}

/// Every heartbeat's clock: takes check-ins and, asked with the time, says which deadlines
/// passed. Deadlines are kept sorted, so [`scan`](HeartbeatBook::scan) looks only at those that
/// passed: with nothing due it is one comparison, however many heartbeats there are.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatBook {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    deadlines: BTreeSet<(SystemTime, usize)>,
}

impl HeartbeatBook {
    /// A book of `heartbeats` whose clocks start at `now`: each has its first deadline at
    /// `now + every + grace` (state `never`). Names are unique in a validated configuration; a
    /// repeated name is skipped.
    pub fn new(heartbeats: &[HeartbeatConfig], now: SystemTime) -> Self {
        let mut book = HeartbeatBook::default();
        for config in heartbeats {
            let _ = book.add(config.clone(), now);
        }
        book
    }

    /// Adds a heartbeat whose clock starts at `now`; `false` (and nothing changes) when the
    /// name is taken.
    pub fn add(&mut self, config: HeartbeatConfig, now: SystemTime) -> bool {
        if self.by_name.contains_key(&config.name) {
            return false;
        }
        let index = self.entries.len();
        let grace = config.effective_grace();
        self.by_name.insert(config.name.clone(), index);
        self.entries.push(Entry {
            grace,
            since: now,
            last_check_in: None,
            last_status: None,
            started_at: None,
            deadline: None,
            down: false,
            config,
        });
        let first = later(now, self.entries[index].config.every + grace);
        self.set_deadline(index, Some(first));
        true
    }

    /// How many heartbeats it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether it holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The names, in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.config.name.clone()).collect()
    }

    /// Takes back what [`saved`](HeartbeatBook::saved) wrote before a restart: a heartbeat's
    /// next deadline counts from its last check-in, so one whose deadline passed while andon
    /// was down is reported by the next [`scan`](HeartbeatBook::scan) at once. Names the book
    /// does not hold are skipped.
    pub fn restore(&mut self, saved: &[SavedHeartbeat]) {
        for saved in saved {
            let Some(&index) = self.by_name.get(&saved.name) else {
                continue;
            };
            let entry = &mut self.entries[index];
            entry.last_check_in = saved.last_check_in;
            entry.last_status = saved.last_status;
            entry.down = saved.down;
            entry.started_at = match (saved.last_status, saved.last_check_in) {
                (Some(HeartbeatStatus::Start), Some(at)) => Some(at),
                _ => None,
            };
            let deadline = if saved.down {
                None
            } else {
                match (entry.started_at, entry.last_check_in) {
                    (Some(started), _) => Some(later(started, entry.grace)),
                    (None, Some(last)) => Some(later(last, entry.config.every + entry.grace)),
                    (None, None) => entry.deadline,
                }
            };
            self.set_deadline(index, deadline);
        }
    }

    /// What to keep across a restart: every heartbeat that ever checked in or is down.
    pub fn saved(&self) -> Vec<SavedHeartbeat> {
        self.entries
            .iter()
            .filter(|e| e.last_check_in.is_some() || e.down)
            .map(|e| SavedHeartbeat {
                name: e.config.name.clone(),
                last_check_in: e.last_check_in,
                last_status: e.last_status,
                down: e.down,
            })
            .collect()
    }

    /// Takes a check-in at `now`.
    ///
    /// `success` sets the next deadline at `now + every + grace` (and recovers a heartbeat
    /// that was down); `start` sets it at `now + grace` (the job's end must follow); `fail`
    /// marks it down and reports [`Transition::Failed`], with no deadline until the next
    /// success.
    pub fn check_in(
        &mut self,
        name: &str,
        status: HeartbeatStatus,
        now: SystemTime,
    ) -> Result<CheckedIn, UnknownHeartbeat> {
        let Some(&index) = self.by_name.get(name) else {
            return Err(UnknownHeartbeat {
                name: name.to_owned(),
            });
        };
        let entry = &mut self.entries[index];
        entry.last_check_in = Some(now);
        entry.last_status = Some(status);
        let (transition, deadline) = match status {
            HeartbeatStatus::Success => {
                let was_down = std::mem::replace(&mut entry.down, false);
                entry.started_at = None;
                let transition = if was_down {
                    Transition::Recovered
                } else {
                    Transition::None
                };
                (
                    transition,
                    Some(later(now, entry.config.every + entry.grace)),
                )
            }
            HeartbeatStatus::Start => {
                entry.started_at = Some(now);
                (Transition::None, Some(later(now, entry.grace)))
            }
            HeartbeatStatus::Fail => {
                entry.started_at = None;
                entry.down = true;
                (Transition::Failed, None)
            }
        };
        self.set_deadline(index, deadline);
        let entry = &self.entries[index];
        Ok(CheckedIn {
            view: view_of(entry, now),
            config: entry.config.clone(),
            transition,
        })
    }

    /// The heartbeats whose deadline is at or before `now` and that were not already down;
    /// each is marked down and reported once. Costs a comparison when nothing is due.
    pub fn scan(&mut self, now: SystemTime) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(&(deadline, index)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let entry = &mut self.entries[index];
            entry.deadline = None;
            if entry.down {
                continue;
            }
            entry.down = true;
            let miss = match (entry.started_at, entry.last_check_in) {
                (Some(started_at), _) => Miss::Unfinished { started_at },
                (None, Some(_)) => Miss::Silent,
                (None, None) => Miss::Never { since: entry.since },
            };
            due.push(Due {
                config: entry.config.clone(),
                deadline,
                last_check_in: entry.last_check_in,
                miss,
            });
        }
        due
    }

    /// The earliest pending deadline, to sleep until.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// One heartbeat as of `now`.
    pub fn view(&self, name: &str, now: SystemTime) -> Option<HeartbeatView> {
        let &index = self.by_name.get(name)?;
        Some(view_of(&self.entries[index], now))
    }

    /// Every heartbeat as of `now`, in configuration order.
    pub fn views(&self, now: SystemTime) -> Vec<HeartbeatView> {
        self.entries.iter().map(|e| view_of(e, now)).collect()
    }

    fn set_deadline(&mut self, index: usize, deadline: Option<SystemTime>) {
        let entry = &mut self.entries[index];
        if let Some(old) = entry.deadline.take() {
            self.deadlines.remove(&(old, index));
        }
        if let Some(new) = deadline {
            entry.deadline = Some(new);
            self.deadlines.insert((new, index));
        }
    }
}

/// `t + d`; a sum past what the clock can hold (a period the configuration refuses) is `t`, so
/// such a deadline is due at once rather than never (fail closed).
fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d).unwrap_or(t)
}

fn view_of(entry: &Entry, now: SystemTime) -> HeartbeatView {
    let next_due = if entry.down {
        None
    } else {
        match (entry.started_at, entry.last_check_in) {
            (Some(started), _) => Some(later(started, entry.grace)),
            (None, Some(last)) => Some(later(last, entry.config.every)),
            (None, None) => Some(later(entry.since, entry.config.every)),
        }
    };
    let state = if entry.down {
        HeartbeatState::Down
    } else if next_due.is_some_and(|due| now > due) {
        HeartbeatState::Late
    } else if entry.last_check_in.is_none() {
        HeartbeatState::Never
    } else {
        HeartbeatState::Up
    };
    HeartbeatView {
        name: entry.config.name.clone(),
        component: entry.config.effective_component().to_owned(),
        every: entry.config.every,
        grace: entry.grace,
        color: entry.config.color,
        state,
        last_check_in: entry.last_check_in,
        last_status: entry.last_status,
        next_due,
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
