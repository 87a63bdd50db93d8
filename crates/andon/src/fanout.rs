//! The fan-out of one signal: every part (log, metrics, trace, alert, the sinks given to the
//! builder) takes it at the same time, each within a deadline, in a future that runs to its end
//! even when the caller stops waiting.
//!
//! A part that does not answer within the deadline (a log sink whose reader stopped reading, a
//! stuck `/dev/log`) is skipped for that signal: the others have taken it already, since they
//! were not waiting behind it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use andon_core::{AndonError, AndonSignal, Receipt, SignalSink};

use crate::error::PartFailure;

/// How long [`AndonSystem::signal_problem`](crate::AndonSystem::signal_problem) waits for each
/// part by default before it skips it.
pub const DEFAULT_PART_DEADLINE: Duration = Duration::from_secs(1);

/// The counter of parts skipped because they did not take a signal within their deadline.
pub(crate) const PART_TIMEOUTS: &str = "andon_signal_part_timeouts_total";

/// Its HELP text.
pub(crate) const PART_TIMEOUTS_HELP: &str = "Signals a part of the system (log, metrics, trace, alert, a custom sink) did not take within its deadline, by part; the part was skipped for that signal and the others were not held up";

/// A part that took a signal but had nothing to do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPart {
    /// The part (`alert`, …).
    pub component: &'static str,
    /// Why it did nothing (`no alert rule matched`).
    pub reason: String,
}

/// What the parts did with one signal, in the parts' order.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    pub(crate) delivered_to: Vec<&'static str>,
    pub(crate) skipped: Vec<SkippedPart>,
    pub(crate) timed_out: Vec<&'static str>,
    pub(crate) failures: Vec<PartFailure>,
}

type Accepting<'a> = Pin<Box<dyn Future<Output = Result<Receipt, AndonError>> + Send + 'a>>;

/// Hands `signal` to every sink at once and waits for each at most `deadline`.
pub(crate) async fn deliver(
    sinks: &[Arc<dyn SignalSink>],
    signal: &AndonSignal,
    deadline: Duration,
) -> Delivery {
    let mut pending: Vec<Option<Accepting<'_>>> =
        sinks.iter().map(|sink| Some(sink.accept(signal))).collect();
    let mut results: Vec<Option<Result<Receipt, AndonError>>> =
        sinks.iter().map(|_| None).collect();
    let mut left = sinks.len();
    // Created only if a part is still busy after the first round: most signals never need it.
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx: &mut Context<'_>| {
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(part) = slot
                && let Poll::Ready(answer) = part.as_mut().poll(cx)
            {
                *result = Some(answer);
                *slot = None;
                left -= 1;
            }
        }
        if left == 0 {
            return Poll::Ready(());
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        timer.as_mut().poll(cx)
    })
    .await;
    // Parts still pending are dropped here: they are skipped for this signal.
    drop(pending);

    let mut delivery = Delivery {
        delivered_to: Vec::with_capacity(sinks.len()),
        ..Delivery::default()
    };
    for (sink, result) in sinks.iter().zip(results) {
        let component = sink.name();
        match result {
            Some(Ok(Receipt::Skipped { reason })) => {
                delivery.skipped.push(SkippedPart { component, reason });
            }
            Some(Ok(_)) => delivery.delivered_to.push(component),
            Some(Err(error)) => delivery.failures.push(PartFailure { component, error }),
            None => {
                delivery.timed_out.push(component);
                delivery.failures.push(PartFailure {
                    component,
                    error: AndonError::component(
                        component,
                        format!(
                            "did not take the signal within {deadline:?}, so it was skipped and the other parts went on; see {PART_TIMEOUTS}"
                        ),
                    ),
                });
            }
        }
    }
    delivery
}

/// A future that, when dropped before it completes, finishes on the runtime instead of being
/// cancelled: a caller that stops waiting (a client timeout, a shutdown) cannot cut a signal's
/// fan-out short once the line has changed.
pub(crate) struct Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    future: Option<Pin<Box<F>>>,
}

impl<F> Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) fn new(future: F) -> Self {
        Detached {
            future: Some(Box::pin(future)),
        }
    }
}

impl<F> Future for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(future) = self.future.as_mut() else {
            // Polled again after it completed: there is nothing more to give.
            return Poll::Pending;
        };
        match future.as_mut().poll(cx) {
            Poll::Ready(output) => {
                self.future = None;
                Poll::Ready(output)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> Drop for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        if let Some(future) = self.future.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(future);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Part {
        name: &'static str,
        answer: Option<Receipt>,
        took: AtomicUsize,
    }

    #[async_trait]
    impl SignalSink for Part {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
            Ok(())
        }
        async fn accept(&self, _signal: &AndonSignal) -> Result<Receipt, AndonError> {
            self.took.fetch_add(1, Ordering::SeqCst);
            match &self.answer {
                Some(receipt) => Ok(receipt.clone()),
                None => std::future::pending().await,
            }
        }
    }

    fn part(name: &'static str, answer: Option<Receipt>) -> Arc<Part> {
        Arc::new(Part {
            name,
            answer,
            took: AtomicUsize::new(0),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_part_that_never_answers_is_skipped_and_does_not_hold_up_the_others() {
        let stuck = part("stuck", None);
        let after = part("after", Some(Receipt::Delivered));
        let idle = part(
            "idle",
            Some(Receipt::Skipped {
                reason: "no rule matched".into(),
            }),
        );
        let sinks: Vec<Arc<dyn SignalSink>> = vec![stuck.clone(), after.clone(), idle.clone()];
        let delivery = deliver(&sinks, &AndonSignal::red("x"), Duration::from_millis(250)).await;
        assert_eq!(after.took.load(Ordering::SeqCst), 1);
        assert_eq!(delivery.delivered_to, ["after"]);
        assert_eq!(
            delivery.skipped,
            [SkippedPart {
                component: "idle",
                reason: "no rule matched".into()
            }]
        );
        assert_eq!(delivery.timed_out, ["stuck"]);
        assert_eq!(delivery.failures.len(), 1);
        assert!(
            delivery.failures[0]
                .to_string()
                .contains("did not take the signal within 250ms"),
            "{}",
            delivery.failures[0]
        );
    }

    #[tokio::test]
    async fn a_dropped_detached_future_still_runs_to_its_end() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let detached = Detached::new(async move {
            let _ = started_tx.send(());
            let _ = release_rx.await;
            let _ = done_tx.send(());
        });
        let caller = tokio::spawn(detached);
        started_rx.await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        release_tx.send(()).unwrap();
        done_rx
            .await
            .expect("the rest ran after the caller was dropped");
    }
}
