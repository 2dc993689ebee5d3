//! Signed requests (DESIGN §6): the extractor every protected route takes.
//!
//! A request carries `Authorization: Enigm session=…, ts=…, nonce=…, sig=…`. [`Authenticated`]
//! accepts it only when, in this order: the header parses; the session exists, has not
//! expired, and belongs to the account's current recovery epoch; the timestamp is within the
//! allowed clock skew; the signature by the session's device key verifies over the method, the
//! path with its query, the SHA-256 of the exact body bytes received, the timestamp, the nonce
//! and the session id; and the nonce is new for the session (recorded atomically in storage, so
//! a replay is refused on every node). It then loads the account's verified ledger and refuses
//! a device the ledger marks removed with `device_removed` / `device_replaced` and the entry
//! that removed it (before the recovery-epoch check, so a device a recovery revoked hears that
//! rather than `session_before_recovery`), except for `GET /v1/ledger/removal`, and notes the
//! device as seen today (once a day per session: `GET /v1/devices/seen`). The
//! handler must still call [`Authenticated::authorize`] with its operation: trust is evaluated
//! with enigm-core's `evaluate` on every request, and a deny or step-up is refused with the
//! decision's reason codes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::AUTHORIZATION;
use enigm_core::audit::{AuditAction, AuditOutcome};
use enigm_core::identity::DeviceId;
use enigm_core::ledger::LedgerState;
use enigm_core::lifecycle::DeviceState;
use enigm_core::pseudonym::{Pseudonym, PseudonymKind, pseudonym};
use enigm_core::trust::{
    AccountState, AccountTrust, Decision, DeviceTrust, Operation, Policy, Posture, Session,
    Timestamp, TrustInput, evaluate,
};

use crate::audit::reason_code;
use crate::error::{AuthFailure, ServerError};
use crate::protocol::{parse_authorization, verify_signed_request};
use crate::state::AppState;
use crate::storage::{AccountRecord, AccountStatus, SessionRecord};

/// The one route a removed device may still use: the ledger up to the entry that removed it
/// (`api/ledger.rs`).
const REMOVAL_READ: &str = "/v1/ledger/removal";

/// An authentic request: its session, account, verified ledger and body.
pub(crate) struct Authenticated {
    /// The session that signed the request.
    pub(crate) session: SessionRecord,
    /// The session's account.
    pub(crate) account: AccountRecord,
    /// The account's verified ledger.
    pub(crate) ledger: LedgerState,
    /// The exact body bytes that were signed.
    pub(crate) body: Bytes,
    /// The service time the request was checked at.
    pub(crate) now: u64,
}

impl FromRequest<AppState> for Authenticated {
    type Rejection = ServerError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ServerError> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .ok_or(ServerError::Unauthenticated(AuthFailure::Missing))?
            .to_str()
            .map_err(|_| ServerError::Unauthenticated(AuthFailure::Malformed))?
            .to_owned();
        let auth = parse_authorization(&header)?;
        let session_id = *auth.session.as_bytes();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| ServerError::PayloadTooLarge)?;

        let now = state.now();
        let session = state
            .storage()
            .session(&session_id)
            .await?
            .ok_or(ServerError::Unauthenticated(AuthFailure::UnknownSession))?;
        if now >= session.expires_at {
            return Err(ServerError::Unauthenticated(AuthFailure::SessionExpired));
        }
        let skew = state.config().max_clock_skew_secs;
        verify_signed_request(&auth, &session.device_key, &method, &path, &body, now, skew)?;
        let keep_until = nonce_keep_until(auth.timestamp, skew);
        let fresh = state
            .storage()
            .insert_nonce(&session_id, &auth.nonce, keep_until)
            .await?;
        if !fresh {
            state
                .audit(
                    AuditAction::RequestRejected {
                        reason: reason_code(AuthFailure::Replayed.code().as_str())?,
                    },
                    AuditOutcome::Denied,
                    &session.account_id,
                    Some(&session.device_id),
                )
                .await?;
            return Err(ServerError::Unauthenticated(AuthFailure::Replayed));
        }
        let account = state
            .storage()
            .account(&session.account_id)
            .await?
            .ok_or(ServerError::Unauthenticated(AuthFailure::UnknownSession))?;
        let ledger = state.ledger(&account.account_id).await?;
        // A removed device keeps its sessions until they expire, so that its next request
        // (signed: only the key holder hears it) says what happened, with the proof. It may
        // still read the ledger up to its removal (`GET /v1/ledger/removal`), so that it can
        // verify a removal signed by a device it has not seen yet before it erases its keys.
        if let Some(removed) = state
            .removal(&account.account_id, &ledger, session.device_id)
            .await?
            && !(method == "GET" && path.split('?').next() == Some(REMOVAL_READ))
        {
            return Err(removed);
        }
        if session.recovery_epoch != account.recovery_epoch {
            return Err(ServerError::Unauthenticated(
                AuthFailure::SessionBeforeRecovery,
            ));
        }
        note_seen(state, &session, &ledger, now).await?;
        Ok(Self {
            session,
            account,
            ledger,
            body,
            now,
        })
    }
}

/// Margin on top of twice the skew window a nonce is kept (clock steps, slow purges).
const NONCE_MARGIN_SECS: u64 = 60;

/// Until when the nonce of a request stamped `timestamp` must be kept. A request is accepted
/// while `|now - timestamp| <= skew` by the clock of whichever node receives it, and each node
/// purges by its own clock: with two nodes up to `skew` apart (either may be off by `skew`
/// from the stamp and still accept it), a replay can reach a node that still accepts the
/// timestamp up to `2 * skew` after it, so the nonce is kept that long plus a margin.
pub(crate) fn nonce_keep_until(timestamp: u64, skew: u64) -> u64 {
    timestamp
        .saturating_add(skew.saturating_mul(2))
        .saturating_add(NONCE_MARGIN_SECS)
}

/// Records the session's device as seen today, once a day per session, when the ledger knows
/// the device (a key that has only asked to enroll leaves no trace).
pub(crate) async fn note_seen(
    state: &AppState,
    session: &SessionRecord,
    ledger: &LedgerState,
    now: u64,
) -> Result<(), ServerError> {
    let today = Timestamp(now).day();
    if session.seen_day < today
        && ledger
            .device(&DeviceId::from_bytes(session.device_id))
            .is_some()
    {
        state.storage().record_seen(session, today).await?;
    }
    Ok(())
}

impl Authenticated {
    /// Trust evaluation for `operation` with this request's facts.
    pub(crate) fn decide(&self, operation: Operation) -> Decision {
        evaluate(&self.trust_input(), operation)
    }

    /// Refuses the request unless trust evaluation allows `operation`.
    pub(crate) fn authorize(&self, operation: Operation) -> Result<(), ServerError> {
        let decision = self.decide(operation);
        if decision.is_allowed() {
            Ok(())
        } else {
            Err(ServerError::Refused(decision))
        }
    }

    /// Where the verified ledger removed this device (revoked, replaced, or retired after
    /// either), if it did: only `GET /v1/ledger/removal` gets this far for a removed device.
    pub(crate) fn removed_at(&self) -> Option<u64> {
        let record = self
            .ledger
            .device(&DeviceId::from_bytes(self.session.device_id))?;
        match record.state {
            DeviceState::Revoked | DeviceState::Replaced | DeviceState::Retired => {
                record.removed_at
            }
            DeviceState::Pending
            | DeviceState::Review
            | DeviceState::Active
            | DeviceState::Suspended => None,
        }
    }

    /// This device's state in the verified ledger (`Pending` for a key it does not know yet).
    pub(crate) fn device_state(&self) -> DeviceState {
        self.ledger
            .device(&DeviceId::from_bytes(self.session.device_id))
            .map_or(DeviceState::Pending, |record| record.state)
    }

    /// The account's pseudonym for logs.
    pub(crate) fn account_pseudonym(&self, state: &AppState) -> Pseudonym {
        pseudonym(
            &state.secrets().service_logs,
            PseudonymKind::Account,
            &self.account.account_id,
        )
    }

    fn trust_input(&self) -> TrustInput {
        let account_state = match self.account.status {
            AccountStatus::Active => AccountState::Active,
            AccountStatus::Locked { until } => AccountState::Locked {
                until: until.map(Timestamp),
            },
            AccountStatus::Recovering => AccountState::Recovering,
        };
        TrustInput {
            now: Timestamp(self.now),
            account: AccountTrust {
                state: account_state,
                recovery_epoch: self.account.recovery_epoch,
                admin_role: None,
            },
            session: Some(Session {
                kind: self.session.kind,
                issued_at: Timestamp(self.session.issued_at),
                expires_at: Timestamp(self.session.expires_at),
                strong_auth_at: Timestamp(self.session.strong_auth_at),
                recovery_epoch: self.session.recovery_epoch,
            }),
            device: DeviceTrust {
                state: self.device_state(),
                // The service verified the ledger itself; the device proved its key by signing.
                ledger_verified: true,
                key_present: true,
                posture: Posture::default(),
            },
            policy: Policy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SqliteStorage, Storage};

    /// A request stamped `stamp` reaches node A, whose clock is `skew` ahead: it accepts and
    /// records the nonce. Node B's clock is `skew` behind the stamp, so B accepts the same
    /// timestamp until real time `stamp + 2 * skew`. Purges run by each node's own clock.
    #[tokio::test]
    async fn a_replay_to_a_node_with_a_slower_clock_is_still_refused() {
        let storage = SqliteStorage::open_in_memory().unwrap();
        let skew = 300;
        let stamp = 1_000_000;
        let session = [4; 16];
        let keep = nonce_keep_until(stamp, skew);
        assert!(
            storage
                .insert_nonce(&session, b"nonce", keep)
                .await
                .unwrap()
        );
        // Node A purges at real time `stamp + skew + 1`, its clock reading `stamp + 2 * skew + 1`,
        // one second past where the nonce used to expire.
        let real = stamp + skew + 1;
        storage.purge_expired(real + skew).await.unwrap();
        // Node B still accepts the timestamp (its clock reads `real - skew`)...
        assert!(real - skew <= stamp + skew);
        // ...and must still know the nonce.
        assert!(
            !storage
                .insert_nonce(&session, b"nonce", keep)
                .await
                .unwrap()
        );
    }
}
