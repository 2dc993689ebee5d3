//! The service's pure checks of a signed request, public so that benches measure the very code
//! every protected request runs; and the login binding, which lives in enigm-core so the client
//! engine builds it with the same code (re-exported here for the service's callers).

use enigm_core::identity::SigningPublicKey;
use enigm_core::request::{RequestAuth, verify_request};

use crate::error::{AuthFailure, ServerError};

pub use enigm_core::request::{SESSION_BINDING_DOMAIN, session_binding_message};

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
}
