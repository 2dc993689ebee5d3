//! What the app and the CLI show about the account's devices: plain data drawn from a verified
//! ledger state. The JSON shape is the CLI contract of DESIGN §16 (`device list --json`), and
//! the same types cross the app's IPC (their TypeScript is generated with ts-rs).

use enigm_core::identity::DeviceId;
use enigm_core::ledger::{DeviceOrigin, EntryHash, LedgerState};
use enigm_core::lifecycle::{DeviceState, LifecycleEvent, transition};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ClientError;

/// Shortest device-id prefix a command accepts, so a typo cannot hit another device by luck.
const MIN_PREFIX_LEN: usize = 4;

/// How a device joined the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum JoinedBy {
    /// It created the account.
    Genesis,
    /// A trusted device approved it.
    Enrollment,
    /// The recovery phrase made it the account's device.
    Recovery,
}

/// A change a person may make to a device of the account from another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// Give it another label.
    Rename,
    /// Withdraw its trust for now.
    Suspend,
    /// Give a suspended device its trust back.
    Resume,
    /// Remove it for good.
    Revoke,
    /// Archive a device already removed or replaced.
    Retire,
}

/// One device of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DeviceView {
    /// The device id (hex): what device commands take.
    pub device_id: DeviceId,
    /// The short fingerprint users compare.
    pub fingerprint: String,
    /// The label, decrypted with the account sync key; `None` when unset, unreachable, or it
    /// does not decrypt for this device (never an error for the whole list).
    pub label: Option<String>,
    /// Its lifecycle state.
    pub state: DeviceState,
    /// Whether this is the device running the engine.
    pub this_device: bool,
    /// How it joined.
    pub origin: JoinedBy,
    /// The device that approved its enrollment.
    pub approved_by: Option<DeviceId>,
    /// Ledger time it was added (seq of its entry).
    pub added_at: u64,
    /// Ledger position of its last state change.
    pub changed_at: u64,
    /// The device it replaces, if any.
    pub replaces: Option<DeviceId>,
    /// The device that replaced it, if any.
    pub replaced_by: Option<DeviceId>,
    /// The last day (days since the Unix epoch, UTC) the service saw it make a request: the
    /// service's word, not the ledger's, and coarse on purpose. `None` when unknown.
    pub last_seen_day: Option<u64>,
    /// That day as people say it ("today", "3 days ago"), as of the day the list was read.
    pub last_seen: Option<String>,
    /// What this device may do to it, as the lifecycle allows (a device does not suspend,
    /// resume, remove or retire itself).
    pub actions: Vec<DeviceAction>,
}

/// The head a device list was verified at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
pub struct HeadView {
    /// Sequence number.
    pub seq: u64,
    /// Entry hash.
    pub hash: EntryHash,
}

/// The account's devices from the verified ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct DeviceList {
    /// Every device the ledger knows, in the order they joined.
    pub devices: Vec<DeviceView>,
    /// The verified head.
    pub head: HeadView,
    /// Always `true`: a list is only built from a ledger that verified.
    pub verified: bool,
    /// True when just checked with the service; false when the service could not be reached
    /// and this is the copy verified last time.
    pub synced: bool,
}

/// What happened to another device of the account between two verified lists: every device
/// tells its user when one joins, is replaced, is removed, is paused or resumed (DESIGN §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceNews {
    /// It became active: approved, or the device a recovery created.
    Joined,
    /// A newer device took its place.
    Replaced,
    /// It was revoked, or retired while still trusted.
    Removed,
    /// It was suspended: it can do nothing until it is resumed.
    Paused,
    /// It was resumed after a suspension.
    Resumed,
}

impl DeviceView {
    /// What this device may do to `device` in `state`: rename any device still in the account,
    /// and make the lifecycle's moves on any other.
    fn actions(state: DeviceState, this_device: bool) -> Vec<DeviceAction> {
        let mut actions = Vec::new();
        if !state.is_terminal() {
            actions.push(DeviceAction::Rename);
        }
        if this_device {
            return actions;
        }
        let moves = [
            (DeviceAction::Suspend, LifecycleEvent::Suspend),
            (DeviceAction::Resume, LifecycleEvent::Resume),
            (DeviceAction::Revoke, LifecycleEvent::Revoke),
            (DeviceAction::Retire, LifecycleEvent::Retire),
        ];
        actions.extend(
            moves
                .into_iter()
                .filter(|(_, event)| transition(state, *event).is_ok())
                .map(|(action, _)| action),
        );
        actions
    }

    /// When it was last seen, as people say it ("today", "3 days ago", "2 months ago"): as
    /// coarse as the day it comes from. `None` when unknown.
    pub fn last_seen(&self, today: u64) -> Option<String> {
        Some(days_ago(self.last_seen_day?, today))
    }
}

/// Day `day` seen from `today` (both days since the Unix epoch), as people say it: "today",
/// "yesterday", "3 days ago", "2 weeks ago", "2 months ago", "3 years ago".
pub(crate) fn days_ago(day: u64, today: u64) -> String {
    let days = today.saturating_sub(day);
    match days {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        2..=13 => format!("{days} days ago"),
        14..=59 => format!("{} weeks ago", days / 7),
        60..=729 => format!("{} months ago", days / 30),
        _ => format!("{} years ago", days / 365),
    }
}

impl DeviceList {
    /// The view of a verified state; `this` is the engine's own device.
    pub fn from_state(state: &LedgerState, this: Option<DeviceId>) -> Self {
        let mut devices: Vec<DeviceView> = state
            .devices()
            .map(|(id, record)| DeviceView {
                device_id: *id,
                fingerprint: id.fingerprint(),
                label: None,
                state: record.state,
                this_device: Some(*id) == this,
                origin: match record.origin {
                    DeviceOrigin::Genesis => JoinedBy::Genesis,
                    DeviceOrigin::ApprovedBy(_) => JoinedBy::Enrollment,
                    DeviceOrigin::Recovered => JoinedBy::Recovery,
                },
                approved_by: match record.origin {
                    DeviceOrigin::ApprovedBy(approver) => Some(approver),
                    DeviceOrigin::Genesis | DeviceOrigin::Recovered => None,
                },
                added_at: record.added_at,
                changed_at: record.changed_at,
                replaces: record.replaces,
                replaced_by: record.replaced_by,
                last_seen_day: None,
                last_seen: None,
                actions: DeviceView::actions(record.state, Some(*id) == this),
            })
            .collect();
        // This computer first, where people look for it; the others in joining order.
        devices.sort_by_key(|device| {
            (
                !device.this_device,
                device.added_at,
                device.device_id.to_hex(),
            )
        });
        let head = state.head();
        Self {
            devices,
            head: HeadView {
                seq: head.seq,
                hash: head.hash,
            },
            verified: true,
            synced: true,
        }
    }

    /// Adds the days the service says each device was last seen. A day after `today` cannot be
    /// true and is left out, and so is a device the list does not know.
    pub fn set_last_seen(&mut self, seen: impl IntoIterator<Item = (DeviceId, u64)>, today: u64) {
        for (device, day) in seen {
            if day > today {
                continue;
            }
            if let Some(view) = self.devices.iter_mut().find(|v| v.device_id == device) {
                view.last_seen_day = Some(day);
                view.last_seen = view.last_seen(today);
            }
        }
    }

    /// The news between `before` and this later list, in joining order. This device is left
    /// out (its own removal has a screen of its own), and so is a step that changes nothing
    /// for the user, like retiring a device already revoked.
    pub fn news_since<'a>(&'a self, before: &DeviceList) -> Vec<(DeviceNews, &'a DeviceView)> {
        self.devices
            .iter()
            .filter(|device| !device.this_device)
            .filter_map(|device| {
                let was = before
                    .devices
                    .iter()
                    .find(|old| old.device_id == device.device_id)
                    .map(|old| old.state);
                if was == Some(device.state) {
                    return None;
                }
                let was_waiting =
                    was.is_none_or(|old| matches!(old, DeviceState::Pending | DeviceState::Review));
                let was_trusted = was
                    .is_some_and(|old| matches!(old, DeviceState::Active | DeviceState::Suspended));
                let news = if device.state == DeviceState::Active && was_waiting {
                    DeviceNews::Joined
                } else if device.state == DeviceState::Replaced {
                    DeviceNews::Replaced
                } else if device.state == DeviceState::Revoked
                    || (device.state == DeviceState::Retired && was_trusted)
                {
                    DeviceNews::Removed
                } else if device.state == DeviceState::Suspended {
                    DeviceNews::Paused
                } else if device.state == DeviceState::Active && was == Some(DeviceState::Suspended)
                {
                    DeviceNews::Resumed
                } else {
                    return None;
                };
                Some((news, device))
            })
            .collect()
    }

    /// The device whose id is `text` or starts with it (hex, at least 4 characters).
    ///
    /// # Errors
    /// [`ClientError::UnknownDevice`] / [`ClientError::AmbiguousDevice`].
    pub fn resolve(&self, text: &str) -> Result<&DeviceView, ClientError> {
        let wanted = text.trim().to_ascii_lowercase();
        if wanted.len() < MIN_PREFIX_LEN || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ClientError::UnknownDevice(text.to_owned()));
        }
        let mut matches = self
            .devices
            .iter()
            .filter(|device| device.device_id.to_hex().starts_with(&wanted));
        match (matches.next(), matches.next()) {
            (Some(device), None) => Ok(device),
            (Some(_), Some(_)) => Err(ClientError::AmbiguousDevice(text.to_owned())),
            (None, _) => Err(ClientError::UnknownDevice(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigm_core::identity::DeviceSecrets;
    use enigm_core::ledger::{LedgerEntry, verify_chain};
    use rand_core::OsRng;

    #[test]
    fn the_list_marks_this_device_and_resolves_prefixes() {
        let device = DeviceSecrets::generate(&mut OsRng);
        let recovery = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let genesis = LedgerEntry::genesis([5; 16], &device, &recovery);
        let state = verify_chain(&[genesis]).unwrap();
        let list = DeviceList::from_state(&state, Some(device.device_id()));
        assert_eq!(list.devices.len(), 1);
        assert!(list.devices[0].this_device);
        assert_eq!(list.devices[0].state, DeviceState::Active);
        assert_eq!(list.devices[0].actions, [DeviceAction::Rename]);
        let hex = device.device_id().to_hex();
        assert_eq!(
            list.resolve(&hex[..6]).unwrap().device_id,
            device.device_id()
        );
        assert_eq!(
            list.resolve(&hex.to_uppercase()).unwrap().device_id,
            device.device_id()
        );
        assert_eq!(list.resolve("abc").unwrap_err().code(), "unknown_device");
        assert_eq!(list.resolve("zzzzzz").unwrap_err().code(), "unknown_device");

        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["devices"][0]["device_id"], hex);
        assert_eq!(json["verified"], true);
        assert_eq!(json["head"]["seq"], 0);
    }

    #[test]
    fn this_computer_comes_first_and_the_others_in_joining_order() {
        let account = [5; 16];
        let first = DeviceSecrets::generate(&mut OsRng);
        let recovery = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let mut entries = vec![LedgerEntry::genesis(account, &first, &recovery)];
        let joined: Vec<DeviceSecrets> = (0..2)
            .map(|_| DeviceSecrets::generate(&mut OsRng))
            .collect();
        for device in &joined {
            let previous = entries.last().unwrap();
            let mut add = LedgerEntry::new(
                previous.seq + 1,
                previous.hash(),
                enigm_core::ledger::EntryKind::AddDevice {
                    device: device.public(),
                    approved_by: first.device_id(),
                    replaces: None,
                },
            );
            add.sign_device(&account, &first);
            add.sign_device(&account, device);
            entries.push(add);
        }
        let state = verify_chain(&entries).unwrap();
        let order = |this: &DeviceSecrets| -> Vec<DeviceId> {
            DeviceList::from_state(&state, Some(this.device_id()))
                .devices
                .iter()
                .map(|device| device.device_id)
                .collect()
        };
        let ids = [
            first.device_id(),
            joined[0].device_id(),
            joined[1].device_id(),
        ];
        assert_eq!(order(&joined[1]), [ids[2], ids[0], ids[1]]);
        assert_eq!(order(&first), ids);
    }

    #[test]
    fn news_tells_who_joined_was_replaced_removed_paused_or_resumed_but_not_this_device() {
        use DeviceState::{Active, Pending, Replaced, Retired, Revoked, Suspended};
        let device = |n: u8, state: DeviceState, this_device: bool| DeviceView {
            device_id: DeviceId::from_bytes([n; 16]),
            fingerprint: String::new(),
            label: None,
            state,
            this_device,
            origin: JoinedBy::Enrollment,
            approved_by: None,
            added_at: u64::from(n),
            changed_at: u64::from(n),
            replaces: None,
            replaced_by: None,
            last_seen_day: None,
            last_seen: None,
            actions: DeviceView::actions(state, this_device),
        };
        let list = |devices: Vec<DeviceView>| DeviceList {
            devices,
            head: HeadView {
                seq: 0,
                hash: EntryHash::ZERO,
            },
            verified: true,
            synced: true,
        };
        let before = list(vec![
            device(1, Active, true),
            device(2, Active, false),
            device(3, Active, false),
            device(4, Revoked, false),
            device(5, Pending, false),
            device(7, Active, false),
            device(8, Suspended, false),
        ]);
        let after = list(vec![
            device(1, Revoked, true),
            device(2, Replaced, false),
            device(3, Revoked, false),
            device(4, Retired, false),
            device(5, Active, false),
            device(6, Active, false),
            device(7, Suspended, false),
            device(8, Active, false),
        ]);
        let news: Vec<(DeviceNews, u8)> = after
            .news_since(&before)
            .into_iter()
            .map(|(news, view)| (news, view.device_id.as_bytes()[0]))
            .collect();
        assert_eq!(
            news,
            [
                (DeviceNews::Replaced, 2),
                (DeviceNews::Removed, 3),
                (DeviceNews::Joined, 5),
                (DeviceNews::Joined, 6),
                (DeviceNews::Paused, 7),
                (DeviceNews::Resumed, 8),
            ]
        );
        assert!(after.news_since(&after).is_empty());
    }

    #[test]
    fn last_seen_days_are_kept_only_for_listed_devices_and_never_in_the_future() {
        let device = DeviceSecrets::generate(&mut OsRng);
        let recovery = ed25519_dalek::SigningKey::generate(&mut OsRng);
        let state = verify_chain(&[LedgerEntry::genesis([5; 16], &device, &recovery)]).unwrap();
        let mut list = DeviceList::from_state(&state, Some(device.device_id()));
        assert_eq!(list.devices[0].last_seen_day, None);

        let stranger = DeviceId::from_bytes([9; 16]);
        list.set_last_seen([(stranger, 20_000), (device.device_id(), 20_001)], 20_000);
        assert_eq!(
            list.devices.len(),
            1,
            "a device the ledger does not know is not added"
        );
        assert_eq!(
            list.devices[0].last_seen_day, None,
            "tomorrow cannot be true"
        );

        list.set_last_seen([(device.device_id(), 19_999)], 20_000);
        assert_eq!(list.devices[0].last_seen_day, Some(19_999));
        assert_eq!(list.devices[0].last_seen.as_deref(), Some("yesterday"));
        let seen = |today: u64| list.devices[0].last_seen(today).unwrap();
        assert_eq!(seen(19_999), "today");
        assert_eq!(seen(20_000), "yesterday");
        assert_eq!(seen(20_012), "13 days ago");
        assert_eq!(seen(20_013), "2 weeks ago");
        assert_eq!(seen(20_058), "8 weeks ago");
        assert_eq!(seen(20_059), "2 months ago");
        assert_eq!(seen(20_728), "24 months ago");
        assert_eq!(seen(20_729), "2 years ago");
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["devices"][0]["last_seen_day"], 19_999);
        assert_eq!(json["devices"][0]["last_seen"], "yesterday");
    }

    #[test]
    fn each_device_offers_exactly_the_moves_the_lifecycle_allows_to_another_device() {
        use DeviceAction::{Rename, Resume, Retire, Revoke, Suspend};
        let offered = |state, this| DeviceView::actions(state, this);
        assert_eq!(
            offered(DeviceState::Active, false),
            [Rename, Suspend, Revoke]
        );
        assert_eq!(
            offered(DeviceState::Suspended, false),
            [Rename, Resume, Revoke]
        );
        assert_eq!(offered(DeviceState::Pending, false), [Rename, Revoke]);
        assert_eq!(offered(DeviceState::Review, false), [Rename, Revoke]);
        assert_eq!(offered(DeviceState::Revoked, false), [Retire]);
        assert_eq!(offered(DeviceState::Replaced, false), [Retire]);
        assert!(offered(DeviceState::Retired, false).is_empty());
        // This device is never offered a move against itself, whatever its state.
        for state in DeviceState::ALL {
            assert!(offered(state, true).iter().all(|action| *action == Rename));
        }
    }
}
