//! Silences: those of `[[alerts.silences]]` and those added at run time, which mute the
//! notifications of the alerts they match.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::AlertManager;
use crate::error::AlertError;
use crate::silence::{Matcher, Silence};

impl AlertManager {
    /// (Re)loads `[[alerts.silences]]` as silences `config-0`, `config-1`, ...; those without
    /// `starts_at` start now.
    pub(super) fn load_config_silences(&self) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut loaded = Vec::new();
        for (index, config) in self.inner.config.silences.iter().enumerate() {
            let (starts_at, ends_at) = config.window(now, &format!("alerts.silences.{index}"))?;
            loaded.push(Silence {
                id: format!("config-{index}"),
                matchers: config
                    .matchers
                    .iter()
                    .map(|m| {
                        if m.equal {
                            Matcher::eq(&m.name, &m.value)
                        } else {
                            Matcher::ne(&m.name, &m.value)
                        }
                    })
                    .collect(),
                starts_at,
                ends_at,
                created_by: config.created_by.clone(),
                comment: config.comment.clone(),
            });
        }
        let mut state = self.inner.lock_state();
        state.silences.retain(|s| !s.id.starts_with("config-"));
        state.silences.extend(loaded);
        Ok(())
    }

    /// Mutes alerts matching every matcher for `duration` from now; returns the silence's id.
    pub fn add_silence(
        &self,
        matchers: Vec<Matcher>,
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> String {
        let now = self.inner.now();
        let id = format!(
            "silence-{}",
            self.inner.next_silence.fetch_add(1, Ordering::Relaxed)
        );
        self.inner.lock_state().silences.push(Silence {
            id: id.clone(),
            matchers,
            starts_at: now,
            ends_at: now + duration,
            created_by: created_by.to_owned(),
            comment: comment.to_owned(),
        });
        id
    }

    /// Ends a silence now.
    pub fn expire_silence(&self, id: &str) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut state = self.inner.lock_state();
        match state.silences.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.ends_at = now;
                Ok(())
            }
            None => Err(AlertError::UnknownSilence(id.to_owned())),
        }
    }

    /// The silences that have not expired.
    pub fn silences(&self) -> Vec<Silence> {
        let now = self.inner.now();
        self.inner
            .lock_state()
            .silences
            .iter()
            .filter(|s| s.ends_at > now)
            .cloned()
            .collect()
    }
}
