//! The Enigm engine (DESIGN §2): what the desktop app and the `enigm` CLI both run.
//!
//! An [`Engine`] is one profile (an encrypted store whose key lives in the OS keychain) bound
//! to one service. It registers accounts, signs in with OPAQUE and binds the session to the
//! device key, signs every request, and keeps a device ledger it verified itself: the service
//! relays the ledger but cannot add a device, hide a revocation, roll back or fork it without
//! the engine refusing ([`ClientError::LedgerRejected`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), enigm_client::ClientError> {
//! use enigm_client::Engine;
//! use zeroize::Zeroizing;
//!
//! let engine = Engine::open("/tmp/profile".as_ref(), "http://127.0.0.1:8080").await?;
//! let registered = engine.register("alice", &Zeroizing::new("correct horse".into())).await?;
//! println!("write down: {}", registered.phrase.words().as_str());
//! for device in engine.devices().await?.devices {
//!     println!("{} {}", device.fingerprint, device.state);
//! }
//! # Ok(())
//! # }
//! ```

mod api;
mod engine;
mod enroll;
mod error;
mod handle;
mod history;
mod location;
mod lock;
mod password;
mod pause;
mod phrase;
mod phrase_rotation;
mod recover;
mod registration;
mod removal;
mod set_up_again;
mod signed_in;
mod status;
mod sync_key;
mod timeline;
mod view;
mod watch;

pub use api::ServiceClient;
pub use engine::{DeviceChange, Engine, Registered, SignOut, today};
pub use enroll::{
    EmojiView, EnrollEvent, EnrollmentOutcome, EnrollmentRequest, ReplacedView, ShortCodeView,
};
pub use error::ClientError;
pub use handle::{EnrollmentControl, EnrollmentHandle, EnrollmentStep};
pub use history::{Actor, Change, EntryView, LedgerHistory};
pub use location::{APP_IDENTIFIER, default_profile_dir, former_cli_profile_dir};
pub use lock::{DEFAULT_AUTO_LOCK_MINUTES, LockStatus};
pub use phrase::{PhraseCheck, PhraseStatus, RecoveryWordList, WordCheck};
pub use recover::{Recovered, RecoveryCandidate, check_phrase};
pub use signed_in::SessionView;
pub use status::{AccountState, DecisionView, ReasonView, SessionStatusView};
pub use timeline::{DeviceTimelineView, TimelineLane, TimelineMark, TimelineSegment};
pub use view::{DeviceAction, DeviceList, DeviceNews, DeviceView, HeadView, JoinedBy};
pub use watch::WatchUpdate;
