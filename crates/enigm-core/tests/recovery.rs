//! Recovery phrase and recovery key: the official BIP39 English vectors, a golden recovery key
//! cross-checked outside Rust, every error variant, and properties of the codec.

use enigm_core::Error;
use enigm_core::recovery::{RecoveryPhrase, WORD_COUNT, complete, resolve_word, word_is_valid};
use proptest::prelude::*;
use rand_core::{OsRng, RngCore};

/// One BIP39 vector: entropy hex, mnemonic, seed hex (passphrase "TREZOR"), xprv.
type Vector = (String, String, String, String);

fn vectors() -> Result<Vec<Vector>, serde_json::Error> {
    let text = include_str!("vectors/bip39_english.json");
    let json: serde_json::Value = serde_json::from_str(text)?;
    assert_eq!(json["passphrase"], "TREZOR");
    serde_json::from_value(json["english"].clone())
}

#[test]
fn bip39_english_vectors_entropy_and_mnemonic_both_ways() {
    let mut ours = 0;
    let vectors = vectors().unwrap();
    assert_eq!(
        vectors.len(),
        24,
        "the trezor english section has 24 vectors"
    );
    for (entropy_hex, mnemonic, seed_hex, _xprv) in vectors {
        let entropy = hex::decode(&entropy_hex).unwrap();

        // The bip39 crate (our word list source) agrees with every vector, all lengths.
        let reference = bip39::Mnemonic::from_entropy(&entropy).unwrap();
        assert_eq!(reference.to_string(), mnemonic);
        let parsed = bip39::Mnemonic::parse_normalized(&mnemonic).unwrap();
        assert_eq!(parsed.to_entropy(), entropy);
        assert_eq!(hex::encode(parsed.to_seed("TREZOR")), seed_hex);

        // Our own codec handles the 256-bit ones, which are the only phrases Enigm issues.
        if entropy.len() == 32 {
            ours += 1;
            let entropy: [u8; 32] = entropy.try_into().unwrap();
            let phrase = RecoveryPhrase::from_entropy(&entropy);
            assert_eq!(phrase.words().as_str(), mnemonic, "entropy -> mnemonic");
            let reparsed = RecoveryPhrase::parse(&mnemonic).unwrap();
            assert_eq!(reparsed, phrase, "mnemonic -> entropy");
            let words: Vec<&str> = mnemonic.split(' ').collect();
            for (i, word) in words.iter().enumerate() {
                assert_eq!(phrase.word(i + 1), Some(*word));
            }
        } else {
            let found = mnemonic.split(' ').count();
            assert_eq!(
                RecoveryPhrase::parse(&mnemonic),
                Err(Error::RecoveryPhraseWordCount { found })
            );
        }
    }
    assert_eq!(ours, 8, "eight of the vectors are 24 words");
}

#[test]
fn recovery_key_golden() {
    // Values computed independently with python3 (hmac/hashlib HKDF, `cryptography` Ed25519):
    // seed = HKDF-SHA256(salt "enigm/recovery-phrase/v1", ikm entropy, info
    // "enigm/recovery-key/v1", 32). The phrase is a BIP39 vector.
    let phrase = RecoveryPhrase::parse(
        "hamster diagram private dutch cause delay private meat slide toddler razor book \
         happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
    )
    .unwrap();
    let key = phrase.recovery_key();
    assert_eq!(
        hex::encode(key.signing_key().to_bytes()),
        "e00225d5d23488a7e4ab8b46b6514c63a803f94b20d28a6fd109155ae6a8882f"
    );
    assert_eq!(
        hex::encode(key.public().as_bytes()),
        "9b39b52b649004ff55e95b41f366947b9c726d0394a184084f3eaaf134b9ce03"
    );
    let signature = key.sign(b"enigm/test");
    assert_eq!(
        hex::encode(signature.to_bytes()),
        "aaf41448cc278bf5e5100f65d7da3ffcbb8fd97e1afb6660ed5a30d028364a6a\
         51763747f2a1d09645c7c607a84635bdcea3ef8f80f4f392ae92372d9551d202"
    );
    assert_eq!(key.public().verify(b"enigm/test", &signature), Ok(()));

    let zero = RecoveryPhrase::from_entropy(&[0; 32]).recovery_key();
    assert_eq!(
        hex::encode(zero.public().as_bytes()),
        "1969139124e903f0264577b208a652bc55fe53d73ccf672244c59d10db7b6318"
    );
}

#[test]
fn parse_normalises_case_whitespace_and_prefixes() {
    let phrase = RecoveryPhrase::from_entropy(&[0x5a; 32]);
    let words = phrase.words();
    let messy = format!(
        "\n  {}\t",
        words
            .split(' ')
            .enumerate()
            .map(|(i, w)| match i % 3 {
                0 => w.to_uppercase(),
                1 => w.chars().take(4).collect(),
                _ => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join("   ")
    );
    assert_eq!(RecoveryPhrase::parse(&messy).unwrap(), phrase);
}

#[test]
fn wrong_word_count_reports_the_count() {
    let words = RecoveryPhrase::from_entropy(&[1; 32]).words();
    let short: Vec<&str> = words.split(' ').take(23).collect();
    assert_eq!(
        RecoveryPhrase::parse(&short.join(" ")),
        Err(Error::RecoveryPhraseWordCount { found: 23 })
    );
    let long = format!("{} abandon", words.as_str());
    assert_eq!(
        RecoveryPhrase::parse(&long),
        Err(Error::RecoveryPhraseWordCount { found: 25 })
    );
    assert_eq!(
        RecoveryPhrase::parse("   "),
        Err(Error::RecoveryPhraseWordCount { found: 0 })
    );
}

#[test]
fn unknown_word_reports_position_and_suggestions_but_not_the_word() {
    let words = RecoveryPhrase::from_entropy(&[2; 32]).words();
    let mut list: Vec<String> = words.split(' ').map(str::to_string).collect();
    list[6] = "abandn".into();
    let error = RecoveryPhrase::parse(&list.join(" ")).unwrap_err();
    match &error {
        Error::RecoveryPhraseUnknownWord {
            position,
            suggestions,
        } => {
            assert_eq!(*position, 7);
            assert_eq!(suggestions.as_slice(), ["abandon"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("abandn"), "{shown}");
    assert!(!shown.contains("abandon"), "{shown}");
    assert!(shown.contains("word 7"), "{shown}");
}

#[test]
fn bad_checksum_is_its_own_error() {
    // 23 x "abandon" + "art" is the valid all-zero phrase; "zoo" breaks its checksum.
    let valid = format!("{} art", ["abandon"; 23].join(" "));
    assert!(RecoveryPhrase::parse(&valid).is_ok());
    let invalid = format!("{} zoo", ["abandon"; 23].join(" "));
    assert_eq!(
        RecoveryPhrase::parse(&invalid),
        Err(Error::RecoveryPhraseChecksum)
    );
}

#[test]
fn completion_and_word_checks() {
    assert_eq!(complete("zo"), vec!["zone", "zoo"]);
    assert_eq!(complete(" ABIL "), vec!["ability"]);
    assert!(complete("").is_empty());
    assert!(complete("q x").is_empty());
    assert!(complete("xyz").is_empty());
    assert!(word_is_valid("zoo"));
    assert!(word_is_valid("Abil"));
    assert!(!word_is_valid("abi"));
    assert!(!word_is_valid("zooo"));
    assert_eq!(resolve_word("hams"), Some("hamster"));
}

#[test]
fn generated_phrases_differ_and_only_sign() {
    let a = RecoveryPhrase::generate(&mut OsRng);
    let b = RecoveryPhrase::generate(&mut OsRng);
    assert_ne!(a, b);
    assert_ne!(a.recovery_key().public(), b.recovery_key().public());
    assert_eq!(a.word(0), None);
    assert_eq!(a.word(WORD_COUNT + 1), None);
    assert!(a.word(WORD_COUNT).is_some());
}

/// The BIP39 English list has 2048 words; pick one by index.
fn list_word(index: u16) -> &'static str {
    bip39::Language::English.word_list()[usize::from(index % 2048)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generate_then_parse_round_trips(seed in any::<[u8; 32]>()) {
        let phrase = RecoveryPhrase::from_entropy(&seed);
        let words = phrase.words();
        prop_assert_eq!(words.split(' ').count(), WORD_COUNT);
        let parsed = RecoveryPhrase::parse(&words).unwrap();
        prop_assert_eq!(parsed.recovery_key().public(), phrase.recovery_key().public());
        prop_assert!(parsed == phrase);
    }

    /// Replacing a word with a string that is not a word (nor an accepted prefix) is always
    /// reported as an unknown word at that position.
    #[test]
    fn non_word_substitution_is_an_unknown_word(
        seed in any::<[u8; 32]>(),
        position in 0usize..WORD_COUNT,
        junk in "[a-z]{1,10}",
    ) {
        prop_assume!(!word_is_valid(&junk));
        let words = RecoveryPhrase::from_entropy(&seed).words();
        let mut list: Vec<&str> = words.split(' ').collect();
        list[position] = &junk;
        let result = RecoveryPhrase::parse(&list.join(" "));
        let is_unknown_here = matches!(
            result,
            Err(Error::RecoveryPhraseUnknownWord { position: p, .. }) if p == position + 1
        );
        prop_assert!(is_unknown_here, "{:?}", result);
    }

    /// Replacing a word with a different list word never yields the original phrase: the
    /// checksum refuses it, or (about 1 in 256, since 24 words carry an 8-bit checksum) it
    /// decodes to different entropy and so to a different recovery key, which the ledger's
    /// recovery_pub then refuses.
    #[test]
    fn word_substitution_never_yields_the_original(
        seed in any::<[u8; 32]>(),
        position in 0usize..WORD_COUNT,
        replacement in any::<u16>(),
    ) {
        let phrase = RecoveryPhrase::from_entropy(&seed);
        let words = phrase.words();
        let mut list: Vec<&str> = words.split(' ').collect();
        let new_word = list_word(replacement);
        prop_assume!(new_word != list[position]);
        list[position] = new_word;
        match RecoveryPhrase::parse(&list.join(" ")) {
            Err(Error::RecoveryPhraseChecksum) => {}
            Ok(other) => {
                prop_assert!(other != phrase);
                prop_assert_ne!(other.recovery_key().public(), phrase.recovery_key().public());
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

#[test]
fn checksum_catches_almost_all_substitutions() {
    // Deterministic measure of the property above: over many substitutions, about 255/256
    // are refused by the checksum and none reproduce the original.
    let mut refused = 0u32;
    let mut total = 0u32;
    let mut entropy = [0u8; 32];
    for round in 0..64u32 {
        OsRng.fill_bytes(&mut entropy);
        let phrase = RecoveryPhrase::from_entropy(&entropy);
        let words = phrase.words();
        for position in 0..WORD_COUNT {
            let mut list: Vec<&str> = words.split(' ').collect();
            let replacement = list_word((round * 97 + position as u32 * 31 + 1) as u16);
            if replacement == list[position] {
                continue;
            }
            list[position] = replacement;
            total += 1;
            match RecoveryPhrase::parse(&list.join(" ")) {
                Err(Error::RecoveryPhraseChecksum) => refused += 1,
                Ok(other) => assert!(other != phrase),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(refused * 100 >= total * 95, "{refused}/{total}");
}
