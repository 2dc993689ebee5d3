//! Pseudonyms and username normalisation against fixed vectors and properties.
//!
//! The expected values in `vectors/pseudonym.json` were computed independently of the Rust
//! code by `vectors/pseudonym.py` (Python 3.11 `hmac`, `hashlib`, `base64`, `unicodedata`):
//! HKDF-SHA256 by hand (no salt, one Expand block), HMAC-SHA256 over `tag || id`, the first ten
//! bytes in RFC 4648 base32 lower-cased; usernames as `NFKC(casefold(NFKC(s))).strip()`.

// Helpers outside `#[test]` functions are test code too: a failed lookup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use enigm_core::Error;
use enigm_core::pseudonym::{
    Audience, PSEUDONYM_CHARS, Pseudonym, PseudonymKind, USERNAME_MAX_CHARS, audience_key,
    normalize_username, pseudonym, username_lookup_key,
};
use proptest::prelude::*;
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/pseudonym.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn bytes32(value: &Value) -> [u8; 32] {
    hex::decode(value.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn kind(name: &str) -> PseudonymKind {
    match name {
        "account" => PseudonymKind::Account,
        "device" => PseudonymKind::Device,
        "organization" => PseudonymKind::Organization,
        "admin" => PseudonymKind::Admin,
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn pseudonyms_match_python_vectors() {
    let v = vectors();
    let master = bytes32(&v["master"]);
    let org = hex::decode(v["organization_id"].as_str().unwrap()).unwrap();
    let acct = hex::decode(v["account_id"].as_str().unwrap()).unwrap();
    let rows = v["pseudonyms"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    for row in rows {
        let audience = match row["audience"].as_str().unwrap() {
            "service_logs" => Audience::ServiceLogs,
            "organization" => Audience::Organization(&org),
            "account_owner" => Audience::AccountOwner(&acct),
            other => panic!("unknown audience {other}"),
        };
        let key = audience_key(&master, &audience);
        let id = hex::decode(row["id"].as_str().unwrap()).unwrap();
        let got = pseudonym(&key, kind(row["kind"].as_str().unwrap()), &id);
        assert_eq!(got.as_str(), row["pseudonym"].as_str().unwrap(), "{row}");
    }
}

/// Two vectors spelled out, so a change to the JSON alone cannot hide a drift.
#[test]
fn pinned_pseudonyms() {
    let master: [u8; 32] = core::array::from_fn(|i| i as u8);
    let key = audience_key(&master, &Audience::ServiceLogs);
    let device = hex::decode("914ab6f5bc50dd3f4b3d344febf594b0").unwrap();
    assert_eq!(
        pseudonym(&key, PseudonymKind::Device, &device).to_string(),
        "dev_upo25eu3yif7iahm"
    );
    let org_id = hex::decode("00112233445566778899aabbccddeeff").unwrap();
    let org_key = audience_key(&master, &Audience::Organization(&org_id));
    assert_eq!(
        pseudonym(&org_key, PseudonymKind::Device, &device).to_string(),
        "dev_lmoo2gfwhj6jmhtn"
    );
}

#[test]
fn usernames_match_python_vectors() {
    let v = vectors();
    let pepper = bytes32(&v["pepper"]);
    for row in v["usernames"].as_array().unwrap() {
        let input = row["input"].as_str().unwrap();
        let normalized = normalize_username(input).unwrap();
        assert_eq!(normalized.as_str(), row["normalized"].as_str().unwrap());
        assert_eq!(
            hex::encode(username_lookup_key(&pepper, &normalized)),
            row["lookup_key"].as_str().unwrap(),
            "{input}"
        );
    }
    // Pinned: HMAC-SHA256(0x42 * 32, "alice"), from Python's hmac module.
    assert_eq!(
        hex::encode(username_lookup_key(
            &[0x42; 32],
            &normalize_username("Alice").unwrap()
        )),
        "721e95bcbecbe006b47e97ccc68d96e595bd991ccb7141ccda74234ad997c4e1"
    );
}

#[test]
fn audiences_are_unlinkable_and_kinds_differ() {
    let master = [7u8; 32];
    let id = [0xA5u8; 16];
    let org_a = [1u8; 16];
    let org_b = [2u8; 16];
    let audiences = [
        Audience::ServiceLogs,
        Audience::Organization(&org_a),
        Audience::Organization(&org_b),
        Audience::AccountOwner(&org_a),
    ];
    let mut seen = Vec::new();
    for audience in &audiences {
        let key = audience_key(&master, audience);
        for kind in PseudonymKind::ALL {
            let p = pseudonym(&key, kind, &id);
            assert!(p.as_str().starts_with(&format!("{}_", kind.prefix())));
            // Compare the random part only: prefixes differ by construction.
            let body = p.as_str().split_once('_').unwrap().1.to_owned();
            assert_eq!(body.len(), PSEUDONYM_CHARS);
            assert!(!seen.contains(&body), "{audience:?} {kind:?} collides");
            seen.push(body);
        }
    }
    // Same audience, same kind, same id: stable.
    let key = audience_key(&master, &Audience::ServiceLogs);
    assert_eq!(
        pseudonym(&key, PseudonymKind::Account, &id),
        pseudonym(&key, PseudonymKind::Account, &id)
    );
    // A different master gives different pseudonyms.
    let other = audience_key(&[8u8; 32], &Audience::ServiceLogs);
    assert_ne!(
        pseudonym(&key, PseudonymKind::Account, &id),
        pseudonym(&other, PseudonymKind::Account, &id)
    );
}

#[test]
fn keys_never_print() {
    let key = audience_key(&[9u8; 32], &Audience::ServiceLogs);
    assert_eq!(format!("{key:?}"), "PseudonymKey(<redacted>)");
    let name = normalize_username("secretname").unwrap();
    let printed = format!("{name:?}");
    assert!(!printed.contains("secret"), "{printed}");
}

#[test]
fn pseudonym_serde_accepts_only_the_shape() {
    let key = audience_key(&[3u8; 32], &Audience::ServiceLogs);
    let p = pseudonym(&key, PseudonymKind::Admin, b"x");
    let json = serde_json::to_string(&p).unwrap();
    let back: Pseudonym = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.kind(), PseudonymKind::Admin);
    for bad in [
        "\"alice\"",
        "\"dev_\"",
        "\"usr_aaaaaaaaaaaaaaaa\"",
        "\"dev_aaaaaaaaaaaaaaa1\"",
        "\"dev_AAAAAAAAAAAAAAAA\"",
        "\"dev_aaaaaaaaaaaaaaaaa\"",
    ] {
        assert!(serde_json::from_str::<Pseudonym>(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Pseudonym::try_from("dev_x".to_owned()),
        Err(Error::InvalidPseudonym)
    );
}

#[test]
fn normalisation_cases() {
    let n = |s: &str| normalize_username(s).map(|u| u.as_str().to_owned());
    // Full-width forms and case collapse onto ASCII.
    assert_eq!(n("ＡＬＩＣＥ"), Ok("alice".into()));
    assert_eq!(n("AlIcE"), Ok("alice".into()));
    // Surrounding white space (including the ideographic space) is trimmed.
    assert_eq!(n("\u{3000} alice \t"), Ok("alice".into()));
    // ß and capital ẞ fold to "ss": Straße, STRASSE and STRAẞE are one account.
    assert_eq!(n("Straße"), n("STRASSE"));
    assert_eq!(n("STRAẞE"), Ok("strasse".into()));
    // Turkish: dotted İ folds to plain i (not i + combining dot, which would be refused);
    // dotless ı is a distinct letter and stays.
    assert_eq!(n("İSTANBUL"), Ok("istanbul".into()));
    assert_eq!(n("ıstanbul"), Ok("ıstanbul".into()));
    assert_ne!(n("ıstanbul"), n("istanbul"));
    // Final sigma folds to sigma.
    assert_eq!(n("Οδυσσευς"), n("ΟΔΥΣΣΕΥΣ"));
    // Decomposed and precomposed accents meet (NFKC).
    assert_eq!(n("jose\u{301}"), n("josé"));
    // Other scripts are letters too.
    assert_eq!(n("Ёлка"), Ok("ёлка".into()));
    assert_eq!(n("山田太郎"), Ok("山田太郎".into()));
}

#[test]
fn precise_errors_without_the_name() {
    use Error::{UsernameInvalidCharacter as Bad, UsernameTooLong, UsernameTooShort};
    assert_eq!(
        normalize_username("ab"),
        Err(UsernameTooShort { length: 2, min: 3 })
    );
    assert_eq!(
        normalize_username("   "),
        Err(UsernameTooShort { length: 0, min: 3 })
    );
    assert_eq!(normalize_username(&"a".repeat(64)).map(|_| ()), Ok(()));
    assert_eq!(
        normalize_username(&"a".repeat(65)),
        Err(UsernameTooLong {
            length: 65,
            max: USERNAME_MAX_CHARS
        })
    );
    // Huge input is refused before any normalisation work.
    assert_eq!(
        normalize_username(&"a".repeat(5000)),
        Err(UsernameTooLong {
            length: 5000,
            max: USERNAME_MAX_CHARS
        })
    );
    assert_eq!(normalize_username("bob smith"), Err(Bad { position: 4 }));
    assert_eq!(normalize_username("bob\u{7}x"), Err(Bad { position: 4 }));
    assert_eq!(normalize_username("bob\u{200b}x"), Err(Bad { position: 4 }));
    assert_eq!(normalize_username("bob@example"), Err(Bad { position: 4 }));
    assert_eq!(normalize_username("-bob"), Err(Bad { position: 1 }));
    assert_eq!(normalize_username(".bob"), Err(Bad { position: 1 }));
    assert_eq!(normalize_username("bob\u{202e}"), Err(Bad { position: 4 }));
    let message = normalize_username("alice smith").unwrap_err().to_string();
    assert_eq!(message, "username character 6 is not allowed");
    assert!(!message.contains("alice"));
}

proptest! {
    /// Normalising a normalised username changes nothing, so the lookup key is stable no matter
    /// how often a name passes through.
    #[test]
    fn normalisation_is_idempotent(input in "\\PC{0,40}") {
        if let Ok(once) = normalize_username(&input) {
            let twice = normalize_username(once.as_str());
            prop_assert_eq!(twice.as_ref().map(|u| u.as_str()), Ok(once.as_str()));
        }
    }

    /// The same, over characters chosen to stress folding and compatibility forms.
    #[test]
    fn normalisation_is_idempotent_on_tricky_characters(
        chars in proptest::collection::vec(proptest::sample::select(vec![
            'a', 'Z', '5', '.', '_', '-', ' ', 'ß', 'ẞ', 'İ', 'ı', 'I', 'ς', 'Σ', 'σ', 'Ａ', 'ｚ',
            '\u{301}', '\u{307}', 'ǅ', 'ﬁ', 'Ⅻ', 'K', 'Å', '℡', '㍿', 'ᾳ', 'ᾼ', 'ŉ', 'ǰ', 'ΐ',
            'Ꭰ', 'ꭰ', 'µ', 'ſ', '²', '①', 'é', 'e', 'ﷺ', '\u{345}', 'Ω', 'ϐ',
        ]), 0..24)
    ) {
        let input: String = chars.into_iter().collect();
        if let Ok(once) = normalize_username(&input) {
            let twice = normalize_username(once.as_str());
            prop_assert_eq!(twice.as_ref().map(|u| u.as_str()), Ok(once.as_str()));
        }
    }
}
