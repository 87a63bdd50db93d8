//! The scrape endpoint, and the background work: delivering threshold signals and draining
//! histograms.
//!
//! The endpoint is a deliberately small HTTP/1.1 server: it answers `GET` and `HEAD` on the
//! scrape path with the text exposition format and closes the connection, which is all a
//! Prometheus scrape needs, and gives `404` elsewhere.

use std::sync::Arc;
use std::time::Duration;

use andon_core::{AndonSignal, SignalSink};
use andon_runtime::{Backoff, WorkReceiver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::recorder::{Registry, Renderer};

/// The Content-Type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head accepted.
const MAX_REQUEST: usize = 16 * 1024;
/// How often histograms are drained when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);
/// How long one attempt to deliver a threshold signal may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The pauses between attempts to deliver a threshold signal: 100 ms, then 500 ms, then it
/// counts as failed.
fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100))
        .with_factor(5)
        .with_cap(Duration::from_millis(500))
        .without_jitter()
        .with_max_retries(2)
}

/// Everything the background task needs.
pub(crate) struct Background {
    pub(crate) registry: Arc<Registry>,
    pub(crate) events: WorkReceiver<Box<AndonSignal>>,
    /// Where threshold signals go (given to the builder; dropped when the task stops).
    pub(crate) sink: Option<Arc<dyn SignalSink>>,
    pub(crate) listener: Option<(std::net::TcpListener, Arc<str>)>,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Background {
    /// Runs until `stop` changes or its sender is dropped.
    pub(crate) async fn run(self) {
        let Background {
            registry,
            events,
            sink,
            listener,
            mut stop,
        } = self;
        let handle = registry.handle().clone();
        let serve = async {
            match listener {
                Some((listener, path)) => serve(listener, path, handle.clone()).await,
                None => std::future::pending().await,
            }
        };
        let upkeep = async {
            loop {
                tokio::time::sleep(UPKEEP).await;
                handle.run_upkeep();
            }
        };
        tokio::select! {
            _ = stop.changed() => {}
            () = serve => {}
            () = upkeep => {}
            () = dispatch(events, sink, &registry) => {}
        }
    }
}

/// Delivers threshold signals to the sink, in order, retrying each a few times.
async fn dispatch(
    mut events: WorkReceiver<Box<AndonSignal>>,
    sink: Option<Arc<dyn SignalSink>>,
    registry: &Registry,
) {
    let internal = &registry.internal;
    while let Some(signal) = events.recv().await {
        deliver(&signal, &sink, &events, internal).await;
        events.done(1);
    }
}

/// Hands one threshold signal to the sink, retrying as [`retry_backoff`] says.
async fn deliver(
    signal: &AndonSignal,
    sink: &Option<Arc<dyn SignalSink>>,
    events: &WorkReceiver<Box<AndonSignal>>,
    internal: &crate::recorder::Internal,
) {
    let Some(target) = sink else {
        internal.threshold_no_sink.increment(1);
        return;
    };
    let mut backoff = retry_backoff();
    loop {
        let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, target.on_signal(signal)).await;
        match attempt {
            Ok(Ok(())) => {
                internal.threshold_delivered.increment(1);
                break;
            }
            Ok(Err(_)) | Err(_) => {
                let error = match attempt {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {ATTEMPT_TIMEOUT:?}"),
                };
                events.set_last_error(format!("signal sink `{}`: {error}", target.name()));
                match backoff.next_retry() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => {
                        internal.threshold_failed.increment(1);
                        break;
                    }
                }
            }
        }
    }
}

async fn serve(listener: std::net::TcpListener, path: Arc<str>, handle: Renderer) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        // Only fails outside a runtime with I/O enabled, which `run` never is.
        Err(_) => return,
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, Arc::clone(&path), handle.clone()));
            }
            // Out of file descriptors and the like: wait rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: tokio::net::TcpStream, path: Arc<str>, handle: Renderer) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut buf = [0_u8; 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            head.extend_from_slice(&buf[..n]);
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(true);
            }
            if head.len() > MAX_REQUEST {
                return Ok(false);
            }
        }
    })
    .await;
    if !matches!(read, Ok(Ok(true))) {
        return;
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let requested = target.split('?').next().unwrap_or("");
    let response = if requested != &*path {
        reply(
            "404 Not Found",
            "text/plain; charset=utf-8",
            format!("not found: metrics are served at {path}\n"),
            method == "HEAD",
        )
    } else if method != "GET" && method != "HEAD" {
        reply(
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "use GET\n".to_owned(),
            false,
        )
    } else {
        let body = tokio::task::spawn_blocking(move || handle.render())
            .await
            .unwrap_or_default();
        reply("200 OK", CONTENT_TYPE, body, method == "HEAD")
    };
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

fn reply(status: &str, content_type: &str, body: String, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}
