//! The `andon` command line: `run` the agent, or reach a running one with `signal`, `line`,
//! `ack`, `alerts`, `diagnose`; and `config check` a file offline.

use std::path::PathBuf;
use std::process::ExitCode;

use andon::{AndonConfig, Color};
use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::api::{AckRequest, NewSignal, ResumeRequest};
use crate::client::{Client, DEFAULT_URL};
use crate::data_dir::use_data_dir;
use crate::error::AgentError;

mod render;
use render::{alerts_table, describe_line, diagnostics_table, report_tables};

/// Pull the Andon cord from anywhere, and see the line at a glance.
#[derive(Debug, Parser)]
#[command(name = "andon", version, about, long_about = None)]
pub struct Cli {
    /// The agent to reach.
    #[arg(long, global = true, env = "ANDON_URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// The bearer token for write endpoints (an agent listening beyond loopback requires it);
    /// for `run`, the token the agent requires when its config names none.
    #[arg(long, global = true, env = "ANDON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `andon` can be asked to do: one variant per subcommand, each with its own flags.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: the HTTP API, the Andon board and /metrics on one listener.
    Run {
        /// The configuration file (default: built-in defaults, loopback only).
        #[arg(long, short, env = "ANDON_CONFIG")]
        config: Option<PathBuf>,
        /// The address to listen on, replacing `[agent] listen` (default 127.0.0.1:7600).
        #[arg(long)]
        listen: Option<String>,
        /// Where the agent keeps its history, alert outbox, open alerts and line state when the
        /// config does not place them (default: $STATE_DIRECTORY, else ./andon-data); created
        /// with mode 0700.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Pull the cord: send a signal to the agent and print its id.
    Signal {
        /// red, yellow or green.
        #[arg(value_parser = parse_color)]
        color: Color,
        /// What is wrong (or right).
        message: String,
        /// The component (board station) raising it.
        #[arg(long, short)]
        component: Option<String>,
        /// The trace or request id to join it to.
        #[arg(long)]
        trace_id: Option<String>,
        /// An attribute `key=value` (repeatable); numbers and true/false keep their type.
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// Check in a heartbeat (`[[heartbeats]]`): success by default, `--start` when a job
    /// begins, `--fail` when it failed (its signal at once).
    Ping {
        /// The heartbeat's name.
        name: String,
        /// The job started: its end must follow within the heartbeat's grace.
        #[arg(long, conflicts_with = "fail")]
        start: bool,
        /// The job failed.
        #[arg(long)]
        fail: bool,
        /// A message for the check-in (shown with the signal it raises).
        #[arg(long, short)]
        message: Option<String>,
    },
    /// The production line: status, resume, or check (exit 1 while stopped).
    Line {
        /// What to do with the line.
        #[command(subcommand)]
        command: LineCommand,
    },
    /// Acknowledge the open alerts with this fingerprint (as `andon alerts` lists it).
    Ack {
        /// The alert's fingerprint.
        fingerprint: String,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List the open alerts.
    Alerts {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Work with configuration files.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Take one diagnostics snapshot through the agent.
    Diagnose {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the Pareto of problems (by component and by message) and MTTA/MTTR per component
    /// from the agent's history (`[history] enabled`).
    Report {
        /// How far back, such as 24h, 7d or 30d.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Only this agent of a fleet sharing a PostgreSQL history (default: every instance).
        #[arg(long)]
        instance: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Run a job (cron, systemd, CI) and report it: a GREEN on success; on a failure, timeout
    /// or kill a RED (or --color) with the exit code, duration and stderr's last lines; exits
    /// with the command's own code.
    Exec(crate::exec::ExecArgs),
    /// Write the shell completions and man pages into a folder (for packagers; `cargo xtask
    /// dist` runs it).
    #[command(hide = true, name = "generate-dist")]
    GenerateDist {
        /// The folder to write `completions/` and `man/` into.
        out: PathBuf,
    },
}

/// `andon line …`.
#[derive(Debug, Subcommand)]
pub enum LineCommand {
    /// Print whether the line runs, and who stopped or resumed it.
    Status {
        /// Print the line state as JSON (the `GET /v1/line` answer) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Resume a stopped line.
    Resume {
        /// Why it is safe to resume.
        #[arg(long)]
        note: Option<String>,
        /// Who resumes (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Exit 0 while the line runs, 1 while it is stopped: for CI pipelines and deploy scripts.
    Check {
        /// Check every line of the fleet (`GET /v1/fleet`): exit 1 when any is stopped, and
        /// non-zero when the fleet cannot be read or an agent has no data.
        #[arg(long)]
        fleet: bool,
    },
}

/// `andon config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a file and print the effective configuration, secrets redacted.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

fn parse_color(text: &str) -> Result<Color, String> {
    text.parse::<Color>().map_err(|e| e.to_string())
}

/// Exit code of `andon line check` while the line is stopped, and of `andon config check` on
/// an invalid file.
pub const EXIT_STOPPED: u8 = 1;

/// Parses the arguments, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    ExitCode::from(execute(cli))
}

/// Runs a parsed command line; errors are printed to stderr. Returns the exit code.
pub fn execute(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Config {
            command: ConfigCommand::Check { file },
        } => return config_check(&file),
        Command::GenerateDist { out } => crate::dist::generate(&out).map(|()| 0),
        Command::Run {
            config,
            listen,
            data_dir,
        } => runtime(true).and_then(|rt| {
            rt.block_on(run(config, listen, data_dir, cli.token))
                .map(|()| 0)
        }),
        Command::Exec(args) => runtime(false).and_then(|rt| {
            rt.block_on(async {
                let client = Client::new(&cli.url, cli.token)?;
                Ok(crate::exec::run(&client, args).await)
            })
        }),
        command => runtime(false).and_then(|rt| {
            rt.block_on(async {
                let client = Client::new(&cli.url, cli.token)?;
                client_command(&client, command).await
            })
        }),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("andon: {error}");
            error.exit_code()
        }
    }
}

fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, AgentError> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        AgentError::Serve(std::io::Error::other(format!(
            "cannot start the tokio runtime: {e}"
        )))
    })
}

async fn run(
    config: Option<PathBuf>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    token: Option<String>,
) -> Result<(), AgentError> {
    let mut loaded =
        crate::run::load_config(config.as_deref(), listen.as_deref(), token.as_deref())?;
    #[cfg(unix)]
    crate::data_dir::restrict_umask();
    let (dir, warning) = use_data_dir(&mut loaded, config.as_deref(), data_dir.as_deref())?;
    // Held until this function returns: no second agent starts on the same directory.
    let _lock = crate::data_dir::lock_data_dir(&dir)?;
    if let Some(warning) = warning {
        eprintln!("andon: warning: {warning}");
    }
    let history = if loaded.history.enabled {
        format!("history in {}", loaded.history.path)
    } else {
        "no history ([history] enabled = false)".to_owned()
    };
    crate::run::run(loaded, |address| {
        eprintln!(
            "andon agent listening on http://{address}: the board at /, the API under /v1, metrics at /metrics; data directory {} ({history})",
            dir.display()
        );
    })
    .await?;
    eprintln!("andon agent stopped: every component flushed");
    Ok(())
}

fn config_check(file: &std::path::Path) -> u8 {
    match AndonConfig::from_file(file) {
        Ok(config) => {
            print!("{}", config.to_toml_string());
            0
        }
        Err(error) => {
            eprintln!("andon: {error}");
            EXIT_STOPPED
        }
    }
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "cli".to_owned())
}

/// Turns `key=value` into a JSON attribute; numbers, booleans and null keep their type.
fn attribute(text: &str) -> Result<(String, Value), AgentError> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(AgentError::Usage(format!(
            "--attr `{text}` is not KEY=VALUE, such as --attr queue=default"
        )));
    };
    if key.is_empty() {
        return Err(AgentError::Usage(format!(
            "--attr `{text}` has an empty key: write KEY=VALUE"
        )));
    }
    let typed = match serde_json::from_str::<Value>(value) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => v,
        _ => Value::String(value.to_owned()),
    };
    Ok((key.to_owned(), typed))
}

async fn client_command(client: &Client, command: Command) -> Result<u8, AgentError> {
    match command {
        Command::Signal {
            color,
            message,
            component,
            trace_id,
            attributes,
        } => {
            let signal = NewSignal {
                component,
                trace_id,
                attributes: attributes
                    .iter()
                    .map(|text| attribute(text))
                    .collect::<Result<_, _>>()?,
                ..NewSignal::new(color, message)
            };
            let accepted = client.signal(&signal).await?;
            println!("{}", accepted.id);
            if accepted.stopped_line {
                eprintln!(
                    "andon: this signal STOPPED the line: fix the cause, then `andon line resume --note ...`"
                );
            }
            for failure in &accepted.failures {
                eprintln!("andon: warning: {failure}");
            }
            Ok(0)
        }
        Command::Ping {
            name,
            start,
            fail,
            message,
        } => crate::heartbeats::ping(client, &name, start, fail, message).await,
        Command::Line { command } => line(client, command).await,
        Command::Ack { fingerprint, by } => {
            let request = AckRequest { by: Some(who(by)) };
            let answer = client.acknowledge(&fingerprint, &request).await?;
            println!(
                "acknowledged {} alert(s) with fingerprint {fingerprint}",
                answer.acknowledged
            );
            Ok(0)
        }
        Command::Alerts { json } => {
            let answer = client.alerts().await?;
            if json {
                print_json(&answer.alerts);
            } else if !answer.alerting {
                println!("alerting is not enabled in this agent");
            } else {
                print!("{}", alerts_table(&answer.alerts));
            }
            Ok(0)
        }
        Command::Diagnose { json } => {
            let report = client.diagnostics().await?;
            print_as(json, &report, diagnostics_table);
            Ok(0)
        }
        Command::Report {
            since,
            instance,
            json,
        } => report(client, &since, instance.as_deref(), json).await,
        Command::Run { .. }
        | Command::Config { .. }
        | Command::GenerateDist { .. }
        | Command::Exec(_) => Ok(0),
    }
}

/// Prints `value` as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints `value` as pretty JSON (`--json`), else as `text` makes it for people.
fn print_as<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) {
    if json {
        print_json(value);
    } else {
        print!("{}", text(value));
    }
}

async fn line(client: &Client, command: LineCommand) -> Result<u8, AgentError> {
    match command {
        LineCommand::Status { json } => {
            let state = client.line().await?;
            print_as(json, &state, |state| format!("{}\n", describe_line(state)));
            Ok(0)
        }
        LineCommand::Resume { note, by } => {
            let request = ResumeRequest {
                by: Some(who(by)),
                note,
            };
            if client.resume(&request).await?.resumed {
                println!("the line is RUNNING again");
            } else {
                println!("the line was already running");
            }
            Ok(0)
        }
        LineCommand::Check { fleet: true } => crate::fleet_check::check(client).await,
        LineCommand::Check { fleet: false } => {
            let state = client.line().await?;
            if state.is_running() {
                println!("{}", describe_line(&state));
                Ok(0)
            } else {
                eprintln!("andon: {}", describe_line(&state));
                Ok(EXIT_STOPPED)
            }
        }
    }
}

/// `andon report`: two Pareto tables and the MTTA/MTTR table, from `GET /v1/history/...`.
async fn report(
    client: &Client,
    since: &str,
    instance: Option<&str>,
    json: bool,
) -> Result<u8, AgentError> {
    andon::core::config::duration::parse(since)
        .map_err(|e| AgentError::Usage(format!("--since: {e}")))?;
    let mut since = since.trim().replace(' ', "%20");
    if let Some(instance) = instance {
        if instance.is_empty()
            || !instance
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(AgentError::Usage(
                "--instance: give an instance name of letters, digits, `-`, `_`, `.` or `:` (andon line check --fleet lists them)".into(),
            ));
        }
        since = format!("{since}&instance={instance}");
    }
    let by_component = client
        .pareto(&format!("since={since}&by=component"))
        .await?;
    let by_message = client
        .pareto(&format!("since={since}&by=fingerprint"))
        .await?;
    let mttr = client.response_times(&format!("since={since}")).await?;
    if json {
        print_json(&serde_json::json!({
            "window": by_component.window,
            "pareto_by_component": by_component,
            "pareto_by_message": by_message,
            "response_times": mttr.components,
        }));
    } else {
        print!("{}", report_tables(&by_component, &by_message, &mttr));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_keep_numbers_and_booleans() {
        assert_eq!(
            attribute("depth=150").unwrap(),
            ("depth".into(), json!(150))
        );
        assert_eq!(attribute("ok=true").unwrap(), ("ok".into(), json!(true)));
        assert_eq!(attribute("q=a=b").unwrap(), ("q".into(), json!("a=b")));
        assert_eq!(attribute("v=[1]").unwrap(), ("v".into(), json!("[1]")));
        assert!(matches!(attribute("novalue"), Err(AgentError::Usage(_))));
        assert!(matches!(attribute("=x"), Err(AgentError::Usage(_))));
    }
}
