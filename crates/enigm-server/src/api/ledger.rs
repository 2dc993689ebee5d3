//! The device ledger (DESIGN §4): read it, append to it.
//!
//! `GET /v1/ledger?since=N` -> `{entries: [b64url…], head: {seq, hash}, more}`: the entries with
//! `seq >= N` (default 0), at most [`PAGE`] of them; `more` says a further page exists. An
//! enrollment-restricted session may read it too: a device enrolling as a replacement verifies
//! the ledger itself to resolve and check the device it names before asking (the ledger holds
//! public keys and states only; labels stay sealed under the sync key).
//!
//! `GET /v1/ledger/removal?since=N` is the same page for a removed device, which the service
//! refuses everything else, but only up to the entry that removed it (that entry is its head):
//! the device verifies its removal from the ledger itself before it erases its keys
//! (DESIGN §14). A device that was not removed gets 404 `not_found`.
//!
//! `POST /v1/ledger` `{entries: [b64url…]}` appends entries that extend the current head. Each
//! is decoded strictly and applied with `LedgerState::apply` (signatures, signer rules,
//! lifecycle); the append then runs as a compare-and-swap on the head, in one transaction with
//! the state it implies (sessions of revoked, replaced or retired devices end; a recovery moves
//! the epoch). Entries that do not extend the current head, or an append that loses a race,
//! get 409 `ledger_conflict` with the current head. An append that would take the ledger past
//! `Config::max_ledger_entries` (10,000 by default) gets 409 `ledger_full` with that `max`:
//! every request verifies against the ledger, so no account may grow it without bound.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::ledger::{EntryKind, LedgerEntry, MAX_ENTRY_LEN};
use enigm_core::trust::Operation;
use enigm_proto::{Append, AppendReply, Head, LedgerPage};

use super::sessions::natural_operation;
use super::{Doc, Endpoint, Reply, SINCE, Verb, body, decode_b64, encode_b64, parse_json};
use crate::audit::entry_code;
use crate::auth::Authenticated;
use crate::error::{LimitRefusal, ServerError};
use crate::state::AppState;
use crate::storage::{AppendOutcome, LedgerEffects, StoredEntry, StoredHead};

/// Entries per `GET` page.
const PAGE: usize = 500;

/// Entries per append.
const MAX_APPEND: usize = 16;

/// The ledger endpoints.
pub(super) const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        verb: Verb::Get,
        path: "/v1/ledger",
        handler: |filter| on(filter, read),
        doc: Doc {
            id: "readLedger",
            summary: "The account's ledger entries from `since`, 500 per page.",
            signed: true,
            query: &[SINCE],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "A page of entries.")],
                body: Some(body::<LedgerPage>()),
            },
            errors: &[400, 401, 403, 408, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Post,
        path: "/v1/ledger",
        handler: |filter| on(filter, append),
        doc: Doc {
            id: "appendLedger",
            summary: "Appends 1 to 16 entries that extend the current head (compare-and-swap, one transaction with its effects).",
            signed: true,
            query: &[],
            request: Some(body::<Append>()),
            reply: Reply::Json {
                statuses: &[(201, "Appended; the new head.")],
                body: Some(body::<AppendReply>()),
            },
            errors: &[400, 401, 403, 408, 409, 413, 500, 503],
        },
    },
    Endpoint {
        verb: Verb::Get,
        path: "/v1/ledger/removal",
        handler: |filter| on(filter, read_removal),
        doc: Doc {
            id: "readLedgerToRemoval",
            summary: "A removed device's read of the ledger from `since`, up to the entry that removed it, 500 per page.",
            signed: true,
            query: &[SINCE],
            request: None,
            reply: Reply::Json {
                statuses: &[(200, "A page of entries.")],
                body: Some(body::<LedgerPage>()),
            },
            errors: &[400, 401, 403, 404, 408, 413, 500, 503],
        },
    },
];

/// The `GET` query.
struct ReadQuery {
    since: u64,
}

fn head_json(head: StoredHead) -> Head {
    Head {
        seq: head.seq,
        hash: hex::encode(head.hash),
    }
}

fn conflict(head: StoredHead) -> ServerError {
    ServerError::LedgerConflict {
        seq: head.seq,
        hash: hex::encode(head.hash),
    }
}

/// Parses the query string strictly (unknown parameters are refused).
fn parse_query(query: Option<&str>) -> Result<ReadQuery, ServerError> {
    let mut since = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("since", value)) if since.is_none() => {
                since = Some(value.parse::<u64>().map_err(|_| {
                    ServerError::Malformed("`since` must be a non-negative integer".into())
                })?);
            }
            Some(_) | None => {
                return Err(ServerError::Malformed(
                    "the only query parameter is `since`, given once".into(),
                ));
            }
        }
    }
    Ok(ReadQuery {
        since: since.unwrap_or_default(),
    })
}

async fn read(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    request: Authenticated,
) -> Result<Json<LedgerPage>, ServerError> {
    request.authorize(natural_operation(request.session.kind))?;
    let head = request.account.head;
    read_up_to(&state, &request, &uri, head).await
}

/// `GET /v1/ledger/removal`: a removed device's read, up to the entry that removed it (that
/// entry is the page's head). It learns nothing written after its removal, and everything it
/// needs to verify the removal itself; a device that was not removed has nothing to read here.
async fn read_removal(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    request: Authenticated,
) -> Result<Json<LedgerPage>, ServerError> {
    let seq = request.removed_at().ok_or(ServerError::NotFound)?;
    let head = state
        .storage()
        .ledger_entries(&request.account.account_id, seq, 1)
        .await?
        .into_iter()
        .find(|stored| stored.seq == seq)
        .map(|stored| StoredHead {
            seq,
            hash: stored.hash,
        })
        .ok_or_else(|| ServerError::Internal("removing entry missing".into()))?;
    read_up_to(&state, &request, &uri, head).await
}

/// One page of the ledger from the query's `since`, cut at `head`.
async fn read_up_to(
    state: &AppState,
    request: &Authenticated,
    uri: &axum::http::Uri,
    head: StoredHead,
) -> Result<Json<LedgerPage>, ServerError> {
    let query = parse_query(uri.query())?;
    let entries = state
        .storage()
        .ledger_entries(&request.account.account_id, query.since, PAGE + 1)
        .await?;
    let (entries, more) = page_at_head(entries, head);
    Ok(Json(LedgerPage {
        entries: entries
            .iter()
            .map(|entry| encode_b64(&entry.bytes))
            .collect(),
        head: head_json(head),
        more,
    }))
}

/// One page of `entries` (read after `head`), cut at `head`: an append that landed between
/// reading the head and reading the entries belongs to a later head, and sending it with this
/// one would look to the client like a service withholding entries. The reader gets it on its
/// next read.
fn page_at_head(mut entries: Vec<StoredEntry>, head: StoredHead) -> (Vec<StoredEntry>, bool) {
    entries.retain(|entry| entry.seq <= head.seq);
    let more = entries.len() > PAGE;
    entries.truncate(PAGE);
    (entries, more)
}

/// The operation an entry needs, or a refusal for kinds that have their own flow.
fn operation_for(kind: &EntryKind) -> Result<Operation, ServerError> {
    match kind {
        EntryKind::AddDevice { .. } => Ok(Operation::ApproveEnrollment),
        EntryKind::Suspend { .. }
        | EntryKind::Resume { .. }
        | EntryKind::Revoke { .. }
        | EntryKind::Retire { .. }
        | EntryKind::RotateRecovery { .. }
        | EntryKind::JoinOrganization { .. }
        | EntryKind::LeaveOrganization => Ok(Operation::ChangeDevices),
        EntryKind::Review { .. } => Ok(Operation::Admin),
        EntryKind::Genesis { .. } => Err(ServerError::Malformed(
            "a genesis entry is accepted only at registration".into(),
        )),
        EntryKind::Recover { .. } => Err(ServerError::Malformed(
            "recovery entries go through the recovery flow".into(),
        )),
    }
}

async fn append(
    State(state): State<AppState>,
    request: Authenticated,
) -> Result<(StatusCode, Json<AppendReply>), ServerError> {
    let body: Append = parse_json(&request.body)?;
    if body.entries.is_empty() || body.entries.len() > MAX_APPEND {
        return Err(ServerError::Malformed(format!(
            "`entries` must hold 1 to {MAX_APPEND} entries"
        )));
    }
    let mut entries = Vec::with_capacity(body.entries.len());
    let mut stored = Vec::with_capacity(body.entries.len());
    for text in &body.entries {
        let bytes = decode_b64("entries", text, MAX_ENTRY_LEN)?;
        let entry = LedgerEntry::decode(&bytes).map_err(ServerError::InvalidLedger)?;
        stored.push(StoredEntry {
            seq: entry.seq,
            hash: entry.hash().0,
            bytes,
        });
        entries.push(entry);
    }
    let mut operations: Vec<Operation> = entries
        .iter()
        .map(|entry| operation_for(&entry.kind))
        .collect::<Result<_, _>>()?;
    operations.sort();
    operations.dedup();
    for operation in operations {
        request.authorize(operation)?;
    }

    let before = &request.ledger;
    let expected = StoredHead {
        seq: before.head().seq,
        hash: before.head().hash.0,
    };
    let extends = entries.first().is_some_and(|first| {
        Some(first.seq) == expected.seq.checked_add(1) && first.prev_hash.0 == expected.hash
    });
    if !extends {
        return Err(conflict(expected));
    }
    // The ledger holds `seq + 1` entries (the genesis is 0); the compare-and-swap below keeps
    // a concurrent append from passing this check on the same head.
    let max = state.config().max_ledger_entries;
    let count = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    if expected.seq.saturating_add(1).saturating_add(count) > max {
        return Err(ServerError::Limit(LimitRefusal::LedgerFull { max }));
    }
    let mut after = before.clone();
    after.apply(&entries).map_err(ServerError::InvalidLedger)?;

    let recovery_epoch =
        (after.recovery_epoch() != before.recovery_epoch()).then_some(after.recovery_epoch());
    let effects = LedgerEffects { recovery_epoch };
    let outcome = state
        .storage()
        .append_ledger(&request.account.account_id, expected, stored, effects)
        .await?;
    match outcome {
        AppendOutcome::Appended(head) => {
            for entry in &entries {
                let kind = entry_code(&entry.kind)?;
                state
                    .audit_committed(
                        AuditAction::LedgerAppended { kind },
                        AuditOutcome::Success,
                        &request.account.account_id,
                        Some(&request.session.device_id),
                    )
                    .await;
            }
            tracing::info!(
                account = %request.account_pseudonym(&state),
                seq = head.seq,
                "ledger appended"
            );
            super::push::announce_append(
                &state,
                &request.account.account_id,
                before,
                &after,
                &entries,
            )
            .await;
            Ok((
                StatusCode::CREATED,
                Json(AppendReply {
                    head: head_json(head),
                }),
            ))
        }
        AppendOutcome::Conflict(head) => Err(conflict(head)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_ends_at_the_head_its_request_read() {
        let stored = |seq: u64| StoredEntry {
            seq,
            hash: [0; 32],
            bytes: vec![],
        };
        let head = |seq: u64| StoredHead { seq, hash: [0; 32] };
        let seqs = |(page, more): (Vec<StoredEntry>, bool)| {
            (page.iter().map(|entry| entry.seq).collect::<Vec<_>>(), more)
        };
        // Entry 3 was appended after the request read head 2: it waits for the next read.
        assert_eq!(
            seqs(page_at_head((0..4).map(stored).collect(), head(2))),
            (vec![0, 1, 2], false)
        );
        let page = PAGE as u64;
        assert!(
            page_at_head((0..=page).map(stored).collect(), head(page)).1,
            "more up to the head"
        );
        assert_eq!(
            seqs(page_at_head(
                (0..=page).map(stored).collect(),
                head(page - 1)
            )),
            ((0..page).collect(), false),
            "nothing more at this head"
        );
    }

    #[test]
    fn query_is_strict() {
        assert_eq!(parse_query(None).unwrap().since, 0);
        assert_eq!(parse_query(Some("since=7")).unwrap().since, 7);
        assert!(parse_query(Some("since=-1")).is_err());
        assert!(parse_query(Some("since=1&since=2")).is_err());
        assert!(parse_query(Some("limit=2")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_queries_never_panic_and_get_the_precise_error(query in "[ -~]{0,64}") {
            match parse_query(Some(&query)) {
                Ok(parsed) => {
                    // Accepted: empty pairs only, or `since` once with a u64.
                    let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
                    match pairs.as_slice() {
                        [] => proptest::prop_assert_eq!(parsed.since, 0),
                        [pair] => proptest::prop_assert_eq!(
                            Some(parsed.since),
                            pair.strip_prefix("since=").and_then(|v| v.parse().ok())
                        ),
                        _ => proptest::prop_assert!(false, "accepted {}", query),
                    }
                }
                Err(ServerError::Malformed(message)) => proptest::prop_assert!(
                    message == "`since` must be a non-negative integer"
                        || message == "the only query parameter is `since`, given once",
                    "{}", message
                ),
                Err(other) => proptest::prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn since_round_trips(since in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(parse_query(Some(&format!("since={since}"))).unwrap().since, since);
        }
    }
}
