//! `GET /v1/events`: the system's events and the agent's alert changes as Server-Sent Events,
//! capped in number (in all and per client address) and in the bytes waiting for each reader.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon::SystemEvent;
use axum::extract::State;
use axum::http::{Extensions, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::alerts;
use crate::api::{AlertsEvent, Hello, Lagged};
use crate::connections::Peer;
use crate::request::ApiError;
use crate::server::{AgentState, Ctx};

/// Counts an open event stream, in all and for its client; dropping it uncounts it.
struct StreamSlot {
    total: Arc<AtomicUsize>,
    by_client: Arc<Mutex<std::collections::HashMap<IpAddr, usize>>>,
    client: Option<IpAddr>,
}

/// Why a stream slot was refused.
enum Full {
    Total(usize),
    Client(usize),
}

impl StreamSlot {
    fn take(state: &Ctx, client: Option<IpAddr>) -> Result<Self, Full> {
        let (max, per_client) = (
            state.limits.max_event_streams(),
            state.limits.max_event_streams_per_client(),
        );
        state
            .streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Full::Total(max))?;
        // From here, dropping the slot gives the place back.
        let mut slot = StreamSlot {
            total: Arc::clone(&state.streams),
            by_client: Arc::clone(&state.streams_by_client),
            client: None,
        };
        if let Some(ip) = client {
            let mut open = state
                .streams_by_client
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mine = open.entry(ip).or_insert(0);
            if *mine >= per_client {
                return Err(Full::Client(per_client));
            }
            *mine += 1;
            slot.client = Some(ip);
        }
        Ok(slot)
    }

    fn release_client(&mut self) {
        if let Some(ip) = self.client.take() {
            let mut open = self
                .by_client
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = open.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        self.release_client();
    }
}

pub(crate) async fn events(State(state): State<Ctx>, extensions: Extensions) -> Response {
    let client = extensions.get::<Peer>().map(|p| p.0.ip().to_canonical());
    let slot = match StreamSlot::take(&state, client) {
        Ok(slot) => slot,
        Err(Full::Total(max)) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{max} event streams are open already: close one, or poll GET /v1/board"),
            )
            .into_response();
        }
        Err(Full::Client(max)) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{max} event streams are open from your address already: close one, or poll GET /v1/board"),
            )
            .into_response();
        }
    };
    let budget = state.limits.max_stream_buffer_bytes();
    let state = state.shared();
    let mut source = state.system.subscribe();
    let mut stopping = state.stopping.subscribe();
    let mut alerts = state.alerts.subscribe();
    let (tx, rx) = mpsc::channel::<(&'static str, String)>(64);
    // The bytes sent to the stream and not yet taken by the response body.
    let queued = Arc::new(AtomicUsize::new(0));
    let taken = Arc::clone(&queued);
    tokio::spawn(async move {
        let _slot = slot;
        let send = |name: &'static str, data: String| {
            let tx = tx.clone();
            let queued = Arc::clone(&queued);
            async move {
                // A reader this far behind is cut off; its browser reconnects and reloads. One
                // event always fits an empty buffer, however large.
                let waiting = queued.load(Ordering::Acquire);
                if waiting > 0 && waiting + data.len() > budget {
                    return false;
                }
                queued.fetch_add(data.len(), Ordering::AcqRel);
                tx.send((name, data)).await.is_ok()
            }
        };
        if !send(
            "hello",
            data(&Hello {
                agent: "andon".to_owned(),
                api: "v1".to_owned(),
            }),
        )
        .await
        {
            return;
        }
        if let Some(open) = alerts::open(&state.system)
            && !send(
                "alerts",
                data(&AlertsEvent {
                    alerts: Arc::new(open),
                }),
            )
            .await
        {
            return;
        }
        loop {
            if *stopping.borrow() {
                break;
            }
            let event = tokio::select! {
                _ = stopping.changed() => break,
                () = tx.closed() => break,
                open = alerts.recv() => match open {
                    Ok(open) => Ok(SseItem::Alerts(open)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => Err(broadcast::error::RecvError::Lagged(missed)),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                received = source.recv() => received.map(SseItem::System),
            };
            let event = match event {
                Ok(SseItem::System(event)) => to_sse(&event),
                Ok(SseItem::Alerts(open)) => Some(("alerts", data(&AlertsEvent { alerts: open }))),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some(("lagged", data(&Lagged { missed })))
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Some((name, data)) = event
                && !send(name, data).await
            {
                break;
            }
        }
    });
    let stream = ReceiverStream::new(rx).map(move |(name, data)| {
        taken.fetch_sub(data.len(), Ordering::AcqRel);
        Ok::<_, Infallible>(Event::default().event(name).data(data))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What an event stream forwards: the system's events and the agent's alert changes.
enum SseItem {
    System(SystemEvent),
    Alerts(Arc<Vec<alerts::AlertView>>),
}

/// How often the open alerts are compared with the last ones sent: rules fire from metrics and
/// health on their own schedule, not only on signals.
const ALERT_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long the alert watcher gathers a burst of signals before looking again.
const ALERT_COALESCE: Duration = Duration::from_millis(50);

/// Sends the open alerts to the event streams whenever they change, until the agent stops.
pub(crate) async fn watch_alerts(state: Arc<AgentState>) {
    let mut stopping = state.stopping.subscribe();
    let mut signals = state.system.subscribe();
    let mut last: Option<Vec<alerts::AlertView>> = None;
    loop {
        let open = alerts::open(&state.system);
        if let Some(open) = open
            && last.as_ref() != Some(&open)
        {
            let _ = state.alerts.send(Arc::new(open.clone()));
            last = Some(open);
        }
        tokio::select! {
            _ = stopping.changed() => return,
            () = state.alerts_changed.notified() => {}
            // A signal may open an alert: look again soon.
            received = signals.recv() => {
                if matches!(received, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            () = tokio::time::sleep(ALERT_WATCH_INTERVAL) => {}
        }
        // Under a burst of signals, look once per burst rather than once per signal.
        tokio::time::sleep(ALERT_COALESCE).await;
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = signals.try_recv() {}
        if *stopping.borrow() {
            return;
        }
    }
}

/// An event's data: its JSON (`{}` if it cannot be written, which the api types never do).
fn data(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

fn to_sse(event: &SystemEvent) -> Option<(&'static str, String)> {
    match event {
        SystemEvent::Signal(signal) => Some(("signal", signal.to_json())),
        SystemEvent::Line(line) => Some(("line", data(line))),
        SystemEvent::Diagnostics(report) => Some(("diagnostics", data(report))),
        _ => None,
    }
}
