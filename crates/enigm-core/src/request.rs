//! Proof-of-possession request signing (DESIGN §6).
//!
//! A session is not a bearer token. Every authenticated request carries a [`RequestAuth`]: the
//! session id, a timestamp, a fresh random nonce and an Ed25519 signature by the device key the
//! session is bound to. The signature covers the request itself, so a captured header is useless
//! for any other method, path, body, time or session.
//!
//! # Signed message
//!
//! ```text
//! "enigm/request/v1"
//! || u64_be(len(method)) || method          exact bytes as sent, e.g. "POST"
//! || u64_be(len(path))   || path            request target with query, exactly as sent
//! || SHA-256(body)                          32 bytes (hash of the empty string if no body)
//! || u64_be(timestamp)                      unix seconds
//! || nonce                                  16 bytes
//! || session id                             16 bytes
//! ```
//!
//! Only the two variable-length fields need a length; everything else has a fixed size, so no
//! two different requests share an encoding. The verifier must use the method and the raw
//! request target (path and query) exactly as they arrived, before any normalisation.
//!
//! # Header
//!
//! `Authorization: Enigm session=<b64url>, ts=<u64>, nonce=<b64url>, sig=<b64url>` (base64url
//! without padding). [`RequestAuth::parse_header`] accepts the four fields in any order, each
//! exactly once, and nothing else.
//!
//! # Replay
//!
//! [`verify_request`] checks the timestamp window and the signature only. Refusing a replayed
//! nonce needs shared state, so it belongs to the service's storage (shared by all nodes): it
//! must remember each accepted `(session, nonce)` at least until `timestamp + max_skew_secs` has
//! passed (after that [`verify_request`] refuses the request as stale anyway), and refuse a
//! nonce it has already seen.

use core::fmt;

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::Signature;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::identity::{DeviceSecrets, SigningPublicKey};

/// Domain separation tag at the start of every signed request message.
const DOMAIN: &[u8] = b"enigm/request/v1";

/// The authentication scheme name in the header.
const SCHEME: &str = "Enigm";

/// The default tolerated difference between the client's timestamp and the verifier's clock.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// The longest header value [`RequestAuth::parse_header`] reads; a well-formed one is at most
/// 183 bytes.
pub const MAX_HEADER_LEN: usize = 256;

/// Decimal digits of `u64::MAX`.
const MAX_TS_DIGITS: usize = 20;

/// A session id: 16 random bytes chosen by the service at login.
///
/// It names the session; possession of it grants nothing without the device key. `Debug` still
/// shows only a short prefix, so logs cannot be used to correlate full ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Length in bytes.
    pub const LEN: usize = 16;

    /// A fresh random session id.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Base64url without padding (22 characters), as used in the header.
    pub fn to_b64url(&self) -> String {
        BASE64URL_NOPAD.encode(&self.0)
    }

    /// Parses [`SessionId::to_b64url`]'s output.
    ///
    /// # Errors
    /// [`Error::InvalidSessionId`] unless `text` is exactly 16 bytes in canonical base64url.
    pub fn from_b64url(text: &str) -> Result<Self, Error> {
        decode_b64_fixed::<16>(text)
            .ok_or(Error::InvalidSessionId)
            .map(Self)
    }

    /// Lower-case hex (32 characters), for storage keys.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// Parses [`SessionId::to_hex`]'s output (lower-case only).
    ///
    /// # Errors
    /// [`Error::InvalidSessionId`] unless `text` is 32 lower-case hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        if text.len() != 2 * Self::LEN {
            return Err(Error::InvalidSessionId);
        }
        let bytes = data_encoding::HEXLOWER
            .decode(text.as_bytes())
            .map_err(|_| Error::InvalidSessionId)?;
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| Error::InvalidSessionId)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        write!(f, "SessionId({}…)", hex.get(..8).unwrap_or(""))
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.to_b64url()
    }
}

impl TryFrom<String> for SessionId {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        Self::from_b64url(&text)
    }
}

/// The proof of possession attached to one request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestAuth {
    /// The session the request belongs to.
    pub session: SessionId,
    /// When the client signed, in unix seconds.
    pub timestamp: u64,
    /// 16 random bytes, never reused; the service refuses a nonce it has seen.
    pub nonce: [u8; 16],
    /// The device key's signature over the request (see the module docs).
    pub signature: Signature,
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAuth")
            .field("session", &self.session)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// The exact bytes a device signs for a request (see the module docs for the layout).
pub fn signing_message(
    session: &SessionId,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    nonce: &[u8; 16],
) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(DOMAIN.len() + 8 + method.len() + 8 + path.len() + 32 + 8 + 16 + 16);
    message.extend_from_slice(DOMAIN);
    message.extend_from_slice(&(method.len() as u64).to_be_bytes());
    message.extend_from_slice(method.as_bytes());
    message.extend_from_slice(&(path.len() as u64).to_be_bytes());
    message.extend_from_slice(path.as_bytes());
    message.extend_from_slice(&Sha256::digest(body));
    message.extend_from_slice(&timestamp.to_be_bytes());
    message.extend_from_slice(nonce);
    message.extend_from_slice(session.as_bytes());
    message
}

/// Signs a request with the device key, drawing a fresh nonce from `rng`.
///
/// `path` is the request target with its query string exactly as it will be sent; `timestamp`
/// is the caller's clock in unix seconds.
pub fn sign_request(
    secrets: &DeviceSecrets,
    session: SessionId,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    rng: &mut impl CryptoRngCore,
) -> RequestAuth {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    sign_with_nonce(secrets, session, method, path, body, timestamp, nonce)
}

/// [`sign_request`] with the nonce given (fixed vectors).
fn sign_with_nonce(
    secrets: &DeviceSecrets,
    session: SessionId,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    nonce: [u8; 16],
) -> RequestAuth {
    let message = signing_message(&session, method, path, body, timestamp, &nonce);
    RequestAuth {
        session,
        timestamp,
        nonce,
        signature: secrets.sign(&message),
    }
}

/// Verifies a request's proof of possession against the session's device key.
///
/// `now` is the verifier's clock in unix seconds; the timestamp may differ from it by at most
/// `max_skew_secs` either way (normally [`MAX_CLOCK_SKEW_SECS`]). Does **not** check the nonce
/// for replay: the service's storage does (see the module docs).
///
/// # Errors
/// [`Error::RequestStale`] if the timestamp is outside the window (checked first, it is
/// cheap); [`Error::InvalidSignature`] if the signature does not verify strictly over this
/// method, path, body, timestamp, nonce and session.
pub fn verify_request(
    key: &SigningPublicKey,
    auth: &RequestAuth,
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
    max_skew_secs: u64,
) -> Result<(), Error> {
    if auth.timestamp.abs_diff(now) > max_skew_secs {
        return Err(Error::RequestStale);
    }
    let message = signing_message(
        &auth.session,
        method,
        path,
        body,
        auth.timestamp,
        &auth.nonce,
    );
    key.verify(&message, &auth.signature)
}

impl RequestAuth {
    /// The `Authorization` header value:
    /// `Enigm session=<b64url>, ts=<u64>, nonce=<b64url>, sig=<b64url>`.
    pub fn to_header(&self) -> String {
        format!(
            "{SCHEME} session={}, ts={}, nonce={}, sig={}",
            self.session.to_b64url(),
            self.timestamp,
            BASE64URL_NOPAD.encode(&self.nonce),
            BASE64URL_NOPAD.encode(&self.signature.to_bytes()),
        )
    }

    /// Parses an `Authorization` header value.
    ///
    /// Strict: at most [`MAX_HEADER_LEN`] bytes; the scheme `Enigm` (case-insensitive, as HTTP
    /// schemes are) and one space; then `session`, `ts`, `nonce` and `sig` in any order,
    /// separated by commas with optional spaces or tabs, each exactly once, no other field; the
    /// byte fields in canonical unpadded base64url of exactly their size; `ts` in decimal
    /// without sign or leading zeros. Never panics.
    ///
    /// # Errors
    /// [`Error::RequestHeaderMalformed`] naming the first problem found.
    pub fn parse_header(value: &str) -> Result<Self, Error> {
        let malformed = |reason| Error::RequestHeaderMalformed { reason };
        if value.len() > MAX_HEADER_LEN {
            return Err(malformed("header is too long"));
        }
        let (scheme, params) = value
            .split_once(' ')
            .ok_or(malformed("scheme `Enigm` and a space are required"))?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(malformed("scheme is not `Enigm`"));
        }
        let mut session = None;
        let mut timestamp = None;
        let mut nonce = None;
        let mut signature = None;
        for part in params.split(',') {
            let part = part.trim_matches([' ', '\t']);
            let (name, text) = part
                .split_once('=')
                .ok_or(malformed("a field is not `name=value`"))?;
            match name {
                "session" => {
                    let id = SessionId::from_b64url(text)
                        .map_err(|_| malformed("session is not 16 bytes of base64url"))?;
                    set_once(&mut session, id)?;
                }
                "ts" => set_once(&mut timestamp, parse_timestamp(text)?)?,
                "nonce" => {
                    let bytes = decode_b64_fixed::<16>(text)
                        .ok_or(malformed("nonce is not 16 bytes of base64url"))?;
                    set_once(&mut nonce, bytes)?;
                }
                "sig" => {
                    let bytes = decode_b64_fixed::<64>(text)
                        .ok_or(malformed("sig is not 64 bytes of base64url"))?;
                    set_once(&mut signature, Signature::from_bytes(&bytes))?;
                }
                _ => return Err(malformed("unknown field")),
            }
        }
        Ok(Self {
            session: session.ok_or(malformed("session is missing"))?,
            timestamp: timestamp.ok_or(malformed("ts is missing"))?,
            nonce: nonce.ok_or(malformed("nonce is missing"))?,
            signature: signature.ok_or(malformed("sig is missing"))?,
        })
    }
}

/// Stores `value` in `slot` unless a value is already there.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::RequestHeaderMalformed {
            reason: "duplicate field",
        });
    }
    *slot = Some(value);
    Ok(())
}

/// Parses a canonical decimal u64: digits only, no leading zero unless it is `0`.
fn parse_timestamp(text: &str) -> Result<u64, Error> {
    let malformed = |reason| Error::RequestHeaderMalformed { reason };
    if text.is_empty() || text.len() > MAX_TS_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("ts is not a decimal number"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(malformed("ts has leading zeros"));
    }
    text.parse()
        .map_err(|_| malformed("ts does not fit in 64 bits"))
}

/// Decodes canonical unpadded base64url of exactly `N` bytes.
fn decode_b64_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Checked before decoding so oversized input costs nothing.
    if text.len() != BASE64URL_NOPAD.encode_len(N) {
        return None;
    }
    BASE64URL_NOPAD
        .decode(text.as_bytes())
        .ok()?
        .try_into()
        .ok()
}

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
    let tag = crate::recovery::hmac_sha256(session_key, &[&message]);
    message.extend_from_slice(tag.as_slice());
    message
}

/// Domain separator of a device-signed login start.
pub const LOGIN_START_DOMAIN: &[u8] = b"enigm/login-start/v1";

/// The message an enrolled device signs to start a login on its own guess budget (DESIGN §14):
/// `domain || timestamp (u64 big-endian) || SHA-256(credential_request)`. It covers this very
/// OPAQUE request, so a signature buys no other guess, and a timestamp the service checks
/// against its clock, so it is not good for long.
pub fn login_start_message(timestamp: u64, credential_request: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(LOGIN_START_DOMAIN.len() + 8 + 32);
    message.extend_from_slice(LOGIN_START_DOMAIN);
    message.extend_from_slice(&timestamp.to_be_bytes());
    message.extend_from_slice(&Sha256::digest(credential_request));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_start_message_depends_on_time_and_request() {
        let base = login_start_message(1, b"request");
        assert!(base.starts_with(LOGIN_START_DOMAIN));
        assert_ne!(base, login_start_message(2, b"request"));
        assert_ne!(base, login_start_message(1, b"another"));
    }

    #[test]
    fn session_binding_depends_on_every_input() {
        let base = session_binding_message(&[1; 16], &[2; 64], &[3; 32]);
        assert_eq!(base.len(), SESSION_BINDING_DOMAIN.len() + 16 + 32 + 32);
        assert_ne!(base, session_binding_message(&[9; 16], &[2; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[9; 64], &[3; 32]));
        assert_ne!(base, session_binding_message(&[1; 16], &[2; 64], &[9; 32]));
    }
    use proptest::prelude::*;
    use rand_core::OsRng;

    const NOW: u64 = 1_750_000_000;

    fn fixture() -> (DeviceSecrets, SessionId) {
        (
            DeviceSecrets::generate(&mut OsRng),
            SessionId::generate(&mut OsRng),
        )
    }

    #[test]
    fn round_trip_verifies() {
        let (secrets, session) = fixture();
        let auth = sign_request(
            &secrets,
            session,
            "POST",
            "/v1/devices?x=1",
            b"{}",
            NOW,
            &mut OsRng,
        );
        let key = secrets.public().signing;
        verify_request(&key, &auth, "POST", "/v1/devices?x=1", b"{}", NOW, 60).unwrap();
        let parsed = RequestAuth::parse_header(&auth.to_header()).unwrap();
        assert_eq!(parsed, auth);
        verify_request(&key, &parsed, "POST", "/v1/devices?x=1", b"{}", NOW, 60).unwrap();
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let (secrets, session) = fixture();
        let key = secrets.public().signing;
        let auth = sign_request(
            &secrets, session, "POST", "/a?b=c", b"body", NOW, &mut OsRng,
        );
        let check = |auth: &RequestAuth, method: &str, path: &str, body: &[u8]| {
            verify_request(&key, auth, method, path, body, NOW, 60)
        };
        for (method, path, body) in [
            ("PUT", "/a?b=c", &b"body"[..]),
            ("post", "/a?b=c", b"body"),
            ("POST", "/a?b=d", b"body"),
            ("POST", "/a", b"body"),
            ("POST", "/a?b=c", b"bodY"),
            ("POST", "/a?b=c", b""),
            // Moving bytes between method and path must not verify (length framing).
            ("POST/", "a?b=c", b"body"),
        ] {
            assert_eq!(
                check(&auth, method, path, body),
                Err(Error::InvalidSignature),
                "{method} {path}"
            );
        }
        let mut later = auth;
        later.timestamp += 1;
        let mut other_nonce = auth;
        other_nonce.nonce[0] ^= 1;
        let mut other_session = auth;
        other_session.session = SessionId::generate(&mut OsRng);
        for other in [later, other_nonce, other_session] {
            assert_eq!(
                check(&other, "POST", "/a?b=c", b"body"),
                Err(Error::InvalidSignature)
            );
        }
        let stranger = DeviceSecrets::generate(&mut OsRng).public().signing;
        assert_eq!(
            verify_request(&stranger, &auth, "POST", "/a?b=c", b"body", NOW, 60),
            Err(Error::InvalidSignature)
        );
        check(&auth, "POST", "/a?b=c", b"body").unwrap();
    }

    #[test]
    fn skew_edges() {
        let (secrets, session) = fixture();
        let key = secrets.public().signing;
        let auth = sign_request(&secrets, session, "GET", "/", b"", NOW, &mut OsRng);
        let at = |now| verify_request(&key, &auth, "GET", "/", b"", now, MAX_CLOCK_SKEW_SECS);
        at(NOW).unwrap();
        at(NOW + 60).unwrap();
        at(NOW - 60).unwrap();
        assert_eq!(at(NOW + 61), Err(Error::RequestStale));
        assert_eq!(at(NOW - 61), Err(Error::RequestStale));
        assert_eq!(at(0), Err(Error::RequestStale));
        assert_eq!(at(u64::MAX), Err(Error::RequestStale));
        // Zero skew: only the exact second.
        verify_request(&key, &auth, "GET", "/", b"", NOW, 0).unwrap();
        assert_eq!(
            verify_request(&key, &auth, "GET", "/", b"", NOW + 1, 0),
            Err(Error::RequestStale)
        );
        // Extreme timestamps do not overflow.
        let late = sign_request(&secrets, session, "GET", "/", b"", u64::MAX, &mut OsRng);
        verify_request(&key, &late, "GET", "/", b"", u64::MAX, 0).unwrap();
        assert_eq!(
            verify_request(&key, &late, "GET", "/", b"", 0, u64::MAX - 1),
            Err(Error::RequestStale)
        );
        verify_request(&key, &late, "GET", "/", b"", 0, u64::MAX).unwrap();
    }

    #[test]
    fn fixed_vector() {
        // Device seed 32 x 0x01 (X25519 half irrelevant), session 16 x 0x22, nonce 16 x 0x33.
        let mut seed = [0x01u8; 64];
        seed[32..].fill(0x02);
        let secrets = DeviceSecrets::from_bytes(&seed);
        let session = SessionId::from_bytes([0x22; 16]);
        let auth = sign_with_nonce(
            &secrets,
            session,
            "POST",
            "/v1/ledger?since=3",
            b"hello",
            1_700_000_000,
            [0x33; 16],
        );
        let message = signing_message(
            &session,
            "POST",
            "/v1/ledger?since=3",
            b"hello",
            1_700_000_000,
            &[0x33; 16],
        );
        let expected_message = [
            hex::encode(b"enigm/request/v1"),
            "0000000000000004".into(),
            hex::encode(b"POST"),
            "0000000000000012".into(),
            hex::encode(b"/v1/ledger?since=3"),
            // SHA-256("hello")
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".into(),
            "000000006553f100".into(),
            "33".repeat(16),
            "22".repeat(16),
        ]
        .concat();
        assert_eq!(hex::encode(&message), expected_message);
        assert_eq!(
            auth.to_header(),
            format!(
                "Enigm session=IiIiIiIiIiIiIiIiIiIiIg, ts=1700000000, nonce=MzMzMzMzMzMzMzMzMzMzMw, sig={}",
                BASE64URL_NOPAD.encode(&auth.signature.to_bytes())
            )
        );
        assert_eq!(hex::encode(auth.signature.to_bytes()), FIXED_SIGNATURE_HEX);
    }

    /// Ed25519 (RFC 8032, deterministic) over the fixed vector's message with seed 32 x 0x01,
    /// computed independently with Python's `cryptography` package.
    const FIXED_SIGNATURE_HEX: &str = "d7c168f69a310739b4e694ed4d59e6f0cdb61fcb688291e53e4695374d2cc1390fd76a7d90570491e0009b00f3e2c229ce0aa5aee12c95ca363d9d415d9bad09";

    #[test]
    fn header_parser_accepts_any_order_and_whitespace() {
        let (secrets, session) = fixture();
        let auth = sign_request(&secrets, session, "GET", "/", b"", NOW, &mut OsRng);
        let s = auth.session.to_b64url();
        let n = BASE64URL_NOPAD.encode(&auth.nonce);
        let g = BASE64URL_NOPAD.encode(&auth.signature.to_bytes());
        let reordered = format!("enigm sig={g},nonce={n} ,\tts={NOW},  session={s}");
        assert_eq!(RequestAuth::parse_header(&reordered), Ok(auth));
    }

    #[test]
    fn header_parser_rejects_precisely() {
        let (secrets, session) = fixture();
        let auth = sign_request(&secrets, session, "GET", "/", b"", NOW, &mut OsRng);
        let good = auth.to_header();
        let reason = |value: &str| match RequestAuth::parse_header(value) {
            Err(Error::RequestHeaderMalformed { reason }) => reason,
            other => panic!("expected malformed, got {other:?}"),
        };
        let s = auth.session.to_b64url();
        let n = BASE64URL_NOPAD.encode(&auth.nonce);
        let g = BASE64URL_NOPAD.encode(&auth.signature.to_bytes());
        let fields = |ts: &str, session: &str, nonce: &str, sig: &str| {
            format!("Enigm session={session}, {ts}nonce={nonce}, sig={sig}")
        };
        for (header, expected) in [
            (good.replacen("Enigm", "Bearer", 1), "scheme is not `Enigm`"),
            (
                "Enigm".to_owned(),
                "scheme `Enigm` and a space are required",
            ),
            (format!("{good}, ts=1"), "duplicate field"),
            (format!("{good}, extra=1"), "unknown field"),
            (format!("{good},"), "a field is not `name=value`"),
            (fields("", &s, &n, &g), "ts is missing"),
            (fields("ts=01, ", &s, &n, &g), "ts has leading zeros"),
            (fields("ts=+1, ", &s, &n, &g), "ts is not a decimal number"),
            (
                fields("ts=18446744073709551616, ", &s, &n, &g),
                "ts does not fit in 64 bits",
            ),
            (
                fields("ts=1, ", &s, &format!("{n}="), &g),
                "nonce is not 16 bytes of base64url",
            ),
            (
                fields("ts=1, ", &format!("{s}A"), &n, &g),
                "session is not 16 bytes of base64url",
            ),
            (
                fields("ts=1, ", &s, &n, &g[1..]),
                "sig is not 64 bytes of base64url",
            ),
            ("x".repeat(MAX_HEADER_LEN + 1), "header is too long"),
        ] {
            assert_eq!(reason(&header), expected, "{header}");
        }
        // Non-canonical trailing bits in base64url are refused (one encoding per value).
        assert_eq!(
            SessionId::from_b64url("IiIiIiIiIiIiIiIiIiIiIg"),
            Ok(SessionId::from_bytes([0x22; 16]))
        );
        assert_eq!(
            SessionId::from_b64url("IiIiIiIiIiIiIiIiIiIiIh"),
            Err(Error::InvalidSessionId)
        );
        // "ts=0" is canonical and parses.
        let zero = RequestAuth::parse_header(&fields("ts=0, ", &s, &n, &g));
        assert_eq!(zero.map(|a| a.timestamp), Ok(0));
    }

    #[test]
    fn session_id_encodings_and_redacted_debug() {
        let id = SessionId::from_bytes([0xab; 16]);
        assert_eq!(SessionId::from_b64url(&id.to_b64url()), Ok(id));
        assert_eq!(SessionId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(
            SessionId::from_hex(&id.to_hex().to_uppercase()),
            Err(Error::InvalidSessionId)
        );
        assert_eq!(SessionId::from_hex("ab"), Err(Error::InvalidSessionId));
        assert_eq!(format!("{id:?}"), "SessionId(abababab…)");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<SessionId>("\"short\"").is_err());
    }

    /// Every reason [`RequestAuth::parse_header`] can give.
    const REASONS: &[&str] = &[
        "header is too long",
        "scheme `Enigm` and a space are required",
        "scheme is not `Enigm`",
        "a field is not `name=value`",
        "session is not 16 bytes of base64url",
        "nonce is not 16 bytes of base64url",
        "sig is not 64 bytes of base64url",
        "unknown field",
        "duplicate field",
        "ts is not a decimal number",
        "ts has leading zeros",
        "ts does not fit in 64 bits",
        "session is missing",
        "ts is missing",
        "nonce is missing",
        "sig is missing",
    ];

    fn any_auth() -> impl Strategy<Value = RequestAuth> {
        (
            any::<[u8; 16]>(),
            any::<u64>(),
            any::<[u8; 16]>(),
            proptest::collection::vec(any::<u8>(), 64),
        )
            .prop_map(|(session, timestamp, nonce, sig)| {
                let mut bytes = [0u8; 64];
                bytes.copy_from_slice(&sig);
                RequestAuth {
                    session: SessionId::from_bytes(session),
                    timestamp,
                    nonce,
                    signature: Signature::from_bytes(&bytes),
                }
            })
    }

    /// The four `name=value` fields of a header, in the canonical order.
    fn fields(auth: &RequestAuth) -> Vec<String> {
        vec![
            format!("session={}", auth.session.to_b64url()),
            format!("ts={}", auth.timestamp),
            format!("nonce={}", BASE64URL_NOPAD.encode(&auth.nonce)),
            format!("sig={}", BASE64URL_NOPAD.encode(&auth.signature.to_bytes())),
        ]
    }

    proptest! {
        #[test]
        fn parse_header_never_panics(value in ".{0,300}") {
            let _ = RequestAuth::parse_header(&value);
        }

        #[test]
        fn every_refusal_is_malformed_with_a_known_reason(value in "(?i:enigm)?[ ,=\t]?.{0,260}") {
            match RequestAuth::parse_header(&value) {
                Ok(_) => {}
                Err(Error::RequestHeaderMalformed { reason }) => {
                    prop_assert!(REASONS.contains(&reason), "unlisted reason {}", reason);
                }
                Err(other) => prop_assert!(false, "not a header error: {:?}", other),
            }
        }

        #[test]
        fn fields_parse_in_any_order_with_any_separators(
            auth in any_auth(),
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
            separators in proptest::collection::vec("[ \t]{0,2},[ \t]{0,2}", 3),
            scheme in "(?i:enigm)",
        ) {
            let fields = fields(&auth);
            let mut value = format!("{scheme} {}", fields[order[0]]);
            for (index, separator) in order[1..].iter().zip(&separators) {
                value.push_str(separator);
                value.push_str(&fields[*index]);
            }
            prop_assume!(value.len() <= MAX_HEADER_LEN);
            prop_assert_eq!(RequestAuth::parse_header(&value), Ok(auth));
        }

        #[test]
        fn a_missing_or_repeated_field_is_named(auth in any_auth(), field in 0usize..4) {
            let all = fields(&auth);
            let names = ["session", "ts", "nonce", "sig"];
            let without: Vec<&str> = all
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != field)
                .map(|(_, text)| text.as_str())
                .collect();
            match RequestAuth::parse_header(&format!("Enigm {}", without.join(", "))) {
                Err(Error::RequestHeaderMalformed { reason }) => {
                    prop_assert_eq!(reason, format!("{} is missing", names[field]));
                }
                other => prop_assert!(false, "{:?}", other),
            }
            let repeated = format!("Enigm {}, {}", all[field], all.join(", "));
            prop_assume!(repeated.len() <= MAX_HEADER_LEN);
            prop_assert_eq!(
                RequestAuth::parse_header(&repeated),
                Err(Error::RequestHeaderMalformed { reason: "duplicate field" })
            );
        }

        #[test]
        fn parse_header_never_panics_near_valid(
            fields in proptest::collection::vec(
                prop_oneof![
                    "session=[A-Za-z0-9_=-]{0,24}",
                    "ts=[0-9+-]{0,22}",
                    "nonce=[A-Za-z0-9_=-]{0,24}",
                    "sig=[A-Za-z0-9_=-]{80,90}",
                    "[a-z]{0,6}=?[ -~]{0,4}",
                ],
                0..6,
            ),
            sep in "[ ,\t]{0,3}",
        ) {
            let value = format!("Enigm {}", fields.join(&format!(",{sep}")));
            let _ = RequestAuth::parse_header(&value);
        }

        #[test]
        fn header_round_trips(
            session in any::<[u8; 16]>(),
            ts in any::<u64>(),
            nonce in any::<[u8; 16]>(),
            sig in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let mut bytes = [0u8; 64];
            bytes.copy_from_slice(&sig);
            let auth = RequestAuth {
                session: SessionId::from_bytes(session),
                timestamp: ts,
                nonce,
                signature: Signature::from_bytes(&bytes),
            };
            let header = auth.to_header();
            prop_assert!(header.len() <= MAX_HEADER_LEN);
            prop_assert_eq!(RequestAuth::parse_header(&header), Ok(auth));
        }

        #[test]
        fn single_byte_changes_never_parse_to_the_same_auth(
            index in 0usize..200,
            byte in any::<u8>(),
        ) {
            let auth = RequestAuth {
                session: SessionId::from_bytes([7; 16]),
                timestamp: 1_700_000_000,
                nonce: [9; 16],
                signature: Signature::from_bytes(&[5; 64]),
            };
            let mut header = auth.to_header().into_bytes();
            let i = index % header.len();
            let original = header[i];
            prop_assume!(original != byte);
            header[i] = byte;
            if let Ok(text) = String::from_utf8(header)
                && let Ok(parsed) = RequestAuth::parse_header(&text)
            {
                // Only a case change in the scheme or a space turned into a tab may parse to
                // the same value.
                prop_assert!(
                    parsed != auth || i < SCHEME.len() || (original == b' ' && byte == b'\t')
                );
            }
        }
    }
}
