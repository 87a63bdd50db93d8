//! The folds both backends share: rows in, answers out. The Pareto's bars from counts,
//! MTTA/MTTR from alert events, downtime buckets from line events; each backend reads its rows
//! its own way and hands them here, so SQLite and PostgreSQL answer alike.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use andon_core::Color;

use crate::error::HistoryError;
use crate::query::{
    Downtime, Pareto, ParetoBy, ParetoRow, ResponseTimes, Window, WindowMillis, percent,
};
use crate::store::{from_millis, millis};

/// The bars of a Pareto from its counts.
pub(crate) fn finish_pareto(
    totals: HashMap<String, u64>,
    by: ParetoBy,
    window: Window,
    colors: Vec<Color>,
) -> Pareto {
    let mut counts: Vec<(String, u64)> = totals.into_iter().filter(|(_, n)| *n > 0).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    let rows = counts
        .into_iter()
        .map(|(key, count)| {
            running += count;
            ParetoRow {
                key,
                count,
                percent: percent(count, total),
                cumulative_percent: percent(running, total),
            }
        })
        .collect();
    Pareto {
        by,
        window,
        colors,
        total,
        rows,
    }
}

/// MTTA and MTTR from alert events ordered by fingerprint, then time: `(fingerprint, at_ms,
/// kind, group)`, where the group is the component (or the instance, for `by=instance`).
pub(crate) fn fold_response_times(
    events: impl Iterator<Item = Result<(String, i64, String, String), HistoryError>>,
    to: i64,
) -> Result<Vec<ResponseTimes>, HistoryError> {
    #[derive(Default)]
    struct Sums {
        fired: u64,
        acknowledged: u64,
        resolved: u64,
        escalated: u64,
        ack_ms: i64,
        resolve_ms: i64,
    }
    // One firing at a time per fingerprint: (fingerprint, fired at, component, acked, escalated).
    struct Open {
        fingerprint: String,
        fired_at: i64,
        component: String,
        acknowledged: bool,
        escalated: bool,
    }
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    let mut open: Option<Open> = None;
    for event in events {
        let (fingerprint, at, kind, component) = event?;
        if open.as_ref().is_some_and(|o| o.fingerprint != fingerprint) {
            open = None;
        }
        match kind.as_str() {
            "fired" => {
                if at < to {
                    sums.entry(component.clone()).or_default().fired += 1;
                    open = Some(Open {
                        fingerprint,
                        fired_at: at,
                        component,
                        acknowledged: false,
                        escalated: false,
                    });
                } else {
                    open = None;
                }
            }
            "acknowledged" => {
                if let Some(o) = open.as_mut().filter(|o| !o.acknowledged) {
                    o.acknowledged = true;
                    let s = sums.entry(o.component.clone()).or_default();
                    s.acknowledged += 1;
                    s.ack_ms += at - o.fired_at;
                }
            }
            "escalated" => {
                if let Some(o) = open.as_mut().filter(|o| !o.escalated) {
                    o.escalated = true;
                    sums.entry(o.component.clone()).or_default().escalated += 1;
                }
            }
            "resolved" => {
                if let Some(o) = open.take() {
                    let s = sums.entry(o.component).or_default();
                    s.resolved += 1;
                    s.resolve_ms += at - o.fired_at;
                }
            }
            _ => {}
        }
    }
    let mean = |total_ms: i64, n: u64| (n > 0).then(|| total_ms as f64 / n as f64 / 1000.0);
    Ok(sums
        .into_iter()
        .map(|(component, s)| ResponseTimes {
            component,
            fired: s.fired,
            acknowledged: s.acknowledged,
            resolved: s.resolved,
            escalated: s.escalated,
            mtta_seconds: mean(s.ack_ms, s.acknowledged),
            mttr_seconds: mean(s.resolve_ms, s.resolved),
        })
        .collect())
}

/// The buckets of a downtime query, checked once for every backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DowntimeFrame {
    pub(crate) from: i64,
    /// The window's end, excluded.
    pub(crate) to: i64,
    pub(crate) end: i64,
    pub(crate) first: i64,
    pub(crate) bucket_ms: i64,
    pub(crate) count: usize,
}

impl DowntimeFrame {
    /// The frame of `window` in buckets of `bucket`, or why it cannot be.
    pub(crate) fn new(
        window: Window,
        bucket: Duration,
        now: SystemTime,
    ) -> Result<Self, HistoryError> {
        let bucket_ms = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX);
        if bucket_ms < 1000 {
            return Err(HistoryError::Invalid(
                "the downtime bucket must be at least 1s: use \"1h\" or \"1d\"".into(),
            ));
        }
        let (from, to) = window.millis();
        let end = to.min(millis(now).max(from));
        let first = from - from.rem_euclid(bucket_ms);
        // In i128: a bucket of centuries must not overflow the sum.
        let count = (i128::from(to) - i128::from(first) + i128::from(bucket_ms) - 1)
            / i128::from(bucket_ms);
        if count > 100_000 {
            return Err(HistoryError::Invalid(format!(
                "{count} downtime buckets is too many: use a longer bucket or a shorter window"
            )));
        }
        let count = usize::try_from(count).unwrap_or(0);
        Ok(DowntimeFrame {
            from,
            to,
            end,
            first,
            bucket_ms,
            count,
        })
    }

    /// The window, `[from, to)`, in milliseconds since the Unix epoch.
    pub(crate) fn window(&self) -> (i64, i64) {
        (self.from, self.to)
    }
}

/// Downtime per bucket from one line's events, ordered by time: `(at_ms, kind)`.
pub(crate) fn fold_downtime(
    events: impl Iterator<Item = Result<(i64, String), HistoryError>>,
    frame: &DowntimeFrame,
) -> Result<Vec<Downtime>, HistoryError> {
    let DowntimeFrame {
        from,
        end,
        first,
        bucket_ms,
        count,
        ..
    } = *frame;
    let mut buckets: Vec<(i64, u64)> = vec![(0, 0); count];
    let bucket_start = |index: usize| {
        first.saturating_add(
            i64::try_from(index)
                .unwrap_or(i64::MAX)
                .saturating_mul(bucket_ms),
        )
    };
    let mut add = |start: i64, stop: i64| {
        let (start, stop) = (start.max(from), stop.min(end));
        let mut t = start;
        while t < stop {
            let index = usize::try_from((t - first) / bucket_ms).unwrap_or(usize::MAX);
            let bucket_end = bucket_start(index.saturating_add(1));
            let until = stop.min(bucket_end);
            if let Some(slot) = buckets.get_mut(index) {
                slot.0 += until - t;
            }
            t = until;
        }
    };
    let mut stopped_since: Option<i64> = None;
    let mut stop_starts = Vec::new();
    for event in events {
        let (at, kind) = event?;
        match (kind.as_str(), stopped_since) {
            ("stopped", None) => {
                stopped_since = Some(at);
                if at >= from {
                    stop_starts.push(at);
                }
            }
            ("resumed", Some(since)) => {
                add(since, at);
                stopped_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = stopped_since {
        add(since, end);
    }
    for at in stop_starts {
        if let Some(slot) = usize::try_from((at - first) / bucket_ms)
            .ok()
            .and_then(|i| buckets.get_mut(i))
        {
            slot.1 += 1;
        }
    }
    Ok(buckets
        .into_iter()
        .enumerate()
        .map(|(i, (ms, stops))| Downtime {
            start: from_millis(bucket_start(i)),
            stopped_seconds: ms as f64 / 1000.0,
            stops,
        })
        .collect())
}
