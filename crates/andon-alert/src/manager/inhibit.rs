//! Inhibition: a firing critical alert of a component mutes the lesser alerts of that
//! component (`[alerts] inhibit`).

use std::collections::HashSet;

use andon_core::AlertSeverity;

use super::{AlertState, Inner, Instance, RuleState, State};
use crate::rule::AlertRule;

impl Inner {
    pub(super) fn inhibitors(&self, state: &State) -> HashSet<String> {
        self.inhibitors_of(&state.rules)
    }

    /// The components whose firing critical alerts inhibit warnings, among `rules`.
    pub(super) fn inhibitors_of(&self, rules: &[RuleState]) -> HashSet<String> {
        let mut set = HashSet::new();
        if !self.config.inhibit {
            return set;
        }
        for rs in rules {
            if rs.rule.severity != AlertSeverity::Critical {
                continue;
            }
            for inst in rs.instances.values() {
                let firing = inst.state == AlertState::Firing;
                if let Some(c) = firing.then(|| inst.labels.get("component")).flatten() {
                    set.insert(c.clone());
                }
            }
        }
        set
    }

    pub(super) fn inhibited(
        &self,
        rule: &AlertRule,
        inst: &Instance,
        inhibitors: &HashSet<String>,
    ) -> bool {
        !inhibitors.is_empty()
            && rule.severity < AlertSeverity::Critical
            && inst
                .labels
                .get("component")
                .is_some_and(|c| inhibitors.contains(c))
    }
}
