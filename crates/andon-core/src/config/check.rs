//! Helpers for the `validate` methods of the sections: each checks one kind of rule and,
//! when it is broken, names the field (`section.field`) and says what to write instead.

use std::time::Duration;

use crate::error::ConfigError;

pub(crate) fn key(section: &str, field: &str) -> String {
    format!("{section}.{field}")
}

/// A count or size that must be at least 1; the error suggests `good`, a sensible value.
pub(crate) fn at_least_one(
    section: &str,
    field: &str,
    value: u64,
    good: &str,
) -> Result<(), ConfigError> {
    not_zero(
        section,
        field,
        value,
        &format!(" ({good} is a good default)"),
    )
}

/// A count, size or interval that must not be 0; the error says "must be at least 1"
/// followed by `fix`, which starts with its own punctuation, such as `: use 1024` or
/// ` second (the design uses 60)`.
pub(crate) fn not_zero<T: Default + PartialEq>(
    section: &str,
    field: &str,
    value: T,
    fix: &str,
) -> Result<(), ConfigError> {
    if value == T::default() {
        Err(ConfigError::new(
            key(section, field),
            format!("must be at least 1{fix}"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn positive(section: &str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::new(
            key(section, field),
            format!("must be greater than 0 (got {value})"),
        ))
    }
}

pub(crate) fn percent(section: &str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            key(section, field),
            format!("must be a percentage above 0 and at most 100 (got {value})"),
        ))
    }
}

pub(crate) fn not_empty(section: &str, field: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::new(key(section, field), "must not be empty"))
    } else {
        Ok(())
    }
}

/// A duration (or an optional one, when set) that must be longer than 0; the error says
/// "must be longer than 0" followed by `fix`, which starts with its own punctuation, such
/// as `, such as "5m"`.
pub(crate) fn longer_than_zero(
    section: &str,
    field: &str,
    value: impl Into<Option<Duration>>,
    fix: &str,
) -> Result<(), ConfigError> {
    if value.into().is_some_and(|value| value.is_zero()) {
        Err(ConfigError::new(
            key(section, field),
            format!("must be longer than 0{fix}"),
        ))
    } else {
        Ok(())
    }
}

/// A critical level `field` that must not be below its warning level `warning_field` (when
/// that is set).
pub(crate) fn not_below<T: PartialOrd>(
    section: &str,
    field: &str,
    value: T,
    warning_field: &str,
    warning: impl Into<Option<T>>,
) -> Result<(), ConfigError> {
    if warning.into().is_some_and(|warning| value < warning) {
        Err(ConfigError::new(
            key(section, field),
            format!("must not be below {warning_field}"),
        ))
    } else {
        Ok(())
    }
}
