//! The scrape endpoint and the global recorder, in a process of their own: what the program
//! records with `metrics::counter!` is served next to andon's metrics, and a second
//! `AndonMetrics` in the same process keeps working with a local recorder.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use andon_core::AndonSignal;
use andon_core::config::MetricsConfig;
use andon_metrics::{AndonMetrics, CONTENT_TYPE, MetricsError};
use andon_tests::{free_port, http_get};

/// The endpoint on exactly `port`: a taken port is an error, not another port.
fn config(port: u16) -> MetricsConfig {
    MetricsConfig {
        port,
        free_port_if_taken: false,
        ..MetricsConfig::default()
    }
}

/// The raw response head and body of a request, for headers the harness does not return.
fn raw_request(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_endpoint_serves_andon_and_user_metrics_and_a_second_instance_stays_local() {
    let port = free_port();
    let metrics = AndonMetrics::new(config(port)).unwrap();
    assert!(
        metrics.is_global(),
        "the first instance installs the global recorder"
    );
    assert_eq!(
        metrics.scrape_url().as_deref(),
        Some(format!("http://127.0.0.1:{port}/metrics").as_str())
    );
    assert!(
        metrics.endpoint().unwrap().ip().is_loopback(),
        "binds 127.0.0.1 by default"
    );

    metrics
        .count_signal(&AndonSignal::red("overflow").with_component("queue-handler"))
        .unwrap();
    metrics::describe_counter!("user_jobs_total", "Jobs done by the program.");
    metrics::counter!("user_jobs_total", "kind" => "import").increment(3);

    let url = metrics.scrape_url().unwrap();
    let (status, body) = http_get(&url).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"andon_signals_total{color="red",component="queue-handler"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(r#"user_jobs_total{kind="import"} 3"#),
        "{body}"
    );
    assert!(
        body.contains("# HELP user_jobs_total Jobs done by the program."),
        "{body}"
    );
    assert!(body.contains("# HELP andon_signals_total "), "{body}");

    let head = raw_request(
        port,
        "GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")),
        "{head}"
    );

    let head_only = raw_request(port, "HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(head_only.starts_with("HTTP/1.1 200 OK\r\n"), "{head_only}");
    assert!(
        head_only.ends_with("\r\n\r\n"),
        "HEAD has no body: {head_only}"
    );

    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/other")).unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("metrics are served at /metrics"), "{body}");

    // The port is taken now: a second endpoint on it fails with an error naming the port.
    let err = AndonMetrics::new(config(port)).unwrap_err();
    assert!(matches!(err, MetricsError::Bind { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.to_string().contains("choose a free `metrics.port`"),
        "{err}"
    );

    // A second instance on another port: local recorder, its own metrics only, no panic.
    let port2 = free_port();
    let second = AndonMetrics::new(config(port2)).unwrap();
    assert!(!second.is_global());
    second.update_queue_depth("local", 7).unwrap();
    metrics::counter!("user_jobs_total", "kind" => "import").increment(1);
    let (_, body2) = http_get(&second.scrape_url().unwrap()).unwrap();
    assert!(
        body2.contains(r#"andon_queue_depth{queue="local"} 7"#),
        "{body2}"
    );
    assert!(
        !body2.contains("user_jobs_total"),
        "macros go to the global recorder: {body2}"
    );
    // ...unless lent its recorder.
    metrics::with_local_recorder(&second.recorder(), || {
        metrics::counter!("lent_total").increment(2);
    });
    assert!(
        second.render().contains("lent_total 2"),
        "{}",
        second.render()
    );
    let (_, body) = http_get(&url).unwrap();
    assert!(
        body.contains(r#"user_jobs_total{kind="import"} 4"#),
        "{body}"
    );
}

#[test]
fn an_explicit_bind_address_and_path_are_used() {
    let port = free_port();
    let metrics = AndonMetrics::builder(MetricsConfig {
        bind: "0.0.0.0".into(),
        scrape_path: "/internal/prom".into(),
        ..config(port)
    })
    .with_local_recorder() // the global one belongs to the first test
    .build()
    .unwrap();
    assert!(metrics.endpoint().unwrap().ip().is_unspecified());
    metrics.set_line_stopped(true);
    let (status, body) = http_get(&format!("http://127.0.0.1:{port}/internal/prom")).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("andon_line_stopped 1"), "{body}");
    let (status, _) = http_get(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_frees_the_port_and_refuses_later_records() {
    let port = free_port();
    let metrics = AndonMetrics::builder(config(port))
        .with_local_recorder()
        .build()
        .unwrap();
    let url = metrics.scrape_url().unwrap();
    let fetched = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    assert_eq!(fetched.unwrap().0, 200);
    assert!(
        metrics
            .shutdown(std::time::Duration::from_secs(10))
            .await
            .is_complete()
    );
    let err = metrics.update_queue_depth("q", 1).unwrap_err();
    assert!(matches!(err, MetricsError::ShutDown), "{err}");
    let again = andon_tests::wait_for(std::time::Duration::from_secs(10), || {
        AndonMetrics::builder(config(port))
            .with_local_recorder()
            .build()
            .ok()
    });
    assert!(again.is_some(), "the port is free again after shutdown");
}

#[test]
fn a_taken_port_is_replaced_by_a_free_one_and_the_notice_says_which() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let metrics = AndonMetrics::builder(MetricsConfig {
        port,
        ..MetricsConfig::default()
    })
    .with_local_recorder()
    .build()
    .unwrap();
    let actual = metrics.endpoint().unwrap().port();
    assert_ne!(actual, port);
    let url = metrics.scrape_url().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{actual}/metrics"));
    let notice = metrics.endpoint_notice().expect("a notice");
    assert!(notice.contains(&format!("127.0.0.1:{port}")), "{notice}");
    assert!(notice.contains(&url), "names the real address: {notice}");
    assert!(
        notice.contains("metrics.port"),
        "says what to set: {notice}"
    );

    metrics.update_queue_depth("moved", 3).unwrap();
    let (status, body) = http_get(&url).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"andon_queue_depth{queue="moved"} 3"#),
        "{body}"
    );
    drop(taken);
}

#[test]
fn the_default_port_taken_by_another_program_does_not_stop_the_start() {
    // Hold 9090 (Prometheus' own default) unless another program on this machine already does:
    // either way it is taken while the metrics start.
    let _held = std::net::TcpListener::bind("127.0.0.1:9090");
    let defaults = MetricsConfig::default();
    assert_eq!(defaults.port, 9090);
    let metrics = AndonMetrics::builder(defaults)
        .with_local_recorder()
        .build()
        .unwrap();
    assert_ne!(metrics.endpoint().unwrap().port(), 9090);
    let notice = metrics.endpoint_notice().unwrap();
    assert!(notice.contains("127.0.0.1:9090"), "{notice}");
    let (status, _) = http_get(&metrics.scrape_url().unwrap()).unwrap();
    assert_eq!(status, 200);

    // Where the port is free there is no notice.
    let free = AndonMetrics::builder(MetricsConfig {
        port: free_port(),
        ..MetricsConfig::default()
    })
    .with_local_recorder()
    .build()
    .unwrap();
    assert_eq!(free.endpoint_notice(), None);
}
