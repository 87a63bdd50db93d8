//! The board: what the line looks like now. Each station (component) with its current color and
//! last signal, and the most recent signals, for the agent's API and the Andon board page.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use andon_core::{AndonSignal, Color, LineState};
use serde::Serialize;

/// One station on the board: a component and its light.
#[derive(Debug, Clone, Serialize)]
pub struct Station {
    /// The component's name (`unknown` for signals that named none).
    pub component: String,
    /// Its light: the color of its last signal.
    pub color: Color,
    /// Its last signal.
    pub last_signal: Arc<AndonSignal>,
    /// How many signals it raised, by color.
    pub counts: BTreeMap<Color, u64>,
}

/// A picture of the board at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct BoardSnapshot {
    /// The line's state.
    pub line: LineState,
    /// The stations, sorted by component name.
    pub stations: Vec<Station>,
}

/// The board's state, updated on every signal. Bounded: at most `recent_capacity` recent
/// signals and `max_stations` stations (later components share the `other` station).
#[derive(Debug)]
pub(crate) struct Board {
    inner: Mutex<BoardInner>,
    recent_capacity: usize,
    max_stations: usize,
}

#[derive(Debug, Default)]
struct BoardInner {
    stations: BTreeMap<String, Station>,
    recent: VecDeque<Arc<AndonSignal>>,
}

impl Board {
    pub(crate) fn new(recent_capacity: usize, max_stations: usize) -> Self {
        Board {
            inner: Mutex::new(BoardInner::default()),
            recent_capacity,
            max_stations,
        }
    }

    pub(crate) fn record(&self, signal: &Arc<AndonSignal>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut name = signal.component_or_unknown();
        if !inner.stations.contains_key(name) && inner.stations.len() >= self.max_stations {
            name = "other";
        }
        match inner.stations.get_mut(name) {
            Some(station) => {
                station.color = signal.color();
                station.last_signal = Arc::clone(signal);
                *station.counts.entry(signal.color()).or_default() += 1;
            }
            None => {
                let station = Station {
                    component: name.to_owned(),
                    color: signal.color(),
                    last_signal: Arc::clone(signal),
                    counts: BTreeMap::from([(signal.color(), 1)]),
                };
                inner.stations.insert(name.to_owned(), station);
            }
        }
        if inner.recent.len() == self.recent_capacity {
            inner.recent.pop_front();
        }
        inner.recent.push_back(Arc::clone(signal));
    }

    pub(crate) fn stations(&self) -> Vec<Station> {
        self.inner
            .lock()
            .map(|i| i.stations.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The most recent signals, newest first, at most `limit`.
    pub(crate) fn recent(&self, limit: usize) -> Vec<Arc<AndonSignal>> {
        self.inner
            .lock()
            .map(|i| i.recent.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stations_take_the_color_of_their_last_signal_and_stay_bounded() {
        let board = Board::new(3, 2);
        for s in [
            AndonSignal::red("a").with_component("db"),
            AndonSignal::green("b").with_component("db"),
            AndonSignal::yellow("c").with_component("web"),
            AndonSignal::red("d").with_component("cache"),
        ] {
            board.record(&Arc::new(s));
        }
        let stations = board.stations();
        let names: Vec<_> = stations.iter().map(|s| s.component.as_str()).collect();
        assert_eq!(names, ["db", "other", "web"]);
        assert_eq!(stations[0].color, Color::Green);
        assert_eq!(stations[0].counts[&Color::Red], 1);
        assert_eq!(stations[1].color, Color::Red);
        let recent: Vec<_> = board
            .recent(10)
            .iter()
            .map(|s| s.message().to_owned())
            .collect();
        assert_eq!(recent, ["d", "c", "b"], "newest first, bounded to 3");
    }
}
