//! Silences: matchers with an expiry that mute the notifications of matching alerts.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// One label matcher of a silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// The label equals the value.
    Equal(String, String),
    /// The label is absent or differs from the value.
    NotEqual(String, String),
}

impl Matcher {
    /// `name = value`.
    pub fn eq(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher::Equal(name.into(), value.into())
    }

    /// `name != value`.
    pub fn ne(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher::NotEqual(name.into(), value.into())
    }

    /// Whether the labels satisfy the matcher.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Matcher::Equal(k, v) => labels.get(k) == Some(v),
            Matcher::NotEqual(k, v) => labels.get(k) != Some(v),
        }
    }
}

/// A silence: while active, alerts whose labels satisfy every matcher are not notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// Its id, for [`AlertManager::expire_silence`](crate::AlertManager::expire_silence).
    pub id: String,
    /// Every matcher must hold.
    pub matchers: Vec<Matcher>,
    /// When it starts muting.
    pub starts_at: SystemTime,
    /// When it stops.
    pub ends_at: SystemTime,
    /// Who created it.
    pub created_by: String,
    /// Why the alerts are muted, for whoever looks at the silence later.
    pub comment: String,
}

impl Silence {
    /// Whether it mutes an alert with `labels` at `now`.
    pub fn mutes(&self, labels: &BTreeMap<String, String>, now: SystemTime) -> bool {
        now >= self.starts_at
            && now < self.ends_at
            && self.matchers.iter().all(|m| m.matches(labels))
    }
}
