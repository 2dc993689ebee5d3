//! Every request body the service accepts, decoded from arbitrary bytes with serde_json as the
//! service's JSON extractor does: no panic, and whatever decodes survives an encode/decode round
//! trip unchanged (no field silently dropped or rewritten).
#![no_main]

use enigm_proto::{
    Append, ApproverMac, Cancel, Complete, CreateEnrollment, Empty, Ephemeral, LoginFinish,
    LoginStart, NewDeviceMac, RecoveryFinish, RecoveryLedger, RecoveryStart, RegisterFinish,
    RegisterStart, RotateSyncKey, SharedWrite,
};
use libfuzzer_sys::fuzz_target;

fn round_trip<T>(data: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let text = serde_json::to_vec(&value).expect("a decoded body encodes");
    let again: T = serde_json::from_slice(&text).expect("an encoded body decodes");
    assert_eq!(
        again,
        value,
        "round trip changed a {}",
        std::any::type_name::<T>()
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip::<RegisterStart>(data);
    round_trip::<RegisterFinish>(data);
    round_trip::<LoginStart>(data);
    round_trip::<LoginFinish>(data);
    round_trip::<CreateEnrollment>(data);
    round_trip::<Ephemeral>(data);
    round_trip::<Empty>(data);
    round_trip::<Cancel>(data);
    round_trip::<ApproverMac>(data);
    round_trip::<NewDeviceMac>(data);
    round_trip::<Complete>(data);
    round_trip::<Append>(data);
    round_trip::<RecoveryStart>(data);
    round_trip::<RecoveryLedger>(data);
    round_trip::<RecoveryFinish>(data);
    round_trip::<RotateSyncKey>(data);
    round_trip::<SharedWrite>(data);
});
