//! Privacy-preserving identifiers (DESIGN §9) and username lookup keys (DESIGN §3).
//!
//! Logs, audit records, Command views and exports never carry usernames, raw keys or device
//! ids; they carry [`Pseudonym`]s such as `dev_k3pq7wxd2m9ahf4t`. A pseudonym is
//! `HMAC-SHA256(audience_key, kind_tag || id)`, truncated and rendered in base32, where the key
//! is derived per [`Audience`] from one master secret: within an audience the same id always
//! gives the same pseudonym (records can be joined), across audiences the pseudonyms are
//! unrelated (service logs cannot be joined with an organization's export), and without the key
//! there is no way back to the id.
//!
//! The service never stores a username either: it looks accounts up by
//! [`username_lookup_key`], an HMAC of the [`NormalizedUsername`] under a server pepper.
//!
//! HMAC keys here are at most one SHA-256 block, so keying [`Hmac`] with the key zero-padded to
//! a block is exactly RFC 2104 HMAC with the unpadded key; the fixed vectors in
//! `tests/pseudonym_vectors.rs` were computed independently with Python's `hmac`.

use core::fmt;

use hmac::{Hmac, Mac, digest::KeyInit};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// HKDF-Expand `info` prefix for audience keys; the audience follows it.
const AUDIENCE_INFO_PREFIX: &[u8] = b"enigm/pseudonym/v1/";

/// Bytes of the HMAC kept in a pseudonym: 10 bytes = 80 bits = 16 base32 characters.
///
/// Collisions are a nuisance (two records read as one), not a break, and they only matter
/// inside one audience. By the birthday bound, among `n` ids the chance of any collision is
/// about `n² / 2^81`: for a billion ids (2^30) that is 2^-21, about one in two million. Guessing
/// which id is behind a pseudonym needs the audience key, whatever the length.
pub const PSEUDONYM_BYTES: usize = 10;

/// Base32 characters after the kind prefix and `_`.
pub const PSEUDONYM_CHARS: usize = 16;

/// A 32-byte key that makes pseudonyms for one audience. Zeroized on drop; `Debug` redacts it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PseudonymKey([u8; 32]);

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// Who will read the pseudonyms. Each audience gets its own key, so no two audiences can join
/// their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience<'a> {
    /// The service's own logs and its internal audit trail.
    ServiceLogs,
    /// One organization's Command views and exports; the bytes are its stable organization id.
    Organization(&'a [u8]),
    /// Records shown to or exported for the account's own user (their activity history); the
    /// bytes are the account id. Separate from the organization's so a user's export cannot be
    /// joined with their employer's.
    AccountOwner(&'a [u8]),
}

impl Audience<'_> {
    /// Appends this audience's unambiguous encoding to `info`: a label per variant, then for
    /// the variants that carry an id, its length (u64 big-endian) and its bytes.
    fn encode_into(&self, info: &mut Vec<u8>) {
        let (label, id): (&[u8], Option<&[u8]>) = match self {
            Audience::ServiceLogs => (b"service-logs", None),
            Audience::Organization(id) => (b"organization", Some(id)),
            Audience::AccountOwner(id) => (b"account-owner", Some(id)),
        };
        info.extend_from_slice(label);
        if let Some(id) = id {
            info.extend_from_slice(&(id.len() as u64).to_be_bytes());
            info.extend_from_slice(id);
        }
    }
}

/// Derives the pseudonym key of `audience` from the service's master pseudonym secret.
///
/// HKDF-SHA256 (RFC 5869) with no salt (32 zero bytes), `ikm = master` and
/// `info = "enigm/pseudonym/v1/" || label || [len_u64_be || id]`, where `label` is
/// `service-logs`, `organization` or `account-owner`; 32 bytes of output, so Expand is one
/// HMAC block.
pub fn audience_key(master: &[u8; 32], audience: &Audience<'_>) -> PseudonymKey {
    let prk = Zeroizing::new(hmac_sha256(&[0u8; 32], &[master]));
    let mut info = Vec::with_capacity(AUDIENCE_INFO_PREFIX.len() + 32);
    info.extend_from_slice(AUDIENCE_INFO_PREFIX);
    audience.encode_into(&mut info);
    PseudonymKey(hmac_sha256(&prk, &[&info, &[1u8]]))
}

/// What a pseudonym stands for; also its visible prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PseudonymKind {
    /// An account (`acct_…`).
    Account,
    /// A device (`dev_…`).
    Device,
    /// An organization (`org_…`).
    Organization,
    /// An administrator acting in Command (`adm_…`).
    Admin,
    /// A signed-in session, as the account's own devices list and end them (`ses_…`): the
    /// session id itself stays between the service and the device that holds it.
    Session,
}

impl PseudonymKind {
    /// Every kind.
    pub const ALL: [PseudonymKind; 5] = [
        PseudonymKind::Account,
        PseudonymKind::Device,
        PseudonymKind::Organization,
        PseudonymKind::Admin,
        PseudonymKind::Session,
    ];

    /// The visible prefix, without the `_`.
    pub const fn prefix(self) -> &'static str {
        match self {
            PseudonymKind::Account => "acct",
            PseudonymKind::Device => "dev",
            PseudonymKind::Organization => "org",
            PseudonymKind::Admin => "adm",
            PseudonymKind::Session => "ses",
        }
    }

    /// The tag MACed before the id: the prefix and a `:`. The tags are prefix-free, so
    /// `tag || id` never reads the same for two kinds, and the same id bytes give unrelated
    /// pseudonyms as a device and as an account.
    const fn tag(self) -> &'static [u8] {
        match self {
            PseudonymKind::Account => b"acct:",
            PseudonymKind::Device => b"dev:",
            PseudonymKind::Organization => b"org:",
            PseudonymKind::Admin => b"adm:",
            PseudonymKind::Session => b"ses:",
        }
    }
}

/// A pseudonym: `<prefix>_<16 lower-case base32 characters>`. Safe to log, export and show;
/// there is no way back to the id without the audience key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pseudonym {
    kind: PseudonymKind,
    text: String,
}

impl Pseudonym {
    /// The rendered form, e.g. `dev_k3pq7wxd2m9ahf4t`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the pseudonym stands for.
    pub const fn kind(&self) -> PseudonymKind {
        self.kind
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.text)
    }
}

impl From<Pseudonym> for String {
    fn from(pseudonym: Pseudonym) -> Self {
        pseudonym.text
    }
}

impl TryFrom<String> for Pseudonym {
    type Error = Error;

    /// Accepts exactly the shape [`pseudonym`] produces, so a record read back (an audit export,
    /// a Command query) cannot smuggle an id or a username in a pseudonym field.
    fn try_from(text: String) -> Result<Self, Error> {
        let (prefix, body) = text.split_once('_').ok_or(Error::InvalidPseudonym)?;
        let kind = PseudonymKind::ALL
            .into_iter()
            .find(|kind| kind.prefix() == prefix)
            .ok_or(Error::InvalidPseudonym)?;
        let body_ok = body.len() == PSEUDONYM_CHARS
            && body
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        if !body_ok {
            return Err(Error::InvalidPseudonym);
        }
        Ok(Self { kind, text })
    }
}

/// The pseudonym of the `kind` identified by `id` for the audience of `key`:
/// `prefix || "_" || base32_lower(HMAC-SHA256(key, tag || id)[..10])`, with the RFC 4648
/// alphabet, no padding, and `tag` being `acct:`, `dev:`, `org:` or `adm:`.
pub fn pseudonym(key: &PseudonymKey, kind: PseudonymKind, id: &[u8]) -> Pseudonym {
    let mac = hmac_sha256(&key.0, &[kind.tag(), id]);
    let body = data_encoding::BASE32_NOPAD
        .encode(&mac[..PSEUDONYM_BYTES])
        .to_ascii_lowercase();
    Pseudonym {
        kind,
        text: format!("{}_{body}", kind.prefix()),
    }
}

/// Fewest characters in a normalised username.
pub const USERNAME_MIN_CHARS: usize = 3;
/// Most characters in a normalised username.
pub const USERNAME_MAX_CHARS: usize = 64;
/// Input longer than this (in UTF-8 bytes) is refused before normalisation, bounding the work
/// an attacker can ask for; 64 characters of four bytes each, four times over.
const USERNAME_MAX_INPUT_BYTES: usize = 1024;

/// A username in the one canonical form the service's lookup key is computed over. The only way
/// to get one is [`normalize_username`], so every lookup key comes from a validated name.
///
/// `Debug` shows only the length: usernames must not reach logs (DESIGN §9).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NormalizedUsername(String);

impl NormalizedUsername {
    /// The normalised form, for the UI and the local profile (never for logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NormalizedUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NormalizedUsername(<{} chars>)", self.0.chars().count())
    }
}

/// Brings a username to its canonical form and validates it.
///
/// Steps: NFKC; case folding; NFKC again; trim white space at both ends. Then every character
/// must be a Unicode letter or number ([`char::is_alphanumeric`]) or one of `.` `_` `-`, the
/// first must be a letter or number (no `-name` that reads like a CLI option, no `.name`), and
/// the length must be 3..=64 characters.
///
/// Case folding is Unicode's lower-case mapping plus the full-folding rules that merge what
/// lower-casing keeps apart: `ß` and `ẞ` fold to `ss` (`Straße` = `strasse`), final `ς` folds
/// to `σ`. Folding is not Turkish-specific: `I` folds to `i`, and dotted `İ` also folds to plain
/// `i` (instead of `i` + combining dot above, which would be refused); dotless `ı` stays `ı`, a
/// distinct letter. Full-width and other compatibility forms are unified by NFKC
/// (`Ｂｏｂ` = `bob`). Known gap versus full case folding: Greek letters with iota subscript
/// (`ᾳ`) are not expanded to adscript iota. Whitespace or control characters inside the name,
/// zero-width characters and symbols are refused.
///
/// Out of scope: confusables that NFKC does not unify (Cyrillic `а` versus Latin `a`, mixed
/// scripts). Those need a UTS #39 skeleton check on registration, a separate policy decision.
///
/// # Errors
/// [`Error::UsernameInvalidCharacter`] with the 1-based position in the normalised form,
/// [`Error::UsernameTooShort`], [`Error::UsernameTooLong`]; the username itself never appears.
pub fn normalize_username(input: &str) -> Result<NormalizedUsername, Error> {
    if input.len() > USERNAME_MAX_INPUT_BYTES {
        return Err(Error::UsernameTooLong {
            length: input.chars().count(),
            max: USERNAME_MAX_CHARS,
        });
    }
    let mut folded = String::with_capacity(input.len());
    for c in input.nfkc() {
        fold_into(c, &mut folded);
    }
    let normalized: String = folded.nfkc().collect();
    let normalized = normalized.trim();

    let mut length = 0;
    for (index, c) in normalized.chars().enumerate() {
        let allowed = c.is_alphanumeric() || (index > 0 && matches!(c, '.' | '_' | '-'));
        if !allowed {
            return Err(Error::UsernameInvalidCharacter {
                position: index + 1,
            });
        }
        length += 1;
    }
    if length < USERNAME_MIN_CHARS {
        return Err(Error::UsernameTooShort {
            length,
            min: USERNAME_MIN_CHARS,
        });
    }
    if length > USERNAME_MAX_CHARS {
        return Err(Error::UsernameTooLong {
            length,
            max: USERNAME_MAX_CHARS,
        });
    }
    Ok(NormalizedUsername(normalized.to_owned()))
}

/// Appends the case folding of `c` to `out` (see [`normalize_username`] for the rules beyond
/// lower-casing).
fn fold_into(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        'İ' => out.push('i'),
        other => out.extend(other.to_lowercase()),
    }
}

/// The service's account lookup key for a username (DESIGN §3):
/// `HMAC-SHA256(pepper, utf8(normalized))`, exactly as the design specifies, with no extra
/// label. Domain separation comes from the pepper, which must be used for nothing else.
pub fn username_lookup_key(pepper: &[u8; 32], username: &NormalizedUsername) -> [u8; 32] {
    hmac_sha256(pepper, &[username.0.as_bytes()])
}

/// HMAC-SHA256 over the concatenation of `parts`, with a 32-byte key. The key is zero-padded to
/// the 64-byte block, which is what RFC 2104 does with short keys, so this is plain HMAC; taking
/// a block-sized key makes the construction infallible without an `unwrap`.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; 64]);
    block[..32].copy_from_slice(key);
    let block_key: &hmac::digest::Key<Hmac<Sha256>> = (&*block).into();
    let mut mac = <Hmac<Sha256> as KeyInit>::new(block_key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audience keys agree with the `hkdf` crate and with the Python-computed vectors.
    #[test]
    fn audience_keys_are_hkdf_sha256() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/pseudonym.json")).unwrap();
        let master: [u8; 32] = core::array::from_fn(|i| i as u8);
        let org = hex::decode(vectors["organization_id"].as_str().unwrap()).unwrap();
        let acct = hex::decode(vectors["account_id"].as_str().unwrap()).unwrap();
        for (name, audience) in [
            ("service_logs", Audience::ServiceLogs),
            ("organization", Audience::Organization(&org)),
            ("account_owner", Audience::AccountOwner(&acct)),
        ] {
            let key = audience_key(&master, &audience);
            assert_eq!(
                hex::encode(key.0),
                vectors["audience_keys"][name].as_str().unwrap()
            );
            let mut info = AUDIENCE_INFO_PREFIX.to_vec();
            audience.encode_into(&mut info);
            let mut expected = [0u8; 32];
            hkdf::Hkdf::<Sha256>::new(None, &master)
                .expand(&info, &mut expected)
                .unwrap();
            assert_eq!(key.0, expected, "{name}");
        }
    }

    /// The block-padded construction is the same as keying HMAC with the 32-byte key.
    #[test]
    fn padded_hmac_is_plain_hmac() {
        let key = [0x5Au8; 32];
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"part one");
        mac.update(b"part two");
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(hmac_sha256(&key, &[b"part one", b"part two"]), expected);
    }
}
