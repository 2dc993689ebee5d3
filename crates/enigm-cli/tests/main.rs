//! The CLI's integration tests, and the service's where a real process matters (kill -9,
//! restarts, its flags, two nodes on one database), as one test binary: every file below used
//! to link its own copy of the engine, the service and SQLCipher, which cost a link step and
//! hundreds of megabytes each. The service's other tests run it in process (enigm-server's
//! tests), the engine's likewise (enigm-client's).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod app_lock;
mod at_rest;
mod audit_export;
mod cli_enrollment;
mod cli_recovery;
mod durability;
mod one_profile;
mod password_change;
mod phrase_rotation;
mod postgres_nodes;
mod postgres_tls;
mod removed_device;
mod server_basics;
mod set_up_again;
mod signed_in;
mod sync_keys;
mod terminal;
mod user_flow;
