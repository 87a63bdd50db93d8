//! `[line]`: when the line stops and how it resumes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::ConfigError;
use crate::signal::Color;

/// `[line]`: which signals stop the line, from which components, and how it resumes.
///
/// ```toml
/// [line]
/// stop_on = ["red"]
/// components = []            # empty: any application component may stop the line
/// stop_on_host_health = false  # the observer's host-health REDs light, alert, but do not stop
/// auto_resume_on_green = false
/// escalate_yellow_after = "5m" # optional: an unhandled YELLOW stops the line after 5 minutes
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LineConfig {
    /// The colors that stop the line. Default `["red"]`; `[]` never stops it.
    pub stop_on: Vec<Color>,
    /// The components that may stop the line; empty (the default) means every application
    /// component. The observer's host-health signals (component
    /// [`HOST_HEALTH_COMPONENT`](LineConfig::HOST_HEALTH_COMPONENT)) stop it only when listed
    /// here by name or when `stop_on_host_health` is set.
    pub components: Vec<String>,
    /// The observer's own host-health signals (a busy or full host, component `observer`) stop
    /// the line. Default `false`: they light the observer's station, alert and are recorded,
    /// but a host under load (a compiler, another service) does not halt the application's
    /// line; its own REDs do.
    pub stop_on_host_health: bool,
    /// A GREEN from the component that stopped the line resumes it. Default `false`: only an
    /// explicit resume does.
    pub auto_resume_on_green: bool,
    /// A YELLOW from a component that may stop the line, not followed within this long by a
    /// GREEN (or an acknowledgement) from the same component, escalates to a RED that stops
    /// the line. Unset (the default): a YELLOW never stops the line unless `stop_on` has it.
    #[serde(
        default,
        with = "super::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub escalate_yellow_after: Option<Duration>,
    /// The file holding the line's state (stopped by which signal, or running), written durably
    /// before a stop or resume is answered and restored on start, so a crash never turns a
    /// stopped line into a running one. None by default in the library; the agent keeps it in
    /// its data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<std::path::PathBuf>,
}

impl Default for LineConfig {
    fn default() -> Self {
        LineConfig {
            stop_on: vec![Color::Red],
            components: Vec::new(),
            stop_on_host_health: false,
            auto_resume_on_green: false,
            escalate_yellow_after: None,
            state_file: None,
        }
    }
}

impl LineConfig {
    /// The component of the observer's host-health signals, which stop the line only when
    /// `stop_on_host_health` is set or `components` names it.
    pub const HOST_HEALTH_COMPONENT: &'static str = "observer";

    /// Whether a signal of `color` from `component` stops the line: its color is in `stop_on`,
    /// and its component is listed in `components` (or that list is empty); a host-health
    /// signal from [`HOST_HEALTH_COMPONENT`](LineConfig::HOST_HEALTH_COMPONENT) needs
    /// `stop_on_host_health` or to be listed by name.
    pub fn stops(&self, color: Color, component: Option<&str>) -> bool {
        if !self.stop_on.contains(&color) {
            return false;
        }
        let listed = |c: &str| self.components.iter().any(|allowed| allowed == c);
        match component {
            Some(c) if c == Self::HOST_HEALTH_COMPONENT => self.stop_on_host_health || listed(c),
            Some(c) => self.components.is_empty() || listed(c),
            None => self.components.is_empty(),
        }
    }

    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.stop_on.contains(&Color::Green) {
            return Err(ConfigError::new(
                check::key(section, "stop_on"),
                "GREEN means normal and cannot stop the line: use \"red\" and/or \"yellow\"",
            ));
        }
        if let Some(after) = self.escalate_yellow_after {
            let fix = ", such as \"5m\", or be left out";
            check::longer_than_zero(section, "escalate_yellow_after", after, fix)?;
            if !self.stop_on.contains(&Color::Red) {
                return Err(ConfigError::new(
                    check::key(section, "escalate_yellow_after"),
                    "escalates a YELLOW to a RED that stops the line: add \"red\" to stop_on, or leave escalate_yellow_after out",
                ));
            }
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

    #[test]
    fn host_health_stops_the_line_only_when_the_config_says_so() {
        let observer = Some(LineConfig::HOST_HEALTH_COMPONENT);
        let mut config = LineConfig::default();
        assert!(config.stops(Color::Red, Some("weld-1")));
        assert!(
            !config.stops(Color::Red, observer),
            "a busy host does not stop the line by default"
        );
        config.stop_on_host_health = true;
        assert!(config.stops(Color::Red, observer));
        assert!(
            !config.stops(Color::Yellow, observer),
            "still only the stop_on colors"
        );

        let listed = LineConfig {
            components: vec!["weld-1".into(), "observer".into()],
            ..LineConfig::default()
        };
        assert!(listed.stops(Color::Red, observer), "named in components");
        let other = LineConfig {
            components: vec!["weld-1".into()],
            ..LineConfig::default()
        };
        assert!(!other.stops(Color::Red, observer));

        use crate::config::AndonConfig;
        let config = AndonConfig::from_toml_str("[line]\nstop_on_host_health = true\n").unwrap();
        assert!(config.line.stops(Color::Red, observer));
        assert!(!AndonConfig::default().line.stops(Color::Red, observer));
    }

    #[test]
    fn escalate_yellow_after_is_a_duration_that_needs_red_in_stop_on() {
        use crate::config::AndonConfig;
        assert_eq!(LineConfig::default().escalate_yellow_after, None);
        let config =
            AndonConfig::from_toml_str("[line]\nescalate_yellow_after = \"5m\"\n").unwrap();
        assert_eq!(
            config.line.escalate_yellow_after,
            Some(Duration::from_secs(300))
        );
        let err = AndonConfig::from_toml_str(
            "[line]\nstop_on = [\"yellow\"]\nescalate_yellow_after = \"5m\"\n",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("line.escalate_yellow_after"));
        assert!(err.message.contains("add \"red\" to stop_on"), "{err}");
        let err =
            AndonConfig::from_toml_str("[line]\nescalate_yellow_after = \"0s\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("line.escalate_yellow_after"));
        let err =
            AndonConfig::from_toml_str("[line]\nescalate_yellow_after = \"soon\"\n").unwrap_err();
        assert!(err.message.contains("is not a duration"), "{err}");
    }
}
