//! The pipeline every record takes: level filter and sampling, formatting on the caller into a
//! reused buffer, the bounded queue, and the writer thread that hands batches to the sinks.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use andon_core::config::{LoggerConfig, OverflowPolicy, SinkConfig};
use andon_core::{LogLevel, TraceContext};

use crate::error::LogError;
use crate::format::{Entry, Layout, Trace, write_record};
use crate::queue::{Batch, Bound, Formatted, Next, Queue, lock};
use crate::sinks::{Sink, SinkCell};
use crate::stats::{LogStats, SinkStats};

/// How often an idle writer wakes up (to report errors of sinks that have gone quiet).
const WRITER_TICK: Duration = Duration::from_millis(500);
/// A thread's scratch buffer is given back to the allocator when it grew beyond this.
const SCRATCH_KEEP: usize = 256 * 1024;

thread_local! {
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static IS_WRITER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's cleared scratch buffer, taken out for the call so that a record
/// logged from inside it (a key-value's `Display` that logs) simply gets a fresh one.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    let out = f(&mut buf);
    if buf.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|cell| cell.set(buf));
    }
    out
}

pub(crate) fn in_writer() -> bool {
    IS_WRITER.try_with(Cell::get).unwrap_or(false)
}

/// The state shared by a logger, its clones, its slog drains, its `log` bridge and its writer.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) queue: Queue,
    /// Per level (DEBUG..CRITICAL): whether some sink takes it in the main / Cloud layout.
    needs_main: [bool; 4],
    needs_cloud: [bool; 4],
    main_layout: Layout,
    project: Option<String>,
    max_message: usize,
    sample_ratio: u64,
    sample_counter: AtomicU64,
    sampled_out: AtomicU64,
    overflow: OverflowPolicy,
    pub(crate) component: Option<Arc<str>>,
    pub(crate) trace: OnceLock<Arc<dyn TraceContext>>,
    /// The lowest level of andon's own records (all but `tracing` events): `[logger] level`,
    /// or what `RUST_LOG` / `ANDON_LOG` gives andon; the sinks may take lower for `tracing`.
    own_level: LogLevel,
    written: AtomicU64,
    failed: AtomicU64,
    sinks: Vec<SinkCell>,
}

fn level_index(level: LogLevel) -> usize {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info => 1,
        LogLevel::Warning => 2,
        LogLevel::Critical => 3,
    }
}

impl Core {
    /// Whether a record at `level` reaches any sink.
    pub(crate) fn accepts(&self, level: LogLevel) -> bool {
        let i = level_index(level);
        self.needs_main[i] || self.needs_cloud[i]
    }

    /// Whether andon's own record at `level` is kept: at or above the own level, and taken by
    /// some sink.
    pub(crate) fn accepts_own(&self, level: LogLevel) -> bool {
        level >= self.own_level && self.accepts(level)
    }

    /// The lowest level any sink takes (for the `log` facade's max level).
    pub(crate) fn min_level(&self) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| self.accepts_own(*l))
    }

    /// Level filter, then sampling (of ordinary records only: `entry.sampled`): true when the
    /// record goes on.
    fn admit(&self, entry: &Entry<'_>) -> bool {
        let level = entry.level;
        if !(if entry.tracing {
            self.accepts(level)
        } else {
            self.accepts_own(level)
        }) {
            return false;
        }
        if entry.sampled && level <= LogLevel::Info && self.sample_ratio > 1 {
            let n = self.sample_counter.fetch_add(1, Ordering::Relaxed);
            if !n.is_multiple_of(self.sample_ratio) {
                self.sampled_out.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        true
    }

    fn may_drop(&self, level: LogLevel) -> bool {
        level <= LogLevel::Info && self.overflow == OverflowPolicy::Drop
    }

    /// Formats `entry` into this thread's scratch buffer and hands `f` the record.
    fn with_formatted<R>(&self, entry: &Entry<'_>, f: impl FnOnce(&Formatted<'_>) -> R) -> R {
        with_scratch(|buf| {
            let split = self.format(entry, buf);
            f(&Formatted::split(entry.level, entry.time, buf, split))
        })
    }

    /// Formats `entry` into `buf`: the main layout, then the Cloud layout. Returns the split.
    fn format(&self, entry: &Entry<'_>, buf: &mut Vec<u8>) -> usize {
        let active = self.trace.get().and_then(|t| t.current());
        let trace = Trace::resolve(active, entry.signal.and_then(|s| s.trace_id()));
        let i = level_index(entry.level);
        if self.needs_main[i] {
            write_record(buf, entry, &trace, self.main_layout, self.max_message, None);
        }
        let split = buf.len();
        if self.needs_cloud[i] {
            write_record(
                buf,
                entry,
                &trace,
                Layout::Cloud,
                self.max_message,
                self.project.as_deref(),
            );
        }
        split
    }

    /// Logs from synchronous code: waits for room when the record must not be dropped, and
    /// for CRITICAL until it is written.
    pub(crate) fn submit_blocking(&self, entry: &Entry<'_>) -> Result<(), LogError> {
        if !self.admit(entry) {
            return Ok(());
        }
        let writer = in_writer();
        // The writer thread never waits on itself: what it logs may be dropped, never blocked.
        let may_drop = writer || self.may_drop(entry.level);
        let seq =
            self.with_formatted(entry, |record| self.queue.push_blocking(record, may_drop))?;
        if entry.level == LogLevel::Critical && !writer {
            self.queue.wait_blocking(seq, Bound::Critical)?;
        }
        Ok(())
    }

    /// The synchronous half of logging from async code: filters, formats into the thread's
    /// scratch buffer and appends when there is room. A record that must wait for room is
    /// copied out, since the wait may move the task to another thread.
    pub(crate) fn prepare(&self, entry: &Entry<'_>) -> Result<Pending, LogError> {
        if !self.admit(entry) {
            return Ok(Pending::Done);
        }
        let may_drop = self.may_drop(entry.level);
        let critical = entry.level == LogLevel::Critical;
        self.with_formatted(entry, |record| {
            Ok(match self.queue.push_now(record, may_drop)? {
                Some(seq) if critical => Pending::Flush(seq),
                Some(_) => Pending::Done,
                None => Pending::Room {
                    level: entry.level,
                    time: entry.time,
                    bytes: [record.main, record.cloud].concat(),
                    split: record.main.len(),
                },
            })
        })
    }

    /// The asynchronous half: waits for room, and for CRITICAL until the record is written.
    pub(crate) async fn complete(&self, pending: Pending) -> Result<(), LogError> {
        let seq = match pending {
            Pending::Done => return Ok(()),
            Pending::Flush(seq) => seq,
            Pending::Room {
                level,
                time,
                bytes,
                split,
            } => {
                let record = Formatted::split(level, time, &bytes, split);
                let seq = self.queue.push_waiting(&record).await?;
                if level != LogLevel::Critical {
                    return Ok(());
                }
                seq
            }
        };
        self.queue.wait(seq, Bound::Critical).await
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> LogStats {
        let dropped = self.queue.dropped.load(Ordering::Relaxed);
        let accepted = self.queue.accepted();
        LogStats {
            emitted: accepted + dropped,
            timed_out: self.queue.timed_out.load(Ordering::Relaxed),
            stalled: self.queue.stalled(),
            written: self.written.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped,
            sampled_out: self.sampled_out.load(Ordering::Relaxed),
            queued: self.queue.queued(),
            sink_errors: self
                .sinks
                .iter()
                .map(|s| s.errors.load(Ordering::Relaxed))
                .sum(),
            sinks: self
                .sinks
                .iter()
                .map(|s| SinkStats {
                    name: s.name.clone(),
                    written: s.written.load(Ordering::Relaxed),
                    errors: s.errors.load(Ordering::Relaxed),
                    last_error: lock(&s.last_error).clone(),
                })
                .collect(),
        }
    }
}

/// What is left to do for a record after [`Core::prepare`].
#[derive(Debug)]
pub(crate) enum Pending {
    /// Nothing: filtered, sampled away or queued.
    Done,
    /// Queued CRITICAL record: wait until it is written.
    Flush(u64),
    /// Waiting for room in the queue.
    Room {
        level: LogLevel,
        time: std::time::SystemTime,
        bytes: Vec<u8>,
        split: usize,
    },
}

/// Stops the writer when the last handle (logger, drain or bridge) goes away.
#[derive(Debug)]
pub(crate) struct Guard {
    core: Arc<Core>,
    thread: Mutex<Option<JoinHandle<()>>>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl Guard {
    /// Refuses new records, drains the queue and waits for the writer to finish, unless it is
    /// stuck: then the writer is left behind (it ends with the process) rather than holding
    /// the caller, and what it still holds is counted in `queued`.
    pub(crate) fn shutdown_blocking(&self) {
        self.core.queue.begin_shutdown();
        let drained = self.core.queue.wait_blocking(u64::MAX, Bound::Progress);
        self.finish(&drained);
    }

    /// The same without blocking an async runtime's thread while the queue drains.
    pub(crate) async fn shutdown(&self) -> Result<(), LogError> {
        self.core.queue.begin_shutdown();
        let drained = self.core.queue.wait(u64::MAX, Bound::Progress).await;
        self.finish(&drained);
        match drained {
            Err(e @ LogError::Stalled { .. }) => Err(e),
            _ if self.core.queue.writer_done() => Ok(()),
            _ => Err(LogError::WriterGone),
        }
    }

    /// Joins the writer and stops the timer, unless the writer is stuck: then both are left to
    /// end with the process, and the timer keeps bounding the waits of any handle still used.
    fn finish(&self, drained: &Result<(), LogError>) {
        if matches!(drained, Err(LogError::Stalled { .. })) {
            return;
        }
        // The writer has published `done`, so joining returns at once.
        let handle = lock(&self.thread).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        self.core.queue.timer.stop();
        let timer = lock(&self.timer).take();
        if let Some(timer) = timer {
            let _ = timer.join();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown_blocking();
    }
}

/// Builds the core and starts its writer thread.
pub(crate) fn start(
    config: &LoggerConfig,
    component: Option<Arc<str>>,
    trace: Option<Arc<dyn TraceContext>>,
    tracing_level: Option<LogLevel>,
) -> Result<(Arc<Core>, Arc<Guard>), LogError> {
    andon_core::SectionConfig::validate(config)?;
    // `tracing` events a directive lets in below andon's own level still reach the sinks.
    let floor = tracing_level.map_or(config.level, |t| t.min(config.level));
    let mut needs_main = [false; 4];
    let mut needs_cloud = [false; 4];
    let mut sinks = Vec::new();
    let mut cells = Vec::new();
    let mut project = None;
    for (index, sink_config) in config.sinks.iter().enumerate() {
        crate::syslog::check_local_syslog(sink_config, index)?;
        crate::features::check_build_features(sink_config, index, cfg!(feature = "gcp"))?;
        // A sink's own level can raise, never lower, the logger's level.
        let level = sink_config.level().unwrap_or(floor).max(floor);
        let (sink, name) = Sink::new(sink_config, level, config.error_report_interval);
        let needs = if sink.cloud {
            &mut needs_cloud
        } else {
            &mut needs_main
        };
        for l in LogLevel::ALL.into_iter().filter(|l| *l >= level) {
            needs[level_index(l)] = true;
        }
        if let SinkConfig::CloudLogging { project_id, .. } = sink_config {
            project = project.or_else(|| project_id.clone());
        }
        sinks.push(sink);
        cells.push(SinkCell::new(name));
    }
    let trace_cell = OnceLock::new();
    if let Some(trace) = trace {
        let _ = trace_cell.set(trace);
    }
    let core = Arc::new(Core {
        queue: Queue::new(config.queue_capacity, config.stall_timeout),
        needs_main,
        needs_cloud,
        main_layout: if config.json_format {
            Layout::Json
        } else {
            Layout::Text
        },
        project,
        max_message: config.max_message_bytes,
        sample_ratio: if config.sampling_enabled {
            u64::from(config.sample_ratio.max(1))
        } else {
            1
        },
        sample_counter: AtomicU64::new(0),
        sampled_out: AtomicU64::new(0),
        overflow: config.overflow,
        component,
        trace: trace_cell,
        own_level: config.level,
        written: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        sinks: cells,
    });
    let timer_core = Arc::clone(&core);
    let timer = std::thread::Builder::new()
        .name("andon-log-timer".into())
        .spawn(move || {
            timer_core
                .queue
                .timer
                .run(|| timer_core.queue.wake_async_waiters())
        })
        .map_err(LogError::Spawn)?;
    let writer_core = Arc::clone(&core);
    let thread = std::thread::Builder::new()
        .name("andon-log-writer".into())
        .spawn(move || run_writer(&writer_core, sinks));
    let thread = match thread {
        Ok(thread) => thread,
        Err(e) => {
            core.queue.timer.stop();
            let _ = timer.join();
            return Err(LogError::Spawn(e));
        }
    };
    let guard = Arc::new(Guard {
        core: Arc::clone(&core),
        thread: Mutex::new(Some(thread)),
        timer: Mutex::new(Some(timer)),
    });
    Ok((core, guard))
}

/// Marks the writer finished however it ends, so that no caller waits for it forever.
struct Finished<'a>(&'a Core);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.queue.writer_finished();
    }
}

fn run_writer(core: &Core, mut sinks: Vec<Sink>) {
    let _ = IS_WRITER.try_with(|w| w.set(true));
    let _finished = Finished(core);
    let mut batch = Batch::default();
    let mut ok = Vec::new();
    loop {
        match core.queue.next(&mut batch, WRITER_TICK) {
            Next::Batch => {
                ok.clear();
                ok.resize(batch.records.len(), false);
                for (sink, cell) in sinks.iter_mut().zip(&core.sinks) {
                    sink.write(&batch, &mut ok, cell);
                }
                let written = ok.iter().filter(|w| **w).count() as u64;
                core.written.fetch_add(written, Ordering::Relaxed);
                core.failed
                    .fetch_add(ok.len() as u64 - written, Ordering::Relaxed);
                core.queue.publish(batch.last_seq);
                batch.clear();
            }
            Next::Idle => {}
            Next::Shutdown => break,
        }
    }
    for sink in &mut sinks {
        sink.close();
    }
}
