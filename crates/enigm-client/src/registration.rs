//! The client's half of an OPAQUE registration, which three flows run with the service:
//! registering an account, changing its password and recovering it with the phrase. Each sends
//! the request, receives the service's response and uploads the finished record; only the
//! endpoints and what travels beside the messages differ.

use enigm_core::opaque::{
    ClientRegistration, ClientRegistrationFinishParameters, RegistrationResponse,
};
use rand_core::OsRng;

use crate::engine::b64;
use crate::error::ClientError;

/// Starts a registration for `password`: the state to finish it with, and the request to send
/// (base64url).
pub(crate) fn start(password: &[u8]) -> Result<(ClientRegistration, String), ClientError> {
    let start = ClientRegistration::start(&mut OsRng, password)
        .map_err(|_| ClientError::Protocol(enigm_core::Error::OpaqueFailed))?;
    Ok((start.state, b64(&start.message.serialize())))
}

/// Finishes a registration for `password` with the service's `response` (its bytes): the
/// record to upload.
pub(crate) fn finish(
    state: ClientRegistration,
    password: &[u8],
    response: &[u8],
) -> Result<Vec<u8>, ClientError> {
    let response = RegistrationResponse::deserialize(response)
        .map_err(|_| ClientError::MalformedResponse("registration response"))?;
    let finished = state
        .finish(
            &mut OsRng,
            password,
            response,
            ClientRegistrationFinishParameters::default(),
        )
        .map_err(|_| ClientError::MalformedResponse("registration response"))?;
    Ok(finished.message.serialize().to_vec())
}
