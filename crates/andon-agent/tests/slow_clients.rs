//! Slow and greedy clients are cut off: 400 connections that send half a request head do not
//! stop a real client from being served, and the agent closes every one of them itself; a body
//! that does not arrive whole gets 408 and a closed connection; an idle keep-alive connection
//! is closed; beyond the connection cap a connection is closed at once; event streams are
//! capped per client address as well as in total.
//!
//! The limits are shortened here (`Limits::with_*`); production uses 10 s for a request head and
//! 30 s for a body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

mod common;

use std::time::{Duration, Instant};

use andon_agent::Limits;
use common::{QUIET, TestAgent};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// A hang guard only: every wait below ends long before it unless the agent is broken.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Reads until the agent closes the connection (end of file or reset); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(HANG_GUARD, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the agent never closed the connection");
    seen
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < HANG_GUARD, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_half_sent_requests_neither_block_a_real_client_nor_stay_open() {
    let limits = Limits::default().with_header_read_timeout(Duration::from_secs(5));
    let agent = TestAgent::start_with(QUIET, "127.0.0.1:0", limits).await;
    let address = agent.address();
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..400 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let half = if i % 2 == 0 {
            format!("POST /v1/signals HTTP/1.1\r\nHost: {address}\r\nContent-Le")
        } else {
            "GET /v1/bo".to_owned()
        };
        stream.write_all(half.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    wait_until("400 open connections", || {
        agent.agent.connection_stats().open >= 400
    })
    .await;
    let opened = started.elapsed();

    // A real client, while the 400 are held open.
    let (status, body) = agent
        .post(
            "/v1/signals",
            r#"{"color":"yellow","message":"still served","component":"api"}"#,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(agent.get("/healthz").await.0, 200);
    assert!(
        agent.agent.connection_stats().open >= 400,
        "the slow connections were still open while the real client was served"
    );

    // The agent closes every slow connection itself.
    let closing = Instant::now();
    let closed = futures_all(slow).await;
    let all_closed = closing.elapsed();
    assert_eq!(closed, 400);
    wait_until("the timeouts to be counted", || {
        agent.agent.connection_stats().timed_out >= 400
    })
    .await;
    let stats = agent.agent.connection_stats();
    println!(
        "400 half-sent requests: opened in {opened:.2?}; all closed by the agent {all_closed:.2?} later \
         (header read timeout {:?}); stats {stats:?}",
        limits.header_read_timeout()
    );
    agent.stop().await.unwrap();
}

/// Waits for the agent to close every stream; returns how many it closed.
async fn futures_all(streams: Vec<TcpStream>) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for mut stream in streams {
        tasks.spawn(async move { until_closed(&mut stream).await });
    }
    let mut closed = 0;
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
        closed += 1;
    }
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_whole_gets_408_and_an_idle_connection_is_closed() {
    let limits = Limits::default()
        .with_header_read_timeout(Duration::from_secs(1))
        .with_body_timeout(Duration::from_secs(1));
    let agent = TestAgent::start_with(QUIET, "127.0.0.1:0", limits).await;
    let address = agent.address();

    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/signals HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
                 Content-Length: 100\r\n\r\n{{\"color\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive whole"), "{answer}");
    assert_eq!(agent.agent.connection_stats().body_timeouts, 1);
    assert!(
        agent.system.recent_signals(10).is_empty(),
        "nothing was signalled"
    );

    // One request answered, then nothing: the keep-alive connection is closed by the agent.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_connection_is_closed_at_once() {
    let limits = Limits::default().with_max_connections(8);
    let agent = TestAgent::start_with(QUIET, "127.0.0.1:0", limits).await;
    let address = agent.address();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    wait_until("8 open connections", || {
        agent.agent.connection_stats().open == 8
    })
    .await;
    let mut ninth = TcpStream::connect(&address).await.unwrap();
    let _ = ninth
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await;
    assert!(
        until_closed(&mut ninth).await.is_empty(),
        "closed without an answer"
    );
    assert!(agent.agent.connection_stats().refused_full >= 1);
    drop(held);
    wait_until("the held connections to close", || {
        agent.agent.connection_stats().open == 0
    })
    .await;
    assert_eq!(agent.get("/healthz").await.0, 200, "served again");
    agent.stop().await.unwrap();
}

/// Opens `GET /v1/events` from the loopback address `from`.
async fn stream_from(from: &str, address: &str) -> (String, BufReader<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("GET /v1/events HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    (status, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_per_client_address_and_in_total() {
    let limits = Limits::default().with_max_event_streams(4, 2);
    let agent = TestAgent::start_with(QUIET, "127.0.0.1:0", limits).await;
    let address = agent.address();
    let mut open = Vec::new();
    for _ in 0..2 {
        let (status, reader) = stream_from("127.0.0.1", &address).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        open.push(reader);
    }
    let (status, _) = stream_from("127.0.0.1", &address).await;
    assert!(
        status.starts_with("HTTP/1.1 503"),
        "a third from one address: {status}"
    );
    // Another client address still gets its own.
    for _ in 0..2 {
        let (status, reader) = stream_from("127.0.0.2", &address).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        open.push(reader);
    }
    let (status, _) = stream_from("127.0.0.3", &address).await;
    assert!(
        status.starts_with("HTTP/1.1 503"),
        "the total is reached: {status}"
    );
    // A closed stream gives its place back.
    drop(open.remove(0));
    let started = Instant::now();
    loop {
        let (status, reader) = stream_from("127.0.0.1", &address).await;
        if status.starts_with("HTTP/1.1 200") {
            open.push(reader);
            break;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "the place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(open);
    agent.stop().await.unwrap();
}
