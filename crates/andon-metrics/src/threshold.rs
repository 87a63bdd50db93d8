//! A threshold on a metric: the level that raises a signal, the level that clears it, and the
//! signal's color.

use andon_core::config::ThresholdsConfig;
use andon_core::{Color, ConfigError};

/// A threshold on a metric: a value above `level` raises a signal of `color` once; a value at or
/// below `clear` afterwards raises a GREEN one.
///
/// ```
/// use andon_core::Color;
/// use andon_metrics::Threshold;
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

    /// The threshold called `name` in the configuration, if it is set.
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

    /// Checks it as the configuration would: level above 0, clear below level, not GREEN.
    /// Errors name `metrics.thresholds.<name>`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key and what is allowed.
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let key = format!("metrics.thresholds.{name}");
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

    /// The same threshold in another unit (`factor` times every level).
    pub(crate) fn scaled(self, factor: f64) -> Self {
        Threshold {
            level: self.level * factor,
            clear: self.clear * factor,
            color: self.color,
        }
    }
}
