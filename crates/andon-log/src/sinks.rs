//! The sinks, as the writer thread drives them: standard streams, files with rotation and
//! reopening, and syslog over UDP, TCP (RFC 6587 octet counting) or a unix socket.
//!
//! A sink takes a whole batch at once and writes the records at or above its level in as few
//! system calls as it can. A failure is counted per record, reported to stderr at most once per
//! interval, and retried on the next batch: a sink never panics and never stops the writer.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use andon_core::config::{CloudLoggingOutput, SinkConfig, SyslogFormat, SyslogTransport};
use andon_core::{ConfigError, LogLevel};

use crate::format::{write_rfc3164_time, write_rfc3339};
use crate::queue::{Batch, lock};

/// How long a network sink waits before trying to reconnect after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long a TCP connect or write may take before the sink counts it as failed.
const NET_TIMEOUT: Duration = Duration::from_secs(5);
/// The mode of the log files the logger creates: read and write for the owner only.
#[cfg(unix)]
const LOG_FILE_MODE: u32 = 0o600;
/// The local syslog daemon's socket, where `syslog(3)` writes.
pub(crate) const DEV_LOG: &str = "/dev/log";

/// A sink's counters, shared with [`LogStats`](crate::LogStats) readers.
#[derive(Debug)]
pub(crate) struct SinkCell {
    pub(crate) name: String,
    pub(crate) written: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl SinkCell {
    pub(crate) fn new(name: String) -> Self {
        SinkCell {
            name,
            written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }
}

/// Tells stderr about a failing sink, at most once per interval, and once when it recovers.
#[derive(Debug)]
struct Reporter {
    interval: Duration,
    last: Option<Instant>,
    unreported: u64,
    failing: bool,
}

impl Reporter {
    /// Counts `records` lost to `error`; returns the line for stderr when one is due.
    fn failed(
        &mut self,
        name: &str,
        error: &io::Error,
        records: u64,
        now: Instant,
    ) -> Option<String> {
        self.unreported += records;
        self.failing = true;
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.interval)
        {
            return None;
        }
        let line = format!(
            "andon-log: sink {name}: {error}; {} record(s) not written since the last report, retrying",
            self.unreported
        );
        self.last = Some(now);
        self.unreported = 0;
        Some(line)
    }

    /// Returns the line for stderr when the sink was failing and now works.
    fn succeeded(&mut self, name: &str) -> Option<String> {
        if !self.failing {
            return None;
        }
        self.failing = false;
        let line = format!(
            "andon-log: sink {name} recovered ({} more record(s) were not written)",
            self.unreported
        );
        self.unreported = 0;
        self.last = None;
        Some(line)
    }
}

/// Writes a line to stderr; a failed write to stderr has nowhere else to go.
fn to_stderr(line: Option<String>) {
    if let Some(line) = line {
        let _ = writeln!(io::stderr(), "{line}");
    }
}

/// One configured sink, owned by the writer thread.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) level: LogLevel,
    /// Writes the Cloud Logging layout rather than the main one.
    pub(crate) cloud: bool,
    kind: Kind,
    reporter: Reporter,
}

#[derive(Debug)]
enum Kind {
    Stdout,
    Stderr,
    File(FileSink),
    Syslog(SyslogSink),
}

impl Sink {
    /// The sink for `config`, taking records at `level` and above.
    pub(crate) fn new(
        config: &SinkConfig,
        level: LogLevel,
        report_interval: Duration,
    ) -> (Sink, String) {
        let (kind, cloud, name) = match config {
            SinkConfig::Stdout { .. } => (Kind::Stdout, false, "Stdout".to_owned()),
            SinkConfig::Stderr { .. } => (Kind::Stderr, false, "Stderr".to_owned()),
            SinkConfig::File {
                path,
                max_bytes,
                keep,
                ..
            } => (
                Kind::File(FileSink::new(path.clone(), *max_bytes, *keep)),
                false,
                format!("File({})", path.display()),
            ),
            SinkConfig::Syslog {
                transport,
                address,
                format,
                facility,
                app_name,
                hostname,
                ..
            } => {
                let sink = SyslogSink::new(
                    *transport,
                    address.clone(),
                    *format,
                    facility,
                    app_name,
                    hostname.clone(),
                );
                let name = format!("Syslog({} {})", sink.transport_name(), sink.address);
                (Kind::Syslog(sink), false, name)
            }
            SinkConfig::CloudLogging { output, .. } => match output {
                CloudLoggingOutput::Stdout => (Kind::Stdout, true, "CloudLogging(stdout)".into()),
                CloudLoggingOutput::File(path) => (
                    Kind::File(FileSink::new(path.clone(), 0, 0)),
                    true,
                    format!("CloudLogging({})", path.display()),
                ),
            },
        };
        let sink = Sink {
            level,
            cloud,
            kind,
            reporter: Reporter {
                interval: report_interval,
                last: None,
                unreported: 0,
                failing: false,
            },
        };
        (sink, name)
    }

    /// Writes the batch's records at or above the sink's level, marking in `ok` each record it
    /// wrote, and counts in `cell`.
    pub(crate) fn write(&mut self, batch: &Batch, ok: &mut [bool], cell: &SinkCell) {
        let mut written = 0u64;
        let mut failed = 0u64;
        let mut error = None;
        for run in runs(batch, self.level) {
            let count = (run.end - run.start) as u64;
            if error.is_some() {
                // After a failure the rest of the batch waits for the next retry.
                failed += count;
                continue;
            }
            let result = match &mut self.kind {
                Kind::Stdout => write_stream(
                    &mut io::stdout().lock(),
                    batch.bytes(run.clone(), self.cloud),
                ),
                Kind::Stderr => write_stream(
                    &mut io::stderr().lock(),
                    batch.bytes(run.clone(), self.cloud),
                ),
                Kind::File(file) => file.write_run(batch, run.clone(), self.cloud),
                Kind::Syslog(syslog) => syslog.write_run(batch, run.clone()),
            };
            match result {
                Ok(()) => {
                    written += count;
                    for slot in ok.get_mut(run).into_iter().flatten() {
                        *slot = true;
                    }
                }
                Err(e) => {
                    failed += count;
                    error = Some(e);
                }
            }
        }
        if error.is_none() && written > 0 {
            let flushed = match &mut self.kind {
                Kind::Stdout => io::stdout().lock().flush(),
                Kind::Stderr => io::stderr().lock().flush(),
                Kind::File(_) | Kind::Syslog(_) => Ok(()),
            };
            if let Err(e) = flushed {
                error = Some(e);
            }
        }
        cell.written.fetch_add(written, Ordering::Relaxed);
        match error {
            Some(e) => {
                cell.errors.fetch_add(failed.max(1), Ordering::Relaxed);
                *lock(&cell.last_error) = Some(e.to_string());
                to_stderr(self.reporter.failed(&cell.name, &e, failed, Instant::now()));
            }
            None if written > 0 => to_stderr(self.reporter.succeeded(&cell.name)),
            None => {}
        }
    }

    /// Closes files and connections.
    pub(crate) fn close(&mut self) {
        match &mut self.kind {
            Kind::File(file) => file.file = None,
            Kind::Syslog(syslog) => syslog.conn = None,
            Kind::Stdout | Kind::Stderr => {}
        }
    }
}

/// The ranges of consecutive records at or above `level`.
fn runs(batch: &Batch, level: LogLevel) -> impl Iterator<Item = Range<usize>> + '_ {
    let records = &batch.records;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < records.len() && records.get(i).is_some_and(|r| r.level < level) {
            i += 1;
        }
        if i >= records.len() {
            return None;
        }
        let start = i;
        while records.get(i).is_some_and(|r| r.level >= level) {
            i += 1;
        }
        Some(start..i)
    })
}

fn write_stream(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)
}

/// An appended file, rotated by size, reopened when removed or replaced.
#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: Option<File>,
    size: u64,
    identity: Option<(u64, u64)>,
}

impl FileSink {
    fn new(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        FileSink {
            path,
            max_bytes,
            keep,
            file: None,
            size: 0,
            identity: None,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create the directory {}: {e}", parent.display()),
                )
            })?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            // Records can carry what should not be world-readable: owner only. (An existing
            // file keeps its mode, so that an operator's choice such as 0640 stands.)
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(LOG_FILE_MODE);
        }
        let file = options.open(&self.path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open {}: {e}", self.path.display()),
            )
        })?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.identity = identity(&meta);
        self.file = Some(file);
        Ok(())
    }

    /// Opens the file if it is closed, or was removed or replaced by someone else.
    fn ensure_open(&mut self) -> io::Result<()> {
        if self.file.is_some() {
            let current = fs::metadata(&self.path).ok().and_then(|m| identity(&m));
            if current.is_none() || current != self.identity {
                self.file = None;
            }
        }
        if self.file.is_none() {
            self.open()?;
        }
        Ok(())
    }

    fn rotated(&self, index: u32) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(format!(".{index}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let ignore_missing = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if self.keep == 0 {
            ignore_missing(fs::remove_file(&self.path))?;
        } else {
            for index in (1..self.keep).rev() {
                ignore_missing(fs::rename(self.rotated(index), self.rotated(index + 1)))?;
            }
            ignore_missing(fs::rename(&self.path, self.rotated(1)))?;
        }
        self.open()
    }

    fn write_run(&mut self, batch: &Batch, run: Range<usize>, cloud: bool) -> io::Result<()> {
        let result = self.write_run_inner(batch, run, cloud);
        if result.is_err() {
            // Reopen on the next batch: the fault may be gone by then.
            self.file = None;
        }
        result
    }

    fn write_run_inner(&mut self, batch: &Batch, run: Range<usize>, cloud: bool) -> io::Result<()> {
        self.ensure_open()?;
        if self.max_bytes == 0 {
            return self.append(batch.bytes(run, cloud));
        }
        // Write as much as fits in one call, rotate, go on.
        let mut chunk_start = run.start;
        let mut chunk_len = 0u64;
        for index in run.clone() {
            let len = batch.bytes(index..index + 1, cloud).len() as u64;
            let used = self.size + chunk_len;
            if used > 0 && used + len > self.max_bytes {
                if chunk_len > 0 {
                    self.append(batch.bytes(chunk_start..index, cloud))?;
                }
                self.rotate()?;
                chunk_start = index;
                chunk_len = 0;
            }
            chunk_len += len;
        }
        self.append(batch.bytes(chunk_start..run.end, cloud))
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the log file is not open"))?;
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    Some((0, 0))
}

/// A syslog destination. The header is written here (RFC 5424 or RFC 3164, with the record's
/// own timestamp); the MSG is the record's main line. The `syslog` crate supplies the facility
/// codes and the host name.
#[derive(Debug)]
struct SyslogSink {
    transport: SyslogTransport,
    address: String,
    format: SyslogFormat,
    facility: u8,
    hostname: String,
    app_name: String,
    procid: String,
    conn: Option<Conn>,
    retry_at: Option<Instant>,
    frame: Vec<u8>,
    out: Vec<u8>,
}

#[derive(Debug)]
enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixDatagram),
}

impl SyslogSink {
    fn new(
        transport: SyslogTransport,
        address: Option<String>,
        format: SyslogFormat,
        facility: &str,
        app_name: &str,
        hostname: Option<String>,
    ) -> Self {
        let address = address.unwrap_or_else(|| match transport {
            SyslogTransport::Unix => DEV_LOG.to_owned(),
            SyslogTransport::Udp | SyslogTransport::Tcp => "127.0.0.1:514".to_owned(),
        });
        let facility = syslog::Facility::from_str(facility).unwrap_or_default() as u8;
        let format = match (format, transport) {
            (SyslogFormat::Auto, SyslogTransport::Unix) => SyslogFormat::Rfc3164,
            (SyslogFormat::Auto, SyslogTransport::Udp | SyslogTransport::Tcp) => {
                SyslogFormat::Rfc5424
            }
            (chosen, _) => chosen,
        };
        let hostname = hostname
            .or_else(|| syslog::Formatter5424::default().hostname)
            .map(|h| {
                h.chars()
                    .map(|c| if c.is_ascii_graphic() { c } else { '-' })
                    .collect::<String>()
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".to_owned());
        SyslogSink {
            transport,
            address,
            format,
            facility,
            hostname,
            app_name: app_name.to_owned(),
            procid: std::process::id().to_string(),
            conn: None,
            retry_at: None,
            frame: Vec::with_capacity(1024),
            out: Vec::new(),
        }
    }

    fn transport_name(&self) -> &'static str {
        match self.transport {
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
            SyslogTransport::Unix => "unix",
        }
    }

    fn connect(&self) -> io::Result<Conn> {
        match self.transport {
            SyslogTransport::Udp => {
                let addr = resolve(&self.address)?;
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(local)?;
                socket.connect(addr)?;
                Ok(Conn::Udp(socket))
            }
            SyslogTransport::Tcp => {
                let addr = resolve(&self.address)?;
                let stream = TcpStream::connect_timeout(&addr, NET_TIMEOUT)?;
                stream.set_write_timeout(Some(NET_TIMEOUT))?;
                stream.set_nodelay(true)?;
                Ok(Conn::Tcp(stream))
            }
            #[cfg(unix)]
            SyslogTransport::Unix => {
                let socket = std::os::unix::net::UnixDatagram::unbound()?;
                socket.connect(Path::new(&self.address))?;
                Ok(Conn::Unix(socket))
            }
            #[cfg(not(unix))]
            SyslogTransport::Unix => Err(io::Error::other("unix sockets need a unix system")),
        }
    }

    /// The full syslog message for record `index`, in `self.frame`.
    fn build_frame(&mut self, batch: &Batch, index: usize) {
        self.frame.clear();
        let Some(meta) = batch.records.get(index) else {
            return;
        };
        let pri = self.facility | meta.level.syslog_severity();
        let mut msg = batch.bytes(index..index + 1, false);
        if let Some(stripped) = msg.strip_suffix(b"\n") {
            msg = stripped;
        }
        let frame = &mut self.frame;
        frame.push(b'<');
        frame.extend_from_slice(pri.to_string().as_bytes());
        frame.push(b'>');
        match self.format {
            SyslogFormat::Rfc5424 | SyslogFormat::Auto => {
                frame.extend_from_slice(b"1 ");
                write_rfc3339(frame, meta.time, 6);
                frame.push(b' ');
                frame.extend_from_slice(self.hostname.as_bytes());
                frame.push(b' ');
                frame.extend_from_slice(self.app_name.as_bytes());
                frame.push(b' ');
                frame.extend_from_slice(self.procid.as_bytes());
                // No MSGID, no structured data: the record itself is the MSG.
                frame.extend_from_slice(b" - - ");
            }
            SyslogFormat::Rfc3164 => {
                write_rfc3164_time(frame, meta.time);
                frame.push(b' ');
                // Local messages leave the host out, as the C library's syslog() does: the
                // daemon behind /dev/log adds its own.
                if self.transport != SyslogTransport::Unix {
                    frame.extend_from_slice(self.hostname.as_bytes());
                    frame.push(b' ');
                }
                frame.extend_from_slice(self.app_name.as_bytes());
                frame.push(b'[');
                frame.extend_from_slice(self.procid.as_bytes());
                frame.extend_from_slice(b"]: ");
            }
        }
        frame.extend_from_slice(msg);
    }

    fn write_run(&mut self, batch: &Batch, run: Range<usize>) -> io::Result<()> {
        if let Some(Conn::Tcp(stream)) = &self.conn
            && peer_closed(stream)
        {
            // Written into a connection the server has closed, the run would be lost while
            // counted as written: reconnect first, so that a server gone is a counted failure.
            self.conn = None;
        }
        if self.conn.is_none() {
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    format!("not connected to {} (waiting to reconnect)", self.address),
                ));
            }
            match self.connect() {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.retry_at = None;
                }
                Err(e) => {
                    self.retry_at = Some(Instant::now() + RECONNECT_DELAY);
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot connect to {}: {e}", self.address),
                    ));
                }
            }
        }
        let result = self.send_run(batch, run);
        if result.is_err() && self.transport != SyslogTransport::Udp {
            // A broken stream is reconnected; a UDP socket stays usable.
            self.conn = None;
        }
        result
    }

    fn send_run(&mut self, batch: &Batch, run: Range<usize>) -> io::Result<()> {
        if self.transport == SyslogTransport::Tcp {
            // RFC 6587 octet counting: "LEN SP MSG", all of the run in one write.
            self.out.clear();
            for index in run {
                self.build_frame(batch, index);
                self.out
                    .extend_from_slice(self.frame.len().to_string().as_bytes());
                self.out.push(b' ');
                self.out.extend_from_slice(&self.frame);
            }
            return match &mut self.conn {
                Some(Conn::Tcp(stream)) => stream.write_all(&self.out),
                _ => Err(io::Error::other("the syslog connection is closed")),
            };
        }
        for index in run {
            self.build_frame(batch, index);
            let sent = match &self.conn {
                Some(Conn::Udp(socket)) => socket.send(&self.frame),
                #[cfg(unix)]
                Some(Conn::Unix(socket)) => socket.send(&self.frame),
                _ => Err(io::Error::other("the syslog connection is closed")),
            };
            sent?;
        }
        Ok(())
    }
}

/// Whether the server closed or reset a syslog TCP connection. Syslog servers send nothing, so
/// anything readable (the end of the stream) or an error means the connection is gone; a write
/// into it would still succeed once, into the kernel's buffer, and be lost.
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).is_err() || closed
}

/// Checks at start-up that a local syslog daemon listens on the unix socket of sink `index`, so
/// that a missing `/dev/log` is one clear error rather than a stream of failed records.
pub(crate) fn check_local_syslog(config: &SinkConfig, index: usize) -> Result<(), ConfigError> {
    let SinkConfig::Syslog {
        transport: SyslogTransport::Unix,
        address,
        ..
    } = config
    else {
        return Ok(());
    };
    let path = address.as_deref().unwrap_or(DEV_LOG);
    let key = format!("logger.sinks.{index}");
    let fix = format!(
        "start the local syslog daemon (rsyslog, syslog-ng or systemd-journald provide {DEV_LOG}), set {key}.address to the socket it listens on, or set {key}.transport = \"udp\" or \"tcp\" with {key}.address = \"host:port\" for a network syslog server"
    );
    #[cfg(unix)]
    {
        let connected = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|socket| socket.connect(Path::new(path)));
        match connected {
            Ok(()) => Ok(()),
            Err(e) => Err(ConfigError::new(
                format!("{key}.address"),
                format!("no syslog daemon listens on the unix socket {path} ({e}): {fix}"),
            )),
        }
    }
    #[cfg(not(unix))]
    {
        Err(ConfigError::new(
            format!("{key}.transport"),
            format!("the unix socket {path} needs a unix system: {fix}"),
        ))
    }
}

fn resolve(address: &str) -> io::Result<SocketAddr> {
    address.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{address}` resolves to no address"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Formatted, Next, Queue};
    use std::time::{SystemTime, UNIX_EPOCH};

    fn batch(records: &[(LogLevel, &str)]) -> Batch {
        let queue = Queue::new(1000, Duration::from_secs(60));
        for (level, text) in records {
            let line = format!("{text}\n");
            queue
                .push_blocking(
                    &Formatted {
                        level: *level,
                        time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                        main: line.as_bytes(),
                        cloud: b"",
                    },
                    false,
                )
                .unwrap();
        }
        let mut spare = Batch::default();
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Batch
        ));
        spare
    }

    #[test]
    fn errors_are_reported_once_per_interval_and_on_recovery() {
        let mut reporter = Reporter {
            interval: Duration::from_secs(10),
            last: None,
            unreported: 0,
            failing: false,
        };
        let error = io::Error::other("disk full");
        let t0 = Instant::now();
        let first = reporter.failed("File(a.log)", &error, 3, t0).unwrap();
        assert_eq!(
            first,
            "andon-log: sink File(a.log): disk full; 3 record(s) not written since the last report, retrying"
        );
        assert_eq!(
            reporter.failed("File(a.log)", &error, 4, t0 + Duration::from_secs(5)),
            None
        );
        let again = reporter
            .failed("File(a.log)", &error, 1, t0 + Duration::from_secs(10))
            .unwrap();
        assert!(again.contains("5 record(s)"), "{again}");
        assert_eq!(
            reporter.failed("File(a.log)", &error, 2, t0 + Duration::from_secs(11)),
            None
        );
        let recovered = reporter.succeeded("File(a.log)").unwrap();
        assert!(
            recovered.contains("recovered (2 more record(s)"),
            "{recovered}"
        );
        assert_eq!(reporter.succeeded("File(a.log)"), None);
    }

    #[test]
    fn runs_skip_records_below_the_level() {
        let b = batch(&[
            (LogLevel::Info, "a"),
            (LogLevel::Warning, "b"),
            (LogLevel::Critical, "c"),
            (LogLevel::Debug, "d"),
            (LogLevel::Warning, "e"),
        ]);
        let runs: Vec<_> = runs(&b, LogLevel::Warning).collect();
        assert_eq!(runs, vec![1..3, 4..5]);
        assert_eq!(b.bytes(1..3, false), b"b\nc\n");
    }

    #[test]
    fn syslog_headers_follow_the_rfcs() {
        let b = batch(&[(LogLevel::Warning, "{\"message\":\"hi\"}")]);
        let mut sink = SyslogSink::new(
            SyslogTransport::Udp,
            None,
            SyslogFormat::Rfc5424,
            "local3",
            "andon",
            Some("host1".into()),
        );
        sink.build_frame(&b, 0);
        let pid = std::process::id();
        // local3 = 19, warning = 4: 19 * 8 + 4 = 156.
        assert_eq!(
            String::from_utf8_lossy(&sink.frame),
            format!(
                "<156>1 2023-11-14T22:13:20.000000Z host1 andon {pid} - - {{\"message\":\"hi\"}}"
            )
        );
        sink.format = SyslogFormat::Rfc3164;
        sink.build_frame(&b, 0);
        assert_eq!(
            String::from_utf8_lossy(&sink.frame),
            format!("<156>Nov 14 22:13:20 host1 andon[{pid}]: {{\"message\":\"hi\"}}")
        );
        let _ = SystemTime::now();
    }

    #[test]
    fn auto_format_is_the_local_form_on_the_unix_socket_and_rfc5424_on_the_network() {
        let b = batch(&[(LogLevel::Critical, "m")]);
        let pid = std::process::id();
        let mut local = SyslogSink::new(
            SyslogTransport::Unix,
            None,
            SyslogFormat::Auto,
            "user",
            "andon",
            Some("host1".into()),
        );
        assert_eq!(local.address, DEV_LOG);
        local.build_frame(&b, 0);
        // user = 1, critical = 2: 1 * 8 + 2 = 10; no host name, as syslog(3) writes it.
        assert_eq!(
            String::from_utf8_lossy(&local.frame),
            format!("<10>Nov 14 22:13:20 andon[{pid}]: m")
        );
        let mut network = SyslogSink::new(
            SyslogTransport::Udp,
            None,
            SyslogFormat::Auto,
            "user",
            "andon",
            Some("host1".into()),
        );
        network.build_frame(&b, 0);
        assert!(
            String::from_utf8_lossy(&network.frame).starts_with("<10>1 2023-11-14T22:13:20"),
            "{}",
            String::from_utf8_lossy(&network.frame)
        );
    }

    #[test]
    fn files_rotate_by_size_and_keep_n() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/app.log");
        let mut sink = FileSink::new(path.clone(), 10, 2);
        for text in ["aaaa", "bbbb", "cccc", "dddd", "eeee"] {
            let b = batch(&[(LogLevel::Info, text)]);
            sink.write_run(&b, 0..1, false).unwrap();
        }
        // 5 bytes each, 10 bytes a file: two records a file, two rotated files kept.
        assert_eq!(fs::read_to_string(&path).unwrap(), "eeee\n");
        assert_eq!(fs::read_to_string(sink.rotated(1)).unwrap(), "cccc\ndddd\n");
        assert_eq!(fs::read_to_string(sink.rotated(2)).unwrap(), "aaaa\nbbbb\n");
        assert!(!sink.rotated(3).exists());
    }
}
