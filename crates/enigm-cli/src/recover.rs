//! The recovery subcommands (DESIGN §8, §16): `account recover` on a new device,
//! `recovery check` (offline) and `recovery rotate` on an active one. Each is a thin shell over
//! the engine; the phrase and the new password come from stdin only, are checked before any
//! profile is opened, and appear in no error message.
//!
//! With `--stdin` from a pipe, `account recover` reads the phrase line, then the new password
//! line, and revokes the devices named by `--lost`. On a terminal it asks for the words one by
//! one (hidden, each checked as it is typed), shows the verified device list, asks which
//! devices are lost, and asks for the new password twice.

use std::io::{BufRead, IsTerminal, Read, Write};

use clap::{Args, Subcommand};
use enigm_client::{DeviceList, check_phrase};
use enigm_core::identity::DeviceId;
use enigm_core::recovery::{RecoveryPhrase, WORD_COUNT, complete, resolve_word};
use serde_json::json;
use zeroize::Zeroizing;

use crate::user::{device_table, numbered, print, read_password, to_json, with_engine};
use crate::{CliError, Global};

/// Longest phrase line read from stdin (24 words of at most 8 letters, with room for spaces).
const MAX_PHRASE_LINE: usize = 4096;

/// `account recover --username U --stdin [--lost DEVICE]...`.
#[derive(Debug, Args)]
pub(crate) struct RecoverArgs {
    /// The account's username.
    #[arg(long)]
    username: String,
    /// Read the phrase, then the new password, from stdin (one line each; prompts on a
    /// terminal).
    #[arg(long, required = true)]
    stdin: bool,
    /// A lost device to revoke: its id or a unique prefix, from the verified device list.
    #[arg(long = "lost", value_name = "DEVICE")]
    lost: Vec<String>,
}

/// `enigm recovery ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RecoveryCommand {
    /// Check a recovery phrase offline: word count, words, checksum.
    Check(CheckArgs),
    /// Replace the recovery phrase from this active device; prints the new one once.
    Rotate,
}

/// `recovery check --stdin`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Read the phrase from stdin (one line; hidden prompt on a terminal).
    #[arg(long, required = true)]
    stdin: bool,
}

/// `enigm account recover`.
pub(crate) fn recover(global: &Global, args: &RecoverArgs) -> Result<(), CliError> {
    let terminal = std::io::stdin().is_terminal();
    let phrase = if terminal {
        prompt_phrase()?
    } else {
        check_phrase(&read_phrase_line()?)?
    };
    let password = if terminal {
        None
    } else {
        Some(read_password()?)
    };
    // The terminal's answers are asked between the engine's two steps; a refusal there is the
    // inner error.
    let recovered = with_engine(global, async |engine| {
        let candidate = engine.begin_recovery(&args.username, &phrase).await?;
        let mut lost = resolve_all(candidate.devices(), &args.lost)?;
        let password = match password {
            Some(password) => password,
            None => match ask_lost_and_password(candidate.devices()) {
                Ok((asked, password)) => {
                    lost.extend(asked);
                    password
                }
                Err(refusal) => return Ok(Err(refusal)),
            },
        };
        lost.sort_by_key(DeviceId::to_hex);
        lost.dedup();
        let count = lost.len();
        candidate
            .finish(&password, &lost)
            .await
            .map(|recovered| Ok((recovered, count)))
    })??;
    let (recovered, lost) = recovered;
    let list = &recovered.devices;
    let revoked = match lost {
        0 => "no device was revoked".to_owned(),
        1 => "the device you marked lost is revoked".to_owned(),
        n => format!("the {n} devices you marked lost are revoked"),
    };
    print(
        global,
        &json!({
            "device_id": recovered.device_id.to_hex(),
            "devices": to_json(&list.devices)?,
            "head": to_json(&list.head)?,
            "verified": list.verified,
        }),
        &format!(
            "Account recovered; this device is active and your new password is set. Every \
             other device must sign in again; {revoked}.\n\n{}",
            device_table(list)
        ),
    )
}

/// `enigm recovery ...`.
pub(crate) fn recovery(global: &Global, command: RecoveryCommand) -> Result<(), CliError> {
    match command {
        RecoveryCommand::Check(_) => {
            let text =
                if std::io::stdin().is_terminal() {
                    Zeroizing::new(rpassword::prompt_password("Recovery phrase: ").map_err(
                        |_| CliError::new("stdin", "could not read the phrase from the terminal"),
                    )?)
                } else {
                    read_phrase_line()?
                };
            check_phrase(&text)?;
            print(
                global,
                &json!({ "ok": true, "words": WORD_COUNT, "checksum": "valid" }),
                &format!("ok: {WORD_COUNT} words, checksum valid"),
            )
        }
        RecoveryCommand::Rotate => {
            let phrase = with_engine(global, async |engine| engine.rotate_recovery().await)?;
            let words = phrase.words();
            print(
                global,
                &json!({ "recovery_phrase": words.as_str() }),
                &format!(
                    "Your recovery phrase was replaced; the old one no longer works. Write the \
                     new one down and keep it safe: it is shown only this once.\n\n{}",
                    numbered(&words).as_str()
                ),
            )
        }
    }
}

/// One line of stdin: the phrase.
fn read_phrase_line() -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .take(MAX_PHRASE_LINE as u64)
        .read_line(&mut line)
        .map_err(|_| CliError::new("stdin", "could not read the phrase from stdin"))?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// The devices named on the command line, resolved against the verified list.
fn resolve_all(
    list: &DeviceList,
    names: &[String],
) -> Result<Vec<DeviceId>, enigm_client::ClientError> {
    names
        .iter()
        .map(|name| list.resolve(name).map(|device| device.device_id))
        .collect()
}

/// Asks for the 24 words one at a time, hidden, re-asking a word that is not in the list.
fn prompt_phrase() -> Result<RecoveryPhrase, CliError> {
    let mut words = Zeroizing::new(String::new());
    let mut position = 1;
    while position <= WORD_COUNT {
        let typed = Zeroizing::new(
            rpassword::prompt_password(format!("Word {position} of {WORD_COUNT}: "))
                .map_err(|_| CliError::new("stdin", "could not read the word"))?,
        );
        let Some(word) = resolve_word(&typed) else {
            let completions = complete(&typed);
            let hint = match completions.as_slice() {
                [] => "it is not in the word list".to_owned(),
                many => format!("it could be {}", many.join(", ")),
            };
            eprintln!("Word {position}: {hint}; type it again.");
            continue;
        };
        if position > 1 {
            words.push(' ');
        }
        words.push_str(word);
        position += 1;
    }
    Ok(check_phrase(&words)?)
}

/// Shows the verified devices, asks which are lost, then the new password twice.
fn ask_lost_and_password(
    list: &DeviceList,
) -> Result<(Vec<DeviceId>, Zeroizing<String>), CliError> {
    eprintln!(
        "The phrase is this account's. Its devices, verified:\n\n{}\n",
        device_table(list)
    );
    let lost = loop {
        eprint!(
            "Which devices are lost? Device ids or prefixes, separated by spaces (none: Enter): "
        );
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_PHRASE_LINE as u64)
            .read_line(&mut line)
            .map_err(|_| CliError::new("stdin", "could not read the answer"))?;
        let names: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        match resolve_all(list, &names) {
            Ok(lost) => break lost,
            Err(error) => eprintln!("{error}"),
        }
    };
    let password = Zeroizing::new(
        rpassword::prompt_password("New password: ")
            .map_err(|_| CliError::new("stdin", "could not read the password"))?,
    );
    let again = Zeroizing::new(
        rpassword::prompt_password("New password again: ")
            .map_err(|_| CliError::new("stdin", "could not read the password"))?,
    );
    if password.is_empty() {
        return Err(CliError::new("empty_password", "the password is empty"));
    }
    if password != again {
        return Err(CliError::new(
            "password_mismatch",
            "the two passwords differ",
        ));
    }
    Ok((lost, password))
}
