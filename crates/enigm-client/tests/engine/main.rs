//! The engine's integration tests, as one test binary: the real engine (enigm-client) against
//! the service run in process (enigm-server's test harness, included in `common`), honest or
//! behind a hostile proxy. Tests about the `enigm` command are enigm-cli's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod app_lock;
mod engine_session;
mod enroll_engine;
mod hostile_service;
