//! The work queue's unit tests: refusal and counts, flush, close, the last error, and when
//! a push wakes the worker.

use super::*;

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_refuses_and_counts_instead_of_waiting() {
    let (queue, mut worker) = work_queue(2);
    assert_eq!(queue.capacity(), 2);
    queue.try_push(1).unwrap();
    queue.try_push(2).unwrap();
    assert_eq!(queue.try_push(3), Err(Rejected::Full(3)));
    assert_eq!(queue.counts().dropped(), 1);
    assert_eq!(
        (
            queue.counts().accepted(),
            queue.counts().depth(),
            queue.queued()
        ),
        (2, 2, 2)
    );

    let mut batch = Vec::new();
    assert!(worker.recv_batch(&mut batch, 8).await);
    assert_eq!(batch, vec![1, 2]);
    assert_eq!(
        (queue.counts().depth(), queue.queued()),
        (2, 0),
        "taken is not done"
    );
    worker.done(2);
    assert_eq!((queue.counts().processed(), queue.counts().depth()), (2, 0));
    queue.try_push(4).unwrap();
    assert_eq!(Rejected::Full(5).into_inner(), 5);
    let counts = queue.counts();
    drop(queue);
    assert_eq!((counts.accepted(), counts.dropped()), (3, 1));
    assert_eq!((counts.processed(), counts.depth()), (2, 1));
    assert_eq!(counts.last_error(), None);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn flush_waits_for_the_worker_within_its_deadline() {
    let (queue, mut worker) = work_queue::<u32>(8);
    // Nothing queued: a flush returns at once.
    queue.flush(Duration::ZERO).await.unwrap();

    queue.try_push(1).unwrap();
    // Nobody works: the deadline ends the flush.
    assert_eq!(
        queue.flush(Duration::from_secs(1)).await,
        Err(FlushError::TimedOut)
    );
    let task = tokio::spawn(async move {
        // A worker that drains only when woken (a timer-driven exporter).
        loop {
            worker.woken().await;
            let mut batch = Vec::new();
            let taken = worker.take_waiting(&mut batch, 16) as u64;
            worker.done(taken);
            if worker.is_closed() {
                return worker;
            }
        }
    });
    queue.try_push(2).unwrap();
    queue.flush(Duration::from_secs(1)).await.unwrap();
    assert_eq!(queue.counts().depth(), 0);
    queue.close();
    let worker = task.await.unwrap();
    drop(worker);
    queue.try_push(3).unwrap_err();
    assert!(FlushError::TimedOut.to_string().contains("deadline"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_flush_fails_when_the_worker_is_gone() {
    let (queue, worker) = work_queue(1);
    queue.try_push(1).unwrap();
    drop(worker);
    assert_eq!(
        queue.flush(Duration::from_secs(5)).await,
        Err(FlushError::WorkerGone)
    );
    assert_eq!(queue.try_push(2), Err(Rejected::Closed(2)));
}

#[tokio::test(flavor = "current_thread")]
async fn close_refuses_new_items_and_the_worker_drains_the_rest() {
    let (queue, mut worker) = work_queue(4);
    queue.try_push(1).unwrap();
    queue.try_push(2).unwrap();
    queue.close();
    assert!(queue.is_closed() && worker.is_closed());
    assert_eq!(queue.try_push(3), Err(Rejected::Closed(3)));
    assert_eq!(queue.counts().dropped(), 1);
    assert_eq!(worker.recv().await, Some(1));
    assert_eq!(worker.recv().await, Some(2));
    assert_eq!(worker.recv().await, None);
    let mut batch = Vec::new();
    assert!(!worker.recv_batch(&mut batch, 4).await);
    assert!(batch.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn the_last_error_is_kept_for_reports() {
    let (queue, worker) = work_queue::<()>(1);
    assert_eq!(queue.counts().last_error(), None);
    worker.set_last_error("sink `x`: connection refused");
    assert_eq!(
        queue.counts().last_error().as_deref(),
        Some("sink `x`: connection refused")
    );
    queue.last_error_slot().set("later");
    assert_eq!(worker.last_error_slot().get().as_deref(), Some("later"));
    queue.last_error_slot().clear();
    assert_eq!(queue.counts().last_error(), None);
    assert_eq!(worker.accepted(), 0);
}

/// Whether a wake is waiting for the worker (a `woken` call returns at once).
async fn is_woken<T>(worker: &WorkReceiver<T>) -> bool {
    tokio::time::timeout(Duration::from_millis(1), worker.woken())
        .await
        .is_ok()
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_batch_queue_wakes_its_worker_once_per_batch_and_on_flush() {
    let (queue, mut worker) = work_queue_with::<u32>(16, WakePolicy::Batch(4));
    for item in 1..=3 {
        queue.try_push(item).unwrap();
        assert!(!is_woken(&worker).await, "item {item} woke the worker");
    }
    queue.try_push(4).unwrap();
    assert!(is_woken(&worker).await, "a full batch wakes the worker");
    assert!(!is_woken(&worker).await, "one wake per batch");
    let mut batch = Vec::new();
    assert_eq!(worker.take_waiting(&mut batch, 16), 4);
    for item in 5..=7 {
        queue.try_push(item).unwrap();
    }
    assert!(!is_woken(&worker).await);
    queue.try_push(8).unwrap();
    assert!(is_woken(&worker).await, "the next batch wakes it again");

    queue.try_push(9).unwrap();
    assert!(!is_woken(&worker).await);
    // A flush wakes a worker that drains only when woken.
    let flush = queue.flush(Duration::from_secs(1));
    let drain = async {
        worker.woken().await;
        let taken = worker.take_waiting(&mut batch, 16) as u64;
        worker.done(taken + 4);
    };
    let (flushed, ()) = tokio::join!(flush, drain);
    flushed.unwrap();
    assert_eq!((queue.queued(), queue.counts().depth()), (0, 0));
    // A close and the last sender's drop wake it too.
    queue.close();
    assert!(is_woken(&worker).await);
    drop(queue);
    assert!(is_woken(&worker).await);
    assert_eq!(worker.recv().await, None);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_item_queue_wakes_its_worker_per_item() {
    let (queue, mut worker) = work_queue::<u32>(16);
    for item in 1..=3 {
        queue.try_push(item).unwrap();
        assert!(
            is_woken(&worker).await,
            "item {item} did not wake the worker"
        );
        assert_eq!(worker.try_recv(), Some(item));
    }
    assert_eq!(
        work_queue_with::<u32>(1, WakePolicy::Batch(0))
            .0
            .shared
            .wake_every,
        1
    );
    // A waiting `recv` gets an item pushed from another task, and `None` once every
    // sender is gone.
    let sender = queue.clone();
    let pushes = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        sender.try_push(4).unwrap();
    });
    assert_eq!(worker.recv().await, Some(4));
    pushes.await.unwrap();
    assert!(!worker.is_closed());
    queue.try_push(5).unwrap();
    drop(queue);
    assert!(worker.is_closed());
    assert_eq!(
        worker.recv().await,
        Some(5),
        "pushed before the last sender went"
    );
    assert_eq!(worker.recv().await, None);
}

#[test]
fn a_worker_thread_blocks_until_a_push_and_stops_on_the_close() {
    let (queue, mut worker) = work_queue::<u32>(8);
    // Nothing queued: the timeout ends the wait.
    assert_eq!(
        worker.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
    let thread = std::thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            // Far longer than the test: only a push or the close ends each wait.
            match worker.recv_timeout(Duration::from_secs(300)) {
                Ok(item) => {
                    got.push(item);
                    worker.done(1);
                }
                Err(RecvTimeoutError::Closed) => return (got, worker.close_called()),
                Err(RecvTimeoutError::Timeout) => panic!("a push or the close must wake it"),
            }
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    queue.try_push(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    queue.try_push(2).unwrap();
    assert!(queue.close(), "the first close closes");
    assert!(queue.is_closed());
    assert!(!queue.close(), "a second close finds it closed");
    assert_eq!(queue.try_push(3), Err(Rejected::Closed(3)));
    assert_eq!(thread.join().unwrap(), (vec![1, 2], true));
    assert_eq!(queue.counts().processed(), 2);
}

#[test]
fn a_blocked_worker_thread_stops_when_the_last_sender_goes() {
    let (queue, mut worker) = work_queue::<u32>(8);
    let thread = std::thread::spawn(move || {
        let received = worker.recv_timeout(Duration::from_secs(300));
        (received, worker.is_closed(), worker.close_called())
    });
    std::thread::sleep(Duration::from_millis(20));
    drop(queue);
    assert_eq!(
        thread.join().unwrap(),
        (Err(RecvTimeoutError::Closed), true, false),
        "closed by the senders going away, not by a close"
    );
}

#[test]
fn an_unbounded_flush_needs_no_timer_and_learns_of_a_gone_worker() {
    // A runtime without the time driver: `flush_unbounded` must not need it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (queue, mut worker) = work_queue::<u32>(8);
    runtime.block_on(queue.flush_unbounded()).unwrap();
    queue.try_push(1).unwrap();
    queue.try_push(2).unwrap();
    let thread = std::thread::spawn(move || {
        // Finishes one item, then stops with the other still waiting.
        let one = worker.recv_timeout(Duration::from_secs(300));
        worker.done(1);
        one
    });
    assert_eq!(
        runtime.block_on(queue.flush_unbounded()),
        Err(FlushError::WorkerGone)
    );
    assert_eq!(thread.join().unwrap(), Ok(1));
    assert_eq!(queue.counts().processed(), 1);
}
