//! Benchmarks of andon-alert (being written).
fn main() {}
