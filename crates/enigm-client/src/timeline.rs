//! The account's device history as a picture: one lane per device, its states over the
//! ledger's history, replayed from the verified entries through enigm-core's lifecycle. The app
//! draws it (and its text alternative) from this view alone.

use enigm_core::identity::DeviceId;
use enigm_core::ledger::RevokeReason;
use enigm_core::lifecycle::{DeviceState, LifecycleEvent, transition};
use serde::Serialize;
use ts_rs::TS;

use crate::{Actor, Change, ClientError, DeviceList, LedgerHistory};

/// Why a history that verified still cannot be drawn: a move the lifecycle forbids.
const FORBIDDEN_MOVE: &str = "the history makes a move the device lifecycle forbids";

/// A stretch of a device's life in one state, from the ledger entry that started it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct TimelineSegment {
    /// Ledger position of the entry that put the device in this state.
    pub from_seq: u64,
    /// The state.
    pub state: DeviceState,
    /// The entry's kind.
    pub change: Change,
    /// When, by the clock of the device that made the change (shown as "around"); `None` for
    /// entries made before entries carried a time.
    pub signed_at: Option<u64>,
    /// Who made the change.
    pub actor: Actor,
    /// The device that made it, when a device did.
    pub by: Option<DeviceId>,
    /// Why it was revoked, when the entry says.
    pub reason: Option<RevokeReason>,
}

/// One device's lane: its states over the ledger's history.
#[derive(Clone, Debug, Serialize, TS)]
pub struct TimelineLane {
    /// The device id.
    pub device_id: DeviceId,
    /// The short fingerprint users compare.
    pub fingerprint: String,
    /// The label, when this computer can read it.
    pub label: Option<String>,
    /// Whether it is the computer running this app.
    pub this_device: bool,
    /// Its states, oldest first; the last one lasts until the head.
    pub segments: Vec<TimelineSegment>,
}

/// A change to the account itself, not to one device (a new recovery phrase, an organization).
#[derive(Clone, Debug, Serialize, TS)]
pub struct TimelineMark {
    /// Ledger position.
    pub seq: u64,
    /// The entry's kind (`rotate_recovery`, `join_organization`, `leave_organization`).
    pub kind: Change,
    /// When, by the clock of the device that made it; `None` for entries made before entries
    /// carried a time.
    pub signed_at: Option<u64>,
    /// Who made the change.
    pub actor: Actor,
    /// The device that made it, when a device did.
    pub by: Option<DeviceId>,
}

/// The account's device history from the verified ledger, one lane per device, for the
/// timeline picture and its text alternative.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DeviceTimelineView {
    /// The verified head's sequence number: where the lanes end.
    pub head_seq: u64,
    /// One lane per device, in the order they joined.
    pub lanes: Vec<TimelineLane>,
    /// The account-wide changes.
    pub marks: Vec<TimelineMark>,
}

impl DeviceTimelineView {
    /// Replays the verified history through the core's lifecycle to get each device's states;
    /// names and labels come from the verified device list.
    ///
    /// # Errors
    /// [`ClientError::LedgerInconsistent`] when the history and the list disagree, or the
    /// history makes a move the lifecycle forbids (neither happens for a verified ledger).
    pub fn new(history: &LedgerHistory, list: &DeviceList) -> Result<Self, ClientError> {
        let mut lanes: Vec<(DeviceId, DeviceState, TimelineLane)> = Vec::new();
        let mut marks = Vec::new();
        let mut replaces = std::collections::BTreeMap::new();
        for entry in &history.entries {
            let segment = |state: DeviceState| TimelineSegment {
                from_seq: entry.seq,
                state,
                change: entry.kind,
                signed_at: entry.signed_at,
                actor: entry.actor,
                by: entry.by,
                reason: entry.reason,
            };
            let mut moves: Vec<(DeviceId, LifecycleEvent)> = Vec::new();
            let mut joined: Option<(DeviceId, bool)> = None;
            match (entry.kind, entry.device) {
                (Change::Genesis, Some(device)) => joined = Some((device, false)),
                (Change::AddDevice, Some(device)) => {
                    // The core decides review from the organization's mode, which the history
                    // does not carry; a device went to review exactly when a review of it
                    // follows or it is still in review.
                    let reviewed = history.entries.iter().any(|later| {
                        later.seq > entry.seq
                            && later.kind == Change::Review
                            && later.device == entry.device
                    }) || list
                        .devices
                        .iter()
                        .any(|view| view.device_id == device && view.state == DeviceState::Review);
                    joined = Some((device, reviewed));
                    if let Some(old) = entry.replaces {
                        replaces.insert(device, old);
                    }
                }
                (Change::Suspend, Some(device)) => moves.push((device, LifecycleEvent::Suspend)),
                (Change::Resume, Some(device)) => moves.push((device, LifecycleEvent::Resume)),
                (Change::Revoke, Some(device)) => moves.push((device, LifecycleEvent::Revoke)),
                (Change::Retire, Some(device)) => moves.push((device, LifecycleEvent::Retire)),
                (Change::Review, Some(device)) => moves.push((
                    device,
                    if entry.approved == Some(true) {
                        LifecycleEvent::ReviewApprove
                    } else {
                        LifecycleEvent::ReviewReject
                    },
                )),
                (Change::Recover, Some(device)) => {
                    moves.extend(
                        entry
                            .revoked
                            .iter()
                            .map(|lost| (*lost, LifecycleEvent::Revoke)),
                    );
                    joined = Some((device, false));
                }
                (kind, _) => marks.push(TimelineMark {
                    seq: entry.seq,
                    kind,
                    signed_at: entry.signed_at,
                    actor: entry.actor,
                    by: entry.by,
                }),
            }
            for (device, event) in moves {
                step(&mut lanes, device, event, &segment)?;
            }
            if let Some((device, needs_review)) = joined {
                let state = transition(
                    DeviceState::Pending,
                    LifecycleEvent::Approve { needs_review },
                )
                .map_err(|_| ClientError::LedgerInconsistent(FORBIDDEN_MOVE))?;
                let view = list
                    .devices
                    .iter()
                    .find(|view| view.device_id == device)
                    .ok_or(ClientError::LedgerInconsistent(
                        "a device of the history is not in the list",
                    ))?;
                lanes.push((
                    device,
                    state,
                    TimelineLane {
                        device_id: device,
                        fingerprint: view.fingerprint.clone(),
                        label: view.label.clone(),
                        this_device: view.this_device,
                        segments: vec![segment(state)],
                    },
                ));
            }
            // Once a successor is active, the device it replaces is replaced.
            if let Some(device) = entry.device
                && let Some(old) = replaces.get(&device).copied()
                && lanes
                    .iter()
                    .any(|(id, state, _)| *id == device && state.is_active())
            {
                replaces.remove(&device);
                step(&mut lanes, old, LifecycleEvent::Replace, &segment)?;
            }
        }
        Ok(Self {
            head_seq: history.head.seq,
            lanes: lanes.into_iter().map(|(_, _, lane)| lane).collect(),
            marks,
        })
    }
}

/// Moves `device`'s lane on by `event`, as the core's lifecycle allows.
fn step(
    lanes: &mut [(DeviceId, DeviceState, TimelineLane)],
    device: DeviceId,
    event: LifecycleEvent,
    segment: &dyn Fn(DeviceState) -> TimelineSegment,
) -> Result<(), ClientError> {
    let (_, state, lane) = lanes.iter_mut().find(|(id, _, _)| *id == device).ok_or(
        ClientError::LedgerInconsistent("the history changes a device before it joined"),
    )?;
    *state =
        transition(*state, event).map_err(|_| ClientError::LedgerInconsistent(FORBIDDEN_MOVE))?;
    lane.segments.push(segment(*state));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceView, EntryView, HeadView, JoinedBy};
    use enigm_core::ledger::EntryHash;

    fn id(byte: u8) -> DeviceId {
        DeviceId::from_bytes([byte; 16])
    }

    fn entry(seq: u64, kind: Change, device: Option<u8>, actor: Actor) -> EntryView {
        EntryView {
            seq,
            hash: EntryHash::ZERO,
            kind,
            signed_at: Some(1_796_000_000 + seq),
            device: device.map(id),
            actor,
            by: (actor == Actor::Device).then(|| id(1)),
            reason: None,
            replaces: None,
            revoked: Vec::new(),
            approved: None,
        }
    }

    fn device(byte: u8, state: DeviceState) -> DeviceView {
        DeviceView {
            device_id: id(byte),
            fingerprint: format!("FP{byte}"),
            label: None,
            state,
            this_device: byte == 3,
            origin: JoinedBy::Enrollment,
            approved_by: None,
            added_at: 0,
            changed_at: 0,
            replaces: None,
            replaced_by: None,
            last_seen_day: None,
            last_seen: None,
            actions: Vec::new(),
        }
    }

    fn history(entries: Vec<EntryView>) -> LedgerHistory {
        let seq = entries.last().map_or(0, |entry| entry.seq);
        LedgerHistory {
            entries,
            head: HeadView {
                seq,
                hash: EntryHash::ZERO,
            },
            verified: true,
        }
    }

    fn list(history: &LedgerHistory, devices: Vec<DeviceView>) -> DeviceList {
        DeviceList {
            devices,
            head: history.head,
            verified: true,
            synced: true,
        }
    }

    fn lane_states(view: &DeviceTimelineView, lane: usize) -> Vec<(u64, DeviceState)> {
        view.lanes[lane]
            .segments
            .iter()
            .map(|segment| (segment.from_seq, segment.state))
            .collect()
    }

    #[test]
    fn the_timeline_replays_each_devices_states_and_who_changed_them() {
        use DeviceState::{Active, Replaced, Revoked, Suspended};
        let mut recover = entry(3, Change::Recover, Some(3), Actor::RecoveryKey);
        recover.revoked = vec![id(2)];
        let mut replace = entry(5, Change::AddDevice, Some(4), Actor::Device);
        replace.replaces = Some(id(1));
        let history = history(vec![
            entry(0, Change::Genesis, Some(1), Actor::Device),
            entry(1, Change::AddDevice, Some(2), Actor::Device),
            entry(2, Change::Suspend, Some(2), Actor::Device),
            recover,
            entry(4, Change::RotateRecovery, None, Actor::Device),
            replace,
        ]);
        let list = list(
            &history,
            vec![
                device(1, Replaced),
                device(2, Revoked),
                device(3, Active),
                device(4, Active),
            ],
        );
        let view = DeviceTimelineView::new(&history, &list).unwrap();
        assert_eq!(view.head_seq, 5);
        assert_eq!(lane_states(&view, 0), [(0, Active), (5, Replaced)]);
        assert_eq!(
            lane_states(&view, 1),
            [(1, Active), (2, Suspended), (3, Revoked)]
        );
        assert_eq!(lane_states(&view, 2), [(3, Active)]);
        assert_eq!(lane_states(&view, 3), [(5, Active)]);
        // Each lane ends in the state the verified list shows.
        for (lane, listed) in view.lanes.iter().zip(&list.devices) {
            assert_eq!(lane.segments.last().unwrap().state, listed.state);
        }
        let lost = &view.lanes[1].segments[2];
        assert_eq!(lost.actor, Actor::RecoveryKey);
        assert_eq!(lost.by, None);
        assert_eq!(view.lanes[1].segments[0].by, Some(id(1)));
        assert!(view.lanes[2].this_device);
        assert_eq!(view.marks.len(), 1);
        assert_eq!(view.marks[0].kind, Change::RotateRecovery);
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["lanes"][1]["segments"][0]["by"], id(1).to_hex());
        assert_eq!(json["lanes"][1]["segments"][2]["change"], "recover");
        assert_eq!(json["lanes"][1]["segments"][2]["signed_at"], 1_796_000_003);
        assert_eq!(view.marks[0].signed_at, Some(1_796_000_004));
    }

    #[test]
    fn a_history_the_lifecycle_forbids_is_refused() {
        let history = history(vec![
            entry(0, Change::Genesis, Some(1), Actor::Device),
            entry(1, Change::Resume, Some(1), Actor::Device),
        ]);
        let list = list(&history, vec![device(1, DeviceState::Active)]);
        let error = DeviceTimelineView::new(&history, &list).unwrap_err();
        assert_eq!(error.code(), "ledger_rejected");
    }
}
