//! The sinks, as the writer thread drives them: standard streams, files with rotation and
//! reopening, and syslog (in `syslog.rs`).
//!
//! A sink takes a whole batch at once and writes the records at or above its level in as few
//! system calls as it can. A failure is counted per record, reported to stderr at most once per
//! interval, and retried on the next batch: a sink never panics and never stops the writer.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::LogLevel;
use andon_core::config::{CloudLoggingOutput, SinkConfig};

use crate::cloud_logging::ApiSink;
use crate::queue::{Batch, lock};
use crate::syslog::SyslogSink;

/// The mode of the log files the logger creates: read and write for the owner only.
#[cfg(unix)]
const LOG_FILE_MODE: u32 = 0o600;

/// A sink's counters, shared with [`LogStats`](crate::LogStats) readers (and with the
/// Cloud Logging API thread, which counts what it delivers and loses itself).
#[derive(Debug)]
pub(crate) struct SinkCell {
    pub(crate) name: String,
    pub(crate) written: Arc<AtomicU64>,
    pub(crate) errors: Arc<AtomicU64>,
    pub(crate) last_error: Arc<Mutex<Option<String>>>,
}

impl SinkCell {
    pub(crate) fn new(name: String) -> Self {
        SinkCell {
            name,
            written: Arc::new(AtomicU64::new(0)),
            errors: Arc::new(AtomicU64::new(0)),
            last_error: Arc::new(Mutex::new(None)),
        }
    }
}

/// Tells stderr about a failing sink, at most once per interval, and once when it recovers.
#[derive(Debug)]
struct Reporter {
    interval: Duration,
    last: Option<Instant>,
    unreported: u64,
    failing: bool,
}

impl Reporter {
    /// Counts `records` lost to `error`; returns the line for stderr when one is due.
    fn failed(
        &mut self,
        name: &str,
        error: &io::Error,
        records: u64,
        now: Instant,
    ) -> Option<String> {
        self.unreported += records;
        self.failing = true;
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return None;
        }
        let line = format!(
            "andon-log: sink {name}: {error}; {} record(s) not written since the last report, retrying",
            self.unreported
        );
        self.last = Some(now);
        self.unreported = 0;
        Some(line)
    }

    /// Returns the line for stderr when the sink was failing and now works.
    fn succeeded(&mut self, name: &str) -> Option<String> {
        if !self.failing {
            return None;
        }
        self.failing = false;
        let line = format!(
            "andon-log: sink {name} recovered ({} more record(s) were not written)",
            self.unreported
        );
        self.unreported = 0;
        self.last = None;
        Some(line)
    }
}

/// Writes a line to stderr; a failed write to stderr has nowhere else to go.
fn to_stderr(line: Option<String>) {
    if let Some(line) = line {
        let _ = writeln!(io::stderr(), "{line}");
    }
}

/// One configured sink, owned by the writer thread.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) level: LogLevel,
    /// Writes the Cloud Logging layout rather than the main one.
    pub(crate) cloud: bool,
    kind: Kind,
    reporter: Reporter,
}

#[derive(Debug)]
enum Kind {
    Stdout,
    Stderr,
    File(FileSink),
    Syslog(SyslogSink),
    /// Cloud Logging's `entries:write`, from a thread of its own.
    Api(ApiSink),
}

impl Sink {
    /// The sink for `config`, taking records at `level` and above.
    pub(crate) fn new(
        config: &SinkConfig,
        level: LogLevel,
        report_interval: Duration,
    ) -> (Sink, String) {
        let (kind, cloud, name) = match config {
            SinkConfig::Stdout { .. } => (Kind::Stdout, false, "Stdout".to_owned()),
            SinkConfig::Stderr { .. } => (Kind::Stderr, false, "Stderr".to_owned()),
            SinkConfig::File {
                path,
                max_bytes,
                keep,
                ..
            } => (
                Kind::File(FileSink::new(path.clone(), *max_bytes, *keep)),
                false,
                format!("File({})", path.display()),
            ),
            SinkConfig::Syslog {
                transport,
                address,
                format,
                facility,
                app_name,
                hostname,
                ..
            } => {
                let sink = SyslogSink::new(
                    *transport,
                    address.clone(),
                    *format,
                    facility,
                    app_name,
                    hostname.clone(),
                );
                let name = format!("Syslog({} {})", sink.transport_name(), sink.address);
                (Kind::Syslog(sink), false, name)
            }
            SinkConfig::CloudLogging {
                output,
                max_bytes,
                keep,
                api,
                project_id,
                ..
            } => match output {
                CloudLoggingOutput::Stdout => (Kind::Stdout, true, "CloudLogging(stdout)".into()),
                CloudLoggingOutput::File(path) => (
                    Kind::File(FileSink::new(path.clone(), *max_bytes, *keep)),
                    true,
                    format!("CloudLogging({})", path.display()),
                ),
                CloudLoggingOutput::Api => (
                    Kind::Api(ApiSink::new(api, project_id.clone(), report_interval)),
                    true,
                    format!("CloudLogging(api {})", api.endpoint),
                ),
            },
        };
        let sink = Sink {
            level,
            cloud,
            kind,
            reporter: Reporter {
                interval: report_interval,
                last: None,
                unreported: 0,
                failing: false,
            },
        };
        (sink, name)
    }

    /// Writes the batch's records at or above the sink's level, marking in `ok` each record it
    /// wrote, and counts in `cell`.
    pub(crate) fn write(&mut self, batch: &Batch, ok: &mut [bool], cell: &SinkCell) {
        if let Kind::Api(api) = &self.kind {
            let refused = hand_over(api, self.level, batch, ok, cell);
            if refused > 0 {
                let error = io::Error::other(api.refusal());
                to_stderr(
                    self.reporter
                        .failed(&cell.name, &error, refused, Instant::now()),
                );
            }
            return;
        }
        let mut written = 0u64;
        let mut failed = 0u64;
        let mut error = None;
        for run in runs(batch, self.level) {
            let count = (run.end - run.start) as u64;
            if error.is_some() {
                // After a failure the rest of the batch waits for the next retry.
                failed += count;
                continue;
            }
            let result = match &mut self.kind {
                Kind::Stdout => write_stream(
                    &mut io::stdout().lock(),
                    batch.bytes(run.clone(), self.cloud),
                ),
                Kind::Stderr => write_stream(
                    &mut io::stderr().lock(),
                    batch.bytes(run.clone(), self.cloud),
                ),
                Kind::File(file) => file.write_run(batch, run.clone(), self.cloud),
                Kind::Syslog(syslog) => syslog.write_run(batch, run.clone()),
                Kind::Api(_) => Ok(()),
            };
            match result {
                Ok(()) => {
                    written += count;
                    for slot in ok.get_mut(run).into_iter().flatten() {
                        *slot = true;
                    }
                }
                Err(e) => {
                    failed += count;
                    error = Some(e);
                }
            }
        }
        if error.is_none() && written > 0 {
            let flushed = match &mut self.kind {
                Kind::Stdout => io::stdout().lock().flush(),
                Kind::Stderr => io::stderr().lock().flush(),
                Kind::File(_) | Kind::Syslog(_) | Kind::Api(_) => Ok(()),
            };
            if let Err(e) = flushed {
                error = Some(e);
            }
        }
        cell.written.fetch_add(written, Ordering::Relaxed);
        match error {
            Some(e) => {
                cell.errors.fetch_add(failed.max(1), Ordering::Relaxed);
                *lock(&cell.last_error) = Some(e.to_string());
                to_stderr(self.reporter.failed(&cell.name, &e, failed, Instant::now()));
            }
            None if written > 0 => to_stderr(self.reporter.succeeded(&cell.name)),
            None => {}
        }
    }

    /// Closes files and connections.
    pub(crate) fn close(&mut self) {
        match &mut self.kind {
            Kind::File(file) => file.file = None,
            Kind::Syslog(syslog) => syslog.close(),
            Kind::Api(api) => api.close(),
            Kind::Stdout | Kind::Stderr => {}
        }
    }
}

/// Queues the batch's records at or above `level` for the API thread without waiting: a record
/// queued counts as written for the logger; one refused (the queue full) is counted as an error
/// of this sink, and their number returned. The API thread counts in `cell` what it delivers
/// (written) and loses (errors).
fn hand_over(
    api: &ApiSink,
    level: LogLevel,
    batch: &Batch,
    ok: &mut [bool],
    cell: &SinkCell,
) -> u64 {
    api.attach(cell);
    let mut refused = 0;
    for run in runs(batch, level) {
        for index in run {
            let (queued, dropped) = api.offer(std::iter::once(batch.bytes(index..index + 1, true)));
            refused += dropped;
            if queued > 0
                && let Some(slot) = ok.get_mut(index)
            {
                *slot = true;
            }
        }
    }
    if refused > 0 {
        cell.errors.fetch_add(refused, Ordering::Relaxed);
        *lock(&cell.last_error) = Some(api.refusal());
    }
    refused
}

/// The ranges of consecutive records at or above `level`.
fn runs(batch: &Batch, level: LogLevel) -> impl Iterator<Item = Range<usize>> + '_ {
    let records = &batch.records;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < records.len() && records.get(i).is_some_and(|r| r.level < level) {
            i += 1;
        }
        if i >= records.len() {
            return None;
        }
        let start = i;
        while records.get(i).is_some_and(|r| r.level >= level) {
            i += 1;
        }
        Some(start..i)
    })
}

fn write_stream(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)
}

/// An appended file, rotated by size, reopened when removed or replaced.
#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: Option<File>,
    size: u64,
    identity: Option<(u64, u64)>,
}

impl FileSink {
    fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        FileSink {
            path,
            max_bytes,
            keep,
            file: None,
            size: 0,
            identity: None,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create the directory {}: {e}", parent.display()),
                )
            })?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            // Records can carry what should not be world-readable: owner only. (An existing
            // file keeps its mode, so that an operator's choice such as 0640 stands.)
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(LOG_FILE_MODE);
        }
        let file = options.open(&self.path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open {}: {e}", self.path.display()),
            )
        })?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.identity = identity(&meta);
        self.file = Some(file);
        Ok(())
    }

    /// Opens the file if it is closed, or was removed or replaced by someone else.
    fn ensure_open(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            let current = fs::metadata(&self.path).ok().and_then(|m| identity(&m));
            if current.is_none() || current != self.identity {
                self.file = None;
            }
        }
        if self.file.is_none() {
            self.open()?;
        }
        Ok(())
    }

    fn rotated(&self, index: u32) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(format!(".{index}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let ignore_missing = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if self.keep == 0 {
            ignore_missing(fs::remove_file(&self.path))?;
        } else {
            for index in (1..self.keep).rev() {
                ignore_missing(fs::rename(self.rotated(index), self.rotated(index + 1)))?;
            }
            ignore_missing(fs::rename(&self.path, self.rotated(1)))?;
        }
        self.open()
    }

    fn write_run(&mut self, batch: &Batch, run: Range<usize>, cloud: bool) -> io::Result<()> {
        let result = self.write_run_inner(batch, run, cloud);
        if result.is_err() {
            // Reopen on the next batch: the fault may be gone by then.
            self.file = None;
        }
        result
    }

    fn write_run_inner(&mut self, batch: &Batch, run: Range<usize>, cloud: bool) -> io::Result<()> {
        self.ensure_open()?;
        if self.max_bytes == 0 {
            return self.append(batch.bytes(run, cloud));
        }
        // Write as much as fits in one call, rotate, go on.
        let mut chunk_start = run.start;
        let mut chunk_len = 0u64;
        for index in run.clone() {
            let len = batch.bytes(index..index + 1, cloud).len() as u64;
            let used = self.size + chunk_len;
            if used > 0 && used + len > self.max_bytes {
                if chunk_len > 0 {
                    self.append(batch.bytes(chunk_start..index, cloud))?;
                }
                self.rotate()?;
                chunk_start = index;
                chunk_len = 0;
            }
            chunk_len += len;
        }
        self.append(batch.bytes(chunk_start..run.end, cloud))
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the log file is not open"))?;
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    Some((0, 0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::queue::{Formatted, Next, Queue};
    use std::time::UNIX_EPOCH;

    /// A batch of `records` (level, line without its newline), as the writer gets it.
    pub(crate) fn batch(records: &[(LogLevel, &str)]) -> Batch {
        let queue = Queue::new(1000, Duration::from_secs(60));
        for (level, text) in records {
            let line = format!("{text}\n");
            queue
                .push_blocking(
                    &Formatted {
                        level: *level,
                        time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                        main: line.as_bytes(),
                        cloud: b"",
                    },
                    false,
                )
                .unwrap();
        }
        let mut spare = Batch::default();
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Batch
        ));
        spare
    }

    #[test]
    fn errors_are_reported_once_per_interval_and_on_recovery() {
        let mut reporter = Reporter {
            interval: Duration::from_secs(10),
            last: None,
            unreported: 0,
            failing: false,
        };
        let error = io::Error::other("disk full");
        let t0 = Instant::now();
        let first = reporter.failed("File(a.log)", &error, 3, t0).unwrap();
        assert_eq!(
            first,
            "andon-log: sink File(a.log): disk full; 3 record(s) not written since the last report, retrying"
        );
        assert_eq!(
            reporter.failed("File(a.log)", &error, 4, t0 + Duration::from_secs(5)),
            None
        );
        let again = reporter
            .failed("File(a.log)", &error, 1, t0 + Duration::from_secs(10))
            .unwrap();
        assert!(again.contains("5 record(s)"), "{again}");
        assert_eq!(
            reporter.failed("File(a.log)", &error, 2, t0 + Duration::from_secs(11)),
            None
        );
        let recovered = reporter.succeeded("File(a.log)").unwrap();
        assert!(
            recovered.contains("recovered (2 more record(s)"),
            "{recovered}"
        );
        assert_eq!(reporter.succeeded("File(a.log)"), None);
    }

    #[test]
    fn runs_skip_records_below_the_level() {
        let b = batch(&[
            (LogLevel::Info, "a"),
            (LogLevel::Warning, "b"),
            (LogLevel::Critical, "c"),
            (LogLevel::Debug, "d"),
            (LogLevel::Warning, "e"),
        ]);
        let runs: Vec<_> = runs(&b, LogLevel::Warning).collect();
        assert_eq!(runs, vec![1..3, 4..5]);
        assert_eq!(b.bytes(1..3, false), b"b\nc\n");
    }

    #[test]
    fn files_rotate_by_size_and_keep_n() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/app.log");
        let mut sink = FileSink::new(path.clone(), 10, 2);
        for text in ["aaaa", "bbbb", "cccc", "dddd", "eeee"] {
            let b = batch(&[(LogLevel::Info, text)]);
            sink.write_run(&b, 0..1, false).unwrap();
        }
        // 5 bytes each, 10 bytes a file: two records a file, two rotated files kept.
        assert_eq!(fs::read_to_string(&path).unwrap(), "eeee\n");
        assert_eq!(fs::read_to_string(sink.rotated(1)).unwrap(), "cccc\ndddd\n");
        assert_eq!(fs::read_to_string(sink.rotated(2)).unwrap(), "aaaa\nbbbb\n");
        assert!(!sink.rotated(3).exists());
    }
}
