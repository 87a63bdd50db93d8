//! The errors of the history store.

use andon_core::AndonError;

/// A result whose error is a [`HistoryError`].
pub(crate) type Result<T, E = HistoryError> = std::result::Result<T, E>;

/// What can go wrong opening, writing or querying the history.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The database could not be opened or prepared.
    #[error(
        "cannot open the history database `{path}`: {source}: check that its folder exists and is writable, or change [history] path"
    )]
    Open {
        /// The database file that was tried.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer andon whose schema this one does not know.
    #[error(
        "the history database `{path}` has schema version {found}, newer than the {known} this andon knows: upgrade andon, or point [history] path at another file"
    )]
    TooNew {
        /// The database file that was tried.
        path: String,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A query failed.
    #[error(
        "history query failed: {0}: retry; if it persists, check the database file with `sqlite3 <path> 'PRAGMA integrity_check'`"
    )]
    Query(#[source] rusqlite::Error),
    /// A query argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A query ran longer than its budget and was stopped.
    #[error(
        "the history query ran longer than {}s and was stopped: ask for a shorter window or one component",
        budget.as_secs()
    )]
    TooSlow {
        /// The budget it ran out of.
        budget: std::time::Duration,
    },
    /// The PostgreSQL server could not be reached, refused the login, or failed a statement.
    /// The message never holds the URL's password.
    #[error(
        "the PostgreSQL history failed to {what}: {message}: check [history] url (host, port, user, ${{PGPASSWORD}}) and that the server is up"
    )]
    Postgres {
        /// What was being done (connect, migrate, query).
        what: &'static str,
        /// What the driver said, with any secret redacted.
        message: String,
    },
    /// The PostgreSQL database was migrated by a newer andon.
    #[error(
        "the PostgreSQL history has schema version {found}, newer than the {known} this andon knows: upgrade this agent to the fleet's version"
    )]
    PostgresTooNew {
        /// The newest version in `schema_migrations`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The background writer is gone (the store was shut down, or its thread failed).
    #[error("the history writer has stopped: records can no longer be written; create a new store")]
    WriterStopped,
}

impl From<rusqlite::Error> for HistoryError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::OperationInterrupted) => HistoryError::TooSlow {
                budget: crate::budget::QUERY_BUDGET,
            },
            _ => HistoryError::Query(error),
        }
    }
}

impl From<HistoryError> for AndonError {
    fn from(error: HistoryError) -> Self {
        AndonError::component("history", error)
    }
}
