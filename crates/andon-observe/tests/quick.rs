//! Where a check measures: quick probes on the caller's task (no thread handoff), every other
//! probe on tokio's blocking pool; a panic is an error either way.
// Helpers outside #[test] functions may unwrap too: a failure should stop the test right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use andon_core::config::ObserverConfig;
use andon_core::{DiagnosticsSource, HealthStatus};
use andon_observe::{AndonObserver, Diagnostics, ObserveError, Probe, Sections, SysinfoProbe};

/// Records the thread each measurement ran on; panics on the calls `panic_on` names.
#[derive(Debug, Clone)]
struct Where {
    quick: bool,
    threads: Arc<Mutex<Vec<ThreadId>>>,
    panic_on: Option<usize>,
}

impl Where {
    fn new(quick: bool) -> Self {
        Where {
            quick,
            threads: Arc::default(),
            panic_on: None,
        }
    }

    fn threads(&self) -> Vec<ThreadId> {
        self.threads.lock().unwrap().clone()
    }
}

impl Probe for Where {
    fn is_quick(&self, _sections: Sections) -> bool {
        self.quick
    }

    fn measure(&mut self, _sections: Sections) -> Diagnostics {
        let mut threads = self.threads.lock().unwrap();
        threads.push(std::thread::current().id());
        let call = threads.len();
        drop(threads);
        assert_ne!(Some(call), self.panic_on, "the probe broke on call {call}");
        let mut d = Diagnostics::empty();
        d.memory_percent = 97.0;
        d.cpu_percent = 1.0;
        d
    }
}

fn observer(probe: &Where) -> AndonObserver {
    let config = ObserverConfig {
        health_hold_checks: 1,
        ..ObserverConfig::default()
    };
    AndonObserver::builder(config)
        .with_probe(probe.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_quick_probe_measures_on_the_callers_task() {
    let probe = Where::new(true);
    let observer = observer(&probe);
    let d = observer.run_diagnostics().await.unwrap();
    assert_eq!(probe.threads(), [std::thread::current().id()]);
    // Judged, stored and counted as a check on a blocking thread is.
    assert_eq!(d.status, HealthStatus::Critical);
    assert_eq!(d.reasons, ["memory 97.0% is above the critical level 95%"]);
    assert_eq!(observer.latest().as_deref(), Some(&d));
    let health = observer.last_health().unwrap();
    assert_eq!((health.status, health.reasons), (d.status, d.reasons));
    assert_eq!(observer.stats().checks, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn any_other_probe_measures_on_a_blocking_thread() {
    let probe = Where::new(false);
    let observer = observer(&probe);
    observer.run_diagnostics().await.unwrap();
    let threads = probe.threads();
    assert_eq!(threads.len(), 1);
    assert_ne!(threads[0], std::thread::current().id());
}

#[tokio::test(flavor = "current_thread")]
async fn a_quick_probe_that_panics_is_an_interrupted_check_and_the_next_one_runs() {
    let probe = Where {
        panic_on: Some(1),
        ..Where::new(true)
    };
    let observer = observer(&probe);
    let error = observer.run_diagnostics().await.unwrap_err();
    assert!(
        matches!(&error, ObserveError::Interrupted { reason } if reason.contains("the probe broke on call 1")),
        "{error}"
    );
    assert!(observer.latest().is_none());
    let d = observer.run_diagnostics().await.unwrap();
    assert_eq!(d.status, HealthStatus::Critical);
    assert_eq!(probe.threads().len(), 2);
}

#[test]
fn sysinfo_is_quick_for_memory_and_cpu_alone() {
    let probe = SysinfoProbe::new().unwrap();
    assert!(probe.is_quick(Sections::NONE));
    assert!(!probe.is_quick(Sections::ALL));
    for one in [
        Sections {
            system: true,
            ..Sections::NONE
        },
        Sections {
            process: true,
            ..Sections::NONE
        },
        Sections {
            network: true,
            ..Sections::NONE
        },
        Sections {
            disks: true,
            ..Sections::NONE
        },
        Sections {
            top: 1,
            ..Sections::NONE
        },
    ] {
        assert!(!probe.is_quick(one), "{one:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_before_the_first_check_is_woken_by_it() {
    for quick in [true, false] {
        let probe = Where::new(quick);
        let observer = observer(&probe);
        observer.start();
        // No on-demand probe and a schedule running: the read waits for the first check (up
        // to one 60 s interval), which must wake it as soon as it is stored.
        let read = tokio::time::timeout(Duration::from_secs(10), observer.measure_now())
            .await
            .expect("woken by the first check, not by the 60 s timeout")
            .unwrap();
        assert_eq!(Some(&read), observer.latest().as_deref());
        assert_eq!(probe.threads().len(), 1, "the read measured nothing itself");
        assert!(
            observer
                .shutdown(Duration::from_secs(5))
                .await
                .is_complete()
        );
    }
}
