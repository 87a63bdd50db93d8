//! The agent's data directory: where `andon run` keeps what must outlive it (the history, the
//! alert outbox, the open alerts and the line's state) unless the configuration puts them
//! elsewhere.
//!
//! The library keeps nothing on disk by default; the agent is a service, so it remembers by
//! default. The directory is `--data-dir`, else `$STATE_DIRECTORY` (set by systemd's
//! `StateDirectory=`), else `./andon-data`; it is created `0700`, and the files in it are
//! written by the components that own them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use andon::AndonConfig;

use crate::error::AgentError;

/// The environment variable systemd sets for a unit with `StateDirectory=` (several directories
/// are separated by `:`; the agent uses the first).
pub const STATE_DIRECTORY_ENV: &str = "STATE_DIRECTORY";

/// The data directory when neither `--data-dir` nor `$STATE_DIRECTORY` names one, relative to
/// the working directory.
pub const DEFAULT_DATA_DIR: &str = "andon-data";

/// The history database in the data directory (`[history] path`).
pub const HISTORY_FILE: &str = "history.sqlite3";
/// The alert outbox in the data directory (`[alerts] outbox_path`).
pub const OUTBOX_FILE: &str = "alerts.outbox";
/// The open alerts in the data directory (`[alerts] state_file`).
pub const ALERTS_STATE_FILE: &str = "alerts.state";
/// The line's state in the data directory (`[line] state_file`).
pub const LINE_STATE_FILE: &str = "line.state";
/// The lock the running agent holds on its data directory (it holds the agent's pid).
pub const LOCK_FILE: &str = "andon.lock";

/// Where the data directory is: `flag` (`--data-dir`), else the first path of
/// `state_directory` (`$STATE_DIRECTORY`), else [`DEFAULT_DATA_DIR`].
pub fn resolve_data_dir(flag: Option<&Path>, state_directory: Option<&OsStr>) -> PathBuf {
    if let Some(flag) = flag.filter(|f| !f.as_os_str().is_empty()) {
        return flag.to_owned();
    }
    if let Some(first) = state_directory
        .and_then(|dirs| std::env::split_paths(dirs).find(|d| !d.as_os_str().is_empty()))
    {
        return first;
    }
    PathBuf::from(DEFAULT_DATA_DIR)
}

/// Which of the keys the data directory fills a configuration file sets itself. Only
/// `[history] enabled` and `[history] path` need this (the other keys are unset when `None`):
/// `enabled = false` written in the file keeps the history off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExplicitKeys {
    /// The file sets `[history] enabled`.
    pub history_enabled: bool,
    /// The file sets `[history] path`.
    pub history_path: bool,
}

impl ExplicitKeys {
    /// The keys set in a configuration file's text (already known to be valid TOML; text that
    /// does not parse sets nothing).
    pub fn from_toml(text: &str) -> ExplicitKeys {
        let Ok(table) = text.parse::<toml::Table>() else {
            return ExplicitKeys::default();
        };
        let history = table.get("history").and_then(toml::Value::as_table);
        ExplicitKeys {
            history_enabled: history.is_some_and(|h| h.contains_key("enabled")),
            history_path: history.is_some_and(|h| h.contains_key("path")),
        }
    }
}

/// Creates the data directory (and its missing parents) with mode `0700` and returns its
/// absolute path. An existing directory is kept as it is; when others may read or write it
/// (any of `0027` set) the returned warning says how to close it.
pub fn create_data_dir(dir: &Path) -> Result<(PathBuf, Option<String>), AgentError> {
    let failed = |reason: String| AgentError::DataDir {
        path: dir.to_owned(),
        reason,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| failed(format!("cannot create it: {e}")))?;
    let absolute = std::fs::canonicalize(dir)
        .map_err(|e| failed(format!("cannot resolve its absolute path: {e}")))?;
    let metadata = std::fs::metadata(&absolute)
        .map_err(|e| failed(format!("cannot read its permissions: {e}")))?;
    if !metadata.is_dir() {
        return Err(failed("it is not a directory".to_owned()));
    }
    #[cfg(unix)]
    let warning = {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        (mode & 0o027 != 0).then(|| {
            format!(
                "the data directory {} has mode {mode:04o}, so other users can read it: `chmod 700 {}` (under systemd, StateDirectoryMode=0700)",
                absolute.display(),
                absolute.display()
            )
        })
    };
    #[cfg(not(unix))]
    let warning = None;
    Ok((absolute, warning))
}

/// Puts every durable file the configuration does not place itself into `dir`: the history
/// (enabled unless the file says `enabled = false`, at `history.sqlite3` unless the file names a
/// `path`), `[alerts] outbox_path`, `[alerts] state_file` and `[line] state_file`. Returns the
/// keys it filled, for the start-up line.
pub fn apply_data_dir(
    config: &mut AndonConfig,
    dir: &Path,
    explicit: ExplicitKeys,
) -> Result<Vec<&'static str>, AgentError> {
    let mut filled = Vec::new();
    if !explicit.history_enabled {
        config.history.enabled = true;
        filled.push("history.enabled");
    }
    if config.history.enabled && !explicit.history_path {
        let path = dir.join(HISTORY_FILE);
        config.history.path = path
            .to_str()
            .ok_or_else(|| AgentError::DataDir {
                path: dir.to_owned(),
                reason: "its path is not valid UTF-8, which the history database needs".to_owned(),
            })?
            .to_owned();
        filled.push("history.path");
    }
    if config.alerts.outbox_path.is_none() {
        config.alerts.outbox_path = Some(dir.join(OUTBOX_FILE));
        filled.push("alerts.outbox_path");
    }
    if config.alerts.state_file.is_none() {
        config.alerts.state_file = Some(dir.join(ALERTS_STATE_FILE));
        filled.push("alerts.state_file");
    }
    if config.line.state_file.is_none() {
        config.line.state_file = Some(dir.join(LINE_STATE_FILE));
        filled.push("line.state_file");
    }
    Ok(filled)
}

/// What `andon run` does before it starts: resolves the data directory from `flag`
/// (`--data-dir`) and `$STATE_DIRECTORY`, creates it, fills the keys `config_file` does not set
/// ([`apply_data_dir`]) and validates the result. Returns the directory's absolute path and a
/// warning when others can read it.
pub fn use_data_dir(
    config: &mut AndonConfig,
    config_file: Option<&Path>,
    flag: Option<&Path>,
) -> Result<(PathBuf, Option<String>), AgentError> {
    let explicit = config_file
        .and_then(|path| std::fs::read_to_string(path).ok())
        .map(|text| ExplicitKeys::from_toml(&text))
        .unwrap_or_default();
    let dir = resolve_data_dir(flag, std::env::var_os(STATE_DIRECTORY_ENV).as_deref());
    let (dir, warning) = create_data_dir(&dir)?;
    apply_data_dir(config, &dir, explicit)?;
    config.validate()?;
    Ok((dir, warning))
}

/// The data directory, taken by this process: while it lives no other agent can use the
/// directory, and the kernel lets go of it when the process ends however it ends (`kill -9`
/// included), so it never outlives its agent.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Takes `dir` for this agent with an exclusive lock on its [`LOCK_FILE`], as Prometheus and
/// PostgreSQL lock their data directories.
///
/// # Errors
///
/// [`AgentError::DataDir`] when another agent holds it (naming its pid): two agents on one
/// directory would write the same line state, outbox and open alerts, and a resume written by
/// one would bring the other's stopped line back RUNNING after its restart. Also when the lock
/// file cannot be opened.
pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, AgentError> {
    let path = dir.join(LOCK_FILE);
    let failed = |reason: String| AgentError::DataDir {
        path: dir.to_owned(),
        reason,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut file = options
        .open(&path)
        .map_err(|e| failed(format!("cannot open its lock file {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::io::{Read, Seek, Write};
        if let Err(e) =
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        {
            if e != rustix::io::Errno::WOULDBLOCK {
                return Err(failed(format!("cannot lock {}: {e}", path.display())));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another andon agent".to_owned()
            } else {
                format!("another andon agent (pid {holder})")
            };
            return Err(failed(format!(
                "{who} is using it (two agents on one data directory would overwrite each other's line state and alerts): stop that agent first"
            )));
        }
        // Ours now: say who holds it.
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        if let Err(e) = written {
            return Err(failed(format!("cannot write {}: {e}", path.display())));
        }
    }
    Ok(DataDirLock { _file: file })
}

/// Narrows the process's file-creation mask to `0027`, so every file the agent's components
/// create (logs, outbox, state files) is at most `0640` and every directory `0750`, whatever the
/// shell's umask was.
#[cfg(unix)]
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_systemd_then_the_working_directory() {
        let flag = Path::new("/srv/andon");
        let systemd = OsStr::new("/var/lib/andon:/var/lib/other");
        assert_eq!(resolve_data_dir(Some(flag), Some(systemd)), flag);
        assert_eq!(
            resolve_data_dir(None, Some(systemd)),
            Path::new("/var/lib/andon")
        );
        assert_eq!(
            resolve_data_dir(Some(Path::new("")), Some(OsStr::new(""))),
            Path::new(DEFAULT_DATA_DIR)
        );
        assert_eq!(resolve_data_dir(None, None), Path::new("andon-data"));
    }

    #[test]
    fn defaults_land_in_the_directory_and_explicit_keys_stay() {
        let dir = Path::new("/data");
        let mut config = AndonConfig::default();
        let filled = apply_data_dir(&mut config, dir, ExplicitKeys::default()).unwrap();
        assert_eq!(filled.len(), 5, "{filled:?}");
        assert!(config.history.enabled);
        assert_eq!(config.history.path, "/data/history.sqlite3");
        assert_eq!(
            config.alerts.outbox_path.as_deref(),
            Some(Path::new("/data/alerts.outbox"))
        );
        assert_eq!(
            config.alerts.state_file.as_deref(),
            Some(Path::new("/data/alerts.state"))
        );
        assert_eq!(
            config.line.state_file.as_deref(),
            Some(Path::new("/data/line.state"))
        );

        let text = "[history]\nenabled = false\n[line]\nstate_file = \"/elsewhere/line\"\n";
        let mut config = AndonConfig::from_toml_str(text).unwrap();
        let explicit = ExplicitKeys::from_toml(text);
        assert!(explicit.history_enabled && !explicit.history_path);
        apply_data_dir(&mut config, dir, explicit).unwrap();
        assert!(!config.history.enabled, "enabled = false in the file wins");
        assert_eq!(
            config.line.state_file.as_deref(),
            Some(Path::new("/elsewhere/line"))
        );

        let text = "[history]\npath = \":memory:\"\n";
        let mut config = AndonConfig::from_toml_str(text).unwrap();
        apply_data_dir(&mut config, dir, ExplicitKeys::from_toml(text)).unwrap();
        assert!(config.history.enabled);
        assert_eq!(config.history.path, ":memory:");
    }

    #[cfg(unix)]
    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_data_dir(dir.path()).unwrap();
        let lock = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(lock.trim(), std::process::id().to_string());
        // flock conflicts between two opens of the file, even in one process.
        let refused = lock_data_dir(dir.path()).unwrap_err().to_string();
        assert!(
            refused.contains(&format!("another andon agent (pid {})", std::process::id()))
                && refused.contains("--data-dir"),
            "{refused}"
        );
        drop(first);
        let again = lock_data_dir(dir.path()).unwrap();
        drop(again);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_created_private_and_an_open_one_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        let (absolute, warning) = create_data_dir(&dir).unwrap();
        assert!(absolute.is_absolute());
        assert_eq!(warning, None);
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (_, warning) = create_data_dir(&dir).unwrap();
        let warning = warning.unwrap();
        assert!(
            warning.contains("0755") && warning.contains("chmod 700"),
            "{warning}"
        );

        let file = root.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = create_data_dir(&file).unwrap_err();
        assert!(err.to_string().contains("--data-dir"), "{err}");
    }
}
