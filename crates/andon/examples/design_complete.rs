//! The original design's "Complete Example", changed only in the crate name and the `Result`
//! import: the default configuration, one RED, a shutdown.
//!
//! Run it with `cargo run -p andon --example design_complete`. The RED is a CRITICAL JSON record
//! on stdout; `crates/andon/tests/design_complete.rs` runs it and checks what it prints.

use andon::{AndonConfig, AndonSignal, AndonSystem, Result};

#[tokio::main]
async fn main() -> Result<()> {
    // Configure all components
    let config = AndonConfig::default();

    // Create unified Andon system
    let system = AndonSystem::new(config).await?;

    // Signal a problem (pull the Andon cord)
    let signal = AndonSignal::red("Queue overflow - stop processing")
        .with_component("queue-handler")
        .with_trace_id("trace-123");

    system.signal_problem(signal).await?;

    // System automatically:
    // 1. Logs at CRITICAL level
    // 2. Records metric
    // 3. Creates trace span
    // 4. Fires alerts
    // 5. Collects diagnostics

    system.shutdown().await?;
    Ok(())
}
