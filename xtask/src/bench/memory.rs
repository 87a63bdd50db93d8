//! The agent's memory at idle and under a burst of signals: builds `andon` in release, runs it
//! with logs, metrics, traces (to an OTLP endpoint that is down, so spans queue to the bound and
//! drop), alerts and the observer on, posts the burst over loopback HTTP from several
//! connections with pipelined keep-alive requests, and samples VmRSS and VmHWM from
//! `/proc/<pid>/status` before, during and after.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::shell::run as sh;

/// Concurrent client connections.
const CONNECTIONS: u64 = 8;
/// Requests written back to back on one connection before their responses are read.
const PIPELINE: u64 = 64;
/// The first stage of the burst; the report compares memory after it with memory after all.
const FIRST_STAGE: u64 = 100_000;

/// VmRSS and VmHWM, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    rss: u64,
    hwm: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

/// What the memory step measured.
pub(crate) struct Report {
    burst: u64,
    idle: Memory,
    after_first: Option<(u64, Memory, Duration)>,
    peak_rss: u64,
    end_of_burst: Memory,
    settled: Memory,
    accepted: u64,
    refused: u64,
    took: Duration,
    samples: Vec<(Duration, u64)>,
    counters: Vec<String>,
}

/// A count with thousands separators, as the rest of the report writes them.
fn n(count: u64) -> String {
    super::render::thousands(&count.to_string())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report {
    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Agent memory under a burst of {} signals\n",
            n(self.burst)
        );
        let _ = writeln!(
            out,
            "The release `andon` binary runs with logs to a rotated file, metrics, alerts (a rule \
             per YELLOW component, notifications to a file), the observer, and traces exported to \
             an OTLP endpoint that is down (spans queue to the bound, then are dropped and \
             counted). The burst is posted over loopback HTTP from {CONNECTIONS} keep-alive \
             connections, {PIPELINE} pipelined requests at a time (9 GREEN : 1 YELLOW, 50 \
             components). Memory is VmRSS/VmHWM from `/proc/<pid>/status`. What the agent may hold is \
             bounded by its queues, not by the burst: the log queue (65,536 records, overflow \
             drops and counts), the span queue (65,536 spans, then dropped and counted), the \
             board (1,000 recent signals, 1,000 stations), 1,024 events per live subscriber, and \
             one open alert per rule and component.\n"
        );
        let _ = writeln!(
            out,
            "| moment | signals sent | VmRSS | VmHWM |\n|---|---|---|---|"
        );
        let _ = writeln!(
            out,
            "| idle, before the burst | 0 | {} | {} |",
            mib(self.idle.rss),
            mib(self.idle.hwm)
        );
        if let Some((sent, m, took)) = self.after_first {
            let _ = writeln!(
                out,
                "| after the first stage ({:.1} s) | {} | {} | {} |",
                took.as_secs_f64(),
                n(sent),
                mib(m.rss),
                mib(m.hwm)
            );
        }
        let _ = writeln!(
            out,
            "| peak sampled during the burst | – | {} | – |",
            mib(self.peak_rss)
        );
        let _ = writeln!(
            out,
            "| end of the burst | {} | {} | {} |",
            n(self.accepted + self.refused),
            mib(self.end_of_burst.rss),
            mib(self.end_of_burst.hwm)
        );
        let _ = writeln!(
            out,
            "| 5 s later | {} | {} | {} |",
            n(self.accepted + self.refused),
            mib(self.settled.rss),
            mib(self.settled.hwm)
        );
        let rate = (self.accepted + self.refused) as f64 / self.took.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "\nThe burst took {:.1} s ({} signals/s): {} accepted (201), {} refused or \
             failed. Growth from idle to the peak: {}; from the first {} signals to the end: {}.\n",
            self.took.as_secs_f64(),
            n(rate.round() as u64),
            n(self.accepted),
            n(self.refused),
            mib(self.peak_rss.saturating_sub(self.idle.rss)),
            n(FIRST_STAGE),
            self.after_first.map_or_else(
                || "–".to_owned(),
                |(_, m, _)| format!(
                    "{:+.1} MiB",
                    (self.end_of_burst.rss as f64 - m.rss as f64) / 1024.0
                )
            )
        );
        if !self.samples.is_empty() {
            let step = (self.samples.len() / 12).max(1);
            let _ = writeln!(out, "VmRSS during the burst (sampled every 250 ms):\n");
            let _ = writeln!(out, "| t | VmRSS |\n|---|---|");
            for (t, rss) in self.samples.iter().step_by(step) {
                let _ = writeln!(out, "| {:.1} s | {} |", t.as_secs_f64(), mib(*rss));
            }
            let _ = writeln!(out);
        }
        if !self.counters.is_empty() {
            let _ = writeln!(
                out,
                "The agent's own counters after the burst (`/metrics`, drops and queue sizes):\n\n```text"
            );
            for line in &self.counters {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "```\n");
        }
    }
}

/// One request and its response on a keep-alive connection; returns the status and the body.
fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let (status, body) = read_response(&mut reader)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Reads one HTTP/1.1 response with a Content-Length (or chunked) body.
fn read_response(reader: &mut impl BufRead) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.is_empty() {
        bail!("the agent closed the connection");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok((status, body))
}

/// Posts signals `from..to` over one connection, `PIPELINE` at a time; returns (accepted, other).
fn post_range(addr: SocketAddr, worker: u64, from: u64, to: u64) -> anyhow::Result<(u64, u64)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let (mut accepted, mut other) = (0, 0);
    let mut batch = String::new();
    let mut i = from;
    while i < to {
        let end = (i + PIPELINE).min(to);
        batch.clear();
        for n in i..end {
            let color = if n % 10 == 0 { "yellow" } else { "green" };
            let body = format!(
                r#"{{"color":"{color}","message":"burst {n}","component":"svc-{}","attributes":{{"n":{n},"worker":{worker}}}}}"#,
                n % 50
            );
            let _ = write!(
                batch,
                "POST /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        writer.write_all(batch.as_bytes())?;
        for _ in i..end {
            let (status, _) = read_response(&mut reader)?;
            if status == 201 {
                accepted += 1;
            } else {
                other += 1;
            }
        }
        i = end;
    }
    Ok((accepted, other))
}

/// Posts `count` signals numbered from `start`, split over the connections.
fn burst(addr: SocketAddr, start: u64, count: u64) -> anyhow::Result<(u64, u64)> {
    let per = count / CONNECTIONS;
    let handles: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let from = start + w * per;
            let to = if w == CONNECTIONS - 1 {
                start + count
            } else {
                from + per
            };
            std::thread::spawn(move || post_range(addr, w, from, to))
        })
        .collect();
    let (mut accepted, mut other) = (0, 0);
    for handle in handles {
        let (a, o) = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
        accepted += a;
        other += o;
    }
    Ok((accepted, other))
}

/// Stops the agent with SIGTERM (graceful), then kills it if it has not exited in 20 s.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run(root: &Path, count: u64) -> anyhow::Result<Report> {
    sh(
        root,
        "cargo",
        &["build", "--release", "-p", "andon-agent", "--bin", "andon"],
        &[],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    let binary = target.join("release/andon");
    let dir = target.join("bench-memory");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let config = dir.join("andon.toml");
    std::fs::write(
        &config,
        format!(
            r#"[logger]
sampling_enabled = false
sinks = [{{ type = "File", path = "{log}", max_bytes = 67108864, keep = 1 }}]

[tracer]
sampling_ratio = 1.0
otlp_endpoint = "http://127.0.0.1:9"

[alerts.channels.file]
type = "file"
path = "{alerts}"

[[alerts.rules]]
name = "yellow"
condition = {{ type = "signal", color = "yellow" }}
severity = "warning"
channels = ["file"]
"#,
            log = dir.join("agent.log").display(),
            alerts = dir.join("alerts.jsonl").display(),
        ),
    )?;
    let log = std::fs::File::create(dir.join("agent.out"))?;
    let child = Command::new(&binary)
        .args(["run", "--config"])
        .arg(&config)
        .args(["--listen", &addr.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id();
    let agent = Agent(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(addr, "/healthz").is_ok_and(|(s, _)| s == 200) {
            break;
        }
        if Instant::now() > deadline {
            let out = std::fs::read_to_string(dir.join("agent.out")).unwrap_or_default();
            bail!("the agent did not answer /healthz in 30 s; its output:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few signals so every component has started, then idle.
    burst(addr, 0, 100)?;
    std::thread::sleep(Duration::from_secs(3));
    let idle = memory(pid);
    println!(
        "memory: idle VmRSS {} VmHWM {}",
        mib(idle.rss),
        mib(idle.hwm)
    );

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let done = Arc::clone(&done);
        let peak = Arc::clone(&peak);
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let m = memory(pid);
                peak.fetch_max(m.rss, Ordering::Relaxed);
                samples.push((started.elapsed(), m.rss));
                std::thread::sleep(Duration::from_millis(250));
            }
            samples
        })
    };
    let started = Instant::now();
    let first = FIRST_STAGE.min(count);
    let (mut accepted, mut refused) = burst(addr, 100, first)?;
    let after_first = (count > first).then(|| (first, memory(pid), started.elapsed()));
    if let Some((_, m, took)) = after_first {
        println!(
            "memory: after {first} signals ({took:.1?}) VmRSS {} VmHWM {}",
            mib(m.rss),
            mib(m.hwm)
        );
    }
    if count > first {
        let (a, r) = burst(addr, 100 + first, count - first)?;
        accepted += a;
        refused += r;
    }
    let took = started.elapsed();
    let end_of_burst = memory(pid);
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    println!(
        "memory: {count} signals in {took:.1?} ({accepted} accepted, {refused} other); VmRSS {} VmHWM {}",
        mib(end_of_burst.rss),
        mib(end_of_burst.hwm)
    );
    std::thread::sleep(Duration::from_secs(5));
    let settled = memory(pid);
    let counters = get(addr, "/metrics")
        .map(|(_, body)| {
            body.lines()
                .filter(|l| {
                    !l.starts_with('#')
                        && [
                            "drop",
                            "reject",
                            "queue",
                            "pending",
                            "notifications_total",
                            "resident_memory",
                        ]
                        .iter()
                        .any(|k| l.contains(k))
                })
                .take(40)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    drop(agent);
    Ok(Report {
        burst: count,
        idle,
        after_first,
        peak_rss: peak.load(Ordering::Relaxed).max(end_of_burst.rss),
        end_of_burst,
        settled,
        accepted,
        refused,
        took,
        samples,
        counters,
    })
}
