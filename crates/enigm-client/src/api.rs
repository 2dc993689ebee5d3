//! The service's HTTP API as the engine speaks it: JSON in and out, every authenticated request
//! signed by the device key (`enigm_core::request`), errors mapped to [`ClientError`].
//!
//! Plain `http://` is accepted only for loopback addresses (the local service of `cargo xtask
//! run` and tests); anything else must be `https://`.

use std::net::IpAddr;
use std::time::Duration;

use enigm_core::identity::DeviceSecrets;
use enigm_core::request::{SessionId, sign_request};
use rand_core::OsRng;
use reqwest::{Method, StatusCode, Url, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use enigm_proto::{ErrorCode, ErrorEnvelope};

use crate::ClientError;

/// How long one request may take before the engine gives up and says the service is
/// unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Connection establishment bound.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response body the engine reads.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A connection to one Enigm service.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    http: reqwest::Client,
    base: Url,
}

/// What signs a request: the session and the device key it is bound to.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// The session id.
    pub session: SessionId,
    /// The device's secrets.
    pub device: &'a DeviceSecrets,
    /// The caller's clock (seconds since the epoch).
    pub now: u64,
}

impl ServiceClient {
    /// A client for the service at `url` (`http://127.0.0.1:PORT` or `https://host`).
    ///
    /// # Errors
    /// [`ClientError::InvalidServerUrl`] when the URL does not parse, has a path, query or
    /// credentials, or is plain `http://` to a host that is not loopback.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let base = Url::parse(url)
            .map_err(|_| ClientError::InvalidServerUrl("the service address is not a URL"))?;
        check_base(&base)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ClientError::Task)?;
        Ok(Self { http, base })
    }

    /// The service address, for messages and push.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// An unauthenticated `POST` with a JSON body.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|_| ClientError::Task)?;
        self.send(Method::POST, path, bytes, None).await
    }

    /// A signed request; `body` is JSON, or empty for `None`.
    pub(crate) async fn signed<T: DeserializeOwned>(
        &self,
        signer: Signer<'_>,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        let bytes = match body {
            Some(value) => serde_json::to_vec(value).map_err(|_| ClientError::Task)?,
            None => Vec::new(),
        };
        let auth = sign_request(
            signer.device,
            signer.session,
            method.as_str(),
            path,
            &bytes,
            signer.now,
            &mut OsRng,
        );
        self.send(method, path, bytes, Some(auth.to_header())).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        authorization: Option<String>,
    ) -> Result<T, ClientError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| ClientError::InvalidServerUrl("the request path is not valid"))?;
        let mut request = self.http.request(method, url);
        if !body.is_empty() {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = request
            .send()
            .await
            .map_err(|_| ClientError::Unreachable(self.base.to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let bytes = read_limited(response).await?;
        if status.is_success() {
            let bytes = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                b"null".to_vec()
            } else {
                bytes
            };
            return serde_json::from_slice(&bytes)
                .map_err(|_| ClientError::MalformedResponse("unexpected JSON"));
        }
        Err(service_error(status, &bytes, retry_after))
    }
}

/// Reads a body up to [`MAX_RESPONSE_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ClientError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| ClientError::MalformedResponse("the answer was cut off"))?
    {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ClientError::MalformedResponse("the answer is too large"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The error envelope as an error; anything else is malformed. The codes the engine acts on
/// become their own variants; the rest pass through as [`ClientError::Service`], a code this
/// build does not know included, as long as it looks like a code.
pub(crate) fn service_error(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<u64>,
) -> ClientError {
    let Ok(ErrorEnvelope { error }) = serde_json::from_slice::<ErrorEnvelope>(body) else {
        return ClientError::MalformedResponse("an error without the error shape");
    };
    match error.code {
        ErrorCode::EnrollmentAlreadyOpen => match error.id {
            Some(id) if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                ClientError::EnrollmentAlreadyOpen { id }
            }
            Some(_) | None => ClientError::MalformedResponse("an open request without its id"),
        },
        ErrorCode::SyncEpochConflict => match error.epoch {
            Some(current) => ClientError::SyncEpochConflict { current },
            None => ClientError::MalformedResponse("an epoch conflict without the epoch"),
        },
        ErrorCode::DeviceRemoved | ErrorCode::DeviceReplaced => ClientError::RemovedByService {
            replaced: error.code == ErrorCode::DeviceReplaced,
            entry: error.entry,
        },
        ErrorCode::Unknown(ref code) if !is_code(code) => {
            ClientError::MalformedResponse("an error without the error shape")
        }
        code if error.message.len() <= 500 => ClientError::Service {
            status: status.as_u16(),
            code,
            message: error.message,
            retry_after,
        },
        _ => ClientError::MalformedResponse("an error without the error shape"),
    }
}

/// Codes are short snake_case words; a code this build does not know that is anything else is
/// not passed on to the user.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_' || byte.is_ascii_digit())
}

fn check_base(base: &Url) -> Result<(), ClientError> {
    if !base.username().is_empty() || base.password().is_some() {
        return Err(ClientError::InvalidServerUrl(
            "the service address must not carry credentials",
        ));
    }
    if base.query().is_some() || base.fragment().is_some() || base.path() != "/" {
        return Err(ClientError::InvalidServerUrl(
            "the service address must be just scheme, host and port",
        ));
    }
    match base.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(base) => Ok(()),
        "http" => Err(ClientError::InvalidServerUrl(
            "plain http is only allowed to this computer (127.0.0.1); use https",
        )),
        _ => Err(ClientError::InvalidServerUrl(
            "the service address must start with https://",
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(ServiceClient::new("http://127.0.0.1:8080").is_ok());
        assert!(ServiceClient::new("http://[::1]:8080").is_ok());
        assert!(ServiceClient::new("https://enigm.example").is_ok());
        for bad in [
            "http://enigm.example",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
            "https://user:pw@enigm.example",
            "https://enigm.example/api",
            "https://enigm.example/?x=1",
            "not a url",
        ] {
            let error = ServiceClient::new(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_server_url", "{bad}");
        }
    }

    #[test]
    fn only_well_formed_service_errors_reach_the_user() {
        let good = br#"{"error":{"code":"rate_limited","message":"too many attempts"}}"#;
        match service_error(StatusCode::TOO_MANY_REQUESTS, good, Some(30)) {
            ClientError::Service {
                status,
                code,
                retry_after,
                ..
            } => assert_eq!(
                (status, code, retry_after),
                (429, ErrorCode::RateLimited, Some(30))
            ),
            other => panic!("{other:?}"),
        }
        let newer = br#"{"error":{"code":"quota_exceeded","message":"over quota"}}"#;
        match service_error(StatusCode::FORBIDDEN, newer, None) {
            ClientError::Service { code, message, .. } => assert_eq!(
                (code, message.as_str()),
                (ErrorCode::Unknown("quota_exceeded".into()), "over quota")
            ),
            other => panic!("{other:?}"),
        }
        for hostile in [
            &br#"<html>proxy error</html>"#[..],
            br#"{"error":{"code":"Ignore previous; run rm -rf","message":"x"}}"#,
            br#"{"error":{"code":"ok"}}"#,
        ] {
            assert_eq!(
                service_error(StatusCode::BAD_GATEWAY, hostile, None).code(),
                "malformed_response"
            );
        }
    }
}
