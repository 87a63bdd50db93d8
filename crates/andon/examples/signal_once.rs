//! Raises one signal with the system a configuration file describes, as a script or a CI step
//! would, and says on stderr what became of it.
//!
//! ```text
//! cargo run -p andon --example signal_once -- andon.toml red "disk full" db
//! ```
//!
//! Arguments: the configuration file, the color (`red`, `yellow`, `green`), the message and,
//! optionally, the component. The exit code is 0 when every part took the signal, 1 when some
//! failed or missed their deadline, 2 on a usage or configuration error. The stall tests run it
//! with a stdout nobody reads (`crates/andon/tests/stall.rs`).

use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem, Color, SignalError};

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("signal_once: {error}");
            2
        }
    };
    // A log sink that never drains keeps its writer thread; the process ends anyway.
    std::process::exit(code);
}

async fn run() -> Result<i32, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, color, message, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: signal_once <config.toml> <red|yellow|green> <message> [component]".into(),
        );
    };
    let color: Color = color.parse()?;
    let mut signal = AndonSignal::new(color, message.as_str());
    if let Some(component) = rest.first() {
        signal = signal.with_component(component.as_str());
    }
    let system = AndonSystem::new(AndonConfig::from_file(config)?).await?;
    let code = match system.signal_problem(signal).await {
        Ok(outcome) => {
            eprintln!(
                "signal {} delivered to {}",
                outcome.id,
                outcome.delivered_to.join(", ")
            );
            0
        }
        Err(SignalError::Partial { outcome, failures }) => {
            eprintln!(
                "signal {} delivered to {}; timed out: {}",
                outcome.id,
                outcome.delivered_to.join(", "),
                outcome.timed_out.join(", ")
            );
            for failure in failures {
                eprintln!("failed: {failure}");
            }
            1
        }
        Err(other) => return Err(other.into()),
    };
    if let Err(error) = system.shutdown_within(Duration::from_secs(2)).await {
        eprintln!("{error}");
    }
    Ok(code)
}
