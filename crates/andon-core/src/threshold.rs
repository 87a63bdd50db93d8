//! A threshold with hysteresis: the level that raises a signal, the lower level that clears it,
//! and the signal's color; [`ThresholdState`] remembers, per watched series, whether it is
//! raised, so that a value hovering around the level raises one signal, not one per update.
//!
//! andon-metrics watches every series of a metric with it (`[metrics.thresholds]`); it is the
//! one home of the rule "raise above `level`, clear at or below `clear`".
//!
//! ```
//! use andon_core::Color;
//! use andon_core::threshold::{Crossing, Threshold, ThresholdState};
//!
//! let threshold = Threshold::new(100.0).with_color(Color::Red); // clears at 90
//! let state = ThresholdState::new();
//! assert_eq!(state.observe(&threshold, 120.0), Some(Crossing::Raised));
//! assert_eq!(state.observe(&threshold, 130.0), None); // already raised
//! assert_eq!(state.observe(&threshold, 95.0), None); // above the clear level
//! assert_eq!(state.observe(&threshold, 90.0), Some(Crossing::Cleared));
//! ```

use std::sync::atomic::{AtomicU8, Ordering};

use crate::config::ThresholdsConfig;
use crate::error::ConfigError;
use crate::severity::Color;

/// A threshold on a value: a value above `level` raises a signal of `color` once; a value at
/// or below `clear` afterwards clears it (a GREEN signal).
///
/// ```
/// use andon_core::Color;
/// use andon_core::threshold::Threshold;
///
/// let t = Threshold::new(100.0);
/// assert_eq!((t.level, t.clear, t.color), (100.0, 90.0, Color::Yellow));
/// let t = t.with_clear(50.0).with_color(Color::Red);
/// assert!(t.validate("my_backlog").is_ok());
/// assert!(Threshold::new(1.0).with_clear(2.0).validate("my_backlog").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// A value above this raises a signal.
    pub level: f64,
    /// After a signal, a value at or below this clears it.
    pub clear: f64,
    /// The color of the signal raised: YELLOW or RED.
    pub color: Color,
}

/// A value crossing a [`Threshold`], as [`Threshold::crossing`] and [`ThresholdState::observe`]
/// report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// The value went above the level: raise a signal of the threshold's color.
    Raised,
    /// After being raised, the value fell to the clear level or below: the GREEN signal.
    Cleared,
}

impl Threshold {
    /// A YELLOW threshold at `level` that clears at 90% of it, as `name = level` in
    /// `[metrics.thresholds]`.
    pub fn new(level: f64) -> Self {
        Threshold {
            level,
            clear: level * ThresholdsConfig::DEFAULT_CLEAR_RATIO,
            color: ThresholdsConfig::DEFAULT_COLOR,
        }
    }

    /// The threshold called `name` in `[metrics.thresholds]`, if it is set.
    pub fn from_config(config: &ThresholdsConfig, name: &str) -> Option<Self> {
        Some(Threshold {
            level: config.level(name)?,
            clear: config.clear_level(name)?,
            color: config.color(name),
        })
    }

    /// The same threshold, clearing at `clear`.
    #[must_use]
    pub fn with_clear(mut self, clear: f64) -> Self {
        self.clear = clear;
        self
    }

    /// The same threshold, raising `color`.
    #[must_use]
    pub fn with_color(mut self, color: Color) -> Self {
        self.color = color;
        self
    }

    /// The same threshold in another unit (`factor` times every level).
    #[must_use]
    pub fn scaled(self, factor: f64) -> Self {
        Threshold {
            level: self.level * factor,
            clear: self.clear * factor,
            color: self.color,
        }
    }

    /// What `value` does to a watch that is `raised` (or not): the hysteresis rule, as a pure
    /// function. `None` when nothing changes.
    pub fn crossing(&self, raised: bool, value: f64) -> Option<Crossing> {
        if !raised && value > self.level {
            Some(Crossing::Raised)
        } else if raised && value <= self.clear {
            Some(Crossing::Cleared)
        } else {
            None
        }
    }

    /// Checks it as `[metrics.thresholds]` would; errors name `metrics.thresholds.<name>`.
    ///
    /// # Errors
    ///
    /// As [`validate_at`](Self::validate_at).
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        self.validate_at(&format!("metrics.thresholds.{name}"))
    }

    /// Checks it: level above 0 and finite, clear below level, not GREEN. Errors name `key`
    /// (the level), `key.clear` and `key.color`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key and what is allowed.
    pub fn validate_at(&self, key: &str) -> Result<(), ConfigError> {
        if !(self.level > 0.0 && self.level.is_finite()) {
            return Err(ConfigError::new(
                key,
                format!("must be greater than 0 (got {})", self.level),
            ));
        }
        if !self.clear.is_finite() || self.clear >= self.level {
            return Err(ConfigError::new(
                format!("{key}.clear"),
                format!(
                    "must be below the level {} so the threshold can clear (got {})",
                    self.level, self.clear
                ),
            ));
        }
        if self.color == Color::Green {
            return Err(ConfigError::new(
                format!("{key}.color"),
                "must be yellow or red: GREEN is the signal of recovery",
            ));
        }
        Ok(())
    }
}

const NORMAL: u8 = 0;
const RAISED: u8 = 1;

/// Whether one watched series is raised, shared by the threads that update it: of several
/// updates racing across the level, exactly one reports the crossing.
#[derive(Debug, Default)]
pub struct ThresholdState(AtomicU8);

impl ThresholdState {
    /// A watch that is not raised.
    pub const fn new() -> Self {
        ThresholdState(AtomicU8::new(NORMAL))
    }

    /// Whether the watch is raised.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire) == RAISED
    }

    /// Applies `value` to the watch: [`Threshold::crossing`], and the state moves with it. Of
    /// several threads crossing at once only one gets `Some`.
    pub fn observe(&self, threshold: &Threshold, value: f64) -> Option<Crossing> {
        let raised = self.is_raised();
        let crossing = threshold.crossing(raised, value)?;
        let (from, to) = match crossing {
            Crossing::Raised => (NORMAL, RAISED),
            Crossing::Cleared => (RAISED, NORMAL),
        };
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| crossing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_between_clear_and_level_changes_nothing_either_way() {
        let t = Threshold::new(100.0);
        assert_eq!(t.crossing(false, 100.0), None); // at the level is not above it
        assert_eq!(t.crossing(false, 100.5), Some(Crossing::Raised));
        assert_eq!(t.crossing(true, 95.0), None);
        assert_eq!(t.crossing(true, 90.0), Some(Crossing::Cleared));
        assert_eq!(t.crossing(false, 10.0), None);
        assert_eq!(t.crossing(true, 500.0), None);
    }

    #[test]
    fn only_one_of_many_racing_updates_reports_the_crossing() {
        let t = Threshold::new(10.0);
        let state = std::sync::Arc::new(ThresholdState::new());
        let raised: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| state.observe(&t, 50.0).is_some() as usize))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(raised, 1);
        assert!(state.is_raised());
    }

    #[test]
    fn validation_names_the_key_and_the_fix() {
        let err = Threshold::new(0.0).validate_at("alerts.x").unwrap_err();
        assert!(err.to_string().contains("alerts.x"), "{err}");
        let err = Threshold::new(5.0)
            .with_clear(6.0)
            .validate("q")
            .unwrap_err();
        assert!(
            err.to_string().contains("metrics.thresholds.q.clear"),
            "{err}"
        );
        let err = Threshold::new(5.0)
            .with_color(Color::Green)
            .validate("q")
            .unwrap_err();
        assert!(err.to_string().contains("must be yellow or red"), "{err}");
        assert_eq!(Threshold::new(10.0).scaled(0.5).level, 5.0);
    }
}
