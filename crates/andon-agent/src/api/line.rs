//! `GET /v1/line` (answered with andon's [`LineState`]) and `POST /v1/line/resume`.

use andon::core::LineState;
use serde::{Deserialize, Serialize};

/// The body of `POST /v1/line/resume`: who resumes the line, and why. Both optional; an empty
/// body is allowed too (resumed by `api`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// Who resumes it (at most 256 characters); absent: `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why it is safe to resume (at most 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to `POST /v1/line/resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeAnswer {
    /// `true` when the line was stopped and now runs; `false` when it was running already.
    pub resumed: bool,
    /// The line after the request.
    pub line: LineState,
}
