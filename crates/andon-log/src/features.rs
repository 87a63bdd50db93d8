//! What this build of andon-log can do: a sink that needs a crate feature the build left out
//! is refused when the logger starts, with the key and the feature to enable, instead of
//! failing later record by record.

use andon_core::ConfigError;
use andon_core::config::{CloudLoggingOutput, SinkConfig};

/// Why the Cloud Logging API output is unavailable, and what to do.
pub(crate) const NEEDS_GCP: &str = "the Cloud Logging API output needs andon-log's `gcp` feature, which this build leaves out: enable it (`andon-log = { features = [\"gcp\"] }`, or `andon = { features = [\"gcp\"] }`; the `andon` agent binary has it), or write Cloud Logging records to stdout or a file (`output = \"stdout\"` or `output = { file = \"PATH\" }`) for an agent to ship";

/// Refuses sink `index` when it needs a feature this build lacks: a `CloudLogging` sink with
/// `output = "api"` when `gcp` is `false` (`cfg!(feature = "gcp")`).
pub(crate) fn check_build_features(
    config: &SinkConfig,
    index: usize,
    gcp: bool,
) -> Result<(), ConfigError> {
    match config {
        SinkConfig::CloudLogging {
            output: CloudLoggingOutput::Api,
            ..
        } if !gcp => Err(ConfigError::new(
            format!("logger.sinks.{index}.output"),
            NEEDS_GCP,
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::AndonConfig;

    fn sinks(toml: &str) -> Vec<SinkConfig> {
        AndonConfig::from_toml_str(toml).unwrap().logger.sinks
    }

    #[test]
    fn the_api_output_without_gcp_names_the_key_and_the_feature() {
        let sinks = sinks(
            "[logger]\nsinks = [\"Stdout\", { type = \"CloudLogging\", output = \"api\" }]\n",
        );
        assert!(check_build_features(&sinks[0], 0, false).is_ok());
        let err = check_build_features(&sinks[1], 1, false).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.sinks.1.output"));
        assert!(err.message.contains("`gcp` feature"), "{err}");
        assert!(
            err.message.contains("andon = { features = [\"gcp\"] }"),
            "{err}"
        );
        // With the feature, the same sink is accepted.
        assert!(check_build_features(&sinks[1], 1, true).is_ok());
    }

    #[test]
    fn the_stdout_and_file_outputs_need_no_feature() {
        let sinks = sinks(
            "[logger]\nsinks = [{ type = \"CloudLogging\" }, { type = \"CloudLogging\", output = { file = \"/tmp/x.log\" } }]\n",
        );
        for (index, sink) in sinks.iter().enumerate() {
            assert!(check_build_features(sink, index, false).is_ok());
        }
    }
}
