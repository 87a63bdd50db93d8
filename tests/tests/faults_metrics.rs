//! Metrics faults (docs/faults.md): the endpoint's port already taken moves the endpoint to a
//! free port and says which (or, with `free_port_if_taken = false`, is a clear error at start
//! naming the address and the fix), and a scrape while threads hammer counters, gauges and
//! histograms gets an exposition that `promtool check metrics` parses, that is consistent
//! within itself and with the scrape before, and that loses no update.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use andon::metrics::AndonMetrics;
use andon::{AndonConfig, AndonSignal, AndonSystem};
use andon_core::config::MetricsConfig;
use andon_tests::{find_peer, free_port, http_get, run_with_stdin};

fn taken_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_moves_the_endpoint_and_the_system_says_where_in_its_log() {
    let (_holder, port) = taken_port();
    let dir = andon_tests::temp_dir();
    let log = dir.path().join("andon.log");
    let config = AndonConfig::from_toml_str(&format!(
        "[logger]\nsinks = [{{ type = \"File\", path = \"{}\" }}]\n\
         [metrics]\nport = {port}\n[tracer]\nenabled = false\n[observer]\nenabled = false\n",
        log.display()
    ))
    .unwrap();
    let system = AndonSystem::new(config).await.unwrap();
    let metrics = system.metrics().unwrap();
    let url = metrics.scrape_url().unwrap();
    assert_ne!(metrics.endpoint().unwrap().port(), port);
    let notice = metrics.endpoint_notice().unwrap().to_owned();
    assert!(notice.contains(&format!("127.0.0.1:{port}")), "{notice}");
    assert!(notice.contains(&url), "{notice}");
    let fetched = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    assert_eq!(fetched.unwrap().0, 200, "served where the notice says");
    system.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let record = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["message"] == notice.as_str())
        .unwrap_or_else(|| panic!("the notice in the log: {text}"));
    assert_eq!(record["level"], "WARNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error_at_start_naming_the_address_and_the_fix() {
    let (_holder, port) = taken_port();

    // The component alone.
    let error = AndonMetrics::builder(MetricsConfig {
        port,
        free_port_if_taken: false,
        ..MetricsConfig::default()
    })
    .with_local_recorder()
    .build()
    .unwrap_err()
    .to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("metrics.port"), "names the key: {error}");
    assert!(error.to_lowercase().contains("in use"), "says why: {error}");

    // The whole system refuses to start, with the same message.
    let config = AndonConfig::from_toml_str(&format!(
        "[metrics]\nport = {port}\nfree_port_if_taken = false\n\
         [tracer]\nenabled = false\n[observer]\nenabled = false\n"
    ))
    .unwrap();
    let error = AndonSystem::new(config).await.unwrap_err().to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("choose a free `metrics.port`"), "{error}");
}

#[test]
fn the_agent_on_a_taken_port_exits_with_the_address() {
    let (_holder, port) = taken_port();
    let dir = andon_tests::temp_dir();
    let config = dir.path().join("andon.toml");
    std::fs::write(
        &config,
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n",
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let agent = exe
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .join("examples/fault_agent");
    assert!(
        agent.is_file(),
        "{} is missing: `cargo test -p andon-tests` or `cargo build -p andon-tests --examples` builds it",
        agent.display()
    );
    let out = std::process::Command::new(agent)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The samples of one exposition: `name{labels}` -> value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {l}"));
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{e}: {l}")),
            };
            (series.to_owned(), value)
        })
        .collect()
}

/// Within one exposition: every histogram's buckets are cumulative and its `+Inf` bucket is
/// its `_count`.
fn check_histograms(samples: &BTreeMap<String, f64>, body: &str) {
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (series, value) in samples {
        let Some((name, labels)) = series.split_once("_bucket{") else {
            continue;
        };
        let labels = labels.trim_end_matches('}');
        let (rest, le) = labels.rsplit_once("le=\"").unwrap();
        let le = le.trim_end_matches('"');
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap()
        };
        let rest = rest.trim_end_matches(',');
        buckets
            .entry(format!("{name}{{{rest}}}"))
            .or_default()
            .push((le, *value));
    }
    assert!(!buckets.is_empty(), "no histogram in:\n{body}");
    for (series, mut list) in buckets {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in list.windows(2) {
            assert!(
                pair[0].1 <= pair[1].1,
                "{series}: buckets not cumulative {list:?}"
            );
        }
        let (name, labels) = series.split_once('{').unwrap();
        let count_key = if labels == "}" {
            format!("{name}_count")
        } else {
            format!("{name}_count{{{labels}")
        };
        let count = samples
            .get(&count_key)
            .unwrap_or_else(|| panic!("no {count_key}"));
        assert_eq!(
            list.last().unwrap().1,
            *count,
            "{series}: +Inf bucket != count"
        );
    }
}

fn promtool_accepts(promtool: &std::path::Path, body: &str) {
    let out = run_with_stdin(promtool, ["check", "metrics"], body);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lint findings about names are not faults; anything promtool cannot parse is.
    assert!(
        out.status.success() || !text.contains("error"),
        "promtool check metrics failed:\n{text}\n--- exposition ---\n{body}"
    );
}

#[test]
fn a_scrape_during_heavy_updates_is_consistent_and_promtool_accepts_it() {
    let Some(promtool) = find_peer("promtool", "apt-get install prometheus") else {
        return;
    };
    let metrics = Arc::new(
        AndonMetrics::builder(MetricsConfig {
            port: free_port(),
            ..MetricsConfig::default()
        })
        .with_local_recorder()
        .build()
        .unwrap(),
    );
    let url = metrics.scrape_url().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    const THREADS: u64 = 4;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let metrics = Arc::clone(&metrics);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let label = t.to_string();
                let counter = metrics
                    .register_counter("fault_hammer_total", "Updates.", &[("thread", &label)])
                    .unwrap();
                let gauge = metrics
                    .register_gauge("fault_hammer_level", "A level.", &[("thread", &label)])
                    .unwrap();
                let histogram = metrics
                    .register_histogram("fault_hammer_seconds", "Durations.", &[])
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    counter.increment(1);
                    gauge.set((n % 100) as f64);
                    histogram.record((n % 1000) as f64 / 1000.0);
                    metrics
                        .record_request_latency("/hammer", Duration::from_micros(n % 5000))
                        .unwrap();
                    metrics
                        .count_signal(
                            &AndonSignal::yellow("x").with_component(format!("c{}", n % 8)),
                        )
                        .unwrap();
                    metrics.update_queue_depth("hammer", n % 200).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();

    // Besides the scrapes checked below, a second scraper renders as fast as it can, so that
    // histograms are drained thousands of times while values go in.
    let renderer = {
        let metrics = Arc::clone(&metrics);
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut renders = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert!(!metrics.render().is_empty());
                renders += 1;
            }
            renders
        })
    };
    // The scrapes start once every kind of metric has been recorded.
    let started = andon_tests::wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(&url).ok()?;
        body.contains("fault_hammer_seconds_bucket").then_some(())
    });
    assert!(started.is_some(), "the threads never recorded");
    let mut previous: Option<BTreeMap<String, f64>> = None;
    for _ in 0..15 {
        let (status, body) = http_get(&url).unwrap();
        assert_eq!(status, 200);
        promtool_accepts(&promtool, &body);
        let now = samples(&body);
        check_histograms(&now, &body);
        // Counters and histogram counts never go back between two scrapes.
        if let Some(before) = &previous {
            for (series, value) in before {
                let monotonic = series.contains("_total")
                    || series.contains("_count")
                    || series.contains("_bucket");
                if monotonic && let Some(after) = now.get(series) {
                    assert!(after >= value, "{series} went from {value} to {after}");
                }
            }
        }
        previous = Some(now);
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let renders = renderer.join().unwrap();
    assert!(renders > 0);

    // After the storm, no update was lost.
    let (_, body) = http_get(&url).unwrap();
    promtool_accepts(&promtool, &body);
    let last = samples(&body);
    check_histograms(&last, &body);
    for (t, n) in counts.iter().enumerate() {
        let key = format!("fault_hammer_total{{thread=\"{t}\"}}");
        assert_eq!(last.get(&key), Some(&(*n as f64)), "{key}");
    }
    let total: u64 = counts.iter().sum();
    assert!(total > 0);
    assert_eq!(
        last.get("fault_hammer_seconds_count"),
        Some(&(total as f64))
    );
    assert_eq!(
        last.get("andon_request_duration_seconds_count{endpoint=\"/hammer\"}"),
        Some(&(total as f64))
    );
}
