//! The engine's session against the service: the status names the account's
//! recovery epoch, and signing out ends the session at the service (the old session is refused
//! afterwards) and here; with the service down, the session is forgotten here and the answer
//! says the service was not told.

use crate::common;

use common::enigm::{self, Session};
use common::{Http, Service};
use enigm_client::{Engine, ServiceClient, SignOut};
use enigm_core::identity::DeviceSecrets;
use enigm_core::request::SessionId;
use enigm_store::{Store, StoreKey};
use rand_core::OsRng;
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple 42";

/// A profile in a fresh directory with a known device and store key, so the test can look at
/// what the engine saved.
struct Profile {
    dir: tempfile::TempDir,
    key: [u8; StoreKey::LEN],
    device: DeviceSecrets,
}

impl Profile {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::generate();
        let device = DeviceSecrets::generate(&mut OsRng);
        let mut store = Store::open_with_key(dir.path(), &key).unwrap();
        store.save_device_secrets(&device).unwrap();
        Self {
            key: *key.as_bytes(),
            dir,
            device,
        }
    }

    fn store(&self) -> Store {
        Store::open_with_key(self.dir.path(), &StoreKey::from_bytes(self.key)).unwrap()
    }

    fn engine(&self, url: &str) -> Engine {
        Engine::with_store(self.store(), ServiceClient::new(url).unwrap())
    }

    /// The session the engine saved, as the service knows it.
    fn saved_session(&self) -> Option<Session> {
        self.store().session().unwrap().map(|saved| Session {
            id: SessionId::from_bytes(saved.session_id),
            kind: saved.kind.as_str().to_owned(),
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_ends_the_session_at_the_service_and_here() {
    let server = Service::start();
    let url = format!("http://{}", server.addr);
    let profile = Profile::new();
    let engine = profile.engine(&url);
    engine
        .register("dana.signout", &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();

    let status = engine.session_status().await.unwrap();
    assert_eq!(status.recovery_epoch, 0, "{status:?}");
    let session = profile.saved_session().expect("registering signs in");

    assert_eq!(engine.sign_out().await.unwrap(), SignOut::Ended);
    assert!(
        profile.saved_session().is_none(),
        "the session is forgotten"
    );
    assert_eq!(
        engine.session_status().await.unwrap_err().code(),
        "signed_out"
    );
    let http = Http::new(server.addr);
    let refused = enigm::send(
        &http,
        &session,
        &profile.device,
        "GET",
        "/v1/sessions/current",
        b"",
    );
    assert_eq!(refused.status, 401, "the service still honours the session");
    assert_eq!(refused.error_code(), "unknown_session");
    assert_eq!(
        engine.sign_out().await.unwrap_err().code(),
        "signed_out",
        "signing out twice says there is nothing to end"
    );

    // Signing in again works as before.
    engine
        .login("dana.signout", &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();
    assert!(engine.session_status().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_offline_forgets_the_session_here_and_says_so() {
    let mut server = Service::start();
    let url = format!("http://{}", server.addr);
    let profile = Profile::new();
    let engine = profile.engine(&url);
    engine
        .register("erin.offline", &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();
    server.stop();

    assert_eq!(engine.sign_out().await.unwrap(), SignOut::ForgottenLocally);
    assert!(
        profile.saved_session().is_none(),
        "the session is forgotten"
    );
    assert_eq!(
        engine.session_status().await.unwrap_err().code(),
        "signed_out"
    );
}
