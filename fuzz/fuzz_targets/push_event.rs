//! The push events the engine reads from the service's WebSocket, decoded from text as
//! enigm-client does (`serde_json::from_str::<PushEvent>`): no panic, and a decoded event
//! survives an encode/decode round trip unchanged.
#![no_main]

use enigm_proto::PushEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = serde_json::from_str::<PushEvent>(text) else {
        return;
    };
    let printed = serde_json::to_string(&event).expect("a decoded event encodes");
    let again: PushEvent = serde_json::from_str(&printed).expect("an encoded event decodes");
    assert_eq!(again, event);
});
