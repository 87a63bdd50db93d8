//! Running the wrapped command: in its own process group, stdin and stdout inherited, stderr
//! passed through with its tail kept; SIGINT and SIGTERM forwarded to the group; on timeout the
//! group gets SIGTERM, then SIGKILL after [`KILL_GRACE`].

use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::tail::Tail;

/// How long a timed-out command's process group has between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long stderr is still read after the command exited, for what a background process it
/// left behind keeps writing (its stderr is the same pipe).
#[cfg(unix)]
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The command exited with this code.
    Exited(i32),
    /// The command was killed by this signal (not by andon's timeout).
    Signaled(i32),
    /// The timeout passed; the process group was ended (by this signal, when the command died of
    /// one).
    TimedOut {
        /// The signal that ended the command, if one did.
        signal: Option<i32>,
    },
    /// The command could not be started.
    NotStarted {
        /// 127 not found, 126 found but not executable.
        code: u8,
        /// Why, one line.
        reason: String,
    },
}

/// A finished run.
#[derive(Debug)]
pub(crate) struct Finished {
    /// How it ended.
    pub(crate) ending: Ending,
    /// From spawn to exit.
    pub(crate) duration: Duration,
    /// The last lines of stderr.
    pub(crate) stderr_tail: String,
}

/// The exit code of a command that cannot be executed (found, but not executable).
pub const EXIT_NOT_EXECUTABLE: u8 = 126;

/// The exit code of a command that cannot be found.
pub const EXIT_NOT_FOUND: u8 = 127;

fn not_started(program: &OsStr, error: &std::io::Error) -> Ending {
    let program = program.to_string_lossy();
    match error.kind() {
        std::io::ErrorKind::NotFound => Ending::NotStarted {
            code: EXIT_NOT_FOUND,
            reason: format!("`{program}` was not found ({error})"),
        },
        _ => Ending::NotStarted {
            code: EXIT_NOT_EXECUTABLE,
            reason: format!("`{program}` cannot be executed ({error})"),
        },
    }
}

/// Runs `program args…` to its end (or its timeout) and says how it ended.
#[cfg(not(unix))]
pub(crate) async fn run(
    program: &OsStr,
    _args: &[OsString],
    _timeout: Option<Duration>,
) -> Finished {
    let _ = not_started;
    Finished {
        ending: Ending::NotStarted {
            code: EXIT_NOT_EXECUTABLE,
            reason: format!(
                "`{}` was not run: andon exec needs a Unix system (process groups)",
                program.to_string_lossy()
            ),
        },
        duration: Duration::ZERO,
        stderr_tail: String::new(),
    }
}

/// Runs `program args…` to its end (or its timeout) and says how it ended.
#[cfg(unix)]
pub(crate) async fn run(program: &OsStr, args: &[OsString], timeout: Option<Duration>) -> Finished {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    use tokio::time::Instant;

    // Listen before the child exists, so that no signal falls between spawn and select.
    let mut interrupts = listen(tokio::signal::unix::SignalKind::interrupt());
    let mut terms = listen(tokio::signal::unix::SignalKind::terminate());

    let started = Instant::now();
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return Finished {
                ending: not_started(program, &error),
                duration: started.elapsed(),
                stderr_tail: String::new(),
            };
        }
    };
    // The child leads its own group: its pid is the group id.
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    let tail = Arc::new(Mutex::new(Tail::default()));
    let copier = child
        .stderr
        .take()
        .map(|stderr| tokio::spawn(pass_through(stderr, Arc::clone(&tail))));

    let deadline = timeout.map(|t| started + t);
    let waited = loop {
        tokio::select! {
            status = child.wait() => break Some(status),
            () = until(deadline) => break None,
            Some(()) = next(&mut interrupts) => signal_group(group, rustix::process::Signal::INT),
            Some(()) = next(&mut terms) => signal_group(group, rustix::process::Signal::TERM),
        }
    };
    let (status, timed_out) = match waited {
        Some(status) => (status, false),
        None => (end_group(&mut child, group).await, true),
    };
    let duration = started.elapsed();
    let ending = match status {
        Ok(status) => match (timed_out, status.code(), status.signal()) {
            (true, _, signal) => Ending::TimedOut { signal },
            (false, Some(code), _) => Ending::Exited(code),
            (false, None, Some(signal)) => Ending::Signaled(signal),
            (false, None, None) => Ending::Exited(1),
        },
        Err(error) => Ending::NotStarted {
            code: EXIT_NOT_EXECUTABLE,
            reason: format!("cannot wait for the command: {error}"),
        },
    };
    if let Some(copier) = copier {
        // At EOF the copier ends; a background process the command left holding the pipe does
        // not hold andon past the drain.
        let _ = tokio::time::timeout(STDERR_DRAIN, copier).await;
    }
    let stderr_tail = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .text();
    Finished {
        ending,
        duration,
        stderr_tail,
    }
}

/// SIGTERM to the group; once the command and every process of its group are gone, its
/// status; after [`KILL_GRACE`], SIGKILL to the group.
#[cfg(unix)]
async fn end_group(
    child: &mut tokio::process::Child,
    group: Option<rustix::process::Pid>,
) -> std::io::Result<std::process::ExitStatus> {
    use rustix::process::Signal;
    signal_group(group, Signal::TERM);
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    let mut status = None;
    loop {
        if status.is_none() {
            status = child.try_wait()?;
        }
        let group_alive =
            group.is_some_and(|g| rustix::process::test_kill_process_group(g).is_ok());
        if status.is_some() && !group_alive {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            signal_group(group, Signal::KILL);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match status {
        Some(status) => Ok(status),
        None => child.wait().await,
    }
}

/// Sends `signal` to the process group; a group already gone (ESRCH) is not an error.
#[cfg(unix)]
fn signal_group(group: Option<rustix::process::Pid>, signal: rustix::process::Signal) {
    if let Some(group) = group
        && let Err(error) = rustix::process::kill_process_group(group, signal)
        && error != rustix::io::Errno::SRCH
    {
        eprintln!(
            "andon: cannot send {} to the command's process group {}: {error}",
            super::report::signal_name(signal.as_raw()),
            group.as_raw_nonzero()
        );
    }
}

/// Copies the child's stderr to ours as it comes, keeping the tail.
#[cfg(unix)]
async fn pass_through(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<Tail>>) {
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 8192];
    loop {
        match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = &buffer[..n];
                // Our own stderr closed or full: keep draining the pipe so the child never
                // blocks on it; the tail still has the bytes.
                let mut out = std::io::stderr().lock();
                let _ = out.write_all(chunk).and_then(|()| out.flush());
                tail.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(chunk);
            }
        }
    }
}

#[cfg(unix)]
fn listen(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(kind) {
        Ok(signal) => Some(signal),
        Err(error) => {
            eprintln!("andon: cannot forward signals to the command: {error}");
            None
        }
    }
}

/// The next delivery of a signal; never, when it could not be listened to.
#[cfg(unix)]
async fn next(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`; forever without one.
#[cfg(unix)]
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
