//! Long-running `enigm` commands (`device enroll`, `device approve`) whose JSON lines a test
//! reads as they come, answering the code question on stdin; and one whole enrollment by
//! approval, both users saying yes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use serde_json::Value;

use super::ServerProcess;
use super::cli::url;

/// The password of every account these commands enroll into.
pub const PASSWORD: &str = "correct horse battery staple 42";
/// Bound on waiting for one line from a running command (debug builds run OPAQUE slowly).
pub const WAIT: Duration = Duration::from_secs(60);

/// A long-running command whose JSON lines are read as they come.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Running {
    pub fn start(profile: &Path, server: &ServerProcess, args: &[&str], stdin: &str) -> Self {
        Self::start_at(profile, &url(server), args, stdin)
    }

    /// Runs against the service at `server_url` (a hostile proxy, say).
    pub fn start_at(profile: &Path, server_url: &str, args: &[&str], stdin: &str) -> Self {
        let mut child = super::cli::command(Some(profile), Some(server_url), args)
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
        input.flush().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin: Some(input),
            lines,
        }
    }

    /// `device enroll` on B with the password on stdin.
    pub fn enroll(profile: &Path, server: &ServerProcess, username: &str) -> Self {
        Self::start(
            profile,
            server,
            &[
                "device",
                "enroll",
                "--username",
                username,
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
    }

    /// `device enroll --replaces DEVICE` on a new device, against the service at `server_url`.
    pub fn replace(profile: &Path, server_url: &str, username: &str, device: &str) -> Self {
        Self::start_at(
            profile,
            server_url,
            &[
                "device",
                "enroll",
                "--username",
                username,
                "--password-stdin",
                "--replaces",
                device,
            ],
            &format!("{PASSWORD}\n"),
        )
    }

    /// `device approve ID` on A.
    pub fn approve(profile: &Path, server: &ServerProcess, id: &str) -> Self {
        Self::start(profile, server, &["device", "approve", id], "")
    }

    /// The next JSON line, within [`WAIT`].
    pub fn next(&mut self) -> Value {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line:?}"))
            }
            Err(RecvTimeoutError::Timeout) => panic!("no line within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let output = self.child.wait_with_output_now();
                panic!("the command ended without a line: {output}")
            }
        }
    }

    /// The next line, which must be `{"event": event}`.
    pub fn expect_event(&mut self, event: &str) -> Value {
        let line = self.next();
        assert_eq!(line["event"], event, "{line}");
        line
    }

    /// The next line, which must be the `request` event of an enrollment: the request's id.
    pub fn request_id(&mut self) -> String {
        self.expect_event("request")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Answers the code question.
    pub fn answer(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for a clean exit.
    pub fn succeeded(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }

    /// kill -9.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGINT, as Ctrl-C.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

trait DrainStderr {
    fn wait_with_output_now(&mut self) -> String;
}

impl DrainStderr for Child {
    fn wait_with_output_now(&mut self) -> String {
        let status = self.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        format!("{status:?}: {stderr}")
    }
}

/// Both users say yes to the code `approver` and `new` show: both devices end active and their
/// commands exit cleanly.
pub fn confirm_and_finish(mut approver: Running, mut new: Running) {
    approver.answer("yes");
    new.answer("yes");
    approver.expect_event("active");
    new.expect_event("active");
    approver.succeeded();
    new.succeeded();
}

/// Runs one whole enrollment of `new` approved by `approver` from a fresh `device enroll`, both
/// users saying yes after checking both show the same code.
pub fn enroll_and_approve(server: &ServerProcess, approver: &Path, new: &Path, username: &str) {
    let mut b = Running::enroll(new, server, username);
    let id = b.request_id();
    let mut a = Running::approve(approver, server, &id);
    let on_a = a.expect_event("sas");
    let on_b = b.expect_event("sas");
    assert_eq!(on_a, on_b);
    confirm_and_finish(a, b);
}
