// The one list of the app's commands, as `module::name` under `commands`. build.rs includes this
// file for the app manifest (the ACL), lib.rs registers the handlers from it, and the tests in
// commands/mod.rs hold the window's capability and the UI's ipc.ts to it. A new command is
// added here and nowhere else by name, but for its permission in capabilities/main.json and
// its wrapper in ui/src/lib/ipc.ts, which the tests then require.

/// Calls `$callback!` with every command as `module::name`.
macro_rules! app_commands {
    ($callback:ident) => {
        $callback! {
            app::app_status,
            account::create_account,
            account::sign_in,
            devices::list_devices,
            devices::change_device,
            session::session_status,
            session::sign_out,
            session::regenerate_recovery_phrase,
            enroll::enroll_this_computer,
            enroll::enrollment_requests,
            enroll::approve_enrollment,
            enroll::reject_enrollment,
            enroll::confirm_short_code,
            enroll::cancel_enrollment,
            devices::rename_device,
            devices::device_history,
            recover::recovery_words,
            recover::check_recovery_phrase,
            recover::begin_recovery,
            recover::finish_recovery,
            recover::cancel_recovery,
            lock::lock_app,
            lock::unlock_app,
            lock::set_auto_lock,
            lock::unlock_with_pin,
            lock::set_pin,
            lock::remove_pin,
            enroll::replaceable_devices,
            enroll::abandon_joining,
            activity::download_activity,
            account::change_password,
            session::confirm_recovery_phrase,
            app::set_up_again,
        }
    };
}

/// The command names of [`app_commands`], as string slices.
#[allow(unused_macros)]
macro_rules! command_names {
    ($($module:ident::$name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}
