//! Open alerts as the API shows them ([`AlertView`]), and acknowledging them, through the system's alert
//! manager when alerting is enabled.

pub(crate) use crate::api::AlertView;
use andon::AndonSystem;

/// What acknowledging an alert did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ack {
    /// This many alerts were acknowledged (only an agent with the alert manager, `full`).
    #[cfg(feature = "full")]
    Done(usize),
    /// No open alert has this fingerprint.
    #[cfg(feature = "full")]
    Unknown(String),
    /// Alerting is not enabled in this agent.
    Disabled,
}

/// The open alerts, or `None` when alerting is not enabled.
pub(crate) fn open(system: &AndonSystem) -> Option<Vec<AlertView>> {
    #[cfg(feature = "full")]
    {
        let ui_url = system.config().tracer.ui_url.as_deref();
        system.alerts().map(|manager| {
            manager
                .open_alerts()
                .iter()
                .map(|a| view(a, ui_url))
                .collect()
        })
    }
    #[cfg(not(feature = "full"))]
    {
        let _ = system;
        None
    }
}

/// Acknowledges the open alerts with `fingerprint`.
pub(crate) fn acknowledge(system: &AndonSystem, fingerprint: &str, by: &str) -> Ack {
    #[cfg(feature = "full")]
    {
        let Some(manager) = system.alerts() else {
            return Ack::Disabled;
        };
        match manager.acknowledge(fingerprint, by, "") {
            Ok(n) => Ack::Done(n),
            Err(error) => Ack::Unknown(error.to_string()),
        }
    }
    #[cfg(not(feature = "full"))]
    {
        let _ = (system, fingerprint, by);
        Ack::Disabled
    }
}

#[cfg(feature = "full")]
pub(crate) fn view(alert: &andon::alert::OpenAlert, ui_url: Option<&str>) -> AlertView {
    AlertView {
        fingerprint: alert.fingerprint.clone(),
        rule: alert.rule.clone(),
        state: match alert.state {
            andon::alert::AlertState::Pending => "pending",
            andon::alert::AlertState::Firing => "firing",
            andon::alert::AlertState::Inactive => "inactive",
        }
        .to_owned(),
        severity: alert.severity.as_str().to_owned(),
        component: alert.labels.get("component").cloned(),
        summary: alert.summary.clone(),
        since: humantime::format_rfc3339_millis(alert.since).to_string(),
        count: alert.count,
        acknowledged_by: alert.acknowledged_by.clone(),
        silenced: alert.silenced,
        trace_id: alert.trace_id.clone(),
        trace_url: alert
            .trace_id
            .as_deref()
            .zip(ui_url)
            .map(|(trace, ui_url)| andon::core::trace_url(ui_url, trace)),
    }
}
