//! The time budget of a query: a watchdog interrupts SQLite when a query runs too long, so that
//! no request (a window of centuries, a filter without an index) can hold the reader.

use std::time::Duration;

use andon_runtime::Alarm;
use rusqlite::Connection;

/// The longest a query may run before it is stopped with [`HistoryError::TooSlow`](crate::HistoryError::TooSlow).
pub const QUERY_BUDGET: Duration = Duration::from_secs(5);

/// Interrupts the statements of a connection when they run past the budget, unless dropped
/// first. Drop it before the connection's lock, so that a late interrupt cannot reach the
/// next query (dropping it waits for its alarm's thread). Without a thread for the alarm, the
/// query runs unbounded, as it would without a budget.
pub(crate) struct Budget {
    _alarm: Option<Alarm>,
}

impl Budget {
    pub(crate) fn start(connection: &Connection) -> Budget {
        Self::start_with(connection, QUERY_BUDGET)
    }

    fn start_with(connection: &Connection, budget: Duration) -> Budget {
        let handle = connection.get_interrupt_handle();
        Budget {
            _alarm: Alarm::start("andon-history-budget", budget, move || handle.interrupt()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // reason: tests fail loudly

    use super::*;
    use crate::error::HistoryError;

    #[test]
    fn a_query_past_its_budget_is_stopped_and_called_too_slow() {
        let connection = Connection::open_in_memory().unwrap();
        let budget = Budget::start_with(&connection, Duration::from_millis(100));
        let endless = connection.query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            [],
            |row| row.get::<_, i64>(0),
        );
        drop(budget);
        match endless.map_err(HistoryError::from) {
            Err(HistoryError::TooSlow { budget }) => assert_eq!(budget, QUERY_BUDGET),
            other => panic!("an endless query must be stopped: {other:?}"),
        }
        // The next query on the connection is not hit by a late interrupt.
        let one: i64 = connection.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1);
    }
}
