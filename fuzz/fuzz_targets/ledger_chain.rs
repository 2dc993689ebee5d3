//! A list of ledger entries as the service relays it, then `verify_chain`: decoding never panics
//! and is canonical, and verifying the whole list at once agrees with verifying a prefix and
//! applying the rest (the incremental path clients take), on success and on failure alike.
#![no_main]

use enigm_core::ledger::{decode_entries, encode_entries, verify_chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = decode_entries(data) else {
        return;
    };
    assert_eq!(
        encode_entries(&entries),
        data,
        "a decoded list must re-encode to its bytes"
    );
    let full = verify_chain(&entries);
    if let Ok(state) = &full {
        let last = entries.last().expect("a verified chain is not empty");
        assert_eq!(state.head().seq, last.seq);
        assert_eq!(state.head().hash, last.hash());
    }
    if entries.len() < 2 {
        return;
    }
    let split = entries.len() / 2;
    let incremental = verify_chain(&entries[..split]).and_then(|mut state| {
        state.apply(&entries[split..])?;
        Ok(state)
    });
    match (&full, &incremental) {
        (Ok(full), Ok(incremental)) => assert_eq!(full.head(), incremental.head()),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "full and incremental verification disagree: full {:?}, incremental {:?}",
            full.as_ref().map(|state| state.head()),
            incremental.as_ref().map(|state| state.head()),
        ),
    }
});
