//! The `gce_instance` resource from the metadata server (Compute Engine VMs), asked once, with a
//! short timeout, when neither the configuration nor Cloud Run's environment name the resource.

use std::time::Duration;

use serde_json::{Value, json};

/// How long each metadata question may take: off Google Cloud there is no answer.
const METADATA_TIMEOUT: Duration = Duration::from_secs(1);

/// The metadata server's base URL: `GCE_METADATA_HOST` (as Google's client libraries read it),
/// else `metadata.google.internal`.
pub(crate) fn metadata_base(env: impl Fn(&str) -> Option<String>) -> String {
    let host = env("GCE_METADATA_HOST").unwrap_or_else(|| "metadata.google.internal".to_owned());
    format!("http://{host}")
}

/// `gce_instance` with `project_id`, `instance_id` and `zone`, or `None` when the metadata
/// server does not answer both.
pub(crate) async fn gce_instance(
    http: &reqwest::Client,
    base: &str,
    project: &str,
) -> Option<Value> {
    let id = ask(http, base, "instance/id").await?;
    let zone = ask(http, base, "instance/zone").await?;
    // "projects/123456/zones/europe-west1-b"
    let zone = zone.rsplit('/').next().unwrap_or_default().to_owned();
    if id.is_empty() || zone.is_empty() {
        return None;
    }
    Some(json!({ "type": "gce_instance", "labels": {
        "project_id": project, "instance_id": id, "zone": zone } }))
}

async fn ask(http: &reqwest::Client, base: &str, path: &str) -> Option<String> {
    let response = http
        .get(format!("{base}/computeMetadata/v1/{path}"))
        .header("Metadata-Flavor", "Google")
        .timeout(METADATA_TIMEOUT)
        .send()
        .await
        .ok()?;
    let flavor_ok = response
        .headers()
        .get("metadata-flavor")
        .is_some_and(|v| v.as_bytes() == b"Google");
    if !response.status().is_success() || !flavor_ok {
        return None;
    }
    Some(response.text().await.ok()?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::HeaderMap;
    use axum::routing::get;

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn flavored(
        headers: &HeaderMap,
        body: &'static str,
    ) -> ([(&'static str, &'static str); 1], &'static str) {
        assert_eq!(headers.get("metadata-flavor").unwrap(), "Google");
        ([("Metadata-Flavor", "Google")], body)
    }

    #[tokio::test]
    async fn a_vm_is_a_gce_instance_and_elsewhere_nothing() {
        let app = Router::new()
            .route(
                "/computeMetadata/v1/instance/id",
                get(|h: HeaderMap| async move { flavored(&h, "4520031799277581759") }),
            )
            .route(
                "/computeMetadata/v1/instance/zone",
                get(
                    |h: HeaderMap| async move { flavored(&h, "projects/123/zones/europe-west1-b") },
                ),
            );
        let base = serve(app).await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        assert_eq!(
            gce_instance(&http, &base, "p1").await,
            Some(json!({ "type": "gce_instance", "labels": {
                "project_id": "p1", "instance_id": "4520031799277581759",
                "zone": "europe-west1-b" } }))
        );
        // A server that is not the metadata server (no Metadata-Flavor answer): nothing.
        let other =
            serve(Router::new().route("/computeMetadata/v1/instance/id", get(|| async { "1" })))
                .await;
        assert_eq!(gce_instance(&http, &other, "p1").await, None);
        // Nobody there.
        assert_eq!(gce_instance(&http, "http://127.0.0.1:9", "p1").await, None);
        assert_eq!(
            metadata_base(|_| Some("127.0.0.1:8080".to_owned())),
            "http://127.0.0.1:8080"
        );
        assert_eq!(metadata_base(|_| None), "http://metadata.google.internal");
    }
}
