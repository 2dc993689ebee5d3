//! Tauri commands, one module per domain; each is a few lines over the engine. Their names
//! are listed once, in `list.rs`.

#[macro_use]
mod list;

pub mod account;
pub mod activity;
pub mod app;
pub mod devices;
pub mod enroll;
pub mod lock;
pub mod recover;
pub mod session;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use enigm_client::{
        DeviceAction, DeviceList, DeviceTimelineView, DeviceView, EnrollmentOutcome,
        EnrollmentRequest, LockStatus, PhraseCheck, RecoveryWordList, SessionStatusView,
        SessionView, SignOut,
    };
    use enigm_core::ledger::RevokeReason;
    use enigm_core::session::RemovedBy;
    use ts_rs::{Config, TS};

    use crate::ipc::{AppStatus, CreatedAccount, NewRecoveryPhrase, SavedActivity};

    /// Every command, from the one list.
    const COMMANDS: &[&str] = app_commands!(command_names);

    fn read(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join(path)).unwrap()
    }

    /// Never called: it compiles only while every handler takes what its entry in the list
    /// says the window passes (after what Tauri hands it) and returns the entry's reply.
    macro_rules! signatures {
        ($(
            $(#[doc = $doc:literal])*
            $module:ident::$name:ident($($injected:ident),*; $($arg:ident: $ty:ty),*) -> $reply:ty
        ),* $(,)?) => {
            #[allow(dead_code, unreachable_code)]
            async fn signatures() {
                $(
                    let _: Result<$reply, crate::error::IpcError> =
                        super::$module::$name($($injected(),)* $(passed::<$ty>(),)*).await;
                )*
            }
        };
    }

    /// A value of the type the window passes, for [`signatures`]' type check only.
    fn passed<T>() -> T {
        unreachable!("signatures() is only type-checked")
    }

    /// What Tauri hands a handler, by the names the list uses, for the same check.
    fn app() -> tauri::AppHandle {
        passed()
    }

    fn profile() -> tauri::State<'static, crate::profile::Profile> {
        passed()
    }

    fn flow() -> tauri::State<'static, super::enroll::EnrollmentFlow> {
        passed()
    }

    fn pending() -> tauri::State<'static, super::recover::PendingRecovery> {
        passed()
    }

    app_commands!(signatures);

    /// One wrapper of `ui/src/lib/commands.ts`: its doc, name, parameters and reply.
    struct Wrapper {
        doc: Vec<&'static str>,
        command: &'static str,
        params: Vec<(&'static str, String)>,
        reply: String,
    }

    macro_rules! wrappers {
        ($(
            $(#[doc = $doc:literal])*
            $module:ident::$name:ident($($injected:ident),*; $($arg:ident: $ty:ty),*) -> $reply:ty
        ),* $(,)?) => {
            |config: &Config| vec![$(Wrapper {
                doc: vec![$($doc),*],
                command: stringify!($name),
                params: vec![$((stringify!($arg), <$ty as TS>::name(config))),*],
                reply: <$reply as TS>::name(config),
            }),*]
        };
    }

    /// `device_id` as the window passes it: Tauri maps camelCase keys to the handler's
    /// snake_case parameters.
    fn camel_case(name: &str) -> String {
        let mut words = name.split('_');
        let mut out = words.next().unwrap_or_default().to_owned();
        for word in words {
            let mut letters = word.chars();
            if let Some(first) = letters.next() {
                out.extend(first.to_uppercase());
                out.push_str(letters.as_str());
            }
        }
        out
    }

    /// `ui/src/lib/commands.ts`: one typed wrapper per command of the list.
    fn typescript() -> String {
        let config = Config::new().with_large_int("number");
        let wrappers = app_commands!(wrappers)(&config);
        let mut types = BTreeSet::new();
        let mut functions = String::new();
        for wrapper in &wrappers {
            let reply = if wrapper.reply == "null" {
                "void".to_owned()
            } else {
                wrapper.reply.clone()
            };
            for ts in wrapper.params.iter().map(|(_, ts)| ts).chain([&reply]) {
                types.extend(
                    ts.split(|c: char| !c.is_ascii_alphanumeric())
                        .filter(|word| word.starts_with(|c: char| c.is_ascii_uppercase()))
                        .filter(|word| *word != "Array")
                        .map(str::to_owned),
                );
            }
            let params: Vec<String> = wrapper
                .params
                .iter()
                .map(|(name, ts)| format!("{}: {ts}", camel_case(name)))
                .collect();
            let keys: Vec<String> = wrapper
                .params
                .iter()
                .map(|(name, _)| camel_case(name))
                .collect();
            let args = if keys.is_empty() {
                String::new()
            } else {
                format!(", {{ {} }}", keys.join(", "))
            };
            functions.push_str("\n/**\n");
            for line in &wrapper.doc {
                functions.push_str(&format!(" *{}\n", line.trim_end()));
            }
            functions.push_str(" */\n");
            functions.push_str(&format!(
                "export function {}({}): Promise<{reply}> {{\n  return invoke<{reply}>('{}'{args});\n}}\n",
                camel_case(wrapper.command),
                params.join(", "),
                wrapper.command,
            ));
        }
        let imports: Vec<String> = types.into_iter().collect();
        format!(
            "// Generated from the command list in src-tauri/src/commands/list.rs; do not edit.\n\
             // Regenerate with `UPDATE_BINDINGS=1 cargo test -p enigm-app --lib`.\n\
             import {{ invoke }} from '@tauri-apps/api/core';\n\
             import type {{ {} }} from './bindings';\n{functions}",
            imports.join(", ")
        )
    }

    /// The checked-in wrappers are what the list generates.
    #[test]
    fn the_command_wrappers_are_up_to_date() {
        crate::ipc::tests::assert_generated("commands.ts", &typescript());
    }

    /// The window may call exactly the listed commands (and listen to events): a command
    /// missing from the capability is refused at runtime, an extra one is attack surface.
    #[test]
    fn the_window_may_call_exactly_the_listed_commands() {
        let capability: serde_json::Value =
            serde_json::from_str(&read("src-tauri/capabilities/main.json")).unwrap();
        let allowed: BTreeSet<String> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|permission| permission.as_str()?.strip_prefix("allow-"))
            .map(|name| name.replace('-', "_"))
            .collect();
        let listed: BTreeSet<String> = COMMANDS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(allowed, listed, "src-tauri/capabilities/main.json");
    }

    /// Only the generated wrappers call `invoke`: a hand-written call could name a command or
    /// pass arguments the list does not have.
    #[test]
    fn the_ui_invokes_commands_only_through_the_generated_wrappers() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src");
        let mut stack = vec![ui];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if path.is_dir() {
                    stack.push(path);
                } else if name != "commands.ts"
                    && !name.contains(".test.")
                    && (name.ends_with(".ts") || name.ends_with(".svelte"))
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(
                        !text.contains("invoke("),
                        "{} calls invoke itself",
                        path.display()
                    );
                    assert!(
                        !text.contains("invoke<"),
                        "{} calls invoke itself",
                        path.display()
                    );
                }
            }
        }
    }
}
