//! The service's own secrets, kept in the data directory and created at first start.
//!
//! - `pepper`: 32 random bytes keying the username lookup HMAC (DESIGN §3); `ENIGM_PEPPER`
//!   (64 hex digits) overrides it, so nodes sharing one database can share it without a file.
//! - `pseudonym-master`: 32 random bytes from which per-audience pseudonym keys derive (§9).
//! - `audit-signing-key`: the Ed25519 seed that signs audit exports (§13); `ENIGM_AUDIT_KEY`
//!   (64 hex digits) overrides it. Nodes sharing a database must share it, as the pepper.
//!
//! Files are created with mode 0600 and `create_new`, so two processes starting at once cannot
//! both write one; the loser reads the winner's file. An existing file readable by others is
//! tightened to 0600, and the directory made private first (`files.rs`).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use ed25519_dalek::SigningKey;
use enigm_core::pseudonym::{Audience, PseudonymKey, audience_key};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::error::ServerError;

/// The secrets the service needs at run time.
pub(crate) struct Secrets {
    /// Keys `username_lookup_key`.
    pub(crate) pepper: Zeroizing<[u8; 32]>,
    /// Pseudonyms for the service's logs and audit trail.
    pub(crate) service_logs: PseudonymKey,
    /// Signs audit exports (zeroized on drop).
    pub(crate) audit_signing: SigningKey,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Loads the secrets from `dir`, creating the missing ones; `pepper_hex` and
    /// `audit_key_hex` (64 hex digits each) replace the files when given.
    pub(crate) fn load_or_create(
        dir: &Path,
        pepper_hex: Option<&str>,
        audit_key_hex: Option<&str>,
    ) -> Result<Self, ServerError> {
        crate::files::private_dir(dir)?;
        let pepper = match pepper_hex {
            Some(text) => from_hex(text, "ENIGM_PEPPER")?,
            None => fixed_secret(dir, "pepper")?,
        };
        let master = fixed_secret(dir, "pseudonym-master")?;
        let service_logs = audience_key(&master, &Audience::ServiceLogs);
        let audit_seed = match audit_key_hex {
            Some(text) => from_hex(text, "ENIGM_AUDIT_KEY")?,
            None => fixed_secret(dir, "audit-signing-key")?,
        };
        Ok(Self {
            pepper,
            service_logs,
            audit_signing: SigningKey::from_bytes(&audit_seed),
        })
    }
}

/// A 32-byte secret given as 64 hex digits in the variable `name` (named in the error, which
/// never echoes the value).
fn from_hex(text: &str, name: &str) -> Result<Zeroizing<[u8; 32]>, ServerError> {
    let invalid = || ServerError::Config(format!("{name} must be 64 hex digits"));
    let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| invalid())?);
    let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| invalid())?;
    Ok(Zeroizing::new(array))
}

/// A 32-byte random secret file.
fn fixed_secret(dir: &Path, name: &str) -> Result<Zeroizing<[u8; 32]>, ServerError> {
    let bytes = load_or_create(dir, name, || {
        let mut fresh = Zeroizing::new(vec![0u8; 32]);
        OsRng.fill_bytes(&mut fresh);
        fresh
    })?;
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| ServerError::DataDir(format!("{name} is not 32 bytes; restore it")))?;
    Ok(Zeroizing::new(array))
}

/// Reads `dir/name`, or creates it (mode 0600) with `make()` if it does not exist.
pub(crate) fn load_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, ServerError> {
    let path = dir.join(name);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            let bytes = make();
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| ServerError::DataDir(format!("cannot write {name}: {e}")))?;
            tracing::info!(secret = name, "created a new service secret");
            Ok(bytes)
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            crate::files::private_file(&path, name)?;
            let mut bytes = Zeroizing::new(Vec::new());
            fs::File::open(&path)
                .and_then(|file| file.take(4096).read_to_end(&mut bytes))
                .map_err(|e| ServerError::DataDir(format!("cannot read {name}: {e}")))?;
            if bytes.is_empty() {
                return Err(ServerError::DataDir(format!(
                    "{name} is empty; restore it from a backup"
                )));
            }
            Ok(bytes)
        }
        Err(error) => Err(ServerError::DataDir(format!(
            "cannot create {name}: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_created_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = Secrets::load_or_create(dir.path(), None, None).unwrap();
        let second = Secrets::load_or_create(dir.path(), None, None).unwrap();
        assert_eq!(*first.pepper, *second.pepper);
        assert_eq!(
            first.audit_signing.verifying_key(),
            second.audit_signing.verifying_key()
        );
        let setup =
            load_or_create(dir.path(), "opaque-setup", || Zeroizing::new(vec![1, 2])).unwrap();
        let again = load_or_create(dir.path(), "opaque-setup", || Zeroizing::new(vec![9])).unwrap();
        assert_eq!((*setup).clone(), *again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in [
                "pepper",
                "pseudonym-master",
                "opaque-setup",
                "audit-signing-key",
            ] {
                let mode = fs::metadata(dir.path().join(name))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
        }
    }

    #[test]
    fn pepper_from_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let hex_pepper = "11".repeat(32);
        let hex_audit = "22".repeat(32);
        let secrets =
            Secrets::load_or_create(dir.path(), Some(&hex_pepper), Some(&hex_audit)).unwrap();
        assert_eq!(*secrets.pepper, [0x11; 32]);
        assert_eq!(secrets.audit_signing.to_bytes(), [0x22; 32]);
        assert!(!dir.path().join("pepper").exists());
        assert!(!dir.path().join("audit-signing-key").exists());
        let error = Secrets::load_or_create(dir.path(), Some("zz"), None).unwrap_err();
        assert!(matches!(error, ServerError::Config(_)));
        let error = Secrets::load_or_create(dir.path(), None, Some(&"33".repeat(31))).unwrap_err();
        assert_eq!(error.to_string(), "ENIGM_AUDIT_KEY must be 64 hex digits");
    }
}
