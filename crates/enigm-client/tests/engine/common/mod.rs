//! The engine tests' harness is the service's (`crates/enigm-server/tests/common`): the service
//! in process, the HTTP client, the protocol spoken directly and the hostile proxy.

// The service's harness serves three test binaries; this one uses part of it.
#![allow(dead_code)]

use enigm_client::{ClientError, Engine};
use zeroize::Zeroizing;

pub use in_process::Service;
pub use profile::Profile;
pub use service::{Http, Response, fresh_postgres_url};

#[path = "../../../../enigm-server/tests/common/enigm.rs"]
pub mod enigm;
#[path = "../../../../enigm-server/tests/common/hostile.rs"]
pub mod hostile;
#[path = "../../../../enigm-server/tests/common/in_process.rs"]
mod in_process;
mod profile;
#[path = "../../../../enigm-server/tests/common/service.rs"]
mod service;

/// The password every account of these tests has.
pub const PASSWORD: &str = "correct horse battery staple 42";

/// Registers `username` with [`PASSWORD`] through `engine`, which must succeed.
pub async fn register(engine: &Engine, username: &str) {
    let password = Zeroizing::new(PASSWORD.to_owned());
    engine.register(username, &password).await.unwrap();
}

/// The error code of an engine call that must fail.
pub async fn error_code<T: std::fmt::Debug>(
    call: impl Future<Output = Result<T, ClientError>>,
) -> String {
    call.await.unwrap_err().code().to_owned()
}
