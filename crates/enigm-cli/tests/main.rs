//! The CLI's and the service's integration tests, as one test binary: every file below used to
//! link its own copy of the engine, the service and SQLCipher, which cost a link step and
//! hundreds of megabytes each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod app_lock;
mod at_rest;
mod audit_export;
mod cli_enrollment;
mod cli_recovery;
mod durability;
mod engine_session;
mod enroll_engine;
mod enrollment;
mod guessing;
mod hostile_service;
mod last_seen;
mod limits;
mod one_profile;
mod postgres_nodes;
mod postgres_outage;
mod postgres_tls;
mod push;
mod recovery;
mod removed_device;
mod server_basics;
mod service_flow;
mod sync_keys;
mod terminal;
mod user_flow;
