//! Wire-level constructions shared with clients; they live in enigm-core so the client engine
//! builds them with the same code (re-exported here for the service's own tests and callers).

pub use enigm_core::request::{SESSION_BINDING_DOMAIN, session_binding_message};
