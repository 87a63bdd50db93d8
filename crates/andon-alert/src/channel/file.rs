//! The file channel: each notification appended to a file as one JSON line.

use super::DeliveryError;
use crate::notification::Notification;

/// Appends `notification` to `path` as a JSON line, creating the file and its folder.
pub(super) async fn append_line(
    path: &std::path::Path,
    notification: &Notification,
) -> Result<(), DeliveryError> {
    use tokio::io::AsyncWriteExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            DeliveryError::transient(format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let mut line = serde_json::to_string(notification)
        .map_err(|e| DeliveryError::permanent(format!("cannot encode: {e}")))?;
    line.push('\n');
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| DeliveryError::transient(format!("cannot open {}: {e}", path.display())))?;
    file.write_all(line.as_bytes())
        .await
        .map_err(|e| DeliveryError::transient(format!("cannot write {}: {e}", path.display())))?;
    file.flush()
        .await
        .map_err(|e| DeliveryError::transient(format!("cannot write {}: {e}", path.display())))
}
