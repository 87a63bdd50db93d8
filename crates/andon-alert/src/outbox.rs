//! The outbox: an append-only file of JSON lines recording each notification for each channel
//! before it is sent and its completion after, so a restart sends what a crash left pending,
//! with the same key.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::AlertError;
use crate::notification::Notification;

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

/// The open outbox file.
#[derive(Debug)]
pub(crate) struct Outbox {
    path: PathBuf,
    file: Mutex<File>,
    errors: AtomicU64,
}

impl Outbox {
    /// Opens (or creates) the outbox, returning what the last run left unfinished; the file is
    /// compacted to those records.
    pub(crate) fn open(path: &Path) -> Result<(Outbox, Vec<Unfinished>), AlertError> {
        let err = |message: String| AlertError::Outbox {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create its directory: {e}")))?;
        }
        let mut pending: BTreeMap<String, (u64, Unfinished)> = BTreeMap::new();
        let mut done: HashSet<String> = HashSet::new();
        if path.exists() {
            let file = File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
            for (order, line) in (0u64..).zip(BufReader::new(file).lines()) {
                let Ok(line) = line else { break };
                // A line cut by a crash does not parse: skip it.
                match serde_json::from_str::<Record>(&line) {
                    Ok(Record::Pending {
                        key,
                        channel,
                        notification,
                    }) => {
                        pending.insert(
                            key.clone(),
                            (
                                order,
                                Unfinished {
                                    key,
                                    channel,
                                    notification,
                                },
                            ),
                        );
                    }
                    Ok(Record::Done { key, .. }) => {
                        done.insert(key);
                    }
                    Err(_) => {}
                }
            }
        }
        let mut unfinished: Vec<(u64, Unfinished)> = pending
            .into_iter()
            .filter(|(k, _)| !done.contains(k))
            .map(|(_, v)| v)
            .collect();
        unfinished.sort_by_key(|(order, _)| *order);
        let unfinished: Vec<Unfinished> = unfinished.into_iter().map(|(_, u)| u).collect();
        // Compact: rewrite only what is unfinished, then append from there.
        let tmp = path.with_extension("outbox-compact");
        {
            let mut out = File::create(&tmp).map_err(|e| err(format!("cannot write: {e}")))?;
            for u in &unfinished {
                let line = serde_json::to_string(&Record::Pending {
                    key: u.key.clone(),
                    channel: u.channel.clone(),
                    notification: u.notification.clone(),
                })
                .map_err(|e| err(format!("cannot encode: {e}")))?;
                writeln!(out, "{line}").map_err(|e| err(format!("cannot write: {e}")))?;
            }
            out.sync_all()
                .map_err(|e| err(format!("cannot write: {e}")))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot replace: {e}")))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| err(format!("cannot open for appending: {e}")))?;
        Ok((
            Outbox {
                path: path.to_owned(),
                file: Mutex::new(file),
                errors: AtomicU64::new(0),
            },
            unfinished,
        ))
    }

    fn append(&self, record: &Record) {
        let Ok(mut line) = serde_json::to_string(record) else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.write_all(line.as_bytes()).is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a notification about to be queued for `channel`.
    pub(crate) fn pending(&self, key: &str, channel: &str, notification: &Notification) {
        self.append(&Record::Pending {
            key: key.to_owned(),
            channel: channel.to_owned(),
            notification: notification.clone(),
        });
    }

    /// Records that the channel finished with it (delivered or given up on).
    pub(crate) fn done(&self, key: &str, delivered: bool) {
        self.append(&Record::Done {
            key: key.to_owned(),
            delivered,
        });
    }

    /// Writes that failed (the disk is full or gone); counted, never fatal.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
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
        let keys: Vec<&str> = unfinished.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["a@x", "c@y"], "in the order they were written");
        assert_eq!(unfinished[1].channel, "y");
        assert_eq!(outbox.errors(), 0);
        // Compacted: only the unfinished remain.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        outbox.done("a@x", false);
        outbox.done("c@y", true);
        drop(outbox);
        let (_, unfinished) = Outbox::open(&path).unwrap();
        assert!(unfinished.is_empty(), "given up on counts as finished");
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
