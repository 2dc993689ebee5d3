//! Wire-level constructions clients must reproduce exactly that enigm-core does not define
//! (request signing itself is `enigm_core::request`), and the service's pure checks of a signed
//! request, public so that benches measure the very code every protected request runs.

use enigm_core::identity::SigningPublicKey;
use enigm_core::request::{RequestAuth, verify_request};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{AuthFailure, ServerError};

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

/// Parses an `Authorization` header value as the service does for every signed request.
///
/// # Errors
/// [`ServerError::Unauthenticated`] with [`AuthFailure::Malformed`] unless it is a well-formed
/// `Enigm` authorization (the client is not told which part is wrong).
pub fn parse_authorization(header: &str) -> Result<RequestAuth, ServerError> {
    RequestAuth::parse_header(header)
        .map_err(|_| ServerError::Unauthenticated(AuthFailure::Malformed))
}

/// Checks a parsed authorization against the session's device key, as the service does for
/// every signed request once it has loaded the session: the timestamp within `max_skew_secs`
/// of `now`, then the strict Ed25519 signature over the method, the path with its query, the
/// body, the timestamp, the nonce and the session id. The nonce's freshness is storage's job.
///
/// # Errors
/// [`AuthFailure::StaleTimestamp`] or [`AuthFailure::BadSignature`] as
/// [`ServerError::Unauthenticated`]; [`ServerError::Internal`] if `device_key` is not a valid
/// Ed25519 key (it was checked at login, so storage is corrupt).
pub fn verify_signed_request(
    auth: &RequestAuth,
    device_key: &[u8; 32],
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
    max_skew_secs: u64,
) -> Result<(), ServerError> {
    let key = SigningPublicKey::from_bytes(device_key)
        .map_err(|_| ServerError::Internal("stored session key invalid".into()))?;
    verify_request(&key, auth, method, path, body, now, max_skew_secs).map_err(|error| {
        ServerError::Unauthenticated(match error {
            enigm_core::Error::RequestStale => AuthFailure::StaleTimestamp,
            _ => AuthFailure::BadSignature,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigm_core::identity::DeviceSecrets;
    use enigm_core::request::{MAX_CLOCK_SKEW_SECS, SessionId, sign_request};
    use proptest::prelude::*;
    use rand_core::OsRng;

    const NOW: u64 = 1_750_000_000;

    fn auth_failure(error: ServerError) -> Option<AuthFailure> {
        match error {
            ServerError::Unauthenticated(failure) => Some(failure),
            _ => None,
        }
    }

    proptest! {
        #[test]
        fn arbitrary_headers_are_malformed_authorizations(header in ".{0,300}") {
            if let Err(error) = parse_authorization(&header) {
                prop_assert_eq!(auth_failure(error), Some(AuthFailure::Malformed));
            }
        }

        #[test]
        fn signed_requests_verify_and_any_change_is_a_bad_signature(
            method in "[A-Z]{1,7}",
            path in "/[ -~]{0,60}",
            body in proptest::collection::vec(any::<u8>(), 0..200),
            skew in 0u64..=MAX_CLOCK_SKEW_SECS,
            flip in any::<prop::sample::Index>(),
        ) {
            let device = DeviceSecrets::generate(&mut OsRng);
            let key = *device.public().signing.as_bytes();
            let session = SessionId::generate(&mut OsRng);
            let header =
                sign_request(&device, session, &method, &path, &body, NOW, &mut OsRng).to_header();
            let auth = parse_authorization(&header).unwrap();
            let check = |method: &str, path: &str, body: &[u8], now: u64| {
                verify_signed_request(&auth, &key, method, path, body, now, MAX_CLOCK_SKEW_SECS)
                    .map_err(auth_failure)
            };
            prop_assert_eq!(check(&method, &path, &body, NOW + skew), Ok(()));
            prop_assert_eq!(check(&method, &path, &body, NOW - skew), Ok(()));
            prop_assert_eq!(
                check(&method, &path, &body, NOW + MAX_CLOCK_SKEW_SECS + 1 + skew),
                Err(Some(AuthFailure::StaleTimestamp))
            );
            let mut tampered = body.clone();
            if tampered.is_empty() {
                tampered.push(0);
            } else {
                let i = flip.index(tampered.len());
                tampered[i] ^= 1;
            }
            prop_assert_eq!(
                check(&method, &path, &tampered, NOW),
                Err(Some(AuthFailure::BadSignature))
            );
            prop_assert_eq!(
                check(&method, &format!("{path}x"), &body, NOW),
                Err(Some(AuthFailure::BadSignature))
            );
            let stranger = *DeviceSecrets::generate(&mut OsRng).public().signing.as_bytes();
            prop_assert_eq!(
                verify_signed_request(&auth, &stranger, &method, &path, &body, NOW, MAX_CLOCK_SKEW_SECS)
                    .map_err(auth_failure),
                Err(Some(AuthFailure::BadSignature))
            );
        }
    }

    #[test]
    fn binding_depends_on_every_input() {
        let base = session_binding_message(&[1; 16], &[2; 64], &[3; 32]);
        assert_eq!(base.len(), SESSION_BINDING_DOMAIN.len() + 16 + 32 + 32);
        assert_ne!(base, session_binding_message(&[9; 16], &[2; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[9; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[2; 64], &[9; 32]));
    }
}
