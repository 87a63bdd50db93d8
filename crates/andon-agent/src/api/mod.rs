//! The agent's API as types: every request body the agent reads and every answer it writes,
//! one file per resource. The server's handlers answer with them, [`Client`](crate::Client)'s
//! typed calls read them, and the `andon` subcommands print from them, so a field has one name
//! and one meaning on both ends of the wire. `docs/openapi.yaml` describes the same shapes; a
//! test (`api/openapi_tests.rs`) fails when a field here is missing there, or the other way round.
//!
//! Free-form parts stay JSON values: a signal's attributes, a diagnostics snapshot's details, a
//! timeline entry's detail.
//!
//! The shapes on the wire, in short:
//!
//! | endpoint | request | answer |
//! | --- | --- | --- |
//! | `POST /v1/signals` | [`NewSignal`] | [`SignalAccepted`] (201) |
//! | `GET /v1/signals` | | [`SignalList`] |
//! | `GET /v1/board` | | [`BoardView`] |
//! | `GET /v1/line` | | [`LineState`] |
//! | `POST /v1/line/resume` | [`ResumeRequest`] | [`ResumeAnswer`] |
//! | `GET /v1/alerts` | | [`AlertList`] |
//! | `POST /v1/alerts/{fingerprint}/ack` | [`AckRequest`] | [`Acknowledged`] |
//! | `GET /v1/diagnostics` | | [`DiagnosticsReport`] |
//! | `GET /v1/heartbeats` | | [`HeartbeatList`] |
//! | `POST /v1/heartbeats/{name}` | [`CheckIn`] | [`HeartbeatView`] (404: [`UnknownHeartbeat`]) |
//! | `GET /v1/fleet` | | [`FleetView`] |
//! | `GET /v1/history/pareto` | | [`ParetoReport`] |
//! | `GET /v1/history/mttr` | | [`ResponseTimesReport`] |
//! | `GET /v1/history/signals` | | `HistorySignals` (`full`) |
//! | `GET /v1/history/downtime` | | `DowntimeReport` (`full`) |
//! | `GET /v1/history/timeline/{key}` | | `TimelineView` (`full`) |
//! | `GET /healthz`, `GET /readyz` | | [`Liveness`], [`Readiness`] |
//! | `POST /v1/integrations/pagerduty` | PagerDuty's webhook | [`PagerDutyReply`] |
//! | `POST /v1/integrations/slack` | Slack's interaction | [`SlackReply`] |
//! | `GET /v1/events` | | events: `hello` [`Hello`], `alerts` [`AlertsEvent`], `signal`, `line`, `diagnostics`, `lagged` [`Lagged`] |
//! | any error | | [`ErrorBody`] |

mod alerts;
mod board;
mod error;
mod events;
mod fleet;
mod health;
mod heartbeats;
mod history;
mod integrations;
mod line;
#[cfg(test)]
mod openapi_tests;
mod signals;

pub use alerts::{AckRequest, Acknowledged, AlertList, AlertView};
pub use andon::HeartbeatView;
pub use andon::core::{DiagnosticsReport, LineState};
pub use board::{BoardView, StationView};
pub use error::ErrorBody;
pub use events::{AlertsEvent, Hello, Lagged};
pub use fleet::{FleetInstance, FleetView};
pub use health::{Liveness, Readiness};
pub use heartbeats::{CheckIn, HeartbeatList, UnknownHeartbeat};
#[cfg(feature = "full")]
pub use history::{DowntimeReport, HistorySignals, InstanceDowntime, TimelineStep, TimelineView};
pub use history::{
    HistoryWindow, ParetoBar, ParetoBy, ParetoReport, ResponseTimes, ResponseTimesReport,
};
pub use integrations::{PagerDutyReply, SlackReply};
pub use line::{ResumeAnswer, ResumeRequest};
pub(crate) use signals::AcceptedAnswer;
pub use signals::{NewSignal, SignalAccepted, SignalList};
