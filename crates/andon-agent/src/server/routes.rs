//! The route table: every endpoint and its handler, behind the edge rules; and [`Routes`], the
//! builder every part of the table is made with, which writes down the paths it serves (so a
//! test can hold `docs/openapi.yaml` to them).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};

use super::assets::{board_css, board_js, board_page};
use super::handlers::{
    ack_alert, get_alerts, get_board, get_diagnostics, get_line, get_signals, healthz,
    method_not_allowed, metrics, not_found, post_signal, readyz, resume_line,
};
use super::{Agent, Ctx};
use crate::edge::Edge;
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
        self.served(bound).router
    }

    /// The router for a listener bound at `bound`, with the paths it serves.
    pub(crate) fn served(&self, bound: Option<SocketAddr>) -> Served {
        let ctx = Ctx {
            state: Arc::clone(&self.state),
            limits: self.limits,
            token_required: self.token_required,
        };
        let config = &self.state.system.config().agent;
        let edge = Edge {
            bound: bound.or_else(|| config.listen.parse().ok()),
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            token_configured: self.state.token.is_some(),
        };
        // The table: one row per path, grouped by resource (each group's types are in `api/`).
        let served = Routes::from_table([
            // The board's page and files.
            ("/", get(board_page)),
            ("/board.css", get(board_css)),
            ("/board.js", get(board_js)),
            // The probes and the metrics.
            ("/healthz", get(healthz)),
            ("/readyz", get(readyz)),
            ("/metrics", get(metrics)),
            // Signals, the board's data and the line.
            ("/v1/signals", post(post_signal).get(get_signals)),
            ("/v1/board", get(get_board)),
            ("/v1/line", get(get_line)),
            ("/v1/line/resume", post(resume_line)),
            // Alerts and diagnostics.
            ("/v1/alerts", get(get_alerts)),
            ("/v1/alerts/{fingerprint}/ack", post(ack_alert)),
            ("/v1/diagnostics", get(get_diagnostics)),
            // Heartbeats and the event stream.
            ("/v1/heartbeats", get(crate::heartbeats::list)),
            ("/v1/heartbeats/{name}", post(crate::heartbeats::check_in)),
            ("/v1/events", get(events::events)),
        ])
        .map(|router| {
            router
                .fallback(not_found)
                .method_not_allowed_fallback(method_not_allowed)
        })
        .with_state(ctx);
        // The history's analyses, `GET /v1/history/...` (see the history module).
        #[cfg(feature = "full")]
        let served = served.merge(crate::history::router(self.state.system.clone()));
        // The fleet's line states, `GET /v1/fleet` and the Fleet view (see the fleet module).
        #[cfg(feature = "full")]
        let served = served.merge(crate::fleet::router(
            self.state.system.clone(),
            crate::fleet::board_url(&self.state.system, bound),
        ));
        // PagerDuty's and Slack's webhooks, verified by signature (see the integrations module).
        let served = served.merge(crate::integrations::router(Arc::clone(&self.state)));
        // The edge rules and the body limit around every route as one layer: one service per
        // route rather than one per rule. The webhooks' own limit is set inside it, and wins.
        let outer = tower::ServiceBuilder::new()
            .layer(edge.layer())
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        served.map(|router| router.layer(outer))
    }
}

/// A router being built over state `S`, with the paths it serves written down.
pub(crate) struct Routes<S> {
    router: Router<S>,
    paths: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub(crate) fn new() -> Self {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    /// A router serving each `(path, methods)` row of `table`.
    pub(crate) fn from_table(
        table: impl IntoIterator<Item = (&'static str, MethodRouter<S>)>,
    ) -> Self {
        table
            .into_iter()
            .fold(Self::new(), |routes, (path, methods)| {
                routes.route(path, methods)
            })
    }

    /// Serves `path` with `methods`.
    pub(crate) fn route(mut self, path: &'static str, methods: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }

    /// The same routes with the router changed by `f` (fallbacks, layers), no path added.
    pub(crate) fn map(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = f(self.router);
        self
    }

    /// The finished router, its handlers given `state`.
    pub(crate) fn with_state(self, state: S) -> Served {
        Served {
            router: self.router.with_state(state),
            paths: self.paths,
        }
    }
}

/// A finished router and the paths it serves.
pub(crate) struct Served {
    pub(crate) router: Router,
    pub(crate) paths: Vec<&'static str>,
}

impl Served {
    /// Both routers as one.
    pub(crate) fn merge(mut self, other: Served) -> Served {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// The same routes with the router changed by `f` (a layer over all of them).
    pub(crate) fn map(mut self, f: impl FnOnce(Router) -> Router) -> Served {
        self.router = f(self.router);
        self
    }
}
