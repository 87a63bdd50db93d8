//! The checks a write endpoint makes before its handler's work: the bearer token, and a body
//! read whole within its size and time limits.

use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use subtle::ConstantTimeEq;

use super::Ctx;
use crate::request::{ApiError, MAX_BODY_BYTES};

pub(crate) fn authorize(state: &Ctx, headers: &HeaderMap) -> Result<(), ApiError> {
    if !state.token_required {
        return Ok(());
    }
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this agent requires a bearer token on write endpoints: send `Authorization: Bearer <token>` (andon --token, or ANDON_TOKEN)",
        )
    };
    let Some(token) = &state.token else {
        return Err(missing());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(missing)?;
    if bool::from(given.trim().as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is wrong: use the token of this agent's [agent] token",
        ))
    }
}

/// Reads a request body whole: at most [`MAX_BODY_BYTES`], within the body timeout. A body
/// that has not arrived in time is answered 408 and its connection closed.
pub(crate) async fn body(state: &Ctx, body: Body) -> Result<Bytes, ApiError> {
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
    match tokio::time::timeout(state.limits.body_timeout(), read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes, or was cut off: send a smaller one"
            ),
        )),
        Err(_) => {
            state
                .connections
                .body_timeouts
                .fetch_add(1, Ordering::Relaxed);
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive whole within {}s: send it at once",
                    state.limits.body_timeout().as_secs_f64()
                ),
            )
            .closing())
        }
    }
}
