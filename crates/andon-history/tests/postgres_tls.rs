//! The PostgreSQL history over TLS, against a real server (the harness's `postgres` with
//! `ssl=on` and a certificate signed by a CA made for the test): `sslmode=verify-full` with
//! the CA (and `verify-ca` under another name, and the default `prefer`) writes and reads back
//! over encrypted connections; `verify-full` refuses a name the certificate does not hold; a server without TLS and
//! `sslmode=require` is refused with a clear error while accepted records stay queued and are
//! counted; a wrong CA fails verification saying so, without the password.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use andon_core::config::{HistoryConfig, Secret};
use andon_core::{AndonSignal, Color, HistoryRecord, HistoryStore};
use andon_history::{HistoryBackend, PostgresHistory, SignalQuery, Window};
use andon_tests::postgres::Postgres;

const PASSWORD: &str = "s3cr3t-pw";

fn config(url: &str) -> HistoryConfig {
    HistoryConfig {
        enabled: true,
        url: Some(Secret::new(url)),
        instance: Some("press-tls".to_owned()),
        ..HistoryConfig::default()
    }
}

/// A URL with a password (trust authentication ignores it; it must never be printed).
fn url(pg: &Postgres, host: &str, database: &str, tls: &str) -> String {
    format!(
        "postgres://postgres:{PASSWORD}@{host}:{}/{database}?{tls}",
        pg.port()
    )
}

fn signal(message: &str) -> HistoryRecord {
    HistoryRecord::Signal(Arc::new(
        AndonSignal::new(Color::Red, message).with_component("press"),
    ))
}

async fn connect(config: &HistoryConfig) -> Result<PostgresHistory, String> {
    tokio::time::timeout(
        Duration::from_secs(30),
        PostgresHistory::builder(config).unwrap().connect(),
    )
    .await
    .expect("a refused connection ends in an error, not a hang")
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_writes_and_reads_back_and_refusals_say_why_without_the_password() {
    let Some(mut pg) = Postgres::start_tls() else {
        return;
    };
    let ca = pg.ca_file().expect("a TLS server has a CA").to_owned();
    pg.create_database("tls");

    let ca = ca.display();
    // (what, host in the URL, its TLS parameters): each writes and reads back over TLS.
    let cases = [
        (
            "verify-full by name",
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        (
            "verify-full by address",
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        // A name the certificate does not hold, reached at the server's address: verify-ca
        // checks only the chain.
        (
            "verify-ca under another name",
            "elsewhere.test",
            format!("sslmode=verify-ca&sslrootcert={ca}&hostaddr=127.0.0.1"),
        ),
        ("no sslmode (prefer)", "127.0.0.1", String::new()),
    ];
    for (what, host, tls) in &cases {
        let store = connect(&config(&url(&pg, host, "tls", tls)))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        store.record(signal(what));
        store.flush().await.unwrap();
        let now = SystemTime::now() + Duration::from_secs(1);
        let read = HistoryBackend::from(store.clone())
            .signals(
                &SignalQuery::new(Window::last(Duration::from_secs(3600), now)),
                Some("press-tls"),
            )
            .await
            .unwrap();
        assert!(read.iter().any(|s| s.message == *what), "{what}: {read:?}");
        // The connections the store holds are encrypted, as the server sees them.
        let (tls_connections, plain) = (
            pg.psql(
                "tls",
                "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid) WHERE application_name = 'andon' AND ssl",
            ),
            pg.psql(
                "tls",
                "SELECT count(*) FROM pg_stat_activity JOIN pg_stat_ssl USING (pid) WHERE application_name = 'andon' AND NOT ssl",
            ),
        );
        assert_ne!(tls_connections, "0", "{what}: no TLS connection from andon");
        assert_eq!(plain, "0", "{what}: a plain connection from andon");
        store.shutdown().await.unwrap();
        assert_eq!(store.stats().written, 1, "{what}");
    }
    assert_eq!(
        pg.psql("tls", "SELECT count(*) FROM signals"),
        cases.len().to_string(),
        "every write is in the database"
    );

    // verify-full refuses the name the certificate does not hold.
    let tls = format!("sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1");
    let error = connect(&config(&url(&pg, "elsewhere.test", "tls", &tls)))
        .await
        .expect_err("verify-full refuses a name the certificate does not hold");
    assert!(error.contains("failed verification"), "{error}");
    assert!(!error.contains(PASSWORD), "the password leaked: {error}");

    // A CA that did not sign the server's certificate: refused, saying so.
    let wrong = tempfile::tempdir().unwrap();
    let wrong_ca = wrong.path().join("other-ca.pem");
    andon_tests::postgres_tls::write_unrelated_ca(&wrong_ca);
    let tls = format!("sslmode=verify-full&sslrootcert={}", wrong_ca.display());
    let error = connect(&config(&url(&pg, "localhost", "tls", &tls)))
        .await
        .expect_err("a wrong CA is refused");
    assert!(error.contains("failed verification"), "{error}");
    assert!(error.contains("sslrootcert"), "{error}");
    assert!(!error.contains(PASSWORD), "the password leaked: {error}");

    // The store keeps working over TLS; then the server comes back without TLS.
    let store = connect(&config(&url(&pg, "localhost", "tls", "sslmode=require")))
        .await
        .unwrap();
    store.record(signal("before"));
    store.flush().await.unwrap();
    pg.kill();
    pg.set_tls(false);
    pg.restart();
    for i in 0..10 {
        store.record(signal(&format!("while plain {i}")));
    }
    // A new agent is refused at once, with what to do.
    let error = connect(&config(&url(&pg, "127.0.0.1", "tls", "sslmode=require")))
        .await
        .expect_err("sslmode=require refuses a server without TLS");
    assert!(error.contains("does not offer TLS"), "{error}");
    assert!(!error.contains(PASSWORD), "the password leaked: {error}");
    // The running one holds what it accepted, retrying, and says why.
    tokio::time::timeout(Duration::from_secs(30), async {
        while !store
            .last_error()
            .is_some_and(|e| e.contains("does not offer TLS"))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the writer names the cause: {:?}", store.last_error()));
    let last = store.last_error().unwrap();
    assert!(!last.contains(PASSWORD), "the password leaked: {last}");
    let stats = store.stats();
    assert_eq!((stats.accepted, stats.written), (11, 1), "{stats:?}");
    // Shutting down counts what could not be written: nothing vanishes silently.
    store.shutdown().await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.failed, 10, "{stats:?}");
    assert_eq!(
        pg.psql("tls", "SELECT count(*) FROM signals"),
        (cases.len() + 1).to_string()
    );
}
