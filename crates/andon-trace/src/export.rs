//! Batch export off the caller's thread: ended spans go into a bounded queue (andon-runtime's
//! [`WorkQueue`] in batch mode: a full queue drops the span and counts it, and only every
//! `max_export_batch_size`-th span wakes the worker), and a tokio task sends them in batches to
//! the exporter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use andon_runtime::{QueueCounts, WakePolicy, WorkQueue, WorkReceiver, work_queue_with};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use tokio::sync::{mpsc, oneshot};

use crate::stats::TraceStats;

/// The tracer's live counters; spans queued and dropped are the export queue's.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// The export queue's counters, once its worker is spawned.
    pub(crate) queue: OnceLock<QueueCounts>,
    pub(crate) exported: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) export_errors: AtomicU64,
}

impl Counters {
    /// The counters, with `started` and `not_sampled` counted by the span table.
    pub(crate) fn snapshot(&self, (started, not_sampled): (u64, u64)) -> TraceStats {
        let queue = self.queue.get();
        TraceStats {
            spans_started: started,
            spans_not_sampled: not_sampled,
            spans_queued: queue.map_or(0, QueueCounts::accepted),
            spans_dropped: queue.map_or(0, QueueCounts::dropped),
            spans_exported: self.exported.load(Ordering::Relaxed),
            spans_failed: self.failed.load(Ordering::Relaxed),
            export_errors: self.export_errors.load(Ordering::Relaxed),
        }
    }
}

/// Asks the worker to export what is queued, shut the exporter down and stop.
struct Shutdown(oneshot::Sender<()>);

/// The span processor the SDK calls on every ended recorded span.
///
/// The export task is not woken per span (a wake-up across threads for every span would cost
/// the caller more than the span): it drains the queue on its timer, and on the queue's wake
/// once per full batch ([`WakePolicy::Batch`]).
#[derive(Debug)]
pub(crate) struct QueueProcessor {
    spans: WorkQueue<SpanData>,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        enqueue(&self.spans, span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        // andon's own async `flush` waits for the worker; the SDK's blocking call cannot.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Puts an ended span in the export queue without waiting: a refused span is counted as
/// dropped by the queue, and the queue wakes the worker once per full batch.
#[inline]
fn enqueue(spans: &WorkQueue<SpanData>, span: SpanData) {
    // The queue counted the refusal; the span is dropped here.
    let _ = spans.try_push(span);
}

/// The handle that queues andon's own ended spans and asks the worker to flush or shut down.
#[derive(Debug, Clone)]
pub(crate) struct ExportControl {
    spans: WorkQueue<SpanData>,
    control: mpsc::UnboundedSender<Shutdown>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shutdown")
    }
}

impl ExportControl {
    /// Queues an ended span of andon's own, as the SDK's processor queues the `tracing`
    /// layer's.
    #[inline]
    pub(crate) fn enqueue(&self, span: SpanData) {
        enqueue(&self.spans, span);
    }

    /// Exports every span queued before the call; `false` when the worker is gone. Unbounded
    /// here: the tracer bounds the wait with its own deadline.
    pub(crate) async fn flush(&self) -> bool {
        self.spans.flush(Duration::MAX).await.is_ok()
    }

    /// Exports every queued span, shuts the exporter down and stops the worker.
    pub(crate) async fn shutdown(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.control.send(Shutdown(tx)).is_ok() && rx.await.is_ok()
    }
}

/// The queue settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueSettings {
    pub(crate) max_queue_size: usize,
    pub(crate) max_export_batch_size: usize,
    pub(crate) scheduled_delay: Duration,
    pub(crate) export_timeout: Duration,
}

/// Builds the processor and spawns its worker on `runtime`.
pub(crate) fn spawn<E: SpanExporter + 'static>(
    exporter: E,
    settings: QueueSettings,
    counters: Arc<Counters>,
    runtime: &tokio::runtime::Handle,
) -> (QueueProcessor, ExportControl) {
    let (spans_tx, spans_rx) = work_queue_with(
        settings.max_queue_size,
        WakePolicy::Batch(settings.max_export_batch_size),
    );
    let _ = counters.queue.set(spans_tx.counts());
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let worker = Worker {
        exporter,
        spans: spans_rx,
        control: control_rx,
        settings,
        counters: counters.clone(),
        batch: Vec::with_capacity(settings.max_export_batch_size),
    };
    runtime.spawn(worker.run());
    (
        QueueProcessor {
            spans: spans_tx.clone(),
        },
        ExportControl {
            spans: spans_tx,
            control: control_tx,
        },
    )
}

struct Worker<E> {
    exporter: E,
    spans: WorkReceiver<SpanData>,
    control: mpsc::UnboundedReceiver<Shutdown>,
    settings: QueueSettings,
    counters: Arc<Counters>,
    batch: Vec<SpanData>,
}

impl<E: SpanExporter> Worker<E> {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.settings.scheduled_delay);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let open = tokio::select! {
                _ = tick.tick() => self.drain().await,
                // A full batch waits, or a flush asks for everything now.
                () = self.spans.woken() => self.drain().await,
                control = self.control.recv() => match control {
                    Some(Shutdown(done)) => {
                        self.drain().await;
                        let _ = self.exporter.shutdown();
                        let _ = done.send(());
                        return;
                    }
                    None => false,
                },
            };
            if !open {
                // The tracer was dropped without a shutdown: what was queued is sent.
                self.drain().await;
                let _ = self.exporter.shutdown();
                return;
            }
        }
    }

    /// Exports everything waiting in the queue; `false` once every sender is gone.
    async fn drain(&mut self) -> bool {
        let max = self.settings.max_export_batch_size;
        while self.spans.take_waiting(&mut self.batch, max) > 0 {
            if self.batch.len() >= max {
                self.export().await;
            }
        }
        self.export().await;
        !self.spans.is_closed()
    }

    async fn export(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let spans = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.settings.max_export_batch_size),
        );
        let count = spans.len() as u64;
        // The OTLP exporter retries retryable failures itself (with backoff, within the
        // timeout); what still fails is counted.
        let result =
            tokio::time::timeout(self.settings.export_timeout, self.exporter.export(spans)).await;
        if matches!(result, Ok(Ok(()))) {
            self.counters.exported.fetch_add(count, Ordering::Relaxed);
        } else {
            self.counters.export_errors.fetch_add(1, Ordering::Relaxed);
            self.counters.failed.fetch_add(count, Ordering::Relaxed);
        }
        self.spans.done(count);
    }
}
