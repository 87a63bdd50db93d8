//! Takes one diagnostics snapshot of this machine and prints it: the one-line summary, then
//! the whole snapshot as JSON.
//!
//! ```text
//! cargo run -p andon-observe --example diagnose
//! ```

use andon_core::config::ObserverConfig;
use andon_observe::AndonObserver;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let observer = AndonObserver::new(ObserverConfig::default())?;
    let d = observer.run_diagnostics().await?;
    println!("{}", d.summary());
    println!("{}", serde_json::to_string_pretty(&d)?);
    Ok(())
}
