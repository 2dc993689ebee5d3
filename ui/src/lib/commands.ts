// Generated from the command list in src-tauri/src/commands/list.rs; do not edit.
// Regenerate with `UPDATE_BINDINGS=1 cargo test -p enigm-app --lib`.
import { invoke } from '@tauri-apps/api/core';
import type { AppStatus, CreatedAccount, DeviceAction, DeviceList, DeviceTimelineView, DeviceView, EnrollmentOutcome, EnrollmentRequest, LockStatus, NewRecoveryPhrase, PhraseCheck, RecoveryWordList, RemovedBy, RevokeReason, SavedActivity, SessionStatusView, SessionView, SignOut } from './bindings';

/**
 * Opens (or creates) this computer's profile and reports its store, account and session.
 */
export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>('app_status');
}

/**
 * Creates an account with this computer as its first device; the phrase comes back once.
 */
export function createAccount(server: string, username: string, password: string): Promise<CreatedAccount> {
  return invoke<CreatedAccount>('create_account', { server, username, password });
}

/**
 * Signs in to this computer's account.
 */
export function signIn(username: string, password: string): Promise<void> {
  return invoke<void>('sign_in', { username, password });
}

/**
 * The account's devices, verified on this computer.
 */
export function listDevices(): Promise<DeviceList> {
  return invoke<DeviceList>('list_devices');
}

/**
 * Suspends, resumes, revokes (for `reason`, unspecified when null) or retires a device;
 * returns it in its new state.
 */
export function changeDevice(deviceId: string, action: DeviceAction, reason: RevokeReason | null): Promise<DeviceView> {
  return invoke<DeviceView>('change_device', { deviceId, action, reason });
}

/**
 * Gives a device a new label (encrypted by the backend); returns the device.
 */
export function renameDevice(deviceId: string, label: string): Promise<DeviceView> {
  return invoke<DeviceView>('rename_device', { deviceId, label });
}

/**
 * Raises a desktop notification of a change to the account's devices (best effort).
 */
export function notifyDeviceChange(title: string, body: string): Promise<void> {
  return invoke<void>('notify_device_change', { title, body });
}

/**
 * The devices' verified history, one lane per device.
 */
export function deviceHistory(): Promise<DeviceTimelineView> {
  return invoke<DeviceTimelineView>('device_history');
}

/**
 * The service's decisions for this session and device.
 */
export function sessionStatus(): Promise<SessionStatusView> {
  return invoke<SessionStatusView>('session_status');
}

/**
 * Who paused (suspended) this computer, as it verified it; null when unknown or not paused.
 */
export function pausedBy(): Promise<RemovedBy | null> {
  return invoke<RemovedBy | null>('paused_by');
}

/**
 * Signs this computer out; `forgotten_locally` when the service could not be told.
 */
export function signOut(): Promise<SignOut> {
  return invoke<SignOut>('sign_out');
}

/**
 * Where the account is signed in: each trusted device's session, oldest first.
 */
export function signedInSessions(): Promise<Array<SessionView>> {
  return invoke<Array<SessionView>>('signed_in_sessions');
}

/**
 * Ends the session named `session_id` (as listed); naming this computer's signs it out.
 */
export function endSession(sessionId: string): Promise<void> {
  return invoke<void>('end_session', { sessionId });
}

/**
 * Ends every session of the account but this computer's; resolves to how many.
 */
export function endOtherSessions(): Promise<number> {
  return invoke<number>('end_other_sessions');
}

/**
 * A new recovery phrase, shown once; not in force (the old one still works) until it is confirmed.
 */
export function regenerateRecoveryPhrase(): Promise<NewRecoveryPhrase> {
  return invoke<NewRecoveryPhrase>('regenerate_recovery_phrase');
}

/**
 * Adds this computer to the account of `username` on `server`, replacing device `replaces` when
 * given. Resolves when the enrollment ends, with its outcome; progress and the short code arrive
 * meanwhile through `onEnrollmentProgress`.
 */
export function enrollThisComputer(server: string, username: string, password: string, replaces: string | null): Promise<EnrollmentOutcome> {
  return invoke<EnrollmentOutcome>('enroll_this_computer', { server, username, password, replaces });
}

/**
 * Signs in to join the account and lists the devices this computer may replace (by fingerprint).
 */
export function replaceableDevices(server: string, username: string, password: string): Promise<Array<DeviceView>> {
  return invoke<Array<DeviceView>>('replaceable_devices', { server, username, password });
}

/**
 * Gives up joining: cancels the request and erases this computer's half-joined profile.
 */
export function abandonJoining(): Promise<void> {
  return invoke<void>('abandon_joining');
}

/**
 * The account's open requests from new devices.
 */
export function enrollmentRequests(): Promise<Array<EnrollmentRequest>> {
  return invoke<Array<EnrollmentRequest>>('enrollment_requests');
}

/**
 * Approves a request once the codes were compared; the short code arrives as progress.
 */
export function approveEnrollment(requestId: string): Promise<EnrollmentOutcome> {
  return invoke<EnrollmentOutcome>('approve_enrollment', { requestId });
}

/**
 * Rejects a request: that device is not added.
 */
export function rejectEnrollment(requestId: string): Promise<void> {
  return invoke<void>('reject_enrollment', { requestId });
}

/**
 * The user's answer to "Same code on both screens?"; `false` ends the enrollment.
 */
export function confirmShortCode(same: boolean): Promise<void> {
  return invoke<void>('confirm_short_code', { same });
}

/**
 * Cancels the running enrollment, on this computer and on the service.
 */
export function cancelEnrollment(): Promise<void> {
  return invoke<void>('cancel_enrollment');
}

/**
 * The recovery phrase's word list, for completing typed words.
 */
export function recoveryWords(): Promise<RecoveryWordList> {
  return invoke<RecoveryWordList>('recovery_words');
}

/**
 * Checks the typed recovery words, one per field: each word, then the checksum.
 */
export function checkRecoveryPhrase(words: Array<string>): Promise<PhraseCheck> {
  return invoke<PhraseCheck>('check_recovery_phrase', { words });
}

/**
 * Proves the phrase for `username` at `server`; returns the account's verified devices.
 */
export function beginRecovery(server: string, username: string, words: Array<string>): Promise<DeviceList> {
  return invoke<DeviceList>('begin_recovery', { server, username, words });
}

/**
 * Finishes the begun recovery with a new password, revoking the `lost` devices.
 */
export function finishRecovery(password: string, lost: Array<string>): Promise<DeviceList> {
  return invoke<DeviceList>('finish_recovery', { password, lost });
}

/**
 * Drops a begun recovery.
 */
export function cancelRecovery(): Promise<void> {
  return invoke<void>('cancel_recovery');
}

/**
 * Locks the app until the PIN or the account password is given again.
 */
export function lockApp(): Promise<LockStatus> {
  return invoke<LockStatus>('lock_app');
}

/**
 * Unlocks the app with the account password, checked online by the service; `username` only
 * when this computer does not know it yet.
 */
export function unlockApp(username: string | null, password: string): Promise<LockStatus> {
  return invoke<LockStatus>('unlock_app', { username, password });
}

/**
 * Sets how many minutes without use lock the app (0: never).
 */
export function setAutoLock(minutes: number): Promise<LockStatus> {
  return invoke<LockStatus>('set_auto_lock', { minutes });
}

/**
 * For a forgotten password, only while locked: signs this computer out and erases its profile,
 * so the account can be restored on it with the recovery phrase.
 */
export function eraseToRestore(): Promise<void> {
  return invoke<void>('erase_to_restore');
}

/**
 * Unlocks the app with this computer's PIN, checked here (works offline).
 */
export function unlockWithPin(pin: string): Promise<LockStatus> {
  return invoke<LockStatus>('unlock_with_pin', { pin });
}

/**
 * Sets or changes this computer's unlock PIN (only while unlocked).
 */
export function setPin(pin: string): Promise<LockStatus> {
  return invoke<LockStatus>('set_pin', { pin });
}

/**
 * Removes this computer's unlock PIN (only while unlocked).
 */
export function removePin(): Promise<LockStatus> {
  return invoke<LockStatus>('remove_pin');
}

/**
 * Saves the account's activity record, signed by the service, to the Downloads folder.
 */
export function downloadActivity(): Promise<SavedActivity> {
  return invoke<SavedActivity>('download_activity');
}

/**
 * Changes the account's password: `current` is checked by signing in again, then `new` is set.
 * Every other session of the account ends (its devices sign in again); resolves to how many.
 */
export function changePassword(current: string, newPassword: string): Promise<number> {
  return invoke<number>('change_password', { current, newPassword });
}

/**
 * Puts the new recovery phrase in force once three of its words were typed back; the old one stops working.
 */
export function confirmRecoveryPhrase(words: Array<string>): Promise<void> {
  return invoke<void>('confirm_recovery_phrase', { words });
}

/**
 * This computer's own name and platform, suggested as its device name while joining.
 */
export function suggestedDeviceName(): Promise<string> {
  return invoke<string>('suggested_device_name');
}

/**
 * Erases a removed computer's profile so it can be set up again from the first-run choices.
 */
export function setUpAgain(): Promise<void> {
  return invoke<void>('set_up_again');
}
