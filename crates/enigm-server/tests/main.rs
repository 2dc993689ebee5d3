//! The service's integration tests, as one test binary: the service runs in process
//! (`common::Service`) and the tests speak HTTP and push to it over loopback, as clients do.
//! Tests about the `enigm server` process itself (kill -9, restarts, its flags, two nodes) are
//! enigm-cli's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod at_rest;
mod enrollment;
mod expiries;
mod guessing;
mod last_seen;
mod limits;
mod password_change;
mod postgres_outage;
mod push;
mod recovery;
mod service_flow;
mod signed_in;
mod sync_keys;
