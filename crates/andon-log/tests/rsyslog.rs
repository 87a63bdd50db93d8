//! The syslog sink against a real rsyslog on loopback: RFC 5424 over UDP and over TCP with
//! octet counting, RFC 3164 over UDP and a unix socket, read back from the file rsyslog wrote.
#![allow(clippy::unwrap_used, clippy::panic)] // helpers fail the test that calls them

use std::fs;
use std::path::Path;
use std::time::Duration;

use andon_core::config::{LoggerConfig, SinkConfig, SyslogFormat, SyslogTransport};
use andon_core::{AndonSignal, LogLevel};
use andon_log::AndonLogger;
use andon_tests::{Peer, Ready, find_peer, free_port, temp_dir, wait_for};
use serde_json::Value;

/// One line per message rsyslog stored: severity|facility|app-name|procid|msg.
const TEMPLATE: &str = "%syslogseverity%|%syslogfacility%|%app-name%|%procid%|%msg%\\n";

fn syslog_sink(
    transport: SyslogTransport,
    address: String,
    format: SyslogFormat,
    app_name: &str,
) -> SinkConfig {
    SinkConfig::Syslog {
        transport,
        address: Some(address),
        format,
        facility: "local3".into(),
        app_name: app_name.into(),
        hostname: Some("andon-test".into()),
        level: None,
    }
}

struct Stored {
    severity: u8,
    facility: u8,
    app: String,
    procid: String,
    payload: Value,
}

fn stored(path: &Path) -> Vec<Stored> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(5, '|');
            let mut next = || parts.next().unwrap_or_else(|| panic!("bad line {line}"));
            let severity = next().parse().unwrap();
            let facility = next().parse().unwrap();
            let app = next().to_owned();
            let procid = next().to_owned();
            let msg = next().trim_start();
            let payload = serde_json::from_str(msg).unwrap_or_else(|e| panic!("{e}: {msg}"));
            Stored {
                severity,
                facility,
                app,
                procid,
                payload,
            }
        })
        .collect()
}

fn wait_for_lines(path: &Path, count: usize) -> Vec<Stored> {
    wait_for(Duration::from_secs(20), || {
        let lines = stored(path);
        (lines.len() >= count).then_some(lines)
    })
    .unwrap_or_else(|| {
        panic!(
            "rsyslog stored {} of {count} lines:\n{}",
            stored(path).len(),
            fs::read_to_string(path).unwrap_or_default()
        )
    })
}

/// Starts rsyslog with a TCP listener on `tcp`, storing into `out`.
fn start_tcp_rsyslog(rsyslogd: &Path, dir: &Path, tcp: u16, out: &Path) -> Peer {
    let conf = dir.join("rsyslog-tcp.conf");
    fs::write(
        &conf,
        format!(
            r#"
global(workDirectory="{dir}")
module(load="imtcp")
template(name="andon" type="string" string="{TEMPLATE}")
ruleset(name="andon") {{
  action(type="omfile" file="{out}" template="andon")
}}
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="andon")
"#,
            dir = dir.display(),
            out = out.display(),
        ),
    )
    .unwrap();
    Peer::builder(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd-tcp.pid"))
        .ready(Ready::Tcp(([127, 0, 0, 1], tcp).into()))
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syslog_sink_recovers_when_rsyslog_comes_up() {
    let Some(rsyslogd) = find_peer("rsyslogd", "apt-get install rsyslog") else {
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("stored.log");
    let tcp = free_port();
    let logger = AndonLogger::new(LoggerConfig {
        sampling_enabled: false,
        sinks: vec![syslog_sink(
            SyslogTransport::Tcp,
            format!("127.0.0.1:{tcp}"),
            SyslogFormat::Rfc5424,
            "andon",
        )],
        ..LoggerConfig::default()
    })
    .unwrap();
    logger.warn("before rsyslog").await.unwrap();
    logger.flush().await.unwrap();
    assert_eq!(logger.stats().failed, 1);

    let peer = start_tcp_rsyslog(&rsyslogd, dir.path(), tcp, &out);
    // The sink reconnects on its own: keep logging until rsyslog has stored a record.
    let mut probe = 0;
    let stored_probe = wait_for(Duration::from_secs(20), || {
        probe += 1;
        logger
            .event(LogLevel::Warning, "probe", slog::o!("n" => probe))
            .unwrap();
        logger.flush_blocking().unwrap();
        stored(&out).into_iter().next()
    });
    let first = stored_probe.unwrap_or_else(|| panic!("nothing stored: {}", peer.output()));
    assert_eq!(first.payload["message"], "probe");
    let stats = logger.stats();
    assert!(stats.written >= 1, "{stats:?}");
    assert_eq!(stats.emitted, stats.written + stats.failed + stats.dropped);
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_receives_rfc5424_over_udp_and_tcp_with_the_json_intact() {
    let Some(rsyslogd) = find_peer("rsyslogd", "apt-get install rsyslog") else {
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("stored.log");
    let socket = dir.path().join("log.sock");
    let (udp, tcp) = (free_port(), free_port());
    let conf = dir.path().join("rsyslog.conf");
    fs::write(
        &conf,
        format!(
            r#"
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
template(name="andon" type="string" string="{TEMPLATE}")
ruleset(name="andon") {{
  action(type="omfile" file="{out}" template="andon")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="andon")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="andon")
input(type="imuxsock" socket="{socket}" ruleset="andon")
"#,
            dir = dir.path().display(),
            out = out.display(),
            socket = socket.display(),
        ),
    )
    .unwrap();
    let pid_file = dir.path().join("rsyslogd.pid");
    let peer = Peer::builder(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(&pid_file)
        .ready(Ready::Tcp(([127, 0, 0, 1], tcp).into()))
        .start()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || socket.exists().then_some(())).is_some(),
        "rsyslog did not create {}: {}",
        socket.display(),
        peer.output()
    );

    let logger = AndonLogger::new(LoggerConfig {
        level: LogLevel::Debug,
        sampling_enabled: false,
        sinks: vec![
            syslog_sink(
                SyslogTransport::Udp,
                format!("127.0.0.1:{udp}"),
                SyslogFormat::Rfc5424,
                "andon-udp",
            ),
            syslog_sink(
                SyslogTransport::Tcp,
                format!("127.0.0.1:{tcp}"),
                SyslogFormat::Rfc5424,
                "andon-tcp",
            ),
            syslog_sink(
                SyslogTransport::Udp,
                format!("127.0.0.1:{udp}"),
                SyslogFormat::Rfc3164,
                "andon-bsd",
            ),
            syslog_sink(
                SyslogTransport::Unix,
                socket.display().to_string(),
                SyslogFormat::Rfc3164,
                "andon-unix",
            ),
        ],
        ..LoggerConfig::default()
    })
    .unwrap();

    let tricky = "quote \" backslash \\ bracket ] brace } é ✓ and \n{\"level\":\"CRITICAL\"}";
    logger.info(tricky).await.unwrap();
    let signal = AndonSignal::red("Queue overflow - STOP")
        .with_component("queue")
        .with_attribute("depth", 150);
    logger.log_signal(&signal).await.unwrap();
    for i in 0..50 {
        logger
            .event(LogLevel::Warning, "burst", slog::o!("i" => i))
            .unwrap();
    }
    logger.flush().await.unwrap();

    let per_sink = 52;
    let lines = wait_for_lines(&out, per_sink * 4);
    let pid = std::process::id().to_string();
    for app in ["andon-udp", "andon-tcp", "andon-bsd", "andon-unix"] {
        let mine: Vec<_> = lines.iter().filter(|l| l.app == app).collect();
        assert_eq!(mine.len(), per_sink, "{app}");
        let info = mine
            .iter()
            .find(|l| l.payload["level"] == "INFO")
            .unwrap_or_else(|| panic!("{app}: no INFO record"));
        assert_eq!(info.payload["message"], tricky, "{app}");
        assert_eq!(info.severity, 6, "{app}");
        assert_eq!(info.facility, 19, "{app}: local3");
        let red = mine
            .iter()
            .find(|l| l.payload["level"] == "CRITICAL")
            .unwrap();
        assert_eq!(red.severity, 2);
        assert_eq!(red.payload["signal_id"], signal.id().to_string());
        assert_eq!(red.payload["depth"], 150);
        if app != "andon-unix" {
            // imuxsock replaces the process id with the sender's own credentials.
            assert_eq!(red.procid, pid, "{app}");
        }
        // Octet counting keeps the 50 records of one TCP write apart, in order.
        let burst: Vec<_> = mine
            .iter()
            .filter(|l| l.payload["message"] == "burst")
            .map(|l| l.payload["i"].as_u64().unwrap())
            .collect();
        if app == "andon-tcp" || app == "andon-unix" {
            assert_eq!(burst, (0..50).collect::<Vec<u64>>(), "{app}");
        } else {
            assert_eq!(burst.len(), 50, "{app}");
        }
    }
    let stats = logger.stats();
    assert_eq!(stats.sink_errors, 0, "{stats:?}");
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    drop(peer);
}

#[tokio::test]
async fn syslog_down_is_counted_not_fatal() {
    // Nothing listens on this TCP port: every record fails, the program goes on.
    let port = free_port();
    let logger = AndonLogger::new(LoggerConfig {
        sampling_enabled: false,
        sinks: vec![syslog_sink(
            SyslogTransport::Tcp,
            format!("127.0.0.1:{port}"),
            SyslogFormat::Rfc5424,
            "andon",
        )],
        ..LoggerConfig::default()
    })
    .unwrap();
    logger.warn("nobody listens").await.unwrap();
    logger.critical("still nobody").await.unwrap();
    logger.flush().await.unwrap();
    let stats = logger.stats();
    assert_eq!(stats.failed, 2);
    assert_eq!(stats.sink_errors, 2);
    let error = stats.sinks[0].last_error.clone().unwrap();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

/// Starts rsyslog listening only on the unix socket `socket` (imuxsock, without the system
/// socket), storing into `out`.
fn start_unix_rsyslog(rsyslogd: &Path, dir: &Path, socket: &Path, out: &Path) -> Peer {
    let conf = dir.join("rsyslog-unix.conf");
    fs::write(
        &conf,
        format!(
            r#"
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
template(name="andon" type="string" string="{TEMPLATE}")
ruleset(name="andon") {{
  action(type="omfile" file="{out}" template="andon")
}}
input(type="imuxsock" Socket="{socket}" ruleset="andon")
"#,
            dir = dir.display(),
            out = out.display(),
            socket = socket.display(),
        ),
    )
    .unwrap();
    let peer = Peer::builder(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd-unix.pid"))
        .ready(Ready::Immediately)
        .start()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || socket.exists().then_some(())).is_some(),
        "rsyslog did not create {}: {}",
        socket.display(),
        peer.output()
    );
    peer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_without_a_transport_writes_to_the_local_daemons_unix_socket() {
    let Some(rsyslogd) = find_peer("rsyslogd", "apt-get install rsyslog") else {
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("stored.log");
    let socket = dir.path().join("dev-log.sock");
    let peer = start_unix_rsyslog(&rsyslogd, dir.path(), &socket, &out);
    // A table without `transport`, only the socket path: the local daemon, as syslog(3) does.
    let config = andon_core::AndonConfig::from_toml_str(&format!(
        "[logger]\nsampling_enabled = false\nsinks = [{{ type = \"Syslog\", address = \"{}\", facility = \"local3\" }}]\n",
        socket.display()
    ))
    .unwrap();
    let logger = AndonLogger::new(config.logger).unwrap();
    assert_eq!(
        logger.stats().sinks[0].name,
        format!("Syslog(unix {})", socket.display())
    );
    logger.info("to the local daemon").await.unwrap();
    let signal = AndonSignal::red("Queue overflow - STOP").with_component("queue");
    logger.log_signal(&signal).await.unwrap();
    logger.flush().await.unwrap();
    let lines = wait_for_lines(&out, 2);
    assert_eq!(lines[0].payload["message"], "to the local daemon");
    assert_eq!(lines[0].app, "andon");
    assert_eq!((lines[0].severity, lines[0].facility), (6, 19));
    assert_eq!(lines[1].payload["signal_id"], signal.id().to_string());
    assert_eq!(lines[1].severity, 2);
    let stats = logger.stats();
    assert_eq!((stats.written, stats.sink_errors), (2, 0), "{stats:?}");
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    drop(peer);
}

#[test]
fn a_missing_syslog_socket_is_one_start_up_error_naming_the_path_and_the_keys() {
    let dir = temp_dir();
    let missing = dir.path().join("no-daemon-here.sock");
    let config = andon_core::AndonConfig::from_toml_str(&format!(
        "[logger]\nsinks = [\"Stdout\", {{ type = \"Syslog\", address = \"{}\" }}]\n",
        missing.display()
    ))
    .unwrap();
    let err = AndonLogger::new(config.logger).unwrap_err();
    let andon_log::LogError::Config(config_error) = &err else {
        panic!("not a configuration error: {err:?}");
    };
    assert_eq!(config_error.key.as_deref(), Some("logger.sinks.1.address"));
    let text = err.to_string();
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("set logger.sinks.1.address"), "{text}");
    assert!(
        text.contains("logger.sinks.1.transport = \"udp\" or \"tcp\""),
        "{text}"
    );

    // A socket file nobody listens on (a daemon that died) is refused the same way.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    assert!(stale.exists());
    // Another test of this process may fork (to start rsyslog) while the socket is open; the
    // child holds a copy of it until it execs. Wait until nobody holds it, as after a real
    // daemon's death.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.connect(&stale))
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stale socket stayed open"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = AndonLogger::new(LoggerConfig {
        sinks: vec![SinkConfig::Syslog {
            transport: SyslogTransport::Unix,
            address: Some(stale.display().to_string()),
            format: SyslogFormat::Rfc3164,
            facility: "user".into(),
            app_name: "andon".into(),
            hostname: None,
            level: None,
        }],
        ..LoggerConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("no syslog daemon listens"),
        "{err}"
    );

    // The short form means /dev/log: it works where a daemon listens there, and is refused
    // with the same advice where none does (as in most containers).
    let config =
        andon_core::AndonConfig::from_toml_str("[logger]\nsinks = [\"Syslog\"]\n").unwrap();
    let listening = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.connect("/dev/log"))
        .is_ok();
    match AndonLogger::new(config.logger) {
        Ok(logger) => {
            assert!(listening, "started without a daemon on /dev/log");
            assert_eq!(logger.stats().sinks[0].name, "Syslog(unix /dev/log)");
            logger.shutdown_blocking();
        }
        Err(err) => {
            assert!(!listening, "{err}");
            let text = err.to_string();
            assert!(text.contains("/dev/log"), "{text}");
            assert!(text.contains("logger.sinks.0.address"), "{text}");
        }
    }
}
