//! Reading a sink from TOML: a bare name (`"Syslog"`, every default) or a table with `type` and
//! the sink's own keys, unknown keys refused.

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{
    CloudLoggingOutput, SinkConfig, SyslogFormat, SyslogTransport, default_app_name,
    default_facility, default_keep, default_log_path, default_max_bytes,
};
use crate::config::cloud_logging::CloudLoggingApi;
use crate::severity::LogLevel;

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SinkVisitor;

        impl<'de> Visitor<'de> for SinkVisitor {
            type Value = SinkConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a sink name (\"Stdout\", \"Stderr\", \"File\", \"Syslog\", \"CloudLogging\") or a table with `type`",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<SinkConfig, E> {
                SinkConfig::short(name).ok_or_else(|| {
                    E::custom(format!(
                        "unknown sink `{name}`: use Stdout, Stderr, File, Syslog or CloudLogging"
                    ))
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SinkConfig, A::Error> {
                Tagged::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| t.0)
            }
        }

        deserializer.deserialize_any(SinkVisitor)
    }
}

/// The table form, through serde's derived, internally tagged representation.
struct Tagged(SinkConfig);

impl<'de> Deserialize<'de> for Tagged {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(remote = "SinkConfig", tag = "type", deny_unknown_fields)]
        #[allow(dead_code)] // fields are read by serde's generated code
        enum Remote {
            Stdout {
                #[serde(default)]
                level: Option<LogLevel>,
            },
            Stderr {
                #[serde(default)]
                level: Option<LogLevel>,
            },
            File {
                #[serde(default = "default_log_path")]
                path: PathBuf,
                #[serde(default = "default_max_bytes")]
                max_bytes: u64,
                #[serde(default = "default_keep")]
                keep: u32,
                #[serde(default)]
                level: Option<LogLevel>,
            },
            Syslog {
                #[serde(default)]
                transport: SyslogTransport,
                #[serde(default)]
                address: Option<String>,
                #[serde(default)]
                format: SyslogFormat,
                #[serde(default = "default_facility")]
                facility: String,
                #[serde(default = "default_app_name")]
                app_name: String,
                #[serde(default)]
                hostname: Option<String>,
                #[serde(default)]
                level: Option<LogLevel>,
            },
            CloudLogging {
                #[serde(default)]
                project_id: Option<String>,
                #[serde(default)]
                output: CloudLoggingOutput,
                #[serde(default)]
                level: Option<LogLevel>,
                #[serde(default = "default_max_bytes")]
                max_bytes: u64,
                #[serde(default = "default_keep")]
                keep: u32,
                #[serde(default)]
                api: CloudLoggingApi,
            },
        }
        Remote::deserialize(deserializer).map(Tagged)
    }
}
