//! Chain verification: full ([`verify_chain`]), incremental ([`LedgerState::apply`]) and head
//! comparison ([`check_presented_head`]).
//!
//! Both paths run the same rules entry by entry and collect the signatures those rules require;
//! the signatures are then checked together. Acceptance is defined by `verify_strict`. Large
//! sets take a batch fast path (`ed25519_dalek::verify_batch`) that is made to agree with it:
//!
//! - `verify_strict` refuses a non-canonical `s`, a non-canonical or small-order `R`, and a
//!   small-order key; the batch equation does not. Those are checked first, per signature.
//! - `verify_strict` is cofactorless: it refuses an `R` with a small-order component (a *mixed
//!   order* point) whenever the key is torsion-free. A random-linear-combination batch can
//!   miss such a component (a multiplier that is a multiple of its order cancels it), so the
//!   batch would accept what strict verification refuses. Keys entering the ledger must be
//!   torsion-free ([`crate::Error::LedgerKeyNotTorsionFree`]); for the `R`s, the batch path
//!   checks that [`TORSION_ROUNDS`] pseudo-random subset sums of them are torsion-free, with
//!   subsets derived from every signature (an undetected mixed-order `R` needs about
//!   2^`TORSION_ROUNDS` attempts). Checking each `R` alone would cost as much as strict
//!   verification itself.
//! - If any pre-check or the batch fails, every signature is checked with `verify_strict` in
//!   chain order, so the error names the first bad entry exactly.
//!
//! A rule violation at entry `n` is reported only after the signatures of entries before `n`
//! verified: the first error in chain order wins, whichever path found it.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};

use crate::Error;

use super::entry::LedgerEntry;
use super::state::{Head, LedgerState, SignatureCheck};
use super::{MAX_REVOKE_LIST, MAX_SIGNATURES};
use crate::ledger::EntryKind;

/// Below this many signatures, checking each with `verify_strict` is as fast as batching.
pub const BATCH_THRESHOLD: usize = 64;

/// Subset-sum rounds of the batch path's torsion check (see the module docs).
pub const TORSION_ROUNDS: usize = 64;

/// One signature waiting for its cryptographic check.
struct Pending {
    seq: u64,
    message: usize,
    check: SignatureCheck,
}

/// Signatures collected while rules run, with the messages they cover.
#[derive(Default)]
struct Collector {
    messages: Vec<Vec<u8>>,
    pending: Vec<Pending>,
}

impl Collector {
    fn add(&mut self, seq: u64, message: Vec<u8>, checks: Vec<SignatureCheck>) {
        let index = self.messages.len();
        self.messages.push(message);
        self.pending.extend(checks.into_iter().map(|check| Pending {
            seq,
            message: index,
            check,
        }));
    }

    /// Verifies everything collected; on failure names the first bad entry.
    fn verify(&self) -> Result<(), Error> {
        if self.pending.len() >= BATCH_THRESHOLD && self.batch_accepts() {
            return Ok(());
        }
        self.verify_strict()
    }

    fn verify_strict(&self) -> Result<(), Error> {
        for pending in &self.pending {
            pending
                .check
                .key
                .verify(&self.messages[pending.message], &pending.check.signature)
                .map_err(|_| Error::LedgerBadSignature { seq: pending.seq })?;
        }
        Ok(())
    }

    /// `true` only if every signature would pass `verify_strict` (see the module docs).
    fn batch_accepts(&self) -> bool {
        let mut r_points = Vec::with_capacity(self.pending.len());
        for pending in &self.pending {
            match strict_precheck(&pending.check.signature) {
                Some(r) => r_points.push(r),
                None => return false,
            }
        }
        if !subset_sums_torsion_free(&self.pending, &r_points) {
            return false;
        }
        let messages: Vec<&[u8]> = self
            .pending
            .iter()
            .map(|pending| self.messages[pending.message].as_slice())
            .collect();
        let signatures: Vec<ed25519_dalek::Signature> = self
            .pending
            .iter()
            .map(|pending| pending.check.signature)
            .collect();
        let keys: Vec<VerifyingKey> = self
            .pending
            .iter()
            .map(|pending| *pending.check.key.verifying_key())
            .collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    }
}

/// What `verify_strict` checks per signature and the batch equation does not: `s` canonical,
/// `R` a canonical encoding of a point that is not of small order. Returns `R`.
pub(crate) fn strict_precheck(signature: &ed25519_dalek::Signature) -> Option<EdwardsPoint> {
    let s_canonical: Option<Scalar> = Scalar::from_canonical_bytes(*signature.s_bytes()).into();
    s_canonical?;
    let r_bytes = signature.r_bytes();
    if !is_canonical_y(r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(*r_bytes).decompress()?;
    // With y canonical, the only remaining non-canonical encodings set the sign bit on x = 0,
    // and both such points (y = ±1) are of small order.
    if r.is_small_order() {
        return None;
    }
    Some(r)
}

/// Whether the 255-bit y coordinate (sign bit masked) is below p = 2^255 - 19.
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    let all_ones_middle = bytes[1..31].iter().all(|byte| *byte == 0xff);
    !(top == 0x7f && all_ones_middle && bytes[0] >= 0xed)
}

/// Checks [`TORSION_ROUNDS`] subset sums of the `R` points for a small-order component. The
/// subsets come from a hash of every signature, key and message, so they are fixed only once
/// the whole batch is.
fn subset_sums_torsion_free(pending: &[Pending], r_points: &[EdwardsPoint]) -> bool {
    let mut transcript = Sha512::new();
    transcript.update(b"enigm/ledger/batch-torsion/v1");
    for item in pending {
        transcript.update(item.check.signature.to_bytes());
        transcript.update(item.check.key.as_bytes());
        transcript.update(item.seq.to_be_bytes());
    }
    let seed = transcript.finalize();
    let mut sums = [EdwardsPoint::identity(); TORSION_ROUNDS];
    for (index, r) in r_points.iter().enumerate() {
        let bits = Sha512::new()
            .chain_update(seed)
            .chain_update((index as u64).to_be_bytes())
            .finalize();
        for (round, sum) in sums.iter_mut().enumerate() {
            if bits[round / 8] >> (round % 8) & 1 == 1 {
                *sum += r;
            }
        }
    }
    sums.iter().all(EdwardsPoint::is_torsion_free)
}

/// Refuses in-memory entries whose encoding would not decode (unsorted or duplicate signers,
/// oversize lists), so a verified entry always has exactly one encoding.
fn check_form(entry: &LedgerEntry) -> Result<(), Error> {
    if entry.signatures.len() > MAX_SIGNATURES {
        return Err(Error::LedgerTooLarge {
            what: "signature list",
            len: entry.signatures.len(),
            max: MAX_SIGNATURES,
        });
    }
    if entry
        .signatures
        .windows(2)
        .any(|pair| pair[0].signer >= pair[1].signer)
    {
        return Err(Error::LedgerUnsortedSignatures);
    }
    let revoke_len = match &entry.kind {
        EntryKind::Recover { revoke, .. } => revoke.len(),
        EntryKind::Genesis { .. }
        | EntryKind::AddDevice { .. }
        | EntryKind::Suspend { .. }
        | EntryKind::Resume { .. }
        | EntryKind::Revoke { .. }
        | EntryKind::Retire { .. }
        | EntryKind::Review { .. }
        | EntryKind::RotateRecovery { .. }
        | EntryKind::JoinOrganization { .. }
        | EntryKind::LeaveOrganization => 0,
    };
    if revoke_len > MAX_REVOKE_LIST {
        return Err(Error::LedgerTooLarge {
            what: "revoke list",
            len: revoke_len,
            max: MAX_REVOKE_LIST,
        });
    }
    Ok(())
}

/// Runs the rules of `entries` on `state`, then checks the signatures; the first error in
/// chain order wins.
fn run(state: &mut LedgerState, entries: &[LedgerEntry], collector: &mut Collector) -> Result<(), Error> {
    for entry in entries {
        let outcome = check_form(entry).and_then(|()| {
            let message = entry.signing_message(state.account_id());
            state.step(entry).map(|checks| (message, checks))
        });
        match outcome {
            Ok((message, checks)) => collector.add(entry.seq, message, checks),
            Err(error) => {
                collector.verify()?;
                return Err(error);
            }
        }
    }
    collector.verify()
}

/// Verifies a whole ledger from its genesis and returns the state it establishes.
///
/// # Errors
/// [`Error::LedgerEmpty`], or the first problem in chain order: a `Ledger*` rule, chain or
/// signature variant naming the entry, or [`Error::IllegalTransition`].
pub fn verify_chain(entries: &[LedgerEntry]) -> Result<LedgerState, Error> {
    let (genesis, rest) = entries.split_first().ok_or(Error::LedgerEmpty)?;
    check_form(genesis)?;
    let (mut state, checks) = LedgerState::from_genesis(genesis)?;
    let mut collector = Collector::default();
    collector.add(genesis.seq, genesis.signing_message(state.account_id()), checks);
    run(&mut state, rest, &mut collector)?;
    Ok(state)
}

impl LedgerState {
    /// Verifies `entries` as the continuation of this state's head (the first must have
    /// `seq = head.seq + 1` and `prev_hash = head.hash`) and applies them. Atomic: on error
    /// `self` is unchanged.
    ///
    /// # Errors
    /// As [`verify_chain`], for the first bad entry.
    pub fn apply(&mut self, entries: &[LedgerEntry]) -> Result<(), Error> {
        let mut next = self.clone();
        run(&mut next, entries, &mut Collector::default())?;
        *self = next;
        Ok(())
    }
}

/// Compares the head a client pinned with a history the service presents.
///
/// `presented` is the service's ledger, or the part from the pinned seq (or the one after it)
/// on; entries are located by their `seq`. A presented history that ends before the pinned head is a
/// rollback; one whose entry at the pinned seq hashes differently is a fork. On success the
/// presented entries after the pinned head can be given to [`LedgerState::apply`].
///
/// # Errors
/// [`Error::LedgerRollback`] or [`Error::LedgerFork`].
pub fn check_presented_head(pinned: &Head, presented: &[LedgerEntry]) -> Result<(), Error> {
    let presented_head = presented.iter().map(|entry| entry.seq).max();
    match presented_head {
        Some(seq) if seq >= pinned.seq => {}
        Some(seq) => {
            return Err(Error::LedgerRollback {
                pinned: pinned.seq,
                presented: seq,
            });
        }
        None => {
            return Err(Error::LedgerRollback {
                pinned: pinned.seq,
                presented: 0,
            });
        }
    }
    if let Some(entry) = presented.iter().find(|entry| entry.seq == pinned.seq) {
        return if entry.hash() == pinned.hash {
            Ok(())
        } else {
            Err(Error::LedgerFork { seq: pinned.seq })
        };
    }
    // Only entries after the pinned head were presented: the first must link to it.
    let next = presented
        .iter()
        .find(|entry| Some(entry.seq) == pinned.seq.checked_add(1));
    match next {
        Some(entry) if entry.prev_hash == pinned.hash => Ok(()),
        Some(_) | None => Err(Error::LedgerFork { seq: pinned.seq }),
    }
}

/// Compares two heads directly (the service's advertised head against the pinned one, before
/// fetching entries): an older presented head is a rollback, the same seq with another hash a
/// fork. A newer head is fine here; its entries must still extend the pinned one.
///
/// # Errors
/// [`Error::LedgerRollback`] or [`Error::LedgerFork`].
pub fn compare_heads(pinned: &Head, presented: &Head) -> Result<(), Error> {
    if presented.seq < pinned.seq {
        return Err(Error::LedgerRollback {
            pinned: pinned.seq,
            presented: presented.seq,
        });
    }
    if presented.seq == pinned.seq && presented.hash != pinned.hash {
        return Err(Error::LedgerFork { seq: pinned.seq });
    }
    Ok(())
}
