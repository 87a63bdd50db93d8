//! The names of the metrics andon's components share: one constant each, so that the
//! component that records a metric (andon-metrics, the observer, the umbrella) and the ones
//! that read it (alert rules, the dashboard) cannot drift apart. andon-metrics re-exports them
//! (`andon_metrics::QUEUE_DEPTH`, …) and gives each its HELP text.
//!
//! ```
//! assert_eq!(andon_core::names::QUEUE_DEPTH, "andon_queue_depth");
//! ```

/// Counts every signal, by color and component.
pub const SIGNALS: &str = "andon_signals_total";
/// Counts failures, by component.
pub const FAILURES: &str = "andon_failures_total";
/// Counts alerts fired, by rule and severity.
pub const ALERTS: &str = "andon_alerts_total";
/// The depth of each queue.
pub const QUEUE_DEPTH: &str = "andon_queue_depth";
/// The utilization of each pool, from 0 to 1.
pub const POOL_UTILIZATION: &str = "andon_pool_utilization_ratio";
/// The process memory in use (resident), in bytes; the observer sets it.
pub const MEMORY_USAGE: &str = "andon_memory_usage_bytes";
/// The CPU used by the process, from 0 to 1 (1 = every core it may use); the observer sets it.
pub const CPU_USAGE: &str = "andon_cpu_usage_ratio";
/// 1 while the line is stopped, 0 while it runs.
pub const LINE_STOPPED: &str = "andon_line_stopped";
/// Request latency by endpoint, in seconds.
pub const REQUEST_DURATION: &str = "andon_request_duration_seconds";
/// Processing time by operation, in seconds.
pub const PROCESSING_DURATION: &str = "andon_processing_duration_seconds";
/// 1 while a heartbeat is down (missed or failed, not yet resolved by a success), else 0;
/// labelled `name`. The umbrella sets it; the built-in heartbeat alert rule reads it.
pub const HEARTBEAT_DOWN: &str = "andon_heartbeat_down";
/// Alert notifications by channel and outcome (`sent`, `failed`); andon-alert counts them.
pub const ALERT_NOTIFICATIONS: &str = "andon_alert_notifications_total";
/// Retried alert deliveries by channel.
pub const ALERT_RETRIES: &str = "andon_alert_retries_total";
/// Time to deliver an alert notification, retries included, by channel, in seconds.
pub const ALERT_DELIVERY_DURATION: &str = "andon_alert_delivery_seconds";
