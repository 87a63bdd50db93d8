//! Heartbeats in a running system: check-ins, the task that watches the deadlines, and the
//! signals a miss, a `fail` or a recovery raises (through [`AndonSystem::signal_problem`]'s
//! path: logged, counted, traced, alerted, on the board, stopping the line as configured).
//!
//! The clocks are [`HeartbeatBook`]'s (andon-core, plain data). With `[line] state_file`, the
//! last check-ins are kept beside it (`<state file stem>.heartbeats.json`), written before a
//! check-in is answered, so an agent that was down past a deadline raises the miss as soon as
//! it starts instead of starting the clock afresh.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use andon_core::config::{HeartbeatConfig, check_heartbeat_name};
use andon_core::heartbeat::{
    CheckedIn, Due, HeartbeatBook, HeartbeatView, SavedHeartbeat, Transition,
};
use andon_core::{
    AndonConfig, AndonError, AndonSignal, Color, HeartbeatEvent, HeartbeatEventKind,
    HeartbeatStatus, HistoryRecord,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::system::{AndonSystem, WeakSystem};

/// Check-ins taken, by heartbeat and status.
pub(crate) const CHECK_INS: &str = "andon_heartbeat_check_ins_total";
/// Deadlines missed, by heartbeat.
pub(crate) const MISSES: &str = "andon_heartbeat_misses_total";
/// 1 while a heartbeat is down (missed or failed, not yet resolved by a success), else 0.
pub(crate) const DOWN: &str = andon_core::names::HEARTBEAT_DOWN;

/// The watcher wakes at least this often, whatever the next deadline (a wall clock that jumps
/// is noticed within it).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// The most heartbeats `[agent] heartbeats_auto` lets check-ins create in all (each is a board
/// row, a metric series and a line of the heartbeat file).
pub const MAX_AUTO_HEARTBEATS: usize = 1000;

/// The version of the heartbeat file's layout.
const VERSION: u32 = 1;

/// Why a check-in was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeartbeatError {
    /// No `[[heartbeats]]` entry has this name and `[agent] heartbeats_auto` is off.
    #[error("no heartbeat is named `{name}`: add a [[heartbeats]] entry for it, or set [agent] heartbeats_auto = true (known: {})", known.join(", "))]
    Unknown {
        /// The name given.
        name: String,
        /// The names the system knows.
        known: Vec<String>,
    },
    /// The name cannot be a heartbeat's (auto-creation only).
    #[error("{0}")]
    BadName(String),
    /// `[agent] heartbeats_auto` already created [`MAX_AUTO_HEARTBEATS`] heartbeats.
    #[error(
        "no heartbeat is named `{name}` and check-ins have created {MAX_AUTO_HEARTBEATS} already, the most [agent] heartbeats_auto creates: add a [[heartbeats]] entry for it"
    )]
    TooMany {
        /// The name given.
        name: String,
    },
    /// The system is shut down.
    #[error("andon is shut down: the check-in was not taken")]
    ShutDown,
    /// The check-in was taken but could not be written to the heartbeat file: it would not
    /// survive a restart.
    #[error("{error}")]
    NotSaved {
        /// The heartbeat after the check-in.
        view: Box<HeartbeatView>,
        /// What went wrong.
        error: AndonError,
    },
}

/// The heartbeats of one system.
pub(crate) struct Heartbeats {
    book: Arc<Mutex<HeartbeatBook>>,
    file: Option<Arc<HeartbeatFile>>,
    auto: bool,
    /// How many heartbeats check-ins created (`heartbeats_auto`).
    created: std::sync::atomic::AtomicUsize,
    wake: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Why the file could not be restored, raised as a YELLOW at start.
    unreadable: Mutex<Option<String>>,
}

impl std::fmt::Debug for Heartbeats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeats")
            .field("file", &self.file.as_ref().map(|f| &f.path))
            .finish_non_exhaustive()
    }
}

impl Heartbeats {
    /// The heartbeats of `config`, with what the heartbeat file kept (next to `[line]
    /// state_file`): clocks start now, except where a last check-in says otherwise.
    pub(crate) fn new(config: &AndonConfig) -> Self {
        let now = SystemTime::now();
        let mut book = HeartbeatBook::new(&config.heartbeats, now);
        let auto = config.agent.heartbeats_auto;
        let file = config
            .line
            .state_file
            .as_deref()
            .map(|line| Arc::new(HeartbeatFile::beside(line)));
        let mut unreadable = None;
        let mut created = 0;
        if let Some(file) = &file {
            match file.load() {
                Ok(saved) => {
                    if auto {
                        for s in &saved {
                            if check_heartbeat_name(&s.name).is_ok()
                                && created < MAX_AUTO_HEARTBEATS
                                && book.add(HeartbeatConfig::auto(s.name.clone()), now)
                            {
                                created += 1;
                            }
                        }
                    }
                    book.restore(&saved);
                }
                Err(why) => unreadable = Some(why),
            }
        }
        Heartbeats {
            book: Arc::new(Mutex::new(book)),
            file,
            auto,
            created: std::sync::atomic::AtomicUsize::new(created),
            wake: Notify::new(),
            task: Mutex::new(None),
            unreadable: Mutex::new(unreadable),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, HeartbeatBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the watcher.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }

    async fn save(&self) -> Result<(), AndonError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let file = Arc::clone(file);
        let book = Arc::clone(&self.book);
        let saved = tokio::task::spawn_blocking(move || {
            // The state is read under the file's lock: the last write holds the newest state.
            let _one = file.writing.lock().unwrap_or_else(PoisonError::into_inner);
            let saved = book.lock().unwrap_or_else(PoisonError::into_inner).saved();
            file.write(&saved)
        })
        .await;
        let path = self.file.as_ref().map(|f| f.path.display().to_string());
        let why = match saved {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        Err(AndonError::component(
            "heartbeats",
            format!(
                "cannot write the heartbeats' last check-ins to {} ({why}): the check-in holds in this process but a restart would not know it; fix the disk or [line] state_file",
                path.unwrap_or_default()
            ),
        ))
    }
}

/// Starts the watcher and announces the heartbeats' state (gauges, and the misses of an agent
/// that was down past a deadline, at once).
pub(crate) async fn start(system: &AndonSystem) {
    let heartbeats = system.heartbeat_clocks();
    if let Some(metrics) = system.metrics_sink() {
        metrics.describe(
            CHECK_INS,
            "Heartbeat check-ins taken, by heartbeat and status",
        );
        metrics.describe(MISSES, "Heartbeat deadlines missed, by heartbeat");
        metrics.describe(
            DOWN,
            "1 while a heartbeat is down (missed or failed), else 0",
        );
        for view in system.heartbeats() {
            let down = view.state == andon_core::heartbeat::HeartbeatState::Down;
            metrics.set_gauge(DOWN, &[("name", &view.name)], f64::from(u8::from(down)));
        }
    }
    let unreadable = heartbeats.unreadable.lock().ok().and_then(|mut u| u.take());
    if let (Some(why), Some(file)) = (unreadable, &heartbeats.file) {
        let yellow = AndonSignal::yellow(format!(
            "the heartbeats' last check-ins in {} could not be restored ({why}): every heartbeat's clock starts now; check the file",
            file.path.display()
        ))
        .with_component("heartbeats");
        let _ = system.signal_problem(yellow).await;
    }
    // Misses that happened while the agent was down are raised before the first check-in.
    scan_and_raise(system).await;
    if heartbeats.book().is_empty() && !heartbeats.auto {
        return;
    }
    let handle = tokio::spawn(watch(system.downgrade()));
    if let Ok(mut slot) = heartbeats.task.lock() {
        *slot = Some(handle);
    }
}

/// Sleeps until the next deadline (at most [`MAX_SLEEP`]), then raises what is due.
async fn watch(weak: WeakSystem) {
    loop {
        // Held for one sleep at most (1 s): a system dropped without `shutdown` ends the loop.
        let Some(system) = weak.upgrade() else {
            return;
        };
        let heartbeats = system.heartbeat_clocks();
        let next = heartbeats.book().next_deadline();
        let sleep = next
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = heartbeats.wake.notified() => {}
        }
        scan_and_raise(&system).await;
    }
}

async fn scan_and_raise(system: &AndonSystem) {
    let now = SystemTime::now();
    let due = system.heartbeat_clocks().book().scan(now);
    if due.is_empty() {
        return;
    }
    // The misses are on disk (as `down`) before their signals go out.
    let _ = system.heartbeat_clocks().save().await;
    for due in due {
        raise_miss(system, &due, now).await;
    }
}

async fn raise_miss(system: &AndonSystem, due: &Due, now: SystemTime) {
    let name = due.config.name.as_str();
    if let Some(metrics) = system.metrics_sink() {
        metrics.add_counter(MISSES, &[("name", name)], 1);
        metrics.set_gauge(DOWN, &[("name", name)], 1.0);
    }
    system.remember(|| HistoryRecord::Heartbeat(due.event(now)));
    let miss = match due.miss {
        andon_core::heartbeat::Miss::Never { .. } => "never",
        andon_core::heartbeat::Miss::Silent => "silent",
        andon_core::heartbeat::Miss::Unfinished { .. } => "unfinished",
    };
    let signal = signal_of(&due.config, due.config.color, due.message())
        .with_attribute("heartbeat.miss", miss)
        .with_attribute(
            "last_check_in",
            due.last_check_in
                .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        );
    // A part that fails is reported by its own component.
    let _ = system.raise_with_stop(signal, due.config.stop_line).await;
}

fn signal_of(config: &HeartbeatConfig, color: Color, message: String) -> AndonSignal {
    AndonSignal::new(color, message)
        .with_component(config.effective_component().to_owned())
        .with_attribute("heartbeat", config.name.clone())
        .with_attribute(
            "every",
            humantime::format_duration(config.every).to_string(),
        )
}

impl AndonSystem {
    /// A `success` check-in for the heartbeat `name` (`[[heartbeats]]`): the job ran, or the
    /// process is alive. See [`check_in`](AndonSystem::check_in).
    pub async fn heartbeat(&self, name: &str) -> Result<HeartbeatView, HeartbeatError> {
        self.check_in(name, HeartbeatStatus::Success, None).await
    }

    /// A check-in for the heartbeat `name`, with an optional message.
    ///
    /// `success` restarts its clock (the next check-in is due in `every`, missed after
    /// `every + grace`) and resolves a heartbeat that was down with a GREEN of its component; `start`
    /// expects an end within `grace`; `fail` raises the heartbeat's signal at once. With
    /// `[line] state_file` the check-in is on disk before this returns. An unknown name is
    /// refused with the known ones, or created with the defaults when `[agent]
    /// heartbeats_auto = true`.
    pub async fn check_in(
        &self,
        name: &str,
        status: HeartbeatStatus,
        message: Option<&str>,
    ) -> Result<HeartbeatView, HeartbeatError> {
        self.check_in_with(name, status, message, Vec::new()).await
    }

    /// [`check_in`](AndonSystem::check_in), with attributes for the signal the check-in raises
    /// (a `fail`, or a success that resolves a heartbeat that was down): what a responder needs,
    /// such as `andon exec`'s `exit_code`, `duration_ms` and `stderr_tail`.
    pub async fn check_in_with(
        &self,
        name: &str,
        status: HeartbeatStatus,
        message: Option<&str>,
        attributes: Vec<(String, serde_json::Value)>,
    ) -> Result<HeartbeatView, HeartbeatError> {
        if self.is_shut_down() {
            return Err(HeartbeatError::ShutDown);
        }
        let heartbeats = self.heartbeat_clocks();
        let now = SystemTime::now();
        let checked: CheckedIn = {
            let mut book = heartbeats.book();
            if !book.contains(name) && heartbeats.auto {
                check_heartbeat_name(name).map_err(HeartbeatError::BadName)?;
                let created = &heartbeats.created;
                if created.load(std::sync::atomic::Ordering::Relaxed) >= MAX_AUTO_HEARTBEATS {
                    return Err(HeartbeatError::TooMany {
                        name: name.to_owned(),
                    });
                }
                created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                book.add(HeartbeatConfig::auto(name), now);
            }
            book.check_in(name, status, now)
                .map_err(|_| HeartbeatError::Unknown {
                    name: name.to_owned(),
                    known: book.names(),
                })?
        };
        heartbeats.wake.notify_one();
        if let Some(metrics) = self.metrics_sink() {
            metrics.add_counter(CHECK_INS, &[("name", name), ("status", status.as_str())], 1);
            let down = checked.transition == Transition::Failed
                || checked.view.state == andon_core::heartbeat::HeartbeatState::Down;
            metrics.set_gauge(DOWN, &[("name", name)], f64::from(u8::from(down)));
        }
        self.remember(|| {
            HistoryRecord::Heartbeat(HeartbeatEvent {
                at: now,
                name: name.to_owned(),
                component: checked.config.effective_component().to_owned(),
                kind: HeartbeatEventKind::CheckIn { status },
            })
        });
        let saved = heartbeats.save().await;
        let config = &checked.config;
        let suffix = message.map(|m| format!(": {m}")).unwrap_or_default();
        let signal = match checked.transition {
            Transition::None => None,
            Transition::Failed => Some((
                signal_of(
                    config,
                    config.color,
                    format!("{name} checked in a failure{suffix}"),
                )
                .with_attribute("heartbeat.status", "fail"),
                config.stop_line,
            )),
            Transition::Recovered => Some((
                signal_of(
                    config,
                    Color::Green,
                    format!("{name} checked in again{suffix}"),
                )
                .with_attribute("heartbeat.status", status.as_str()),
                None,
            )),
        };
        if let Some((mut signal, stop)) = signal {
            if let Some(message) = message {
                signal = signal.with_attribute("check_in.message", message);
            }
            for (key, value) in attributes {
                signal = signal.with_attribute(key, value);
            }
            // A part that fails is reported by its own component.
            let _ = self.raise_with_stop(signal, stop).await;
        }
        match saved {
            Ok(()) => Ok(checked.view),
            Err(error) => Err(HeartbeatError::NotSaved {
                view: Box::new(checked.view),
                error,
            }),
        }
    }

    /// Every heartbeat, as of now, in configuration order (then the auto-created ones).
    pub fn heartbeats(&self) -> Vec<HeartbeatView> {
        self.heartbeat_clocks().book().views(SystemTime::now())
    }
}

#[derive(Serialize)]
struct Saving<'a> {
    version: u32,
    heartbeats: &'a [SavedHeartbeat],
}

#[derive(Deserialize)]
struct Saved {
    version: u32,
    heartbeats: Vec<SavedHeartbeat>,
}

/// The heartbeats' file, beside the line's state file.
#[derive(Debug)]
struct HeartbeatFile {
    path: PathBuf,
    writing: Mutex<()>,
}

impl HeartbeatFile {
    /// `line.json` → `line.heartbeats.json`, in the same directory.
    fn beside(line_state: &Path) -> Self {
        HeartbeatFile {
            path: line_state.with_extension("heartbeats.json"),
            writing: Mutex::new(()),
        }
    }

    /// What the file kept; no file is nothing kept.
    fn load(&self) -> Result<Vec<SavedHeartbeat>, String> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read it: {e}")),
        };
        match serde_json::from_slice::<Saved>(&bytes) {
            Ok(saved) if saved.version == VERSION => Ok(saved.heartbeats),
            Ok(saved) => Err(format!(
                "it has layout version {}, this build reads version {VERSION}",
                saved.version
            )),
            Err(e) => Err(format!("it is not a heartbeat file: {e}")),
        }
    }

    fn write(&self, heartbeats: &[SavedHeartbeat]) -> io::Result<()> {
        let bytes = serde_json::to_vec(&Saving {
            version: VERSION,
            heartbeats,
        })
        .map_err(io::Error::other)?;
        crate::state::write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
#[path = "heartbeat_tests.rs"]
mod tests;
