//! `[line]`: when the line stops and how it resumes.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::ConfigError;
use crate::signal::Color;

/// `[line]`: which signals stop the line, from which components, and how it resumes.
///
/// ```toml
/// [line]
/// stop_on = ["red"]
/// components = []            # empty: any component may stop the line
/// auto_resume_on_green = false
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineConfig {
    /// The colors that stop the line. Default `["red"]`; `[]` never stops it.
    pub stop_on: Vec<Color>,
    /// The components that may stop the line; empty (the default) means all.
    pub components: Vec<String>,
    /// A GREEN from the component that stopped the line resumes it. Default `false`: only an
    /// explicit resume does.
    pub auto_resume_on_green: bool,
}

impl Default for LineConfig {
    fn default() -> Self {
        LineConfig {
            stop_on: vec![Color::Red],
            components: Vec::new(),
            auto_resume_on_green: false,
        }
    }
}

impl LineConfig {
    /// Whether a signal of `color` from `component` stops the line.
    pub fn stops(&self, color: Color, component: Option<&str>) -> bool {
        self.stop_on.contains(&color)
            && (self.components.is_empty()
                || component.is_some_and(|c| self.components.iter().any(|allowed| allowed == c)))
    }

    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.stop_on.contains(&Color::Green) {
            return Err(ConfigError::new(
                check::key(section, "stop_on"),
                "GREEN means normal and cannot stop the line: use \"red\" and/or \"yellow\"",
            ));
        }
        for (index, component) in self.components.iter().enumerate() {
            check::not_empty(section, &format!("components.{index}"), component)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_by_color_and_component() {
        let mut config = LineConfig::default();
        assert!(config.stops(Color::Red, None));
        assert!(!config.stops(Color::Yellow, Some("db")));
        config.components = vec!["db".into()];
        assert!(config.stops(Color::Red, Some("db")));
        assert!(!config.stops(Color::Red, Some("web")));
        assert!(!config.stops(Color::Red, None));
    }
}
