//! The recovery phrase and the signing-only recovery key it derives (DESIGN §3, §8).
//!
//! At registration the device draws 256 bits of entropy from the caller's RNG and shows them
//! once as 24 English BIP39 words; nothing stores them. Typing the words back on a new device
//! yields the same entropy, and from it, by HKDF-SHA256 with fixed domain strings, the same
//! Ed25519 [`RecoveryKey`]. That key can sign ledger entries (`Recover`, `RotateRecovery`); it
//! is never used to derive an encryption or agreement key. That is the recovery boundary: a
//! phrase restores continuity of account access, never past plaintext or device keys.
//!
//! Parsing is forgiving about form and strict about content: input is NFKC-normalised,
//! lower-cased and split on any whitespace; each word may be given in full or as an
//! unambiguous prefix of at least four letters (the BIP39 English list is designed so that the
//! first four letters identify a word, so such a prefix names at most one word, and a wrong one
//! is caught like any wrong word: by the checksum, or by the recovery key not matching the
//! ledger). Errors say which word (1-based) is unknown, with suggestions, but never echo what
//! was typed.
//!
//! Recovering an account with the service (DESIGN §8) uses two more domain-separated messages
//! signed by the recovery key: [`recovery_proof_message`] (the key is the one the ledger pins)
//! and [`recovery_authorization_message`] (the key authorizes this `Recover` entry together with
//! this new OPAQUE record).

use core::fmt;

use bip39::Language;
use ed25519_dalek::{Signature, Signer, SigningKey};
use hmac::Hmac;
use hmac::digest::{KeyInit, Mac};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::Error;
use crate::identity::SigningPublicKey;

/// HKDF salt for the recovery key. Fixed: the phrase's 256 bits of entropy are the only secret.
pub const RECOVERY_KEY_SALT: &[u8] = b"enigm/recovery-phrase/v1";

/// HKDF info for the recovery key's Ed25519 seed. Versioned so that a future key type gets a
/// different key from the same phrase.
pub const RECOVERY_KEY_INFO: &[u8] = b"enigm/recovery-key/v1";

/// Words in a recovery phrase.
pub const WORD_COUNT: usize = 24;

/// Entropy bytes behind a recovery phrase.
pub const ENTROPY_LEN: usize = 32;

/// Shortest prefix accepted in place of a full word.
pub const MIN_PREFIX_LEN: usize = 4;

/// Most suggestions offered for an unknown word.
const MAX_SUGGESTIONS: usize = 3;

/// Largest edit distance at which a list word is suggested for an unknown one.
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// Bits per BIP39 word index.
const BITS_PER_WORD: usize = 11;

/// A 24-word BIP39 recovery phrase: 256 bits of secret entropy.
///
/// Holds only the entropy, in zeroizing storage; the words are computed when asked for. There is
/// no `Display` and `Debug` prints nothing of the secret, so the phrase cannot end up in a log
/// by accident: showing it is an explicit call to [`RecoveryPhrase::words`]. Equality is
/// constant-time.
pub struct RecoveryPhrase {
    entropy: Zeroizing<[u8; ENTROPY_LEN]>,
}

impl RecoveryPhrase {
    /// Draws a fresh phrase from the caller's RNG (registration, `RotateRecovery`).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
        rng.fill_bytes(entropy.as_mut());
        Self { entropy }
    }

    /// The phrase that encodes `entropy`; BIP39 test vectors and tooling start here.
    pub fn from_entropy(entropy: &[u8; ENTROPY_LEN]) -> Self {
        Self {
            entropy: Zeroizing::new(*entropy),
        }
    }

    /// Parses what a user typed.
    ///
    /// # Errors
    /// [`Error::RecoveryPhraseWordCount`] unless there are exactly 24 words,
    /// [`Error::RecoveryPhraseUnknownWord`] for the first word that is neither a list word nor an
    /// unambiguous prefix of one (with suggestions), [`Error::RecoveryPhraseChecksum`] if every
    /// word is valid but the BIP39 checksum does not match.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let normalised = normalise(input);
        let found = normalised.split(' ').filter(|w| !w.is_empty()).count();
        if found != WORD_COUNT {
            return Err(Error::RecoveryPhraseWordCount { found });
        }
        let mut indices = Zeroizing::new([0u16; WORD_COUNT]);
        for (slot, (position, token)) in indices
            .iter_mut()
            .zip(normalised.split(' ').filter(|w| !w.is_empty()).enumerate())
        {
            *slot = resolve_index(token).ok_or_else(|| Error::RecoveryPhraseUnknownWord {
                position: position + 1,
                suggestions: WordSuggestions(suggest(token)),
            })?;
        }
        decode(&indices)
    }

    /// The 24 words, space separated, for the one-time display at registration. The caller
    /// shows them and drops the string (it zeroizes itself).
    pub fn words(&self) -> Zeroizing<String> {
        let list = Language::English.word_list();
        let indices = encode(&self.entropy);
        let mut out = Zeroizing::new(String::with_capacity(WORD_COUNT * 9));
        for (i, index) in indices.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if let Some(word) = list.get(usize::from(*index)) {
                out.push_str(word);
            }
        }
        out
    }

    /// The word at 1-based `position`, for the "type word 7" confirmation step; `None` outside
    /// 1..=24.
    pub fn word(&self, position: usize) -> Option<&'static str> {
        let index = *encode(&self.entropy).get(position.checked_sub(1)?)?;
        Language::English
            .word_list()
            .get(usize::from(index))
            .copied()
    }

    /// Derives the account's recovery key from this phrase.
    pub fn recovery_key(&self) -> RecoveryKey {
        RecoveryKey::from_phrase(self)
    }
}

impl PartialEq for RecoveryPhrase {
    fn eq(&self, other: &Self) -> bool {
        self.entropy[..].ct_eq(&other.entropy[..]).into()
    }
}

impl Eq for RecoveryPhrase {}

impl fmt::Debug for RecoveryPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryPhrase(<redacted>)")
    }
}

/// Close words from the list offered for an unknown recovery word.
///
/// They are near the secret word, so `Debug` shows only how many there are (errors get logged);
/// the UI reads them with [`WordSuggestions::as_slice`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WordSuggestions(Vec<&'static str>);

impl WordSuggestions {
    /// The suggestions, best first.
    pub fn as_slice(&self) -> &[&'static str] {
        &self.0
    }
}

impl fmt::Debug for WordSuggestions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WordSuggestions({} redacted)", self.0.len())
    }
}

/// Words of the list that start with `prefix` (after the same normalisation as
/// [`RecoveryPhrase::parse`]), in list order, for the UI's word completion. An empty prefix
/// completes to nothing rather than to the whole list.
pub fn complete(prefix: &str) -> Vec<&'static str> {
    let normalised = normalise(prefix);
    if normalised.is_empty() || normalised.contains(' ') {
        return Vec::new();
    }
    Language::English
        .words_by_prefix(normalised.as_str())
        .to_vec()
}

/// Whether `word` would be accepted at a position of the phrase: a list word, or an
/// unambiguous prefix of at least four letters. Lets the UI flag a typo before the whole
/// phrase is entered.
pub fn word_is_valid(word: &str) -> bool {
    resolve_word(word).is_some()
}

/// The list word that `word` stands for (itself, or the word an accepted prefix expands to), so
/// the UI can show `aban` as `abandon`.
pub fn resolve_word(word: &str) -> Option<&'static str> {
    let normalised = normalise(word);
    let index = resolve_index(normalised.as_str())?;
    Language::English
        .word_list()
        .get(usize::from(index))
        .copied()
}

/// The account's recovery key: an Ed25519 key that only signs.
///
/// Derived as `seed = HKDF-SHA256(salt = "enigm/recovery-phrase/v1", ikm = entropy,
/// info = "enigm/recovery-key/v1", L = 32)`, `key = Ed25519 key from seed` (RFC 8032). It signs
/// `Recover` and `RotateRecovery` ledger entries and OPAQUE re-registration; it never
/// decrypts and no agreement key is derived from it. The dalek key zeroizes on drop; `Debug`
/// shows only a public-key prefix.
pub struct RecoveryKey {
    signing: SigningKey,
}

impl RecoveryKey {
    /// Derives the key from a phrase (see the type's documentation for the exact derivation).
    pub fn from_phrase(phrase: &RecoveryPhrase) -> Self {
        let seed = hkdf_sha256(
            RECOVERY_KEY_SALT,
            phrase.entropy.as_ref(),
            RECOVERY_KEY_INFO,
        );
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public key recorded in `Genesis` and `RotateRecovery`.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey::from(&self.signing)
    }

    /// Signs `message`; callers pass domain-separated messages (the ledger's signing input).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// The dalek key, for the ledger builder's `Recover` / `RotateRecovery` signatures.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// Domain separator of [`recovery_proof_message`].
pub const RECOVERY_PROOF_DOMAIN: &[u8] = b"enigm/recovery-proof/v1";

/// Domain separator of [`recovery_authorization_message`].
pub const RECOVERY_AUTHORIZATION_DOMAIN: &[u8] = b"enigm/recovery-authorization/v1";

/// Bytes of a recovery id: a random one-time id the service hands out when a recovery starts.
pub const RECOVERY_ID_LEN: usize = 16;

/// The message the recovery key signs to prove it is the key the account's ledger pins, before
/// the service discloses the ledger to a new device (DESIGN §8):
///
/// ```text
/// "enigm/recovery-proof/v1" (23 bytes) || recovery_id (16 bytes)
/// ```
///
/// The recovery id is chosen at random by the service for this recovery and used once, so it is
/// the challenge: a proof cannot be replayed into another recovery, and the domain keeps it from
/// ever being a valid signature over a ledger entry or a request.
pub fn recovery_proof_message(recovery_id: &[u8; RECOVERY_ID_LEN]) -> Vec<u8> {
    let mut message = Vec::with_capacity(RECOVERY_PROOF_DOMAIN.len() + RECOVERY_ID_LEN);
    message.extend_from_slice(RECOVERY_PROOF_DOMAIN);
    message.extend_from_slice(recovery_id);
    message
}

/// The message that authorizes a recovery: signed by the recovery key (it authorizes the new
/// password) and by the recovering device (it binds the device to this recovery):
///
/// ```text
/// "enigm/recovery-authorization/v1" (31 bytes)
/// || account_id (16 bytes)
/// || recovery_id (16 bytes)
/// || SHA-256(registration_upload) (32 bytes)   the exact serialized OPAQUE upload sent
/// || recover_entry_hash (32 bytes)             `LedgerEntry::hash` of the `Recover` entry
/// ```
///
/// Every field has a fixed size, so no two authorizations share an encoding. The `Recover`
/// entry's own signatures do not cover the password: without this message, whoever relays the
/// entry (the service included) could pair it with a password of its choosing. With it, the
/// recovery key's holder chose both the entry and the OPAQUE record, for this one recovery.
pub fn recovery_authorization_message(
    account_id: &crate::ledger::AccountId,
    recovery_id: &[u8; RECOVERY_ID_LEN],
    registration_upload: &[u8],
    recover_entry: &crate::ledger::EntryHash,
) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(RECOVERY_AUTHORIZATION_DOMAIN.len() + 16 + RECOVERY_ID_LEN + 64);
    message.extend_from_slice(RECOVERY_AUTHORIZATION_DOMAIN);
    message.extend_from_slice(account_id);
    message.extend_from_slice(recovery_id);
    message.extend_from_slice(&Sha256::digest(registration_upload));
    message.extend_from_slice(&recover_entry.0);
    message
}

/// NFKC, lower case, single spaces, no leading or trailing space. Zeroizing: it may be the
/// whole phrase.
fn normalise(input: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(input.len()));
    let folded: Zeroizing<String> =
        Zeroizing::new(input.nfkc().flat_map(char::to_lowercase).collect());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The list index of a normalised token: an exact word, or a prefix of at least
/// [`MIN_PREFIX_LEN`] characters that exactly one word starts with.
fn resolve_index(token: &str) -> Option<u16> {
    let language = Language::English;
    if let Some(index) = language.find_word(token) {
        return Some(index);
    }
    if token.chars().count() < MIN_PREFIX_LEN {
        return None;
    }
    match language.words_by_prefix(token) {
        [only] => language.find_word(only),
        _ => None,
    }
}

/// Up to three list words close to an unknown token: completions of it first, then words within
/// a small edit distance, then words sharing its first four letters.
fn suggest(token: &str) -> Vec<&'static str> {
    let language = Language::English;
    let mut out: Vec<&'static str> = language
        .words_by_prefix(token)
        .iter()
        .take(MAX_SUGGESTIONS)
        .copied()
        .collect();
    if out.len() < MAX_SUGGESTIONS {
        let mut near: Vec<(usize, &'static str)> = language
            .word_list()
            .iter()
            .map(|word| (strsim::damerau_levenshtein(token, word), *word))
            .filter(|(distance, _)| *distance <= MAX_SUGGESTION_DISTANCE)
            .collect();
        near.sort_unstable();
        let stem: String = token.chars().take(MIN_PREFIX_LEN).collect();
        let same_stem = if stem.chars().count() == MIN_PREFIX_LEN {
            language.words_by_prefix(&stem)
        } else {
            &[]
        };
        for word in near
            .into_iter()
            .map(|(_, word)| word)
            .chain(same_stem.iter().copied())
        {
            if out.len() == MAX_SUGGESTIONS {
                break;
            }
            if !out.contains(&word) {
                out.push(word);
            }
        }
    }
    out
}

/// BIP39 encoding of 256 bits: entropy || first 8 bits of SHA-256(entropy), cut into 24
/// 11-bit indices, most significant bit first.
fn encode(entropy: &[u8; ENTROPY_LEN]) -> Zeroizing<[u16; WORD_COUNT]> {
    let mut bits = Zeroizing::new([0u8; ENTROPY_LEN + 1]);
    bits[..ENTROPY_LEN].copy_from_slice(entropy);
    bits[ENTROPY_LEN] = Sha256::digest(entropy)[0];
    let mut indices = Zeroizing::new([0u16; WORD_COUNT]);
    for (word, index) in indices.iter_mut().enumerate() {
        for bit in 0..BITS_PER_WORD {
            let at = word * BITS_PER_WORD + bit;
            let set = (bits[at / 8] >> (7 - at % 8)) & 1;
            *index = (*index << 1) | u16::from(set);
        }
    }
    indices
}

/// Inverse of [`encode`], checking the checksum byte (in constant time).
fn decode(indices: &[u16; WORD_COUNT]) -> Result<RecoveryPhrase, Error> {
    let mut bits = Zeroizing::new([0u8; ENTROPY_LEN + 1]);
    for (word, index) in indices.iter().enumerate() {
        for bit in 0..BITS_PER_WORD {
            let at = word * BITS_PER_WORD + bit;
            let set = ((index >> (BITS_PER_WORD - 1 - bit)) & 1) as u8;
            bits[at / 8] |= set << (7 - at % 8);
        }
    }
    let mut entropy = Zeroizing::new([0u8; ENTROPY_LEN]);
    entropy.copy_from_slice(&bits[..ENTROPY_LEN]);
    let expected = Sha256::digest(entropy.as_ref())[0];
    if bool::from(expected.ct_eq(&bits[ENTROPY_LEN])) {
        Ok(RecoveryPhrase { entropy })
    } else {
        Err(Error::RecoveryPhraseChecksum)
    }
}

/// HMAC-SHA256 (RFC 2104) over the concatenation of `parts`.
///
/// Written against the block-size key so that it cannot fail: HMAC hashes a key longer than
/// the 64-byte block and zero-pads a shorter one, exactly as done here, so this equals
/// `Hmac::new_from_slice(key)` for every key without an error path.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut block = Zeroizing::new([0u8; 64]);
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new((&*block).into());
    for part in parts {
        mac.update(part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: `PRK = HMAC(salt, ikm)`, `OKM = T(1) =
/// HMAC(PRK, info || 0x01)`. Shorter outputs are prefixes of it, as in RFC 5869.
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hmac_sha256(salt, &[ikm]);
    hmac_sha256(prk.as_ref(), &[info, &[1u8]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_helper_matches_the_hkdf_crate() {
        let salt = b"salt";
        let ikm = [0x0bu8; 22];
        let info = b"info";
        let mut expected = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(salt), &ikm)
            .expand(info, &mut expected)
            .unwrap();
        assert_eq!(*hkdf_sha256(salt, &ikm, info), expected);
        // A key longer than the block is hashed first, as `new_from_slice` does.
        let long_key = [7u8; 100];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&long_key).unwrap();
        mac.update(b"msg");
        assert_eq!(
            hmac_sha256(&long_key, &[b"m", b"sg"]).as_slice(),
            mac.finalize().into_bytes().as_slice()
        );
    }

    #[test]
    fn rfc5869_case_1_prefix() {
        // RFC 5869 A.1 (L = 42; our helper yields its first 32 bytes).
        let ikm = [0x0bu8; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        assert_eq!(
            hex::encode(hkdf_sha256(&salt, &ikm, &info).as_slice()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn normalise_trims_folds_and_collapses() {
        assert_eq!(
            normalise("  Abandon\t\nABILITY  able ").as_str(),
            "abandon ability able"
        );
        // Full-width letters fold under NFKC.
        assert_eq!(normalise("\u{FF21}bandon").as_str(), "abandon");
        assert_eq!(normalise("   ").as_str(), "");
    }

    #[test]
    fn prefixes_of_four_letters_resolve_uniquely() {
        assert_eq!(resolve_word("aban"), Some("abandon"));
        assert_eq!(resolve_word("ABANDO"), Some("abandon"));
        assert_eq!(resolve_word("aba"), None, "three letters are ambiguous");
        assert_eq!(resolve_word("act"), Some("act"), "short words are exact");
        assert_eq!(resolve_word("abandonx"), None);
        // Every list word is identified by its first four letters.
        for word in Language::English.word_list() {
            let stem: String = word.chars().take(4).collect();
            assert_eq!(resolve_word(&stem), Some(*word), "{word}");
        }
    }

    #[test]
    fn suggestions_are_close_and_bounded() {
        assert_eq!(suggest("abandn"), vec!["abandon"]);
        assert_eq!(suggest("ab"), vec!["abandon", "ability", "able"]);
        assert!(suggest("zzzzzzzz").is_empty());
        assert!(suggest("wrld").contains(&"world"));
    }

    #[test]
    fn recovery_messages_are_fixed_layouts_over_every_input() {
        let proof = recovery_proof_message(&[3; 16]);
        assert_eq!(proof.len(), 23 + 16);
        assert!(proof.starts_with(b"enigm/recovery-proof/v1"));
        assert_ne!(proof, recovery_proof_message(&[4; 16]));

        let hash = crate::ledger::EntryHash([9; 32]);
        let base = recovery_authorization_message(&[1; 16], &[2; 16], b"upload", &hash);
        assert_eq!(RECOVERY_AUTHORIZATION_DOMAIN.len(), 31);
        assert_eq!(base.len(), 31 + 16 + 16 + 32 + 32);
        assert_eq!(&base[31..47], &[1; 16]);
        assert_eq!(&base[47..63], &[2; 16]);
        assert_eq!(&base[63..95], Sha256::digest(b"upload").as_slice());
        assert_eq!(&base[95..], &[9; 32]);
        let other = crate::ledger::EntryHash([8; 32]);
        for changed in [
            recovery_authorization_message(&[7; 16], &[2; 16], b"upload", &hash),
            recovery_authorization_message(&[1; 16], &[7; 16], b"upload", &hash),
            recovery_authorization_message(&[1; 16], &[2; 16], b"uploaD", &hash),
            recovery_authorization_message(&[1; 16], &[2; 16], b"upload", &other),
        ] {
            assert_ne!(changed, base);
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let phrase = RecoveryPhrase::from_entropy(&[0x42; 32]);
        let printed = format!("{phrase:?}");
        assert!(!printed.contains(phrase.word(1).unwrap()));
        let key = phrase.recovery_key();
        let seed = hex::encode(key.signing_key().to_bytes());
        assert!(!format!("{key:?}").contains(&seed[..8]));
        let suggestions = WordSuggestions(vec!["abandon"]);
        assert!(!format!("{suggestions:?}").contains("abandon"));
    }
}
