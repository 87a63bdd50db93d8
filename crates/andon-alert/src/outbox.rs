//! The outbox: an append-only file of JSON lines recording each notification for each channel
//! before it is queued (`pending`) and its end after (`done`), so that a restart sends what a
//! crash left pending, with the same key.
//!
//! Delivery is **at-least-once**: a notification sent just before a crash, whose `done` was not
//! yet written, is sent again at the next start with the same key (the webhook's
//! `Idempotency-Key`, PagerDuty's `dedup_key`), so receivers can drop the repeat.
//!
//! - A `pending` record is flushed to the disk (`fsync`) by a thread of the outbox, off the
//!   caller's path, one `fsync` for every record written since the last (group commit): a power
//!   loss can take only what was written during the last `fsync`. A `done` record is not
//!   flushed on its own (losing one costs a repeat, never a notification).
//! - A line that does not parse (torn by a crash, corrupted) is skipped and counted; the lines
//!   after it are read as usual.
//! - After a read error the file is left as it is (never compacted), since what follows the
//!   error is unknown; what was read before it is replayed.
//! - The file is compacted at start and while running, once it holds many finished records:
//!   rewritten to a temporary file, flushed, renamed over the outbox, and the directory flushed.
//! - The file is created readable and writable by its owner only (`0600`): notifications carry
//!   alert text and diagnostics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::AlertError;
use crate::notification::Notification;

mod syncer;

use andon_runtime::lock;
use syncer::Syncer;

/// The file is compacted once it holds at least this many lines and twice as many as there
/// are unfinished notifications.
const COMPACT_AFTER_LINES: u64 = 4096;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Record {
    Pending {
        key: String,
        channel: String,
        notification: Notification,
    },
    Done {
        key: String,
        delivered: bool,
    },
}

/// A notification the previous run did not finish.
#[derive(Debug, Clone)]
pub(crate) struct Unfinished {
    pub(crate) key: String,
    pub(crate) channel: String,
    pub(crate) notification: Notification,
}

/// What a read of the file found.
#[derive(Debug, Default)]
struct Scan {
    unfinished: Vec<Unfinished>,
    /// Lines that did not parse.
    skipped: u64,
    /// Why reading stopped before the end, if it did.
    read_error: Option<std::io::Error>,
}

/// Reads every line; a line that does not parse is skipped and counted, a read error stops.
fn scan(mut reader: impl BufRead) -> Scan {
    let mut pending: BTreeMap<String, (u64, Unfinished)> = BTreeMap::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut scan = Scan::default();
    let mut line = Vec::new();
    for order in 0u64.. {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                scan.read_error = Some(e);
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(Record::Pending {
                key,
                channel,
                notification,
            }) => {
                done.remove(&key);
                let unfinished = Unfinished {
                    key: key.clone(),
                    channel,
                    notification,
                };
                pending.insert(key, (order, unfinished));
            }
            Ok(Record::Done { key, .. }) => {
                done.insert(key);
            }
            Err(_) => scan.skipped += 1,
        }
    }
    let mut unfinished: Vec<(u64, Unfinished)> = pending
        .into_iter()
        .filter(|(k, _)| !done.contains(k))
        .map(|(_, v)| v)
        .collect();
    unfinished.sort_by_key(|(order, _)| *order);
    scan.unfinished = unfinished.into_iter().map(|(_, u)| u).collect();
    scan
}

/// The open file and what is still unfinished in it.
#[derive(Debug)]
struct State {
    /// Shared with the syncer, which flushes it without holding the state.
    file: Arc<File>,
    /// Unfinished notifications by the order they were written: key and JSON line.
    live: BTreeMap<u64, (String, String)>,
    /// Where each unfinished key is in `live`.
    index: HashMap<String, u64>,
    next: u64,
    /// Lines in the file.
    lines: u64,
    /// Compact when `lines` reaches this.
    compact_at: u64,
}

/// The open outbox file.
#[derive(Debug)]
pub(crate) struct Outbox {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    errors: Arc<AtomicU64>,
    compactions: AtomicU64,
    compact_after: u64,
    /// None when its thread could not be started: `pending` then flushes itself.
    syncer: Option<Arc<Syncer>>,
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(syncer) = &self.syncer {
            syncer.stop();
        }
    }
}

impl Outbox {
    /// Opens (or creates) the outbox, returning what the last run left unfinished; the file is
    /// compacted to those records unless reading it failed.
    pub(crate) fn open(path: &Path) -> Result<(Outbox, Vec<Unfinished>), AlertError> {
        Self::open_with(path, COMPACT_AFTER_LINES)
    }

    fn open_with(path: &Path, compact_after: u64) -> Result<(Outbox, Vec<Unfinished>), AlertError> {
        if let Some(dir) = parent(path) {
            std::fs::create_dir_all(dir)
                .map_err(|e| error(path, format!("cannot create its directory: {e}")))?;
        }
        let scan = match File::open(path) {
            Ok(file) => scan(BufReader::new(file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Scan::default(),
            Err(e) => return Err(error(path, format!("cannot read: {e}"))),
        };
        Self::finish_open(path, scan, compact_after)
    }

    fn finish_open(
        path: &Path,
        scan: Scan,
        compact_after: u64,
    ) -> Result<(Outbox, Vec<Unfinished>), AlertError> {
        let mut live = BTreeMap::new();
        let mut index = HashMap::new();
        for (order, u) in (0u64..).zip(&scan.unfinished) {
            let line = encode(&Record::Pending {
                key: u.key.clone(),
                channel: u.channel.clone(),
                notification: u.notification.clone(),
            })
            .map_err(|e| error(path, format!("cannot encode: {e}")))?;
            index.insert(u.key.clone(), order);
            live.insert(order, (u.key.clone(), line));
        }
        let next = live.len() as u64;
        let (file, lines) = if scan.read_error.is_none() {
            let file = rewrite(path, live.values().map(|(_, line)| line.as_str()))
                .map_err(|e| error(path, format!("cannot compact: {e}")))?;
            (file, next)
        } else {
            // What follows the error is unknown: keep every byte, and start on a new line so
            // that the next record is not glued to a line the crash cut.
            let mut file = open_append(path)
                .map_err(|e| error(path, format!("cannot open for appending: {e}")))?;
            file.write_all(b"\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| error(path, format!("cannot write: {e}")))?;
            (file, compact_after)
        };
        let errors = Arc::new(AtomicU64::new(
            scan.skipped + u64::from(scan.read_error.is_some()),
        ));
        let state = Arc::new(Mutex::new(State {
            file: Arc::new(file),
            live,
            index,
            next,
            lines,
            compact_at: compact_after.max(2 * next),
        }));
        let syncer = Syncer::start(&state, &errors);
        Ok((
            Outbox {
                path: path.to_owned(),
                state,
                errors,
                compactions: AtomicU64::new(0),
                compact_after,
                syncer,
            },
            scan.unfinished,
        ))
    }

    /// Records a notification about to be queued for `channel`; the syncer flushes it to the
    /// disk within one `fsync`.
    pub(crate) fn pending(&self, key: &str, channel: &str, notification: &Notification) {
        let Ok(line) = encode(&Record::Pending {
            key: key.to_owned(),
            channel: channel.to_owned(),
            notification: notification.clone(),
        }) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut state = lock(&self.state);
        let written = (&*state.file).write_all(line.as_bytes());
        let flushed = match &self.syncer {
            Some(syncer) => {
                syncer.mark_dirty();
                Ok(())
            }
            None => state.file.sync_data(),
        };
        if written.and(flushed).is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        state.lines += 1;
        let order = state.next;
        state.next += 1;
        if let Some(old) = state.index.insert(key.to_owned(), order) {
            state.live.remove(&old);
        }
        state.live.insert(order, (key.to_owned(), line));
    }

    /// Records that the channel finished with it (delivered, given up on, or never queued),
    /// and compacts the file when it holds mostly finished records.
    pub(crate) fn done(&self, key: &str, delivered: bool) {
        let Ok(line) = encode(&Record::Done {
            key: key.to_owned(),
            delivered,
        }) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut state = lock(&self.state);
        if (&*state.file).write_all(line.as_bytes()).is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        state.lines += 1;
        if let Some(order) = state.index.remove(key) {
            state.live.remove(&order);
        }
        if state.lines >= state.compact_at {
            self.compact(&mut state);
        }
    }

    /// Rewrites the file to the unfinished records; on failure the old file stays and the next
    /// try waits for as many lines again.
    fn compact(&self, state: &mut State) {
        let live = state.live.len() as u64;
        match rewrite(&self.path, state.live.values().map(|(_, l)| l.as_str())) {
            Ok(file) => {
                state.file = Arc::new(file);
                state.lines = live;
                self.compactions.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        state.compact_at = state.lines + self.compact_after.max(2 * live);
    }

    /// Records that could not be written, lines that could not be read (skipped), and a read
    /// error at start; counted, never fatal.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Compactions done while running.
    #[cfg(test)]
    fn compactions(&self) -> u64 {
        self.compactions.load(Ordering::Relaxed)
    }

    /// `fsync`s the syncer did.
    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncer.as_ref().map_or(0, |s| s.syncs())
    }

    /// The outbox file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn error(path: &Path, message: String) -> AlertError {
    AlertError::Outbox {
        path: path.display().to_string(),
        message,
    }
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

fn encode(record: &Record) -> Result<String, serde_json::Error> {
    let mut line = serde_json::to_string(record)?;
    line.push('\n');
    Ok(line)
}

/// Creates or truncates a file readable by its owner only.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes `lines` to a temporary file, flushes it, renames it over `path`, flushes the
/// directory, and returns `path` opened for appending.
fn rewrite<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) -> std::io::Result<File> {
    let tmp = path.with_extension("outbox-compact");
    {
        let mut out = std::io::BufWriter::new(create_private(&tmp)?);
        for line in lines {
            out.write_all(line.as_bytes())?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = parent(path) {
        File::open(dir)?.sync_all()?;
    } else {
        File::open(".")?.sync_all()?;
    }
    open_append(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::AlertStatus;
    use andon_core::AlertSeverity;
    use std::time::SystemTime;

    fn notification(key: &str) -> Notification {
        Notification {
            key: key.to_owned(),
            status: AlertStatus::Firing,
            severity: AlertSeverity::Warning,
            title: "t".to_owned(),
            alerts: Vec::new(),
            escalation_level: 0,
            digest: false,
            diagnostics: None,
            snapshot: None,
            created_at: SystemTime::now(),
        }
    }

    fn keys(unfinished: &[Unfinished]) -> Vec<&str> {
        unfinished.iter().map(|u| u.key.as_str()).collect()
    }

    #[test]
    fn unfinished_records_survive_a_reopen_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/alerts.outbox");
        let (outbox, unfinished) = Outbox::open(&path).unwrap();
        assert!(unfinished.is_empty());
        outbox.pending("a@x", "x", &notification("a"));
        outbox.pending("b@x", "x", &notification("b"));
        outbox.pending("c@y", "y", &notification("c"));
        outbox.done("b@x", true);
        drop(outbox);
        // A crash in the middle of a write.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"op\":\"pending\",\"key\":\"d@x\",\"chan");
        std::fs::write(&path, text).unwrap();

        let (outbox, unfinished) = Outbox::open(&path).unwrap();
        assert_eq!(keys(&unfinished), ["a@x", "c@y"], "in the order written");
        assert_eq!(unfinished[1].channel, "y");
        assert_eq!(outbox.errors(), 1, "the torn line is counted");
        // Compacted: only the unfinished remain.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        outbox.done("a@x", false);
        outbox.done("c@y", true);
        drop(outbox);
        let (outbox, unfinished) = Outbox::open(&path).unwrap();
        assert!(unfinished.is_empty(), "given up on counts as finished");
        assert_eq!(outbox.errors(), 0);
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_skipped_and_every_later_record_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.outbox");
        let (outbox, _) = Outbox::open(&path).unwrap();
        for key in ["a", "b", "c", "d"] {
            outbox.pending(key, "x", &notification(key));
        }
        outbox.done("c", true);
        drop(outbox);
        // Line 2 (b's pending) becomes bytes that are not even UTF-8.
        let text = std::fs::read(&path).unwrap();
        let mut lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
        let garbage = b"\xff\xfe{\"op\":\"pen\x00\n".to_vec();
        lines[1] = &garbage;
        std::fs::write(&path, lines.concat()).unwrap();

        let (outbox, unfinished) = Outbox::open(&path).unwrap();
        assert_eq!(keys(&unfinished), ["a", "d"], "read past the bad line");
        assert_eq!(outbox.errors(), 1, "counted");
        drop(outbox);
        let (_, unfinished) = Outbox::open(&path).unwrap();
        assert_eq!(keys(&unfinished), ["a", "d"], "the compaction kept them");
    }

    /// Yields `data`, then fails like a disk that cannot be read.
    struct FailingAfter(std::io::Cursor<Vec<u8>>);

    impl std::io::Read for FailingAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("Input/output error")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn after_a_read_error_nothing_is_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.outbox");
        let (outbox, _) = Outbox::open(&path).unwrap();
        outbox.pending("a", "x", &notification("a"));
        outbox.pending("b", "x", &notification("b"));
        drop(outbox);
        let before = std::fs::read(&path).unwrap();
        // The read fails after the first line (the second is on a bad sector).
        let first = before.split_inclusive(|b| *b == b'\n').next().unwrap();
        let scan = scan(BufReader::new(FailingAfter(std::io::Cursor::new(
            first.to_vec(),
        ))));
        assert!(scan.read_error.is_some());
        let (outbox, unfinished) = Outbox::finish_open(&path, scan, COMPACT_AFTER_LINES).unwrap();
        assert_eq!(keys(&unfinished), ["a"], "what was read is replayed");
        assert_eq!(outbox.errors(), 1, "the read error is counted");
        outbox.pending("c", "x", &notification("c"));
        drop(outbox);
        let after = std::fs::read(&path).unwrap();
        assert!(after.starts_with(&before), "every byte kept");
        let (_, unfinished) = Outbox::open(&path).unwrap();
        assert_eq!(keys(&unfinished), ["a", "b", "c"]);
    }

    #[test]
    fn pending_records_are_flushed_by_the_syncer_not_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let (outbox, _) = Outbox::open(&dir.path().join("alerts.outbox")).unwrap();
        assert!(outbox.syncer.is_some());
        assert_eq!(outbox.syncs(), 0, "nothing to flush yet");
        for key in ["a", "b", "c"] {
            outbox.pending(key, "x", &notification(key));
        }
        // A bound, not a timing assertion: the flush happens on the syncer's thread.
        for _ in 0..3000 {
            if outbox.syncs() >= 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let syncs = outbox.syncs();
        assert!(
            (1..=3).contains(&syncs),
            "one fsync covers several: {syncs}"
        );
        assert_eq!(outbox.errors(), 0);
    }

    #[test]
    fn the_file_is_compacted_while_running_and_keeps_the_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.outbox");
        let (outbox, _) = Outbox::open_with(&path, 16).unwrap();
        outbox.pending("stuck", "dead", &notification("stuck"));
        for i in 0..200 {
            let key = format!("n{i}");
            outbox.pending(&key, "x", &notification(&key));
            outbox.done(&key, true);
        }
        outbox.pending("last", "x", &notification("last"));
        assert!(outbox.compactions() >= 10, "{}", outbox.compactions());
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 17, "the file stays small: {lines} lines");
        assert_eq!(outbox.errors(), 0);
        drop(outbox);
        let (_, unfinished) = Outbox::open(&path).unwrap();
        assert_eq!(keys(&unfinished), ["stuck", "last"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.outbox");
        let (outbox, _) = Outbox::open(&path).unwrap();
        outbox.pending("a", "x", &notification("a"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        // An existing file with wider permissions is replaced by a private one at start.
        drop(outbox);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _ = Outbox::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn an_unwritable_outbox_is_an_error_that_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let err = Outbox::open(&blocker.join("alerts.outbox")).unwrap_err();
        assert!(err.to_string().contains("alerts.outbox"), "{err}");
        assert!(err.to_string().contains("writable"), "{err}");
    }
}
