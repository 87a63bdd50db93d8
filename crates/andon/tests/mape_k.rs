//! The MAPE-K example's loop, run to completion: the backlog alert throttles the producer by
//! stopping the line, and its resolution releases it, twice.

#![cfg(all(feature = "metrics", feature = "alert"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

#[path = "../examples/mape_k.rs"]
#[allow(dead_code)] // reason: the example's `main` is not called here
mod mape_k;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_throttles_on_a_backlog_and_releases_when_it_clears() {
    let report = mape_k::run(2).await.unwrap();
    assert_eq!(report.throttles, 2, "{report:?}");
    assert_eq!(report.releases, 2, "{report:?}");
    assert!(
        report.peak_depth > 40,
        "throttled only above the rule's max_depth: {report:?}"
    );
    assert!(
        report.consumed > 0 && report.produced >= report.consumed,
        "{report:?}"
    );
}
