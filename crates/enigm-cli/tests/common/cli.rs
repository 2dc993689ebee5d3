//! The real `enigm` CLI, run with `--json`, and its one-line answers: what every cross-process
//! test of the CLI contract (DESIGN §16) needs.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::Receiver;

use serde_json::Value;

use super::ServerProcess;

/// `enigm --json [--profile DIR] [--server URL] ARGS` with piped stdio, ready to spawn.
pub fn command(profile: Option<&Path>, server: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enigm"));
    command.arg("--json");
    if let Some(profile) = profile {
        command.arg("--profile").arg(profile);
    }
    if let Some(server) = server {
        command.args(["--server", server]);
    }
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// One finished run with `stdin`.
pub fn run(profile: Option<&Path>, server: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut child = command(profile, server, args).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The service's URL for `--server`.
pub fn url(server: &ServerProcess) -> String {
    format!("http://{}", server.addr)
}

/// What a person sees: `enigm --profile DIR --server URL ARGS` without `--json`; its output
/// as text. Panics unless it succeeds.
pub fn human(profile: &Path, server: &ServerProcess, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .arg("--profile")
        .arg(profile)
        .args(["--server", &url(server)])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// One finished run on `profile` against `server`.
pub fn enigm(profile: &Path, server: &ServerProcess, args: &[&str], stdin: &str) -> Output {
    run(Some(profile), Some(&url(server)), args, stdin)
}

/// `account VERB --username USERNAME --password-stdin`: how a script registers or signs in.
pub fn account_args<'a>(verb: &'a str, username: &'a str) -> [&'a str; 5] {
    ["account", verb, "--username", username, "--password-stdin"]
}

/// `account register --username USERNAME --password-stdin` on `profile`, `password` on stdin.
pub fn register(profile: &Path, server: &ServerProcess, username: &str, password: &str) -> Output {
    let args = account_args("register", username);
    enigm(profile, server, &args, &format!("{password}\n"))
}

/// `account login --username USERNAME --password-stdin` on `profile`, `password` on stdin.
pub fn login(profile: &Path, server: &ServerProcess, username: &str, password: &str) -> Output {
    let args = account_args("login", username);
    enigm(profile, server, &args, &format!("{password}\n"))
}

/// The profile's store, opened with its key from the real keychain.
pub fn store(profile: &Path) -> enigm_store::Store {
    enigm_store::Store::open(profile, &enigm_store::Keychain::platform().unwrap()).unwrap()
}

/// The JSON lines a running command prints on `stdout`, as they come (read on a thread of
/// their own, so the process never blocks on a full pipe).
pub fn json_lines(stdout: impl Read + Send + 'static) -> Receiver<Value> {
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if send.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    lines
}

/// The one JSON line a command printed.
pub fn one_json_line(output: &Output) -> Value {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got {text:?}");
    serde_json::from_str(lines[0]).unwrap()
}

/// The one JSON object a successful command prints.
pub fn ok(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stdout {} stderr {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    one_json_line(output)
}

/// The `{"error":{code,message}}` of a failed command, as (code, message); the message is never
/// empty.
pub fn failed(output: &Output) -> (String, String) {
    assert!(!output.status.success(), "the command succeeded");
    let body = one_json_line(output);
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    (body["error"]["code"].as_str().unwrap().to_owned(), message)
}

/// The error code of a failed command.
pub fn failed_code(output: &Output) -> String {
    failed(output).0
}

/// The entry of the device `id` in a `device list` answer.
pub fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
    listed_where(list, id, |device| device["device_id"] == id)
}

/// The first entry in a `device list` answer whose `this_device` flag is `this_device`: the
/// device that listed, or (false) another one.
pub fn listed_this_device(list: &Value, this_device: bool) -> &Value {
    listed_where(list, "this_device", |device| {
        device["this_device"] == this_device
    })
}

/// The first entry of a `device list` answer that `matches`; `what` names it when none does.
fn listed_where<'a>(list: &'a Value, what: &str, matches: impl Fn(&Value) -> bool) -> &'a Value {
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| matches(device))
        .unwrap_or_else(|| panic!("{what} not in {list}"))
}
