//! The service's test harness: the service in process (`in_process.rs`), a minimal HTTP/1.1
//! client that records every request body (`service.rs`), the protocol spoken directly
//! (`enigm.rs`, `relay.rs`, `push.rs`) and a hostile proxy (`hostile.rs`). enigm-cli's and
//! enigm-client's integration tests include these files too, so every crate's tests speak to
//! the service alike.

// The harness serves three test binaries; each uses part of it.
#![allow(dead_code)]

pub use in_process::Service;
#[cfg(unix)]
pub use secrets::mode;
pub use secrets::{contains, read_tree};
pub use service::{Http, Response, fresh_postgres_url};

pub mod enigm;
pub mod hostile;
mod in_process;
pub mod push;
pub mod relay;
mod secrets;
mod service;
