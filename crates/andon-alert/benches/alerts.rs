//! Benchmarks: evaluating 10,000 rules (goal under 5 ms) beside the raw metric reads beneath
//! them, and signal-to-notification latency to a loopback webhook (goal p99 under 50 ms)
//! beside a raw reqwest POST to the same receiver; and signal-to-mail latency to a real SMTP
//! server (aiosmtpd from the peers' virtualenv, discarding mail) beside a raw lettre send of a
//! similar message to it (skipped loudly when the peer is missing).
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on the first failure

use std::time::{Duration, Instant};

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule};
use andon_core::config::{AlertsConfig, ChannelConfig, Secret};
use andon_core::{AlertSeverity, AndonSignal, SignalSink};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::sync::mpsc;

const RULES: usize = 10_000;

mod common;
use common::{raw_reads_and_compares, runtime, threshold_rules};

fn evaluate(c: &mut Criterion) {
    let rt = runtime();
    let (manager, metrics, names) = threshold_rules(&rt, RULES);
    let mut group = c.benchmark_group("evaluate_10000_rules");
    group.bench_function("andon_check_and_fire_alerts", |b| {
        b.iter(|| rt.block_on(manager.check_and_fire_alerts()).unwrap());
    });
    group.bench_function("raw_metric_reads_and_compares", |b| {
        b.iter(|| raw_reads_and_compares(&metrics, &names));
    });
    group.finish();
}

/// A loopback webhook that reports the `status` of each request on a channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let tx = tx.clone();
        async move {
            let status = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = tx.send(status);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), rx)
}

fn latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (url, mut rx) = rt.block_on(receiver());
    let manager = rt.block_on(async {
        let mut config = AlertsConfig::default();
        config.channels.insert(
            "hook".into(),
            ChannelConfig::Webhook {
                url: Secret::new(url.clone()),
                budget_per_minute: Some(u32::MAX),
            },
        );
        let manager = AlertManager::builder(config).build().unwrap();
        manager
            .add_rule(AlertRule {
                name: "reds".into(),
                // A short window: housekeeping between samples resolves the alerts.
                condition: AlertCondition::Signal {
                    color: andon_core::Color::Red,
                    component: None,
                    count: 1,
                    window: Duration::from_millis(1),
                },
                severity: AlertSeverity::Warning,
                channels: vec![AlertChannel::Named("hook".into())],
                ..Default::default()
            })
            .unwrap();
        manager
    });
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
    let client = reqwest::Client::new();
    let mut n: u64 = 0;
    // One signal of a fresh component (a new alert, so a new notification) until its FIRING
    // notification reaches the webhook; every 20 signals, outside the timing, an evaluation
    // resolves the earlier alerts.
    let mut one = |rx: &mut mpsc::UnboundedReceiver<String>| -> Duration {
        rt.block_on(async {
            n += 1;
            if n.is_multiple_of(20) {
                tokio::time::sleep(Duration::from_millis(2)).await;
                manager.check_and_fire_alerts().await.unwrap();
            }
            let signal = AndonSignal::red("boom").with_component(format!("c{}", n % 1000));
            let start = Instant::now();
            manager.on_signal(&signal).await.unwrap();
            while rx.recv().await.unwrap() != "firing" {}
            start.elapsed()
        })
    };
    let mut group = c.benchmark_group("signal_to_notification");
    group.bench_function("andon_signal_to_webhook", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| one(&mut rx)).sum());
    });
    let body =
        serde_json::json!({"text": "[FIRING:warning] reds: [RED] c1: boom", "status": "firing"});
    group.bench_function("raw_reqwest_post", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    rt.block_on(async {
                        let start = Instant::now();
                        client.post(&url).json(&body).send().await.unwrap();
                        while rx.recv().await.unwrap() != "firing" {}
                        start.elapsed()
                    })
                })
                .sum()
        });
    });
    group.finish();

    // Percentiles over 2,000 signals, for the p99 goal.
    let mut samples: Vec<Duration> = (0..2000).map(|_| one(&mut rx)).collect();
    samples.sort();
    eprintln!(
        "signal_to_notification over {} signals: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1]
    );
}

/// From a RED signal to its mail accepted by the SMTP server (the channel's `sent` count
/// moves), beside lettre sending a mail of the same size over the same kind of connection.
fn email(c: &mut Criterion) {
    let Some(python) = andon_tests::peers_python() else {
        eprintln!("signal_to_email: skipped, no aiosmtpd (run `cargo xtask setup`)");
        return;
    };
    let port = andon_tests::free_port();
    let addr = format!("127.0.0.1:{port}");
    let _peer = andon_tests::Peer::builder(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &addr,
            "-c",
            "aiosmtpd.handlers.Sink",
        ])
        .ready(andon_tests::Ready::Tcp(addr.parse().unwrap()))
        .start()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let manager = rt.block_on(async {
        let mut config = AlertsConfig::default();
        config.channels.insert(
            "mail".into(),
            ChannelConfig::Email(andon_core::config::EmailConfig {
                host: "127.0.0.1".into(),
                port: Some(port),
                tls: andon_core::config::EmailTls::None,
                username: None,
                password: None,
                from: "andon <andon@example.com>".into(),
                to: vec!["oncall@example.com".into()],
                budget_per_minute: Some(u32::MAX),
            }),
        );
        let manager = AlertManager::builder(config).build().unwrap();
        manager
            .add_rule(AlertRule {
                name: "reds".into(),
                condition: AlertCondition::Signal {
                    color: andon_core::Color::Red,
                    component: None,
                    count: 1,
                    window: Duration::from_millis(1),
                },
                severity: AlertSeverity::Warning,
                channels: vec![AlertChannel::Named("mail".into())],
                ..Default::default()
            })
            .unwrap();
        manager
    });
    let sent = || {
        manager
            .channel_reports()
            .iter()
            .find(|r| r.name == "mail")
            .map_or(0, |r| r.sent + r.failed)
    };
    let mut n: u64 = 0;
    let mut group = c.benchmark_group("signal_to_email");
    group.sample_size(20);
    group.bench_function("andon_signal_to_smtp", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                if n.is_multiple_of(20) {
                    rt.block_on(async {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        manager.check_and_fire_alerts().await.unwrap();
                        manager.flush_within(Duration::from_secs(10)).await;
                    });
                }
                let before = sent();
                let signal = AndonSignal::red("boom").with_component(format!("c{}", n % 1000));
                let start = Instant::now();
                rt.block_on(manager.on_signal(&signal)).unwrap();
                // Polled from this thread (not a runtime worker) every ~50 µs.
                while sent() == before {
                    std::thread::sleep(Duration::from_micros(50));
                }
                total += start.elapsed();
            }
            total
        });
    });
    let transport =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
    let message = || {
        lettre::Message::builder()
            .from("andon <andon@example.com>".parse().unwrap())
            .to("oncall@example.com".parse().unwrap())
            .subject("[FIRING:warning] reds: [RED] c1: boom")
            .body("- FIRING reds: [RED] c1: boom [component c1]\n".repeat(8))
            .unwrap()
    };
    group.bench_function("raw_lettre_send", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let message = message();
                let start = Instant::now();
                rt.block_on(lettre::AsyncTransport::send(&transport, message))
                    .unwrap();
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    let report = manager.channel_reports();
    eprintln!("signal_to_email: channel report {report:?}");
    assert!(report.iter().all(|r| r.failed == 0), "{report:?}");
}

criterion_group!(benches, evaluate, latency, email);
criterion_main!(benches);
