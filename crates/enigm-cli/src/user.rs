//! The user subcommands (DESIGN §16): each parses its arguments, runs one engine step and
//! prints the result, as text or as one JSON object with `--json`. Secrets come from stdin
//! only (hidden prompt when stdin is a terminal), never from arguments.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use enigm_client::{
    Change, ClientError, DeviceChange, DeviceList, DeviceView, Engine, EntryView, HeadView,
    SessionView, SignOut, WatchUpdate,
};
use enigm_core::ledger::RevokeReason;
use enigm_core::session::{Restriction, SessionState};
use enigm_core::trust::SessionKind;
use serde_json::json;
use zeroize::Zeroizing;

use crate::{CliError, Global};

/// Where the CLI looks for the service when neither `--server` nor `ENIGM_SERVER` is given:
/// the local service `cargo xtask run` starts.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
/// Longest secret line read from stdin.
const MAX_SECRET_LINE: usize = 4096;

/// `enigm account ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Create an account with this device as its first device; prints the recovery phrase once.
    Register(Credentials),
    /// Sign in on this device.
    Login(Credentials),
    /// Recover the account on this new device with the recovery phrase; sets a new password.
    Recover(crate::recover::RecoverArgs),
    /// Change the account's password: the current one, then the new one twice (hidden prompts
    /// at a terminal; else one line each from stdin: current, then new). Every other session
    /// of the account ends: the other devices sign in again with the new password.
    Password,
}

/// `--username U --password-stdin`.
#[derive(Debug, Args)]
pub(crate) struct Credentials {
    /// The account's username.
    #[arg(long)]
    username: String,
    /// Read the password from stdin (the only way to pass it; hidden prompt on a terminal).
    #[arg(long, required = true)]
    password_stdin: bool,
}

/// `enigm device ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// The account's devices from the verified ledger.
    List,
    /// Withdraw trust from a device for now.
    Suspend(DeviceTarget),
    /// Restore a suspended device.
    Resume(DeviceTarget),
    /// Remove a device from the account for good.
    Revoke(RevokeArgs),
    /// Retire a device that is no longer used.
    Retire(DeviceTarget),
    /// Ask to add this device to an account (or, with --replaces, to take another device's
    /// place); a device already in it approves.
    Enroll(crate::enroll::EnrollArgs),
    /// Devices asking to join the account.
    Requests,
    /// Approve a device's request after comparing the short code.
    Approve(crate::enroll::RequestArgs),
    /// Refuse a device's request.
    Reject(crate::enroll::RequestArgs),
    /// Give a device a label, shared with the account's devices encrypted (the service cannot
    /// read it).
    Rename(RenameArgs),
}

/// `device rename DEVICE --label TEXT`.
#[derive(Debug, Args)]
pub(crate) struct RenameArgs {
    /// Device id, or a unique prefix of it.
    device: String,
    /// The new label (at most 64 characters).
    #[arg(long)]
    label: String,
}

/// A device id or a unique prefix of one (at least 4 hex characters).
#[derive(Debug, Args)]
pub(crate) struct DeviceTarget {
    /// Device id, or a unique prefix of it.
    device: String,
}

/// `device revoke DEVICE [--reason R]`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Device id, or a unique prefix of it.
    device: String,
    /// Why (recorded in the ledger).
    #[arg(long, value_enum, default_value_t = Reason::Unspecified)]
    reason: Reason,
}

/// Revocation reasons as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Reason {
    /// No reason given.
    Unspecified,
    /// Lost.
    Lost,
    /// Stolen.
    Stolen,
    /// Keys may be known to someone else.
    Compromised,
    /// No longer used.
    Decommissioned,
}

/// `enigm session ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Account, device, session and what each operation is allowed to do now.
    Status,
    /// Follow the session live (JSON lines with --json) until it needs you: revoked,
    /// signed out, suspended, or the account recovered elsewhere.
    Watch,
    /// Where the account is signed in: each trusted device's session, oldest first.
    List,
    /// End one session, named as `session list` names it (`ses_…`), or every other one.
    End(EndArgs),
    /// Sign this computer out (the keys stay; sign in again with the password).
    SignOut,
}

/// `session end (ID | --others)`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct EndArgs {
    /// The session's name, from `session list`.
    id: Option<String>,
    /// End every session but this one ("sign out everywhere else").
    #[arg(long)]
    others: bool,
}

/// `text` with a capital first letter.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `enigm ledger ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// The account's device history, entry by entry, from the verified ledger.
    Show,
    /// Fetch, verify and pin the account's device ledger.
    Verify,
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

/// Runs `work` with an engine on this profile and service, on a small runtime.
pub(crate) fn with_engine<T>(
    global: &Global,
    work: impl AsyncFnOnce(Engine) -> Result<T, ClientError>,
) -> Result<T, CliError> {
    let profile = profile_dir(global)?;
    let server = global
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::new("runtime", format!("cannot start the runtime: {error}")))?;
    runtime
        .block_on(async move {
            let engine = Engine::open(&profile, &server).await?;
            work(engine).await
        })
        .map_err(CliError::from)
}

/// `--profile`, `ENIGM_PROFILE`, or the profile the desktop app uses, so that one computer is
/// one device of the account. A profile the CLI made in its former default place, before it
/// shared the app's, keeps being used (with a note) until it is moved.
fn profile_dir(global: &Global) -> Result<PathBuf, CliError> {
    if let Some(dir) = &global.profile {
        return Ok(dir.clone());
    }
    let shared = enigm_client::default_profile_dir().ok_or_else(|| {
        CliError::new(
            "no_profile",
            "no profile directory: pass --profile DIR or set ENIGM_PROFILE",
        )
    })?;
    if let Some(former) = enigm_client::former_cli_profile_dir()
        && !shared.exists()
        && former.exists()
    {
        eprintln!(
            "note: using the profile an earlier enigm kept in {}; the desktop app uses {}. Move              it there to use one device from both.",
            former.display(),
            shared.display()
        );
        return Ok(former);
    }
    Ok(shared)
}

/// Reads the password: a hidden prompt on a terminal, else one line of stdin.
pub(crate) fn read_password() -> Result<Zeroizing<String>, CliError> {
    read_secret("Password: ", "password")
}

/// Reads one secret (`what`, for the messages): a hidden `prompt` on a terminal, else one line
/// of stdin.
fn read_secret(prompt: &str, what: &str) -> Result<Zeroizing<String>, CliError> {
    let stdin = std::io::stdin();
    let secret = if stdin.is_terminal() {
        Zeroizing::new(rpassword::prompt_password(prompt).map_err(|_| {
            CliError::new(
                "stdin",
                format!("could not read the {what} from the terminal"),
            )
        })?)
    } else {
        let mut line = Zeroizing::new(String::new());
        stdin
            .lock()
            .take(MAX_SECRET_LINE as u64)
            .read_line(&mut line)
            .map_err(|_| CliError::new("stdin", format!("could not read the {what} from stdin")))?;
        Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    if secret.is_empty() {
        return Err(CliError::new(
            &format!("empty_{what}"),
            format!("the {what} is empty"),
        ));
    }
    Ok(secret)
}

/// The current password and the new one: at a terminal, hidden prompts with the new one
/// asked twice; else one line each from stdin.
fn read_password_change() -> Result<(Zeroizing<String>, Zeroizing<String>), CliError> {
    let current = read_secret("Current password: ", "password")?;
    let new = read_secret("New password: ", "password")?;
    if std::io::stdin().is_terminal() {
        let again = read_secret("New password again: ", "password")?;
        if new != again {
            return Err(CliError::new(
                "password_mismatch",
                "the two new passwords differ; the password was not changed",
            ));
        }
    }
    Ok((current, new))
}

/// `enigm unlock [--username U] [--pin]`: the account password (checked online by the
/// service) or, with `--pin`, this computer's PIN (checked here), from stdin.
#[derive(Debug, Args)]
pub(crate) struct UnlockArgs {
    /// The account's username, when this profile does not know it yet (password only).
    #[arg(long, conflicts_with = "pin")]
    username: Option<String>,
    /// Read this computer's PIN from stdin instead of the account password (works offline).
    #[arg(long)]
    pin: bool,
}

/// `enigm unlock`: a profile the app locked unlocks, so that commands such as `device enroll`,
/// which wait for the unlock, work from the CLI too.
pub(crate) fn unlock(global: &Global, args: &UnlockArgs) -> Result<(), CliError> {
    let secret = if args.pin {
        read_secret("PIN: ", "pin")?
    } else {
        read_password()?
    };
    let was_locked = with_engine(global, async |engine| {
        let was_locked = engine.lock_status().await?.locked;
        if args.pin {
            engine.unlock_with_pin(&secret).await?;
        } else {
            engine.unlock(args.username.as_deref(), &secret).await?;
        }
        Ok(was_locked)
    })?;
    print(
        global,
        &json!({ "unlocked": true, "was_locked": was_locked }),
        if was_locked {
            "Unlocked."
        } else {
            "Enigm was not locked."
        },
    )
}

/// Prints `value` as JSON with `--json`, else `text`.
pub(crate) fn print(
    global: &Global,
    value: &serde_json::Value,
    text: &str,
) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    let line = if global.json {
        value.to_string()
    } else {
        text.to_owned()
    };
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|_| CliError::new("stdout", "cannot write to stdout"))
}

/// `enigm account ...`.
pub(crate) fn account(global: &Global, command: AccountCommand) -> Result<(), CliError> {
    match command {
        AccountCommand::Register(credentials) => {
            let password = read_password()?;
            let registered = with_engine(global, async |engine| {
                engine.register(&credentials.username, &password).await
            })?;
            let words = registered.phrase.words();
            print(
                global,
                &json!({
                    "device_id": registered.device_id.to_hex(),
                    "recovery_phrase": words.as_str(),
                }),
                &format!(
                    "Account created; this device is active.\n\nYour recovery phrase. Write it \
                     down and keep it safe: it is shown only this once, and it is the only way \
                     back in if you lose all your devices.\n\n{}",
                    numbered(&words).as_str()
                ),
            )
        }
        AccountCommand::Recover(args) => crate::recover::recover(global, &args),
        AccountCommand::Password => {
            let (current, new) = read_password_change()?;
            let ended = with_engine(global, async |engine| {
                engine.change_password(&current, &new).await
            })?;
            let others = match ended {
                0 => "no other session was signed in".to_owned(),
                1 => "1 other session ended: that device signs in again with the new password"
                    .to_owned(),
                n => format!(
                    "{n} other sessions ended: those devices sign in again with the new password"
                ),
            };
            print(
                global,
                &json!({ "password_changed": true, "sessions_ended": ended }),
                &format!("Password changed; {others}."),
            )
        }
        AccountCommand::Login(credentials) => {
            let password = read_password()?;
            let session = with_engine(global, async |engine| {
                engine.login(&credentials.username, &password).await
            })?;
            let text = if session.kind == SessionKind::Full {
                "Signed in."
            } else {
                "Signed in; this device is not part of the account yet and can only enroll."
            };
            print(
                global,
                &json!({ "session": { "kind": session.kind, "expires_at": session.expires_at } }),
                text,
            )
        }
    }
}

/// The phrase's words one per line, numbered, for writing down.
pub(crate) fn numbered(words: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for (index, word) in words.split(' ').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{:>2}. {word}", index + 1));
    }
    out
}

/// `enigm device ...`.
pub(crate) fn device(global: &Global, command: DeviceCommand) -> Result<(), CliError> {
    let (target, change) = match command {
        DeviceCommand::List => {
            let list = with_engine(global, async |engine| engine.sync().await)?;
            return print(global, &to_json(&list)?, &device_table(&list));
        }
        DeviceCommand::Enroll(args) => return crate::enroll::enroll(global, args),
        DeviceCommand::Requests => return crate::enroll::requests(global),
        DeviceCommand::Approve(args) => return crate::enroll::approve(global, &args),
        DeviceCommand::Reject(args) => return crate::enroll::reject(global, &args),
        DeviceCommand::Rename(args) => {
            let view = with_engine(global, async |engine| {
                engine.rename_device(&args.device, &args.label).await
            })?;
            return print(
                global,
                &json!({ "device": to_json(&view)? }),
                &format!("{} is now labelled.", view.fingerprint),
            );
        }
        DeviceCommand::Suspend(target) => (target.device, DeviceChange::Suspend),
        DeviceCommand::Resume(target) => (target.device, DeviceChange::Resume),
        DeviceCommand::Retire(target) => (target.device, DeviceChange::Retire),
        DeviceCommand::Revoke(args) => (
            args.device,
            DeviceChange::Revoke(match args.reason {
                Reason::Unspecified => RevokeReason::Unspecified,
                Reason::Lost => RevokeReason::Lost,
                Reason::Stolen => RevokeReason::Stolen,
                Reason::Compromised => RevokeReason::Compromised,
                Reason::Decommissioned => RevokeReason::Decommissioned,
            }),
        ),
    };
    let view = with_engine(global, async |engine| {
        engine.change_device(&target, change).await
    })?;
    print(
        global,
        &json!({ "device": to_json(&view)? }),
        &format!("{} is now {}.", view.fingerprint, view.state),
    )
}

/// `enigm session ...`.
pub(crate) fn session(global: &Global, command: SessionCommand) -> Result<(), CliError> {
    match command {
        SessionCommand::Status => {
            let (status, epoch, withheld) = with_engine(global, async |engine| {
                let status = engine.session_status().await?;
                let withheld = engine.withheld_head().await?;
                Ok((status, engine.sync_epoch().await?, withheld))
            })?;
            let mut json = to_json(&status)?;
            json["sync_epoch"] = json!(epoch);
            json["ledger_withheld"] = json!(withheld.map(|seen| json!({ "seen": seen })));
            let mut text = format!(
                "device: {}\nsession: {}\nsync key epoch: {epoch}",
                status.device_state.as_str(),
                status.session.kind.as_str(),
            );
            if let Some(seen) = withheld {
                text.push_str(&format!(
                    "\nwarning: another device has seen the device list up to entry {seen}, \
                     which the service does not show this computer"
                ));
            }
            print(global, &json, &text)
        }
        SessionCommand::List => {
            let sessions = with_engine(global, async |engine| engine.signed_in_sessions().await)?;
            print(
                global,
                &json!({ "sessions": to_json(&sessions)? }),
                &session_table(&sessions),
            )
        }
        SessionCommand::End(EndArgs { id: Some(id), .. }) => {
            with_engine(global, async |engine| engine.end_session(&id).await)?;
            print(global, &json!({ "ended": 1 }), "The session is ended.")
        }
        SessionCommand::End(EndArgs { id: None, .. }) => {
            let ended = with_engine(global, async |engine| engine.end_other_sessions().await)?;
            let text = match ended {
                0 => "No other session was signed in.".to_owned(),
                1 => "1 other session is ended.".to_owned(),
                n => format!("{n} other sessions are ended."),
            };
            print(global, &json!({ "ended": ended }), &text)
        }
        SessionCommand::SignOut => {
            let signed_out = with_engine(global, async |engine| engine.sign_out().await)?;
            let text = match signed_out {
                SignOut::Ended => "Signed out.",
                SignOut::ForgottenLocally => {
                    "Signed out on this computer; the service could not be reached, so the \
                     session ends there when it expires."
                }
            };
            print(
                global,
                &json!({ "signed_out": to_json(&signed_out)? }),
                text,
            )
        }
        SessionCommand::Watch => {
            let json = global.json;
            let mut failure = None;
            let last = with_engine(global, async |engine| {
                engine
                    .watch(|update| {
                        if failure.is_none()
                            && let Err(error) = print_update(json, update)
                        {
                            failure = Some(error);
                        }
                    })
                    .await
            })?;
            match failure {
                Some(error) => Err(error),
                None => {
                    tracing::debug!(state = last.as_str(), "watch ended");
                    Ok(())
                }
            }
        }
    }
}

/// One line per live update: the JSON object, or a sentence.
fn print_update(json: bool, update: &WatchUpdate) -> Result<(), CliError> {
    let line = if json {
        serde_json::to_string(update)
            .map_err(|_| CliError::new("internal", "cannot encode the update"))?
    } else {
        match update {
            WatchUpdate::State { state } => match state {
                SessionState::SignedOut => "Signed out.".to_owned(),
                SessionState::Enrolling => "Waiting to be added to the account.".to_owned(),
                SessionState::Active { .. } => "This device is active.".to_owned(),
                SessionState::Restricted {
                    reason: Restriction::RefusedByService,
                } => "The Enigm service refuses this device, but its own verified device list \
                      does not show it removed; nothing was erased."
                    .to_owned(),
                SessionState::Restricted { .. } => {
                    "This device is suspended; another device of the account can resume it."
                        .to_owned()
                }
                SessionState::Revoked(revocation) => {
                    format!("{}; its keys are erased.", sentence(&revocation.describe()))
                }
                SessionState::RecoveringElsewhere => {
                    "Your account was recovered on another device; sign in again.".to_owned()
                }
                SessionState::Wiped => "This device was wiped.".to_owned(),
            },
            WatchUpdate::Devices { list } => format!(
                "Device list verified at entry {}: {} active.",
                list.head.seq,
                list.devices.iter().filter(|d| d.state.is_active()).count()
            ),
            WatchUpdate::EnrollmentRequest { id } => {
                format!("A new device asks to join your account (request {id}).")
            }
            WatchUpdate::EnrollmentUpdated { id, state } => {
                format!("Enrollment request {id} is now {}.", state.as_str())
            }
            WatchUpdate::RecoveryStarted => {
                "Someone is recovering your account with the recovery phrase.".to_owned()
            }
            WatchUpdate::Offline { retry_in_ms } => {
                format!("Offline; retrying in {} s.", retry_in_ms.div_ceil(1000))
            }
            WatchUpdate::Online => "Connected.".to_owned(),
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|_| CliError::new("stdout", "cannot write to stdout"))
}

/// `enigm ledger ...`.
pub(crate) fn ledger(global: &Global, command: LedgerCommand) -> Result<(), CliError> {
    match command {
        LedgerCommand::Show => {
            let history = with_engine(global, async |engine| engine.ledger_history().await)?;
            let mut lines: Vec<String> = history.entries.iter().map(entry_line).collect();
            lines.push(verified_line(&history.head));
            print(global, &to_json(&history)?, &lines.join("\n"))
        }
        LedgerCommand::Verify => {
            let list = with_engine(global, async |engine| engine.sync().await)?;
            print(
                global,
                &json!({ "verified": true, "head": to_json(&list.head)? }),
                &verified_line(&list.head),
            )
        }
    }
}

/// "ledger verified: N entries, head H".
fn verified_line(head: &HeadView) -> String {
    let count = head.seq + 1;
    format!(
        "ledger verified: {count} {}, head {}",
        if count == 1 { "entry" } else { "entries" },
        hex::encode(&head.hash.0[..8])
    )
}

/// One history entry in words, devices by fingerprint.
fn entry_line(entry: &EntryView) -> String {
    let device = entry
        .device
        .map_or_else(String::new, |device| device.fingerprint());
    let what = match entry.kind {
        Change::Genesis => format!("account created by {device}"),
        Change::AddDevice => match entry.replaces {
            Some(old) => format!("{device} added, replacing {}", old.fingerprint()),
            None => format!("{device} added"),
        },
        Change::Recover => format!("recovered with the recovery phrase on {device}"),
        Change::Revoke => format!(
            "{device} revoked ({})",
            entry.reason.map_or("unspecified", RevokeReason::as_str)
        ),
        Change::Review => format!(
            "{device} {} by the organization",
            if entry.approved == Some(true) {
                "approved"
            } else {
                "refused"
            }
        ),
        Change::RotateRecovery => "recovery phrase replaced".to_owned(),
        Change::JoinOrganization => "joined an organization".to_owned(),
        Change::LeaveOrganization => "left its organization".to_owned(),
        Change::Suspend => format!("{device} suspended"),
        Change::Resume => format!("{device} resumed"),
        Change::Retire => format!("{device} retired"),
    };
    let by = match (entry.kind, entry.by) {
        (Change::Genesis, _) | (_, None) => String::new(),
        (Change::AddDevice, Some(by)) => format!(", approved by {}", by.fingerprint()),
        (_, Some(by)) => format!(", by {}", by.fingerprint()),
    };
    let revoked: Vec<String> = entry.revoked.iter().map(|d| d.fingerprint()).collect();
    let revoked = if revoked.is_empty() {
        String::new()
    } else {
        format!("; revoked {}", revoked.join(", "))
    };
    // The signer's own clock: a date for people, never an order.
    let when = entry.signed_at.map_or_else(String::new, |at| {
        format!(" (around {})", enigm_core::session::utc_minute(at))
    });
    format!("#{:<3} {what}{by}{revoked}{when}", entry.seq)
}

pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, CliError> {
    serde_json::to_value(value).map_err(|_| CliError::new("internal", "cannot encode the result"))
}

/// `session list` as a table, this session marked.
fn session_table(sessions: &[SessionView]) -> String {
    let mut lines = vec![format!(
        "{:<21} {:<19} {:<20} {:<14} {}",
        "SESSION", "DEVICE", "LABEL", "LAST USED", ""
    )];
    lines.extend(sessions.iter().map(|session| {
        format!(
            "{:<21} {:<19} {:<20} {:<14} {}",
            session.id,
            session.fingerprint,
            session.label.as_deref().unwrap_or("-"),
            session.last_used,
            if session.current {
                "(this session)"
            } else if session.this_device {
                "(this device)"
            } else {
                ""
            }
        )
    }));
    lines.join("\n")
}

pub(crate) fn device_table(list: &DeviceList) -> String {
    let mut lines = vec![format!(
        "{:<34} {:<19} {:<10} {:<20} {:<14} {}",
        "DEVICE", "FINGERPRINT", "STATE", "LABEL", "SEEN", ""
    )];
    lines.extend(list.devices.iter().map(|device: &DeviceView| {
        format!(
            "{:<34} {:<19} {:<10} {:<20} {:<14} {}",
            device.device_id.to_hex(),
            device.fingerprint,
            device.state,
            device.label.as_deref().unwrap_or("-"),
            device.last_seen.as_deref().unwrap_or("-"),
            if device.this_device {
                "(this device)"
            } else {
                ""
            }
        )
    }));
    lines.push(format!("verified at entry {}", list.head.seq));
    lines.join("\n")
}
