//! One ledger entry as a peer sends it: decoding never panics, and whatever decodes is the
//! canonical encoding (re-encodes to the very same bytes), so two byte strings never name the
//! same entry and the hash a client pins is the hash of what it checked.
#![no_main]

use enigm_core::ledger::LedgerEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = LedgerEntry::decode(data) else {
        return;
    };
    assert_eq!(
        entry.encode(),
        data,
        "a decoded entry must re-encode to its bytes"
    );
    let again = LedgerEntry::decode(&entry.encode()).expect("a re-encoded entry decodes");
    assert_eq!(again, entry);
    assert_eq!(again.hash(), entry.hash());
    // The signing message and hash are computed from untrusted fields: must not panic.
    let _ = entry.signing_message(&enigm_fuzz::ACCOUNT);
});
