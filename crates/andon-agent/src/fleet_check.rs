//! `andon line check --fleet`: a release gate over every line of the fleet. Exit 0 when every
//! line runs; 1 ([`EXIT_STOPPED`]) when any is stopped, naming each; 1 as well when an agent has
//! no data (its line cannot be known, so the gate stays closed); and the client's error codes
//! when the fleet cannot be read at all.

use crate::api::{FleetInstance, FleetView};
use crate::cli::EXIT_STOPPED;
use crate::client::Client;
use crate::error::AgentError;

/// Reads `GET /v1/fleet` and decides.
pub(crate) async fn check(client: &Client) -> Result<u8, AgentError> {
    let fleet: FleetView = match client.fleet().await {
        Ok(fleet) => fleet,
        Err(AgentError::Protocol { reason, .. }) => {
            eprintln!(
                "andon: the agent's /v1/fleet answer is not a fleet ({reason}): the fleet cannot be read"
            );
            return Ok(EXIT_STOPPED);
        }
        Err(error) => return Err(error),
    };
    Ok(verdict(&fleet.instances, fleet.shared))
}

/// Why `instance` closes the gate, or `None` when its line runs.
fn problem(instance: &FleetInstance) -> Option<String> {
    match instance.line.as_str() {
        "RUNNING" => None,
        "STOPPED" => Some(format!(
            "{} STOPPED by {}: {}",
            instance.instance,
            instance.component.as_deref().unwrap_or("unknown"),
            instance.message.as_deref().unwrap_or("")
        )),
        "NO DATA" => Some(format!(
            "{} NO DATA (last report {:.0}s ago)",
            instance.instance, instance.age_seconds
        )),
        // A state this CLI does not know cannot be taken for a running line.
        other => Some(format!("{} is {other}", instance.instance)),
    }
}

fn verdict(instances: &[FleetInstance], shared: bool) -> u8 {
    if instances.is_empty() {
        eprintln!("andon: the fleet lists no instance: no line is known to run");
        return EXIT_STOPPED;
    }
    let problems: Vec<String> = instances.iter().filter_map(problem).collect();
    if problems.is_empty() {
        let scope = if shared {
            ""
        } else {
            " (this agent only: no shared history)"
        };
        println!(
            "all {} lines of the fleet are RUNNING{scope}",
            instances.len()
        );
        return 0;
    }
    for line in &problems {
        eprintln!("andon: {line}");
    }
    EXIT_STOPPED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, line: &str) -> FleetInstance {
        FleetInstance {
            instance: name.to_owned(),
            line: line.to_owned(),
            last_state: "RUNNING".to_owned(),
            signal_id: None,
            component: None,
            message: None,
            stopped_at: None,
            board_url: None,
            version: "0".to_owned(),
            heartbeat_at: "2026-12-01T10:00:00Z".to_owned(),
            age_seconds: 0.0,
        }
    }

    #[test]
    fn any_stopped_or_silent_line_closes_the_gate() {
        let running = instance("a", "RUNNING");
        let stopped = FleetInstance {
            component: Some("press".to_owned()),
            message: Some("jam".to_owned()),
            ..instance("b", "STOPPED")
        };
        let silent = FleetInstance {
            age_seconds: 40.0,
            ..instance("c", "NO DATA")
        };
        assert_eq!(verdict(std::slice::from_ref(&running), true), 0);
        assert_eq!(verdict(&[running.clone(), stopped], true), EXIT_STOPPED);
        assert_eq!(verdict(&[running.clone(), silent], true), EXIT_STOPPED);
        assert_eq!(
            verdict(&[running, instance("d", "UNKNOWN")], true),
            EXIT_STOPPED
        );
        assert_eq!(verdict(&[], true), EXIT_STOPPED);
    }
}
