//! A profile in a fresh directory with a known device and store key, so a test can look at what
//! the engine saved there, and open the engine on it again as after a restart of the app.

use enigm_client::{Engine, ServiceClient};
use enigm_core::identity::DeviceSecrets;
use enigm_core::request::SessionId;
use enigm_store::{Store, StoreKey};
use rand_core::OsRng;

use super::Service;
use super::enigm::Session;

/// The profile: its directory, its store key and the device it holds.
pub struct Profile {
    /// The profile's directory.
    pub dir: tempfile::TempDir,
    /// The key its store is encrypted with.
    pub key: [u8; StoreKey::LEN],
    /// The device whose secrets the store holds.
    pub device: DeviceSecrets,
}

impl Profile {
    /// A new profile holding a fresh device.
    pub fn new() -> Self {
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

    /// The profile's store, opened with its key.
    pub fn store(&self) -> Store {
        Store::open_with_key(self.dir.path(), &StoreKey::from_bytes(self.key)).unwrap()
    }

    /// A fresh engine over the profile, as after a restart of the app.
    pub fn engine(&self, url: &str) -> Engine {
        Engine::with_store(self.store(), ServiceClient::new(url).unwrap())
    }

    /// A new profile whose engine registered `username` on `server`: the profile and the engine.
    pub async fn registered(server: &Service, username: &str) -> (Self, Engine) {
        let profile = Self::new();
        let engine = profile.engine(&server.url());
        super::register(&engine, username).await;
        (profile, engine)
    }

    /// The session the engine saved, as the service knows it.
    pub fn saved_session(&self) -> Option<Session> {
        self.store().session().unwrap().map(|saved| Session {
            id: SessionId::from_bytes(saved.session_id),
            kind: saved.kind.as_str().to_owned(),
        })
    }

    /// The store's database opened with its key, to read what the engine cannot show.
    pub fn database(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.dir.path().join("store.db")).unwrap();
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(self.key)))
            .unwrap();
        conn
    }
}
