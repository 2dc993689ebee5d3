//! The engine: one profile (encrypted store + keychain entry) talking to one service.
//!
//! Every method is a whole user step and leaves the profile consistent if the process dies in
//! the middle: the device keys are saved before the service ever sees them, the account id and
//! the ledger only after the service acknowledged them, and a retry picks up where the last
//! attempt stopped (a login adopts an account whose registration finished on the service but
//! not locally).
//!
//! The ledger is verified here, never trusted from the service: the store keeps the verified
//! entries and the pinned head; each sync re-verifies them, checks that what the service
//! presents extends the pin (no fork, no rollback, no hidden entries), applies the new entries
//! and pins the new head in one store transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE64URL_NOPAD;
use enigm_core::audit::AuditExport;
use enigm_core::identity::{DeviceId, DeviceSecrets};
use enigm_core::ledger::{
    EntryKind, Head, LedgerEntry, LedgerState, RevokeReason, check_presented_head, compare_heads,
    verify_chain,
};
use enigm_core::opaque::{ClientLogin, ClientLoginFinishParameters, CredentialResponse};
use enigm_core::recovery::RecoveryPhrase;
use enigm_core::request::{SessionId, login_start_message, session_binding_message};
use enigm_core::session::refresh_due;
use enigm_core::trust::SessionKind;
use enigm_core::trust::Timestamp;
use enigm_proto::{
    Append, AppendReply, LedgerPage, LoginFinish, LoginStart, LoginStartReply, RefreshReply,
    RegisterFinish, RegisterFinishReply, RegisterStart, RegisterStartReply, SeenDevices,
    SessionIssued, SessionStatus,
};
use enigm_store::{Keychain, PinnedHead, SavedSession, Store};
use rand_core::{OsRng, RngCore};
use reqwest::Method;
use zeroize::Zeroizing;

use crate::ClientError;
use crate::api::{ServiceClient, Signer};
use crate::lock::USERNAME_KEY;
use crate::registration;
use crate::removal::removal_error;
use crate::view::{DeviceList, DeviceView};

/// Entries fetched per ledger page request are bounded by the service; this bounds the loop.
const MAX_LEDGER_PAGES: usize = 10_000;

/// One profile bound to one service.
#[derive(Clone)]
pub struct Engine {
    api: ServiceClient,
    store: Arc<Mutex<Store>>,
    /// Held by an unlock attempt, so attempts run one at a time.
    unlocking: Arc<tokio::sync::Mutex<()>>,
}

/// What a registration leaves with the user: the phrase, shown once and never stored.
pub struct Registered {
    /// The recovery phrase: show it once, have the user confirm it, then drop it.
    pub phrase: RecoveryPhrase,
    /// This device's id.
    pub device_id: DeviceId,
}

/// Which of the service's ledger reads a sync uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LedgerRead {
    /// `GET /v1/ledger`, the account's ledger; a refusal of this device as removed is settled.
    Account,
    /// `GET /v1/ledger/removal`, the one read the service serves a removed device: up to the
    /// entry that removed it. A refusal is passed on (the caller is settling one).
    UpToRemoval,
}

/// A ledger the service presented beyond the pinned head, verified but not pinned yet.
pub(crate) struct Presented {
    /// The verified state at the presented head.
    pub(crate) state: LedgerState,
    /// The sequence number of the first new entry (as many entries were stored before).
    first_new: u64,
    /// The entries beyond the pinned head.
    new_entries: Vec<LedgerEntry>,
}

impl Presented {
    /// Entry `seq`, if it is one of the new ones.
    pub(crate) fn new_entry(&self, seq: u64) -> Option<&LedgerEntry> {
        let index = usize::try_from(seq.checked_sub(self.first_new)?).ok()?;
        self.new_entries.get(index)
    }
}

/// What a signed request does when the service refuses this device as removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Removals {
    /// Settle it (`removal.rs`): erase this device when the removal verifies, otherwise report
    /// [`ClientError::ServiceRefusesDevice`].
    Settle,
    /// Hand [`ClientError::RemovedByService`] back: the caller is settling one already.
    PassOn,
}

/// How a sign-out ended: either way this computer no longer holds the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SignOut {
    /// The service ended the session (its push sockets heard `signed_out`), or had already.
    Ended,
    /// The service could not be reached: the session was forgotten here only and lasts at
    /// the service until it expires.
    ForgottenLocally,
}

/// A device-state change made by an active device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChange {
    /// Withdraw trust for now.
    Suspend,
    /// Restore a suspended device.
    Resume,
    /// Remove for good.
    Revoke(RevokeReason),
    /// Retire a device that is no longer used.
    Retire,
}

/// A ledger head as the service sends it, checked: the hash must be 64 hex digits.
pub(crate) fn wire_head(head: &enigm_proto::Head) -> Result<Head, ClientError> {
    let hash: [u8; 32] = hex::decode(&head.hash)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ClientError::MalformedResponse("ledger head"))?;
    Ok(Head {
        seq: head.seq,
        hash: enigm_core::ledger::EntryHash(hash),
    })
}

impl Engine {
    /// Opens (creating on first use) the profile in `dir`, its key in the OS keychain, for the
    /// service at `server`.
    ///
    /// # Errors
    /// [`ClientError::InvalidServerUrl`]; the store's and keychain's own errors.
    pub async fn open(dir: &Path, server: &str) -> Result<Self, ClientError> {
        let api = ServiceClient::new(server)?;
        let dir = dir.to_path_buf();
        let store = tokio::task::spawn_blocking(move || {
            let keychain = Keychain::platform()?;
            Store::open(&dir, &keychain)
        })
        .await
        .map_err(|_| ClientError::Task)??;
        Ok(Self::with_store(store, api))
    }

    /// An engine over an already open store (tests open it with a given key).
    pub fn with_store(store: Store, api: ServiceClient) -> Self {
        Self {
            api,
            store: Arc::new(Mutex::new(store)),
            unlocking: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The lock unlock attempts take turns on.
    pub(crate) fn unlocking(&self) -> &tokio::sync::Mutex<()> {
        &self.unlocking
    }

    /// The service connection.
    pub(crate) fn api(&self) -> &ServiceClient {
        &self.api
    }

    /// Runs `work` on the store on a blocking thread.
    pub(crate) async fn with_store_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, enigm_store::Error> + Send + 'static,
    ) -> Result<T, ClientError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().map_err(|_| ClientError::Task)?;
            work(&mut guard).map_err(ClientError::from)
        })
        .await
        .map_err(|_| ClientError::Task)?
    }

    /// This device's secrets, created and saved on first use (before any service sees them).
    /// A revoked profile never gets new ones: it stays a record of what happened.
    pub(crate) async fn device(&self) -> Result<DeviceSecrets, ClientError> {
        self.with_store_blocking(|store| {
            if let Some(mark) = store.revoked()? {
                return Ok(Err(removal_error(store, &mark)?));
            }
            match store.device_secrets()? {
                Some(secrets) => Ok(Ok(secrets)),
                None => {
                    let secrets = DeviceSecrets::generate(&mut OsRng);
                    store.save_device_secrets(&secrets)?;
                    Ok(Ok(secrets))
                }
            }
        })
        .await?
    }

    /// Creates an account with this device as its first device, then signs in.
    ///
    /// # Errors
    /// [`ClientError::AlreadyRegistered`] if this profile has an account; the service's
    /// refusals (`username_taken`, `invalid_username`, `rate_limited`, ...).
    pub async fn register(
        &self,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<Registered, ClientError> {
        if self
            .with_store_blocking(|store| store.account_id())
            .await?
            .is_some()
        {
            return Err(ClientError::AlreadyRegistered);
        }
        let device = self.device().await?;
        let mut account_id = [0u8; 16];
        OsRng.fill_bytes(&mut account_id);
        let phrase = RecoveryPhrase::generate(&mut OsRng);
        let genesis = LedgerEntry::dated_genesis(
            account_id,
            &device,
            phrase.recovery_key().signing_key(),
            Some(now()),
        );

        let (state, registration_request) = registration::start(password.as_bytes())?;
        let reply: RegisterStartReply = self
            .api
            .post(
                "/v1/accounts/register/start",
                &RegisterStart {
                    username: username.to_owned(),
                    registration_request,
                },
            )
            .await?;
        let response = unb64(&reply.registration_response)?;
        let upload = registration::finish(state, password.as_bytes(), &response)?;
        let _: RegisterFinishReply = self
            .api
            .post(
                "/v1/accounts/register/finish",
                &RegisterFinish {
                    registration_id: reply.registration_id,
                    username: username.to_owned(),
                    registration_upload: b64(&upload),
                    genesis: b64(&genesis.encode()),
                },
            )
            .await?;
        let head = PinnedHead {
            seq: 0,
            hash: genesis.hash().0,
        };
        let genesis_bytes = genesis.encode();
        self.with_store_blocking(move |store| {
            store.set_account_id(account_id)?;
            store.append_ledger(0, &[genesis_bytes], head)
        })
        .await?;
        tracing::info!("account registered");
        // The account exists now: the phrase must reach the user even if signing in fails
        // (rate limit, network); the next command then asks to sign in.
        match self.login(username, password).await {
            Ok(_) => {
                if let Err(error) = self.rotate_sync_key().await {
                    tracing::warn!(
                        code = error.code(),
                        "registered, but the sync key is not set up"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(code = error.code(), "registered, but signing in failed");
            }
        }
        Ok(Registered {
            phrase,
            device_id: device.device_id(),
        })
    }

    /// Signs in with OPAQUE and binds the new session to this device's key. A device that is
    /// not (yet) in the account's ledger gets a session that can only enroll.
    ///
    /// # Errors
    /// [`ClientError::WrongPassword`] when OPAQUE fails (wrong username or password: the two are
    /// indistinguishable by design); the service's refusals (`rate_limited`, `device_removed`).
    pub async fn login(
        &self,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<SavedSession, ClientError> {
        let saved = self.sign_in(username, password).await?;
        if saved.kind == SessionKind::Full {
            self.sync().await?;
        }
        Ok(saved)
    }

    /// [`Engine::login`] without the sync that follows a full session: for a device that must
    /// check the ledger against what it was told before it pins anything (a joining device).
    ///
    /// # Errors
    /// As [`Engine::login`].
    pub(crate) async fn sign_in(
        &self,
        username: &str,
        password: &Zeroizing<String>,
    ) -> Result<SavedSession, ClientError> {
        let device = self.device().await?;
        let start = ClientLogin::start(&mut OsRng, password.as_bytes())
            .map_err(|_| ClientError::Protocol(enigm_core::Error::OpaqueFailed))?;
        // Signed by this device, the start draws on the device's own guess budget when the
        // account's ledger holds it, so a stranger spending the account's cannot lock us out.
        let request = start.message.serialize();
        let timestamp = now();
        let signature = device.sign(&login_start_message(timestamp, &request));
        let reply: LoginStartReply = self
            .api
            .post(
                "/v1/sessions/login/start",
                &LoginStart {
                    username: username.to_owned(),
                    credential_request: b64(&request),
                    device_key: Some(b64(device.public().signing.as_bytes())),
                    device_timestamp: Some(timestamp),
                    device_signature: Some(b64(&signature.to_bytes())),
                },
            )
            .await?;
        let response = CredentialResponse::deserialize(&unb64(&reply.credential_response)?)
            .map_err(|_| ClientError::MalformedResponse("credential response"))?;
        let finished = start
            .state
            .finish(
                password.as_bytes(),
                response,
                ClientLoginFinishParameters::default(),
            )
            .map_err(|_| ClientError::WrongPassword)?;
        let login_id: [u8; 16] = unb64(&reply.login_id)?
            .try_into()
            .map_err(|_| ClientError::MalformedResponse("login id"))?;
        let device_key = *device.public().signing.as_bytes();
        let binding = session_binding_message(&login_id, &finished.session_key, &device_key);
        let signature = device.sign(&binding);
        let session: Result<SessionIssued, ClientError> = self
            .api
            .post(
                "/v1/sessions/login/finish",
                &LoginFinish {
                    login_id: reply.login_id,
                    credential_finalization: b64(&finished.message.serialize()),
                    device_key: b64(&device_key),
                    device_signature: b64(&signature.to_bytes()),
                },
            )
            .await;
        let session = match session {
            Err(ClientError::RemovedByService { entry, .. }) => {
                return Err(self.removed(entry).await);
            }
            other => other?,
        };
        let account_id: [u8; 16] = hex::decode(&session.account_id)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ClientError::MalformedResponse("account id"))?;
        let saved = SavedSession {
            session_id: *SessionId::from_b64url(&session.session_id)
                .map_err(|_| ClientError::MalformedResponse("session id"))?
                .as_bytes(),
            kind: session.kind,
            expires_at: session.expires_at,
        };
        let to_save = saved.clone();
        let name = username.to_owned();
        self.with_store_blocking(move |store| {
            match store.account_id()? {
                Some(stored) if stored != account_id => {
                    return Err(enigm_store::Error::AlreadySet("account id"));
                }
                Some(_) => {}
                None => store.set_account_id(account_id)?,
            }
            // The username, so that unlocking (which signs in again) asks only the password.
            // Nothing derived from the password is kept: the service checks it each time.
            store.set_meta(USERNAME_KEY, name.as_bytes())?;
            store.save_session(&to_save)
        })
        .await?;
        tracing::info!(kind = saved.kind.as_str(), "signed in");
        Ok(saved)
    }

    /// The saved session and what signs with it.
    pub(crate) async fn signer_parts(&self) -> Result<(SessionId, DeviceSecrets), ClientError> {
        self.with_store_blocking(|store| {
            if let Some(mark) = store.revoked()? {
                return Ok(Err(removal_error(store, &mark)?));
            }
            Ok(match (store.session()?, store.device_secrets()?) {
                (Some(session), Some(device)) => {
                    Ok((SessionId::from_bytes(session.session_id), device))
                }
                (None, _) | (_, None) => Err(ClientError::SignedOut),
            })
        })
        .await?
    }

    /// Refreshes the saved session when it is close to expiry, so a device in use stays signed
    /// in. A session the service no longer knows is forgotten (the caller's request then says
    /// why).
    ///
    /// # Errors
    /// The store's errors; [`ClientError::DeviceRevoked`] for a removed device.
    pub async fn refresh_if_due(&self) -> Result<(), ClientError> {
        let Some(saved) = self.with_store_blocking(|store| store.session()).await? else {
            return Ok(());
        };
        let now = now();
        if !refresh_due(saved.expires_at, now) {
            return Ok(());
        }
        let (session, device) = self.signer_parts().await?;
        let signer = Signer {
            session,
            device: &device,
            now,
        };
        let reply: Result<RefreshReply, ClientError> = self
            .api
            .signed(signer, Method::POST, "/v1/sessions/refresh", None)
            .await;
        match reply {
            Ok(reply) => {
                let refreshed = SavedSession {
                    expires_at: reply.expires_at,
                    ..saved
                };
                self.with_store_blocking(move |store| store.save_session(&refreshed))
                    .await?;
                tracing::debug!("session refreshed");
            }
            Err(error) if error.is_session_over() => {
                self.with_store_blocking(Store::clear_session).await?;
            }
            // Offline or refused for another reason: the request itself will say so.
            Err(_) => {}
        }
        Ok(())
    }

    /// A signed request with the saved session; a refusal of this device as removed is settled
    /// (see [`Removals::Settle`]).
    pub(crate) async fn signed<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        self.signed_with(Removals::Settle, method, path, body).await
    }

    /// [`Engine::signed`] with a typed request body.
    pub(crate) async fn signed_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_value(body).map_err(|_| ClientError::Task)?;
        self.signed(method, path, Some(&body)).await
    }

    /// A signed request with the saved session, treating a refusal of this device as removed
    /// as `removals` says.
    async fn signed_with<T: serde::de::DeserializeOwned>(
        &self,
        removals: Removals,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        self.refresh_if_due().await?;
        let (session, device) = self.signer_parts().await?;
        let signer = Signer {
            session,
            device: &device,
            now: now(),
        };
        let result = self.api.signed(signer, method, path, body).await;
        match &result {
            Err(error) if error.is_session_over() => {
                self.with_store_blocking(Store::clear_session).await?;
            }
            Ok(_) | Err(_) => {}
        }
        match (result, removals) {
            (Err(ClientError::RemovedByService { entry, .. }), Removals::Settle) => {
                Err(self.removed(entry).await)
            }
            (other, Removals::Settle | Removals::PassOn) => other,
        }
    }

    /// Whether this profile holds a verified ledger: it belongs to its account (it registered,
    /// was added, or recovered), rather than only having signed in to join it.
    pub(crate) async fn has_verified_ledger(&self) -> Result<bool, ClientError> {
        Ok(self
            .with_store_blocking(|store| store.pinned_head())
            .await?
            .is_some())
    }

    /// The locally verified ledger state (re-verified from the store), if any.
    pub(crate) async fn local_state(&self) -> Result<Option<(LedgerState, usize)>, ClientError> {
        let (entries, pinned) = self
            .with_store_blocking(|store| Ok((store.ledger_entries()?, store.pinned_head()?)))
            .await?;
        if entries.is_empty() {
            return Ok(None);
        }
        let decoded = entries
            .iter()
            .map(|bytes| LedgerEntry::decode(bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClientError::LedgerRejected)?;
        let state = verify_chain(&decoded).map_err(ClientError::LedgerRejected)?;
        if let Some(pinned) = pinned {
            compare_heads(&to_head(pinned), &state.head()).map_err(ClientError::LedgerRejected)?;
        }
        Ok(Some((state, entries.len())))
    }

    /// Fetches what the service has beyond the pinned head, verifies it, and pins the new head.
    ///
    /// # Errors
    /// [`ClientError::LedgerRejected`] for a fork, a rollback, a bad signature or rule, or a
    /// head the entries do not reach (hidden entries); nothing is stored then.
    /// [`ClientError::LedgerWithheld`] while another device has signed a head the service does
    /// not show this device (what it does show is verified and pinned all the same).
    pub async fn sync(&self) -> Result<DeviceList, ClientError> {
        let state = self.sync_state().await?;
        self.refresh_sync_key().await?;
        // A rotation an earlier change could not finish; the list stays usable if it fails
        // again (this device may no longer be allowed to rotate).
        if let Err(error) = self.settle_owed_rotation().await {
            tracing::warn!(
                code = error.code(),
                "an owed sync key rotation failed again"
            );
        }
        // A device left without the key by an approver that died before the hand-over.
        if let Err(error) = self.heal_missing_copies(&state).await {
            tracing::warn!(
                code = error.code(),
                "giving a device without the sync key a copy failed"
            );
        }
        self.device_list(&state).await
    }

    /// [`Engine::sync`]'s verified state itself, for callers that build on it.
    pub(crate) async fn sync_state(&self) -> Result<LedgerState, ClientError> {
        self.sync_state_with(LedgerRead::Account).await
    }

    /// [`Engine::sync_state`] through `read`.
    pub(crate) async fn sync_state_with(
        &self,
        read: LedgerRead,
    ) -> Result<LedgerState, ClientError> {
        let presented = self.presented(read).await?;
        self.pin(&presented).await?;
        match read {
            // Another device signed a head this one was not shown: refuse until it is shown.
            LedgerRead::Account => self.check_withheld().await?,
            // A removed device reads only up to its removal: newer heads are expected.
            LedgerRead::UpToRemoval => {}
        }
        Ok(presented.state)
    }

    /// What the service presents beyond the pinned head (through `read`), verified against the
    /// pin but not pinned yet: [`Engine::pin`] pins it once the caller's own checks pass.
    ///
    /// # Errors
    /// [`ClientError::LedgerRejected`] for a fork, a rollback, a bad signature or rule, or a
    /// head the entries do not reach (hidden entries); the service's refusals.
    pub(crate) async fn presented(&self, read: LedgerRead) -> Result<Presented, ClientError> {
        let account_id = self
            .with_store_blocking(|store| store.account_id())
            .await?
            .ok_or(ClientError::NoAccount)?;
        let local = self.local_state().await?;
        // Re-fetch the pinned entry too, so a service that rewrote it is caught as a fork.
        let since = local.as_ref().map_or(0, |(state, _)| state.head().seq);
        let (presented, service_head) = self.fetch_ledger(since, read).await?;
        let (state, first_new, new_entries) = match local {
            Some((mut state, stored)) => {
                let pinned = state.head();
                check_presented_head(&pinned, &presented).map_err(ClientError::LedgerRejected)?;
                let new: Vec<LedgerEntry> = presented
                    .into_iter()
                    .filter(|entry| entry.seq > pinned.seq)
                    .collect();
                state.apply(&new).map_err(ClientError::LedgerRejected)?;
                (state, stored as u64, new)
            }
            None => {
                let state = verify_chain(&presented).map_err(ClientError::LedgerRejected)?;
                if state.account_id() != &account_id {
                    return Err(ClientError::LedgerInconsistent(
                        "the ledger belongs to another account",
                    ));
                }
                (state, 0, presented)
            }
        };
        if state.head() != service_head {
            return Err(ClientError::LedgerInconsistent(
                "the service's head is not where its entries lead (entries withheld)",
            ));
        }
        Ok(Presented {
            state,
            first_new,
            new_entries,
        })
    }

    /// Stores `presented`'s new entries and pins its head, in one store transaction.
    ///
    /// # Errors
    /// The store's errors (nothing is pinned then).
    pub(crate) async fn pin(&self, presented: &Presented) -> Result<(), ClientError> {
        if presented.new_entries.is_empty() {
            return Ok(());
        }
        let head = PinnedHead {
            seq: presented.state.head().seq,
            hash: presented.state.head().hash.0,
        };
        let first_new = presented.first_new;
        let bytes: Vec<Vec<u8>> = presented
            .new_entries
            .iter()
            .map(LedgerEntry::encode)
            .collect();
        self.with_store_blocking(move |store| store.append_ledger(first_new, &bytes, head))
            .await?;
        tracing::info!(seq = head.seq, "ledger verified and pinned");
        Ok(())
    }

    /// The service's whole ledger, verified here but not pinned: what a device that is not in
    /// the account yet (one enrolling as a replacement) checks the device it names against.
    ///
    /// # Errors
    /// [`ClientError::LedgerRejected`] when it does not verify, belongs to another account or
    /// withholds entries; the service's refusals.
    pub(crate) async fn unpinned_state(&self) -> Result<LedgerState, ClientError> {
        let account_id = self
            .with_store_blocking(|store| store.account_id())
            .await?
            .ok_or(ClientError::NoAccount)?;
        let (entries, service_head) = self.fetch_ledger(0, LedgerRead::Account).await?;
        let state = verify_chain(&entries).map_err(ClientError::LedgerRejected)?;
        if state.account_id() != &account_id {
            return Err(ClientError::LedgerInconsistent(
                "the ledger belongs to another account",
            ));
        }
        if state.head() != service_head {
            return Err(ClientError::LedgerInconsistent(
                "the service's head is not where its entries lead (entries withheld)",
            ));
        }
        Ok(state)
    }

    /// The view of a verified state, marking this device, with the labels that decrypt.
    pub(crate) async fn device_list(&self, state: &LedgerState) -> Result<DeviceList, ClientError> {
        let this = self
            .with_store_blocking(|store| store.device_secrets())
            .await?
            .map(|device| device.device_id());
        let mut list = DeviceList::from_state(state, this);
        self.add_labels(state, &mut list).await;
        self.add_last_seen(&mut list).await;
        Ok(list)
    }

    /// Fills in when each device was last seen, as the service reports it. Best effort, like
    /// the labels: signed out, offline or refused leaves every device's day unknown.
    async fn add_last_seen(&self, list: &mut DeviceList) {
        match self
            .signed::<SeenDevices>(Method::GET, "/v1/devices/seen", None)
            .await
        {
            Ok(seen) => list.set_last_seen(
                seen.devices
                    .into_iter()
                    .filter_map(|item| Some((DeviceId::from_hex(&item.device_id)?, item.seen_day))),
                today(),
            ),
            Err(error) => tracing::debug!(code = error.code(), "device activity unavailable"),
        }
    }

    /// All ledger entries from `since`, following pages.
    async fn fetch_ledger(
        &self,
        since: u64,
        read: LedgerRead,
    ) -> Result<(Vec<LedgerEntry>, Head), ClientError> {
        let (path, removals) = match read {
            LedgerRead::Account => ("/v1/ledger", Removals::Settle),
            LedgerRead::UpToRemoval => ("/v1/ledger/removal", Removals::PassOn),
        };
        let mut entries = Vec::new();
        let mut next = since;
        for _ in 0..MAX_LEDGER_PAGES {
            let page: LedgerPage = self
                .signed_with(removals, Method::GET, &format!("{path}?since={next}"), None)
                .await?;
            for text in &page.entries {
                let entry =
                    LedgerEntry::decode(&unb64(text)?).map_err(ClientError::LedgerRejected)?;
                if entry.seq != next {
                    return Err(ClientError::LedgerInconsistent(
                        "the service sent ledger entries out of order",
                    ));
                }
                next = next.saturating_add(1);
                entries.push(entry);
            }
            if !page.more {
                return Ok((entries, wire_head(&page.head)?));
            }
            if page.entries.is_empty() {
                return Err(ClientError::MalformedResponse(
                    "an empty ledger page with more",
                ));
            }
        }
        Err(ClientError::MalformedResponse("too many ledger pages"))
    }

    /// The verified device list as last synced, without syncing the ledger; the labels are
    /// fetched from the service when it can be reached (unknown otherwise).
    ///
    /// # Errors
    /// [`ClientError::NoAccount`]; [`ClientError::LedgerRejected`] if the stored ledger no
    /// longer verifies (a damaged store).
    pub async fn devices(&self) -> Result<DeviceList, ClientError> {
        let (state, _) = self.local_state().await?.ok_or(ClientError::NoAccount)?;
        self.device_list(&state).await
    }

    /// Suspends, resumes, revokes or retires a device of the account, signed by this device.
    /// `target` is a device id or a unique prefix of one.
    ///
    /// # Errors
    /// [`ClientError::UnknownDevice`] / [`ClientError::AmbiguousDevice`];
    /// [`ClientError::NotAllowed`] when the ledger rules refuse the change (checked locally
    /// before anything is sent); the service's refusals.
    pub async fn change_device(
        &self,
        target: &str,
        change: DeviceChange,
    ) -> Result<DeviceView, ClientError> {
        let state = self.sync_state().await?;
        let device = DeviceList::from_state(&state, None)
            .resolve(target)?
            .device_id;
        let (account_id, secrets) = self
            .with_store_blocking(|store| Ok((store.account_id()?, store.device_secrets()?)))
            .await?;
        let (Some(account_id), Some(secrets)) = (account_id, secrets) else {
            return Err(ClientError::NoAccount);
        };
        let kind = match change {
            DeviceChange::Suspend => EntryKind::Suspend { device },
            DeviceChange::Resume => EntryKind::Resume { device },
            DeviceChange::Revoke(reason) => EntryKind::Revoke { device, reason },
            DeviceChange::Retire => EntryKind::Retire { device },
        };
        let mut entry = state.next_entry(kind).signed_at(now());
        entry.sign_device(&account_id, &secrets);
        self.append(&state, &entry).await?;
        // Whoever left must not read what is written from now on (DESIGN §3); a resumed
        // device needs a copy of the epoch it was left out of.
        if matches!(
            change,
            DeviceChange::Suspend | DeviceChange::Resume | DeviceChange::Revoke(_)
        ) {
            self.rotate_after_change().await?;
        }
        let list = self.sync().await?;
        list.devices
            .into_iter()
            .find(|view| view.device_id == device)
            .ok_or(ClientError::UnknownDevice(device.to_hex()))
    }

    /// Appends `entry` (built on `state`'s head, which is the head the service must still
    /// have) after checking locally that the ledger rules accept it.
    ///
    /// # Errors
    /// [`ClientError::NotAllowed`] when the rules refuse it (nothing is sent); the service's
    /// refusals (`ledger_conflict` when the head moved).
    pub(crate) async fn append(
        &self,
        state: &LedgerState,
        entry: &LedgerEntry,
    ) -> Result<(), ClientError> {
        let mut check = state.clone();
        if check.apply(std::slice::from_ref(entry)).is_err() {
            return Err(ClientError::NotAllowed(
                "the ledger rules do not allow this change for this device in its current state",
            ));
        }
        let _: AppendReply = self
            .signed_json(
                Method::POST,
                "/v1/ledger",
                &Append {
                    entries: vec![b64(&entry.encode())],
                },
            )
            .await?;
        Ok(())
    }

    /// Where this session and device stand, as the service evaluates them.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`]; the service's refusals.
    pub async fn session_status(&self) -> Result<SessionStatus, ClientError> {
        self.signed(Method::GET, "/v1/sessions/current", None).await
    }

    /// The account's whole audit trail, signed by the service (`GET /v1/audit/export`), for
    /// the user to keep and check offline (`enigm audit verify`). It is checked against the key
    /// it names before it is handed over, so a damaged export is refused now rather than found
    /// out later; whether that key is the service's is for the verifier to pin.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`]; [`ClientError::MalformedResponse`] when the export does not
    /// verify; the service's refusals.
    pub async fn audit_export(&self) -> Result<AuditExport, ClientError> {
        let export: AuditExport = self.signed(Method::GET, "/v1/audit/export", None).await?;
        export
            .verify(None)
            .map_err(|_| ClientError::MalformedResponse("an audit export that does not verify"))?;
        Ok(export)
    }

    /// Signs this computer out: the service ends the session (`DELETE /v1/sessions/current`),
    /// then the saved session is forgotten. The user asked to be signed out, so the session is
    /// forgotten whatever the service answers; offline, [`SignOut::ForgottenLocally`] says so.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`] when there is no session; the store's errors; the service's
    /// refusals (the session is forgotten all the same).
    pub async fn sign_out(&self) -> Result<SignOut, ClientError> {
        let ended: Result<(), ClientError> = self
            .signed(Method::DELETE, "/v1/sessions/current", None)
            .await;
        if matches!(
            ended,
            Err(ClientError::SignedOut
                | ClientError::DeviceRevoked(_)
                | ClientError::DeviceReplaced(_))
        ) {
            return ended.map(|()| SignOut::Ended);
        }
        self.with_store_blocking(Store::clear_session).await?;
        match ended {
            Ok(()) => Ok(SignOut::Ended),
            Err(error) if error.is_session_over() => Ok(SignOut::Ended),
            Err(ClientError::Unreachable(_) | ClientError::ServiceRefusesDevice) => {
                Ok(SignOut::ForgottenLocally)
            }
            Err(error) => Err(error),
        }
    }
}

fn to_head(pinned: PinnedHead) -> Head {
    Head {
        seq: pinned.seq,
        hash: enigm_core::ledger::EntryHash(pinned.hash),
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Result<Vec<u8>, ClientError> {
    BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|_| ClientError::MalformedResponse("base64"))
}

/// Today as days since the Unix epoch (UTC) from the system clock: what "last seen" is
/// measured against.
pub fn today() -> u64 {
    Timestamp(now()).day()
}

/// Seconds since the epoch from the system clock (the engine is I/O; the core takes time in).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
