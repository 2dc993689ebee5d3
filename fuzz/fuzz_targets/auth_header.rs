//! The signed-request `Authorization` header, parsed as the service parses every protected
//! request: no panic; what parses prints back to a header that parses to the same value; and
//! checking its signature never panics and never accepts a header for another request.
#![no_main]

use enigm_core::request::{RequestAuth, SessionId, verify_request};
use enigm_fuzz::{SIGNED_AT, SIGNED_BODY, SIGNED_METHOD, SIGNED_PATH, device};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = SessionId::from_b64url(text);
    let _ = SessionId::from_hex(text);
    let Ok(auth) = RequestAuth::parse_header(text) else {
        return;
    };
    let printed = auth.to_header();
    let again = RequestAuth::parse_header(&printed).expect("a printed header parses");
    assert_eq!(again, auth);
    let key = device(1).public().signing;
    // `auth` checked for a request to the signed path with `method` and `body`, at time `at`.
    let check = |method: &str, body: &[u8], at: u64| {
        verify_request(&key, &auth, method, SIGNED_PATH, body, at, 300)
    };
    if check(SIGNED_METHOD, SIGNED_BODY, SIGNED_AT).is_ok() {
        // The same signature must not cover any other request.
        for (method, body, at) in [
            ("GET", SIGNED_BODY, SIGNED_AT),
            (SIGNED_METHOD, &b"{}"[..], SIGNED_AT),
            (SIGNED_METHOD, SIGNED_BODY, SIGNED_AT + 301),
        ] {
            assert!(check(method, body, at).is_err());
        }
    }
});
