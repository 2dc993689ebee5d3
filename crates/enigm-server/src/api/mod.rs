//! The HTTP API: one table of endpoints per resource, listed in [`RESOURCES`] and turned into
//! one router by [`api_router`], with the limits every request shares (body size, time) and one
//! error shape for everything, including the rejections axum and tower produce themselves (404,
//! 405, 413, 408).
//!
//! The tables are data so that the router cannot serve an endpoint the tables do not list:
//! `docs/openapi.json` is tested against them both ways (the `openapi` tests below).

mod accounts;
mod audit;
mod devices;
mod enrollments;
mod health;
mod json;
mod ledger;
mod openapi;
#[cfg(test)]
mod openapi_checks;
mod password;
mod push;
mod recovery;
mod sessions;
mod signed_in;
mod sync_keys;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::ServerError;
use crate::state::AppState;

pub(crate) use json::{decode_b64, encode_b64, parse_json};

/// Every resource of the service with its OpenAPI tag. A new resource adds its table here; the
/// document is generated from the tables.
const RESOURCES: &[(&str, &[Endpoint])] = &[
    ("health", health::ENDPOINTS),
    ("health", openapi::ENDPOINTS),
    ("accounts", accounts::ENDPOINTS),
    ("accounts", password::ENDPOINTS),
    ("sessions", sessions::ENDPOINTS),
    ("sessions", signed_in::ENDPOINTS),
    ("ledger", ledger::ENDPOINTS),
    ("push", push::ENDPOINTS),
    ("audit", audit::ENDPOINTS),
    ("enrollments", enrollments::ENDPOINTS),
    ("recovery", recovery::ENDPOINTS),
    ("sync", sync_keys::ENDPOINTS),
    ("devices", devices::ENDPOINTS),
];

/// One endpoint: a method on a path (axum and OpenAPI share the `{param}` syntax), the
/// handler, given the method filter so the method is named once, in [`Endpoint::verb`], and
/// what the document says of it.
pub(crate) struct Endpoint {
    /// The method.
    pub(crate) verb: Verb,
    /// The path.
    pub(crate) path: &'static str,
    /// Builds the handler's method router for [`Endpoint::verb`]'s filter.
    pub(crate) handler: fn(MethodFilter) -> MethodRouter<AppState>,
    /// Its entry in the OpenAPI document.
    pub(crate) doc: Doc,
}

/// An operation as the OpenAPI document describes it; the schemas come from the body types.
pub(crate) struct Doc {
    /// The `operationId`.
    pub(crate) id: &'static str,
    /// One or two sentences.
    pub(crate) summary: &'static str,
    /// Whether the request must be signed by a session's device key.
    pub(crate) signed: bool,
    /// The query parameters (all optional integers).
    pub(crate) query: &'static [Query],
    /// The request body, if any.
    pub(crate) request: Option<Body>,
    /// The success reply.
    pub(crate) reply: Reply,
    /// The error statuses it may answer, each a response component.
    pub(crate) errors: &'static [u16],
}

/// An optional integer query parameter.
pub(crate) struct Query {
    /// Its name.
    pub(crate) name: &'static str,
    /// What it selects.
    pub(crate) description: &'static str,
}

/// `since`, of the paged reads (ledger, audit records).
pub(crate) const SINCE: Query = Query {
    name: "since",
    description: "Return records with `seq >= since` (default 0). The only query parameter \
                  accepted, given at most once.",
};

/// A JSON body: an enigm-proto type's schema name and the schemas it needs.
pub(crate) struct Body {
    /// The component name.
    pub(crate) name: fn() -> std::borrow::Cow<'static, str>,
    /// Adds the type's schema and those it refers to.
    pub(crate) schemas: fn(
        &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ),
}

/// The body of type `T`.
pub(crate) const fn body<T: utoipa::ToSchema>() -> Body {
    Body {
        name: T::name,
        schemas: add_schema::<T>,
    }
}

fn add_schema<T: utoipa::ToSchema>(
    schemas: &mut Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
) {
    T::schemas(schemas);
    schemas.push((T::name().into_owned(), T::schema()));
}

/// A success reply.
pub(crate) enum Reply {
    /// JSON with these statuses and descriptions (no body: `204` and the like).
    Json {
        /// Status and description of each success.
        statuses: &'static [(u16, &'static str)],
        /// The body, if any.
        body: Option<Body>,
    },
    /// A WebSocket upgrade whose frames are push events.
    Upgrade,
}

/// The methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The axum method filter.
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// Every endpoint of the service, with its shared layers.
pub(crate) fn api_router(state: AppState) -> Router {
    let max_body = state.config().max_body_bytes;
    let mut router = Router::new();
    for endpoint in RESOURCES.iter().flat_map(|(_, endpoints)| endpoints.iter()) {
        // Endpoints sharing a path merge into one method router.
        router = router.route(endpoint.path, (endpoint.handler)(endpoint.verb.filter()));
    }
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn(normalize_errors))
        .with_state(state)
}

/// Spends one attempt from the counter `key`: refused (429, nothing counted) while it waits,
/// otherwise counted in the same atomic step, so a burst of concurrent attempts cannot
/// overdraw it. Returns whether this attempt started a wait, which happens once per block
/// window: the moment worth an audit record, rather than every refused attempt.
pub(crate) async fn throttle(
    state: &AppState,
    key: &str,
    backoff: crate::storage::Backoff,
) -> Result<bool, ServerError> {
    let now = state.now();
    match state.storage().consume_attempt(key, now, backoff).await? {
        crate::storage::Attempt::Refused(limit) => Err(ServerError::RateLimited {
            retry_after: limit.blocked_until - now,
        }),
        attempt @ crate::storage::Attempt::Counted(_) => Ok(attempt.started_wait(now)),
    }
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
        StatusCode::NOT_FOUND => ServerError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ServerError::MethodNotAllowed,
        StatusCode::BAD_REQUEST
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::UNPROCESSABLE_ENTITY => {
            ServerError::Malformed("the request does not match what this endpoint accepts".into())
        }
        _ => return response,
    };
    error.into_response()
}
