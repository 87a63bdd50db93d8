//! The alert the channels' unit tests render, written once for every channel kind.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use andon_core::AlertSeverity;

use crate::notification::{AlertStatus, NotifiedAlert};

/// A critical alert of rule `r` on component `db`, with trace id `trace-123`, fired at a fixed
/// time and, when resolved, ended a minute later.
pub(crate) fn event(status: AlertStatus, summary: &str) -> NotifiedAlert {
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_owned(), "r".to_owned());
    labels.insert("component".to_owned(), "db".to_owned());
    NotifiedAlert {
        fingerprint: "0123456789abcdef".to_owned(),
        rule: "r".to_owned(),
        status,
        severity: AlertSeverity::Critical,
        summary: summary.to_owned(),
        labels,
        starts_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ends_at: (status == AlertStatus::Resolved)
            .then(|| UNIX_EPOCH + Duration::from_secs(1_700_000_060)),
        count: 3,
        acknowledged_by: None,
        trace_id: Some("trace-123".to_owned()),
        trace_url: None,
    }
}
