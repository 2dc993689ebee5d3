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

    /// Every command, from the one list.
    const COMMANDS: &[&str] = app_commands!(command_names);

    fn read(path: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join(path)).unwrap()
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

    /// The UI invokes exactly the listed commands, each from its one wrapper in ipc.ts.
    #[test]
    fn the_ui_wraps_exactly_the_listed_commands() {
        let ipc = read("ui/src/lib/ipc.ts");
        let mut invoked = BTreeSet::new();
        for piece in ipc.split("invoke").skip(1) {
            let Some(start) = piece.find('(') else {
                continue;
            };
            let call = &piece[start + 1..];
            if let Some(name) = call
                .strip_prefix('\'')
                .and_then(|rest| rest.split('\'').next())
            {
                assert!(
                    invoked.insert(name.to_owned()),
                    "{name} is invoked twice in ipc.ts"
                );
            }
        }
        let listed: BTreeSet<String> = COMMANDS.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(invoked, listed, "ui/src/lib/ipc.ts");
    }
}
