//! The engine tests' harness is the service's (`crates/enigm-server/tests/common`): the service
//! in process, the HTTP client, the protocol spoken directly and the hostile proxy.

// The service's harness serves three test binaries; this one uses part of it.
#![allow(dead_code)]

pub use in_process::Service;
pub use service::{Http, Response, fresh_postgres_url};

#[path = "../../../../enigm-server/tests/common/enigm.rs"]
pub mod enigm;
#[path = "../../../../enigm-server/tests/common/hostile.rs"]
pub mod hostile;
#[path = "../../../../enigm-server/tests/common/in_process.rs"]
mod in_process;
#[path = "../../../../enigm-server/tests/common/service.rs"]
mod service;
