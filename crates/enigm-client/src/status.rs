//! Where this session and device stand, as the service's decisions reveal them, in the shape
//! the app shows: one decision per protected operation, each reason with its plain sentence.

use enigm_core::lifecycle::DeviceState;
use enigm_core::trust::{Operation, Outcome, Reason, SessionKind};
use serde::Serialize;
use ts_rs::TS;

/// One reason behind a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ReasonView {
    /// Stable code (enigm-core's `Reason::code`).
    pub code: String,
    /// A plain sentence: what the user can or cannot do, and why.
    pub message: String,
}

/// The decision for one protected operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DecisionView {
    /// The operation.
    pub operation: Operation,
    /// The outcome.
    pub outcome: Outcome,
    /// Every reason that applies.
    pub reasons: Vec<ReasonView>,
}

/// The account's state as the service's decisions reveal it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Usable.
    Active,
    /// Locked for now.
    Locked,
    /// A recovery is in progress.
    Recovering,
}

/// Where this session and device stand, as the service evaluates them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SessionStatusView {
    /// The account's state.
    pub account_state: AccountState,
    /// This device's lifecycle state.
    pub device_state: DeviceState,
    /// What the session was issued for.
    pub session_kind: SessionKind,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// How many times the account has been recovered.
    pub recovery_epoch: u64,
    /// One decision per protected operation, in the core's order (enrolling is not one).
    pub decisions: Vec<DecisionView>,
}

impl From<enigm_proto::SessionStatus> for SessionStatusView {
    fn from(mut current: enigm_proto::SessionStatus) -> Self {
        let mut decisions = Vec::new();
        let mut account_state = AccountState::Active;
        // Enrolling is not protected, and only a new device's concern.
        let protected = Operation::ALL
            .into_iter()
            .filter(|operation| operation.is_protected());
        for operation in protected {
            let Some(decision) = current.decisions.remove(&operation) else {
                continue;
            };
            for reason in &decision.reasons {
                if matches!(reason, Reason::AccountLocked { .. }) {
                    account_state = AccountState::Locked;
                } else if matches!(reason, Reason::AccountRecovering) {
                    account_state = AccountState::Recovering;
                }
            }
            decisions.push(DecisionView {
                operation,
                outcome: decision.outcome,
                reasons: decision
                    .reasons
                    .iter()
                    .map(|reason| ReasonView {
                        code: reason.code().to_owned(),
                        message: reason.message(),
                    })
                    .collect(),
            });
        }
        Self {
            account_state,
            device_state: current.device_state,
            session_kind: current.session.kind,
            expires_at: current.session.expires_at,
            recovery_epoch: current.recovery_epoch,
            decisions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_reads_the_services_decisions_in_the_cores_order() {
        let value = serde_json::json!({
            "session": {"kind": "full", "issued_at": 1, "expires_at": 99},
            "account_id": "00",
            "recovery_epoch": 0,
            "device_id": "00",
            "device_state": "suspended",
            "decisions": {
                "sync": {"outcome": "deny", "reasons": [{"code": "device_suspended"}]},
                "enroll": {"outcome": "deny", "reasons": [{"code": "device_already_enrolled"}]},
                "admin": {"outcome": "deny", "reasons": [{"code": "account_locked", "until": null}]}
            }
        });
        let status: enigm_proto::SessionStatus = serde_json::from_value(value).unwrap();
        let view = SessionStatusView::from(status);
        assert_eq!(view.device_state, DeviceState::Suspended);
        assert_eq!(view.account_state, AccountState::Locked);
        let order: Vec<Operation> = view.decisions.iter().map(|d| d.operation).collect();
        assert_eq!(order, [Operation::Sync, Operation::Admin]);
        assert!(view.decisions[0].reasons[0].message.contains("suspended"));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["decisions"][0]["operation"], "sync");
        assert_eq!(json["session_kind"], "full");
    }
}
