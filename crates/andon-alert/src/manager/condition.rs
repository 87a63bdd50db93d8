//! The condition tree of a rule with its evaluation state: thresholds (with rates and
//! hysteresis), signal counts in a window, health, and their `all`/`any` combinations.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use andon_core::{AndonSignal, Color, Health, MetricsSource};

use super::RATE_SPACING;
use crate::rule::{AlertCondition, Comparison, Threshold};

/// The condition tree with its evaluation state.
#[derive(Debug)]
pub(super) enum Node {
    Threshold {
        threshold: Threshold,
        active: bool,
        history: VecDeque<(SystemTime, f64)>,
        last: Option<f64>,
    },
    Signal {
        color: Color,
        component: Option<String>,
        count: u32,
        window: Duration,
        hits: VecDeque<SystemTime>,
    },
    Health {
        status: andon_core::HealthStatus,
        last: Option<Health>,
    },
    All(Vec<Node>),
    Any(Vec<Node>),
}

impl Node {
    pub(super) fn new(condition: &AlertCondition) -> Node {
        match condition {
            AlertCondition::QueueDepth { max_depth } => Node::Threshold {
                threshold: Threshold {
                    metric: crate::rule::QUEUE_DEPTH_METRIC.to_owned(),
                    labels: Vec::new(),
                    comparison: Comparison::Above,
                    // Depths are far below 2^53: exact as f64.
                    value: *max_depth as f64,
                    clear: None,
                    rate_over: None,
                },
                active: false,
                history: VecDeque::new(),
                last: None,
            },
            AlertCondition::Threshold(t) => Node::Threshold {
                threshold: t.clone(),
                active: false,
                history: VecDeque::new(),
                last: None,
            },
            AlertCondition::Signal {
                color,
                component,
                count,
                window,
            } => Node::Signal {
                color: *color,
                component: component.clone(),
                count: (*count).max(1),
                window: *window,
                hits: VecDeque::new(),
            },
            AlertCondition::Health { status } => Node::Health {
                status: *status,
                last: None,
            },
            AlertCondition::All(c) => Node::All(c.iter().map(Node::new).collect()),
            AlertCondition::Any(c) => Node::Any(c.iter().map(Node::new).collect()),
        }
    }

    pub(super) fn eval(
        &mut self,
        now: SystemTime,
        metrics: &dyn MetricsSource,
        health: Option<&Health>,
    ) -> bool {
        match self {
            Node::Threshold {
                threshold: t,
                active,
                history,
                last,
            } => {
                let labels: Vec<(&str, &str)> = t
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let raw = metrics.value(&t.metric, &labels);
                threshold_step(t, active, history, last, now, raw)
            }
            Node::Signal {
                count,
                window,
                hits,
                ..
            } => {
                while hits
                    .front()
                    .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= *window)
                {
                    hits.pop_front();
                }
                hits.len() >= *count as usize
            }
            Node::Health { status, last } => {
                *last = health.cloned();
                health.is_some_and(|h| h.status >= *status)
            }
            Node::All(nodes) => {
                let mut all = true;
                for n in nodes {
                    all &= n.eval(now, metrics, health);
                }
                all
            }
            Node::Any(nodes) => {
                let mut any = false;
                for n in nodes {
                    any |= n.eval(now, metrics, health);
                }
                any
            }
        }
    }

    /// Evaluates a per-series threshold node with its series' value (`None`: the series is gone).
    pub(super) fn eval_series(&mut self, now: SystemTime, raw: Option<f64>) -> bool {
        match self {
            Node::Threshold {
                threshold,
                active,
                history,
                last,
            } => threshold_step(threshold, active, history, last, now, raw),
            _ => false,
        }
    }

    /// Records a signal in every matching signal node; true if one matched.
    pub(super) fn record(&mut self, signal: &AndonSignal, now: SystemTime) -> bool {
        match self {
            Node::Signal {
                color,
                component,
                count,
                hits,
                ..
            } => {
                let matches = signal.color() == *color
                    && component
                        .as_deref()
                        .is_none_or(|c| signal.component() == Some(c));
                if matches {
                    hits.push_back(now);
                    while hits.len() > *count as usize {
                        hits.pop_front();
                    }
                }
                matches
            }
            Node::All(nodes) | Node::Any(nodes) => {
                let mut matched = false;
                for n in nodes {
                    matched |= n.record(signal, now);
                }
                matched
            }
            _ => false,
        }
    }

    /// Whether it holds no state worth keeping (no signals in its window).
    pub(super) fn is_idle(&self) -> bool {
        match self {
            Node::Signal { hits, .. } => hits.is_empty(),
            Node::All(nodes) | Node::Any(nodes) => nodes.iter().all(Node::is_idle),
            Node::Threshold { .. } | Node::Health { .. } => false,
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Node::Threshold {
                threshold: t,
                last,
                history,
                ..
            } => {
                let mut series = t.metric.clone();
                if !t.labels.is_empty() {
                    let labels: Vec<String> = t
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{v}\""))
                        .collect();
                    series.push_str(&format!("{{{}}}", labels.join(",")));
                }
                let what = if t.rate_over.is_some() {
                    format!("rate({series})")
                } else {
                    series
                };
                match last {
                    Some(v) => format!("{what} = {v} ({} {})", t.comparison.symbol(), t.value),
                    None if history.is_empty() && t.rate_over.is_some() => {
                        format!("{what}: no data")
                    }
                    None => format!("{what}: no data"),
                }
            }
            Node::Signal {
                color,
                component,
                count,
                window,
                hits,
            } => format!(
                "{} of {count} {} signal(s){} within {}",
                hits.len(),
                color.as_str().to_ascii_uppercase(),
                component
                    .as_deref()
                    .map(|c| format!(" of {c}"))
                    .unwrap_or_default(),
                humantime::format_duration(*window)
            ),
            Node::Health { status, last } => match last {
                Some(h) if !h.reasons.is_empty() => {
                    format!("health {:?}: {}", h.status, h.reasons.join("; "))
                }
                Some(h) => format!("health {:?} (alert at {status:?})", h.status),
                None => "health unknown".to_owned(),
            },
            Node::All(nodes) => nodes
                .iter()
                .map(Node::describe)
                .collect::<Vec<_>>()
                .join(" and "),
            Node::Any(nodes) => nodes
                .iter()
                .map(Node::describe)
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// The key of a series among a rule's alerts: its labels, `""` for a series without any.
pub(super) fn series_key(labels: &[(String, String)]) -> String {
    let mut key = String::new();
    for (k, v) in labels {
        if !key.is_empty() {
            key.push('\u{1f}');
        }
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}

/// The value of series `key` in `values` (sorted by key).
pub(super) fn series_value(values: &[(String, f64)], key: &str) -> Option<f64> {
    values
        .binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .and_then(|at| values.get(at))
        .map(|(_, v)| *v)
}

/// One evaluation of a threshold with the series' current value (`raw`): the value (or rate),
/// then whether it holds, with hysteresis once active.
pub(super) fn threshold_step(
    t: &Threshold,
    active: &mut bool,
    history: &mut VecDeque<(SystemTime, f64)>,
    last: &mut Option<f64>,
    now: SystemTime,
    raw: Option<f64>,
) -> bool {
    let value = match (raw, t.rate_over) {
        (None, _) => None,
        (Some(v), None) => Some(v),
        (Some(v), Some(window)) => {
            // Event-driven evaluation may run on every update: within a second of the sample
            // before it, the newest sample replaces the last one, so the history stays bounded
            // by the window (a rate needs only its ends).
            let recent = history.len() >= 2
                && history.get(history.len() - 2).is_some_and(|(t0, _)| {
                    now.duration_since(*t0).unwrap_or_default() < RATE_SPACING
                });
            if recent {
                history.pop_back();
            }
            history.push_back((now, v));
            while history.len() > 2
                && history
                    .get(1)
                    .is_some_and(|(t1, _)| now.duration_since(*t1).unwrap_or_default() >= window)
            {
                history.pop_front();
            }
            match (history.front(), history.back()) {
                (Some((t0, v0)), Some((t1, v1))) => {
                    let dt = t1.duration_since(*t0).unwrap_or_default().as_secs_f64();
                    if dt > 0.0 {
                        // A counter reset counts from zero.
                        let delta = if v1 >= v0 { v1 - v0 } else { *v1 };
                        Some(delta / dt)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        }
    };
    *last = value;
    *active = match value {
        None => false,
        Some(v) => t.comparison.raised_after(*active, v, t.value, t.clear),
    };
    *active
}
