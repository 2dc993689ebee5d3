//! Enrollment by approval: the short authentication string (DESIGN §7).
//!
//! Modelled on Matrix's `m.sas.v1`. The new device commits to its ephemeral X25519 key and its
//! device keys in the enrollment request; the approving (existing) device then sends its own
//! ephemeral key; only then does the new device reveal its key, which the existing device checks
//! against the commitment. Because the new side is bound before it sees the other key, and the
//! existing side's key is sent before the other is revealed, a man in the middle gets one guess
//! at making both codes equal: about 2^-20 for six digits, 2^-42 for seven emoji.
//!
//! Both sides derive, with HKDF-SHA256 over the X25519 secret salted with a hash of the full
//! transcript (account, request, both ephemeral keys, both devices, the commitment), a 6-digit
//! code and 7 emoji from the Matrix table, plus two MAC keys. After the user confirms that the
//! codes match, the existing device MACs its signing key and ledger head, the new device MACs
//! its device keys, and each side checks the other in constant time.
//!
//! Each step is a typed state: a transition consumes `self` and returns the next state, so a
//! step cannot be replayed and a verification cannot be skipped. Ephemeral secrets are dalek
//! `EphemeralSecret`s (consumed by the agreement, zeroized on drop); MAC keys are zeroizing.
//!
//! Derivation, byte for byte (`||` is concatenation, integers big-endian):
//!
//! ```text
//! commitment  = SHA-256("enigm/sas/commit/v1" || new_eph || new_signing || new_agreement)
//! transcript  = SHA-256("enigm/sas/transcript/v1" || account_id[16] || len(request_id)[1]
//!               || request_id || existing_device_id[16] || existing_eph[32]
//!               || new_signing[32] || new_agreement[32] || new_eph[32] || commitment[32])
//! PRK         = HKDF-Extract(salt = transcript, ikm = X25519(existing_eph, new_eph))
//! code        = HKDF-Expand(PRK, "enigm/sas/v1/short-code", 14)
//! decimal     = u64(code[0..8]) mod 1_000_000          (bias below 2^-44)
//! emoji[i]    = 6-bit groups of the top 42 bits of code[8..14]   (as Matrix)
//! K_existing  = HKDF-Expand(PRK, "enigm/sas/v1/mac/existing-device", 32)
//! K_new       = HKDF-Expand(PRK, "enigm/sas/v1/mac/new-device", 32)
//! MAC_existing = HMAC-SHA256(K_existing, "enigm/sas/mac/existing-device/v1"
//!               || existing_signing[32] || head_seq[8] || head_hash[32])
//! MAC_new     = HMAC-SHA256(K_new, "enigm/sas/mac/new-device/v1" || new_signing || new_agreement)
//! ```

use core::fmt;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::EphemeralSecret;
use zeroize::Zeroizing;

use crate::Error;
use crate::identity::{DeviceId, DevicePublicKeys, SigningPublicKey};
use crate::recovery::hmac_sha256;

/// Domain separator of the commitment.
pub const COMMITMENT_DOMAIN: &[u8] = b"enigm/sas/commit/v1";
/// Domain separator of the transcript hash.
pub const TRANSCRIPT_DOMAIN: &[u8] = b"enigm/sas/transcript/v1";
/// HKDF info of the short-code bytes.
pub const SHORT_CODE_INFO: &[u8] = b"enigm/sas/v1/short-code";
/// HKDF info of the existing device's MAC key.
pub const EXISTING_MAC_KEY_INFO: &[u8] = b"enigm/sas/v1/mac/existing-device";
/// HKDF info of the new device's MAC key.
pub const NEW_MAC_KEY_INFO: &[u8] = b"enigm/sas/v1/mac/new-device";
/// Prefix of the message the existing device MACs.
pub const EXISTING_MAC_DOMAIN: &[u8] = b"enigm/sas/mac/existing-device/v1";
/// Prefix of the message the new device MACs.
pub const NEW_MAC_DOMAIN: &[u8] = b"enigm/sas/mac/new-device/v1";
/// Longest enrollment request id the transcript accepts (it is length-prefixed with one byte).
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Bytes of HKDF output behind the short code: 8 for the decimal code, 6 for the emoji.
const SHORT_CODE_BYTES: usize = 14;
/// The decimal code has six digits.
const DECIMAL_MODULUS: u64 = 1_000_000;

/// An X25519 public key used for one SAS run only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SasPublicKey([u8; 32]);

impl SasPublicKey {
    /// Wraps the 32 bytes received from the peer. Low-order points are refused at agreement
    /// ([`Error::NonContributoryKeyAgreement`]).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32-byte encoding to send.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SasPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SasPublicKey({}…)",
            &data_encoding::HEXLOWER.encode(&self.0)[..6]
        )
    }
}

/// The new device's commitment to its ephemeral key and device keys, carried in the enrollment
/// request before the existing device reveals anything.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Commitment([u8; 32]);

impl Commitment {
    /// Computes the commitment (see the module documentation).
    pub fn compute(ephemeral: &SasPublicKey, device: &DevicePublicKeys) -> Self {
        let digest = Sha256::new()
            .chain_update(COMMITMENT_DOMAIN)
            .chain_update(ephemeral.as_bytes())
            .chain_update(device.signing.as_bytes())
            .chain_update(device.agreement.as_bytes())
            .finalize();
        Self(digest.into())
    }

    /// Wraps a commitment received in an enrollment request.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32-byte encoding.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks, in constant time, that the revealed key and device keys are the committed ones.
    ///
    /// # Errors
    /// [`Error::SasCommitmentMismatch`] if they are not.
    pub fn verify(&self, ephemeral: &SasPublicKey, device: &DevicePublicKeys) -> Result<(), Error> {
        let expected = Self::compute(ephemeral, device);
        if bool::from(self.0.ct_eq(&expected.0)) {
            Ok(())
        } else {
            Err(Error::SasCommitmentMismatch)
        }
    }
}

/// What identifies one enrollment: both sides must hold the same values, and all of them go
/// into the transcript, so a code cannot be replayed across accounts, requests or approvers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EnrollmentContext {
    account_id: [u8; 16],
    request_id: Vec<u8>,
    existing_device: DeviceId,
}

impl EnrollmentContext {
    /// Builds the context: the 128-bit account id, the service's enrollment request id (opaque
    /// bytes), and the id of the device that approves.
    ///
    /// # Errors
    /// [`Error::SasRequestIdTooLong`] beyond [`MAX_REQUEST_ID_LEN`] bytes.
    pub fn new(
        account_id: [u8; 16],
        request_id: &[u8],
        existing_device: DeviceId,
    ) -> Result<Self, Error> {
        if request_id.len() > MAX_REQUEST_ID_LEN {
            return Err(Error::SasRequestIdTooLong {
                max: MAX_REQUEST_ID_LEN,
            });
        }
        Ok(Self {
            account_id,
            request_id: request_id.to_vec(),
            existing_device,
        })
    }

    /// The account id.
    pub fn account_id(&self) -> &[u8; 16] {
        &self.account_id
    }

    /// The enrollment request id.
    pub fn request_id(&self) -> &[u8] {
        &self.request_id
    }

    /// The approving device.
    pub fn existing_device(&self) -> DeviceId {
        self.existing_device
    }
}

/// Everything both sides agree on once the keys are exchanged, in canonical order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transcript {
    /// The enrollment this run belongs to.
    pub context: EnrollmentContext,
    /// The existing device's ephemeral key.
    pub existing_ephemeral: SasPublicKey,
    /// The new device's long-term keys, as they will enter the ledger.
    pub new_device: DevicePublicKeys,
    /// The new device's ephemeral key.
    pub new_ephemeral: SasPublicKey,
    /// The commitment from the enrollment request.
    pub commitment: Commitment,
}

impl Transcript {
    /// The canonical encoding (see the module documentation); every field has a fixed length
    /// except the request id, which is length-prefixed, so no two transcripts share an encoding.
    pub fn encode(&self) -> Vec<u8> {
        let context = &self.context;
        let mut out = Vec::with_capacity(TRANSCRIPT_DOMAIN.len() + 1 + 16 * 2 + 32 * 5 + 64);
        out.extend_from_slice(TRANSCRIPT_DOMAIN);
        out.extend_from_slice(&context.account_id);
        // Bounded by MAX_REQUEST_ID_LEN at construction.
        out.push(u8::try_from(context.request_id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&context.request_id);
        out.extend_from_slice(context.existing_device.as_bytes());
        out.extend_from_slice(self.existing_ephemeral.as_bytes());
        out.extend_from_slice(self.new_device.signing.as_bytes());
        out.extend_from_slice(self.new_device.agreement.as_bytes());
        out.extend_from_slice(self.new_ephemeral.as_bytes());
        out.extend_from_slice(self.commitment.as_bytes());
        out
    }

    /// SHA-256 of [`Transcript::encode`]: the HKDF salt.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }
}

/// One emoji of the Matrix SAS table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Emoji {
    /// The emoji as text (with its variation selector where the spec has one).
    pub symbol: &'static str,
    /// Its English name from the Matrix spec, shown beside it.
    pub name: &'static str,
}

/// The Matrix specification's 64 SAS emoji (`data-definitions/sas-emoji.json`), by index. Same
/// order as every Matrix client, so users who know the set recognise it.
#[rustfmt::skip]
pub const EMOJI_TABLE: [Emoji; 64] = [
    Emoji { symbol: "\u{1F436}", name: "Dog" }, // 0 🐶
    Emoji { symbol: "\u{1F431}", name: "Cat" }, // 1 🐱
    Emoji { symbol: "\u{1F981}", name: "Lion" }, // 2 🦁
    Emoji { symbol: "\u{1F40E}", name: "Horse" }, // 3 🐎
    Emoji { symbol: "\u{1F984}", name: "Unicorn" }, // 4 🦄
    Emoji { symbol: "\u{1F437}", name: "Pig" }, // 5 🐷
    Emoji { symbol: "\u{1F418}", name: "Elephant" }, // 6 🐘
    Emoji { symbol: "\u{1F430}", name: "Rabbit" }, // 7 🐰
    Emoji { symbol: "\u{1F43C}", name: "Panda" }, // 8 🐼
    Emoji { symbol: "\u{1F413}", name: "Rooster" }, // 9 🐓
    Emoji { symbol: "\u{1F427}", name: "Penguin" }, // 10 🐧
    Emoji { symbol: "\u{1F422}", name: "Turtle" }, // 11 🐢
    Emoji { symbol: "\u{1F41F}", name: "Fish" }, // 12 🐟
    Emoji { symbol: "\u{1F419}", name: "Octopus" }, // 13 🐙
    Emoji { symbol: "\u{1F98B}", name: "Butterfly" }, // 14 🦋
    Emoji { symbol: "\u{1F337}", name: "Flower" }, // 15 🌷
    Emoji { symbol: "\u{1F333}", name: "Tree" }, // 16 🌳
    Emoji { symbol: "\u{1F335}", name: "Cactus" }, // 17 🌵
    Emoji { symbol: "\u{1F344}", name: "Mushroom" }, // 18 🍄
    Emoji { symbol: "\u{1F30F}", name: "Globe" }, // 19 🌏
    Emoji { symbol: "\u{1F319}", name: "Moon" }, // 20 🌙
    Emoji { symbol: "\u{2601}\u{FE0F}", name: "Cloud" }, // 21 ☁️
    Emoji { symbol: "\u{1F525}", name: "Fire" }, // 22 🔥
    Emoji { symbol: "\u{1F34C}", name: "Banana" }, // 23 🍌
    Emoji { symbol: "\u{1F34E}", name: "Apple" }, // 24 🍎
    Emoji { symbol: "\u{1F353}", name: "Strawberry" }, // 25 🍓
    Emoji { symbol: "\u{1F33D}", name: "Corn" }, // 26 🌽
    Emoji { symbol: "\u{1F355}", name: "Pizza" }, // 27 🍕
    Emoji { symbol: "\u{1F382}", name: "Cake" }, // 28 🎂
    Emoji { symbol: "\u{2764}\u{FE0F}", name: "Heart" }, // 29 ❤️
    Emoji { symbol: "\u{1F600}", name: "Smiley" }, // 30 😀
    Emoji { symbol: "\u{1F916}", name: "Robot" }, // 31 🤖
    Emoji { symbol: "\u{1F3A9}", name: "Hat" }, // 32 🎩
    Emoji { symbol: "\u{1F453}", name: "Glasses" }, // 33 👓
    Emoji { symbol: "\u{1F527}", name: "Spanner" }, // 34 🔧
    Emoji { symbol: "\u{1F385}", name: "Santa" }, // 35 🎅
    Emoji { symbol: "\u{1F44D}", name: "Thumbs Up" }, // 36 👍
    Emoji { symbol: "\u{2602}\u{FE0F}", name: "Umbrella" }, // 37 ☂️
    Emoji { symbol: "\u{231B}", name: "Hourglass" }, // 38 ⌛
    Emoji { symbol: "\u{23F0}", name: "Clock" }, // 39 ⏰
    Emoji { symbol: "\u{1F381}", name: "Gift" }, // 40 🎁
    Emoji { symbol: "\u{1F4A1}", name: "Light Bulb" }, // 41 💡
    Emoji { symbol: "\u{1F4D5}", name: "Book" }, // 42 📕
    Emoji { symbol: "\u{270F}\u{FE0F}", name: "Pencil" }, // 43 ✏️
    Emoji { symbol: "\u{1F4CE}", name: "Paperclip" }, // 44 📎
    Emoji { symbol: "\u{2702}\u{FE0F}", name: "Scissors" }, // 45 ✂️
    Emoji { symbol: "\u{1F512}", name: "Lock" }, // 46 🔒
    Emoji { symbol: "\u{1F511}", name: "Key" }, // 47 🔑
    Emoji { symbol: "\u{1F528}", name: "Hammer" }, // 48 🔨
    Emoji { symbol: "\u{260E}\u{FE0F}", name: "Telephone" }, // 49 ☎️
    Emoji { symbol: "\u{1F3C1}", name: "Flag" }, // 50 🏁
    Emoji { symbol: "\u{1F682}", name: "Train" }, // 51 🚂
    Emoji { symbol: "\u{1F6B2}", name: "Bicycle" }, // 52 🚲
    Emoji { symbol: "\u{2708}\u{FE0F}", name: "Aeroplane" }, // 53 ✈️
    Emoji { symbol: "\u{1F680}", name: "Rocket" }, // 54 🚀
    Emoji { symbol: "\u{1F3C6}", name: "Trophy" }, // 55 🏆
    Emoji { symbol: "\u{26BD}", name: "Ball" }, // 56 ⚽
    Emoji { symbol: "\u{1F3B8}", name: "Guitar" }, // 57 🎸
    Emoji { symbol: "\u{1F3BA}", name: "Trumpet" }, // 58 🎺
    Emoji { symbol: "\u{1F514}", name: "Bell" }, // 59 🔔
    Emoji { symbol: "\u{2693}", name: "Anchor" }, // 60 ⚓
    Emoji { symbol: "\u{1F3A7}", name: "Headphones" }, // 61 🎧
    Emoji { symbol: "\u{1F4C1}", name: "Folder" }, // 62 📁
    Emoji { symbol: "\u{1F4CC}", name: "Pin" }, // 63 📌
];

/// The code both screens show: six digits and seven emoji, from the same secret.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShortCode {
    decimal: u32,
    emoji: [u8; 7],
}

impl ShortCode {
    /// Derives the code from the short-code HKDF bytes.
    fn from_bytes(bytes: &[u8; SHORT_CODE_BYTES]) -> Self {
        let mut head = [0u8; 8];
        head.copy_from_slice(&bytes[..8]);
        // 2^64 is not a multiple of 10^6: the first 2^64 mod 10^6 codes are each one count in
        // 2^64 / 10^6 (about 1.8e13) more likely, a bias below 2^-44. Rejection sampling would
        // remove it at the cost of a variable-length derivation; not worth it.
        let decimal = u32::try_from(u64::from_be_bytes(head) % DECIMAL_MODULUS).unwrap_or(0);
        let mut tail = [0u8; 8];
        tail[2..].copy_from_slice(&bytes[8..]);
        let bits = u64::from_be_bytes(tail); // 48 bits; the top 42 are used.
        let mut emoji = [0u8; 7];
        for (i, slot) in emoji.iter_mut().enumerate() {
            *slot = ((bits >> (42 - 6 * i)) & 0x3f) as u8;
        }
        Self { decimal, emoji }
    }

    /// The six-digit code as a number below 1,000,000.
    pub fn decimal(&self) -> u32 {
        self.decimal
    }

    /// The six digits in two groups of three, as shown: `482 913`.
    pub fn decimal_grouped(&self) -> String {
        format!("{:03} {:03}", self.decimal / 1000, self.decimal % 1000)
    }

    /// The indices into [`EMOJI_TABLE`].
    pub fn emoji_indices(&self) -> [u8; 7] {
        self.emoji
    }

    /// The seven emoji with their names.
    pub fn emoji(&self) -> [Emoji; 7] {
        self.emoji
            .map(|index| EMOJI_TABLE[usize::from(index & 0x3f)])
    }
}

/// A key-confirmation MAC sent to the peer after the user confirmed the codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SasMac([u8; 32]);

impl SasMac {
    /// Wraps a MAC received from the peer.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32-byte encoding to send.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time check against the expected value.
    fn verify(&self, expected: &[u8; 32]) -> Result<(), Error> {
        if bool::from(self.0.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Error::SasMacMismatch)
        }
    }
}

/// The ledger head the existing device vouches for: the new device starts verifying the
/// ledger from it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LedgerHeadClaim {
    /// Sequence number of the head entry.
    pub seq: u64,
    /// Hash of the head entry.
    pub hash: [u8; 32],
}

/// The secret outcome of a run, shared by both roles' later states.
struct Established {
    transcript: Transcript,
    code: ShortCode,
    existing_mac_key: Zeroizing<[u8; 32]>,
    new_mac_key: Zeroizing<[u8; 32]>,
}

impl Established {
    fn derive(
        secret: EphemeralSecret,
        peer: &SasPublicKey,
        transcript: Transcript,
    ) -> Result<Self, Error> {
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*peer.as_bytes()));
        if !shared.was_contributory() {
            return Err(Error::NonContributoryKeyAgreement);
        }
        let salt = transcript.hash();
        let prk = hmac_sha256(&salt, &[shared.as_bytes()]);
        // HKDF-Expand for at most one hash length is T(1) = HMAC(PRK, info || 0x01).
        let expand = |info: &[u8]| hmac_sha256(prk.as_ref(), &[info, &[1u8]]);
        let code_bytes = expand(SHORT_CODE_INFO);
        let mut short = [0u8; SHORT_CODE_BYTES];
        short.copy_from_slice(&code_bytes[..SHORT_CODE_BYTES]);
        Ok(Self {
            code: ShortCode::from_bytes(&short),
            existing_mac_key: expand(EXISTING_MAC_KEY_INFO),
            new_mac_key: expand(NEW_MAC_KEY_INFO),
            transcript,
        })
    }

    fn existing_mac(&self, key: &SigningPublicKey, head: &LedgerHeadClaim) -> SasMac {
        let mac = hmac_sha256(
            self.existing_mac_key.as_ref(),
            &[
                EXISTING_MAC_DOMAIN,
                key.as_bytes(),
                &head.seq.to_be_bytes(),
                &head.hash,
            ],
        );
        SasMac(*mac)
    }

    fn new_mac(&self) -> SasMac {
        let device = &self.transcript.new_device;
        let mac = hmac_sha256(
            self.new_mac_key.as_ref(),
            &[
                NEW_MAC_DOMAIN,
                device.signing.as_bytes(),
                device.agreement.as_bytes(),
            ],
        );
        SasMac(*mac)
    }
}

/// New device, step 1: keys created, commitment posted with the enrollment request.
pub struct NewDeviceCommitted {
    secret: EphemeralSecret,
    ephemeral: SasPublicKey,
    device: DevicePublicKeys,
    commitment: Commitment,
}

impl NewDeviceCommitted {
    /// Creates the ephemeral key and the commitment to it and to `device` (this device's keys).
    pub fn start(rng: &mut impl CryptoRngCore, device: DevicePublicKeys) -> Self {
        let secret = EphemeralSecret::random_from_rng(&mut *rng);
        let ephemeral = SasPublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        let commitment = Commitment::compute(&ephemeral, &device);
        Self {
            secret,
            ephemeral,
            device,
            commitment,
        }
    }

    /// The commitment to put in the enrollment request.
    pub fn commitment(&self) -> Commitment {
        self.commitment
    }

    /// Takes the existing device's ephemeral key and the enrollment context; returns this
    /// device's ephemeral key, to reveal now, and the state showing the code.
    ///
    /// # Errors
    /// [`Error::NonContributoryKeyAgreement`] if the peer key is a low-order point.
    pub fn receive_existing_key(
        self,
        context: EnrollmentContext,
        existing_ephemeral: SasPublicKey,
    ) -> Result<(SasPublicKey, NewDeviceKeysExchanged), Error> {
        let transcript = Transcript {
            context,
            existing_ephemeral,
            new_device: self.device,
            new_ephemeral: self.ephemeral,
            commitment: self.commitment,
        };
        let established = Established::derive(self.secret, &existing_ephemeral, transcript)?;
        Ok((self.ephemeral, NewDeviceKeysExchanged { established }))
    }
}

/// New device, step 2: keys exchanged; the code is on screen, awaiting the user.
pub struct NewDeviceKeysExchanged {
    established: Established,
}

impl NewDeviceKeysExchanged {
    /// The code to show.
    pub fn short_code(&self) -> ShortCode {
        self.established.code
    }

    /// The transcript the code covers.
    pub fn transcript(&self) -> &Transcript {
        &self.established.transcript
    }

    /// The user confirmed that both screens match. (If they do not, drop the state and cancel
    /// the request.)
    pub fn confirm(self) -> NewDeviceConfirmed {
        NewDeviceConfirmed {
            established: self.established,
        }
    }
}

/// New device, step 3: codes confirmed; MACs are exchanged.
pub struct NewDeviceConfirmed {
    established: Established,
}

impl NewDeviceConfirmed {
    /// The MAC of this device's keys, to send to the existing device. Idempotent, so it can be
    /// re-sent after a crash of the transport.
    pub fn mac(&self) -> SasMac {
        self.established.new_mac()
    }

    /// Verifies the existing device's MAC over its signing key and the ledger head it vouches
    /// for.
    ///
    /// # Errors
    /// [`Error::SasDeviceMismatch`] if `existing_key` is not the key of the device named in
    /// the transcript, [`Error::SasMacMismatch`] if the MAC does not verify.
    pub fn verify_existing_device(
        self,
        existing_key: SigningPublicKey,
        head: LedgerHeadClaim,
        mac: &SasMac,
    ) -> Result<VerifiedExistingDevice, Error> {
        let context = &self.established.transcript.context;
        if DeviceId::derive(&existing_key) != context.existing_device {
            return Err(Error::SasDeviceMismatch);
        }
        mac.verify(&self.established.existing_mac(&existing_key, &head).0)?;
        Ok(VerifiedExistingDevice {
            key: existing_key,
            head,
        })
    }
}

/// New device, done: the approving device and the head it vouched for are authenticated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VerifiedExistingDevice {
    /// The approving device's signing key.
    pub key: SigningPublicKey,
    /// The ledger head it vouched for.
    pub head: LedgerHeadClaim,
}

/// Existing device, step 1: the user chose Approve; our ephemeral key is sent.
pub struct ExistingDeviceOffered {
    secret: EphemeralSecret,
    ephemeral: SasPublicKey,
    context: EnrollmentContext,
    new_device: DevicePublicKeys,
    commitment: Commitment,
}

impl ExistingDeviceOffered {
    /// Starts the approving side for a request naming `new_device` and `commitment`.
    pub fn start(
        rng: &mut impl CryptoRngCore,
        context: EnrollmentContext,
        new_device: DevicePublicKeys,
        commitment: Commitment,
    ) -> Self {
        let secret = EphemeralSecret::random_from_rng(&mut *rng);
        let ephemeral = SasPublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        Self {
            secret,
            ephemeral,
            context,
            new_device,
            commitment,
        }
    }

    /// Our ephemeral key, to send to the new device.
    pub fn ephemeral_key(&self) -> SasPublicKey {
        self.ephemeral
    }

    /// Takes the new device's revealed key, checks it against the commitment and derives the
    /// code.
    ///
    /// # Errors
    /// [`Error::SasCommitmentMismatch`] if the key (or the device keys) do not match the
    /// commitment, [`Error::NonContributoryKeyAgreement`] for a low-order key.
    pub fn receive_new_device_key(
        self,
        new_ephemeral: SasPublicKey,
    ) -> Result<ExistingDeviceKeysExchanged, Error> {
        self.commitment.verify(&new_ephemeral, &self.new_device)?;
        let transcript = Transcript {
            context: self.context,
            existing_ephemeral: self.ephemeral,
            new_device: self.new_device,
            new_ephemeral,
            commitment: self.commitment,
        };
        let established = Established::derive(self.secret, &new_ephemeral, transcript)?;
        Ok(ExistingDeviceKeysExchanged { established })
    }
}

/// Existing device, step 2: keys exchanged; the code is on screen, awaiting the user.
pub struct ExistingDeviceKeysExchanged {
    established: Established,
}

impl ExistingDeviceKeysExchanged {
    /// The code to show.
    pub fn short_code(&self) -> ShortCode {
        self.established.code
    }

    /// The transcript the code covers.
    pub fn transcript(&self) -> &Transcript {
        &self.established.transcript
    }

    /// The user confirmed that both screens match.
    pub fn confirm(self) -> ExistingDeviceConfirmed {
        ExistingDeviceConfirmed {
            established: self.established,
        }
    }
}

/// Existing device, step 3: codes confirmed; MACs are exchanged.
pub struct ExistingDeviceConfirmed {
    established: Established,
}

impl ExistingDeviceConfirmed {
    /// The MAC over our signing key and the ledger head we vouch for, to send to the new
    /// device.
    ///
    /// # Errors
    /// [`Error::SasDeviceMismatch`] if `own_key` is not the key of the device named in the
    /// context (a caller bug that would make the new device refuse us).
    pub fn mac(&self, own_key: &SigningPublicKey, head: &LedgerHeadClaim) -> Result<SasMac, Error> {
        if DeviceId::derive(own_key) != self.established.transcript.context.existing_device {
            return Err(Error::SasDeviceMismatch);
        }
        Ok(self.established.existing_mac(own_key, head))
    }

    /// Verifies the new device's MAC over its keys; on success the caller may sign `AddDevice`.
    ///
    /// # Errors
    /// [`Error::SasMacMismatch`] if it does not verify.
    pub fn verify_new_device(self, mac: &SasMac) -> Result<VerifiedNewDevice, Error> {
        mac.verify(&self.established.new_mac().0)?;
        Ok(VerifiedNewDevice {
            device: self.established.transcript.new_device,
        })
    }
}

/// Existing device, done: the new device's keys are authenticated and may be added.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VerifiedNewDevice {
    /// The keys to put in `AddDevice`.
    pub device: DevicePublicKeys,
}

macro_rules! redacted_debug {
    ($($state:ident),*) => {$(
        impl fmt::Debug for $state {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($state), "(<secret>)"))
            }
        }
    )*};
}

redacted_debug!(
    NewDeviceCommitted,
    NewDeviceKeysExchanged,
    NewDeviceConfirmed,
    ExistingDeviceOffered,
    ExistingDeviceKeysExchanged,
    ExistingDeviceConfirmed
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_table_is_the_matrix_table() {
        assert_eq!(
            EMOJI_TABLE[0],
            Emoji {
                symbol: "🐶",
                name: "Dog"
            }
        );
        assert_eq!(EMOJI_TABLE[34].name, "Spanner");
        assert_eq!(EMOJI_TABLE[53].symbol, "✈️");
        assert_eq!(
            EMOJI_TABLE[63],
            Emoji {
                symbol: "📌",
                name: "Pin"
            }
        );
        let mut names: Vec<&str> = EMOJI_TABLE.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 64);
    }

    #[test]
    fn short_code_bit_layout() {
        // Decimal: big-endian u64 mod 10^6; emoji: top 42 bits of the last 6 bytes.
        let mut bytes = [0u8; SHORT_CODE_BYTES];
        bytes[..8].copy_from_slice(&1_482_913u64.to_be_bytes());
        // Indices 1, 2, 3, 4, 5, 63, 63 as 6-bit groups, then 6 unused bits.
        bytes[8..].copy_from_slice(&[0x04, 0x20, 0xc4, 0x17, 0xff, 0xff]);
        let code = ShortCode::from_bytes(&bytes);
        assert_eq!(code.decimal(), 482_913);
        assert_eq!(code.decimal_grouped(), "482 913");
        assert_eq!(code.emoji_indices(), [1, 2, 3, 4, 5, 63, 63]);
        let small = ShortCode {
            decimal: 7,
            emoji: [0; 7],
        };
        assert_eq!(small.decimal_grouped(), "000 007");
    }

    #[test]
    fn request_id_is_bounded() {
        let id = DeviceId::from_bytes([1; 16]);
        assert!(EnrollmentContext::new([0; 16], &[0; MAX_REQUEST_ID_LEN], id).is_ok());
        assert_eq!(
            EnrollmentContext::new([0; 16], &[0; MAX_REQUEST_ID_LEN + 1], id),
            Err(Error::SasRequestIdTooLong {
                max: MAX_REQUEST_ID_LEN
            })
        );
    }
}
