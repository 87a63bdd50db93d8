//! Open alerts across a restart (`[alerts] state_file`): after every change of an alert
//! (fired, notified, acknowledged, escalated, resolved) the open alerts are written to the
//! file durably (a temporary file, fsync, rename, fsync of the directory) before the call that
//! changed them returns, and restored when the manager starts, so a crash forgets no open
//! alert, no acknowledgement and no escalation level, and a paged incident still gets its
//! resolve. The file is created `0600`.
//!
//! A file that cannot be read or parsed stops the start with [`AlertError::State`]; an alert
//! whose rule is gone (or does not fit its rule) is skipped and counted
//! (`AlertStats::restore_skipped`) and said on standard error.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use andon_runtime::lock;
use serde::{Deserialize, Serialize};

use super::{AlertManager, AlertState, Inner, Instance, Node, State, take_locked};
use crate::error::AlertError;

/// The version of the file's format.
const VERSION: u32 = 1;

/// The state file and its writer.
#[derive(Debug)]
pub(super) struct Persist {
    path: PathBuf,
    /// An alert changed since the last write.
    dirty: AtomicBool,
    /// The number of the last snapshot taken (under the state lock, so in the order of changes).
    generation: AtomicU64,
    /// The number of the last snapshot written; writes are one at a time.
    written: Mutex<u64>,
    errors: AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    alerts: Vec<SavedAlert>,
}

/// One open alert as written to the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedAlert {
    rule: String,
    /// Its key among the rule's alerts (component, series, or empty).
    key: String,
    fingerprint: String,
    labels: BTreeMap<String, String>,
    /// The series' labels of a per-series alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    series: Vec<(String, String)>,
    firing: bool,
    since_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cleared_at_ms: Option<u64>,
    notified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_notified_ms: Option<u64>,
    notified_channels: Vec<String>,
    unnotified: u64,
    total: u64,
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledged_by: Option<String>,
    escalation_level: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    muted: bool,
    /// The condition's state, depth first.
    nodes: Vec<SavedNode>,
}

/// One condition node's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SavedNode {
    Threshold { active: bool },
    Signal { hits_ms: Vec<u64> },
    Other,
}

fn to_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl Node {
    fn save(&self, out: &mut Vec<SavedNode>) {
        match self {
            Node::Threshold { active, .. } => out.push(SavedNode::Threshold { active: *active }),
            Node::Signal { hits, .. } => out.push(SavedNode::Signal {
                hits_ms: hits.iter().copied().map(to_ms).collect(),
            }),
            Node::Health { .. } => out.push(SavedNode::Other),
            Node::All(nodes) | Node::Any(nodes) => {
                out.push(SavedNode::Other);
                nodes.iter().for_each(|n| n.save(out));
            }
        }
    }

    /// Restores the state saved by `save`; nodes whose kind differs (the rule changed) keep
    /// their fresh state.
    fn restore<'a>(&mut self, saved: &mut impl Iterator<Item = &'a SavedNode>) {
        let next = saved.next();
        match (self, next) {
            (Node::Threshold { active, .. }, Some(SavedNode::Threshold { active: was })) => {
                *active = *was;
            }
            (Node::Signal { hits, .. }, Some(SavedNode::Signal { hits_ms })) => {
                hits.clear();
                hits.extend(hits_ms.iter().copied().map(from_ms));
            }
            (Node::All(nodes) | Node::Any(nodes), Some(SavedNode::Other)) => {
                nodes.iter_mut().for_each(|n| n.restore(saved));
            }
            _ => {}
        }
    }
}

impl Persist {
    /// Opens the state file: its open alerts, or none when it does not exist yet.
    pub(super) fn open(path: &Path) -> Result<(Persist, Vec<SavedAlert>), AlertError> {
        let err = |message: String| AlertError::State {
            path: path.display().to_string(),
            message,
        };
        let alerts = match std::fs::read(path) {
            Ok(bytes) => {
                let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
                    err(format!(
                        "cannot parse it ({e}): it holds the open alerts of the last run; restore it from a backup, or move it away to start without them"
                    ))
                })?;
                if file.version != VERSION {
                    return Err(err(format!(
                        "version {} is not the version {VERSION} this andon reads: move it away to start without its open alerts",
                        file.version
                    )));
                }
                file.alerts
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        err(format!(
                            "cannot create its directory: {e}: check that the parent exists and is writable"
                        ))
                    })?;
                }
                Vec::new()
            }
            Err(e) => {
                return Err(err(format!(
                    "cannot read it: {e}: check its permissions, or set [alerts] state_file to another file"
                )));
            }
        };
        Ok((
            Persist {
                path: path.to_owned(),
                dirty: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                written: Mutex::new(0),
                errors: AtomicU64::new(0),
            },
            alerts,
        ))
    }

    pub(super) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Replaces the file with `bytes` durably: a temporary file beside it (`0600`), fsync,
    /// rename over it, fsync of the directory.
    fn replace(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &self.path)?;
        let dir = match self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir.to_owned(),
            None => PathBuf::from("."),
        };
        File::open(dir)?.sync_all()
    }
}

impl Inner {
    /// Notes that an alert changed, so that the state file is written before the call returns.
    pub(super) fn changed(&self) {
        if let Some(persist) = &self.persist {
            persist.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// The open alerts as saved, with the snapshot's number; under the state lock.
    fn snapshot(&self, persist: &Persist, state: &State) -> (u64, Vec<SavedAlert>) {
        let generation = persist.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let mut alerts = Vec::new();
        for rs in &state.rules {
            for (key, inst) in &rs.instances.0 {
                if inst.state == AlertState::Inactive {
                    continue;
                }
                let mut nodes = Vec::new();
                inst.node.save(&mut nodes);
                let series = match (&rs.series, &inst.node) {
                    (Some(_), Node::Threshold { threshold, .. }) => threshold.labels.clone(),
                    _ => Vec::new(),
                };
                alerts.push(SavedAlert {
                    rule: rs.rule.name.clone(),
                    key: key.clone(),
                    fingerprint: inst.fingerprint.clone(),
                    labels: inst.labels.clone(),
                    series,
                    firing: inst.state == AlertState::Firing,
                    since_ms: to_ms(inst.since),
                    cleared_at_ms: inst.cleared_at.map(to_ms),
                    notified: inst.notified,
                    last_notified_ms: inst.last_notified.map(to_ms),
                    notified_channels: inst.notified_channels.iter().cloned().collect(),
                    unnotified: inst.unnotified,
                    total: inst.total,
                    seq: inst.seq,
                    acknowledged_by: inst.acked.clone(),
                    escalation_level: inst.escalation_level,
                    summary: inst.summary.clone(),
                    trace_id: inst.trace_id.clone(),
                    muted: inst.muted,
                    nodes,
                });
            }
        }
        (generation, alerts)
    }

    /// Joins the restored open alerts of the rule at `position` to it.
    pub(super) fn attach_restored(&self, state: &mut State, position: usize) {
        let mut restored = lock(&self.restored);
        if restored.is_empty() {
            return;
        }
        let Some(rs) = state.rules.get_mut(position) else {
            return;
        };
        let (mine, rest): (Vec<SavedAlert>, Vec<SavedAlert>) = std::mem::take(&mut *restored)
            .into_iter()
            .partition(|a| a.rule == rs.rule.name);
        *restored = rest;
        for saved in mine {
            let since = from_ms(saved.since_ms);
            let mut inst = if rs.series.is_some() {
                Instance::for_series(&rs.rule, &saved.series, since)
            } else if rs.per_component {
                let component = (!saved.key.is_empty()).then_some(saved.key.as_str());
                Instance::new(&rs.rule, component, since)
            } else if saved.key.is_empty() {
                Instance::new(&rs.rule, None, since)
            } else {
                self.counters
                    .restore_skipped
                    .fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "andon alert: the open alert {} of rule `{}` in {} does not fit the rule any more (it has one alert, not one per component or series): skipped",
                    saved.fingerprint,
                    rs.rule.name,
                    self.persist
                        .as_ref()
                        .map_or_else(String::new, |p| p.path.display().to_string())
                );
                continue;
            };
            // The identity receivers know (PagerDuty's dedup_key) stays the saved one.
            inst.fingerprint = saved.fingerprint;
            inst.labels = saved.labels;
            inst.node.restore(&mut saved.nodes.iter());
            inst.state = if saved.firing {
                AlertState::Firing
            } else {
                AlertState::Pending
            };
            inst.cleared_at = saved.cleared_at_ms.map(from_ms);
            inst.notified = saved.notified;
            inst.last_notified = saved.last_notified_ms.map(from_ms);
            inst.notified_channels = saved.notified_channels.into_iter().collect();
            inst.unnotified = saved.unnotified;
            inst.total = saved.total;
            inst.seq = saved.seq;
            inst.acked = saved.acknowledged_by;
            inst.escalation_level = saved.escalation_level;
            inst.summary = saved.summary;
            inst.trace_id = saved.trace_id;
            inst.muted = saved.muted;
            if rs.series.is_some() || rs.per_component {
                self.count_restored(&mut inst);
            }
            rs.instances.insert(saved.key, inst);
            self.counters.restored.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl AlertManager {
    /// Writes the open alerts to the state file if an alert changed since the last write;
    /// a failed write is counted (`AlertStats::state_errors`), said on standard error the
    /// first time, and tried again at the next change.
    pub(super) fn persist_if_dirty(&self) {
        let Some(persist) = &self.inner.persist else {
            return;
        };
        if !persist.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let (generation, alerts) = {
            let state = self.inner.lock_state();
            self.inner.snapshot(persist, &state)
        };
        let file = StateFile {
            version: VERSION,
            alerts,
        };
        let mut written = lock(&persist.written);
        if *written >= generation {
            // A newer snapshot is on disk already.
            return;
        }
        let result = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| persist.replace(&bytes));
        match result {
            Ok(()) => *written = generation,
            Err(e) => {
                persist.dirty.store(true, Ordering::Relaxed);
                if persist.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!(
                        "andon alert: cannot write the open alerts to {}: {e}: a crash now would forget them; check the directory and [alerts] state_file",
                        persist.path.display()
                    );
                }
            }
        }
    }

    /// Counts the restored alerts whose rule was never added (call once every rule is in):
    /// each is skipped, counted in `restore_skipped` and said on standard error.
    pub(super) fn skip_unclaimed(&self) {
        let unclaimed = take_locked(&self.inner.restored);
        for saved in unclaimed {
            self.inner
                .counters
                .restore_skipped
                .fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "andon alert: the open alert {} of rule `{}` was not restored: no rule of that name is configured",
                saved.fingerprint, saved.rule
            );
        }
    }
}
