//! The OpenAPI 3.1 document, generated: the paths from the endpoint tables ([`super::Doc`] on
//! every [`super::Endpoint`]), the bodies' schemas from enigm-proto's types. Served at
//! `GET /v1/openapi.json` and committed as `docs/openapi.json`, which a test keeps equal to
//! what this module builds (`UPDATE_OPENAPI=1 cargo test -p enigm-server openapi` rewrites it;
//! `cargo xtask openapi` runs that).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::on;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::{Body, Doc, Endpoint, Query, RESOURCES, Reply, Verb, add_schema};

/// The document endpoint.
pub(super) const ENDPOINTS: &[Endpoint] = &[Endpoint {
    verb: Verb::Get,
    path: "/v1/openapi.json",
    handler: |filter| on(filter, serve),
    doc: Doc {
        id: "openApi",
        summary: "This document.",
        signed: false,
        query: &[],
        request: None,
        reply: Reply::Json {
            statuses: &[(200, "The OpenAPI 3.1 document of this service.")],
            body: None,
        },
        errors: &[],
    },
}];

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&document()).unwrap_or_else(|_| "{}".to_owned()) + "\n"
});

async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_text(),
    )
}

/// The generated document, as committed in `docs/openapi.json`.
fn document_text() -> &'static str {
    DOCUMENT.as_str()
}

/// The error responses an operation may list, by status: a component each.
const ERROR_RESPONSES: &[(u16, &str, &str)] = &[
    (
        400,
        "Malformed",
        "`malformed_request`, `invalid_username` or `invalid_ledger_entry`: the request is not \
         what the endpoint accepts; nothing changed.",
    ),
    (
        401,
        "Unauthenticated",
        "`invalid_credentials`, `login_expired`, `registration_expired`, `recovery_expired` or \
         an authorization failure (`missing_authorization`, `malformed_authorization`, \
         `unknown_session`, `session_expired`, `session_before_recovery`, `bad_signature`, \
         `stale_timestamp`, `replayed`).",
    ),
    (
        403,
        "Refused",
        "`trust_denied` or `step_up_required` (with `reasons`); `device_removed` or \
         `device_replaced` (with `entry`, the ledger entry that removed the device); \
         `recovery_refused`; `enrollment_wrong_party` or `enrollment_self_replacement`.",
    ),
    (
        404,
        "NotFound",
        "`not_found`: no such resource (or, for a removal read, this device was not removed).",
    ),
    (
        408,
        "Timeout",
        "`timeout`: the request took longer than the service allows.",
    ),
    (
        409,
        "Conflict",
        "`username_taken`; `ledger_conflict` (with the current `head`) or `ledger_full` (with \
         `max`); an enrollment step refused by the relay (`enrollment_out_of_order`, \
         `enrollment_conflict`, `enrollment_closed` with `state`, `enrollment_limit_reached` \
         with `max`, `enrollment_already_open` with `id`, `enrollment_not_in_ledger`); a sync \
         key conflict (`sync_epoch_conflict` or `stale_sync_epoch` with `epoch`, \
         `sync_key_copies_mismatch`, `no_sync_key`). Nothing changed.",
    ),
    (
        413,
        "PayloadTooLarge",
        "`payload_too_large`: the body exceeds the service's limit (64 KiB by default).",
    ),
    (
        429,
        "RateLimited",
        "`rate_limited` or `too_many_sync_key_rotations`, with `retry_after` seconds (also the \
         `Retry-After` header); `too_many_push_sockets` with `max`.",
    ),
    (
        500,
        "Internal",
        "`internal`: a failure on the service's side; the message says nothing more.",
    ),
    (
        503,
        "Unavailable",
        "`service_unavailable`: the database cannot be reached or did not answer in time; retry \
         after `retry_after` seconds (also the `Retry-After` header). The cause is never sent.",
    ),
];

/// The description of the API as a whole.
const DESCRIPTION: &str = "The HTTP API of `enigm server` (DESIGN.md §3-§6, §13-§14). Bytes \
     travel as unpadded base64url, hashes and ids as lower-case hex. Every error is \
     `{\"error\":{\"code\",\"message\",...}}` with a stable `code` (see `ErrorCode`); messages \
     never echo input. Protected endpoints take a signed request (`EnigmSignature`). Generated \
     from the service's endpoint tables and enigm-proto's types \
     (crates/enigm-server/src/api/openapi.rs); a method a path does not serve is answered 405.";

/// How a signed request is signed.
const SIGNATURE: &str = "`Authorization: Enigm session=<b64url>, ts=<u64>, nonce=<b64url>, \
     sig=<b64url>`: the device key's Ed25519 signature over `\"enigm/request/v1\" || \
     u64_be(len(method)) || method || u64_be(len(path)) || path-with-query || SHA-256(body) || \
     u64_be(ts) || nonce || session` (enigm_core::request). The timestamp must be within 60 s \
     of the service's clock and each nonce is accepted once per session.";

/// Builds the document.
fn document() -> Value {
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for (tag, endpoints) in RESOURCES {
        for endpoint in *endpoints {
            let operation = operation(tag, endpoint, &mut schemas);
            paths
                .entry(endpoint.path)
                .or_default()
                .insert(method(endpoint.verb).to_owned(), operation);
        }
    }
    add_schema::<enigm_proto::ErrorEnvelope>(&mut schemas);
    add_schema::<enigm_proto::PushEvent>(&mut schemas);
    let mut components = Map::new();
    for (name, schema) in schemas {
        components.insert(name, to_value(&schema));
    }
    let responses: Map<String, Value> = ERROR_RESPONSES
        .iter()
        .map(|(_, name, description)| ((*name).to_owned(), error_response(description)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Enigm service API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
            "license": { "name": "AGPL-3.0-only", "identifier": "AGPL-3.0-only" },
        },
        "servers": [{
            "url": "http://127.0.0.1:8080",
            "description": "`enigm server` default listen address",
        }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "EnigmSignature": { "type": "http", "scheme": "Enigm", "description": SIGNATURE },
            },
            "responses": responses,
            "schemas": components,
        },
    })
}

/// One operation.
fn operation(tag: &str, endpoint: &Endpoint, schemas: &mut Vec<(String, RefOr<Schema>)>) -> Value {
    let doc = &endpoint.doc;
    let mut operation = json!({
        "tags": [tag],
        "operationId": doc.id,
        "summary": doc.summary,
    });
    if doc.signed {
        operation["security"] = json!([{ "EnigmSignature": [] }]);
    }
    let mut parameters: Vec<Value> = path_parameters(endpoint.path);
    parameters.extend(doc.query.iter().map(query_parameter));
    let mut responses = Map::new();
    match &doc.reply {
        Reply::Json { statuses, body } => {
            let content = body.as_ref().map(|body| content(body, schemas));
            for (status, description) in *statuses {
                let mut response = json!({ "description": description });
                if let Some(content) = &content {
                    response["content"] = content.clone();
                }
                responses.insert(status.to_string(), response);
            }
        }
        Reply::Upgrade => {
            parameters.extend([
                header_parameter("Connection", json!({ "const": "Upgrade" })),
                header_parameter("Upgrade", json!({ "const": "websocket" })),
                header_parameter("Sec-WebSocket-Key", json!({ "type": "string" })),
                header_parameter("Sec-WebSocket-Version", json!({ "const": "13" })),
            ]);
            responses.insert(
                "101".to_owned(),
                json!({
                    "description": "Switched to WebSocket; frames are `PushEvent`s.",
                    "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/PushEvent" },
                    } },
                }),
            );
        }
    }
    for status in doc.errors {
        let name = ERROR_RESPONSES
            .iter()
            .find(|(code, _, _)| code == status)
            .map_or("Internal", |(_, name, _)| name);
        responses.insert(
            status.to_string(),
            json!({ "$ref": format!("#/components/responses/{name}") }),
        );
    }
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = &doc.request {
        operation["requestBody"] = json!({ "required": true, "content": content(body, schemas) });
    }
    operation["responses"] = Value::Object(responses);
    operation
}

/// `application/json` content of `body`'s schema, collecting the schemas it refers to.
fn content(body: &Body, schemas: &mut Vec<(String, RefOr<Schema>)>) -> Value {
    let name = (body.name)();
    (body.schemas)(schemas);
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
}

/// The path's `{id}` and `{name}` parameters.
fn path_parameters(path: &str) -> Vec<Value> {
    let mut parameters = Vec::new();
    if path.contains("{id}") {
        parameters.push(json!({
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The request id (32 hex digits).",
            "schema": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
        }));
    }
    if path.contains("{name}") {
        parameters.push(json!({
            "name": "name",
            "in": "path",
            "required": true,
            "description": "The item's name: `label.` and the id of a device the account's \
                            ledger knows.",
            "schema": { "type": "string", "pattern": "^label\\.[0-9a-f]{32}$" },
        }));
    }
    parameters
}

fn query_parameter(query: &Query) -> Value {
    json!({
        "name": query.name,
        "in": "query",
        "required": false,
        "description": query.description,
        "schema": { "type": "integer", "format": "int64", "minimum": 0 },
    })
}

fn header_parameter(name: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "header", "required": true, "schema": schema })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/ErrorEnvelope" },
        } },
    })
}

fn method(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "get",
        Verb::Post => "post",
        Verb::Put => "put",
        Verb::Delete => "delete",
    }
}

fn to_value(schema: &RefOr<Schema>) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed copy is what the service serves; a change to a type or a table that is
    /// not committed with its document fails here.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, document_text()).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == document_text(),
            "docs/openapi.json is stale: run `cargo xtask openapi`"
        );
    }
}
