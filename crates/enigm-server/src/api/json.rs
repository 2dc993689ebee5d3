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
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

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

    /// The message of a `Malformed` error; any other error fails the property.
    fn malformed(error: ServerError) -> Result<String, TestCaseError> {
        match error {
            ServerError::Malformed(message) => Ok(message),
            other => Err(TestCaseError::fail(format!("not malformed: {other:?}"))),
        }
    }

    /// Whether `message` is `what (line L, column C)` and nothing else.
    fn located(message: &str, what: &str) -> bool {
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        message
            .strip_prefix(what)
            .and_then(|rest| rest.strip_prefix(" (line "))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|rest| rest.split_once(", column "))
            .is_some_and(|(line, column)| digits(line) && digits(column))
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        username: String,
        entries: Vec<String>,
        seq: u64,
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic_and_are_malformed(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(error) = parse_json::<Body>(&body) {
                let message = malformed(error)?;
                prop_assert!(
                    located(&message, "the body is not valid JSON")
                        || located(&message, "the body does not match the expected schema"),
                    "{}", message
                );
            }
        }

        #[test]
        fn json_shaped_bodies_get_the_schema_error(
            fields in proptest::collection::btree_map("[a-z_]{1,10}", any::<i64>(), 0..5),
        ) {
            // Valid JSON that is not a `Body` (wrong types, unknown or missing fields).
            let text = serde_json::to_string(&fields).unwrap();
            let message = malformed(parse_json::<Body>(text.as_bytes()).unwrap_err())?;
            // Exactly the fixed text and a position: nothing of the input is echoed.
            prop_assert!(located(&message, "the body does not match the expected schema"), "{}", message);
        }

        #[test]
        fn valid_bodies_round_trip(
            username in ".{0,40}",
            entries in proptest::collection::vec("[A-Za-z0-9_-]{0,40}", 0..4),
            seq in any::<u64>(),
        ) {
            let body = Body { username, entries, seq };
            let text = serde_json::to_vec(&body).unwrap();
            prop_assert_eq!(parse_json::<Body>(&text).unwrap(), body);
        }

        #[test]
        fn base64_round_trips_within_the_limit(bytes in proptest::collection::vec(any::<u8>(), 0..96), max in 0usize..128) {
            let text = encode_b64(&bytes);
            match decode_b64("field", &text, max) {
                Ok(decoded) => {
                    prop_assert!(bytes.len() <= max);
                    prop_assert_eq!(decoded, bytes);
                }
                Err(error) => {
                    prop_assert!(bytes.len() > max);
                    prop_assert_eq!(malformed(error)?, "`field` is too long");
                }
            }
        }

        #[test]
        fn arbitrary_base64_text_never_panics_and_gets_the_precise_error(text in ".{0,200}", max in 0usize..128) {
            match decode_b64("field", &text, max) {
                Ok(decoded) => {
                    // Only the canonical encoding of what it decodes to is accepted.
                    prop_assert!(decoded.len() <= max);
                    prop_assert_eq!(encode_b64(&decoded), text);
                }
                Err(error) => {
                    let message = malformed(error)?;
                    if text.len() > BASE64URL_NOPAD.encode_len(max) {
                        prop_assert_eq!(message, "`field` is too long");
                    } else {
                        prop_assert_eq!(message, "`field` is not unpadded base64url");
                    }
                }
            }
        }
    }
}
