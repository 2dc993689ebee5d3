//! The account's device history, entry by entry, from the verified ledger: what
//! `enigm ledger show` prints and what the app's timeline draws. Every field comes from an
//! entry this engine verified itself; nothing is taken from the service's say-so.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{EntryKind, LedgerEntry, Signer};
use serde::Serialize;

use crate::view::{HeadView, hex_hash, hex_id_list, hex_opt};
use crate::{ClientError, Engine};

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A device of the account (`by` names it).
    Device,
    /// The recovery key (the recovery phrase was used).
    RecoveryKey,
    /// The organization that manages the account.
    Organization,
}

/// One verified ledger entry, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryView {
    /// Position in the chain; 0 created the account.
    pub seq: u64,
    /// The entry's hash.
    #[serde(serialize_with = "hex_hash")]
    pub hash: [u8; 32],
    /// What happened: `genesis`, `add_device`, `suspend`, `resume`, `revoke`, `retire`,
    /// `review`, `recover`, `rotate_recovery`, `join_organization`, `leave_organization`.
    pub kind: &'static str,
    /// The device the entry is about, if any.
    #[serde(serialize_with = "hex_opt")]
    pub device: Option<DeviceId>,
    /// Who made the change.
    pub actor: Actor,
    /// The device that made it, when a device did.
    #[serde(serialize_with = "hex_opt")]
    pub by: Option<DeviceId>,
    /// Why a device was revoked.
    pub reason: Option<&'static str>,
    /// The device an added device supersedes.
    #[serde(serialize_with = "hex_opt")]
    pub replaces: Option<DeviceId>,
    /// The devices a recovery revoked.
    #[serde(serialize_with = "hex_id_list")]
    pub revoked: Vec<DeviceId>,
    /// For a review: whether the organization approved.
    pub approved: Option<bool>,
}

/// The whole verified history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
            hash: entry.hash().0,
            kind: "",
            device: None,
            actor,
            by,
            reason: None,
            replaces: None,
            revoked: Vec::new(),
            approved: None,
        };
        match &entry.kind {
            EntryKind::Genesis { first_device, .. } => {
                (view.kind, view.device) = ("genesis", Some(first_device.device_id()));
            }
            EntryKind::AddDevice {
                device, replaces, ..
            } => {
                (view.kind, view.device) = ("add_device", Some(device.device_id()));
                view.replaces = *replaces;
            }
            EntryKind::Suspend { device } => (view.kind, view.device) = ("suspend", Some(*device)),
            EntryKind::Resume { device } => (view.kind, view.device) = ("resume", Some(*device)),
            EntryKind::Retire { device } => (view.kind, view.device) = ("retire", Some(*device)),
            EntryKind::Revoke { device, reason } => {
                (view.kind, view.device) = ("revoke", Some(*device));
                view.reason = Some(reason.as_str());
            }
            EntryKind::Review { device, approve } => {
                (view.kind, view.device) = ("review", Some(*device));
                view.approved = Some(*approve);
            }
            EntryKind::Recover { new_device, revoke } => {
                (view.kind, view.device) = ("recover", Some(new_device.device_id()));
                view.revoked.clone_from(revoke);
            }
            EntryKind::RotateRecovery { .. } => view.kind = "rotate_recovery",
            EntryKind::JoinOrganization { .. } => view.kind = "join_organization",
            EntryKind::LeaveOrganization => view.kind = "leave_organization",
        }
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
                hash: head.hash.0,
            },
            verified: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use enigm_core::identity::DeviceSecrets;
    use enigm_core::ledger::{RevokeReason, verify_chain};
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
        let mut revoke = state.next_entry(EntryKind::Revoke {
            device: second.device_id(),
            reason: RevokeReason::Lost,
        });
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
            .map(EntryView::from_entry)
            .collect();
        assert_eq!(
            views.iter().map(|v| v.kind).collect::<Vec<_>>(),
            ["genesis", "add_device", "revoke", "recover"]
        );
        assert_eq!(views[1].device, Some(second.device_id()));
        assert_eq!(views[1].by, Some(first.device_id()));
        assert_eq!(views[2].reason, Some("lost"));
        assert_eq!(views[2].by, Some(first.device_id()));
        assert_eq!(views[3].actor, Actor::RecoveryKey);
        assert_eq!(views[3].by, None);
        assert_eq!(views[3].device, Some(third.device_id()));
        assert_eq!(views[3].revoked, vec![first.device_id()]);

        let json = serde_json::to_value(&views[3]).unwrap();
        assert_eq!(json["actor"], "recovery_key");
        assert_eq!(json["revoked"][0], first.device_id().to_hex());
        assert_eq!(json["hash"], hex::encode(recover.hash().0));
    }
}
