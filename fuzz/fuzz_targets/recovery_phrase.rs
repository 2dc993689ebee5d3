//! The recovery phrase as a user types or pastes it: parsing and word completion never panic;
//! a phrase that parses prints back to words that parse to the same phrase and recovery key.
#![no_main]

use enigm_core::recovery::{RecoveryPhrase, complete, resolve_word, word_is_valid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = complete(text);
    let _ = word_is_valid(text);
    let _ = resolve_word(text);
    let Ok(phrase) = RecoveryPhrase::parse(text) else {
        return;
    };
    let words = phrase.words();
    let again = RecoveryPhrase::parse(&words).expect("printed words parse");
    assert_eq!(*again.words(), *words);
    assert_eq!(
        again.recovery_key().public(),
        phrase.recovery_key().public()
    );
    for position in 0..24 {
        let _ = phrase.word(position);
    }
});
