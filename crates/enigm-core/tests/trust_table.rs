//! The trust rules as a table: each row changes one thing about a fully trusted baseline and
//! states the exact outcome and reasons for an operation. Then properties over random inputs.

// Helpers outside `#[test]` functions are test code too: a failed lookup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use enigm_core::lifecycle::DeviceState;
use enigm_core::trust::{
    AccountState, AccountTrust, AdminRole, Decision, DeviceTrust, Operation, Outcome, Policy,
    Posture, PostureCategory, PostureLevel, PostureOutcome, PostureRequirement, Reason, Session,
    SessionKind, Timestamp, TrustInput, evaluate,
};
use proptest::prelude::*;

const NOW: u64 = 1_750_000_000;
const EPOCH: u64 = 3;
const WINDOW: u64 = Policy::DEFAULT_STEP_UP_WINDOW_SECS;
const MAX_AGE: u64 = Policy::DEFAULT_SESSION_MAX_AGE_SECS;

/// Everything holds: an active admin account, a fresh full session from the current epoch, an
/// active device with a verified ledger and its key, no posture requirements.
fn baseline() -> TrustInput {
    TrustInput {
        now: Timestamp(NOW),
        account: AccountTrust {
            state: AccountState::Active,
            recovery_epoch: EPOCH,
            admin_role: Some(AdminRole::Operator),
        },
        session: Some(Session {
            kind: SessionKind::Full,
            issued_at: Timestamp(NOW - 3600),
            expires_at: Timestamp(NOW + 3600),
            strong_auth_at: Timestamp(NOW - 60),
            recovery_epoch: EPOCH,
        }),
        device: DeviceTrust {
            state: DeviceState::Active,
            ledger_verified: true,
            key_present: true,
            posture: Posture::default(),
        },
        policy: Policy::default(),
    }
}

fn session(input: &mut TrustInput) -> &mut Session {
    input.session.as_mut().unwrap()
}

fn require(
    input: &mut TrustInput,
    operation: Operation,
    category: PostureCategory,
    level: PostureLevel,
) {
    input.policy.posture.push(PostureRequirement {
        operation,
        category,
        level,
    });
}

fn posture(input: &mut TrustInput, category: PostureCategory, outcome: PostureOutcome) {
    input.device.posture.set(category, outcome);
}

struct Row {
    name: &'static str,
    change: fn(&mut TrustInput),
    operation: Operation,
    outcome: Outcome,
    reasons: Vec<Reason>,
}

fn row(
    name: &'static str,
    change: fn(&mut TrustInput),
    operation: Operation,
    outcome: Outcome,
    reasons: Vec<Reason>,
) -> Row {
    Row {
        name,
        change,
        operation,
        outcome,
        reasons,
    }
}

use Operation as Op;
use Outcome::{Allow, Deny, StepUp};
use PostureCategory as Cat;
use PostureOutcome as Po;
use Reason as R;

fn table() -> Vec<Row> {
    vec![
        // --- baseline: everything allowed ---
        row("baseline messaging", |_| {}, Op::Messaging, Allow, vec![]),
        row("baseline calls", |_| {}, Op::Calls, Allow, vec![]),
        row("baseline sync", |_| {}, Op::Sync, Allow, vec![]),
        row("baseline key use", |_| {}, Op::KeyUse, Allow, vec![]),
        row(
            "baseline approve",
            |_| {},
            Op::ApproveEnrollment,
            Allow,
            vec![],
        ),
        row(
            "baseline change devices",
            |_| {},
            Op::ChangeDevices,
            Allow,
            vec![],
        ),
        row("baseline admin", |_| {}, Op::Admin, Allow, vec![]),
        row(
            "active device cannot enroll again",
            |_| {},
            Op::Enroll,
            Deny,
            vec![R::DeviceAlreadyEnrolled],
        ),
        // --- every device state, protected operation ---
        row(
            "pending",
            |i| i.device.state = DeviceState::Pending,
            Op::Messaging,
            Deny,
            vec![R::DevicePending],
        ),
        row(
            "review",
            |i| i.device.state = DeviceState::Review,
            Op::Messaging,
            Deny,
            vec![R::DeviceInReview],
        ),
        row(
            "suspended",
            |i| i.device.state = DeviceState::Suspended,
            Op::Messaging,
            Deny,
            vec![R::DeviceSuspended],
        ),
        row(
            "revoked",
            |i| i.device.state = DeviceState::Revoked,
            Op::Sync,
            Deny,
            vec![R::DeviceRevoked],
        ),
        row(
            "replaced",
            |i| i.device.state = DeviceState::Replaced,
            Op::Calls,
            Deny,
            vec![R::DeviceReplaced],
        ),
        row(
            "retired",
            |i| i.device.state = DeviceState::Retired,
            Op::KeyUse,
            Deny,
            vec![R::DeviceRetired],
        ),
        // --- every device state, enrollment (with a restricted session, as in DESIGN §7) ---
        row(
            "enroll pending",
            |i| {
                i.device.state = DeviceState::Pending;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Allow,
            vec![],
        ),
        row(
            "enroll review",
            |i| {
                i.device.state = DeviceState::Review;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Allow,
            vec![],
        ),
        row(
            "enroll active",
            |i| {
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceAlreadyEnrolled],
        ),
        row(
            "enroll suspended",
            |i| {
                i.device.state = DeviceState::Suspended;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceSuspended],
        ),
        row(
            "enroll revoked",
            |i| {
                i.device.state = DeviceState::Revoked;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceRevoked],
        ),
        row(
            "enroll replaced",
            |i| {
                i.device.state = DeviceState::Replaced;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceReplaced],
        ),
        row(
            "enroll retired",
            |i| {
                i.device.state = DeviceState::Retired;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceRetired],
        ),
        row(
            "enroll does not need a verified ledger",
            |i| {
                i.device.state = DeviceState::Pending;
                i.device.ledger_verified = false;
            },
            Op::Enroll,
            Allow,
            vec![],
        ),
        row(
            "enroll needs the key",
            |i| {
                i.device.state = DeviceState::Pending;
                i.device.key_present = false;
            },
            Op::Enroll,
            Deny,
            vec![R::DeviceKeyMissing],
        ),
        row(
            "enroll needs a session",
            |i| {
                i.device.state = DeviceState::Pending;
                i.session = None;
            },
            Op::Enroll,
            Deny,
            vec![R::NotAuthenticated],
        ),
        // --- restricted session: nothing but enroll ---
        row(
            "restricted messaging",
            |i| {
                i.device.state = DeviceState::Pending;
                session(i).kind = SessionKind::EnrollmentRestricted;
            },
            Op::Messaging,
            Deny,
            vec![R::SessionRestricted, R::DevicePending],
        ),
        row(
            "restricted on an active device",
            |i| session(i).kind = SessionKind::EnrollmentRestricted,
            Op::Sync,
            Deny,
            vec![R::SessionRestricted],
        ),
        row(
            "restricted approve lists step-up too",
            |i| {
                session(i).kind = SessionKind::EnrollmentRestricted;
                session(i).strong_auth_at = Timestamp(NOW - WINDOW);
            },
            Op::ApproveEnrollment,
            Deny,
            vec![R::SessionRestricted, R::StepUpRequired],
        ),
        // --- account states ---
        row(
            "locked until later",
            |i| {
                i.account.state = AccountState::Locked {
                    until: Some(Timestamp(NOW + 1)),
                }
            },
            Op::Messaging,
            Deny,
            vec![R::AccountLocked {
                until: Some(Timestamp(NOW + 1)),
            }],
        ),
        row(
            "lock lapses exactly at until",
            |i| {
                i.account.state = AccountState::Locked {
                    until: Some(Timestamp(NOW)),
                }
            },
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "locked indefinitely",
            |i| i.account.state = AccountState::Locked { until: None },
            Op::Sync,
            Deny,
            vec![R::AccountLocked { until: None }],
        ),
        row(
            "locked blocks enrollment",
            |i| {
                i.account.state = AccountState::Locked { until: None };
                i.device.state = DeviceState::Pending;
            },
            Op::Enroll,
            Deny,
            vec![R::AccountLocked { until: None }],
        ),
        row(
            "recovering",
            |i| i.account.state = AccountState::Recovering,
            Op::Messaging,
            Deny,
            vec![R::AccountRecovering],
        ),
        row(
            "recovering blocks enrollment",
            |i| {
                i.account.state = AccountState::Recovering;
                i.device.state = DeviceState::Pending;
            },
            Op::Enroll,
            Deny,
            vec![R::AccountRecovering],
        ),
        // --- session presence, expiry, age, epoch ---
        row(
            "not signed in",
            |i| i.session = None,
            Op::Messaging,
            Deny,
            vec![R::NotAuthenticated],
        ),
        row(
            "not signed in, no step-up reason",
            |i| i.session = None,
            Op::KeyUse,
            Deny,
            vec![R::NotAuthenticated],
        ),
        row(
            "one second before expiry",
            |i| session(i).expires_at = Timestamp(NOW + 1),
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "exactly at expiry",
            |i| session(i).expires_at = Timestamp(NOW),
            Op::Messaging,
            Deny,
            vec![R::SessionExpired],
        ),
        row(
            "after expiry",
            |i| session(i).expires_at = Timestamp(NOW - 1),
            Op::Messaging,
            Deny,
            vec![R::SessionExpired],
        ),
        row(
            "one second under max age",
            |i| session(i).issued_at = Timestamp(NOW - MAX_AGE + 1),
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "exactly max age",
            |i| session(i).issued_at = Timestamp(NOW - MAX_AGE),
            Op::Messaging,
            Deny,
            vec![R::SessionTooOld],
        ),
        row(
            "issued in the future (skew) counts as new",
            |i| session(i).issued_at = Timestamp(NOW + 30),
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "session from an older epoch",
            |i| session(i).recovery_epoch = EPOCH - 1,
            Op::Messaging,
            Deny,
            vec![R::SessionBeforeRecovery],
        ),
        row(
            "session from a newer epoch",
            |i| session(i).recovery_epoch = EPOCH + 1,
            Op::Messaging,
            Deny,
            vec![R::SessionBeforeRecovery],
        ),
        row(
            "old-epoch restricted session cannot enroll",
            |i| {
                session(i).recovery_epoch = EPOCH - 1;
                session(i).kind = SessionKind::EnrollmentRestricted;
                i.device.state = DeviceState::Pending;
            },
            Op::Enroll,
            Deny,
            vec![R::SessionBeforeRecovery],
        ),
        // --- step-up window edges ---
        row(
            "strong auth one second inside window",
            |i| session(i).strong_auth_at = Timestamp(NOW - WINDOW + 1),
            Op::ChangeDevices,
            Allow,
            vec![],
        ),
        row(
            "strong auth exactly at window",
            |i| session(i).strong_auth_at = Timestamp(NOW - WINDOW),
            Op::ChangeDevices,
            StepUp,
            vec![R::StepUpRequired],
        ),
        row(
            "stale strong auth: key use",
            |i| session(i).strong_auth_at = Timestamp(NOW - WINDOW - 1),
            Op::KeyUse,
            StepUp,
            vec![R::StepUpRequired],
        ),
        row(
            "stale strong auth: approve",
            |i| session(i).strong_auth_at = Timestamp(NOW - 86_400),
            Op::ApproveEnrollment,
            StepUp,
            vec![R::StepUpRequired],
        ),
        row(
            "stale strong auth: admin",
            |i| session(i).strong_auth_at = Timestamp(NOW - 86_400),
            Op::Admin,
            StepUp,
            vec![R::StepUpRequired],
        ),
        row(
            "stale strong auth: messaging unaffected",
            |i| session(i).strong_auth_at = Timestamp(NOW - 86_400),
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "stale strong auth: sync unaffected",
            |i| session(i).strong_auth_at = Timestamp(NOW - 86_400),
            Op::Sync,
            Allow,
            vec![],
        ),
        row(
            "deny dominates step-up, both listed",
            |i| {
                i.device.state = DeviceState::Suspended;
                session(i).strong_auth_at = Timestamp(NOW - 86_400);
            },
            Op::KeyUse,
            Deny,
            vec![R::DeviceSuspended, R::StepUpRequired],
        ),
        // --- device side beyond state ---
        row(
            "ledger not verified",
            |i| i.device.ledger_verified = false,
            Op::Messaging,
            Deny,
            vec![R::LedgerNotVerified],
        ),
        row(
            "key missing",
            |i| i.device.key_present = false,
            Op::Calls,
            Deny,
            vec![R::DeviceKeyMissing],
        ),
        // --- admin role ---
        row(
            "admin without a role",
            |i| i.account.admin_role = None,
            Op::Admin,
            Deny,
            vec![R::NotAdmin],
        ),
        row(
            "viewer may use Command",
            |i| i.account.admin_role = Some(AdminRole::Viewer),
            Op::Admin,
            Allow,
            vec![],
        ),
        row(
            "no role needed for messaging",
            |i| i.account.admin_role = None,
            Op::Messaging,
            Allow,
            vec![],
        ),
        // --- posture: each outcome under each level ---
        row(
            "posture pass / require_pass",
            |i| {
                require(i, Op::Sync, Cat::Attestation, PostureLevel::RequirePass);
                posture(i, Cat::Attestation, Po::Pass);
            },
            Op::Sync,
            Allow,
            vec![],
        ),
        row(
            "posture warn / require_pass",
            |i| {
                require(i, Op::Sync, Cat::Attestation, PostureLevel::RequirePass);
                posture(i, Cat::Attestation, Po::Warn);
            },
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::Attestation,
                outcome: Po::Warn,
            }],
        ),
        row(
            "posture unknown / require_pass",
            |i| require(i, Op::Sync, Cat::Attestation, PostureLevel::RequirePass),
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::Attestation,
                outcome: Po::Unknown,
            }],
        ),
        row(
            "posture fail / require_pass",
            |i| {
                require(i, Op::Sync, Cat::Attestation, PostureLevel::RequirePass);
                posture(i, Cat::Attestation, Po::Fail);
            },
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::Attestation,
                outcome: Po::Fail,
            }],
        ),
        row(
            "posture pass / allow_warn",
            |i| {
                require(i, Op::Sync, Cat::NetworkPolicy, PostureLevel::AllowWarn);
                posture(i, Cat::NetworkPolicy, Po::Pass);
            },
            Op::Sync,
            Allow,
            vec![],
        ),
        row(
            "posture warn / allow_warn",
            |i| {
                require(i, Op::Sync, Cat::NetworkPolicy, PostureLevel::AllowWarn);
                posture(i, Cat::NetworkPolicy, Po::Warn);
            },
            Op::Sync,
            Allow,
            vec![R::PostureTolerated {
                category: Cat::NetworkPolicy,
                outcome: Po::Warn,
            }],
        ),
        row(
            "posture unknown / allow_warn",
            |i| require(i, Op::Sync, Cat::NetworkPolicy, PostureLevel::AllowWarn),
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::NetworkPolicy,
                outcome: Po::Unknown,
            }],
        ),
        row(
            "posture fail / allow_warn",
            |i| {
                require(i, Op::Sync, Cat::NetworkPolicy, PostureLevel::AllowWarn);
                posture(i, Cat::NetworkPolicy, Po::Fail);
            },
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::NetworkPolicy,
                outcome: Po::Fail,
            }],
        ),
        row(
            "posture pass / deny_fail_only",
            |i| {
                require(i, Op::Sync, Cat::TrustCenter, PostureLevel::DenyFailOnly);
                posture(i, Cat::TrustCenter, Po::Pass);
            },
            Op::Sync,
            Allow,
            vec![],
        ),
        row(
            "posture warn / deny_fail_only",
            |i| {
                require(i, Op::Sync, Cat::TrustCenter, PostureLevel::DenyFailOnly);
                posture(i, Cat::TrustCenter, Po::Warn);
            },
            Op::Sync,
            Allow,
            vec![R::PostureTolerated {
                category: Cat::TrustCenter,
                outcome: Po::Warn,
            }],
        ),
        row(
            "posture unknown / deny_fail_only",
            |i| require(i, Op::Sync, Cat::TrustCenter, PostureLevel::DenyFailOnly),
            Op::Sync,
            Allow,
            vec![R::PostureTolerated {
                category: Cat::TrustCenter,
                outcome: Po::Unknown,
            }],
        ),
        row(
            "posture fail / deny_fail_only",
            |i| {
                require(i, Op::Sync, Cat::TrustCenter, PostureLevel::DenyFailOnly);
                posture(i, Cat::TrustCenter, Po::Fail);
            },
            Op::Sync,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::TrustCenter,
                outcome: Po::Fail,
            }],
        ),
        row(
            "posture required for another operation is ignored",
            |i| {
                require(i, Op::Admin, Cat::Attestation, PostureLevel::RequirePass);
                posture(i, Cat::Attestation, Po::Fail);
            },
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "unrequired failing category is ignored",
            |i| posture(i, Cat::PrivacyMode, Po::Fail),
            Op::Messaging,
            Allow,
            vec![],
        ),
        row(
            "strictest duplicate requirement wins",
            |i| {
                require(i, Op::Calls, Cat::PrivacyMode, PostureLevel::DenyFailOnly);
                require(i, Op::Calls, Cat::PrivacyMode, PostureLevel::RequirePass);
                posture(i, Cat::PrivacyMode, Po::Warn);
            },
            Op::Calls,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::PrivacyMode,
                outcome: Po::Warn,
            }],
        ),
        row(
            "several categories, all listed in category order",
            |i| {
                require(i, Op::KeyUse, Cat::OtaVerification, PostureLevel::AllowWarn);
                require(
                    i,
                    Op::KeyUse,
                    Cat::DeviceManagement,
                    PostureLevel::RequirePass,
                );
                posture(i, Cat::OtaVerification, Po::Warn);
                posture(i, Cat::DeviceManagement, Po::Fail);
            },
            Op::KeyUse,
            Deny,
            vec![
                R::PostureNotMet {
                    category: Cat::DeviceManagement,
                    outcome: Po::Fail,
                },
                R::PostureTolerated {
                    category: Cat::OtaVerification,
                    outcome: Po::Warn,
                },
            ],
        ),
        row(
            "posture can guard enrollment",
            |i| {
                i.device.state = DeviceState::Pending;
                require(
                    i,
                    Op::Enroll,
                    Cat::DeviceManagement,
                    PostureLevel::RequirePass,
                );
            },
            Op::Enroll,
            Deny,
            vec![R::PostureNotMet {
                category: Cat::DeviceManagement,
                outcome: Po::Unknown,
            }],
        ),
        row(
            "advisory posture and step-up: step-up",
            |i| {
                require(i, Op::KeyUse, Cat::Attestation, PostureLevel::DenyFailOnly);
                session(i).strong_auth_at = Timestamp(0);
            },
            Op::KeyUse,
            StepUp,
            vec![
                R::PostureTolerated {
                    category: Cat::Attestation,
                    outcome: Po::Unknown,
                },
                R::StepUpRequired,
            ],
        ),
        // --- everything wrong at once: every reason, in order ---
        row(
            "all reasons listed",
            |i| {
                i.account.state = AccountState::Recovering;
                i.account.admin_role = None;
                let s = session(i);
                s.kind = SessionKind::EnrollmentRestricted;
                s.expires_at = Timestamp(NOW);
                s.issued_at = Timestamp(0);
                s.recovery_epoch = 0;
                s.strong_auth_at = Timestamp(0);
                i.device.state = DeviceState::Revoked;
                i.device.ledger_verified = false;
                i.device.key_present = false;
                require(i, Op::Admin, Cat::Attestation, PostureLevel::RequirePass);
            },
            Op::Admin,
            Deny,
            vec![
                R::AccountRecovering,
                R::SessionExpired,
                R::SessionTooOld,
                R::SessionBeforeRecovery,
                R::SessionRestricted,
                R::DeviceRevoked,
                R::LedgerNotVerified,
                R::DeviceKeyMissing,
                R::NotAdmin,
                R::PostureNotMet {
                    category: Cat::Attestation,
                    outcome: Po::Unknown,
                },
                R::StepUpRequired,
            ],
        ),
    ]
}

#[test]
fn trust_table() {
    let mut failures = Vec::new();
    for row in table() {
        let mut input = baseline();
        (row.change)(&mut input);
        let decision = evaluate(&input, row.operation);
        let expected = Decision {
            outcome: row.outcome,
            reasons: row.reasons.clone(),
        };
        if decision != expected {
            failures.push(format!("{}: got {decision:?}, want {expected:?}", row.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every device state against every operation: only the right state is ever allowed.
#[test]
fn every_state_against_every_operation() {
    for state in DeviceState::ALL {
        for operation in Operation::ALL {
            let mut input = baseline();
            input.device.state = state;
            let decision = evaluate(&input, operation);
            let expect_allowed = if operation.is_protected() {
                state == DeviceState::Active
            } else {
                matches!(state, DeviceState::Pending | DeviceState::Review)
            };
            assert_eq!(decision.is_allowed(), expect_allowed, "{state} {operation}");
        }
    }
}

#[test]
fn decisions_serialize_with_stable_lower_case_codes() {
    let mut input = baseline();
    input.device.state = DeviceState::Suspended;
    session(&mut input).strong_auth_at = Timestamp(0);
    let decision = evaluate(&input, Operation::ChangeDevices);
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "outcome": "deny",
            "reasons": [{"code": "device_suspended"}, {"code": "step_up_required"}],
        })
    );
    let back: Decision = serde_json::from_value(json).unwrap();
    assert_eq!(back, decision);
    assert_eq!(
        decision.reasons[0].to_string(),
        "This device is suspended, so it cannot be used until a trusted device or your organization resumes it."
    );
    let tolerated = Reason::PostureTolerated {
        category: PostureCategory::Attestation,
        outcome: PostureOutcome::Warn,
    };
    assert_eq!(
        serde_json::to_value(tolerated).unwrap(),
        serde_json::json!({"code": "posture_tolerated", "category": "attestation", "outcome": "warn"})
    );
    assert_eq!(
        serde_json::to_value(Operation::ApproveEnrollment).unwrap(),
        "approve_enrollment"
    );
}

#[test]
fn inputs_round_trip_through_json() {
    let mut input = baseline();
    input.account.state = AccountState::Locked {
        until: Some(Timestamp(NOW + 5)),
    };
    require(
        &mut input,
        Op::Sync,
        Cat::PrivacyMode,
        PostureLevel::AllowWarn,
    );
    let json = serde_json::to_value(&input).unwrap();
    assert_eq!(json["device"]["state"], "active");
    assert_eq!(json["account"]["state"]["state"], "locked");
    let back: TrustInput = serde_json::from_value(json).unwrap();
    assert_eq!(back, input);
    let mut bad = serde_json::to_value(&input).unwrap();
    bad["device"]["state"] = "Active".into();
    assert!(serde_json::from_value::<TrustInput>(bad).is_err());
}

#[test]
fn every_reason_has_a_sentence() {
    let mut input = baseline();
    input.account.state = AccountState::Recovering;
    input.session = None;
    input.device.state = DeviceState::Pending;
    for operation in Operation::ALL {
        for reason in evaluate(&input, operation).reasons {
            let message = reason.message();
            assert!(message.ends_with('.'), "{message}");
            assert!(message.chars().next().is_some_and(char::is_uppercase));
        }
    }
}

fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (NOW - 2 * MAX_AGE..NOW + 2 * MAX_AGE).prop_map(Timestamp),
        (NOW - 2 * WINDOW..NOW + WINDOW).prop_map(Timestamp),
        any::<u64>().prop_map(Timestamp),
    ]
}

fn arb_posture_outcome() -> impl Strategy<Value = PostureOutcome> {
    prop::sample::select(vec![Po::Pass, Po::Warn, Po::Fail, Po::Unknown])
}

fn arb_input() -> impl Strategy<Value = TrustInput> {
    let account = (
        prop_oneof![
            Just(AccountState::Active),
            Just(AccountState::Recovering),
            proptest::option::of(arb_timestamp()).prop_map(|until| AccountState::Locked { until }),
        ],
        0u64..4,
        proptest::option::of(prop::sample::select(vec![
            AdminRole::Viewer,
            AdminRole::Operator,
            AdminRole::Owner,
        ])),
    )
        .prop_map(|(state, recovery_epoch, admin_role)| AccountTrust {
            state,
            recovery_epoch,
            admin_role,
        });
    let session = proptest::option::of(
        (
            prop::sample::select(vec![SessionKind::Full, SessionKind::EnrollmentRestricted]),
            arb_timestamp(),
            arb_timestamp(),
            arb_timestamp(),
            0u64..4,
        )
            .prop_map(
                |(kind, issued_at, expires_at, strong_auth_at, recovery_epoch)| Session {
                    kind,
                    issued_at,
                    expires_at,
                    strong_auth_at,
                    recovery_epoch,
                },
            ),
    );
    let device = (
        prop::sample::select(DeviceState::ALL.to_vec()),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(arb_posture_outcome(), 6),
    )
        .prop_map(|(state, ledger_verified, key_present, outcomes)| {
            let mut posture = Posture::default();
            for (category, outcome) in PostureCategory::ALL.into_iter().zip(outcomes) {
                posture.set(category, outcome);
            }
            DeviceTrust {
                state,
                ledger_verified,
                key_present,
                posture,
            }
        });
    let requirement = (
        prop::sample::select(Operation::ALL.to_vec()),
        prop::sample::select(PostureCategory::ALL.to_vec()),
        prop::sample::select(vec![
            PostureLevel::RequirePass,
            PostureLevel::AllowWarn,
            PostureLevel::DenyFailOnly,
        ]),
    )
        .prop_map(|(operation, category, level)| PostureRequirement {
            operation,
            category,
            level,
        });
    let policy = (
        prop_oneof![Just(MAX_AGE), 0u64..10_000],
        prop_oneof![Just(WINDOW), 0u64..1_000],
        prop::collection::vec(requirement, 0..4),
    )
        .prop_map(
            |(session_max_age_secs, step_up_window_secs, posture)| Policy {
                session_max_age_secs,
                step_up_window_secs,
                posture,
            },
        );
    (arb_timestamp(), account, session, device, policy).prop_map(
        |(now, account, session, device, policy)| TrustInput {
            now,
            account,
            session,
            device,
            policy,
        },
    )
}

proptest! {
    /// A device that is not active is never allowed a protected operation, whatever else holds.
    #[test]
    fn non_active_device_never_allowed(mut input in arb_input(), state in prop::sample::select(DeviceState::ALL.to_vec())) {
        prop_assume!(state != DeviceState::Active);
        input.device.state = state;
        for operation in Operation::ALL.into_iter().filter(|op| op.is_protected()) {
            let decision = evaluate(&input, operation);
            prop_assert_eq!(decision.outcome, Outcome::Deny, "{} {}", state, operation);
        }
    }

    /// The same input always gives the same decision; the outcome is always the most severe of
    /// the listed reasons; and an allow always rests on a signed-in, current, full session.
    #[test]
    fn evaluate_is_deterministic_and_consistent(input in arb_input()) {
        for operation in Operation::ALL {
            let first = evaluate(&input, operation);
            let second = evaluate(&input.clone(), operation);
            prop_assert_eq!(&first, &second);
            let worst = first.reasons.iter().map(Reason::outcome).max().unwrap_or(Outcome::Allow);
            prop_assert_eq!(first.outcome, worst);
            if first.is_allowed() && operation.is_protected() {
                let session = input.session.as_ref();
                prop_assert!(session.is_some_and(|s| s.kind == SessionKind::Full
                    && s.recovery_epoch == input.account.recovery_epoch
                    && input.now < s.expires_at));
                prop_assert!(input.device.ledger_verified && input.device.key_present);
            }
        }
    }
}
