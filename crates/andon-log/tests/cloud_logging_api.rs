//! The CloudLogging sink with `output = "api"` against a local fake `entries:write` and a local
//! OAuth token endpoint, reached through a real service-account key file: the JWT assertion is
//! signed by the sink (gcp_auth) and verified here with `openssl`, the token is cached, expires
//! and is refreshed; the fake API checks the bearer token and the request's shape, answers 429
//! and 503 at times (retried) and records the entries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use andon_core::config::{CloudLoggingApi, CloudLoggingOutput, LoggerConfig, SinkConfig};
use andon_core::{AndonSignal, LogLevel, TraceContext, TraceIds};
use andon_log::AndonLogger;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

const EMAIL: &str = "andon-test@test-proj.iam.gserviceaccount.com";

#[derive(Debug)]
struct FixedSpan;

impl TraceContext for FixedSpan {
    fn current(&self) -> Option<TraceIds> {
        Some(TraceIds {
            trace_id: [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36,
            ],
            span_id: [0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        })
    }
}

/// How the fake API answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The 1st authorized request gets 429, the 3rd 503, the others 200.
    SometimesBusy,
    /// Every request gets 503.
    AlwaysDown,
    /// No request is answered (for two minutes).
    Hang,
}

#[derive(Default)]
struct Fake {
    dir: PathBuf,
    token_uri: String,
    /// Tokens issued, with when they expire.
    tokens: Vec<(String, Instant)>,
    /// Authorized `entries:write` requests: the token used and the status answered.
    requests: Vec<(String, u16)>,
    /// The messages each authorized, well-formed request carried, in order.
    tried: Vec<Vec<String>>,
    /// Bodies of accepted requests.
    accepted: Vec<Value>,
    unauthorized: u32,
    bad_requests: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn b64url(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}

/// The OAuth token endpoint: verifies the JWT bearer assertion and issues a token.
async fn token(State(fake): State<Shared>, body: String) -> (StatusCode, String) {
    let mut fake = fake.lock().unwrap();
    if form_value(&body, "grant_type").as_deref()
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return (StatusCode::BAD_REQUEST, "grant_type".into());
    }
    let assertion = form_value(&body, "assertion").unwrap_or_default();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {assertion}");
    let header: Value = serde_json::from_slice(&b64url(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
    // The signature, verified with the public half of the key, by openssl.
    let input = fake.dir.join("jwt-input");
    let sig = fake.dir.join("jwt-sig");
    std::fs::write(&input, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&sig, b64url(parts[2])).unwrap();
    let verify = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(fake.dir.join("pub.pem"))
        .arg("-signature")
        .arg(&sig)
        .arg(&input)
        .output()
        .unwrap();
    if !verify.status.success() {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let iat = claims["iat"].as_i64().unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["aud"], fake.token_uri.as_str());
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "https://www.googleapis.com/auth/logging.write"),
        "{claims}"
    );
    assert!(
        (iat - now).abs() < 300 && exp > iat && exp - iat <= 3600,
        "{claims}"
    );
    // The first token lives 30 s: gcp_auth treats it as expired 20 s early, so it is cached
    // for 10 s and then refreshed.
    let n = fake.tokens.len() + 1;
    let lifetime = if n == 1 { 30 } else { 3600 };
    let access = format!("ya29.test-token-{n}");
    fake.tokens.push((
        access.clone(),
        Instant::now() + Duration::from_secs(lifetime),
    ));
    (
        StatusCode::OK,
        json!({ "access_token": access, "expires_in": lifetime, "token_type": "Bearer" })
            .to_string(),
    )
}

/// The fake `entries:write`.
async fn write(
    State((fake, mode)): State<(Shared, Mode)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let answer = answer(&mut fake.lock().unwrap(), mode, &uri, &headers, &body);
    match answer {
        Some(answer) => answer,
        None => {
            // Mode::Hang: nobody answers.
            tokio::time::sleep(Duration::from_secs(120)).await;
            (StatusCode::OK, "{}".into())
        }
    }
}

/// The fake API's answer to one request; `None` when it hangs.
fn answer(
    fake: &mut Fake,
    mode: Mode,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<(StatusCode, String)> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let valid = fake
        .tokens
        .iter()
        .any(|(t, expires)| *t == bearer && *expires > Instant::now());
    if !valid {
        fake.unauthorized += 1;
        return Some((StatusCode::UNAUTHORIZED, "{}".into()));
    }
    let shape = (|| {
        if uri.path() != "/v2/entries:write" {
            return Err(format!("path {}", uri.path()));
        }
        if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
            return Err("content-type".to_owned());
        }
        let body: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let entries = body["entries"].as_array().ok_or("entries")?;
        if entries.is_empty() || entries.len() > 5 {
            return Err(format!("{} entries", entries.len()));
        }
        Ok(body)
    })();
    let body = match shape {
        Ok(body) => body,
        Err(e) => {
            fake.bad_requests.push(e.clone());
            return Some((StatusCode::BAD_REQUEST, e));
        }
    };
    let n = fake.requests.len() + 1;
    let messages = body["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            e["jsonPayload"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    fake.tried.push(messages);
    if mode == Mode::Hang {
        fake.requests.push((bearer, 0));
        return None;
    }
    let status = match mode {
        Mode::Hang => 200,
        Mode::AlwaysDown => 503,
        Mode::SometimesBusy if n == 1 => 429,
        Mode::SometimesBusy if n == 3 => 503,
        Mode::SometimesBusy => 200,
    };
    fake.requests.push((bearer, status));
    if status == 200 {
        fake.accepted.push(body);
    }
    Some((StatusCode::from_u16(status).unwrap(), "{}".into()))
}

/// Starts the token endpoint and the API; returns the shared record and the config.
async fn start(dir: &Path, mode: Mode) -> (Shared, CloudLoggingApi) {
    let key = dir.join("key.pem");
    let keygen = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .expect("openssl is installed");
    assert!(keygen.status.success(), "{keygen:?}");
    let public = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(dir.join("pub.pem"))
        .output()
        .unwrap();
    assert!(public.status.success(), "{public:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake: Shared = Arc::new(Mutex::new(Fake {
        dir: dir.to_owned(),
        token_uri: format!("http://{addr}/token"),
        ..Fake::default()
    }));
    let tokens = Router::new()
        .route("/token", axum::routing::post(token))
        .with_state(Arc::clone(&fake));
    let api = Router::new()
        .fallback(write)
        .with_state((Arc::clone(&fake), mode));
    let app = tokens.merge(api);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sa = json!({
        "type": "service_account",
        "project_id": "test-proj",
        "private_key_id": "k1",
        "private_key": std::fs::read_to_string(&key).unwrap(),
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": format!("http://{addr}/token"),
    });
    let sa_path = dir.join("sa.json");
    std::fs::write(&sa_path, sa.to_string()).unwrap();
    let mut api = CloudLoggingApi::default();
    api.endpoint = format!("http://{addr}/v2/entries:write");
    api.credentials = Some(sa_path);
    api.labels = [("env".to_owned(), "test".to_owned())].into();
    api.max_batch_entries = 5;
    (fake, api)
}

fn logger(api: CloudLoggingApi, level: Option<LogLevel>) -> AndonLogger {
    AndonLogger::builder(LoggerConfig {
        level: LogLevel::Debug,
        sampling_enabled: false,
        sinks: vec![SinkConfig::CloudLogging {
            project_id: None,
            output: CloudLoggingOutput::Api,
            level,
            max_bytes: 0,
            keep: 0,
            api,
        }],
        ..LoggerConfig::default()
    })
    .with_trace_context(Arc::new(FixedSpan))
    .build()
    .unwrap()
}

/// Waits (60 s at most, a hang guard) until `done` holds for the fake.
async fn until(fake: &Shared, done: impl Fn(&Fake) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&fake.lock().unwrap()) {
        assert!(Instant::now() < deadline, "the fake API did not get there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn entries(fake: &Fake) -> Vec<Value> {
    fake.accepted
        .iter()
        .flat_map(|b| b["entries"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_the_api_in_batches_with_a_cached_then_refreshed_token() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, api) = start(dir.path(), Mode::SometimesBusy).await;
    let logger = logger(api, None);
    let signal = AndonSignal::yellow("disk 91%").with_component("disk");
    logger.log_signal(&signal).await.unwrap();
    for i in 1..12 {
        logger.info(&format!("record {i}")).await.unwrap();
    }
    until(&fake, |f| entries(f).len() >= 12).await;
    {
        let f = fake.lock().unwrap();
        assert!(f.bad_requests.is_empty(), "{:?}", f.bad_requests);
        assert_eq!(f.unauthorized, 0);
        // Retried after 429 and 503, nothing twice.
        let statuses: Vec<u16> = f.requests.iter().map(|r| r.1).collect();
        assert!(
            statuses.contains(&429) && statuses.contains(&503),
            "{statuses:?}"
        );
        let all = entries(&f);
        assert_eq!(all.len(), 12);
        let messages: HashSet<_> = all
            .iter()
            .map(|e| e["jsonPayload"]["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(messages.len(), 12);
        // Batched by count: 12 records in requests of at most 5.
        assert!(f.accepted.len() >= 3);
        // One token, cached across every request so far.
        assert_eq!(f.tokens.len(), 1);
        assert!(f.requests.iter().all(|r| r.0 == "ya29.test-token-1"));
        // The request and entry shape; the project came from the key file.
        let body = &f.accepted[0];
        assert_eq!(body["logName"], "projects/test-proj/logs/andon");
        assert_eq!(
            body["resource"],
            json!({ "type": "global", "labels": { "project_id": "test-proj" } })
        );
        assert_eq!(body["labels"], json!({ "env": "test" }));
        assert_eq!(body["partialSuccess"], true);
        let first = all
            .iter()
            .find(|e| e["jsonPayload"]["message"] == "disk 91%")
            .unwrap();
        assert_eq!(first["severity"], "WARNING");
        assert_eq!(first["timestamp"], signal.timestamp_rfc3339());
        assert_eq!(
            first["trace"],
            "projects/test-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(first["spanId"], "00f067aa0ba902b7");
        assert_eq!(first["traceSampled"], true);
        assert_eq!(first["labels"]["component"], "disk");
        assert_eq!(first["labels"]["color"], "yellow");
    }
    // Past the first token's life: the next request gets a new one.
    tokio::time::sleep(Duration::from_secs(11)).await;
    logger.critical("after the refresh").await.unwrap();
    until(&fake, |f| entries(f).len() >= 13).await;
    {
        let f = fake.lock().unwrap();
        assert_eq!(f.tokens.len(), 2);
        assert_eq!(f.requests.last().unwrap().0, "ya29.test-token-2");
        assert_eq!(f.unauthorized, 0);
        let last = entries(&f).pop().unwrap();
        assert_eq!(last["severity"], "CRITICAL");
    }
    let stats = logger.stats();
    assert!(
        stats.sinks[0]
            .name
            .starts_with("CloudLogging(api http://127.0.0.1:")
    );
    assert!(stats.sinks[0].written >= 13, "{stats:?}");
    assert_eq!(stats.sinks[0].errors, 0);
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_stays_down_costs_counted_records_and_never_blocks_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut api) = start(dir.path(), Mode::AlwaysDown).await;
    api.max_retries = 2;
    let logger = logger(api, Some(LogLevel::Warning));
    for i in 0..3 {
        logger.warn(&format!("lost {i}")).await.unwrap();
    }
    // Each batch: one request and two retries, then it is given up. The three records make one
    // batch or more, as the writer hands them on (the API thread sends what has arrived).
    until(&fake, |f| f.requests.len() >= 3).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let stats = loop {
        let stats = logger.stats();
        if stats.sinks[0].errors >= 3 {
            break stats;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats.sinks[0].errors, 3);
    assert_eq!(stats.sinks[0].written, 0);
    let error = stats.sinks[0].last_error.clone().unwrap();
    assert!(
        error.contains("503") && error.contains("record(s) not written"),
        "{error}"
    );
    assert!(!error.contains("ya29"), "no token in errors: {error}");
    let (requests, tried) = {
        let f = fake.lock().unwrap();
        (f.requests.clone(), f.tried.clone())
    };
    assert!(
        requests.iter().all(|(_, status)| *status == 503),
        "{requests:?}"
    );
    // Every batch is tried three times (one request, two retries) and then given up; the three
    // records make one batch or more, as the writer hands them on, and no record is in two.
    assert_eq!(requests.len(), tried.len());
    assert_eq!(tried.len() % 3, 0, "{tried:?}");
    let batches: Vec<&[Vec<String>]> = tried.chunks(3).collect();
    assert!(
        batches
            .iter()
            .all(|tries| tries[0] == tries[1] && tries[1] == tries[2]),
        "{tried:?}"
    );
    let mut sent: Vec<&str> = batches
        .iter()
        .flat_map(|tries| tries[0].iter().map(String::as_str))
        .collect();
    sent.sort_unstable();
    assert_eq!(sent, ["lost 0", "lost 1", "lost 2"]);
    let last = batches.last().unwrap()[0].len();
    assert!(
        error.contains(&format!("; {last} record(s) not written")),
        "{error}"
    );
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_bounded_by_bytes_too() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut api) = start(dir.path(), Mode::SometimesBusy).await;
    api.max_batch_bytes = 1024;
    let logger = logger(api, None);
    // About 500 bytes a record: two fit in 1024 bytes, three do not.
    for i in 0..6 {
        logger
            .info(&format!("{i} {}", "x".repeat(400)))
            .await
            .unwrap();
    }
    until(&fake, |f| entries(f).len() >= 6).await;
    let sizes: Vec<usize> = fake
        .lock()
        .unwrap()
        .accepted
        .iter()
        .map(|b| b["entries"].as_array().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|n| *n <= 2), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 6);
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn the_cloud_logging_file_rotates_like_the_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.log");
    let logger = AndonLogger::new(LoggerConfig {
        level: LogLevel::Debug,
        sampling_enabled: false,
        sinks: vec![SinkConfig::CloudLogging {
            project_id: None,
            output: CloudLoggingOutput::File(path.clone()),
            level: None,
            max_bytes: 400,
            keep: 2,
            api: CloudLoggingApi::default(),
        }],
        ..LoggerConfig::default()
    })
    .unwrap();
    for i in 0..30 {
        logger.info(&format!("record {i}")).await.unwrap();
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let mut rotated = path.clone().into_os_string();
    rotated.push(".1");
    let mut oldest = path.clone().into_os_string();
    oldest.push(".2");
    let mut gone = path.clone().into_os_string();
    gone.push(".3");
    for file in [&path, Path::new(&rotated), Path::new(&oldest)] {
        let size = std::fs::metadata(file).unwrap().len();
        assert!(size > 0 && size <= 400, "{}: {size}", file.display());
    }
    assert!(!Path::new(&gone).exists());
    let last = std::fs::read_to_string(&path).unwrap();
    assert!(last.contains("record 29"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_api_queue_refuses_and_counts_without_blocking_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, mut api) = start(dir.path(), Mode::Hang).await;
    api.queue_capacity = 1;
    let logger = logger(api, None);
    logger.info("first").await.unwrap();
    // The API thread is now stuck in a request nobody answers.
    until(&fake, |f| !f.requests.is_empty()).await;
    for i in 0..50 {
        logger.info(&format!("record {i}")).await.unwrap();
    }
    logger.flush().await.unwrap();
    let stats = logger.stats();
    // One waits in the queue of 1; the other 49 are refused and counted.
    assert_eq!(stats.emitted, 51);
    assert_eq!(stats.sinks[0].errors, 49, "{stats:?}");
    assert_eq!(stats.failed, 49, "{stats:?}");
    assert_eq!(stats.sinks[0].written, 0);
    let error = stats.sinks[0].last_error.clone().unwrap();
    assert!(error.contains("queue is full"), "{error}");
    // Shutdown gives the stuck thread its grace and returns.
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}
