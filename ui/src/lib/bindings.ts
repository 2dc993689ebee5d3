// Generated from src-tauri/src/ipc.rs by ts-rs; do not edit. Regenerate with
// `UPDATE_BINDINGS=1 cargo test -p enigm-app --lib bindings`.

export type IpcError = { 
/**
 * Stable, lower-case, machine-readable (the engine's `ClientError::code`).
 */
code: string, 
/**
 * One or two plain sentences: what happened and what to do.
 */
message: string, 
/**
 * Seconds until the service accepts another attempt, when it said (`rate_limited`): the
 * window counts down to it rather than showing a number that goes stale.
 */
retry_after?: number, };

export type AppStatus = { 
/**
 * The app version.
 */
app_version: string, 
/**
 * The service this profile talks to, once known (saved in the profile or `ENIGM_SERVER`).
 */
server: string | null, 
/**
 * The encrypted store and its keychain.
 */
store: StoreStatus, 
/**
 * Whether this computer already belongs to an account.
 */
has_account: boolean, 
/**
 * The session as this computer last knew it.
 */
session: SessionView, 
/**
 * Whether the app is locked (it then shows only the Locked screen).
 */
lock: LockView, };

export type LockView = { 
/**
 * The account is hidden until the PIN or the password is given again.
 */
locked: boolean, 
/**
 * A device unlock PIN is set (it unlocks offline); the password always works too, checked
 * online by the service.
 */
pin_set: boolean, 
/**
 * Unlocking with the password needs the username too.
 */
needs_username: boolean, 
/**
 * Seconds before the next PIN is accepted (0: now).
 */
retry_in: number, 
/**
 * Minutes without use after which the window locks itself; 0 never.
 */
auto_lock_minutes: number, };

export type StoreStatus = { 
/**
 * Always true: there is no plaintext mode; the field exists so the UI never assumes.
 */
encrypted: boolean, 
/**
 * SQLCipher's own version string.
 */
cipher_version: string, 
/**
 * The OS keychain holding the store key, e.g. "Secret Service".
 */
keychain_backend: string, };

export type SessionView = { "state": "signed_out" } | { "state": "enrolling" } | { "state": "active", 
/**
 * Seconds since the epoch.
 */
expires_at: number, } | { "state": "restricted", 
/**
 * Why.
 */
reason: RestrictionView, } | { "state": "revoked", 
/**
 * When this computer learned it (seconds since the epoch).
 */
at: number, 
/**
 * Who removed it, as this computer verified it; `null` when it could not.
 */
by: RemovedByView | null, 
/**
 * Why: `lost`, `stolen`, `compromised`, `decommissioned`, `unspecified`, `replaced`,
 * `recovery`, `rejected`, or `revoked` when unconfirmed.
 */
reason: string, 
/**
 * The device that replaced it, when it was replaced.
 */
replaced_by: DeviceNameView | null, } | { "state": "recovering_elsewhere" } | { "state": "wiped" };

export type DeviceNameView = { 
/**
 * Its label, when this computer could read it.
 */
label: string | null, 
/**
 * Its short fingerprint.
 */
fingerprint: string, };

export type RemovedByView = { "kind": "device", 
/**
 * Its label, when this computer could read it.
 */
label: string | null, 
/**
 * Its short fingerprint.
 */
fingerprint: string, } | { "kind": "recovery" } | { "kind": "organization" };

export type RestrictionView = "suspended" | "in_review" | "account_locked" | "refused_by_service";

export type DeviceState = "pending" | "review" | "active" | "suspended" | "revoked" | "replaced" | "retired";

export type DeviceItem = { 
/**
 * The device id (hex): what device commands take.
 */
device_id: string, 
/**
 * The short fingerprint users compare.
 */
fingerprint: string, 
/**
 * The label, once shared under the account sync key.
 */
label: string | null, 
/**
 * Its lifecycle state.
 */
state: DeviceState, 
/**
 * Whether it is the computer running this app.
 */
this_device: boolean, 
/**
 * How it joined: `genesis`, `enrollment` or `recovery`.
 */
origin: string, 
/**
 * Ledger position of its last state change.
 */
changed_at: number, 
/**
 * When the service last saw it, to the day ("today", "3 days ago"); `None` when unknown.
 */
last_seen: string | null, };

export type DeviceListView = { 
/**
 * Every device, in the order they joined.
 */
devices: Array<DeviceItem>, 
/**
 * The verified ledger head's sequence number.
 */
head_seq: number, 
/**
 * The list was verified (always true: an unverifiable ledger is an error, `ledger_rejected`).
 */
verified: boolean, 
/**
 * True when just checked with the service; false when the service is unreachable and this
 * is the copy verified last time.
 */
synced: boolean, };

export type CreatedAccount = { 
/**
 * The recovery phrase's words in order.
 */
words: Array<string>, };

export type NewRecoveryPhrase = { 
/**
 * The recovery phrase's words in order.
 */
words: Array<string>, };

export type SignOutView = "ended" | "forgotten_locally";

export type SavedActivity = { 
/**
 * The file, in the user's Downloads folder.
 */
path: string, 
/**
 * How many records it holds.
 */
records: number, };

export type DeviceAction = "suspend" | "resume" | "revoke" | "retire";

export type OutcomeView = "allow" | "step_up" | "deny";

export type ReasonView = { 
/**
 * Stable code.
 */
code: string, 
/**
 * A plain sentence: what the user can or cannot do, and why.
 */
message: string, };

export type DecisionView = { 
/**
 * The operation (`messaging`, `change_devices`, ...).
 */
operation: string, 
/**
 * The outcome.
 */
outcome: OutcomeView, 
/**
 * Every reason that applies.
 */
reasons: Array<ReasonView>, };

export type AccountState = "active" | "locked" | "recovering";

export type SessionStatusView = { 
/**
 * The account's state.
 */
account_state: AccountState, 
/**
 * This device's lifecycle state.
 */
device_state: DeviceState, 
/**
 * `full` or `enrollment`.
 */
session_kind: string, 
/**
 * Seconds since the epoch.
 */
expires_at: number, 
/**
 * How many times the account has been recovered, when the service says.
 */
recovery_epoch: number | null, 
/**
 * One decision per protected operation, in the core's order (enrolling is not one).
 */
decisions: Array<DecisionView>, };

export type SessionUpdate = { "event": "state", 
/**
 * The new state.
 */
session: SessionView, } | { "event": "devices", 
/**
 * The verified list.
 */
list: DeviceListView, } | { "event": "enrollment_requested" } | { "event": "enrollment_updated" } | { "event": "recovery_started" } | { "event": "device_news", 
/**
 * What happened.
 */
news: DeviceNewsKind, 
/**
 * The device it happened to, as the list now shows it.
 */
device: DeviceItem, } | { "event": "offline", 
/**
 * Wait before the next attempt.
 */
retry_in_ms: number, } | { "event": "online" };

export type DeviceNewsKind = "joined" | "replaced" | "removed";

export type EmojiView = { 
/**
 * The emoji.
 */
symbol: string, 
/**
 * Its English name.
 */
name: string, };

export type EnrollmentProgress = { "event": "requested" } | { "event": "code", 
/**
 * Six digits in two groups of three (`482 913`).
 */
code: string, 
/**
 * The seven emoji, in order.
 */
emoji: Array<EmojiView>, 
/**
 * On the approving device: the device this new one replaces (checked against this
 * computer's verified ledger), which approving removes.
 */
replaces: ReplacedDeviceView | null, };

export type EnrollmentOutcomeView = "active" | "rejected" | "expired" | "cancelled" | "codes_differ";

export type EnrollmentRequestView = { 
/**
 * The request id: what approving and rejecting take.
 */
id: string, 
/**
 * The platform the new device reports (`linux`, `macos`, `windows`).
 */
platform: string, 
/**
 * The new device's fingerprint, computed here from its key.
 */
fingerprint: string, 
/**
 * When it asked (seconds since the epoch, the service's clock).
 */
created_at: number, 
/**
 * Where it stands (`requested`, `accepted`, ...).
 */
state: string, 
/**
 * The device it asks to replace, if any: approving removes that device.
 */
replaces: ReplacedDeviceView | null, 
/**
 * It replaces this computer, which therefore cannot approve it (another device must).
 */
replaces_this_device: boolean, };

export type ReplacedDeviceView = { 
/**
 * Its device id (hex).
 */
device_id: string, 
/**
 * Its short fingerprint.
 */
fingerprint: string, 
/**
 * Its label, when this computer can decrypt it.
 */
label: string | null, };

export type RecoveryWordList = { 
/**
 * How many words a phrase has.
 */
count: number, 
/**
 * Every list word, in list order.
 */
words: Array<string>, };

export type WordCheck = { "state": "empty" } | { "state": "prefix" } | { "state": "valid", 
/**
 * The full list word.
 */
word: string, } | { "state": "unknown" };

export type PhraseStatus = "incomplete" | "checksum_failed" | "valid";

export type PhraseCheck = { 
/**
 * One check per typed field, in order.
 */
words: Array<WordCheck>, 
/**
 * The phrase as a whole.
 */
status: PhraseStatus, };

export type ActorView = "device" | "recovery_key" | "organization";

export type TimelineSegment = { 
/**
 * Ledger position of the entry that put the device in this state.
 */
from_seq: number, 
/**
 * The state.
 */
state: DeviceState, 
/**
 * The entry's kind (`genesis`, `add_device`, `revoke`, `recover`, ...).
 */
change: string, 
/**
 * Who made the change.
 */
actor: ActorView, 
/**
 * The device that made it, when a device did (hex id).
 */
by: string | null, 
/**
 * Why it was revoked, when the entry says.
 */
reason: string | null, };

export type TimelineLane = { 
/**
 * The device id (hex).
 */
device_id: string, 
/**
 * The short fingerprint users compare.
 */
fingerprint: string, 
/**
 * The label, when this computer can read it.
 */
label: string | null, 
/**
 * Whether it is the computer running this app.
 */
this_device: boolean, 
/**
 * Its states, oldest first; the last one lasts until the head.
 */
segments: Array<TimelineSegment>, };

export type TimelineMark = { 
/**
 * Ledger position.
 */
seq: number, 
/**
 * The entry's kind (`rotate_recovery`, `join_organization`, `leave_organization`).
 */
kind: string, 
/**
 * Who made the change.
 */
actor: ActorView, 
/**
 * The device that made it, when a device did (hex id).
 */
by: string | null, };

export type DeviceTimelineView = { 
/**
 * The verified head's sequence number: where the lanes end.
 */
head_seq: number, 
/**
 * One lane per device, in the order they joined.
 */
lanes: Array<TimelineLane>, 
/**
 * The account-wide changes.
 */
marks: Array<TimelineMark>, };
