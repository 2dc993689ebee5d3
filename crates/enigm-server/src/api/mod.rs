//! The HTTP API: one router per resource, merged in [`api_router`], with the limits every
//! request shares (body size, time) and one error shape for everything, including the
//! rejections axum and tower produce themselves (404, 405, 413, 408).

mod accounts;
mod audit;
mod enrollments;
mod health;
mod json;
mod ledger;
mod push;
mod sessions;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::ServerError;
use crate::state::AppState;

pub(crate) use json::{decode_b64, encode_b64, parse_json};

/// Every route of the service, with its shared layers.
pub(crate) fn api_router(state: AppState) -> Router {
    let max_body = state.config().max_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(accounts::router())
        .merge(sessions::router())
        .merge(ledger::router())
        .merge(push::router())
        .merge(audit::router())
        .merge(enrollments::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn(normalize_errors))
        .with_state(state)
}

/// Refuses the attempt if any counter is in its backoff; otherwise counts it on every counter
/// (it stays counted until a success resets the counter, or it decays).
pub(crate) async fn throttle(
    state: &AppState,
    counters: &[(&str, crate::storage::Backoff)],
) -> Result<(), ServerError> {
    let now = state.now();
    for (key, _) in counters {
        if let Some(limit) = state.storage().rate_limit(key).await?
            && limit.blocked_until > now
        {
            return Err(ServerError::RateLimited {
                retry_after: limit.blocked_until - now,
            });
        }
    }
    for (key, backoff) in counters {
        state.storage().record_failure(key, now, *backoff).await?;
    }
    Ok(())
}

async fn not_found() -> ServerError {
    ServerError::NotFound
}

/// Ends a request that takes longer than the configured limit.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.config().request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ServerError::Timeout.into_response(),
    }
}

/// Gives the rejections produced outside our handlers (body limit, unknown method, extractor
/// rejections) the same `{"error":{"code","message"}}` shape as our own errors.
async fn normalize_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || response.status().is_success() {
        return response;
    }
    let error = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ServerError::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ServerError::Timeout,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ServerError::NotFound,
        StatusCode::BAD_REQUEST
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => {
            ServerError::Malformed("the request does not match what this endpoint accepts".into())
        }
        _ => return response,
    };
    error.into_response()
}
