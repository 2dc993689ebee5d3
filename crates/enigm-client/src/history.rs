//! The account's device history, entry by entry, from the verified ledger: what
//! `enigm ledger show` prints and what the app's timeline draws. Every field comes from an
//! entry this engine verified itself; nothing is taken from the service's say-so.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{EntryHash, EntryKind, LedgerEntry, RevokeReason, Signer};
use serde::Serialize;
use ts_rs::TS;

use crate::view::HeadView;
use crate::{ClientError, Engine};

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A device of the account (`by` names it).
    Device,
    /// The recovery key (the recovery phrase was used).
    RecoveryKey,
    /// The organization that manages the account.
    Organization,
}

/// What a ledger entry changed: its kind, without its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The account was created with its first device.
    Genesis,
    /// A device was added (approved, possibly replacing another).
    AddDevice,
    /// A device was suspended.
    Suspend,
    /// A suspended device was resumed.
    Resume,
    /// A device was revoked.
    Revoke,
    /// A removed device was retired.
    Retire,
    /// The organization reviewed a device.
    Review,
    /// The account was recovered with the recovery phrase.
    Recover,
    /// The recovery phrase was replaced.
    RotateRecovery,
    /// The account joined an organization.
    JoinOrganization,
    /// The account left its organization.
    LeaveOrganization,
}

/// One verified ledger entry, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct EntryView {
    /// Position in the chain; 0 created the account.
    pub seq: u64,
    /// The entry's hash.
    pub hash: EntryHash,
    /// What happened.
    pub kind: Change,
    /// When, by the clock of the device that made it (seconds since the epoch): signed, but
    /// only that device's word, so shown as "around"; `None` for entries made before entries
    /// carried a time.
    pub signed_at: Option<u64>,
    /// The device the entry is about, if any.
    pub device: Option<DeviceId>,
    /// Who made the change.
    pub actor: Actor,
    /// The device that made it, when a device did.
    pub by: Option<DeviceId>,
    /// Why a device was revoked.
    pub reason: Option<RevokeReason>,
    /// The device an added device supersedes.
    pub replaces: Option<DeviceId>,
    /// The devices a recovery revoked.
    pub revoked: Vec<DeviceId>,
    /// For a review: whether the organization approved.
    pub approved: Option<bool>,
}

/// The whole verified history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct LedgerHistory {
    /// Every entry from the account's creation to the head.
    pub entries: Vec<EntryView>,
    /// The verified head.
    pub head: HeadView,
    /// Always `true`: a history is only built from a ledger that verified.
    pub verified: bool,
}

impl EntryView {
    /// The words for one entry. Only called on verified entries, so the signer rules held.
    pub fn from_entry(entry: &LedgerEntry) -> Self {
        let signing_device = entry.signatures.iter().find_map(|s| match s.signer {
            Signer::Device(id) => Some(id),
            Signer::Recovery | Signer::Organization | Signer::NewRecovery => None,
        });
        let signed_by_organization = entry
            .signatures
            .iter()
            .any(|s| s.signer == Signer::Organization);
        // A recovery carries the new device's own signature (proof of possession), but the
        // recovery key made the change.
        let (actor, by) = match (&entry.kind, signing_device) {
            (EntryKind::Recover { .. }, _) => (Actor::RecoveryKey, None),
            (EntryKind::Genesis { first_device, .. }, _) => {
                (Actor::Device, Some(first_device.device_id()))
            }
            (EntryKind::AddDevice { approved_by, .. }, _) => (Actor::Device, Some(*approved_by)),
            (_, Some(device)) => (Actor::Device, Some(device)),
            (_, None) if signed_by_organization => (Actor::Organization, None),
            (_, None) => (Actor::RecoveryKey, None),
        };
        let mut view = Self {
            seq: entry.seq,
            hash: entry.hash(),
            kind: Change::Genesis,
            signed_at: entry.signed_at,
            device: None,
            actor,
            by,
            reason: None,
            replaces: None,
            revoked: Vec::new(),
            approved: None,
        };
        (view.kind, view.device) = match &entry.kind {
            EntryKind::Genesis { first_device, .. } => {
                (Change::Genesis, Some(first_device.device_id()))
            }
            EntryKind::AddDevice {
                device, replaces, ..
            } => {
                view.replaces = *replaces;
                (Change::AddDevice, Some(device.device_id()))
            }
            EntryKind::Suspend { device } => (Change::Suspend, Some(*device)),
            EntryKind::Resume { device } => (Change::Resume, Some(*device)),
            EntryKind::Retire { device } => (Change::Retire, Some(*device)),
            EntryKind::Revoke { device, reason } => {
                view.reason = Some(*reason);
                (Change::Revoke, Some(*device))
            }
            EntryKind::Review { device, approve } => {
                view.approved = Some(*approve);
                (Change::Review, Some(*device))
            }
            EntryKind::Recover { new_device, revoke } => {
                view.revoked.clone_from(revoke);
                (Change::Recover, Some(new_device.device_id()))
            }
            EntryKind::RotateRecovery { .. } => (Change::RotateRecovery, None),
            EntryKind::JoinOrganization { .. } => (Change::JoinOrganization, None),
            EntryKind::LeaveOrganization => (Change::LeaveOrganization, None),
        };
        view
    }
}

impl Engine {
    /// Syncs, then returns the verified history entry by entry.
    ///
    /// # Errors
    /// As [`Engine::sync`].
    pub async fn ledger_history(&self) -> Result<LedgerHistory, ClientError> {
        let state = self.sync_state().await?;
        let stored = self
            .with_store_blocking(|store| store.ledger_entries())
            .await?;
        let entries = stored
            .iter()
            .map(|bytes| LedgerEntry::decode(bytes).map(|entry| EntryView::from_entry(&entry)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClientError::LedgerRejected)?;
        let head = state.head();
        Ok(LedgerHistory {
            entries,
            head: HeadView {
                seq: head.seq,
                hash: head.hash,
            },
            verified: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use enigm_core::identity::DeviceSecrets;
    use enigm_core::ledger::verify_chain;
    use rand_core::OsRng;

    use super::*;

    #[test]
    fn each_entry_names_its_device_and_who_acted() {
        let account = [9; 16];
        let first = DeviceSecrets::generate(&mut OsRng);
        let recovery = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let genesis = LedgerEntry::genesis(account, &first, &recovery);
        let state = verify_chain(std::slice::from_ref(&genesis)).unwrap();
        let second = DeviceSecrets::generate(&mut OsRng);
        let mut add = state.next_entry(EntryKind::AddDevice {
            device: second.public(),
            approved_by: first.device_id(),
            replaces: None,
        });
        add.sign_device(&account, &first);
        add.sign_device(&account, &second);
        let mut state = state;
        state.apply(std::slice::from_ref(&add)).unwrap();
        let mut revoke = state
            .next_entry(EntryKind::Revoke {
                device: second.device_id(),
                reason: RevokeReason::Lost,
            })
            .signed_at(1_796_284_860);
        revoke.sign_device(&account, &first);
        state.apply(std::slice::from_ref(&revoke)).unwrap();
        let third = DeviceSecrets::generate(&mut OsRng);
        let mut recover = state.next_entry(EntryKind::Recover {
            new_device: third.public(),
            revoke: vec![first.device_id()],
        });
        recover.sign_with(&account, Signer::Recovery, &recovery);
        recover.sign_device(&account, &third);
        state.apply(std::slice::from_ref(&recover)).unwrap();

        let views: Vec<EntryView> = [&genesis, &add, &revoke, &recover]
            .into_iter()
            .map(|entry| LedgerEntry::decode(&entry.encode()).unwrap())
            .map(|entry| EntryView::from_entry(&entry))
            .collect();
        assert_eq!(
            views.iter().map(|v| v.kind).collect::<Vec<_>>(),
            [
                Change::Genesis,
                Change::AddDevice,
                Change::Revoke,
                Change::Recover
            ]
        );
        assert_eq!(views[1].device, Some(second.device_id()));
        assert_eq!(views[1].by, Some(first.device_id()));
        assert_eq!(views[2].reason, Some(RevokeReason::Lost));
        // A dated entry keeps its signer's time through encoding; an undated one has none.
        assert_eq!(views[2].signed_at, Some(1_796_284_860));
        assert_eq!(views[1].signed_at, None);
        assert_eq!(views[2].by, Some(first.device_id()));
        assert_eq!(views[3].actor, Actor::RecoveryKey);
        assert_eq!(views[3].by, None);
        assert_eq!(views[3].device, Some(third.device_id()));
        assert_eq!(views[3].revoked, vec![first.device_id()]);

        let json = serde_json::to_value(&views[3]).unwrap();
        assert_eq!(json["actor"], "recovery_key");
        assert_eq!(json["kind"], "recover");
        assert_eq!(json["revoked"][0], first.device_id().to_hex());
        assert_eq!(json["hash"], hex::encode(recover.hash().0));
    }
}
