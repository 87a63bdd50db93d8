//! `[history]`: where signals and alert events are kept for root-cause analysis, and for how
//! long.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check;
use super::secret::Secret;
use crate::contract::SectionConfig;
use crate::error::ConfigError;

/// The default of `[history] fleet_interval`.
pub const DEFAULT_FLEET_INTERVAL: Duration = Duration::from_secs(10);

/// `[history]`: the signal and alert history (the Knowledge of MAPE-K), an embedded SQLite file.
///
/// ```toml
/// [history]
/// enabled = true
/// path = "andon-history.sqlite3"   # ":memory:" keeps it in memory only
/// queue_capacity = 65536            # records waiting for the writer; more are counted as dropped
/// max_queue_bytes = 67108864        # and the bytes they may take (64 MiB); more are counted as dropped
/// batch_size = 1024                 # records per transaction
/// retention_age = "90days"          # "0s": no age limit
/// retention_rows = 10000000         # per table; 0: no row limit
/// # PostgreSQL instead of the file, shared by a fleet of agents (issue 19):
/// # url = "postgres://andon:${PGPASSWORD}@127.0.0.1:5432/andon"
/// # TLS as libpq: sslmode=disable|prefer (default)|require|verify-ca|verify-full, sslrootcert=CA file
/// # url = "postgres://andon:${PGPASSWORD}@db.plant:5432/andon?sslmode=verify-full&sslrootcert=/etc/andon/pg-ca.pem"
/// # instance = "press-7"             # default: the host name
/// # fleet_interval = "10s"           # how often the fleet row is refreshed
/// # board_url = "http://press-7:7070/"  # the link the fleet view shows; default the agent's address
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Keep a history. Default `false`: nothing is written to disk unless asked.
    pub enabled: bool,
    /// The SQLite file (created with its folder's permissions), or `":memory:"`.
    pub path: String,
    /// How many records may wait for the writer; a record arriving at a full queue is counted as
    /// dropped, never waited for. Default 65536.
    pub queue_capacity: usize,
    /// How many bytes the records waiting for the writer may take (messages, attributes, alert
    /// labels, diagnostics snapshots, estimated); a record that would pass it is counted as
    /// dropped, like one arriving at a full queue. Default 67108864 (64 MiB).
    pub max_queue_bytes: u64,
    /// How many records the writer commits in one transaction, at most. Default 1024.
    pub batch_size: usize,
    /// Records older than this are deleted in the background. Default 90 days; `"0s"` keeps
    /// them forever.
    #[serde(with = "super::duration")]
    pub retention_age: Duration,
    /// At most this many rows are kept per table (signals, alert events, line events,
    /// diagnostics); the oldest go first. Default 10,000,000; 0 means no limit.
    pub retention_rows: u64,
    /// A PostgreSQL URL (`postgres://user:${PGPASSWORD}@host:5432/db`): the history (and the
    /// fleet's line states) go there instead of `path`. Never printed: it carries the password.
    /// TLS as libpq chooses it: `sslmode=disable|prefer|require|verify-ca|verify-full` (default
    /// `prefer`: TLS when the server offers it, unverified) and `sslrootcert=/path/ca.pem` (or
    /// `system`), needed by the `verify-*` modes; `allow` is refused. Default none: the SQLite
    /// file.
    pub url: Option<Secret>,
    /// The name this agent's rows carry in a shared database. Default: the host name.
    pub instance: Option<String>,
    /// How often the agent refreshes its fleet row (line state and heartbeat) in PostgreSQL; a
    /// row older than three intervals shows NO DATA. Default 10s.
    #[serde(with = "super::duration")]
    pub fleet_interval: Duration,
    /// The board link other agents' fleet views show for this one. Default: the agent's own
    /// listen address.
    pub board_url: Option<String>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: false,
            path: "andon-history.sqlite3".to_owned(),
            queue_capacity: 65_536,
            max_queue_bytes: 64 << 20,
            batch_size: 1024,
            retention_age: Duration::from_secs(90 * 24 * 3600),
            retention_rows: 10_000_000,
            url: None,
            instance: None,
            fleet_interval: DEFAULT_FLEET_INTERVAL,
            board_url: None,
        }
    }
}

impl SectionConfig for HistoryConfig {
    const SECTION: &'static str = "history";

    /// Checks every value of the `[history]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`history.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        if self.enabled {
            check::not_empty(section, "path", &self.path)?;
        }
        check::not_zero(
            section,
            "queue_capacity",
            self.queue_capacity,
            ": use 65536 unless memory is tight",
        )?;
        if self.max_queue_bytes < 4096 {
            return Err(ConfigError::new(
                check::key(section, "max_queue_bytes"),
                format!(
                    "must be at least 4096 (got {}): use 67108864 (64 MiB) unless memory is tight",
                    self.max_queue_bytes
                ),
            ));
        }
        if let Some(url) = &self.url {
            let text = url.expose();
            if url.is_placeholder() {
                return Err(ConfigError::new(
                    check::key(section, "url"),
                    "is the placeholder [redacted]: write the real URL, with the password from ${PGPASSWORD}",
                ));
            }
            if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
                return Err(ConfigError::new(
                    check::key(section, "url"),
                    "must start with postgres:// (such as postgres://andon:${PGPASSWORD}@127.0.0.1:5432/andon), or be left out to keep the SQLite file",
                ));
            }
        }
        if let Some(url) = &self.url {
            check_ssl(section, url.expose())?;
        }
        if let Some(instance) = &self.instance {
            check::not_empty(section, "instance", instance)?;
            if instance.len() > 128 {
                return Err(ConfigError::new(
                    check::key(section, "instance"),
                    "must be at most 128 characters: use the host or line name",
                ));
            }
        }
        if self.fleet_interval < Duration::from_secs(1) {
            return Err(ConfigError::new(
                check::key(section, "fleet_interval"),
                "must be at least 1s: use 10s",
            ));
        }
        check::not_zero(section, "batch_size", self.batch_size, ": use 1024")?;
        if self.batch_size > self.queue_capacity {
            return Err(ConfigError::new(
                check::key(section, "batch_size"),
                format!(
                    "must not be larger than queue_capacity ({}) (got {}): lower batch_size or raise queue_capacity",
                    self.queue_capacity, self.batch_size
                ),
            ));
        }
        Ok(())
    }
}

/// The `sslmode` values of libpq the PostgreSQL history supports (`allow` is not one).
const HISTORY_SSL_MODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// `sslmode` and `sslrootcert` in the URL's query: a mode the history supports, and a root
/// certificate for the `verify-*` modes. Errors never show the URL.
fn check_ssl(section: &str, url: &str) -> Result<(), ConfigError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    };
    let Some(mode) = param("sslmode") else {
        return Ok(());
    };
    if !HISTORY_SSL_MODES.contains(&mode) {
        let fix = if mode == "allow" {
            "use sslmode=prefer (TLS when the server offers it) or sslmode=disable".to_owned()
        } else {
            format!(
                "use one of {} (verify-full with sslrootcert=/path/to/ca.pem for a verified connection)",
                HISTORY_SSL_MODES.join(", ")
            )
        };
        return Err(ConfigError::new(
            check::key(section, "url"),
            format!("sslmode={mode} is not supported: {fix}"),
        ));
    }
    if mode.starts_with("verify-") && param("sslrootcert").is_none_or(str::is_empty) {
        return Err(ConfigError::new(
            check::key(section, "url"),
            format!(
                "sslmode={mode} needs sslrootcert=/path/to/ca.pem (the CA that signed the server's certificate) or sslrootcert=system"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    #[test]
    fn the_postgres_url_takes_its_password_from_the_environment_and_never_shows_it() {
        let config = AndonConfig::from_toml_str_with_env(
            "[history]\nenabled = true\nurl = \"postgres://andon:${PGPASSWORD}@127.0.0.1:5432/andon\"\ninstance = \"press-7\"\nfleet_interval = \"5s\"\n",
            &|name| (name == "PGPASSWORD").then(|| "s3cr3t-pw".to_owned()),
        )
        .unwrap();
        let history = &config.history;
        assert_eq!(
            history.url.as_ref().map(Secret::expose),
            Some("postgres://andon:s3cr3t-pw@127.0.0.1:5432/andon")
        );
        assert_eq!(history.instance.as_deref(), Some("press-7"));
        assert_eq!(history.fleet_interval, Duration::from_secs(5));
        assert!(!format!("{config:?}").contains("s3cr3t-pw"));
    }

    #[test]
    fn defaults_are_off_and_bounded() {
        let config = AndonConfig::from_toml_str("").unwrap();
        assert!(!config.history.enabled);
        assert_eq!(config.history.queue_capacity, 65_536);
        assert_eq!(
            config.history.retention_age,
            Duration::from_secs(90 * 86_400)
        );
    }

    #[test]
    fn every_key_parses() {
        let config = AndonConfig::from_toml_str(
            "[history]\nenabled = true\npath = \"/var/lib/andon/h.db\"\nqueue_capacity = 10\nbatch_size = 5\nretention_age = \"7d\"\nretention_rows = 100\n",
        )
        .unwrap();
        let history = config.history;
        assert!(history.enabled);
        assert_eq!(history.path, "/var/lib/andon/h.db");
        assert_eq!((history.queue_capacity, history.batch_size), (10, 5));
        assert_eq!(history.retention_age, Duration::from_secs(7 * 86_400));
        assert_eq!(history.retention_rows, 100);
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[history]\nenabled = true\npath = \" \"\n",
                "history.path",
                "must not be empty",
            ),
            (
                "[history]\nqueue_capacity = 0\n",
                "history.queue_capacity",
                "at least 1",
            ),
            (
                "[history]\nbatch_size = 0\n",
                "history.batch_size",
                "at least 1",
            ),
            (
                "[history]\nqueue_capacity = 4\nbatch_size = 8\n",
                "history.batch_size",
                "lower batch_size or raise queue_capacity",
            ),
            (
                "[history]\nurl = \"mysql://db/andon\"\n",
                "history.url",
                "must start with postgres://",
            ),
            (
                "[history]\nurl = \"postgres://a@db/andon?sslmode=allow\"\n",
                "history.url",
                "sslmode=allow is not supported: use sslmode=prefer",
            ),
            (
                "[history]\nurl = \"postgres://a@db/andon?sslmode=verify-full\"\n",
                "history.url",
                "needs sslrootcert=",
            ),
            (
                "[history]\nfleet_interval = \"0s\"\n",
                "history.fleet_interval",
                "at least 1s",
            ),
            (
                "[history]\nretention_age = \"forever\"\n",
                "history.retention_age",
                "is not a duration",
            ),
        ];
        crate::config::refused(cases);
    }
}
