//! The built-in rule and channel: with no configured rule, every RED signal fires an alert a
//! person sees without any server (`[alerts] default_rule`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::config::ChannelConfig;
use andon_core::{AlertSeverity, Color};
use andon_runtime::write;

use super::{AlertManager, Inner, SignalIndex, State};
use crate::channel::ChannelHandle;
use crate::error::AlertError;
use crate::rule::{AlertCondition, AlertRule, Comparison, Threshold};

/// The gauge the umbrella sets to 1 while a heartbeat is down (missed or failed), 0 once it
/// checked in again; its label `name` is the heartbeat's name.
pub const HEARTBEAT_DOWN_METRIC: &str = andon_core::names::HEARTBEAT_DOWN;

/// The name of the built-in rule.
pub(crate) const DEFAULT_RULE: &str = "red-signal";

/// The name of the built-in channel: andon's own log.
pub(crate) const LOG_CHANNEL: &str = "log";

/// The built-in rule: every RED signal fires a critical alert, one per component, that
/// resolves when its component sent no RED for a minute.
pub(crate) fn default_rule() -> AlertRule {
    AlertRule {
        name: DEFAULT_RULE.to_owned(),
        condition: AlertCondition::Signal {
            color: Color::Red,
            component: None,
            count: 1,
            window: Duration::from_secs(60),
        },
        severity: AlertSeverity::Critical,
        ..AlertRule::default()
    }
}

/// The built-in rule of one heartbeat: fires while it is down, whatever else happens, and
/// resolves only when it checks in again (a RED that fired the `red-signal` rule would resolve
/// a minute later with the job still silent).
pub(crate) fn heartbeat_rule(name: &str, severity: AlertSeverity) -> AlertRule {
    AlertRule {
        name: format!("heartbeat-{name}"),
        condition: AlertCondition::Threshold(Threshold {
            metric: HEARTBEAT_DOWN_METRIC.to_owned(),
            labels: vec![("name".to_owned(), name.to_owned())],
            comparison: Comparison::Above,
            value: 0.5,
            clear: None,
            rate_over: None,
        }),
        severity,
        summary: Some(format!(
            "heartbeat {name} is down: no check-in in time, or a failure"
        )),
        ..AlertRule::default()
    }
}

impl AlertManager {
    /// Adds a built-in rule per heartbeat (`heartbeat-NAME`, on
    /// [`HEARTBEAT_DOWN_METRIC`]), notifying the same channels as the built-in `red-signal`
    /// rule, when that rule is in effect (no `[[alerts.rules]]` and `[alerts] default_rule`):
    /// so a missed heartbeat's alert stays open until the next success. With rules of your
    /// own, write the heartbeat rule you want (docs/agent.md shows one). Call it before the
    /// manager is wired as a metrics listener. Returns how many rules were added.
    pub fn add_heartbeat_rules(
        &self,
        heartbeats: &[(String, AlertSeverity)],
    ) -> Result<usize, AlertError> {
        if !self.inner.config.rules.is_empty() || !self.inner.config.default_rule {
            return Ok(0);
        }
        let channels: Vec<String> = if self.inner.config.channels.is_empty() {
            vec![LOG_CHANNEL.to_owned()]
        } else {
            self.inner.config.channels.keys().cloned().collect()
        };
        for (name, severity) in heartbeats {
            self.insert_rule(heartbeat_rule(name, *severity), channels.clone(), true)?;
        }
        Ok(heartbeats.len())
    }

    /// Adds the built-in rule, notifying every configured channel, or the built-in `log`
    /// channel when none is configured.
    pub(super) fn add_default_rule(&self) -> Result<(), AlertError> {
        let channels: Vec<String> = if self.inner.config.channels.is_empty() {
            if tokio::runtime::Handle::try_current().is_ok() {
                self.inner.ensure_log_channel()?;
            } else {
                // Started with the evaluation task, at the first signal or evaluation.
                self.inner.start_later.store(true, Ordering::Relaxed);
            }
            vec![LOG_CHANNEL.to_owned()]
        } else {
            self.inner.config.channels.keys().cloned().collect()
        };
        self.insert_rule(default_rule(), channels, true)
    }
}

impl AlertManager {
    /// Starts what a manager built outside a tokio runtime could not: the evaluation task
    /// and, for the built-in rule, the built-in `log` channel. One atomic load when there is
    /// nothing to do.
    pub(super) fn start_deferred(&self) {
        if !self.inner.start_later.swap(false, Ordering::Relaxed) {
            return;
        }
        let builtin_log = self.inner.config.channels.is_empty()
            && self.inner.lock_state().rules.iter().any(|r| r.builtin);
        if builtin_log && self.inner.ensure_log_channel().is_err() {
            self.inner.start_later.store(true, Ordering::Relaxed);
        }
        self.start_listening();
    }
}

impl Inner {
    /// Starts the built-in `log` channel unless a channel of that name exists.
    fn ensure_log_channel(&self) -> Result<(), AlertError> {
        if self.read_channels().contains_key(LOG_CHANNEL) {
            return Ok(());
        }
        let handle =
            ChannelHandle::spawn(LOG_CHANNEL, &ChannelConfig::Log {}, self.settings.clone())?;
        self.write_channels()
            .entry(LOG_CHANNEL.to_owned())
            .or_insert(handle);
        Ok(())
    }

    /// Removes the built-in rule (and its alerts): a rule was added, whose channels are
    /// `keep`. The built-in `log` channel goes too unless that rule or an escalation level
    /// uses it.
    pub(super) fn remove_builtin(&self, state: &mut State, keep: &[String]) {
        let builtin_log = !self.config.channels.contains_key(LOG_CHANNEL);
        let used = keep.iter().any(|c| c == LOG_CHANNEL)
            || state
                .escalation
                .iter()
                .any(|(channels, _)| channels.iter().any(|c| c == LOG_CHANNEL));
        if builtin_log && !used {
            write(&self.channels).remove(LOG_CHANNEL);
        }
        let State {
            rules,
            signal_index,
            ..
        } = state;
        let freed: usize = rules
            .iter()
            .filter(|r| r.builtin)
            .flat_map(|r| r.instances.values())
            .map(|i| i.bytes)
            .sum();
        self.instance_bytes.fetch_sub(freed, Ordering::Relaxed);
        rules.retain(|r| !r.builtin);
        *signal_index = SignalIndex::default();
        for (index, rs) in rules.iter().enumerate() {
            signal_index.insert(index, &rs.rule.condition, index);
        }
    }
}
