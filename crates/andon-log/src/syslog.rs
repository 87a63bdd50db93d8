//! The syslog sink: the local daemon on its unix socket (`/dev/log` by default, as `syslog(3)`
//! writes, checked at start-up), or a server over UDP or TCP (RFC 6587 octet counting); RFC 5424
//! or RFC 3164 headers with the record's own timestamp.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use andon_core::ConfigError;
use andon_core::config::{SinkConfig, SyslogFormat, SyslogTransport};

use crate::format::{write_rfc3164_time, write_rfc3339};
use crate::queue::Batch;

/// How long a network sink waits before trying to reconnect after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// How long a TCP connect or write may take before the sink counts it as failed.
const NET_TIMEOUT: Duration = Duration::from_secs(5);
/// The local syslog daemon's socket, where `syslog(3)` writes.
pub(crate) const DEV_LOG: &str = "/dev/log";

/// A syslog destination. The header is written here (RFC 5424 or RFC 3164, with the record's
/// own timestamp); the MSG is the record's main line. The `syslog` crate supplies the facility
/// codes and the host name.
#[derive(Debug)]
pub(crate) struct SyslogSink {
    transport: SyslogTransport,
    pub(crate) address: String,
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
    pub(crate) fn new(
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

    pub(crate) fn transport_name(&self) -> &'static str {
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

    /// Closes the connection.
    pub(crate) fn close(&mut self) {
        self.conn = None;
    }

    pub(crate) fn write_run(&mut self, batch: &Batch, run: Range<usize>) -> io::Result<()> {
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
    use crate::sinks::tests::batch;
    use andon_core::LogLevel;

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
}
