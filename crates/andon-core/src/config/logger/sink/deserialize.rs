//! Reading a sink from TOML: a bare name (`"Syslog"`, every default) or a table with `type` and
//! the sink's own keys, unknown keys refused. Both forms go through the table form derived on
//! [`SinkConfig`] itself: a bare name is read as the table `{ type = name }`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SinkConfig;

impl Serialize for SinkConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The derived, internally tagged table form (inherent through `remote = "Self"`).
        SinkConfig::serialize(self, serializer)
    }
}

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
                let table = de::value::MapDeserializer::new(std::iter::once(("type", name)));
                SinkConfig::deserialize(table).map_err(|_: E| {
                    E::custom(format!(
                        "unknown sink `{name}`: use Stdout, Stderr, File, Syslog or CloudLogging"
                    ))
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SinkConfig, A::Error> {
                SinkConfig::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_any(SinkVisitor)
    }
}
