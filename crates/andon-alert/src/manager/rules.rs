//! Adding rules (with their inline channels) and the escalation levels.

use andon_core::{AlertSeverity, ConfigError};

use super::{AlertManager, Instance, Instances, Node, RuleState, listen};
use crate::error::AlertError;
use crate::rule::{AlertCondition, AlertRule, EscalationLevel};

impl AlertManager {
    /// Adds a rule; its inline channels are started, named by their place
    /// (`rules.NAME.channels.INDEX`). The first rule added replaces the built-in rule of
    /// `[alerts] default_rule`. Open alerts of this rule restored from `[alerts] state_file`
    /// join it.
    pub fn add_rule(&self, rule: AlertRule) -> Result<(), AlertError> {
        let mut channels = Vec::new();
        self.check_new_rule(&rule)?;
        for (index, channel) in rule.channels.iter().enumerate() {
            let key = format!("rules.{}.channels.{index}", rule.name);
            channels.push(self.inner.ensure_channel(channel, &key)?);
        }
        self.insert_rule(rule, channels, false)
    }

    /// Refuses a rule without a name or with the name of one already added.
    pub(super) fn check_new_rule(&self, rule: &AlertRule) -> Result<(), AlertError> {
        if rule.name.trim().is_empty() {
            return Err(ConfigError::new("alerts.rules.name", "must not be empty").into());
        }
        let state = self.inner.lock_state();
        if state
            .rules
            .iter()
            .any(|r| r.rule.name == rule.name && !r.builtin)
        {
            return Err(AlertError::DuplicateRule(rule.name.clone()));
        }
        Ok(())
    }

    /// Adds a rule whose channels are started; a rule that is not `builtin` replaces the
    /// built-in one.
    pub(super) fn insert_rule(
        &self,
        rule: AlertRule,
        channels: Vec<String>,
        builtin: bool,
    ) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut state = self.inner.lock_state();
        if state
            .rules
            .iter()
            .any(|r| r.rule.name == rule.name && !r.builtin)
        {
            return Err(AlertError::DuplicateRule(rule.name));
        }
        if !builtin && state.rules.iter().any(|r| r.builtin) {
            self.inner.remove_builtin(&mut state, &channels);
        }
        let per_component = matches!(
            rule.condition,
            AlertCondition::Signal {
                component: None,
                ..
            }
        );
        let series = match &rule.condition {
            AlertCondition::Threshold(t) => Some(t.clone()),
            AlertCondition::QueueDepth { .. } => match Node::new(&rule.condition) {
                Node::Threshold { threshold, .. } => Some(threshold),
                _ => None,
            },
            _ => None,
        };
        let mut instances = Instances::default();
        if !per_component && series.is_none() {
            instances.insert(String::new(), Instance::new(&rule, None, now));
        }
        // Critical rules come first: an evaluation then knows what they inhibit before it
        // reaches the others, in one pass.
        let position = if rule.severity == AlertSeverity::Critical {
            state
                .rules
                .iter()
                .position(|r| r.rule.severity != AlertSeverity::Critical)
                .unwrap_or(state.rules.len())
        } else {
            state.rules.len()
        };
        let rule_count = state.rules.len();
        state
            .signal_index
            .insert(position, &rule.condition, rule_count);
        state.rules.insert(
            position,
            RuleState {
                uses_signals: rule.condition.uses_signals(),
                metrics: listen::metrics_of(&rule.condition),
                rule,
                channels,
                per_component,
                series,
                instances,
                group_until: None,
                builtin,
            },
        );
        self.inner.attach_restored(&mut state, position);
        drop(state);
        self.inner.replay_deferred();
        Ok(())
    }

    /// Replaces the escalation levels.
    pub fn set_escalation(&self, levels: Vec<EscalationLevel>) -> Result<(), AlertError> {
        let mut resolved = Vec::new();
        for (number, level) in levels.into_iter().enumerate() {
            let mut names = Vec::new();
            for (index, channel) in level.channels.iter().enumerate() {
                let key = format!("escalation.{number}.channels.{index}");
                names.push(self.inner.ensure_channel(channel, &key)?);
            }
            resolved.push((names, level.after));
        }
        self.inner.lock_state().escalation = resolved;
        Ok(())
    }
}
