//! The OPAQUE cipher suite shared by the service and the clients (DESIGN §3).
//!
//! OPAQUE (RFC 9807, crate `opaque-ke` 3) lets a client prove it knows its password without the
//! password, or anything a server could brute-force offline without first stealing the server's
//! OPRF seed, ever leaving the device. The service stores only the [`ServerRegistration`] record
//! (client public key, masking key, envelope).
//!
//! [`Suite`] fixes every choice so both sides agree: ristretto255 for the OPRF and for the
//! key exchange, 3DH with SHA-512, and [`Argon2idKsf`] as the key stretching function. The
//! type aliases below are the `opaque-ke` types instantiated with [`Suite`]; use them rather
//! than naming `opaque_ke` generics directly. Messages travel as their `serialize()` bytes and
//! are read back with `deserialize`; the `*_LEN` constants are their exact sizes, for the
//! service's request size limits. Map `opaque-ke` errors with [`map_protocol_error`] so callers
//! see [`Error::OpaqueMalformedMessage`] or [`Error::OpaqueFailed`] and nothing finer.
//!
//! # Flow
//!
//! Registration: client `ClientRegistration::start(rng, password)` → server
//! `ServerRegistration::start(&setup, request, credential_identifier)` → client
//! `state.finish(rng, password, response, params)` → server `ServerRegistration::finish(upload)`
//! and stores its `serialize()` bytes.
//!
//! Login: client `ClientLogin::start(rng, password)` → server `ServerLogin::start(rng, &setup,
//! Some(record) or None, request, credential_identifier, params)` → client `state.finish(password,
//! response, params)` (fails here on a wrong password) → server `state.finish(finalization)`.
//! Both sides then hold the same `session_key`.
//!
//! The credential identifier must be the same at registration and login and known to the server
//! before the account is found: use the username lookup key
//! ([`crate::pseudonym::username_lookup_key`]). For an unknown username the server still runs
//! `ServerLogin::start` with `None`: the reply is indistinguishable from a real one, so logins do
//! not reveal which usernames exist.

use argon2::{Algorithm, Argon2, Params, Version};
use generic_array::{ArrayLength, GenericArray, typenum::Unsigned};
use opaque_ke::errors::{InternalError, ProtocolError};

use crate::Error;

/// Argon2id memory cost in KiB (19 MiB).
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// Argon2id passes over memory.
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P_COST: u32 = 1;

/// The pinned Argon2id parameters, checked at compile time.
#[allow(clippy::panic)] // Evaluated in a const: a bad value fails the build, never a run.
const ARGON2_PARAMS: Params =
    match Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None) {
        Ok(params) => params,
        Err(_) => panic!("invalid Argon2id parameters"),
    };

/// The key stretching function: Argon2id v1.3 with m = 19 MiB, t = 2, p = 1.
///
/// These are OWASP's minimum recommendation for Argon2id (and `argon2` 0.5's defaults), but they
/// are pinned here instead of taken from `Argon2::default()`: the KSF output is baked into
/// every stored envelope, so a dependency changing its defaults would silently lock every
/// existing account out. Changing them requires re-registration (a new suite version).
///
/// Cost falls on the client only: in OPAQUE the server never runs the KSF (its login work is a
/// few ristretto255 operations), so the parameters cannot be used to exhaust the service. On a
/// laptop one hash takes tens of milliseconds. The salt is the fixed all-zero salt `opaque-ke`
/// uses: the KSF input is the OPRF output, which is already unique per user and server key.
pub struct Argon2idKsf(Argon2<'static>);

impl Default for Argon2idKsf {
    fn default() -> Self {
        Self(Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            ARGON2_PARAMS,
        ))
    }
}

impl opaque_ke::ksf::Ksf for Argon2idKsf {
    fn hash<L: ArrayLength<u8>>(
        &self,
        input: GenericArray<u8, L>,
    ) -> Result<GenericArray<u8, L>, InternalError> {
        opaque_ke::ksf::Ksf::hash(&self.0, input)
    }
}

/// Enigm's OPAQUE cipher suite: ristretto255 OPRF, ristretto255 3DH with SHA-512, Argon2id KSF.
pub struct Suite;

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeGroup = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::key_exchange::tripledh::TripleDh;
    type Ksf = Argon2idKsf;
}

/// The server's long-term OPAQUE secrets (OPRF seed and key-exchange key pair). Secret: store
/// it like the service's other keys.
pub type ServerSetup = opaque_ke::ServerSetup<Suite>;
/// Client state between registration start and finish.
pub type ClientRegistration = opaque_ke::ClientRegistration<Suite>;
/// The record the server stores per account (the only password-derived data it keeps).
pub type ServerRegistration = opaque_ke::ServerRegistration<Suite>;
/// Client state between login start and finish.
pub type ClientLogin = opaque_ke::ClientLogin<Suite>;
/// Server state between login start and finish.
pub type ServerLogin = opaque_ke::ServerLogin<Suite>;
/// Registration message 1, client to server.
pub type RegistrationRequest = opaque_ke::RegistrationRequest<Suite>;
/// Registration message 2, server to client.
pub type RegistrationResponse = opaque_ke::RegistrationResponse<Suite>;
/// Registration message 3, client to server.
pub type RegistrationUpload = opaque_ke::RegistrationUpload<Suite>;
/// Login message 1 (KE1), client to server.
pub type CredentialRequest = opaque_ke::CredentialRequest<Suite>;
/// Login message 2 (KE2), server to client.
pub type CredentialResponse = opaque_ke::CredentialResponse<Suite>;
/// Login message 3 (KE3), client to server.
pub type CredentialFinalization = opaque_ke::CredentialFinalization<Suite>;
/// What `ClientRegistration::start` returns.
pub type ClientRegistrationStartResult = opaque_ke::ClientRegistrationStartResult<Suite>;
/// What `ClientRegistration::finish` returns.
pub type ClientRegistrationFinishResult = opaque_ke::ClientRegistrationFinishResult<Suite>;
/// Parameters of `ClientRegistration::finish` (use `Default`).
pub type ClientRegistrationFinishParameters<'i, 'h> =
    opaque_ke::ClientRegistrationFinishParameters<'i, 'h, Suite>;
/// What `ServerRegistration::start` returns.
pub type ServerRegistrationStartResult = opaque_ke::ServerRegistrationStartResult<Suite>;
/// What `ClientLogin::start` returns.
pub type ClientLoginStartResult = opaque_ke::ClientLoginStartResult<Suite>;
/// What `ClientLogin::finish` returns.
pub type ClientLoginFinishResult = opaque_ke::ClientLoginFinishResult<Suite>;
/// Parameters of `ClientLogin::finish` (use `Default`).
pub type ClientLoginFinishParameters<'c, 'i, 'h> =
    opaque_ke::ClientLoginFinishParameters<'c, 'i, 'h, Suite>;
/// What `ServerLogin::start` returns.
pub type ServerLoginStartResult = opaque_ke::ServerLoginStartResult<Suite>;
/// What `ServerLogin::finish` returns.
pub type ServerLoginFinishResult = opaque_ke::ServerLoginFinishResult<Suite>;
pub use opaque_ke::{Identifiers, ServerLoginStartParameters};

/// Bytes of a serialized [`RegistrationRequest`].
pub const REGISTRATION_REQUEST_LEN: usize =
    <opaque_ke::RegistrationRequestLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`RegistrationResponse`].
pub const REGISTRATION_RESPONSE_LEN: usize =
    <opaque_ke::RegistrationResponseLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`RegistrationUpload`].
pub const REGISTRATION_UPLOAD_LEN: usize =
    <opaque_ke::RegistrationUploadLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`ServerRegistration`] (the stored record).
pub const SERVER_REGISTRATION_LEN: usize =
    <opaque_ke::ServerRegistrationLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`CredentialRequest`] (KE1).
pub const CREDENTIAL_REQUEST_LEN: usize =
    <opaque_ke::CredentialRequestLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`CredentialResponse`] (KE2).
pub const CREDENTIAL_RESPONSE_LEN: usize =
    <opaque_ke::CredentialResponseLen<Suite> as Unsigned>::USIZE;
/// Bytes of a serialized [`CredentialFinalization`] (KE3).
pub const CREDENTIAL_FINALIZATION_LEN: usize =
    <opaque_ke::CredentialFinalizationLen<Suite> as Unsigned>::USIZE;
/// The largest serialized OPAQUE message; a request body limit for OPAQUE endpoints.
pub const MAX_MESSAGE_LEN: usize = {
    let lens = [
        REGISTRATION_REQUEST_LEN,
        REGISTRATION_RESPONSE_LEN,
        REGISTRATION_UPLOAD_LEN,
        CREDENTIAL_REQUEST_LEN,
        CREDENTIAL_RESPONSE_LEN,
        CREDENTIAL_FINALIZATION_LEN,
    ];
    let mut max = 0;
    let mut i = 0;
    while i < lens.len() {
        if lens[i] > max {
            max = lens[i];
        }
        i += 1;
    }
    max
};

/// Maps an `opaque-ke` error to ours, keeping crypto failures opaque: encodings that cannot be
/// parsed become [`Error::OpaqueMalformedMessage`]; everything else (wrong password, failed MAC,
/// reflected OPRF value, internal failure) becomes [`Error::OpaqueFailed`].
pub fn map_protocol_error(error: ProtocolError) -> Error {
    match error {
        ProtocolError::SerializationError | ProtocolError::IdentityGroupElementError => {
            Error::OpaqueMalformedMessage
        }
        ProtocolError::LibraryError(
            InternalError::SizeError { .. }
            | InternalError::PointError
            | InternalError::InvalidByteSequence
            | InternalError::OprfError(voprf::Error::Deserialization),
        ) => Error::OpaqueMalformedMessage,
        ProtocolError::LibraryError(_)
        | ProtocolError::InvalidLoginError
        | ProtocolError::ReflectedValueError => Error::OpaqueFailed,
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        map_protocol_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opaque_ke::ksf::Ksf;
    use rand_core::OsRng;

    const PASSWORD: &[u8] = b"correct horse battery staple";
    const CRED_ID: &[u8] = b"lookup-key-of-alice";

    fn register(setup: &ServerSetup, password: &[u8]) -> ServerRegistration {
        let start = ClientRegistration::start(&mut OsRng, password).unwrap();
        let request_bytes = start.message.serialize();
        assert_eq!(request_bytes.len(), REGISTRATION_REQUEST_LEN);
        let request = RegistrationRequest::deserialize(&request_bytes).unwrap();
        let response = ServerRegistration::start(setup, request, CRED_ID).unwrap();
        let response_bytes = response.message.serialize();
        assert_eq!(response_bytes.len(), REGISTRATION_RESPONSE_LEN);
        let finish = start
            .state
            .finish(
                &mut OsRng,
                password,
                RegistrationResponse::deserialize(&response_bytes).unwrap(),
                ClientRegistrationFinishParameters::default(),
            )
            .unwrap();
        let upload_bytes = finish.message.serialize();
        assert_eq!(upload_bytes.len(), REGISTRATION_UPLOAD_LEN);
        ServerRegistration::finish(RegistrationUpload::deserialize(&upload_bytes).unwrap())
    }

    /// Runs a login; returns (client session key, server session key) or the client's error.
    fn login(
        setup: &ServerSetup,
        record: Option<ServerRegistration>,
        password: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let start = ClientLogin::start(&mut OsRng, password).unwrap();
        let ke1 = start.message.serialize();
        assert_eq!(ke1.len(), CREDENTIAL_REQUEST_LEN);
        let server = ServerLogin::start(
            &mut OsRng,
            setup,
            record,
            CredentialRequest::deserialize(&ke1).unwrap(),
            CRED_ID,
            ServerLoginStartParameters::default(),
        )
        .unwrap();
        let ke2 = server.message.serialize();
        assert_eq!(ke2.len(), CREDENTIAL_RESPONSE_LEN);
        let client = start.state.finish(
            password,
            CredentialResponse::deserialize(&ke2).unwrap(),
            ClientLoginFinishParameters::default(),
        )?;
        let ke3 = client.message.serialize();
        assert_eq!(ke3.len(), CREDENTIAL_FINALIZATION_LEN);
        let done = server
            .state
            .finish(CredentialFinalization::deserialize(&ke3).unwrap())?;
        Ok((client.session_key.to_vec(), done.session_key.to_vec()))
    }

    #[test]
    fn registration_and_login_round_trip() {
        let setup = ServerSetup::new(&mut OsRng);
        let record = register(&setup, PASSWORD);
        let stored = record.serialize();
        assert_eq!(stored.len(), SERVER_REGISTRATION_LEN);
        let record = ServerRegistration::deserialize(&stored).unwrap();
        let (client_key, server_key) = login(&setup, Some(record), PASSWORD).unwrap();
        assert_eq!(client_key, server_key);
        assert_eq!(client_key.len(), 64);
    }

    #[test]
    fn wrong_password_fails_at_client_finish_opaquely() {
        let setup = ServerSetup::new(&mut OsRng);
        let record = register(&setup, PASSWORD);
        assert_eq!(
            login(&setup, Some(record), b"correct horse battery stapl"),
            Err(Error::OpaqueFailed)
        );
    }

    #[test]
    fn unknown_user_gets_a_dummy_response_that_fails_like_a_wrong_password() {
        let setup = ServerSetup::new(&mut OsRng);
        assert_eq!(login(&setup, None, PASSWORD), Err(Error::OpaqueFailed));
    }

    #[test]
    fn stored_record_does_not_contain_the_password() {
        let setup = ServerSetup::new(&mut OsRng);
        let stored = register(&setup, PASSWORD).serialize();
        assert!(!stored.windows(PASSWORD.len()).any(|w| w == PASSWORD));
        // Not even an 8-byte piece of it.
        for piece in PASSWORD.windows(8) {
            assert!(!stored.windows(8).any(|w| w == piece));
        }
    }

    #[test]
    fn malformed_messages_map_to_malformed() {
        let short = [0u8; 3];
        assert_eq!(
            RegistrationRequest::deserialize(&short)
                .map_err(map_protocol_error)
                .err(),
            Some(Error::OpaqueMalformedMessage)
        );
        assert_eq!(
            CredentialRequest::deserialize(&[0u8; CREDENTIAL_REQUEST_LEN + 1])
                .map_err(map_protocol_error)
                .err(),
            Some(Error::OpaqueMalformedMessage)
        );
        assert_eq!(
            ServerRegistration::deserialize(&[0xffu8; SERVER_REGISTRATION_LEN])
                .map_err(map_protocol_error)
                .err(),
            Some(Error::OpaqueMalformedMessage)
        );
    }

    #[test]
    fn message_sizes_are_the_expected_ristretto255_sha512_sizes() {
        assert_eq!(REGISTRATION_REQUEST_LEN, 32);
        assert_eq!(REGISTRATION_RESPONSE_LEN, 64);
        assert_eq!(REGISTRATION_UPLOAD_LEN, 192);
        assert_eq!(SERVER_REGISTRATION_LEN, 192);
        assert_eq!(CREDENTIAL_REQUEST_LEN, 96);
        assert_eq!(CREDENTIAL_RESPONSE_LEN, 320);
        assert_eq!(CREDENTIAL_FINALIZATION_LEN, 64);
        assert_eq!(MAX_MESSAGE_LEN, 320);
    }

    #[test]
    fn ksf_is_pinned_argon2id() {
        assert_eq!(ARGON2_PARAMS.m_cost(), 19_456);
        assert_eq!(ARGON2_PARAMS.t_cost(), 2);
        assert_eq!(ARGON2_PARAMS.p_cost(), 1);
        // Same output as a hand-built Argon2id v1.3 with these parameters and the zero salt.
        let input = GenericArray::<u8, generic_array::typenum::U64>::clone_from_slice(&[7u8; 64]);
        let ours = Argon2idKsf::default().hash(input).unwrap();
        let mut expected = [0u8; 64];
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password_into(&[7u8; 64], &[0u8; 16], &mut expected)
        .unwrap();
        assert_eq!(ours.as_slice(), expected.as_slice());
    }
}
