//! `andon exec`: run a job, and pull the cord when it fails.
//!
//! The command runs with stdin and stdout inherited and stderr passed through (its last lines
//! kept), in its own process group. With `--heartbeat NAME` the heartbeat gets `start` before
//! it runs. When it ends, the agent gets a GREEN for the component on success, else a signal of
//! the `--color` (RED by default) with `exit_code` or `signal`, `duration_ms`, `command` and
//! `stderr_tail`; and the heartbeat its `success` or `fail`. `andon exec` exits with the
//! command's own code (128 + signal when killed, 124 on timeout, 126/127 when it cannot be
//! started), so it drops into cron, systemd units and CI steps unchanged. An unreachable agent
//! costs a warning line per report, never the job; `--require-agent` fails closed (exit
//! [`EXIT_UNAVAILABLE`]) before running instead.

mod child;
mod report;
mod tail;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use andon::Color;
use andon::core::heartbeat::HeartbeatStatus;

use crate::api::CheckIn;

use crate::client::Client;
use crate::error::AgentError;

pub use child::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, KILL_GRACE};
pub(crate) use report::heartbeat_path;
pub use report::{EXIT_TIMED_OUT, MAX_COMMAND_CHARS, REPORT_TIMEOUT};
pub use tail::{STDERR_TAIL_BYTES, STDERR_TAIL_LINES};

/// The exit code of `andon exec --require-agent` when the agent cannot be reached (or refuses
/// the start check-in): the command was not run (`EX_UNAVAILABLE` of sysexits.h).
pub const EXIT_UNAVAILABLE: u8 = 69;

/// `andon exec [OPTIONS] -- CMD ARGS…`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The component (board station) to report for (default: the heartbeat's name, else the
    /// command's file name).
    #[arg(long, short)]
    pub component: Option<String>,
    /// The heartbeat to check in: `start` before the command runs, then `success` or `fail`.
    #[arg(long, value_name = "NAME")]
    pub heartbeat: Option<String>,
    /// End the command after this long, such as 90s or 2h: SIGTERM to its process group, SIGKILL
    /// 5 s later; andon then exits 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// The color of a failure: red or yellow.
    #[arg(long, default_value = "red", value_parser = parse_failure_color)]
    pub color: Color,
    /// Check the agent before running; when it cannot be reached, do not run the command and
    /// exit 69.
    #[arg(long)]
    pub require_agent: bool,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = andon::core::config::duration::parse(text)?;
    if timeout.is_zero() {
        return Err(
            "a timeout of 0 would kill the command at once: give a positive duration such as 30s"
                .to_owned(),
        );
    }
    Ok(timeout)
}

fn parse_failure_color(text: &str) -> Result<Color, String> {
    match text.parse::<Color>().map_err(|e| e.to_string())? {
        Color::Green => Err("a failure cannot be green: use red or yellow".to_owned()),
        color => Ok(color),
    }
}

/// The component a run reports for: `--component`, else the heartbeat's name, else the
/// command's file name.
fn component(args: &ExecArgs) -> String {
    args.component
        .clone()
        .or_else(|| args.heartbeat.clone())
        .or_else(|| {
            args.command.first().map(|program| {
                Path::new(program)
                    .file_name()
                    .unwrap_or(program.as_os_str())
                    .to_string_lossy()
                    .into_owned()
            })
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "exec".to_owned())
}

/// Runs `andon exec` and returns its exit code. Only a bad `--url` is an error; everything
/// after that is reported on stderr and in the exit code.
pub(crate) async fn run(client: &Client, args: ExecArgs) -> u8 {
    let Some((program, rest)) = args.command.split_first() else {
        eprintln!("andon: exec needs a command: andon exec [OPTIONS] -- CMD ARGS…");
        return 2;
    };
    let component = component(&args);
    let job = report::Job {
        component: &component,
        heartbeat: args.heartbeat.as_deref(),
        command: &args.command,
        timeout: args.timeout,
        failure: args.color,
    };

    // The start check-in doubles as the agent check of --require-agent.
    let checked = match job.heartbeat {
        Some(name) => {
            let check_in = CheckIn {
                message: Some(format!(
                    "{component} started: {}",
                    report::command_line(job.command)
                )),
                ..CheckIn::new(HeartbeatStatus::Start)
            };
            let what = format!("the start of heartbeat {name}");
            report::send(client, client.check_in(name, &check_in), &what)
                .await
                .map(drop)
        }
        None if args.require_agent => healthy(client).await,
        None => Ok(()),
    };
    if args.require_agent
        && let Err(error) = checked
    {
        if job.heartbeat.is_none() {
            eprintln!("andon: {error}");
        }
        eprintln!(
            "andon: --require-agent: the agent at {} is not available, so `{}` was not run (exit {EXIT_UNAVAILABLE})",
            client.url(),
            program.to_string_lossy()
        );
        return EXIT_UNAVAILABLE;
    }

    let finished = child::run(program, rest, args.timeout).await;
    let code = report::exit_code(&finished.ending);
    if let child::Ending::NotStarted { reason, .. } = &finished.ending {
        eprintln!("andon: cannot run the command: {reason}");
    }
    let succeeded = report::succeeded(&finished.ending);
    let signal = report::signal_body(&job, &finished);
    // With a heartbeat, a failure is reported once: by its `fail` check-in, which raises the
    // heartbeat's signal with the run's attributes (a second RED of our own would be the same
    // problem twice on the board and in the alerts).
    if job.heartbeat.is_none() || succeeded {
        let sent = report::send(client, client.signal(&signal), "the result").await;
        if sent.is_ok_and(|accepted| accepted.stopped_line) {
            eprintln!(
                "andon: {component}'s failure STOPPED the line: fix the cause, then `andon line resume --note ...`"
            );
        }
    }
    if let Some(name) = job.heartbeat {
        let status = if succeeded {
            HeartbeatStatus::Success
        } else {
            HeartbeatStatus::Fail
        };
        let check_in = CheckIn {
            message: Some(report::message(&job, &finished)),
            attributes: if succeeded {
                BTreeMap::new()
            } else {
                signal.attributes
            },
            ..CheckIn::new(status)
        };
        let what = format!("the {status} check-in of heartbeat {name}");
        let _ = report::send(client, client.check_in(name, &check_in), &what).await;
    }
    code
}

/// `GET /healthz` within [`REPORT_TIMEOUT`].
async fn healthy(client: &Client) -> Result<(), AgentError> {
    match tokio::time::timeout(REPORT_TIMEOUT, client.health()).await {
        Ok(answer) => answer.map(drop),
        Err(_) => Err(AgentError::Unreachable {
            url: client.url().to_owned(),
            reason: format!("no answer within {}s", REPORT_TIMEOUT.as_secs()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        exec: ExecArgs,
    }

    fn parse(args: &[&str]) -> Result<ExecArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("exec").chain(args.iter().copied())).map(|w| w.exec)
    }

    #[test]
    fn options_stop_where_the_command_begins() {
        let args = parse(&["--timeout", "1s", "--", "sh", "-c", "exit 3"]).unwrap();
        assert_eq!(args.timeout, Some(Duration::from_secs(1)));
        assert_eq!(args.command, ["sh", "-c", "exit 3"]);
        let args = parse(&["/usr/bin/pg_dump", "--timeout", "2"]).unwrap();
        assert_eq!(args.command, ["/usr/bin/pg_dump", "--timeout", "2"]);
        assert_eq!(component(&args), "pg_dump");
        assert_eq!(args.color, Color::Red);
    }

    #[test]
    fn bad_options_are_refused_before_anything_runs() {
        assert!(parse(&["--color", "green", "--", "true"]).is_err());
        assert!(parse(&["--timeout", "0s", "--", "true"]).is_err());
        assert!(parse(&["--timeout", "soon", "--", "true"]).is_err());
        assert!(parse(&[]).is_err(), "a command is required");
    }

    #[test]
    fn the_component_is_named_by_option_then_heartbeat_then_program() {
        let mut args = parse(&["--heartbeat", "nightly", "--", "/bin/true"]).unwrap();
        assert_eq!(component(&args), "nightly");
        args.component = Some("backups".into());
        assert_eq!(component(&args), "backups");
    }
}
