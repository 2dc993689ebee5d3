//! `enigm audit export [--out FILE]`: fetches this account's audit trail signed by the
//! service (`GET /v1/audit/export`, through the engine) and writes it as JSON, to keep.
//!
//! `enigm audit verify FILE [--key HEX | --key-file FILE]`: checks a signed audit export
//! offline (DESIGN §13, §16): every record links to the one before it from record 0, and the
//! service's signature covers exactly these records. With a pinned key (from
//! `GET /v1/audit/key`, obtained over a channel you trust) it also proves who signed.
//!
//! Success prints one line (`ok: N records, chain intact, signed by KEY`); a failure exits
//! non-zero with one line that names what broke: which record, the signature, or the key.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use enigm_core::Error as CoreError;
use enigm_core::audit::AuditExport;
use enigm_core::identity::SigningPublicKey;

use crate::user::{print, with_engine};
use crate::{CliError, Global};

/// The largest export file read, in bytes (about 300 bytes per record).
const MAX_EXPORT_BYTES: u64 = 64 * 1024 * 1024;

/// The largest key file read, in bytes.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// `enigm audit ...`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Save this account's audit trail, signed by the service, as JSON (stdout, or --out).
    Export(ExportArgs),
    /// Verify a signed audit export offline: chain links, hashes and the service's signature.
    Verify(VerifyArgs),
}

/// `enigm audit export [--out FILE]`.
#[derive(Debug, Args)]
struct ExportArgs {
    /// Write the export to this file (replacing it) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `enigm audit verify FILE`.
#[derive(Debug, Args)]
struct VerifyArgs {
    /// The export, as saved from `GET /v1/audit/export`.
    file: PathBuf,
    /// The service's audit public key (64 hex digits) the export must be signed with.
    #[arg(long, conflicts_with = "key_file")]
    key: Option<String>,
    /// A file holding that key: the hex key, or the JSON of `GET /v1/audit/key`.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// Runs `enigm audit ...`.
pub(crate) fn run(global: &Global, args: AuditArgs) -> Result<(), CliError> {
    match args.command {
        AuditCommand::Export(args) => export(global, &args),
        AuditCommand::Verify(args) => verify(global, &args),
    }
}

/// Fetches the signed export and writes it: to `--out` with one line saying where, else to
/// stdout as the export itself (already JSON, so `--json` changes nothing there).
fn export(global: &Global, args: &ExportArgs) -> Result<(), CliError> {
    let export = with_engine(global, async |engine| engine.audit_export().await)?;
    let mut bytes = serde_json::to_vec_pretty(&export)
        .map_err(|error| CliError::new("internal", format!("cannot encode the export: {error}")))?;
    bytes.push(b'\n');
    let Some(path) = &args.out else {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(|error| CliError::new("stdout", format!("cannot write to stdout: {error}")));
    };
    std::fs::write(path, &bytes).map_err(|error| {
        CliError::new(
            "unwritable_file",
            format!("cannot write {}: {error}", path.display()),
        )
    })?;
    let count = export.records.len();
    print(
        global,
        &serde_json::json!({ "saved": path, "records": count }),
        &format!("saved {count} records to {}", path.display()),
    )
}

fn verify(global: &Global, args: &VerifyArgs) -> Result<(), CliError> {
    let pinned = match (&args.key, &args.key_file) {
        (Some(text), _) => Some(parse_key(text)?),
        (None, Some(path)) => Some(parse_key(&key_from_file(path)?)?),
        (None, None) => None,
    };
    let bytes = read_limited(&args.file, MAX_EXPORT_BYTES)?;
    let export: AuditExport = serde_json::from_slice(&bytes).map_err(|error| CliError {
        code: "malformed_export".into(),
        message: format!("{} is not an audit export: {error}", args.file.display()),
    })?;
    export
        .verify(pinned.as_ref())
        .map_err(|error| failure(&export, pinned.as_ref(), error))?;
    let signer = hex::encode(export.service_key.as_bytes());
    let count = export.records.len();
    let length = export.chain_length();
    let line = if global.json {
        serde_json::json!({
            "ok": true,
            "records": count,
            "complete": export.complete(),
            "chain_length": length,
            "exported_at": export.exported_at,
            "service_key": signer,
            "key_pinned": pinned.is_some(),
        })
        .to_string()
    } else {
        let unpinned = if pinned.is_some() {
            ""
        } else {
            " (key not pinned: pass --key to check it is the service's)"
        };
        let whole = if export.complete() {
            "chain intact".to_owned()
        } else {
            format!(
                "chain intact as far as it goes, but CUT: the chain held {length} records when \
                 exported"
            )
        };
        format!("ok: {count} records, {whole}, signed by {signer}{unpinned}")
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|error| CliError {
        code: "stdout".into(),
        message: format!("cannot write to stdout: {error}"),
    })
}

/// One precise line for a failed verification.
fn failure(export: &AuditExport, pinned: Option<&SigningPublicKey>, error: CoreError) -> CliError {
    let (code, message) = match error {
        CoreError::AuditWrongSeq { expected, found } => (
            "broken_chain",
            format!(
                "record {expected} is missing or out of place: record {found} stands where it \
                 belongs"
            ),
        ),
        CoreError::AuditBrokenChain { seq: 0 } => (
            "broken_chain",
            "record 0 does not start a chain (its previous hash is not zero)".to_owned(),
        ),
        CoreError::AuditBrokenChain { seq } => (
            "broken_chain",
            format!(
                "record {seq} does not link to record {}: record {} was altered",
                seq - 1,
                seq - 1
            ),
        ),
        CoreError::AuditExportWrongKey => (
            "wrong_key",
            format!(
                "signed by {}, not by the expected key {}",
                hex::encode(export.service_key.as_bytes()),
                pinned.map_or_else(String::new, |key| hex::encode(key.as_bytes()))
            ),
        ),
        CoreError::AuditExportBadSignature => (
            "bad_signature",
            "bad signature: the records, their count, the chain head or the export time changed \
             after signing"
                .to_owned(),
        ),
        CoreError::AuditExportHeadMismatch => (
            "head_mismatch",
            "the records do not end where the export says the chain ended".to_owned(),
        ),
        other => (
            "invalid_export",
            format!("the export is not valid: {other}"),
        ),
    };
    CliError::new(code, message)
}

/// A pinned key from its hex form.
fn parse_key(text: &str) -> Result<SigningPublicKey, CliError> {
    let invalid = || CliError {
        code: "invalid_key".into(),
        message: "the key must be an Ed25519 public key as 64 hex digits".into(),
    };
    let bytes: [u8; 32] = hex::decode(text.trim())
        .map_err(|_| invalid())?
        .try_into()
        .map_err(|_| invalid())?;
    SigningPublicKey::from_bytes(&bytes).map_err(|_| invalid())
}

/// The key in a key file: bare hex, or `{"key": HEX, ...}` as `GET /v1/audit/key` returns.
fn key_from_file(path: &Path) -> Result<String, CliError> {
    let bytes = read_limited(path, MAX_KEY_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| CliError {
        code: "invalid_key".into(),
        message: format!("{} is not a text file", path.display()),
    })?;
    if !text.trim_start().starts_with('{') {
        return Ok(text);
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| CliError {
        code: "invalid_key".into(),
        message: format!("{} is neither a hex key nor JSON", path.display()),
    })?;
    value["key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CliError {
            code: "invalid_key".into(),
            message: format!("{} has no \"key\" field", path.display()),
        })
}

/// Reads `path`, refusing files larger than `limit`.
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let unreadable = |error: std::io::Error| CliError {
        code: "unreadable_file".into(),
        message: format!("cannot read {}: {error}", path.display()),
    };
    let file = File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(CliError {
            code: "file_too_large".into(),
            message: format!("{} is larger than {limit} bytes", path.display()),
        });
    }
    Ok(bytes)
}
