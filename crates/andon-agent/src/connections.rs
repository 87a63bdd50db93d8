//! Accepting and serving connections with limits: a request head (and the next request on an
//! idle keep-alive connection) must arrive within the header read timeout, at most
//! `max_connections` are open at once (more are closed as soon as they are accepted), and every
//! connection is counted. axum's own `serve` runs hyper without a timer, so a client that sends
//! half a request would hold its connection forever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use andon::core::stats::{StatLine, Stats};
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::limits::Limits;

/// The client address of a request, put in its extensions by the connection that carried it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// What the connection layer has seen: open connections and the ones it cut off.
#[derive(Debug, Default)]
pub(crate) struct ConnectionCounters {
    pub(crate) open: AtomicUsize,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_full: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) body_timeouts: AtomicU64,
}

/// The agent's connection counters, as [`Agent::connection_stats`](crate::Agent::connection_stats)
/// reports them and `/metrics` exposes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: usize,
    /// Connections accepted since the agent started.
    pub accepted: u64,
    /// Connections closed at once because `max_connections` were open.
    pub refused_full: u64,
    /// Connections closed because a request head did not arrive in time (or an idle keep-alive
    /// connection sent nothing).
    pub timed_out: u64,
    /// Requests answered 408 because their body did not arrive whole in time.
    pub body_timeouts: u64,
}

impl ConnectionCounters {
    pub(crate) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            open: self.open.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused_full: self.refused_full.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            body_timeouts: self.body_timeouts.load(Ordering::Relaxed),
        }
    }

    /// The counters in the Prometheus text format, appended to `/metrics` (served only with
    /// the metrics component, so only with `full`).
    #[cfg(any(test, feature = "full"))]
    pub(crate) fn render(&self) -> String {
        andon::core::stats::render_prometheus(&[&self.stats()])
    }
}

impl Stats for ConnectionStats {
    /// `andon_agent_connections_open` and
    /// `andon_agent_connections_closed_total{reason="full|header_timeout|body_timeout"}`.
    fn describe(&self) -> Vec<StatLine> {
        let closed = "HTTP connections the agent cut off, by reason";
        vec![
            StatLine::gauge(OPEN, "HTTP connections open now", self.open as f64),
            StatLine::counter(CLOSED, closed, self.refused_full as f64)
                .with_label("reason", "full"),
            StatLine::counter(CLOSED, closed, self.timed_out as f64)
                .with_label("reason", "header_timeout"),
            StatLine::counter(CLOSED, closed, self.body_timeouts as f64)
                .with_label("reason", "body_timeout"),
        ]
    }
}

/// The gauge of HTTP connections open now.
const OPEN: &str = "andon_agent_connections_open";
/// The counter of connections the agent cut off, by reason.
const CLOSED: &str = "andon_agent_connections_closed_total";

/// Counts an open connection; dropping it uncounts it.
struct Open(Arc<ConnectionCounters>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts on `listener` and serves `app` on each connection until `stop` turns `true`; then
/// stops accepting, asks every open connection to finish its request and close, and returns
/// once they have.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    counters: Arc<ConnectionCounters>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections()));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // Out of file descriptors, or a connection reset before it was accepted: wait a
            // moment rather than spin, and keep serving.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            counters.refused_full.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        counters.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(Arc::clone(&counters));
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop.clone();
        let counters = Arc::clone(&counters);
        connections.spawn(async move {
            let _slot = slot;
            let _open = open;
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(Peer(peer));
                    app.clone().oneshot(request.map(Body::new))
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout())
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            // The connection first: it is what wakes this task on every request.
            let finished = tokio::select! {
                biased;
                finished = connection.as_mut() => finished,
                () = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = finished
                && error.is_timeout()
            {
                counters.timed_out.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Completes once `stop` turns `true` (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_one_scrapers_know() {
        let counters = ConnectionCounters::default();
        counters.open.store(2, Ordering::Relaxed);
        counters.refused_full.store(3, Ordering::Relaxed);
        counters.timed_out.store(4, Ordering::Relaxed);
        counters.body_timeouts.store(5, Ordering::Relaxed);
        assert_eq!(
            counters.render(),
            "# HELP andon_agent_connections_open HTTP connections open now\n\
             # TYPE andon_agent_connections_open gauge\n\
             andon_agent_connections_open 2\n\
             # HELP andon_agent_connections_closed_total HTTP connections the agent cut off, by reason\n\
             # TYPE andon_agent_connections_closed_total counter\n\
             andon_agent_connections_closed_total{reason=\"full\"} 3\n\
             andon_agent_connections_closed_total{reason=\"header_timeout\"} 4\n\
             andon_agent_connections_closed_total{reason=\"body_timeout\"} 5\n"
        );
    }
}
