//! The webhook channel's body: the notification as JSON with `version` and `text` added, sent
//! by the HTTP transport (`transport.rs`) with the notification key as `Idempotency-Key`.

use serde_json::{Value, json};

use super::DeliveryError;
use crate::notification::Notification;

/// The webhook body: the notification's fields plus `version` (`"1"`) and `text`.
pub(super) fn webhook_body(notification: &Notification) -> Result<Value, DeliveryError> {
    let mut body = serde_json::to_value(notification)
        .map_err(|e| DeliveryError::permanent(format!("cannot encode: {e}")))?;
    if let Some(map) = body.as_object_mut() {
        map.insert("version".to_owned(), json!("1"));
        map.insert("text".to_owned(), json!(notification.text()));
    }
    Ok(body)
}
