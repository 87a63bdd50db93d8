//! The Cloud Logging API sink when andon-log is built without its `gcp` feature: a config that
//! asks for `output = "api"` is refused when the logger starts
//! ([`check_build_features`](crate::features::check_build_features)), naming the key and the
//! feature to enable; the stdout and file outputs of the `CloudLogging` sink need nothing from
//! this module.
//!
//! [`ApiSink`] keeps the shape of the real one so that the sinks compile unchanged; it is never
//! started, since the check stops such a config first, and if it were it would refuse every
//! record, counted as dropped.

use andon_core::config::CloudLoggingApi;

use crate::features::NEEDS_GCP;

use crate::sinks::SinkCell;

/// The writer's end of an API sink that cannot deliver: it refuses every record.
#[derive(Debug)]
pub(crate) struct ApiSink;

impl ApiSink {
    /// An API sink that refuses every record.
    pub(crate) fn new(
        _api: &CloudLoggingApi,
        _project_id: Option<String>,
        _report_interval: std::time::Duration,
    ) -> ApiSink {
        ApiSink
    }

    /// Queues nothing: every line is dropped.
    pub(crate) fn offer<'a>(&self, lines: impl Iterator<Item = &'a [u8]>) -> (u64, u64) {
        (0, lines.count() as u64)
    }

    /// Why records cannot be queued.
    pub(crate) fn refusal(&self) -> String {
        NEEDS_GCP.to_owned()
    }

    /// Nothing counts in the cell but the writer's drops.
    pub(crate) fn attach(&self, _cell: &SinkCell) {}

    /// Nothing to close.
    pub(crate) fn close(&mut self) {}
}
