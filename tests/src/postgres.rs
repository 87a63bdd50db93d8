//! A real PostgreSQL server for tests: `initdb` into a temporary folder and `postgres` on a free
//! loopback port, as the test's own child process. PostgreSQL refuses to run as root, so as
//! root (here and in CI) both run as the `postgres` user through `setpriv`, which execs (no
//! extra process), so that killing the peer kills the server itself.
//!
//! ```no_run
//! let Some(pg) = andon_tests::postgres::Postgres::start() else { return };
//! let url = pg.create_database("andon");
//! # let _ = url;
//! ```
//!
//! [`Postgres::start_tls`] also turns on TLS with a certificate for `localhost` and
//! `127.0.0.1` signed by a CA made for the test ([`Postgres::ca_file`]); see
//! [`crate::postgres_tls`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Peer, Ready, fail_or_panic, free_port, skip_or_fail, temp_dir};

/// What to install when PostgreSQL's programs are missing.
pub const INSTALL_HINT: &str = "apt-get install postgresql (Debian's package puts initdb under /usr/lib/postgresql/<version>/bin)";

/// The folder holding `initdb` and `postgres`: `/usr/lib/postgresql/<newest>/bin`, else PATH.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command that runs `program` as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A running PostgreSQL server in a temporary folder, stopped and removed when dropped.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    port: u16,
    peer: Option<Peer>,
    tls: Option<crate::postgres_tls::ServerTls>,
    tls_on: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates a cluster and starts it. `None` after a loud skip (outside CI) when PostgreSQL is
    /// not installed; fails the test in CI, or when it cannot start.
    pub fn start() -> Option<Postgres> {
        Postgres::start_with(false)
    }

    /// [`start`](Postgres::start) with `ssl=on`: the server's certificate (for `localhost` and
    /// `127.0.0.1`) is signed by the CA in [`ca_file`](Postgres::ca_file).
    pub fn start_tls() -> Option<Postgres> {
        Postgres::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            skip_or_fail("PostgreSQL (`initdb`)", INSTALL_HINT);
            return None;
        };
        let dir = temp_dir();
        let data = dir.path().join("data");
        let socket = dir.path().join("socket");
        for folder in [&data, &socket] {
            std::fs::create_dir_all(folder)
                .unwrap_or_else(|e| fail_or_panic(&format!("cannot create {folder:?}: {e}")));
        }
        let tls = tls.then(|| crate::postgres_tls::ServerTls::write(&dir.path().join("tls")));
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status();
            if !chown.is_ok_and(|s| s.success()) {
                fail_or_panic(
                    "cannot chown the PostgreSQL folder to the `postgres` user: is the postgresql package installed?",
                );
            }
        }
        let initdb = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap_or_else(|e| fail_or_panic(&format!("cannot run initdb: {e}")));
        if !initdb.status.success() {
            fail_or_panic(&format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&initdb.stdout),
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let mut pg = Postgres {
            bin,
            data,
            socket,
            port: free_port(),
            peer: None,
            tls_on: tls.is_some(),
            tls,
            _dir: dir,
        };
        pg.restart();
        Some(pg)
    }

    /// Starts the server again on the same port and data (after [`kill`](Postgres::kill)).
    pub fn restart(&mut self) {
        let program = self.bin.join("postgres");
        let mut command = as_postgres(&program);
        command
            .arg("-D")
            .arg(&self.data)
            .arg("-k")
            .arg(&self.socket)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            // A test database: durability is not what is tested.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
        if let (Some(tls), true) = (&self.tls, self.tls_on) {
            command
                .args(["-c", "ssl=on", "-c"])
                .arg(format!("ssl_cert_file={}", tls.cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", tls.key.display()));
        }
        let mut builder = Peer::builder(&program)
            .ready(Ready::Output(
                "database system is ready to accept connections".into(),
            ))
            .timeout(Duration::from_secs(60));
        builder.command = command;
        let peer = builder
            .start()
            .unwrap_or_else(|e| fail_or_panic(&format!("PostgreSQL did not start: {e}")));
        self.peer = Some(peer);
    }

    /// Stops the server the hard way (SIGQUIT: an immediate shutdown, every connection cut,
    /// no checkpoint: what a crash looks like to clients) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut peer) = self.peer.take() {
            if let Some(pid) = peer.pid() {
                let _ = Command::new("kill")
                    .args(["-QUIT", &pid.to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(30);
                while peer.is_running() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            peer.kill();
        }
    }

    /// Whether the next [`restart`](Postgres::restart) turns TLS on (the default of a server
    /// from [`start_tls`](Postgres::start_tls)); off, the server refuses TLS as one without
    /// certificates does.
    pub fn set_tls(&mut self, on: bool) {
        self.tls_on = on && self.tls.is_some();
    }

    /// The CA that signed the server's certificate (PEM), for `sslrootcert=`; `None` without
    /// [`start_tls`](Postgres::start_tls).
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca.as_path())
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` for the `postgres` user (trust authentication: no password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` with `psql` in `database`; returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| fail_or_panic(&format!("cannot run psql: {e}")));
        if !out.status.success() {
            fail_or_panic(&format!(
                "psql `{sql}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates `database` and returns its URL.
    pub fn create_database(&self, database: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{database}\""));
        self.url(database)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}
