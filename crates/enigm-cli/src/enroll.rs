//! Enrollment by approval from the command line (DESIGN §7, §16): `device enroll` on the new
//! device, `device requests`, `device approve` and `device reject` on an existing one. The
//! engine runs the protocol; this module prints its events (JSON lines with `--json`) and asks
//! the user whether the codes match (one line, `yes` or `no`, from stdin; a prompt on a
//! terminal). Ctrl-C cancels the request on the relay before exiting. `device enroll --replaces
//! DEVICE` enrolls this device as the replacement of another one (DESIGN §5).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::Arc;

use clap::Args;
use enigm_client::{
    ClientError, EnrollEvent, EnrollmentHandle, EnrollmentOutcome, EnrollmentRequest,
    EnrollmentStep, ReplacedView, ShortCodeView,
};
use serde_json::json;
use tokio::sync::Notify;

use crate::user::{print, read_password, to_json, with_engine};
use crate::{CliError, Global};

/// Longest answer line read from stdin.
const MAX_ANSWER_LINE: u64 = 64;

/// `device enroll --username U --password-stdin [--auto-confirm] [--replaces DEVICE]`.
#[derive(Debug, Args)]
#[command(after_long_help = REPLACES_HELP)]
pub(crate) struct EnrollArgs {
    /// The account's username.
    #[arg(long)]
    username: String,
    /// Read the password from stdin (the only way to pass it; hidden prompt on a terminal).
    #[arg(long, required = true)]
    password_stdin: bool,
    /// Take the short code as confirmed without asking (when the codes are compared elsewhere).
    #[arg(long)]
    auto_confirm: bool,
    /// Enroll as the replacement of DEVICE (a device id, or a unique prefix of one, as `device
    /// list` shows it on another device); DEVICE must be active.
    #[arg(long, value_name = "DEVICE")]
    replaces: Option<String>,
}

/// What `device enroll --help` says about replacement.
const REPLACES_HELP: &str = "\
Replacing a device (--replaces DEVICE):
  A replacement is an enrollment that names the device it supersedes, e.g. a new laptop taking
  over from the old one. It is approved like any other enrollment: the approving device shows
  the device being replaced (and its label) next to the code, as `replaces` with --json, and
  `device requests` lists it. Once the new device is active, the replaced one is `replaced` in
  every device list, can no longer sign in, and the account sync key is rotated so it cannot
  read anything written afterwards. The new device inherits nothing from it.

  Before anything is sent, this device checks the account's ledger itself: an unknown or
  ambiguous DEVICE, or a device that is not active (suspended, revoked, already replaced), is
  refused with `unknown_device`, `ambiguous_device` or `not_replaceable`. If the request as
  relayed names another device than the one asked, the request is cancelled with
  `enrollment_replaces_mismatch`.";

/// `device approve|reject REQUEST_ID`.
#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The request id, as `device requests` lists it.
    request_id: String,
}

/// `enigm device enroll`: waits for approval, shows the code, ends with the outcome.
pub(crate) fn enroll(global: &Global, args: EnrollArgs) -> Result<(), CliError> {
    let password = read_password()?;
    let (json, auto_confirm) = (global.json, args.auto_confirm);
    let (outcome, failure) = with_engine(global, async |engine| {
        let handle = engine.start_enrollment(args.username, password, args.replaces);
        follow(json, auto_confirm, handle).await
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    print_outcome(global, outcome, true)
}

/// Follows a started enrollment at the terminal: prints each step, asks whether the codes
/// match (unless `auto_confirm`), and cancels it on Ctrl-C, here and on the relay. Returns the
/// outcome, and the first step that could not be printed.
async fn follow(
    json: bool,
    auto_confirm: bool,
    mut handle: EnrollmentHandle,
) -> Result<(EnrollmentOutcome, Option<CliError>), ClientError> {
    let control = handle.control();
    let interrupted = Arc::new(Notify::new());
    let interrupt = (control.clone(), interrupted.clone());
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.0.cancel();
            interrupt.1.notify_one();
        }
    });
    let mut failure = None;
    while let Some(step) = handle.next_step().await {
        let printed = match step {
            EnrollmentStep::Requested { id } => print_event(json, &EnrollEvent::Request { id }),
            EnrollmentStep::Code { code, replaces } => {
                let printed = print_code(json, &code, replaces.as_ref());
                let same = auto_confirm
                    || tokio::select! {
                        same = ask(json) => same,
                        () = interrupted.notified() => false,
                    };
                // Refused only when the enrollment ended meanwhile (cancelled): nothing to do.
                let _ = control.answer(same);
                printed
            }
        };
        if let Err(error) = printed {
            failure.get_or_insert(error);
        }
    }
    ctrl_c.abort();
    Ok((handle.outcome().await?, failure))
}

/// `enigm device requests`: the account's open requests.
pub(crate) fn requests(global: &Global) -> Result<(), CliError> {
    let requests = with_engine(global, async |engine| engine.enrollment_requests().await)?;
    let text = if requests.is_empty() {
        "No device is asking to join your account.".to_owned()
    } else {
        let mut lines = vec![format!(
            "{:<34} {:<10} {:<19} {:<18} {}",
            "REQUEST", "PLATFORM", "FINGERPRINT", "STATE", "REPLACES"
        )];
        lines.extend(requests.iter().map(|request: &EnrollmentRequest| {
            let mut replaces = match &request.replaces {
                Some(ReplacedView {
                    device_id,
                    label: Some(label),
                    ..
                }) => format!("{} ({label})", device_id.to_hex()),
                Some(replaced) => replaced.device_id.to_hex(),
                None => "-".to_owned(),
            };
            if request.replaces_this_device {
                replaces.push_str(" (this device: approve it from another one)");
            }
            format!(
                "{:<34} {:<10} {:<19} {:<18} {}",
                request.id,
                request.platform,
                request.fingerprint,
                request.state.as_str(),
                replaces
            )
        }));
        lines.push("Approve one with: enigm device approve REQUEST".to_owned());
        lines.join("\n")
    };
    print(global, &json!({ "requests": to_json(&requests)? }), &text)
}

/// `enigm device approve REQUEST_ID`: shows the code, asks, ends with the outcome.
pub(crate) fn approve(global: &Global, args: &RequestArgs) -> Result<(), CliError> {
    let json = global.json;
    let (outcome, failure) = with_engine(global, async |engine| {
        follow(json, false, engine.start_approval(args.request_id.clone())).await
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    print_outcome(global, outcome, false)
}

/// `enigm device reject REQUEST_ID`.
pub(crate) fn reject(global: &Global, args: &RequestArgs) -> Result<(), CliError> {
    with_engine(global, async |engine| {
        engine.reject_enrollment(&args.request_id).await
    })?;
    print(
        global,
        &json!({ "id": args.request_id, "state": "rejected" }),
        "Request rejected; that device was not added.",
    )
}

fn print_event(json: bool, event: &EnrollEvent) -> Result<(), CliError> {
    let EnrollEvent::Request { id } = event;
    let text = format!(
        "Asked to join the account. On a device already in it, run:\n\n    enigm device approve \
         {id}\n\nWaiting for your other device..."
    );
    line(json, &to_json(event)?, &text)
}

/// The code to compare; on the approving device, with the device a replacement supersedes.
fn print_code(
    json: bool,
    code: &ShortCodeView,
    replaces: Option<&ReplacedView>,
) -> Result<(), CliError> {
    let emoji: Vec<String> = code
        .emoji
        .iter()
        .map(|emoji| format!("{} {}", emoji.symbol, emoji.name))
        .collect();
    let mut text = format!(
        "Check that both devices show the same code:\n\n    {}\n\n    {}\n",
        code.code,
        emoji.join("   ")
    );
    let mut value = json!({ "event": "sas", "code": code.code, "emoji": to_json(&code.emoji)? });
    if let Some(replaced) = replaces {
        let id = replaced.device_id.to_hex();
        let name = replaced
            .label
            .as_deref()
            .map_or_else(|| id.clone(), |label| format!("{label} ({id})"));
        text.push_str(&format!(
            "\nThe new device replaces {name}: once approved, that device is removed from your \
             account.\n"
        ));
        value["replaces"] = json!(id);
        value["replaces_label"] = json!(replaced.label);
    }
    line(json, &value, &text)
}

fn print_outcome(
    global: &Global,
    outcome: EnrollmentOutcome,
    this_device: bool,
) -> Result<(), CliError> {
    let text = match (outcome, this_device) {
        (EnrollmentOutcome::Active, true) => "This device is now active in your account.",
        (EnrollmentOutcome::Active, false) => "The new device is now active in your account.",
        (EnrollmentOutcome::Rejected, true) => {
            "Your other device said no; this device was not added."
        }
        (EnrollmentOutcome::Rejected, false) => "Not approved; the new device was not added.",
        (EnrollmentOutcome::Expired, _) => {
            "The request expired before it was finished; nothing was added."
        }
        (EnrollmentOutcome::Cancelled, _) => "The enrollment was cancelled; nothing was added.",
        (EnrollmentOutcome::CodesDiffer, _) => {
            "The codes were different, so nothing was added. Different codes mean the two devices \
             were not talking to each other directly: ask again, and compare with your own \
             devices only."
        }
    };
    print(global, &json!({ "event": outcome.as_str() }), text)
}

/// One line on stdout, flushed at once (the other side of a pipe waits for it).
fn line(json: bool, value: &serde_json::Value, text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    let out = if json {
        value.to_string()
    } else {
        text.to_owned()
    };
    writeln!(stdout, "{out}")
        .and_then(|()| stdout.flush())
        .map_err(|_| CliError::new("stdout", "cannot write to stdout"))
}

/// Whether the user confirms that the codes match: one line of stdin, `yes` or `no` (a prompt
/// first on a terminal). Anything else, or no answer, is a no.
async fn ask(json: bool) -> bool {
    let prompt = !json && std::io::stdin().is_terminal();
    let answer = tokio::task::spawn_blocking(move || {
        if prompt {
            eprint!("Do both devices show the same code? [yes/no] ");
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_ANSWER_LINE)
            .read_line(&mut line)
            .ok()
            .map(|_| line.trim().to_ascii_lowercase())
    })
    .await
    .ok()
    .flatten();
    matches!(answer.as_deref(), Some("yes" | "y"))
}
