//! Errors shared by every andon crate.

use std::fmt;
use std::path::PathBuf;

use crate::line::LineStopped;

/// A boxed error from a component, for [`AndonError::Component`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible andon operation.
///
/// Component crates have their own error enums that convert into this one with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AndonError {
    /// The configuration is invalid; the message names the file, position, key and fix.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The line is stopped: a worker calling [`Line::checkpoint`](crate::Line::checkpoint) must halt.
    #[error(transparent)]
    LineStopped(#[from] LineStopped),

    /// A component (`log`, `metrics`, `trace`, `observe`, `alert`, …) failed.
    #[error("andon {component}: {source}")]
    Component {
        /// The component that failed.
        component: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },

    /// The component was shut down and takes no more work.
    #[error("andon {component} is shut down: create a new one to continue")]
    ShutDown {
        /// The component that was shut down.
        component: &'static str,
    },
}

impl AndonError {
    /// Wraps a component's error.
    pub fn component(component: &'static str, source: impl Into<BoxError>) -> Self {
        AndonError::Component {
            component,
            source: source.into(),
        }
    }
}

/// Implements `From<ComponentError> for AndonError` the one way a component's error becomes
/// andon's: its `Config(ConfigError)` stays an [`AndonError::Config`], its `ShutDown` becomes
/// [`AndonError::ShutDown`] naming the component, and any other error is wrapped by
/// [`AndonError::component`] under that name.
///
/// `impl_into_andon_error!(ErrorType, "name")`, for an error enum with a `Config(ConfigError)`
/// variant and a unit `ShutDown` variant; `"name"` is the component's short name (`"log"`,
/// `"alert"`, …).
///
/// ```
/// use andon_core::{AndonError, ConfigError};
///
/// #[derive(Debug, thiserror::Error)]
/// enum QueueError {
///     #[error(transparent)]
///     Config(#[from] ConfigError),
///     #[error("the queue is full: retry later")]
///     Full,
///     #[error("the queue is shut down")]
///     ShutDown,
/// }
///
/// andon_core::impl_into_andon_error!(QueueError, "queue");
///
/// let shut: AndonError = QueueError::ShutDown.into();
/// assert!(matches!(shut, AndonError::ShutDown { component: "queue" }));
/// let full: AndonError = QueueError::Full.into();
/// assert!(matches!(full, AndonError::Component { component: "queue", .. }));
/// ```
#[macro_export]
macro_rules! impl_into_andon_error {
    ($error:ident, $component:literal) => {
        impl ::core::convert::From<$error> for $crate::AndonError {
            fn from(error: $error) -> Self {
                match error {
                    $error::Config(config) => $crate::AndonError::Config(config),
                    $error::ShutDown => $crate::AndonError::ShutDown {
                        component: $component,
                    },
                    other => $crate::AndonError::component($component, other),
                }
            }
        }
    };
}

/// A configuration error: what is wrong, where, and what to write instead.
///
/// Displayed as `FILE:LINE:COLUMN: KEY: MESSAGE`, leaving out the parts that are unknown, for
/// example `andon.toml:7:1: tracer.sampling_ratio: must be between 0 and 1 (got 1.5)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the configuration came from, when it came from a file.
    pub file: Option<PathBuf>,
    /// The 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// The 1-based column of the offending value, when known.
    pub column: Option<usize>,
    /// The dotted key of the offending value (`tracer.sampling_ratio`), when known.
    pub key: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` with no position yet.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            column: None,
            key: Some(key.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            wrote = true;
        }
        if let Some(line) = self.line {
            if wrote {
                f.write_str(":")?;
            }
            write!(f, "{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            wrote = true;
        }
        if let Some(key) = &self.key {
            if wrote {
                f.write_str(": ")?;
            }
            write!(f, "{key}")?;
            wrote = true;
        }
        if wrote {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_error_display_leaves_out_what_is_unknown() {
        let mut e = ConfigError::new("tracer.sampling_ratio", "must be between 0 and 1 (got 1.5)");
        assert_eq!(
            e.to_string(),
            "tracer.sampling_ratio: must be between 0 and 1 (got 1.5)"
        );
        e.file = Some("andon.toml".into());
        e.line = Some(7);
        e.column = Some(18);
        assert_eq!(
            e.to_string(),
            "andon.toml:7:18: tracer.sampling_ratio: must be between 0 and 1 (got 1.5)"
        );
    }

    #[test]
    fn component_errors_name_the_component() {
        let e = AndonError::component("alert", "channel slack: connection refused");
        assert_eq!(
            e.to_string(),
            "andon alert: channel slack: connection refused"
        );
    }
}
