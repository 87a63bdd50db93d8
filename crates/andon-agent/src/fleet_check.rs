//! `andon line check --fleet`: a release gate over every line of the fleet. Exit 0 when every
//! line runs; 1 ([`EXIT_STOPPED`]) when any is stopped, naming each; 1 as well when an agent has
//! no data (its line cannot be known, so the gate stays closed); and the client's error codes
//! when the fleet cannot be read at all.

use serde_json::Value;

use crate::cli::EXIT_STOPPED;
use crate::client::Client;
use crate::error::AgentError;

/// Reads `GET /v1/fleet` and decides.
pub(crate) async fn check(client: &Client) -> Result<u8, AgentError> {
    let fleet = client.get("/v1/fleet").await?;
    let Some(instances) = fleet["instances"].as_array() else {
        eprintln!("andon: the agent's /v1/fleet answer has no instances: the fleet cannot be read");
        return Ok(EXIT_STOPPED);
    };
    Ok(verdict(instances, fleet["shared"] == Value::Bool(true)))
}

fn verdict(instances: &[Value], shared: bool) -> u8 {
    let name = |e: &Value| e["instance"].as_str().unwrap_or("?").to_owned();
    let stopped: Vec<String> = instances
        .iter()
        .filter(|e| e["line"] == "STOPPED")
        .map(|e| {
            format!(
                "{} STOPPED by {}: {}",
                name(e),
                e["component"].as_str().unwrap_or("unknown"),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let silent: Vec<String> = instances
        .iter()
        .filter(|e| e["line"] == "NO DATA")
        .map(|e| {
            format!(
                "{} NO DATA (last report {:.0}s ago)",
                name(e),
                e["age_seconds"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    if instances.is_empty() {
        eprintln!("andon: the fleet lists no instance: no line is known to run");
        return EXIT_STOPPED;
    }
    if stopped.is_empty() && silent.is_empty() {
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
    for line in stopped.iter().chain(&silent) {
        eprintln!("andon: {line}");
    }
    EXIT_STOPPED
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_stopped_or_silent_line_closes_the_gate() {
        let running = json!({"instance": "a", "line": "RUNNING"});
        let stopped =
            json!({"instance": "b", "line": "STOPPED", "component": "press", "message": "jam"});
        let silent = json!({"instance": "c", "line": "NO DATA", "age_seconds": 40.0});
        assert_eq!(verdict(std::slice::from_ref(&running), true), 0);
        assert_eq!(verdict(&[running.clone(), stopped], true), EXIT_STOPPED);
        assert_eq!(verdict(&[running, silent], true), EXIT_STOPPED);
        assert_eq!(verdict(&[], true), EXIT_STOPPED);
    }
}
