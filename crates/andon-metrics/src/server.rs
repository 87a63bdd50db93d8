//! The scrape endpoint, and the background work: delivering threshold signals and draining
//! histograms.
//!
//! The endpoint is a deliberately small HTTP/1.1 server: it answers `GET` and `HEAD` on the
//! scrape path with the text exposition format and closes the connection, which is all a
//! Prometheus scrape needs, and gives `404` elsewhere.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use andon_core::SignalSink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::recorder::{Event, Registry, Renderer};

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
/// Pauses between attempts to deliver a threshold signal.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(500)];

/// Everything the background task needs.
pub(crate) struct Background {
    pub(crate) registry: Arc<Registry>,
    pub(crate) events: mpsc::Receiver<Event>,
    /// Where threshold signals go (given to the builder; dropped when the task stops).
    pub(crate) sink: Option<Arc<dyn SignalSink>>,
    pub(crate) last_error: Arc<Mutex<Option<String>>>,
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
            last_error,
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
            () = dispatch(events, sink, last_error, &registry) => {}
        }
    }
}

/// Delivers threshold signals to the sink, in order, retrying each a few times.
async fn dispatch(
    mut events: mpsc::Receiver<Event>,
    sink: Option<Arc<dyn SignalSink>>,
    last_error: Arc<Mutex<Option<String>>>,
    registry: &Registry,
) {
    let internal = &registry.internal;
    while let Some(event) = events.recv().await {
        let signal = match event {
            Event::Flush(done) => {
                let _ = done.send(());
                continue;
            }
            Event::Signal(signal) => signal,
        };
        let Some(target) = &sink else {
            internal.threshold_no_sink.increment(1);
            continue;
        };
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, target.on_signal(&signal)).await;
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
                    *last_error.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(format!("signal sink `{}`: {error}", target.name()));
                    match delays.next() {
                        Some(delay) => tokio::time::sleep(*delay).await,
                        None => {
                            internal.threshold_failed.increment(1);
                            break;
                        }
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
