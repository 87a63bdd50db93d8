//! The body of every error answer.

use serde::{Deserialize, Serialize};

/// What the agent answers with any 4xx or 5xx status: what is wrong and what to do, and the
/// field at fault when one is (`{"error": "color: `blue` is not a color: …", "field": "color"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong and what is allowed, prefixed by the field when there is one.
    pub error: String,
    /// The body field, query parameter or path parameter at fault; absent when the error is
    /// about the request as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
