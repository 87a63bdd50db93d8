//! The signal index: which signal rules a signal can match, by color and component, so that
//! a signal looks at those rules only instead of every rule.

use std::collections::HashMap;

use andon_core::{AndonSignal, Color};

use crate::rule::AlertCondition;

/// Which signal rules a signal can match, by color and component, so that `on_signal` looks at
/// those rules only instead of every rule. Holds indices into [`State::rules`], each bucket in
/// ascending order; every rule that uses signals is in exactly one bucket.
#[derive(Debug, Default)]
pub(super) struct SignalIndex {
    /// Plain signal conditions, by their color.
    pub(super) colors: HashMap<Color, ColorBucket>,
    /// Signals inside `all`/`any` combinations: looked at for every signal.
    pub(super) always: Vec<usize>,
}

/// The plain signal rules of one color.
#[derive(Debug, Default)]
pub(super) struct ColorBucket {
    /// Rules with a component filter, by that component.
    pub(super) by_component: HashMap<String, Vec<usize>>,
    /// Rules without a component filter (one alert per component).
    pub(super) any_component: Vec<usize>,
}

impl SignalIndex {
    /// Records that `condition`'s rule was inserted at `position` of the rules: the indices at
    /// or after it move up by one, then the rule joins its bucket.
    pub(super) fn insert(
        &mut self,
        position: usize,
        condition: &AlertCondition,
        rule_count: usize,
    ) {
        if position < rule_count {
            let shift = |bucket: &mut Vec<usize>| {
                for i in bucket.iter_mut().filter(|i| **i >= position) {
                    *i += 1;
                }
            };
            shift(&mut self.always);
            for colors in self.colors.values_mut() {
                shift(&mut colors.any_component);
                colors.by_component.values_mut().for_each(shift);
            }
        }
        let bucket = match condition {
            AlertCondition::Signal {
                color, component, ..
            } => {
                let colors = self.colors.entry(*color).or_default();
                match component {
                    Some(c) => colors.by_component.entry(c.clone()).or_default(),
                    None => &mut colors.any_component,
                }
            }
            other if other.uses_signals() => &mut self.always,
            _ => return,
        };
        let at = bucket.partition_point(|i| *i < position);
        bucket.insert(at, position);
    }

    /// The rules `signal` can match, in rule order, into `out` (cleared first).
    pub(super) fn candidates(&self, signal: &AndonSignal, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(colors) = self.colors.get(&signal.color()) {
            out.extend_from_slice(&colors.any_component);
            if let Some(rules) = signal.component().and_then(|c| colors.by_component.get(c)) {
                out.extend_from_slice(rules);
            }
        }
        // Each rule is in one bucket only: sorting restores rule order, without duplicates.
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

    use std::time::Duration;

    use andon_core::config::AlertsConfig;
    use andon_core::{AlertSeverity, AndonSignal, Color, SignalSink};

    use crate::manager::AlertManager;
    use crate::rule::{AlertCondition, AlertRule};

    fn signal_rule(name: &str, color: Color, component: Option<&str>) -> AlertRule {
        AlertRule {
            name: name.to_owned(),
            condition: signal_condition(color, component),
            severity: AlertSeverity::Warning,
            ..Default::default()
        }
    }

    fn signal_condition(color: Color, component: Option<&str>) -> AlertCondition {
        AlertCondition::Signal {
            color,
            component: component.map(str::to_owned),
            count: 1,
            window: Duration::from_secs(60),
        }
    }

    /// The open alerts as (rule, component label), sorted.
    fn open(manager: &AlertManager) -> Vec<(String, Option<String>)> {
        let mut open: Vec<_> = manager
            .open_alerts()
            .into_iter()
            .map(|a| (a.rule, a.labels.get("component").cloned()))
            .collect();
        open.sort();
        open
    }

    fn pair(rule: &str, component: Option<&str>) -> (String, Option<String>) {
        (rule.to_owned(), component.map(str::to_owned))
    }

    #[tokio::test]
    async fn with_many_signal_rules_only_the_matching_ones_fire() {
        let manager = AlertManager::builder(AlertsConfig::default())
            .build()
            .unwrap();
        for i in 0..1_000 {
            let component = format!("c{i}");
            manager
                .add_rule(signal_rule(
                    &format!("rule-{i}"),
                    Color::Red,
                    Some(&component),
                ))
                .unwrap();
        }
        manager
            .add_rule(signal_rule("any-red", Color::Red, None))
            .unwrap();
        manager
            .add_rule(signal_rule("yellow-c500", Color::Yellow, Some("c500")))
            .unwrap();
        // Critical rules go in front of the others: every index behind them moves.
        for (name, color) in [
            ("critical-red-c500", Color::Red),
            ("critical-yellow", Color::Yellow),
        ] {
            manager
                .add_rule(AlertRule {
                    severity: AlertSeverity::Critical,
                    ..signal_rule(name, color, Some("c500"))
                })
                .unwrap();
        }
        // Signals inside combinations are looked at for every signal.
        for (name, component) in [("combo-c500", "c500"), ("combo-c1", "c1")] {
            manager
                .add_rule(AlertRule {
                    name: name.to_owned(),
                    condition: AlertCondition::Any(vec![
                        signal_condition(Color::Red, Some(component)),
                        AlertCondition::QueueDepth { max_depth: 1 << 40 },
                    ]),
                    ..Default::default()
                })
                .unwrap();
        }

        manager
            .on_signal(&AndonSignal::red("down").with_component("c500"))
            .await
            .unwrap();
        assert_eq!(
            open(&manager),
            vec![
                pair("any-red", Some("c500")),
                pair("combo-c500", None),
                pair("critical-red-c500", Some("c500")),
                pair("rule-500", Some("c500")),
            ]
        );
        // Only the rules that can match are looked at, in rule order: the two RED rules of
        // c500, the rule without a component filter, and the two combinations.
        let names: Vec<String> = {
            let mut candidates = Vec::new();
            let state = manager.inner.lock_state();
            state.signal_index.candidates(
                &AndonSignal::red("down").with_component("c500"),
                &mut candidates,
            );
            candidates
                .iter()
                .map(|i| state.rules[*i].rule.name.clone())
                .collect()
        };
        assert_eq!(
            names,
            [
                "critical-red-c500",
                "rule-500",
                "any-red",
                "combo-c500",
                "combo-c1"
            ]
        );

        // A RED without a component: only the rule without a component filter.
        manager.on_signal(&AndonSignal::red("down")).await.unwrap();
        // A GREEN matches nothing.
        manager
            .on_signal(&AndonSignal::green("fine").with_component("c7"))
            .await
            .unwrap();
        // A YELLOW of c500: the YELLOW rules of c500 only.
        manager
            .on_signal(&AndonSignal::yellow("slow").with_component("c500"))
            .await
            .unwrap();
        assert_eq!(
            open(&manager),
            vec![
                pair("any-red", None),
                pair("any-red", Some("c500")),
                pair("combo-c500", None),
                pair("critical-red-c500", Some("c500")),
                pair("critical-yellow", Some("c500")),
                pair("rule-500", Some("c500")),
                pair("yellow-c500", Some("c500")),
            ]
        );
        assert_eq!(manager.stats().signals, 4);
    }
}
