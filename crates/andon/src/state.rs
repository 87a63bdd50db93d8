//! The line's state on disk (`[line] state_file`): written durably before a stop or a resume is
//! answered, and read back when the system starts, so that a crash (`kill -9`, OOM, a reboot)
//! never turns a stopped line into a running one.
//!
//! The file holds `{"version": 1, "line": <LineState>}`. It is replaced atomically: a temporary
//! file beside it (mode 0600) is written and fsynced, renamed over it, and the directory is
//! fsynced. A file that cannot be read or understood starts the line STOPPED (fail closed).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use andon_core::{AndonError, AndonSignal, Line, LineState};
use serde::{Deserialize, Serialize};

/// The version of the file's layout this build writes and reads.
const VERSION: u32 = 1;

/// The counter of line states (a stop or a resume) that could not be written.
pub(crate) const STATE_ERRORS: &str = "andon_line_state_errors_total";

/// Its HELP text.
pub(crate) const STATE_ERRORS_HELP: &str = "Line states (a stop or a resume) that could not be written to [line] state_file: the change held in the process, but a restart would not know it";

#[derive(Serialize)]
struct Saving<'a> {
    version: u32,
    line: &'a LineState,
}

#[derive(Deserialize)]
struct Saved {
    version: u32,
    line: LineState,
}

/// What the state file said at start.
#[derive(Debug)]
pub(crate) enum Restored {
    /// No file: the line never stopped here.
    Fresh,
    /// The state the line had when it was last written.
    State(LineState),
    /// The file exists but cannot be read or understood: why, for people.
    Unreadable(String),
}

/// The line's state file.
#[derive(Debug)]
pub(crate) struct LineStore {
    path: PathBuf,
    /// One write at a time, each of the state current when it starts: the last write always
    /// holds the newest state.
    writing: Mutex<()>,
}

impl LineStore {
    pub(crate) fn new(path: PathBuf) -> Self {
        LineStore {
            path,
            writing: Mutex::new(()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state back.
    pub(crate) fn load(&self) -> Restored {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Restored::Fresh,
            Err(e) => return Restored::Unreadable(format!("cannot read it: {e}")),
        };
        match serde_json::from_slice::<Saved>(&bytes) {
            Ok(saved) if saved.version == VERSION => Restored::State(saved.line),
            Ok(saved) => Restored::Unreadable(format!(
                "it has layout version {}, this build reads version {VERSION}",
                saved.version
            )),
            Err(e) => Restored::Unreadable(format!("it is not a line state: {e}")),
        }
    }

    /// Writes the line's current state durably. Blocking: call it off the async workers.
    pub(crate) fn save(&self, line: &Line) -> Result<(), AndonError> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let state = line.state();
        self.write(&state).map_err(|e| {
            AndonError::component(
                "line",
                format!(
                    "cannot write the line's state to {} ({e}): the change holds in this process but would not survive a restart; fix the disk or [line] state_file",
                    self.path.display()
                ),
            )
        })
    }

    /// [`save`](LineStore::save) on a blocking thread.
    pub(crate) async fn save_off_thread(self: &Arc<Self>, line: &Line) -> Result<(), AndonError> {
        let store = Arc::clone(self);
        let line = line.clone();
        match tokio::task::spawn_blocking(move || store.save(&line)).await {
            Ok(result) => result,
            Err(e) => Err(AndonError::component(
                "line",
                format!("writing the line's state did not finish: {e}"),
            )),
        }
    }

    fn write(&self, state: &LineState) -> io::Result<()> {
        let bytes = serde_json::to_vec(&Saving {
            version: VERSION,
            line: state,
        })
        .map_err(io::Error::other)?;
        write_atomically(&self.path, &bytes)
    }
}

/// Replaces the file at `path` with `bytes` (and a newline) durably: a temporary file beside it
/// (mode 0600) is written and fsynced, renamed over it, and the directory is fsynced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "line-state".to_owned());
    let temporary = dir.join(format!(".{name}.tmp"));
    {
        let mut file = private_file(&temporary)?;
        file.write_all(bytes)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    // The rename is durable once the directory is.
    File::open(&dir)?.sync_all()
}

/// A new file only the owner can read and write.
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // A temporary file left by an older run may have other permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The RED that starts a line whose state file cannot be read: the line may have been stopped
/// before the restart, so it starts STOPPED until someone checks and resumes it.
pub(crate) fn unreadable_red(path: &Path, why: &str) -> AndonSignal {
    AndonSignal::red(format!(
        "the line's state file {} could not be restored ({why}): the line starts STOPPED because it may have been stopped before the restart; check the cause, then resume the line",
        path.display()
    ))
    .with_component("line")
    .with_attribute("line.stopped", true)
    .with_attribute("state_file", path.display().to_string())
}

/// The state of a line started after `red`.
pub(crate) fn stopped_by(red: AndonSignal) -> LineState {
    LineState::Stopped {
        since: SystemTime::now(),
        signal: Arc::new(red),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_and_a_resume_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = LineStore::new(dir.path().join("state/line.json"));
        assert!(matches!(store.load(), Restored::Fresh));

        let line = Line::new();
        line.stop(AndonSignal::red("disk full").with_component("db"));
        store.save(&line).unwrap();
        let Restored::State(state) = store.load() else {
            panic!("the saved state reads back");
        };
        assert_eq!(state, line.state());

        line.resume("alice", Some("cleaned up"));
        store.save(&line).unwrap();
        let Restored::State(state) = store.load() else {
            panic!("the saved state reads back");
        };
        assert!(state.is_running());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner reads the line's state");
        }
        let left: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["line.json"], "no temporary file is left behind");
    }

    #[test]
    fn a_damaged_or_foreign_file_is_unreadable_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.json");
        let store = LineStore::new(path.clone());
        fs::write(&path, b"{\"version\":1,\"line\":{\"state\":\"STOPP").unwrap();
        let Restored::Unreadable(why) = store.load() else {
            panic!("a truncated file is unreadable");
        };
        assert!(why.contains("not a line state"), "{why}");
        fs::write(
            &path,
            br#"{"version":9,"line":{"state":"RUNNING","since":"2026-01-01T00:00:00Z"}}"#,
        )
        .unwrap();
        let Restored::Unreadable(why) = store.load() else {
            panic!("a newer layout is unreadable");
        };
        assert!(why.contains("version 9"), "{why}");
        let red = unreadable_red(&path, &why);
        assert!(red.message().contains("starts STOPPED"));
        assert!(!stopped_by(red).is_running());
    }
}
