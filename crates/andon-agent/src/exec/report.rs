//! What `andon exec` tells the agent: the signal for a finished run (its message and
//! attributes), the heartbeat check-ins, and the one-line warning when a report does not arrive.

use std::ffi::OsString;
use std::time::Duration;

use std::collections::BTreeMap;
use std::future::Future;

use andon::Color;
use serde_json::json;

use super::child::{Ending, Finished};
use crate::api::NewSignal;
use crate::client::Client;
use crate::error::AgentError;

/// How long one report (a signal or a check-in) may take before andon gives up on it: an
/// unreachable agent costs a job seconds, never minutes.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most characters of the command line kept in the `command` attribute.
pub const MAX_COMMAND_CHARS: usize = 512;

/// The exit code of a run that timed out, as GNU `timeout` gives.
pub const EXIT_TIMED_OUT: u8 = 124;

/// What the run was, for the messages and attributes.
#[derive(Debug)]
pub(crate) struct Job<'a> {
    /// The component reported for.
    pub(crate) component: &'a str,
    /// The heartbeat to check in, if any.
    pub(crate) heartbeat: Option<&'a str>,
    /// argv\[0\] and the arguments.
    pub(crate) command: &'a [OsString],
    /// The timeout, if any.
    pub(crate) timeout: Option<Duration>,
    /// The color of a failure.
    pub(crate) failure: Color,
}

/// The code `andon exec` exits with: the command's own, 128 + signal when it was killed,
/// [`EXIT_TIMED_OUT`] on timeout, 126/127 when it could not be started.
pub(crate) fn exit_code(ending: &Ending) -> u8 {
    match ending {
        Ending::Exited(code) => low_byte(*code),
        Ending::Signaled(signal) => low_byte(128 + *signal),
        Ending::TimedOut { .. } => EXIT_TIMED_OUT,
        Ending::NotStarted { code, .. } => *code,
    }
}

fn low_byte(code: i32) -> u8 {
    u8::try_from(code.rem_euclid(256)).unwrap_or(u8::MAX)
}

/// The signal's one-line message, such as `nightly-backup failed: exit code 1 after 3.2s`.
pub(crate) fn message(job: &Job<'_>, finished: &Finished) -> String {
    let name = job.component;
    let after = human(finished.duration);
    match &finished.ending {
        Ending::Exited(0) => format!("{name} succeeded after {after}"),
        Ending::Exited(code) => format!("{name} failed: exit code {code} after {after}"),
        Ending::Signaled(signal) => {
            format!(
                "{name} failed: killed by {} after {after}",
                signal_name(*signal)
            )
        }
        Ending::TimedOut { .. } => format!(
            "{name} timed out after {}: its process group was killed",
            job.timeout.map_or_else(
                || human(finished.duration),
                |t| humantime::format_duration(t).to_string()
            )
        ),
        Ending::NotStarted { reason, .. } => format!("{name} could not start: {reason}"),
    }
}

/// Whether the run succeeded.
pub(crate) fn succeeded(ending: &Ending) -> bool {
    *ending == Ending::Exited(0)
}

/// The `POST /v1/signals` body for a finished run.
pub(crate) fn signal_body(job: &Job<'_>, finished: &Finished) -> NewSignal {
    let ok = succeeded(&finished.ending);
    let mut attributes = BTreeMap::new();
    match &finished.ending {
        Ending::Exited(code) => {
            attributes.insert("exit_code".into(), json!(code));
        }
        Ending::Signaled(signal) => {
            attributes.insert("signal".into(), json!(signal_name(*signal)));
        }
        Ending::TimedOut { signal } => {
            attributes.insert("exit_code".into(), json!(EXIT_TIMED_OUT));
            attributes.insert("timed_out".into(), json!(true));
            if let Some(timeout) = job.timeout {
                attributes.insert("timeout_ms".into(), json!(millis(timeout)));
            }
            if let Some(signal) = signal {
                attributes.insert("signal".into(), json!(signal_name(*signal)));
            }
        }
        Ending::NotStarted { code, .. } => {
            attributes.insert("exit_code".into(), json!(code));
        }
    }
    attributes.insert("duration_ms".into(), json!(millis(finished.duration)));
    attributes.insert("command".into(), json!(command_line(job.command)));
    if let Some(heartbeat) = job.heartbeat {
        attributes.insert("heartbeat".into(), json!(heartbeat));
    }
    if !ok && !finished.stderr_tail.is_empty() {
        attributes.insert("stderr_tail".into(), json!(finished.stderr_tail));
    }
    NewSignal {
        component: Some(job.component.to_owned()),
        attributes,
        ..NewSignal::new(
            if ok { Color::Green } else { job.failure },
            message(job, finished),
        )
    }
}

/// The path of a heartbeat's check-ins, its name percent-encoded.
pub(crate) fn heartbeat_path(name: &str) -> String {
    let mut path = "/v1/heartbeats/".to_owned();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

/// Sends one report (`request`, a call of `client`) with [`REPORT_TIMEOUT`]; on failure prints
/// the one warning line and returns the error. `what` completes "… was not reported", such as
/// `the result`.
pub(crate) async fn send<T>(
    client: &Client,
    request: impl Future<Output = Result<T, AgentError>>,
    what: &str,
) -> Result<T, AgentError> {
    let result = match tokio::time::timeout(REPORT_TIMEOUT, request).await {
        Ok(result) => result,
        Err(_) => Err(AgentError::Unreachable {
            url: client.url().to_owned(),
            reason: format!("no answer within {}s", REPORT_TIMEOUT.as_secs()),
        }),
    };
    if let Err(error) = &result {
        eprintln!("{}", warning(client.url(), error, what));
    }
    result
}

/// The warning line for a report that did not arrive.
pub(crate) fn warning(url: &str, error: &AgentError, what: &str) -> String {
    match error {
        AgentError::Unreachable { reason, .. } => {
            format!("andon: could not reach the agent at {url}: {reason}; {what} was not reported")
        }
        AgentError::Rejected { status, message } => format!(
            "andon: the agent at {url} refused the report ({status}): {message}; {what} was not reported"
        ),
        other => format!("andon: {other}; {what} was not reported"),
    }
}

/// The command line as one bounded string, arguments quoted when they hold spaces or quotes,
/// passwords in URLs (`scheme://user:password@host`) replaced by `***`.
pub(crate) fn command_line(command: &[OsString]) -> String {
    let mut line = String::new();
    for (i, arg) in command.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let arg = redact_url_password(&arg.to_string_lossy());
        if arg.is_empty() || arg.contains([' ', '\t', '\n', '\'', '"']) {
            line.push('\'');
            line.push_str(&arg.replace('\'', r"'\''"));
            line.push('\'');
        } else {
            line.push_str(&arg);
        }
    }
    if line.chars().count() > MAX_COMMAND_CHARS {
        let mut cut: String = line.chars().take(MAX_COMMAND_CHARS - 1).collect();
        cut.push('…');
        return cut;
    }
    line
}

fn redact_url_password(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_owned();
    };
    let rest = &arg[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return arg.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return arg.to_owned();
    };
    let start = scheme_end + 3 + colon + 1;
    let end = scheme_end + 3 + at;
    format!("{}***{}", &arg[..start], &arg[end..])
}

/// `SIGKILL` for 9, and so on; `signal N` for one without a common name.
pub(crate) fn signal_name(signal: i32) -> String {
    #[cfg(unix)]
    {
        use rustix::process::Signal;
        let names = [
            (Signal::HUP, "SIGHUP"),
            (Signal::INT, "SIGINT"),
            (Signal::QUIT, "SIGQUIT"),
            (Signal::ILL, "SIGILL"),
            (Signal::TRAP, "SIGTRAP"),
            (Signal::ABORT, "SIGABRT"),
            (Signal::BUS, "SIGBUS"),
            (Signal::FPE, "SIGFPE"),
            (Signal::KILL, "SIGKILL"),
            (Signal::USR1, "SIGUSR1"),
            (Signal::SEGV, "SIGSEGV"),
            (Signal::USR2, "SIGUSR2"),
            (Signal::PIPE, "SIGPIPE"),
            (Signal::ALARM, "SIGALRM"),
            (Signal::TERM, "SIGTERM"),
            (Signal::XCPU, "SIGXCPU"),
            (Signal::XFSZ, "SIGXFSZ"),
        ];
        if let Some((_, name)) = names.iter().find(|(s, _)| s.as_raw() == signal) {
            return (*name).to_owned();
        }
    }
    format!("signal {signal}")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `3.2s` under a minute, else `2m 5s`.
fn human(duration: Duration) -> String {
    if duration < Duration::from_secs(60) {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(ending: Ending, millis: u64, tail: &str) -> Finished {
        Finished {
            ending,
            duration: Duration::from_millis(millis),
            stderr_tail: tail.to_owned(),
        }
    }

    fn job<'a>(command: &'a [OsString]) -> Job<'a> {
        Job {
            component: "nightly-backup",
            heartbeat: Some("nightly-backup"),
            command,
            timeout: Some(Duration::from_secs(1)),
            failure: Color::Red,
        }
    }

    #[test]
    fn messages_say_how_the_run_ended() {
        let command = [OsString::from("backup")];
        let job = job(&command);
        let cases = [
            (
                Ending::Exited(1),
                "nightly-backup failed: exit code 1 after 3.2s",
                1,
            ),
            (Ending::Exited(0), "nightly-backup succeeded after 3.2s", 0),
            (
                Ending::Signaled(9),
                "nightly-backup failed: killed by SIGKILL after 3.2s",
                137,
            ),
            (
                Ending::TimedOut { signal: Some(15) },
                "nightly-backup timed out after 1s: its process group was killed",
                124,
            ),
        ];
        for (ending, text, code) in cases {
            assert_eq!(exit_code(&ending), code, "{ending:?}");
            assert_eq!(message(&job, &finished(ending, 3200, "")), text);
        }
        let long = finished(Ending::Exited(2), 125_000, "");
        assert!(message(&job, &long).ends_with("after 2m 5s"));
        assert_eq!(exit_code(&Ending::Exited(256 + 3)), 3);
    }

    #[test]
    fn the_signal_carries_what_a_responder_needs() {
        let command = [
            OsString::from("sh"),
            OsString::from("-c"),
            OsString::from("echo boom >&2; exit 3"),
        ];
        let job = job(&command);
        let read = |signal: NewSignal| serde_json::to_value(signal).unwrap();
        let body = read(signal_body(&job, &finished(Ending::Exited(3), 42, "boom")));
        assert_eq!(body["color"], "red");
        assert_eq!(body["component"], "nightly-backup");
        assert_eq!(body["attributes"]["exit_code"], 3);
        assert_eq!(body["attributes"]["duration_ms"], 42);
        assert_eq!(body["attributes"]["stderr_tail"], "boom");
        assert_eq!(
            body["attributes"]["command"],
            "sh -c 'echo boom >&2; exit 3'"
        );
        let ok = read(signal_body(&job, &finished(Ending::Exited(0), 1, "noise")));
        assert_eq!(ok["color"], "green");
        assert!(ok["attributes"].get("stderr_tail").is_none(), "{ok}");
        let yellow = Job {
            failure: Color::Yellow,
            ..job
        };
        let killed = read(signal_body(&yellow, &finished(Ending::Signaled(9), 1, "")));
        assert_eq!(killed["color"], "yellow");
        assert_eq!(killed["attributes"]["signal"], "SIGKILL");
        assert!(killed["attributes"].get("exit_code").is_none());
    }

    #[test]
    fn command_lines_are_bounded_and_hide_url_passwords() {
        let command = [
            OsString::from("pg_dump"),
            OsString::from("postgres://backup:s3cret@db:5432/app"),
        ];
        let line = command_line(&command);
        assert_eq!(line, "pg_dump postgres://backup:***@db:5432/app");
        assert_eq!(
            redact_url_password("https://user@host/p:x@y"),
            "https://user@host/p:x@y"
        );
        let long = [OsString::from("x".repeat(2000))];
        assert_eq!(command_line(&long).chars().count(), MAX_COMMAND_CHARS);
    }

    #[test]
    fn heartbeat_names_are_escaped_in_the_path() {
        assert_eq!(
            heartbeat_path("nightly-backup"),
            "/v1/heartbeats/nightly-backup"
        );
        assert_eq!(heartbeat_path("a b/c"), "/v1/heartbeats/a%20b%2Fc");
    }

    #[test]
    fn warnings_name_the_agent_and_what_was_lost() {
        let error = AgentError::Unreachable {
            url: "http://127.0.0.1:9/v1/signals".into(),
            reason: "connection refused or no route".into(),
        };
        assert_eq!(
            warning("http://127.0.0.1:9", &error, "the result"),
            "andon: could not reach the agent at http://127.0.0.1:9: connection refused or no route; the result was not reported"
        );
    }
}
