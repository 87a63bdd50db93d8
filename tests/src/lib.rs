//! The harness that starts real peers for andon's tests: a binary found on the machine, started
//! as our own process on a free loopback port, waited on until ready, its output captured, and
//! killed when the test ends.
//!
//! A missing peer is never silently passed: outside CI the test reports a loud `SKIPPED` line
//! naming what to install and returns; with `CI=true` it fails with the same text, because
//! `cargo xtask ci` installs every peer first.
//!
//! ```no_run
//! use andon_tests::{Peer, Ready, find_peer, free_port};
//!
//! let Some(promtool) = find_peer("promtool", "apt-get install prometheus") else { return };
//! let port = free_port();
//! let prometheus = Peer::builder(find_peer("prometheus", "apt-get install prometheus").unwrap())
//!     .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
//!     .ready(Ready::Http(format!("http://127.0.0.1:{port}/-/ready")))
//!     .start()
//!     .unwrap();
//! # let _ = (promtool, prometheus);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[cfg(feature = "fuzz")]
pub mod fuzz;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod peers_dir;
pub mod postgres;
pub mod postgres_tls;

/// Whether this run is CI (`CI=true`), where a missing peer is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or_else(|| here.to_owned(), Path::to_owned)
}

/// The folder for peers set up by `cargo xtask ci` (`target/peers`, or under
/// `$CARGO_TARGET_DIR`, or `$ANDON_PEERS_DIR`): the same rule as the set-up's,
/// [`peers_dir::resolve_peers_dir`].
pub fn peers_dir() -> PathBuf {
    peers_dir::resolve_peers_dir(&workspace_root())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    // Binding port 0 asks the kernel for a free port; the listener closes on return.
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| fail_or_panic(&format!("cannot find a free loopback port: {e}")))
}

fn fail_or_panic(message: &str) -> ! {
    // The harness is test code: a failed set-up must fail the test that asked for it.
    #[allow(clippy::panic)] // the harness reports a broken test environment by failing the test
    {
        panic!("{message}")
    }
}

/// The path of an example of the `andon-tests` package (`tests/examples/<name>.rs`), for tests
/// that run a program under a fault (closed stdout, `kill -9`). `cargo test -p andon-tests`
/// builds the examples before the tests; a missing one fails the test with the command to run.
pub fn example_binary(name: &str) -> PathBuf {
    // target/debug/deps/<this test> -> target/debug/examples/<name>
    let path = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples")))
        .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .filter(|path| path.is_file());
    path.unwrap_or_else(|| {
        fail_or_panic(&format!(
            "example {name} is missing: `cargo test -p andon-tests` or \
             `cargo build -p andon-tests --examples` builds it"
        ))
    })
}

/// Prints p50, p99, p99.9 and max of `samples` (sorting them) as one line,
/// `<label> over <n> calls: p50 …, p99 …, p99.9 …, max …`, the form `cargo xtask bench` quotes:
/// the latency benches' percentile report.
pub fn print_percentiles(label: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples.get(index).copied().unwrap_or_default()
    };
    println!(
        "{label} over {} calls: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        samples.len(),
        at(0.50),
        at(0.99),
        at(0.999),
        samples.last().copied().unwrap_or_default()
    );
}

/// Reports a missing peer: a loud skip outside CI, a failure in CI.
pub fn skip_or_fail(what: &str, install_hint: &str) {
    let message = format!("{what} is not available: {install_hint} (cargo xtask ci installs it)");
    if in_ci() {
        fail_or_panic(&format!("CI=true and {message}"));
    }
    let line = "=".repeat(78);
    eprintln!("\n{line}\nSKIPPED: {message}\n{line}\n");
}

/// Finds `binary` on PATH or in the sbin folders. `None` after a loud skip (outside CI); fails
/// the test in CI.
pub fn find_peer(binary: &str, install_hint: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from));
    let found = dirs
        .into_iter()
        .map(|d| d.join(binary))
        .find(|p| p.is_file());
    if found.is_none() {
        skip_or_fail(&format!("`{binary}`"), install_hint);
    }
    found
}

/// The Python interpreter of the peers' virtualenv (`target/peers/venv`), which has aiosmtpd and
/// the OpenTelemetry Python SDK. `None` after a loud skip (outside CI); fails the test in CI.
pub fn peers_python() -> Option<PathBuf> {
    let python = peers_dir().join("venv/bin/python3");
    if python.is_file() {
        Some(python)
    } else {
        skip_or_fail(
            &format!("the peers' Python virtualenv ({})", python.display()),
            "run `cargo xtask setup`",
        );
        None
    }
}

/// A fresh temporary folder, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| fail_or_panic(&format!("cannot create a temp dir: {e}")))
}

/// When a started peer counts as ready.
#[derive(Debug, Clone)]
pub enum Ready {
    /// Right away.
    Immediately,
    /// When a TCP connection to the address succeeds.
    Tcp(SocketAddr),
    /// When a plain-HTTP GET of the URL (`http://127.0.0.1:PORT/path`) answers 2xx.
    Http(String),
    /// When the peer's stdout or stderr contains the text.
    Output(String),
}

/// Builds a [`Peer`].
#[derive(Debug)]
pub struct PeerBuilder {
    command: Command,
    name: String,
    ready: Ready,
    timeout: Duration,
}

impl PeerBuilder {
    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable of the peer.
    #[must_use]
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Runs the peer in `dir`.
    #[must_use]
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// When the peer counts as ready (default: immediately).
    #[must_use]
    pub fn ready(mut self, ready: Ready) -> Self {
        self.ready = ready;
        self
    }

    /// How long to wait for readiness (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the peer and waits until it is ready. The error holds the peer's output so far.
    pub fn start(mut self) -> Result<Peer, String> {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.name))?;
        let output = Arc::new(Mutex::new(String::new()));
        if let Some(stdout) = child.stdout.take() {
            capture(stdout, Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            capture(stderr, Arc::clone(&output));
        }
        let mut peer = Peer {
            name: self.name,
            child: Some(child),
            output,
        };
        let deadline = Instant::now() + self.timeout;
        loop {
            if peer.is_ready(&self.ready) {
                return Ok(peer);
            }
            if let Some(child) = peer.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                thread::sleep(Duration::from_millis(100)); // let the readers drain
                return Err(format!(
                    "{} exited with {status} before it was ready; its output:\n{}",
                    peer.name,
                    peer.output()
                ));
            }
            if Instant::now() > deadline {
                let out = peer.output();
                peer.kill();
                return Err(format!(
                    "{} was not ready ({:?}) within {:?}; its output:\n{out}",
                    peer.name, self.ready, self.timeout
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn capture(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Ok(mut out) = into.lock() {
                out.push_str(&line);
            }
            line.clear();
        }
    });
}

/// A running peer process, killed on drop.
#[derive(Debug)]
pub struct Peer {
    name: String,
    child: Option<Child>,
    output: Arc<Mutex<String>>,
}

impl Peer {
    /// Starts describing a peer that runs `program`.
    pub fn builder(program: impl AsRef<Path>) -> PeerBuilder {
        let program = program.as_ref();
        PeerBuilder {
            command: Command::new(program),
            name: program.file_name().map_or_else(
                || program.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            ready: Ready::Immediately,
            timeout: Duration::from_secs(30),
        }
    }

    /// Everything the peer wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn is_ready(&self, ready: &Ready) -> bool {
        match ready {
            Ready::Immediately => true,
            Ready::Tcp(addr) => {
                TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
            }
            Ready::Http(url) => http_get(url).is_ok_and(|(status, _)| (200..300).contains(&status)),
            Ready::Output(text) => self.output().contains(text.as_str()),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal blocking HTTP/1.1 GET of `http://host:port/path`, for readiness checks and simple
/// assertions: returns the status and the body.
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported: {url}"))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let addr: SocketAddr = authority
        .parse()
        .map_err(|e| format!("`{authority}` is not ip:port: {e}"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    Ok((status, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// Runs `program args…` with `input` on its stdin and returns its exit status and output, for
/// one-shot peers such as `promtool check metrics` or a Python script.
pub fn run_with_stdin<I, S>(program: impl AsRef<Path>, args: I, input: &str) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let program = program.as_ref();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail_or_panic(&format!("cannot start {}: {e}", program.display())));
    if let Some(mut stdin) = child.stdin.take() {
        // A peer that exits before reading everything reports why in its output below.
        let _ = stdin.write_all(input.as_bytes());
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| fail_or_panic(&format!("cannot wait for {}: {e}", program.display())))
}

/// Waits until `check` returns `Some`, polling every 50 ms, up to `timeout`.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_started_waited_on_and_killed() {
        let Some(sh) = find_peer("sh", "apt-get install dash") else {
            return;
        };
        let mut peer = Peer::builder(sh)
            .args(["-c", "echo starting; sleep 0.2; echo ready now; sleep 60"])
            .ready(Ready::Output("ready now".into()))
            .start()
            .unwrap();
        assert!(peer.output().contains("starting"));
        assert!(peer.is_running());
        peer.kill();
        assert!(!peer.is_running());
    }

    #[test]
    fn a_peer_that_exits_early_reports_its_output() {
        let Some(sh) = find_peer("sh", "apt-get install dash") else {
            return;
        };
        let err = Peer::builder(sh)
            .args(["-c", "echo bad config >&2; exit 3"])
            .ready(Ready::Output("never".into()))
            .start()
            .unwrap_err();
        assert!(err.contains("bad config"), "{err}");
        assert!(err.contains("exited"), "{err}");
    }

    #[test]
    fn free_ports_are_bindable_on_loopback() {
        let port = free_port();
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn http_get_reads_status_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Read the whole request before answering: closing with unread bytes makes the
            // kernel reset the connection, and the client may then lose the response.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the client closed before its request ended");
                request.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
        });
        let (status, body) = http_get(&format!("http://{addr}/x")).unwrap();
        assert_eq!((status, body.as_str()), (200, "hello"));
        server.join().unwrap();
    }
}
