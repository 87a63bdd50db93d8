//! A local webhook receiver for the alert channel of the stall tests: it answers 200 to every
//! request and keeps the JSON bodies. Plain threads, so it runs beside any runtime or none.
#![allow(dead_code)] // reason: each including test uses a part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The receiver: `url()` to post to, `bodies()` received so far.
pub(crate) struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("its address")
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || serve(stream, &kept));
            }
        });
        Receiver { url, bodies }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("bodies").clone()
    }

    /// The first body whose text contains `needle`, waiting up to `timeout` (a hang guard).
    pub(crate) fn wait_for_body(
        &self,
        needle: &str,
        timeout: Duration,
    ) -> Option<serde_json::Value> {
        andon_tests::wait_for(timeout, || {
            self.bodies()
                .into_iter()
                .find(|b| b.to_string().contains(needle))
        })
    }
}

/// Answers every request on one connection (kept alive) until the client closes it.
fn serve(stream: TcpStream, kept: &Mutex<Vec<serde_json::Value>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(json) = serde_json::from_slice(&body) {
            kept.lock().expect("bodies").push(json);
        }
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}
