//! End-to-end tests of the desktop app: see first_run.rs.
