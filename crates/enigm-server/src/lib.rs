//! The Enigm service (DESIGN §1, §3, §4, §6, §13): accounts over OPAQUE, sessions bound to a
//! device's Ed25519 key with every request signed, the device ledger, the enrollment relay
//! (DESIGN §7, [`EnrollmentRefusal`] for its refusals), push, and a hash-chained audit trail that
//! carries pseudonyms only.
//!
//! The protocol and policy live in enigm-core; this crate is the I/O around them: HTTP (axum),
//! persistence behind the [`storage::Storage`] trait, the service's secrets, rate limits and
//! the clock ([`Clock`]: the system's, or a test's [`ManualClock`]). `enigm server` (crate
//! enigm-cli) is a thin shell over [`Server`].
//!
//! ```no_run
//! # async fn run() -> Result<(), enigm_server::ServerError> {
//! use enigm_server::{Config, Server};
//! let config = Config::new("127.0.0.1:0".parse().unwrap(), "/tmp/enigm-data".into());
//! let server = Server::bind(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run(std::future::pending()).await
//! # }
//! ```

mod api;
mod audit;
mod auth;
mod client_source;
mod clock;
mod config;
mod enrollment;
mod error;
mod files;
mod ledger_cache;
mod login_seal;
pub mod protocol;
pub mod push;
mod push_notify;
mod secrets;
mod server;
mod state;
pub mod storage;
mod tls;

pub use client_source::Cidr;
pub use clock::{Clock, ManualClock};
pub use config::Config;
pub use enrollment::EnrollmentRefusal;
pub use error::{AuthFailure, LimitRefusal, ServerError};
pub use server::Server;
pub use tls::TlsFiles;
