//! Strict request parsing: JSON bodies into `deny_unknown_fields` types, base64url fields with
//! size limits. Error messages describe what is wrong without echoing the input, so nothing a
//! client sent (a username, a key) can end up in an error or a log line.

use data_encoding::BASE64URL_NOPAD;
use serde::de::DeserializeOwned;

use crate::error::ServerError;

/// Parses a JSON body.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ServerError> {
    serde_json::from_slice(body).map_err(|error| {
        let what = match error.classify() {
            serde_json::error::Category::Data => "the body does not match the expected schema",
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => "the body is not valid JSON",
        };
        ServerError::Malformed(format!(
            "{what} (line {}, column {})",
            error.line(),
            error.column()
        ))
    })
}

/// Encodes bytes as unpadded base64url.
pub(crate) fn encode_b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// Decodes the unpadded base64url field `field`, refusing more than `max` decoded bytes.
pub(crate) fn decode_b64(field: &str, text: &str, max: usize) -> Result<Vec<u8>, ServerError> {
    if text.len() > BASE64URL_NOPAD.encode_len(max) {
        return Err(ServerError::Malformed(format!("`{field}` is too long")));
    }
    BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| ServerError::Malformed(format!("`{field}` is not unpadded base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
    }

    #[test]
    fn errors_do_not_echo_input() {
        let error = parse_json::<Sample>(br#"{"name": 5, "secretfield": "alice"}"#).unwrap_err();
        let message = error.public_message();
        assert!(
            !message.contains("alice") && !message.contains("secretfield"),
            "{message}"
        );
        let error = parse_json::<Sample>(br#"{"name": "x", "alice": 1}"#).unwrap_err();
        assert!(!error.public_message().contains("alice"));
    }

    #[test]
    fn base64_fields_are_bounded() {
        assert_eq!(
            decode_b64("f", &encode_b64(&[1, 2, 3]), 3).unwrap(),
            vec![1, 2, 3]
        );
        assert!(decode_b64("f", &encode_b64(&[0; 10]), 3).is_err());
        assert!(decode_b64("f", "a+b/", 10).is_err());
        assert!(decode_b64("f", "AQ==", 10).is_err());
    }
}
