//! The `enigm` CLI at a real terminal (a pseudo-terminal, as a person's shell gives it; DESIGN
//! §16): passwords and phrase words are typed with echo off and never appear on screen; a
//! phrase word not in the list is asked again with the words it could be; the short code is
//! confirmed at a prompt on both devices. Against the real service, with profiles in the real
//! OS keychain.
#![cfg(unix)]

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ServerProcess;
use common::cli::{account_args, enigm, ok, url};
use nix::sys::termios::{LocalFlags, tcgetattr};
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;
use serde_json::Value;

/// Bound on waiting for a prompt or an answer (debug builds run OPAQUE slowly).
const WAIT_MS: u64 = 60_000;
pub(crate) const PASSWORD: &str = "typed at a terminal 2026";

/// One `enigm` command at a terminal, and everything it showed.
pub(crate) struct Terminal {
    session: PtySession,
    screen: String,
}

impl Terminal {
    /// `enigm --profile DIR --server URL ARGS` (human output, no `--json`) on a new terminal.
    pub(crate) fn start(profile: &Path, server: &ServerProcess, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_enigm"));
        command
            .arg("--profile")
            .arg(profile)
            .args(["--server", &url(server)])
            .args(args);
        Self {
            session: rexpect::session::spawn_command(command, Some(WAIT_MS)).unwrap(),
            screen: String::new(),
        }
    }

    /// Waits for `text` on screen; returns what came before it.
    pub(crate) fn expect(&mut self, text: &str) -> String {
        let before = self
            .session
            .exp_string(text)
            .unwrap_or_else(|error| panic!("waiting for {text:?}: {error}\n{}", self.screen));
        self.screen.push_str(&before);
        self.screen.push_str(text);
        before
    }

    /// Answers a visible question.
    pub(crate) fn answer(&mut self, line: &str) {
        self.session.send_line(line).unwrap();
    }

    /// Types a secret at a prompt that must have turned the terminal's echo off first.
    pub(crate) fn type_hidden(&mut self, secret: &str) {
        let terminal = self.session.process().get_file_handle().unwrap();
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS);
        while tcgetattr(&terminal)
            .unwrap()
            .local_flags
            .contains(LocalFlags::ECHO)
        {
            assert!(
                Instant::now() < deadline,
                "the prompt never hid the input\n{}",
                self.screen
            );
            std::thread::yield_now();
        }
        self.session.send_line(secret).unwrap();
    }

    /// Waits for the command to end; returns its exit code and the whole screen.
    pub(crate) fn finish(mut self) -> (i32, String) {
        let rest = self.session.exp_eof().unwrap();
        self.screen.push_str(&rest);
        match self.session.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => (code, self.screen),
            other => panic!("enigm ended with {other:?}\n{}", self.screen),
        }
    }
}

/// Registers `username` at a terminal: (device id, the 24 words as shown).
fn register_at_terminal(
    profile: &Path,
    server: &ServerProcess,
    username: &str,
) -> (String, Vec<String>) {
    let mut terminal = Terminal::start(profile, server, &account_args("register", username));
    terminal.expect("Password: ");
    terminal.type_hidden(PASSWORD);
    terminal.expect("Your recovery phrase.");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was shown: {screen}"
    );
    let words: Vec<String> = (1..=24)
        .map(|position| {
            let marker = format!("{position:>2}. ");
            let start = screen
                .find(&marker)
                .unwrap_or_else(|| panic!("no word {position}: {screen}"));
            screen[start + marker.len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let status = ok(&enigm(profile, server, &["device", "list"], ""));
    let device = status["devices"][0]["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (device, words)
}

/// The state of `device` in `profile`'s verified list.
fn state_of(profile: &Path, server: &ServerProcess, device: &str) -> String {
    let list = ok(&enigm(profile, server, &["device", "list"], ""));
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["device_id"] == device)
        .map_or_else(
            || "absent".to_owned(),
            |entry: &Value| entry["state"].as_str().unwrap().to_owned(),
        )
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn recovery_at_a_terminal_asks_word_by_word_hides_every_secret_and_changes_nothing_on_a_mistake() {
    let (server, _home, [laptop, new_computer]) = common::server_and_profiles(["laptop", "new"]);
    let (lost_device, words) = register_at_terminal(&laptop, &server, "Tess.Terminal");

    let recover = |new_password: &str, again: &str| {
        let mut terminal = Terminal::start(
            &new_computer,
            &server,
            &[
                "account",
                "recover",
                "--username",
                "Tess.Terminal",
                "--stdin",
            ],
        );
        // A word that is not in the list, then a prefix of several: each is asked again.
        terminal.expect("Word 1 of 24: ");
        terminal.type_hidden("qqqq");
        terminal.expect("Word 1: it is not in the word list; type it again.");
        terminal.expect("Word 1 of 24: ");
        terminal.type_hidden(&words[0][..2]);
        let hint = terminal.expect("; type it again.");
        assert!(hint.contains("it could be"), "{hint}");
        assert!(hint.contains(words[0].as_str()), "{hint}");
        // Four letters are enough for any word.
        terminal.expect("Word 1 of 24: ");
        terminal.type_hidden(&words[0][..4.min(words[0].len())]);
        for (index, word) in words.iter().enumerate().skip(1) {
            terminal.expect(&format!("Word {} of 24: ", index + 1));
            terminal.type_hidden(word);
        }
        let devices = terminal.expect("Which devices are lost?");
        assert!(devices.contains(&lost_device), "{devices}");
        terminal.expect("(none: Enter): ");
        terminal.answer("ffff0000");
        terminal.expect("(none: Enter): ");
        terminal.answer(&lost_device[..8]);
        terminal.expect("New password: ");
        terminal.type_hidden(new_password);
        terminal.expect("New password again: ");
        terminal.type_hidden(again);
        let (code, screen) = terminal.finish();
        for word in &words {
            assert!(
                !screen.contains(&format!(" {word}\r")) && !screen.contains(&format!(": {word}")),
                "a phrase word was shown: {screen}"
            );
        }
        assert!(
            !screen.contains(new_password),
            "the password was shown: {screen}"
        );
        (code, screen)
    };

    // Two different passwords: refused at the end, and nothing changed.
    let (code, screen) = recover("a new password 2026", "a new password 2062");
    assert_ne!(code, 0, "{screen}");
    assert!(screen.contains("the two passwords differ"), "{screen}");
    assert_eq!(state_of(&laptop, &server, &lost_device), "active");

    let (code, screen) = recover("a new password 2026", "a new password 2026");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Account recovered"), "{screen}");
    assert!(
        screen.contains("the device you marked lost is revoked"),
        "{screen}"
    );
    assert_eq!(state_of(&new_computer, &server, &lost_device), "revoked");
}

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn enrollment_at_two_terminals_shows_one_code_on_both_and_asks_each_user() {
    let (server, _home, [laptop, desktop]) = common::server_and_profiles(["laptop", "desktop"]);
    register_at_terminal(&laptop, &server, "Eli.Enrolls");

    // The first time, the laptop's user says the codes differ: nothing is added.
    let attempt = |answer: &str| {
        let mut joining = Terminal::start(
            &desktop,
            &server,
            &[
                "device",
                "enroll",
                "--username",
                "Eli.Enrolls",
                "--password-stdin",
            ],
        );
        joining.expect("Password: ");
        joining.type_hidden(PASSWORD);
        joining.expect("enigm device approve ");
        let request = joining.expect("\r\n").trim().to_owned();
        let mut approving = Terminal::start(&laptop, &server, &["device", "approve", &request]);
        let shown = [&mut joining, &mut approving].map(|terminal| {
            terminal.expect("Check that both devices show the same code:");
            terminal.expect("[yes/no] ")
        });
        // The six digits, then the seven emoji with their names.
        let codes = shown.map(|screen| {
            let lines: Vec<String> = screen
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .take(2)
                .map(str::to_owned)
                .collect();
            assert!(
                lines[0].len() == 7 && lines[0].bytes().filter(u8::is_ascii_digit).count() == 6,
                "no code in {screen}"
            );
            lines
        });
        assert_eq!(codes[0], codes[1], "the two screens differ");
        joining.answer("yes");
        approving.answer(answer);
        let (approved, approver_screen) = approving.finish();
        let (joined, joiner_screen) = joining.finish();
        assert!(
            !joiner_screen.contains(PASSWORD),
            "the password was shown: {joiner_screen}"
        );
        (approved, approver_screen, joined, joiner_screen)
    };

    let (_, approver, _, joiner) = attempt("no");
    // Both screens say the codes differed (the approver's "no" ends the request).
    for screen in [&approver, &joiner] {
        assert!(
            screen.contains("The codes were different, so nothing was added."),
            "{screen}"
        );
    }
    assert!(!joiner.contains("now active"), "{joiner}");
    let list = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    assert_eq!(list["devices"].as_array().unwrap().len(), 1, "{list}");

    let (approved, approver, joined, joiner) = attempt("yes");
    assert_eq!((approved, joined), (0, 0), "{approver}\n{joiner}");
    assert!(
        approver.contains("The new device is now active"),
        "{approver}"
    );
    assert!(joiner.contains("This device is now active"), "{joiner}");
    let list = ok(&enigm(&desktop, &server, &["device", "list"], ""));
    let states: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|device| device["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "active"], "{list}");
}
