//! The route table: every endpoint and its handler, behind the edge rules.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::assets::{board_css, board_js, board_page};
use super::handlers::{
    ack_alert, get_alerts, get_board, get_diagnostics, get_line, get_signals, healthz,
    method_not_allowed, metrics, not_found, post_signal, readyz, resume_line,
};
use super::{Agent, Ctx};
use crate::edge::{self, Edge};
use crate::events;
use crate::request::MAX_BODY_BYTES;

impl Agent {
    /// The routes: the API under `/v1` (with `/v1/history/...`), `/v1/events`, `/metrics`,
    /// `/healthz`, `/readyz` and the board at `/`, behind the edge rules (`Host`, write
    /// origin and content type, security headers) for the configured `listen` address.
    pub fn router(&self) -> Router {
        self.app(None)
    }

    pub(super) fn app(&self, bound: Option<SocketAddr>) -> Router {
        let ctx = Ctx {
            state: Arc::clone(&self.state),
            limits: self.limits,
            token_required: self.token_required,
        };
        let config = &self.state.system.config().agent;
        let edge = Arc::new(Edge {
            bound: bound.or_else(|| config.listen.parse().ok()),
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            token_configured: self.state.token.is_some(),
        });
        let router = Router::new()
            .route("/", get(board_page))
            .route("/board.css", get(board_css))
            .route("/board.js", get(board_js))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/v1/signals", post(post_signal).get(get_signals))
            .route("/v1/board", get(get_board))
            .route("/v1/line", get(get_line))
            .route("/v1/line/resume", post(resume_line))
            .route("/v1/alerts", get(get_alerts))
            .route("/v1/alerts/{fingerprint}/ack", post(ack_alert))
            .route("/v1/diagnostics", get(get_diagnostics))
            .route("/v1/heartbeats", get(crate::heartbeats::list))
            .route("/v1/heartbeats/{name}", post(crate::heartbeats::check_in))
            .route("/v1/events", get(events::events))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(ctx);
        // The history's analyses, `GET /v1/history/...` (see the history module).
        #[cfg(feature = "full")]
        let router = router.merge(crate::history::router(self.state.system.clone()));
        // The fleet's line states, `GET /v1/fleet` and the Fleet view (see the fleet module).
        #[cfg(feature = "full")]
        let router = router.merge(crate::fleet::router(
            self.state.system.clone(),
            crate::fleet::board_url(&self.state.system, bound),
        ));
        // PagerDuty's and Slack's webhooks, verified by signature (see the integrations module).
        let router = router.merge(crate::integrations::router(Arc::clone(&self.state)));
        router.layer(axum::middleware::from_fn_with_state(edge, edge::guard))
    }
}
