//! The verified ledger state and the rules each entry kind must satisfy (DESIGN §4, §5).
//!
//! [`LedgerState`] is what a client believes after verifying a chain: the account's devices
//! with their keys and lifecycle states, the recovery key, the pinned organization, the recovery
//! epoch and the head. It can only be built by verification, and its fields are read-only, so
//! holding a `LedgerState` means holding a verified view.
//!
//! Signer rules, enforced exactly (every other signature is refused, so the signature set of an
//! entry is fully determined by its meaning):
//!
//! | kind | signatures |
//! |---|---|
//! | `Genesis` | the first device (proof of possession) + the recovery key being pinned |
//! | `AddDevice` | `approved_by` (active) + the new device (proof of possession) |
//! | `Suspend`, `Resume`, `Revoke`, `Retire` | one active device, or the organization key if the account is managed |
//! | `Review` | the pinned organization key |
//! | `Recover` | the recovery key + the new device (proof of possession) |
//! | `RotateRecovery` | one active device + the new recovery key |
//! | `JoinOrganization` | one active device (consent) + the organization key being pinned |
//! | `LeaveOrganization` | one active device |
//!
//! Policy decisions the design leaves open, decided here:
//! - **Review**: when the account is managed (`managed_mode`), `AddDevice` moves the new device
//!   `Pending -> Review`; only a `Review` entry signed by the organization makes it `Active` (or
//!   revokes it). Unmanaged accounts skip review. `Recover` adds its device `Active` even when
//!   managed: recovery exists to restore access when no trusted device is left, and the
//!   organization can still suspend or revoke it.
//! - **Replacement**: `AddDevice{replaces: Some(old)}` is refused unless `old` could be replaced
//!   now; when the new device becomes `Active` (at once, or when its review passes) `old` goes
//!   `Active -> Replaced` through [`transition`], in the same entry. If `old` is no longer active
//!   by then, the activating entry is refused with [`Error::IllegalTransition`].
//! - Every key entering the ledger must be torsion-free (honest keys always are), which is what
//!   lets batch verification agree with `verify_strict`; see `verify.rs`.
//! - Device ids are never reused: adding an id the ledger already holds (in any state) is refused.

use std::collections::BTreeMap;

use ed25519_dalek::Signature;

use crate::Error;
use crate::identity::{AgreementPublicKey, DeviceId, DevicePublicKeys, SigningPublicKey};
use crate::lifecycle::{DeviceState, LifecycleEvent, transition};

use super::entry::{AccountId, EntryHash, EntryKind, LedgerEntry, RevokeReason, Signer};

/// The last verified entry: what a client pins and compares every later view against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Head {
    /// Sequence number of the entry.
    pub seq: u64,
    /// Its hash.
    pub hash: EntryHash,
}

/// How a device entered the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceOrigin {
    /// It created the account.
    Genesis,
    /// An active device approved its enrollment.
    ApprovedBy(DeviceId),
    /// It was added by the recovery key.
    Recovered,
}

/// One device as the verified ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Its public keys.
    pub keys: DevicePublicKeys,
    /// Its lifecycle state.
    pub state: DeviceState,
    /// How it was added.
    pub origin: DeviceOrigin,
    /// The device it supersedes, if it was enrolled as a replacement.
    pub replaces: Option<DeviceId>,
    /// The device that superseded it, once that one became active.
    pub replaced_by: Option<DeviceId>,
    /// Sequence number of the entry that added it.
    pub added_at: u64,
    /// Sequence number of the entry that last changed its state.
    pub changed_at: u64,
    /// Why it was revoked, when it was revoked by a `Revoke` entry.
    pub revoke_reason: Option<RevokeReason>,
    /// Sequence number of the entry that removed it (revoked or replaced it), kept when it is
    /// later retired: the proof a removed device is shown of who removed it.
    pub removed_at: Option<u64>,
}

/// The organization the account has joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Organization {
    /// The pinned organization signing key.
    pub key: SigningPublicKey,
    /// New devices need the organization's review; the organization may suspend and revoke.
    pub managed_mode: bool,
    /// The user allowed remote wipe.
    pub remote_wipe_allowed: bool,
    /// Sequence number of the `JoinOrganization` entry.
    pub joined_at: u64,
}

/// A verified view of one account's ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerState {
    account_id: AccountId,
    devices: BTreeMap<DeviceId, DeviceRecord>,
    recovery_key: SigningPublicKey,
    organization: Option<Organization>,
    recovery_epoch: u64,
    head: Head,
}

/// A signature an entry's rules require, with the key it must verify under.
pub(crate) struct SignatureCheck {
    pub(crate) key: SigningPublicKey,
    pub(crate) signature: Signature,
}

/// Who, besides the fixed signers, must authorize an entry.
#[derive(Clone, Copy)]
enum Authority {
    /// Nobody else.
    Nobody,
    /// Exactly one active device of the account.
    ActiveDevice,
    /// Exactly one active device, or the organization key of a managed account.
    ActiveDeviceOrManagedOrganization,
}

impl LedgerState {
    /// The account this ledger belongs to.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// The last verified entry; pin it.
    pub fn head(&self) -> Head {
        self.head
    }

    /// One device, in any state.
    pub fn device(&self, id: &DeviceId) -> Option<&DeviceRecord> {
        self.devices.get(id)
    }

    /// Every device the account ever had, ordered by id.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceId, &DeviceRecord)> {
        self.devices.iter()
    }

    /// The devices that may sign and use the account now.
    pub fn active_devices(&self) -> impl Iterator<Item = (&DeviceId, &DeviceRecord)> {
        self.devices
            .iter()
            .filter(|(_, record)| record.state.is_active())
    }

    /// The current recovery key.
    pub fn recovery_key(&self) -> &SigningPublicKey {
        &self.recovery_key
    }

    /// The organization, if the account joined one.
    pub fn organization(&self) -> Option<&Organization> {
        self.organization.as_ref()
    }

    /// How many recoveries the account went through; sessions from an older epoch are stale.
    pub fn recovery_epoch(&self) -> u64 {
        self.recovery_epoch
    }

    /// An unsigned entry that extends this state's head; sign it and verify it with
    /// [`LedgerState::apply`].
    pub fn next_entry(&self, kind: EntryKind) -> LedgerEntry {
        LedgerEntry::new(self.head.seq.saturating_add(1), self.head.hash, kind)
    }

    /// Builds the state a genesis entry creates and the signatures it must carry.
    pub(crate) fn from_genesis(entry: &LedgerEntry) -> Result<(Self, Vec<SignatureCheck>), Error> {
        let seq = entry.seq;
        let EntryKind::Genesis {
            account_id,
            first_device,
            recovery_pub,
        } = &entry.kind
        else {
            return Err(Error::LedgerGenesisMisplaced { seq });
        };
        if seq != 0 {
            return Err(Error::LedgerGenesisMisplaced { seq });
        }
        if entry.prev_hash != EntryHash::ZERO {
            return Err(Error::LedgerBrokenChain { seq });
        }
        let first_id = first_device.device_id();
        let checks = expect_signatures(
            entry,
            vec![
                (Signer::Device(first_id), Ok(first_device.signing)),
                (Signer::Recovery, Ok(*recovery_pub)),
            ],
            Authority::Nobody,
            |_| Err(Error::LedgerUnexpectedSignature { seq }),
        )?;
        require_torsion_free(seq, &first_device.signing)?;
        require_contributory(seq, &first_device.agreement)?;
        require_torsion_free(seq, recovery_pub)?;
        let state = transition(
            DeviceState::Pending,
            LifecycleEvent::Approve {
                needs_review: false,
            },
        )?;
        let mut devices = BTreeMap::new();
        devices.insert(
            first_id,
            DeviceRecord {
                keys: *first_device,
                state,
                origin: DeviceOrigin::Genesis,
                replaces: None,
                replaced_by: None,
                added_at: seq,
                changed_at: seq,
                revoke_reason: None,
                removed_at: None,
            },
        );
        let ledger = Self {
            account_id: *account_id,
            devices,
            recovery_key: *recovery_pub,
            organization: None,
            recovery_epoch: 0,
            head: Head {
                seq,
                hash: entry.hash(),
            },
        };
        Ok((ledger, checks))
    }

    /// Applies one non-genesis entry's rules to `self` (the caller works on a copy and discards
    /// it on error) and returns the signatures still to be checked cryptographically.
    pub(crate) fn step(&mut self, entry: &LedgerEntry) -> Result<Vec<SignatureCheck>, Error> {
        let seq = entry.seq;
        let expected = self.head.seq.checked_add(1).ok_or(Error::LedgerWrongSeq {
            expected: u64::MAX,
            found: seq,
        })?;
        if seq != expected {
            return Err(Error::LedgerWrongSeq {
                expected,
                found: seq,
            });
        }
        if entry.prev_hash != self.head.hash {
            return Err(Error::LedgerBrokenChain { seq });
        }
        let checks = match &entry.kind {
            EntryKind::Genesis { .. } => return Err(Error::LedgerGenesisMisplaced { seq }),
            EntryKind::AddDevice {
                device,
                approved_by,
                replaces,
            } => self.add_device(entry, device, *approved_by, *replaces)?,
            EntryKind::Suspend { device } => {
                self.change_device(entry, *device, LifecycleEvent::Suspend)?
            }
            EntryKind::Resume { device } => {
                self.change_device(entry, *device, LifecycleEvent::Resume)?
            }
            EntryKind::Revoke { device, reason } => {
                let checks = self.change_device(entry, *device, LifecycleEvent::Revoke)?;
                self.record_mut(seq, *device)?.revoke_reason = Some(*reason);
                checks
            }
            EntryKind::Retire { device } => {
                self.change_device(entry, *device, LifecycleEvent::Retire)?
            }
            EntryKind::Review { device, approve } => {
                let org_key = self.managed_key(seq, false)?;
                let checks = expect_signatures(
                    entry,
                    vec![(Signer::Organization, Ok(org_key))],
                    Authority::Nobody,
                    |_| Err(Error::LedgerUnexpectedSignature { seq }),
                )?;
                let event = if *approve {
                    LifecycleEvent::ReviewApprove
                } else {
                    LifecycleEvent::ReviewReject
                };
                self.set_state(seq, *device, event)?;
                self.activate_replacement(seq, *device)?;
                checks
            }
            EntryKind::Recover { new_device, revoke } => {
                let new_id = new_device.device_id();
                let checks = expect_signatures(
                    entry,
                    vec![
                        (Signer::Recovery, Ok(self.recovery_key)),
                        (Signer::Device(new_id), Ok(new_device.signing)),
                    ],
                    Authority::Nobody,
                    |_| Err(Error::LedgerUnexpectedSignature { seq }),
                )?;
                for lost in revoke {
                    self.set_state(seq, *lost, LifecycleEvent::Revoke)?;
                }
                self.insert_device(seq, new_device, DeviceOrigin::Recovered, None, false)?;
                self.recovery_epoch = self.recovery_epoch.saturating_add(1);
                checks
            }
            EntryKind::RotateRecovery { new_recovery_pub } => {
                let checks =
                    self.new_key_signatures(entry, Signer::NewRecovery, new_recovery_pub)?;
                self.recovery_key = *new_recovery_pub;
                checks
            }
            EntryKind::JoinOrganization {
                org_pub,
                managed_mode,
                remote_wipe_allowed,
            } => {
                if self.organization.is_some() {
                    return Err(Error::LedgerAlreadyInOrganization { seq });
                }
                let checks = self.new_key_signatures(entry, Signer::Organization, org_pub)?;
                self.organization = Some(Organization {
                    key: *org_pub,
                    managed_mode: *managed_mode,
                    remote_wipe_allowed: *remote_wipe_allowed,
                    joined_at: seq,
                });
                checks
            }
            EntryKind::LeaveOrganization => {
                if self.organization.is_none() {
                    return Err(Error::LedgerNotManaged { seq });
                }
                let checks =
                    expect_signatures(entry, Vec::new(), Authority::ActiveDevice, |signer| {
                        self.authority_key(seq, signer, false)
                    })?;
                self.organization = None;
                checks
            }
        };
        self.head = Head {
            seq,
            hash: entry.hash(),
        };
        Ok(checks)
    }

    fn add_device(
        &mut self,
        entry: &LedgerEntry,
        device: &DevicePublicKeys,
        approved_by: DeviceId,
        replaces: Option<DeviceId>,
    ) -> Result<Vec<SignatureCheck>, Error> {
        let seq = entry.seq;
        let new_id = device.device_id();
        // The approver always resolves against the ledger, never against the new device, so a
        // device cannot approve itself.
        let approver = self.active_key(seq, approved_by);
        let checks = expect_signatures(
            entry,
            vec![
                (Signer::Device(approved_by), approver),
                (Signer::Device(new_id), Ok(device.signing)),
            ],
            Authority::Nobody,
            |_| Err(Error::LedgerUnexpectedSignature { seq }),
        )?;
        if let Some(old) = replaces {
            let old_state = self.record(seq, old)?.state;
            transition(old_state, LifecycleEvent::Replace)?;
        }
        let needs_review = self
            .organization
            .as_ref()
            .is_some_and(|org| org.managed_mode);
        self.insert_device(
            seq,
            device,
            DeviceOrigin::ApprovedBy(approved_by),
            replaces,
            needs_review,
        )?;
        self.activate_replacement(seq, new_id)?;
        Ok(checks)
    }

    fn insert_device(
        &mut self,
        seq: u64,
        keys: &DevicePublicKeys,
        origin: DeviceOrigin,
        replaces: Option<DeviceId>,
        needs_review: bool,
    ) -> Result<(), Error> {
        let id = keys.device_id();
        if self.devices.contains_key(&id) {
            return Err(Error::LedgerDuplicateDevice { seq });
        }
        require_torsion_free(seq, &keys.signing)?;
        require_contributory(seq, &keys.agreement)?;
        let state = transition(
            DeviceState::Pending,
            LifecycleEvent::Approve { needs_review },
        )?;
        self.devices.insert(
            id,
            DeviceRecord {
                keys: *keys,
                state,
                origin,
                replaces,
                replaced_by: None,
                added_at: seq,
                changed_at: seq,
                revoke_reason: None,
                removed_at: None,
            },
        );
        Ok(())
    }

    /// Once `id` is active, the device it replaces becomes `Replaced`.
    fn activate_replacement(&mut self, seq: u64, id: DeviceId) -> Result<(), Error> {
        let record = self.record(seq, id)?;
        if !record.state.is_active() {
            return Ok(());
        }
        if let Some(old) = record.replaces {
            self.set_state(seq, old, LifecycleEvent::Replace)?;
            self.record_mut(seq, old)?.replaced_by = Some(id);
        }
        Ok(())
    }

    fn change_device(
        &mut self,
        entry: &LedgerEntry,
        device: DeviceId,
        event: LifecycleEvent,
    ) -> Result<Vec<SignatureCheck>, Error> {
        let seq = entry.seq;
        let checks = expect_signatures(
            entry,
            Vec::new(),
            Authority::ActiveDeviceOrManagedOrganization,
            |signer| self.authority_key(seq, signer, true),
        )?;
        self.set_state(seq, device, event)?;
        Ok(checks)
    }

    fn set_state(&mut self, seq: u64, id: DeviceId, event: LifecycleEvent) -> Result<(), Error> {
        let record = self.record_mut(seq, id)?;
        record.state = transition(record.state, event)?;
        record.changed_at = seq;
        if record.removed_at.is_none()
            && matches!(record.state, DeviceState::Revoked | DeviceState::Replaced)
        {
            record.removed_at = Some(seq);
        }
        Ok(())
    }

    fn record(&self, seq: u64, id: DeviceId) -> Result<&DeviceRecord, Error> {
        self.devices
            .get(&id)
            .ok_or(Error::LedgerUnknownDevice { seq })
    }

    fn record_mut(&mut self, seq: u64, id: DeviceId) -> Result<&mut DeviceRecord, Error> {
        self.devices
            .get_mut(&id)
            .ok_or(Error::LedgerUnknownDevice { seq })
    }

    /// The key of a device allowed to sign now.
    fn active_key(&self, seq: u64, id: DeviceId) -> Result<SigningPublicKey, Error> {
        let record = self
            .devices
            .get(&id)
            .ok_or(Error::LedgerUnknownSigner { seq })?;
        if record.state.is_active() {
            Ok(record.keys.signing)
        } else {
            Err(Error::LedgerSignerNotActive {
                seq,
                state: record.state,
            })
        }
    }

    /// The organization key, when the organization may act (`need_managed`: only in managed mode).
    fn managed_key(&self, seq: u64, need_managed: bool) -> Result<SigningPublicKey, Error> {
        match &self.organization {
            Some(org) if org.managed_mode || !need_managed => Ok(org.key),
            Some(_) | None => Err(Error::LedgerNotManaged { seq }),
        }
    }

    /// The signatures of an entry that brings in a new long-term key (`signer`'s): the new key
    /// itself and an active device; the key must not be of low order.
    fn new_key_signatures(
        &self,
        entry: &LedgerEntry,
        signer: Signer,
        key: &SigningPublicKey,
    ) -> Result<Vec<SignatureCheck>, Error> {
        let checks = expect_signatures(
            entry,
            vec![(signer, Ok(*key))],
            Authority::ActiveDevice,
            |signer| self.authority_key(entry.seq, signer, false),
        )?;
        require_torsion_free(entry.seq, key)?;
        Ok(checks)
    }

    /// Resolves the one authorizing signer of an entry.
    fn authority_key(
        &self,
        seq: u64,
        signer: Signer,
        organization_allowed: bool,
    ) -> Result<SigningPublicKey, Error> {
        match signer {
            Signer::Device(id) => self.active_key(seq, id),
            Signer::Organization if organization_allowed => self.managed_key(seq, true),
            Signer::Organization | Signer::Recovery | Signer::NewRecovery => {
                Err(Error::LedgerUnexpectedSignature { seq })
            }
        }
    }
}

/// Checks that `entry` carries exactly the `fixed` signers plus what `authority` requires, and
/// pairs every signature with the key it must verify under.
fn expect_signatures(
    entry: &LedgerEntry,
    fixed: Vec<(Signer, Result<SigningPublicKey, Error>)>,
    authority: Authority,
    resolve_authority: impl Fn(Signer) -> Result<SigningPublicKey, Error>,
) -> Result<Vec<SignatureCheck>, Error> {
    let seq = entry.seq;
    let mut checks = Vec::with_capacity(entry.signatures.len());
    for (signer, key) in fixed.iter() {
        let present = entry
            .signatures
            .iter()
            .find(|signature| signature.signer == *signer)
            .ok_or(Error::LedgerMissingSignature { seq })?;
        checks.push(SignatureCheck {
            key: key.clone()?,
            signature: present.signature,
        });
    }
    let mut others = entry
        .signatures
        .iter()
        .filter(|signature| !fixed.iter().any(|(signer, _)| *signer == signature.signer));
    let first = others.next();
    if others.next().is_some() {
        return Err(Error::LedgerUnexpectedSignature { seq });
    }
    match (authority, first) {
        (Authority::Nobody, None) => {}
        (Authority::Nobody, Some(_)) => return Err(Error::LedgerUnexpectedSignature { seq }),
        (Authority::ActiveDevice | Authority::ActiveDeviceOrManagedOrganization, None) => {
            return Err(Error::LedgerMissingSignature { seq });
        }
        (
            Authority::ActiveDevice | Authority::ActiveDeviceOrManagedOrganization,
            Some(signature),
        ) => {
            checks.push(SignatureCheck {
                key: resolve_authority(signature.signer)?,
                signature: signature.signature,
            });
        }
    }
    Ok(checks)
}

/// Refuses keys with a small-order component (see the module docs).
fn require_torsion_free(seq: u64, key: &SigningPublicKey) -> Result<(), Error> {
    if key.verifying_key().to_edwards().is_torsion_free() {
        Ok(())
    } else {
        Err(Error::LedgerKeyNotTorsionFree { seq })
    }
}

/// Refuses a low-order agreement key: every secret sealed to a device (the account sync key)
/// is sealed to the key the ledger holds for it, so the ledger is where such keys are stopped.
fn require_contributory(seq: u64, key: &AgreementPublicKey) -> Result<(), Error> {
    if key.is_low_order() {
        Err(Error::LedgerLowOrderAgreementKey { seq })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_support::{ACCOUNT, History, Key, device, org_key, recovery_key};
    use crate::ledger::verify_chain;

    fn id(n: u8) -> DeviceId {
        device(n).device_id()
    }

    fn suspend(n: u8) -> EntryKind {
        EntryKind::Suspend { device: id(n) }
    }

    fn join(history: &mut History, managed_mode: bool) {
        let org = org_key();
        history
            .push(
                EntryKind::JoinOrganization {
                    org_pub: SigningPublicKey::from(&org),
                    managed_mode,
                    remote_wipe_allowed: false,
                },
                &[
                    Key::Device(&device(1)),
                    Key::Raw(Signer::Organization, &org),
                ],
            )
            .unwrap();
    }

    #[test]
    fn genesis_pins_first_device_and_recovery_key() {
        let history = History::new();
        let state = &history.state;
        assert_eq!(state.account_id(), &ACCOUNT);
        assert_eq!(state.device(&id(1)).unwrap().state, DeviceState::Active);
        assert_eq!(state.device(&id(1)).unwrap().origin, DeviceOrigin::Genesis);
        assert_eq!(
            state.recovery_key(),
            &SigningPublicKey::from(&recovery_key(1))
        );
        assert_eq!(state.head().seq, 0);
        assert_eq!(state.recovery_epoch(), 0);
    }

    #[test]
    fn genesis_without_recovery_signature_is_refused() {
        let mut genesis = LedgerEntry::genesis(ACCOUNT, &device(1), &recovery_key(1));
        genesis
            .signatures
            .retain(|signature| signature.signer != Signer::Recovery);
        assert_eq!(
            verify_chain(&[genesis]),
            Err(Error::LedgerMissingSignature { seq: 0 })
        );
    }

    #[test]
    fn add_device_needs_an_active_approver_and_proof_of_possession() {
        let history = History::with_two_devices();
        assert_eq!(
            history.state.device(&id(2)).unwrap().origin,
            DeviceOrigin::ApprovedBy(id(1))
        );
        // Without the new device's own signature.
        let new = device(3);
        let kind = EntryKind::AddDevice {
            device: new.public(),
            approved_by: id(1),
            replaces: None,
        };
        let missing_pop = history.draft(kind.clone(), &[Key::Device(&device(1))]);
        assert_eq!(
            history.state.clone().apply(&[missing_pop]),
            Err(Error::LedgerMissingSignature { seq: 2 })
        );
        // Self-approval: the new device names itself as approver.
        let self_approved = history.draft(
            EntryKind::AddDevice {
                device: new.public(),
                approved_by: new.device_id(),
                replaces: None,
            },
            &[Key::Device(&new)],
        );
        assert_eq!(
            history.state.clone().apply(&[self_approved]),
            Err(Error::LedgerUnknownSigner { seq: 2 })
        );
        // An approver that is not in the ledger.
        let stranger = device(9);
        let unknown = history.draft(
            EntryKind::AddDevice {
                device: new.public(),
                approved_by: stranger.device_id(),
                replaces: None,
            },
            &[Key::Device(&stranger), Key::Device(&new)],
        );
        assert_eq!(
            history.state.clone().apply(&[unknown]),
            Err(Error::LedgerUnknownSigner { seq: 2 })
        );
        // An extra signature nobody asked for.
        let extra = history.draft(
            kind,
            &[
                Key::Device(&device(1)),
                Key::Device(&new),
                Key::Device(&device(2)),
            ],
        );
        assert_eq!(
            history.state.clone().apply(&[extra]),
            Err(Error::LedgerUnexpectedSignature { seq: 2 })
        );
    }

    #[test]
    fn suspended_and_revoked_devices_cannot_approve() {
        let mut history = History::with_two_devices();
        history
            .push(suspend(2), &[Key::Device(&device(1))])
            .unwrap();
        assert_eq!(
            history.add(3, 2),
            Err(Error::LedgerSignerNotActive {
                seq: 3,
                state: DeviceState::Suspended
            })
        );
        history
            .push(
                EntryKind::Revoke {
                    device: id(2),
                    reason: RevokeReason::Lost,
                },
                &[Key::Device(&device(1))],
            )
            .unwrap();
        assert_eq!(
            history.add(3, 2),
            Err(Error::LedgerSignerNotActive {
                seq: 4,
                state: DeviceState::Revoked
            })
        );
        let record = history.state.device(&id(2)).unwrap();
        assert_eq!(record.revoke_reason, Some(RevokeReason::Lost));
        assert_eq!(record.changed_at, 3);
    }

    #[test]
    fn duplicate_device_is_refused() {
        let mut history = History::with_two_devices();
        assert_eq!(
            history.add(2, 1),
            Err(Error::LedgerDuplicateDevice { seq: 2 })
        );
        // Even the genesis device cannot be added again.
        assert_eq!(
            history.add(1, 2),
            Err(Error::LedgerDuplicateDevice { seq: 2 })
        );
    }

    #[test]
    fn illegal_transitions_are_errors() {
        let mut history = History::with_two_devices();
        for (kind, event) in [
            (EntryKind::Resume { device: id(2) }, LifecycleEvent::Resume),
            (EntryKind::Retire { device: id(2) }, LifecycleEvent::Retire),
        ] {
            let from = DeviceState::Active;
            assert_eq!(
                history.push(kind, &[Key::Device(&device(1))]),
                Err(Error::IllegalTransition { from, event })
            );
        }
        assert_eq!(
            history.push(suspend(7), &[Key::Device(&device(1))]),
            Err(Error::LedgerUnknownDevice { seq: 2 })
        );
    }

    #[test]
    fn replacement_marks_the_predecessor_replaced() {
        let mut history = History::with_two_devices();
        let new = device(3);
        history
            .push(
                EntryKind::AddDevice {
                    device: new.public(),
                    approved_by: id(2),
                    replaces: Some(id(2)),
                },
                &[Key::Device(&device(2)), Key::Device(&new)],
            )
            .unwrap();
        let old = history.state.device(&id(2)).unwrap();
        assert_eq!(old.state, DeviceState::Replaced);
        assert_eq!(old.replaced_by, Some(id(3)));
        assert_eq!(history.state.device(&id(3)).unwrap().replaces, Some(id(2)));
        // A replaced device cannot be replaced twice or sign.
        assert_eq!(
            history.push(
                EntryKind::AddDevice {
                    device: device(4).public(),
                    approved_by: id(1),
                    replaces: Some(id(2)),
                },
                &[Key::Device(&device(1)), Key::Device(&device(4))],
            ),
            Err(Error::IllegalTransition {
                from: DeviceState::Replaced,
                event: LifecycleEvent::Replace
            })
        );
    }

    #[test]
    fn organization_actions_need_a_managed_account() {
        let mut history = History::with_two_devices();
        let org = org_key();
        assert_eq!(
            history.push(suspend(2), &[Key::Raw(Signer::Organization, &org)]),
            Err(Error::LedgerNotManaged { seq: 2 })
        );
        join(&mut history, false);
        assert_eq!(
            history.push(suspend(2), &[Key::Raw(Signer::Organization, &org)]),
            Err(Error::LedgerNotManaged { seq: 3 })
        );
        assert_eq!(
            history.push(EntryKind::LeaveOrganization, &[Key::Device(&device(2))]),
            Ok(())
        );
        assert_eq!(
            history.push(EntryKind::LeaveOrganization, &[Key::Device(&device(2))]),
            Err(Error::LedgerNotManaged { seq: 4 })
        );
    }

    #[test]
    fn managed_mode_puts_new_devices_into_review() {
        let mut history = History::new();
        join(&mut history, true);
        let org = org_key();
        assert_eq!(
            history.push(
                EntryKind::LeaveOrganization,
                &[Key::Raw(Signer::Organization, &org)]
            ),
            Err(Error::LedgerUnexpectedSignature { seq: 2 })
        );
        history.add(2, 1).unwrap();
        assert_eq!(
            history.state.device(&id(2)).unwrap().state,
            DeviceState::Review
        );
        // A device under review cannot sign, and a device cannot pass its own review.
        assert!(matches!(
            history.add(3, 2),
            Err(Error::LedgerSignerNotActive { .. })
        ));
        assert_eq!(
            history.push(
                EntryKind::Review {
                    device: id(2),
                    approve: true
                },
                &[Key::Device(&device(1))]
            ),
            Err(Error::LedgerMissingSignature { seq: 3 })
        );
        history
            .push(
                EntryKind::Review {
                    device: id(2),
                    approve: true,
                },
                &[Key::Raw(Signer::Organization, &org)],
            )
            .unwrap();
        assert_eq!(
            history.state.device(&id(2)).unwrap().state,
            DeviceState::Active
        );
        // The organization may suspend in managed mode.
        history
            .push(suspend(2), &[Key::Raw(Signer::Organization, &org)])
            .unwrap();
        assert_eq!(
            history.state.device(&id(2)).unwrap().state,
            DeviceState::Suspended
        );
        assert_eq!(
            history.push(
                EntryKind::JoinOrganization {
                    org_pub: SigningPublicKey::from(&org),
                    managed_mode: true,
                    remote_wipe_allowed: true
                },
                &[
                    Key::Device(&device(1)),
                    Key::Raw(Signer::Organization, &org)
                ],
            ),
            Err(Error::LedgerAlreadyInOrganization { seq: 5 })
        );
    }

    #[test]
    fn recovery_adds_a_device_revokes_lost_ones_and_bumps_the_epoch() {
        let mut history = History::with_two_devices();
        let new = device(3);
        let recovery = recovery_key(1);
        let kind = EntryKind::Recover {
            new_device: new.public(),
            revoke: vec![id(1), id(2)],
        };
        // A device key cannot stand in for the recovery key.
        assert_eq!(
            history.push(kind.clone(), &[Key::Device(&device(1)), Key::Device(&new)]),
            Err(Error::LedgerMissingSignature { seq: 2 })
        );
        // The wrong recovery key fails cryptographically.
        assert_eq!(
            history.push(
                kind.clone(),
                &[
                    Key::Raw(Signer::Recovery, &recovery_key(2)),
                    Key::Device(&new)
                ]
            ),
            Err(Error::LedgerBadSignature { seq: 2 })
        );
        history
            .push(
                kind,
                &[Key::Raw(Signer::Recovery, &recovery), Key::Device(&new)],
            )
            .unwrap();
        let state = &history.state;
        assert_eq!(state.recovery_epoch(), 1);
        assert_eq!(state.device(&id(1)).unwrap().state, DeviceState::Revoked);
        assert_eq!(state.device(&id(2)).unwrap().state, DeviceState::Revoked);
        assert_eq!(
            state.device(&id(3)).unwrap().origin,
            DeviceOrigin::Recovered
        );
        assert_eq!(
            state
                .active_devices()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            vec![id(3)]
        );
    }

    #[test]
    fn rotate_recovery_needs_an_active_device_and_the_new_key() {
        let mut history = History::new();
        let new_key = recovery_key(2);
        let kind = EntryKind::RotateRecovery {
            new_recovery_pub: SigningPublicKey::from(&new_key),
        };
        assert_eq!(
            history.push(kind.clone(), &[Key::Device(&device(1))]),
            Err(Error::LedgerMissingSignature { seq: 1 })
        );
        assert_eq!(
            history.push(kind.clone(), &[Key::Raw(Signer::NewRecovery, &new_key)]),
            Err(Error::LedgerMissingSignature { seq: 1 })
        );
        history
            .push(
                kind,
                &[
                    Key::Device(&device(1)),
                    Key::Raw(Signer::NewRecovery, &new_key),
                ],
            )
            .unwrap();
        assert_eq!(
            history.state.recovery_key(),
            &SigningPublicKey::from(&new_key)
        );
        // The old recovery key no longer recovers.
        let recover = EntryKind::Recover {
            new_device: device(5).public(),
            revoke: vec![],
        };
        assert_eq!(
            history.push(
                recover,
                &[
                    Key::Raw(Signer::Recovery, &recovery_key(1)),
                    Key::Device(&device(5))
                ]
            ),
            Err(Error::LedgerBadSignature { seq: 2 })
        );
    }

    #[test]
    fn low_order_agreement_keys_cannot_enter_the_ledger() {
        // The all-zero point (order 2 on the curve's twist and curve alike) and a point of
        // order 8: sealing to either gives an all-zero shared secret, whatever the sender's key.
        let order_8: [u8; 32] =
            hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .unwrap()
                .try_into()
                .unwrap();
        for weak in [[0u8; 32], order_8] {
            let keys = DevicePublicKeys {
                signing: device(5).public().signing,
                agreement: AgreementPublicKey::from_bytes(weak),
            };
            let mut history = History::new();
            let entry = history.draft(
                EntryKind::AddDevice {
                    device: keys,
                    approved_by: id(1),
                    replaces: None,
                },
                &[Key::Device(&device(1)), Key::Device(&device(5))],
            );
            assert_eq!(
                history.state.apply(&[entry]),
                Err(Error::LedgerLowOrderAgreementKey { seq: 1 })
            );
        }
    }

    #[test]
    fn mixed_order_keys_cannot_enter_the_ledger() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        // A valid, non-small-order key plus a point of order 8: it passes SigningPublicKey's
        // checks but has a torsion component.
        let honest = SigningPublicKey::from(&org_key());
        let mixed = (honest.verifying_key().to_edwards() + EIGHT_TORSION[1]).compress();
        let mixed = SigningPublicKey::from_bytes(mixed.as_bytes()).unwrap();
        let mut history = History::new();
        let entry = history.draft(
            EntryKind::RotateRecovery {
                new_recovery_pub: mixed,
            },
            &[Key::Device(&device(1))],
        );
        // Signature set first (the new key cannot sign), then the key itself.
        assert_eq!(
            history.state.clone().apply(&[entry]),
            Err(Error::LedgerMissingSignature { seq: 1 })
        );
        let mut entry = history.draft(
            EntryKind::RotateRecovery {
                new_recovery_pub: mixed,
            },
            &[Key::Device(&device(1))],
        );
        entry.insert_signature(crate::ledger::EntrySignature {
            signer: Signer::NewRecovery,
            signature: ed25519_dalek::Signature::from_bytes(&[0; 64]),
        });
        assert_eq!(
            history.state.apply(&[entry]),
            Err(Error::LedgerKeyNotTorsionFree { seq: 1 })
        );
    }
}
