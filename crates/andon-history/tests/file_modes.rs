//! The history database holds every signal's message and attributes: the files SQLite keeps for
//! it (the database, its `-wal` and `-shm`) are readable by their owner only, whatever the umask
//! of the process that opened it.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use andon_core::{AndonSignal, Color, HistoryRecord, HistoryStore};
use andon_history::SqliteHistory;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_and_its_wal_are_owner_only() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("history.sqlite3");
    let history = SqliteHistory::open(path.to_str().unwrap()).unwrap();
    history.record(HistoryRecord::Signal(Arc::new(
        AndonSignal::new(Color::Red, "card number 4111 in a message").with_component("payments"),
    )));
    history.flush().await.unwrap();

    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"history.sqlite3".to_owned())
            && names.contains(&"history.sqlite3-wal".to_owned()),
        "the database and its write-ahead log: {names:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{} is owner-only", file.display());
    }
    history.shutdown().await.unwrap();

    // A file that exists already keeps the mode its owner gave it.
    let shared = dir.path().join("shared.sqlite3");
    std::fs::write(&shared, "").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    let history = SqliteHistory::open(shared.to_str().unwrap()).unwrap();
    history.shutdown().await.unwrap();
    assert_eq!(mode(&shared), 0o640);
}
