//! A threshold with hysteresis: the level that raises a signal, the lower level that clears it,
//! and the signal's color; [`ThresholdState`] remembers, per watched series, whether it is
//! raised, so that a value hovering around the level raises one signal, not one per update.
//!
//! andon-metrics watches every series of a metric with it (`[metrics.thresholds]`) and
//! andon-alert's metric conditions decide with [`Comparison::raised_after`]: it is the one home
//! of the rule "raise above `level`, clear at or below `clear`" (or, for `<` and `<=`, "raise
//! below `level`, clear at or above `clear`").
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
/// or below `clear` afterwards clears it (a GREEN signal). With another [`Comparison`] the
/// direction changes: for `<`, a value below `level` raises and one at or above `clear` clears.
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
    /// How a value is compared with `level`; [`Comparison::Above`] unless set.
    pub comparison: Comparison,
}

/// How a value is compared with a threshold's level, and so which way its clear level lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Comparison {
    /// `>`: raised while the value is strictly above the level.
    #[default]
    Above,
    /// `>=`: raised while the value is at or above the level.
    AtLeast,
    /// `<`: raised while the value is strictly below the level.
    Below,
    /// `<=`: raised while the value is at or below the level.
    AtMost,
}

impl Comparison {
    /// Parses `>`, `>=`, `<` or `<=`.
    ///
    /// ```
    /// use andon_core::threshold::Comparison;
    /// assert_eq!(Comparison::parse(">="), Some(Comparison::AtLeast));
    /// assert_eq!(Comparison::parse("=="), None);
    /// assert_eq!(Comparison::AtMost.symbol(), "<=");
    /// ```
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            ">" => Comparison::Above,
            ">=" => Comparison::AtLeast,
            "<" => Comparison::Below,
            "<=" => Comparison::AtMost,
            _ => return None,
        })
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }

    /// Whether `value` passes `level`.
    pub fn holds(self, value: f64, level: f64) -> bool {
        match self {
            Comparison::Above => value > level,
            Comparison::AtLeast => value >= level,
            Comparison::Below => value < level,
            Comparison::AtMost => value <= level,
        }
    }

    /// Whether a raised watch stays raised at `value` with clear level `clear`: above it for
    /// `>` and `>=`, below it for `<` and `<=` (reaching the clear level clears).
    pub fn stays_above_clear(self, value: f64, clear: f64) -> bool {
        match self {
            Comparison::Above | Comparison::AtLeast => value > clear,
            Comparison::Below | Comparison::AtMost => value < clear,
        }
    }

    /// The hysteresis rule as a pure function: whether a watch that is `raised` (or not) is
    /// raised after `value`. Not raised, it raises when `value` passes `level`; raised, it stays
    /// so until `value` reaches `clear`, or, without a clear level, while `value` passes `level`.
    ///
    /// ```
    /// use andon_core::threshold::Comparison;
    /// let c = Comparison::Below;
    /// assert!(c.raised_after(false, 4.0, 5.0, Some(8.0)));
    /// assert!(c.raised_after(true, 7.0, 5.0, Some(8.0))); // not yet back to 8
    /// assert!(!c.raised_after(true, 8.0, 5.0, Some(8.0)));
    /// assert!(!Comparison::AtLeast.raised_after(true, 4.0, 5.0, None));
    /// ```
    pub fn raised_after(self, raised: bool, value: f64, level: f64, clear: Option<f64>) -> bool {
        match clear {
            Some(clear) if raised => self.stays_above_clear(value, clear),
            _ => self.holds(value, level),
        }
    }

    /// Whether a value further than `level` is worse: `>` and `>=` raise upward.
    fn upward(self) -> bool {
        matches!(self, Comparison::Above | Comparison::AtLeast)
    }
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
            comparison: Comparison::Above,
        }
    }

    /// The threshold called `name` in `[metrics.thresholds]`, if it is set.
    pub fn from_config(config: &ThresholdsConfig, name: &str) -> Option<Self> {
        Some(Threshold {
            level: config.level(name)?,
            clear: config.clear_level(name)?,
            color: config.color(name),
            comparison: Comparison::Above,
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

    /// The same threshold compared by `comparison` (`<` raises below the level and clears at
    /// or above `clear`).
    #[must_use]
    pub fn with_comparison(mut self, comparison: Comparison) -> Self {
        self.comparison = comparison;
        self
    }

    /// The same threshold in another unit (`factor` times every level).
    #[must_use]
    pub fn scaled(self, factor: f64) -> Self {
        Threshold {
            level: self.level * factor,
            clear: self.clear * factor,
            color: self.color,
            comparison: self.comparison,
        }
    }

    /// What `value` does to a watch that is `raised` (or not): the hysteresis rule, as a pure
    /// function. `None` when nothing changes.
    pub fn crossing(&self, raised: bool, value: f64) -> Option<Crossing> {
        if value.is_nan() {
            // Neither above nor at-or-below anything: a NaN changes nothing.
            return None;
        }
        let after = self
            .comparison
            .raised_after(raised, value, self.level, Some(self.clear));
        match (raised, after) {
            (false, true) => Some(Crossing::Raised),
            (true, false) => Some(Crossing::Cleared),
            _ => None,
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

    /// Checks it: level above 0 and finite, clear below level (above it for `<` and `<=`),
    /// not GREEN. Errors name `key`
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
        let wrong_side = if self.comparison.upward() {
            self.clear >= self.level
        } else {
            self.clear <= self.level
        };
        if !self.clear.is_finite() || wrong_side {
            let side = if self.comparison.upward() {
                "below"
            } else {
                "above"
            };
            return Err(ConfigError::new(
                format!("{key}.clear"),
                format!(
                    "must be {side} the level {} so the threshold can clear (got {})",
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
    fn a_downward_threshold_raises_below_the_level_and_clears_at_or_above_clear() {
        let t = Threshold::new(10.0)
            .with_clear(20.0)
            .with_comparison(Comparison::Below);
        assert!(t.validate("free_workers").is_ok());
        assert_eq!(t.crossing(false, 10.0), None);
        assert_eq!(t.crossing(false, 9.0), Some(Crossing::Raised));
        assert_eq!(t.crossing(true, 15.0), None);
        assert_eq!(t.crossing(true, 20.0), Some(Crossing::Cleared));
        assert_eq!(t.crossing(true, f64::NAN), None);
        let err = t.with_clear(5.0).validate("free_workers").unwrap_err();
        assert!(err.to_string().contains("must be above the level"), "{err}");
        // Without a clear level a raised watch stays raised while the value passes the level.
        assert!(Comparison::AtMost.raised_after(true, 10.0, 10.0, None));
        assert!(!Comparison::AtMost.raised_after(true, 10.5, 10.0, None));
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
