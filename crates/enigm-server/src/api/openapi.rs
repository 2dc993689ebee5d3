//! Keeps `docs/openapi.json` in step with the service: every endpoint in [`super::RESOURCES`]
//! is documented and every documented operation is served, every error code the service can
//! send is in the document's `ErrorCode` enum and nothing else is, and every `$ref` resolves.
//!
//! A failure names the route and the place to fix, e.g. "POST /v1/enroll is served
//! (crates/enigm-server/src/api/enroll.rs) but not documented: add `paths./v1/enroll.post` to
//! docs/openapi.json".

use std::collections::{BTreeMap, BTreeSet};

use enigm_core::trust::{Decision, Reason};
use serde_json::Value;

use super::{RESOURCES, Verb};
use crate::enrollment::EnrollmentRefusal;
use crate::error::{AuthFailure, LimitRefusal, ServerError, SyncKeyRefusal};

/// The document, read at compile time so that editing it rebuilds the tests.
const DOCUMENT: &str = include_str!("../../../../docs/openapi.json");

/// Where the document lives, for messages.
const DOCUMENT_PATH: &str = "docs/openapi.json";

/// The operation keys of an OpenAPI path item.
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT)
        .unwrap_or_else(|error| panic!("{DOCUMENT_PATH} is not JSON: {error}"))
}

fn method_key(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "get",
        Verb::Post => "post",
        Verb::Put => "put",
        Verb::Delete => "delete",
    }
}

/// The API's source files: (path relative to the repository root, text).
fn api_sources() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut sources: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            (format!("crates/enigm-server/src/api/{name}"), text)
        })
        .collect();
    sources.sort();
    sources
}

/// The file whose endpoint table names `path`.
fn defined_in(sources: &[(String, String)], path: &str) -> String {
    let literal = format!("path: \"{path}\"");
    sources
        .iter()
        .filter(|(_, text)| text.contains(&literal))
        .map(|(file, _)| file.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every (method, path) the service serves, with the file that defines it.
fn served() -> BTreeMap<(String, String), String> {
    let sources = api_sources();
    let mut served = BTreeMap::new();
    for endpoint in RESOURCES.iter().copied().flatten() {
        let key = (
            method_key(endpoint.verb).to_owned(),
            endpoint.path.to_owned(),
        );
        let previous = served.insert(key, defined_in(&sources, endpoint.path));
        assert!(
            previous.is_none(),
            "{} {} is listed twice in the endpoint tables",
            method_key(endpoint.verb).to_uppercase(),
            endpoint.path
        );
    }
    served
}

/// Every (method, path) the document describes.
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("{DOCUMENT_PATH} has no `paths` object"));
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("{DOCUMENT_PATH}: `paths.{path}` is not an object"));
        for method in item
            .keys()
            .filter(|key| HTTP_METHODS.contains(&key.as_str()))
        {
            documented.insert((method.clone(), path.clone()));
        }
    }
    documented
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let document = document();
    let served = served();
    let documented = documented(&document);
    let mut problems = Vec::new();
    for ((method, path), file) in &served {
        if !documented.contains(&(method.clone(), path.clone())) {
            problems.push(format!(
                "{} {path} is served ({file}) but not documented: add `paths.{path}.{method}` \
                 to {DOCUMENT_PATH}",
                method.to_uppercase()
            ));
        }
    }
    for (method, path) in &documented {
        if !served.contains_key(&(method.clone(), path.clone())) {
            problems.push(format!(
                "{DOCUMENT_PATH} documents {} {path} (`paths.{path}.{method}`) but no endpoint \
                 serves it: add it to the ENDPOINTS table of its resource in \
                 crates/enigm-server/src/api/ (and the table to RESOURCES in api/mod.rs), or \
                 remove it from the document",
                method.to_uppercase()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn routes_are_only_registered_through_the_endpoint_tables() {
    // A router built by hand (`.route`, `.merge`, `.nest`) would serve endpoints the tables,
    // and so the document's test, do not see.
    let mut problems = Vec::new();
    for (file, text) in api_sources() {
        if file.ends_with("/openapi.rs") {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let by_hand = [
                ".route(",
                ".route_service(",
                ".merge(",
                ".nest(",
                ".nest_service(",
            ]
            .iter()
            .any(|call| code.contains(call));
            let the_table_loop =
                file.ends_with("/mod.rs") && code.contains(".route(endpoint.path,");
            if by_hand && !the_table_loop {
                problems.push(format!(
                    "{file}:{}: `{}` registers a route by hand: list it as an `Endpoint` in \
                     the file's ENDPOINTS table (added to RESOURCES in api/mod.rs) and document \
                     it in {DOCUMENT_PATH}",
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// One of each error the service can send. The match below has no wildcard, so a new variant
/// does not compile until it is added here (and its code to the document).
fn every_error() -> Vec<ServerError> {
    let core = || enigm_core::Error::InvalidSessionId;
    let errors = vec![
        ServerError::Malformed(String::new()),
        ServerError::PayloadTooLarge,
        ServerError::InvalidUsername(core()),
        ServerError::InvalidLedger(core()),
        ServerError::InvalidCredentials,
        ServerError::LoginExpired,
        ServerError::RecoveryExpired,
        ServerError::RegistrationExpired,
        ServerError::RecoveryRefused,
        ServerError::UsernameTaken,
        ServerError::Refused(Decision::from_reasons(vec![Reason::DeviceRevoked])),
        ServerError::Refused(Decision::from_reasons(vec![Reason::StepUpRequired])),
        ServerError::DeviceRemoved {
            replaced: false,
            entry: String::new(),
        },
        ServerError::DeviceRemoved {
            replaced: true,
            entry: String::new(),
        },
        ServerError::LedgerConflict {
            seq: 0,
            hash: String::new(),
        },
        ServerError::RateLimited { retry_after: 1 },
        ServerError::NotFound,
        ServerError::Timeout,
        ServerError::Config(String::new()),
        ServerError::DataDir(String::new()),
        ServerError::Storage(String::new()),
        ServerError::Unavailable(String::new()),
        ServerError::Internal(String::new()),
        ServerError::Enrollment(EnrollmentRefusal::OutOfOrder),
        ServerError::Enrollment(EnrollmentRefusal::Conflict),
        ServerError::Enrollment(EnrollmentRefusal::Closed(enigm_proto::Stage::Expired)),
        ServerError::Enrollment(EnrollmentRefusal::WrongParty),
        ServerError::Enrollment(EnrollmentRefusal::LimitReached { max: 5 }),
        ServerError::Enrollment(EnrollmentRefusal::AlreadyOpen { id: String::new() }),
        ServerError::Enrollment(EnrollmentRefusal::NotInLedger),
        ServerError::Enrollment(EnrollmentRefusal::SelfReplacement),
        ServerError::SyncKey(SyncKeyRefusal::EpochConflict { current: 1 }),
        ServerError::SyncKey(SyncKeyRefusal::CopiesMismatch),
        ServerError::SyncKey(SyncKeyRefusal::StaleEpoch { current: 1 }),
        ServerError::SyncKey(SyncKeyRefusal::NoSyncKey),
        ServerError::Limit(LimitRefusal::PushSockets { max: 4 }),
        ServerError::Limit(LimitRefusal::SyncKeyRotations { retry_after: 1 }),
        ServerError::Limit(LimitRefusal::LedgerFull { max: 1 }),
    ];
    let failures = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::UnknownSession,
        AuthFailure::SessionExpired,
        AuthFailure::SessionBeforeRecovery,
        AuthFailure::BadSignature,
        AuthFailure::StaleTimestamp,
        AuthFailure::Replayed,
    ];
    for failure in failures {
        match failure {
            AuthFailure::Missing
            | AuthFailure::Malformed
            | AuthFailure::UnknownSession
            | AuthFailure::SessionExpired
            | AuthFailure::SessionBeforeRecovery
            | AuthFailure::BadSignature
            | AuthFailure::StaleTimestamp
            | AuthFailure::Replayed => {}
        }
    }
    for error in &errors {
        match error {
            ServerError::Malformed(_)
            | ServerError::PayloadTooLarge
            | ServerError::InvalidUsername(_)
            | ServerError::InvalidLedger(_)
            | ServerError::InvalidCredentials
            | ServerError::LoginExpired
            | ServerError::RecoveryExpired
            | ServerError::RegistrationExpired
            | ServerError::RecoveryRefused
            | ServerError::UsernameTaken
            | ServerError::Unauthenticated(_)
            | ServerError::Refused(_)
            | ServerError::DeviceRemoved { .. }
            | ServerError::LedgerConflict { .. }
            | ServerError::RateLimited { .. }
            | ServerError::NotFound
            | ServerError::Timeout
            | ServerError::Config(_)
            | ServerError::DataDir(_)
            | ServerError::Storage(_)
            | ServerError::Unavailable(_)
            | ServerError::Enrollment(_)
            | ServerError::SyncKey(_)
            | ServerError::Limit(_)
            | ServerError::Internal(_) => {}
        }
    }
    errors
        .into_iter()
        .chain(failures.into_iter().map(ServerError::Unauthenticated))
        .collect()
}

#[test]
fn every_error_code_is_in_the_documents_enum() {
    let document = document();
    let listed: BTreeSet<String> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap_or_else(|| {
            panic!("{DOCUMENT_PATH} has no `components.schemas.ErrorCode.enum` array")
        })
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    let sent: BTreeSet<String> = every_error()
        .iter()
        .map(|error| error.code().as_str().to_owned())
        .collect();
    let known: BTreeSet<String> = enigm_proto::ErrorCode::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect();
    assert_eq!(
        sent, known,
        "enigm_proto::ErrorCode must list exactly the codes the service sends"
    );
    let mut problems = Vec::new();
    for code in sent.difference(&listed) {
        problems.push(format!(
            "the service sends error code `{code}`: add it to \
             `components.schemas.ErrorCode.enum` in {DOCUMENT_PATH}"
        ));
    }
    for code in listed.difference(&sent) {
        problems.push(format!(
            "{DOCUMENT_PATH} lists error code `{code}` in `components.schemas.ErrorCode.enum` \
             but no ServerError produces it (crates/enigm-server/src/error.rs)"
        ));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Every `$ref` in `value`, with where it is.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref"
                    && let Some(target) = child.as_str()
                {
                    found.push((at.to_owned(), target.to_owned()));
                }
                references(child, &format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                references(child, &format!("{at}/{index}"), found);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

#[test]
fn the_document_is_openapi_3_1_and_self_consistent() {
    let document = document();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1.")),
        "{DOCUMENT_PATH} must declare `openapi: 3.1.x`"
    );
    let mut problems = Vec::new();
    let mut found = Vec::new();
    references(&document, "", &mut found);
    for (at, target) in found {
        let resolved = target
            .strip_prefix('#')
            .and_then(|pointer| document.pointer(pointer));
        if resolved.is_none() {
            problems.push(format!(
                "{DOCUMENT_PATH}: `$ref` {target} at {at} does not resolve"
            ));
        }
    }
    let mut operation_ids = BTreeSet::new();
    for (method, path) in documented(&document) {
        let operation = &document["paths"][&path][&method];
        let where_ = format!("`paths.{path}.{method}`");
        match operation["operationId"].as_str() {
            Some(id) if operation_ids.insert(id.to_owned()) => {}
            Some(id) => problems.push(format!("{where_}: operationId `{id}` is used twice")),
            None => problems.push(format!("{where_} has no operationId")),
        }
        if operation["responses"]
            .as_object()
            .is_none_or(|r| r.is_empty())
        {
            problems.push(format!("{where_} has no responses"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
