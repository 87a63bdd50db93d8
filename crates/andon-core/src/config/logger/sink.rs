//! `[logger] sinks`: where log records go, written as a name or a table with `type`, and the
//! checks of each sink's own keys (syslog transport, facility, names; Cloud Logging output).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::cloud_logging::CloudLoggingApi;
use crate::error::ConfigError;
use crate::severity::LogLevel;

mod deserialize;

/// Where log records go.
///
/// Written either as a name (`"Stdout"`, `"Stderr"`, `"File"`, `"Syslog"`, `"CloudLogging"`),
/// which takes every default, or as a table with `type` and the sink's own keys:
/// `{ type = "Syslog", transport = "tcp", address = "127.0.0.1:6514", level = "WARNING" }`.
///
/// `"Syslog"` means the local syslog daemon, as `syslog(3)` does: the short form, and a table
/// without `transport`, write to the unix socket `/dev/log` (or the socket named by `address`);
/// UDP and TCP only when `transport` asks for them.
///
/// The inherent `SinkConfig::deserialize` and `SinkConfig::serialize` (derived with
/// `remote = "Self"`) read and write the table form only; the `Deserialize` trait takes a bare
/// name too, read as the table `{ type = name }`, so this one definition serves both forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", tag = "type", deny_unknown_fields)]
pub enum SinkConfig {
    /// The process's standard output (what a container runtime or systemd collects).
    Stdout {
        /// The lowest level this sink takes; default: the logger's level.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<LogLevel>,
    },
    /// The process's standard error.
    Stderr {
        /// The lowest level this sink takes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<LogLevel>,
    },
    /// A file, appended to, rotated by size.
    File {
        /// The file; its directory is created. Default `andon.log`.
        #[serde(default = "default_log_path")]
        path: PathBuf,
        /// Rotate when the file reaches this many bytes; 0 never rotates. Default 100 MiB.
        #[serde(default = "default_max_bytes")]
        max_bytes: u64,
        /// How many rotated files to keep (`andon.log.1` … `andon.log.N`). Default 5.
        #[serde(default = "default_keep")]
        keep: u32,
        /// The lowest level this sink takes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<LogLevel>,
    },
    /// The local syslog daemon on its unix socket (the default), or a syslog server over UDP or
    /// TCP; RFC 5424 or RFC 3164.
    Syslog {
        /// `unix` (default: the local daemon), `udp` or `tcp` (RFC 6587 octet counting).
        #[serde(default)]
        transport: SyslogTransport,
        /// The socket path for unix (default `/dev/log`; the logger refuses to start when no
        /// daemon listens there), `host:port` for udp and tcp (default `127.0.0.1:514`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        /// `auto` (default: RFC 3164 as `syslog(3)` writes it on the unix socket, RFC 5424 over
        /// UDP and TCP), `rfc5424` or `rfc3164`.
        #[serde(default)]
        format: SyslogFormat,
        /// The facility name: `user` (default), `daemon`, `local0` … `local7`, …
        #[serde(default = "default_facility")]
        facility: String,
        /// The APP-NAME field (RFC 5424: 1 to 48 printable ASCII characters). Default `andon`.
        #[serde(default = "default_app_name")]
        app_name: String,
        /// The HOSTNAME field; default: this machine's host name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
        /// The lowest level this sink takes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<LogLevel>,
    },
    /// Google Cloud Logging structured JSON, written where Cloud Run and GKE collect it.
    CloudLogging {
        /// The project id for the `logging.googleapis.com/trace` field; without it the trace
        /// field is left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_id: Option<String>,
        /// `stdout` (default), `{ file = "path" }`, or `api` (Cloud Logging's `entries:write`;
        /// then the project id, when not set, is detected from the credentials).
        #[serde(default)]
        output: CloudLoggingOutput,
        /// The lowest level this sink takes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<LogLevel>,
        /// With `output = { file = ... }`: rotate when the file would pass this size (0: never).
        /// Default 100 MiB, like the File sink.
        #[serde(default = "default_max_bytes")]
        max_bytes: u64,
        /// With `output = { file = ... }`: rotated files kept (`.1` newest). Default 5.
        #[serde(default = "default_keep")]
        keep: u32,
        /// With `output = "api"`: endpoint, credentials, log id, resource, labels, batching.
        #[serde(default)]
        api: CloudLoggingApi,
    },
}

impl SinkConfig {
    /// The sink's own minimum level, if it has one.
    pub fn level(&self) -> Option<LogLevel> {
        match self {
            SinkConfig::Stdout { level }
            | SinkConfig::Stderr { level }
            | SinkConfig::File { level, .. }
            | SinkConfig::Syslog { level, .. }
            | SinkConfig::CloudLogging { level, .. } => *level,
        }
    }

    /// The sink's kind, as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Stdout { .. } => "Stdout",
            SinkConfig::Stderr { .. } => "Stderr",
            SinkConfig::File { .. } => "File",
            SinkConfig::Syslog { .. } => "Syslog",
            SinkConfig::CloudLogging { .. } => "CloudLogging",
        }
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            SinkConfig::File { path, .. } if path.as_os_str().is_empty() => Err(ConfigError::new(
                format!("{key}.path"),
                "must name a file, such as \"/var/log/andon.log\"",
            )),
            SinkConfig::Syslog {
                transport: SyslogTransport::Udp | SyslogTransport::Tcp,
                address: Some(address),
                ..
            } if address.parse::<std::net::SocketAddr>().is_err() && !address.contains(':') => {
                Err(ConfigError::new(
                    format!("{key}.address"),
                    format!("`{address}` is not host:port, such as \"127.0.0.1:514\""),
                ))
            }
            SinkConfig::Syslog { facility, .. } if !FACILITIES.contains(&facility.as_str()) => {
                Err(ConfigError::new(
                    format!("{key}.facility"),
                    format!(
                        "unknown facility `{facility}`: use one of {}",
                        FACILITIES.join(", ")
                    ),
                ))
            }
            SinkConfig::Syslog {
                transport: SyslogTransport::Unix,
                address: Some(address),
                ..
            } if address.trim().is_empty() => Err(ConfigError::new(
                format!("{key}.address"),
                "must name a unix socket path, such as \"/dev/log\"",
            )),
            SinkConfig::Syslog {
                transport: SyslogTransport::Unix,
                address: Some(address),
                ..
            } if looks_like_host_port(address) => Err(ConfigError::new(
                format!("{key}.address"),
                format!(
                    "`{address}` is host:port, but this sink writes to the local syslog daemon's unix socket (the default transport): set {key}.transport = \"udp\" or \"tcp\" for a network syslog server, or give the socket path, such as \"/dev/log\""
                ),
            )),
            SinkConfig::CloudLogging {
                output: CloudLoggingOutput::File(path),
                ..
            } if path.as_os_str().is_empty() => Err(ConfigError::new(
                format!("{key}.output.file"),
                "must name a file, such as \"/var/log/andon-cloud.log\", or use output = \"stdout\"",
            )),
            SinkConfig::CloudLogging {
                output: CloudLoggingOutput::Api,
                api,
                ..
            } => api.validate(&format!("{key}.api")),
            SinkConfig::Syslog { app_name, .. } if !syslog_token(app_name, 48) => {
                Err(ConfigError::new(
                    format!("{key}.app_name"),
                    format!(
                        "`{app_name}` is not a syslog APP-NAME: use 1 to 48 printable ASCII characters without spaces"
                    ),
                ))
            }
            SinkConfig::Syslog {
                hostname: Some(hostname),
                ..
            } if !syslog_token(hostname, 255) => Err(ConfigError::new(
                format!("{key}.hostname"),
                format!(
                    "`{hostname}` is not a syslog HOSTNAME: use 1 to 255 printable ASCII characters without spaces"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Whether a unix socket `address` was meant as a network `host:port` (it has no `/` and ends in
/// `:PORT`).
fn looks_like_host_port(address: &str) -> bool {
    !address.contains('/')
        && address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Whether `value` fits an RFC 5424 header field: 1 to `max` printable US-ASCII characters.
fn syslog_token(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.bytes().all(|b| (33..=126).contains(&b))
}

/// The syslog facility names, in RFC 5424 order.
pub(crate) const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

fn default_log_path() -> PathBuf {
    PathBuf::from("andon.log")
}
fn default_max_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_keep() -> u32 {
    5
}
fn default_facility() -> String {
    "user".to_owned()
}
fn default_app_name() -> String {
    "andon".to_owned()
}

/// How syslog messages travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// One datagram per message.
    Udp,
    /// A stream with RFC 6587 octet-counting framing.
    Tcp,
    /// A unix datagram socket, `/dev/log` unless `address` names another: the local syslog
    /// daemon, as `syslog(3)` writes to it. The default.
    #[default]
    Unix,
}

/// The syslog message format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// What the peer expects (the default): on the unix socket the local form `syslog(3)`
    /// writes (RFC 3164 without the host name, which the daemon parses), over UDP and TCP
    /// RFC 5424.
    #[default]
    Auto,
    /// RFC 5424: the structured syslog format with ISO timestamps and structured data.
    Rfc5424,
    /// RFC 3164 (BSD syslog).
    Rfc3164,
}

/// Where Cloud Logging records are written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudLoggingOutput {
    /// Standard output, where Cloud Run and GKE collect logs.
    #[default]
    Stdout,
    /// A file an agent tails.
    File(PathBuf),
    /// Cloud Logging's API (`entries:write`), from a background thread, in batches.
    Api,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    /// Checks that `toml` is refused with an error naming `key` and saying `says`.
    fn assert_refused(toml: &str, key: &str, says: &str) {
        let err = AndonConfig::from_toml_str(toml).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{err}");
        assert!(err.message.contains(says), "{err}");
    }

    #[test]
    fn short_and_table_forms_mix() {
        let config = AndonConfig::from_toml_str(
            r#"
            [logger]
            sinks = [
              "Stdout",
              { type = "File", path = "/tmp/a.log", level = "WARNING" },
              { type = "Syslog", transport = "tcp", address = "127.0.0.1:6514", facility = "local3" },
              { type = "CloudLogging", project_id = "p1", output = { file = "/tmp/c.log" } },
            ]
            "#,
        )
        .unwrap();
        let sinks = &config.logger.sinks;
        assert_eq!(sinks[0], SinkConfig::Stdout { level: None });
        assert_eq!(sinks[1].level(), Some(LogLevel::Warning));
        match &sinks[1] {
            SinkConfig::File { path, keep, .. } => {
                assert_eq!(path, &PathBuf::from("/tmp/a.log"));
                assert_eq!(*keep, 5);
            }
            other => panic!("{other:?}"),
        }
        match &sinks[2] {
            SinkConfig::Syslog {
                transport,
                facility,
                format,
                ..
            } => {
                assert_eq!(*transport, SyslogTransport::Tcp);
                assert_eq!(facility, "local3");
                assert_eq!(*format, SyslogFormat::Auto);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sinks[3].kind(), "CloudLogging");
    }

    #[test]
    fn a_sink_table_with_an_unknown_key_is_an_error() {
        let err = AndonConfig::from_toml_str(
            "[logger]\nsinks = [{ type = \"File\", pth = \"x.log\" }]\n",
        )
        .unwrap_err();
        assert!(err.message.contains("unknown field `pth`"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn an_unknown_sink_name_says_what_is_allowed() {
        assert_refused(
            "[logger]\nsinks = [\"Kafka\"]\n",
            "logger.sinks.0",
            "unknown sink `Kafka`: use Stdout, Stderr, File, Syslog or CloudLogging",
        );
    }

    #[test]
    fn a_bad_app_name_is_named() {
        assert_refused(
            "[logger]\nsinks = [{ type = \"Syslog\", app_name = \"my app\" }]\n",
            "logger.sinks.0.app_name",
            "1 to 48 printable ASCII",
        );
        let long = "a".repeat(49);
        let err = AndonConfig::from_toml_str(&format!(
            "[logger]\nsinks = [{{ type = \"Syslog\", app_name = \"{long}\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.sinks.0.app_name"));
    }

    #[test]
    fn a_bad_hostname_is_named() {
        assert_refused(
            "[logger]\nsinks = [\"Stdout\", { type = \"Syslog\", hostname = \"\" }]\n",
            "logger.sinks.1.hostname",
            "not a syslog HOSTNAME",
        );
    }

    #[test]
    fn an_empty_unix_socket_path_is_named() {
        assert_refused(
            "[logger]\nsinks = [{ type = \"Syslog\", transport = \"unix\", address = \" \" }]\n",
            "logger.sinks.0.address",
            "unix socket path",
        );
    }

    #[test]
    fn cloud_logging_api_and_file_rotation_parse_and_check() {
        let config = AndonConfig::from_toml_str(
            r#"
            [logger]
            sinks = [
              { type = "CloudLogging", output = "api", api = { log_id = "app/andon", labels = { env = "prod" }, resource = { type = "gce_instance", labels = { zone = "europe-west1-b" } } } },
              { type = "CloudLogging", output = { file = "/tmp/c.log" }, max_bytes = 1000, keep = 3 },
            ]
            "#,
        )
        .unwrap();
        let SinkConfig::CloudLogging { output, api, .. } = &config.logger.sinks[0] else {
            panic!("{:?}", config.logger.sinks[0]);
        };
        assert_eq!(*output, CloudLoggingOutput::Api);
        assert_eq!(api.log_id, "app/andon");
        assert_eq!(api.endpoint, crate::config::CLOUD_LOGGING_ENDPOINT);
        assert_eq!(api.labels.get("env").map(String::as_str), Some("prod"));
        assert_eq!(
            api.resource.as_ref().map(|r| r.kind.as_str()),
            Some("gce_instance")
        );
        assert!(matches!(
            config.logger.sinks[1],
            SinkConfig::CloudLogging {
                max_bytes: 1000,
                keep: 3,
                ..
            }
        ));
        let err = AndonConfig::from_toml_str(
            "[logger]\nsinks = [{ type = \"CloudLogging\", output = \"api\", api = { log_id = \"a b\" } }]\n",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.sinks.0.api.log_id"));
        let err = AndonConfig::from_toml_str(
            "[logger]\nsinks = [{ type = \"CloudLogging\", output = \"api\", api = { max_batch_entries = 5000 } }]\n",
        )
        .unwrap_err();
        assert_eq!(
            err.key.as_deref(),
            Some("logger.sinks.0.api.max_batch_entries")
        );
        // docs/andon-log.md's example.
        let config = AndonConfig::from_toml_str(
            r#"
[[logger.sinks]]
type = "CloudLogging"
output = "api"
level = "INFO"

[logger.sinks.api]
log_id = "andon"
labels = { env = "prod" }
resource = { type = "gce_instance", labels = { instance_id = "1234", zone = "europe-west1-b" } }
max_batch_entries = 500
max_batch_bytes = 4194304
queue_capacity = 10000
max_retries = 5
"#,
        )
        .unwrap();
        assert!(matches!(
            &config.logger.sinks[0],
            SinkConfig::CloudLogging { output: CloudLoggingOutput::Api, api, .. } if api.max_retries == 5
        ));
        // The README's snippet.
        AndonConfig::from_toml_str(
            r#"
[logger]
sinks = ["Stdout", { type = "CloudLogging", output = "api", api = { labels = { env = "prod" } } }]
"#,
        )
        .unwrap();
    }

    #[test]
    fn an_empty_cloud_logging_file_is_named() {
        assert_refused(
            "[logger]\nsinks = [{ type = \"CloudLogging\", output = { file = \"\" } }]\n",
            "logger.sinks.0.output.file",
            "must name a file",
        );
    }

    #[test]
    fn a_bad_facility_is_named() {
        assert_refused(
            "[logger]\nsinks = [{ type = \"Syslog\", facility = \"local9\" }]\n",
            "logger.sinks.0.facility",
            "unknown facility `local9`",
        );
    }

    #[test]
    fn syslog_means_the_local_daemon_unless_a_transport_is_asked_for() {
        let config = AndonConfig::from_toml_str(
            "[logger]\nsinks = [\"Syslog\", { type = \"Syslog\" }, { type = \"Syslog\", address = \"/run/x.sock\" }]\n",
        )
        .unwrap();
        for sink in &config.logger.sinks[..2] {
            match sink {
                SinkConfig::Syslog {
                    transport, address, ..
                } => {
                    assert_eq!(*transport, SyslogTransport::Unix);
                    assert_eq!(*address, None);
                }
                other => panic!("{other:?}"),
            }
        }
        // A network address without a transport is a mistake to name, not a socket to look for.
        assert_refused(
            "[logger]\nsinks = [{ type = \"Syslog\", address = \"127.0.0.1:514\" }]\n",
            "logger.sinks.0.address",
            "set logger.sinks.0.transport = \"udp\" or \"tcp\"",
        );
        assert!(
            AndonConfig::from_toml_str(
                "[logger]\nsinks = [{ type = \"Syslog\", transport = \"udp\", address = \"127.0.0.1:514\" }]\n",
            )
            .is_ok()
        );
    }
}
