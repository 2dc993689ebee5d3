//! Where the account is signed in: the service's list of its trusted devices' sessions
//! (`GET /v1/sessions`), each named with the verified device list, and ending them
//! (`DELETE /v1/sessions/{id}`, `POST /v1/sessions/others/end`).
//!
//! Which device a session belongs to is the service's word; the engine shows only sessions of
//! devices its own verified ledger knows, so a service cannot invent a device this way.

use enigm_core::identity::DeviceId;
use enigm_core::pseudonym::{Pseudonym, PseudonymKind};
use enigm_proto::{ErrorCode, SessionList, SessionsEnded};
use reqwest::Method;
use serde::Serialize;
use ts_rs::TS;

use crate::engine::today;
use crate::view::{DeviceList, days_ago};
use crate::{ClientError, Engine, SignOut};

/// One place the account is signed in, as the app and the CLI show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SessionView {
    /// Its name (`ses_…`): what [`Engine::end_session`] takes.
    pub id: String,
    /// The device signed in.
    pub device_id: DeviceId,
    /// That device's short fingerprint.
    pub fingerprint: String,
    /// That device's label, when set and readable here.
    pub label: Option<String>,
    /// Whether that device is this one.
    pub this_device: bool,
    /// Whether it is the session this engine signs with: ending it signs this computer out.
    pub current: bool,
    /// When it started (seconds since the epoch, the service's clock).
    pub started_at: u64,
    /// When it was last used, as people say it ("today", "3 days ago"); coarse on purpose.
    pub last_used: String,
}

impl Engine {
    /// Where the account is signed in now, oldest session first.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`]; the ledger's and the service's refusals.
    pub async fn signed_in_sessions(&self) -> Result<Vec<SessionView>, ClientError> {
        let listed: SessionList = self.signed(Method::GET, "/v1/sessions", None).await?;
        let state = self.sync_state().await?;
        // Names only: the full device list would also fetch each device's last-seen day, which
        // the sessions carry themselves.
        let this = self.device().await?.device_id();
        let mut devices = DeviceList::from_state(&state, Some(this));
        self.add_labels(&state, &mut devices).await;
        let today = today();
        Ok(listed
            .sessions
            .into_iter()
            .filter_map(|session| {
                let device_id = DeviceId::from_hex(&session.device_id)?;
                let device = devices
                    .devices
                    .iter()
                    .find(|device| device.device_id == device_id)?;
                Some(SessionView {
                    id: session.id,
                    device_id,
                    fingerprint: device.fingerprint.clone(),
                    label: device.label.clone(),
                    this_device: device.this_device,
                    current: session.current,
                    started_at: session.issued_at,
                    last_used: days_ago(session.seen_day.min(today), today),
                })
            })
            .collect())
    }

    /// Ends the session named `id`; ending this engine's own is signing out.
    ///
    /// # Errors
    /// [`ClientError::NoSuchSession`] for a name that is malformed or not signed in (any
    /// more), before anything is ended; [`ClientError::SignedOut`]; the service's refusals.
    pub async fn end_session(&self, id: &str) -> Result<(), ClientError> {
        let named = Pseudonym::try_from(id.to_owned())
            .ok()
            .filter(|name| name.kind() == PseudonymKind::Session)
            .ok_or(ClientError::NoSuchSession)?;
        let listed: SessionList = self.signed(Method::GET, "/v1/sessions", None).await?;
        let session = listed
            .sessions
            .iter()
            .find(|session| session.id == named.as_str())
            .ok_or(ClientError::NoSuchSession)?;
        if session.current {
            return self.sign_out().await.map(|_: SignOut| ());
        }
        let path = format!("/v1/sessions/{}", named.as_str());
        match self.signed::<()>(Method::DELETE, &path, None).await {
            Err(error) if error.service_code() == Some(&ErrorCode::NotFound) => {
                Err(ClientError::NoSuchSession)
            }
            other => {
                tracing::info!("a session elsewhere was ended");
                other
            }
        }
    }

    /// Ends every session of the account but this engine's own; returns how many ended.
    ///
    /// # Errors
    /// [`ClientError::SignedOut`]; the service's refusals.
    pub async fn end_other_sessions(&self) -> Result<u64, ClientError> {
        let ended: SessionsEnded = self
            .signed(Method::POST, "/v1/sessions/others/end", None)
            .await?;
        tracing::info!(ended = ended.ended, "other sessions ended");
        Ok(ended.ended)
    }
}
