//! The Andon board's page, style sheet and script, built into the binary.

use axum::http::header;
use axum::response::{Html, IntoResponse};

const BOARD_HTML: &str = include_str!("../../assets/board.html");
const BOARD_CSS: &str = include_str!("../../assets/board.css");
const BOARD_JS: &str = include_str!("../../assets/board.js");

pub(super) async fn board_page() -> Html<&'static str> {
    Html(BOARD_HTML)
}

pub(super) async fn board_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        BOARD_CSS,
    )
}

pub(super) async fn board_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        BOARD_JS,
    )
}
