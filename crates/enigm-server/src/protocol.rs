//! Wire-level constructions clients must reproduce exactly that enigm-core does not define
//! (request signing itself is `enigm_core::request`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Domain separator of the login binding.
pub const SESSION_BINDING_DOMAIN: &[u8] = b"enigm/session-binding/v1";

/// The message a device signs with its Ed25519 key to finish a login:
/// `domain || login_id || device_key || HMAC-SHA256(session_key, domain || login_id || device_key)`,
/// where `session_key` is the OPAQUE session key both sides derived in this login. Only the
/// party that ran the login knows the MAC, and the signature binds the session to the key.
pub fn session_binding_message(
    login_id: &[u8; 16],
    session_key: &[u8],
    device_key: &[u8; 32],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(SESSION_BINDING_DOMAIN.len() + 16 + 32 + 32);
    message.extend_from_slice(SESSION_BINDING_DOMAIN);
    message.extend_from_slice(login_id);
    message.extend_from_slice(device_key);
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty MAC input
    // rather than panic if it ever did.
    let tag = <Hmac<Sha256> as Mac>::new_from_slice(session_key)
        .map(|mac| mac.chain_update(&message).finalize().into_bytes().to_vec())
        .unwrap_or_default();
    message.extend_from_slice(&tag);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_depends_on_every_input() {
        let base = session_binding_message(&[1; 16], &[2; 64], &[3; 32]);
        assert_eq!(base.len(), SESSION_BINDING_DOMAIN.len() + 16 + 32 + 32);
        assert_ne!(base, session_binding_message(&[9; 16], &[2; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[9; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[2; 64], &[9; 32]));
    }
}
