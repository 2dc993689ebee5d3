//! `enigm`: the Enigm engine headless (DESIGN §16): the user subcommands over the engine
//! (enigm-client), `server` over the service (enigm-server) and `audit` (export through the
//! engine, verify offline over enigm-core), sharing the global options declared here.

mod audit;
mod enroll;
mod recover;
mod server;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The `enigm` command line.
#[derive(Debug, Parser)]
#[command(
    name = "enigm",
    version,
    about = "Enigm: accounts, devices and the service"
)]
struct Cli {
    /// Profile directory (the local encrypted store of one device). By default the desktop
    /// app's own profile (org.enigm.desktop/profiles/default in the data directory), so the app
    /// and the CLI on one computer are one device of the account.
    #[arg(long, global = true, env = "ENIGM_PROFILE")]
    profile: Option<PathBuf>,
    /// Service URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "ENIGM_SERVER")]
    server: Option<String>,
    /// Print one JSON object per command (JSON lines for long-running ones).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand can read.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    /// `--profile` / `ENIGM_PROFILE`.
    pub(crate) profile: Option<PathBuf>,
    /// `--server` / `ENIGM_SERVER`.
    pub(crate) server: Option<String>,
    /// `--json`.
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register or sign in.
    #[command(subcommand)]
    Account(user::AccountCommand),
    /// The account's devices.
    #[command(subcommand)]
    Device(user::DeviceCommand),
    /// This device's session.
    #[command(subcommand)]
    Session(user::SessionCommand),
    /// The account's device ledger.
    #[command(subcommand)]
    Ledger(user::LedgerCommand),
    /// The recovery phrase: check one offline, or replace it.
    #[command(subcommand)]
    Recovery(recover::RecoveryCommand),
    /// Run the Enigm service.
    Server(server::ServerArgs),
    /// Audit exports: save this account's, or verify one offline.
    Audit(audit::AuditArgs),
    /// Unlock this profile after the app locked it: the account password from stdin (checked
    /// online by the service) or, with --pin, this computer's PIN (checked here, offline).
    Unlock(user::UnlockArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = Global {
        profile: cli.profile,
        server: cli.server,
        json: cli.json,
    };
    let result = match cli.command {
        Command::Account(command) => user::account(&global, command),
        Command::Device(command) => user::device(&global, command),
        Command::Session(command) => user::session(&global, command),
        Command::Ledger(command) => user::ledger(&global, command),
        Command::Recovery(command) => recover::recovery(&global, command),
        Command::Server(args) => server::run(&global, args),
        Command::Audit(args) => audit::run(&global, args),
        Command::Unlock(args) => user::unlock(&global, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report_error(&global, &error);
            ExitCode::FAILURE
        }
    }
}

/// Prints one line saying what went wrong: JSON on stdout with `--json`, text on stderr.
fn report_error(global: &Global, error: &CliError) {
    if global.json {
        let body = serde_json::json!({ "error": { "code": error.code, "message": error.message } });
        println!("{body}");
    } else {
        eprintln!("enigm: {}", error.message);
    }
}

/// A failed command: a stable code and a one-line message.
#[derive(Debug)]
pub(crate) struct CliError {
    /// Stable, machine-readable.
    pub(crate) code: String,
    /// One line for people.
    pub(crate) message: String,
}

impl CliError {
    /// An error with a code and a message.
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}
