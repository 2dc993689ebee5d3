// The one list of the app's commands: each one's module, name, what it is handed by Tauri
// (before `;`: `app`, `profile`, `flow`, `pending`), what the window passes and what it gets
// back, and what it does, for the window's developer. Everything else is read from here:
// build.rs gives the names to the ACL, lib.rs registers the handlers, the tests in
// commands/mod.rs check each handler's signature against its entry and hold the window's
// capability to the names, and `ui/src/lib/commands.ts`, the window's typed wrappers, is
// generated from it. A new command is added here, and its permission in
// capabilities/main.json.

/// Calls `$callback!` with every command.
macro_rules! app_commands {
    ($callback:ident) => {
        $callback! {
            /// Opens (or creates) this computer's profile and reports its store, account and session.
            app::app_status(app, profile;) -> AppStatus,
            /// Creates an account with this computer as its first device; the phrase comes back once.
            account::create_account(app, profile; server: String, username: String, password: String) -> CreatedAccount,
            /// Signs in to this computer's account.
            account::sign_in(app, profile; username: String, password: String) -> (),
            /// The account's devices, verified on this computer.
            devices::list_devices(profile;) -> DeviceList,
            /// Suspends, resumes, revokes (for `reason`, unspecified when null) or retires a device;
            /// returns it in its new state.
            devices::change_device(profile; device_id: String, action: DeviceAction, reason: Option<RevokeReason>) -> DeviceView,
            /// Gives a device a new label (encrypted by the backend); returns the device.
            devices::rename_device(profile; device_id: String, label: String) -> DeviceView,
            /// Raises a desktop notification of a change to the account's devices (best effort).
            devices::notify_device_change(app; title: String, body: String) -> (),
            /// The devices' verified history, one lane per device.
            devices::device_history(profile;) -> DeviceTimelineView,
            /// The service's decisions for this session and device.
            session::session_status(profile;) -> SessionStatusView,
            /// Who paused (suspended) this computer, as it verified it; null when unknown or not paused.
            session::paused_by(profile;) -> Option<RemovedBy>,
            /// Signs this computer out; `forgotten_locally` when the service could not be told.
            session::sign_out(profile;) -> SignOut,
            /// Where the account is signed in: each trusted device's session, oldest first.
            session::signed_in_sessions(profile;) -> Vec<SessionView>,
            /// Ends the session named `session_id` (as listed); naming this computer's signs it out.
            session::end_session(profile; session_id: String) -> (),
            /// Ends every session of the account but this computer's; resolves to how many.
            session::end_other_sessions(profile;) -> u64,
            /// A new recovery phrase, shown once; not in force (the old one still works) until it is confirmed.
            session::regenerate_recovery_phrase(profile;) -> NewRecoveryPhrase,
            /// Adds this computer to the account of `username` on `server`, replacing device `replaces` when
            /// given. Resolves when the enrollment ends, with its outcome; progress and the short code arrive
            /// meanwhile through `onEnrollmentProgress`.
            enroll::enroll_this_computer(app, profile, flow; server: String, username: String, password: String, replaces: Option<String>) -> EnrollmentOutcome,
            /// Signs in to join the account and lists the devices this computer may replace (by fingerprint).
            enroll::replaceable_devices(profile; server: String, username: String, password: String) -> Vec<DeviceView>,
            /// Gives up joining: cancels the request and erases this computer's half-joined profile.
            enroll::abandon_joining(profile, flow;) -> (),
            /// The account's open requests from new devices.
            enroll::enrollment_requests(profile;) -> Vec<EnrollmentRequest>,
            /// Approves a request once the codes were compared; the short code arrives as progress.
            enroll::approve_enrollment(app, profile, flow; request_id: String) -> EnrollmentOutcome,
            /// Rejects a request: that device is not added.
            enroll::reject_enrollment(profile; request_id: String) -> (),
            /// The user's answer to "Same code on both screens?"; `false` ends the enrollment.
            enroll::confirm_short_code(flow; same: bool) -> (),
            /// Cancels the running enrollment, on this computer and on the service.
            enroll::cancel_enrollment(flow;) -> (),
            /// The recovery phrase's word list, for completing typed words.
            recover::recovery_words(;) -> RecoveryWordList,
            /// Checks the typed recovery words, one per field: each word, then the checksum.
            recover::check_recovery_phrase(; words: Vec<String>) -> PhraseCheck,
            /// Proves the phrase for `username` at `server`; returns the account's verified devices.
            recover::begin_recovery(profile, pending; server: String, username: String, words: Vec<String>) -> DeviceList,
            /// Finishes the begun recovery with a new password, revoking the `lost` devices.
            recover::finish_recovery(app, profile, pending; password: String, lost: Vec<String>) -> DeviceList,
            /// Drops a begun recovery.
            recover::cancel_recovery(pending;) -> (),
            /// Locks the app until the PIN or the account password is given again.
            lock::lock_app(profile;) -> LockStatus,
            /// Unlocks the app with the account password, checked online by the service; `username` only
            /// when this computer does not know it yet.
            lock::unlock_app(profile; username: Option<String>, password: String) -> LockStatus,
            /// Sets how many minutes without use lock the app (0: never).
            lock::set_auto_lock(profile; minutes: u32) -> LockStatus,
            /// For a forgotten password, only while locked: signs this computer out and erases its profile,
            /// so the account can be restored on it with the recovery phrase.
            lock::erase_to_restore(profile;) -> (),
            /// Unlocks the app with this computer's PIN, checked here (works offline).
            lock::unlock_with_pin(profile; pin: String) -> LockStatus,
            /// Sets or changes this computer's unlock PIN (only while unlocked).
            lock::set_pin(profile; pin: String) -> LockStatus,
            /// Removes this computer's unlock PIN (only while unlocked).
            lock::remove_pin(profile;) -> LockStatus,
            /// Saves the account's activity record, signed by the service, to the Downloads folder.
            activity::download_activity(app, profile;) -> SavedActivity,
            /// Changes the account's password: `current` is checked by signing in again, then `new` is set.
            /// Every other session of the account ends (its devices sign in again); resolves to how many.
            account::change_password(profile; current: String, new_password: String) -> u64,
            /// Puts the new recovery phrase in force once three of its words were typed back; the old one stops working.
            session::confirm_recovery_phrase(profile; words: Vec<String>) -> (),
            /// This computer's own name and platform, suggested as its device name while joining.
            app::suggested_device_name(;) -> String,
            /// Erases a removed computer's profile so it can be set up again from the first-run choices.
            app::set_up_again(profile;) -> (),
        }
    };
}

/// The command names of [`app_commands`], as string slices.
#[allow(unused_macros)]
macro_rules! command_names {
    ($(
        $(#[doc = $doc:literal])*
        $module:ident::$name:ident($($injected:ident),*; $($arg:ident: $ty:ty),*) -> $reply:ty
    ),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}
