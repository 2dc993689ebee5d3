//! The profile directory: its files, the profile id and the key check value.
//!
//! ```text
//! <profile>/profile.id   random 128-bit id (hex); the keychain entry's user name
//! <profile>/store.db     the SQLCipher database (+ store.db-wal, store.db-shm while open)
//! <profile>/store.kcv    key check value: HMAC-SHA256(key, "enigm/store/kcv/v1")[..16]
//! ```
//!
//! The key check value lets [`crate::Store::open`] tell a wrong key (check fails, the database is
//! never opened) from a damaged file (check passes, SQLCipher still cannot read it). It is a
//! keyed MAC of a fixed label, so it reveals nothing about the key beyond allowing a 128-bit
//! match test. It is written last when a profile is created, so its presence means the
//! profile was completely created once.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Error;
use crate::keychain::StoreKey;

/// File name of the profile id.
pub(crate) const PROFILE_ID_FILE: &str = "profile.id";
/// File name of the SQLCipher database.
pub(crate) const DATABASE_FILE: &str = "store.db";
/// File name of the key check value.
pub(crate) const KCV_FILE: &str = "store.kcv";

const KCV_LABEL: &[u8] = b"enigm/store/kcv/v1";
const KCV_HEADER: &str = "enigm/store/kcv/v1";
const KCV_LEN: usize = 16;
/// The first 16 bytes of every unencrypted SQLite 3 database.
const SQLITE_PLAINTEXT_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// A profile's random identifier. It names the profile's keychain entry and is not secret,
/// but it is never derived from a user name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileId([u8; 16]);

impl ProfileId {
    /// A fresh random id.
    pub(crate) fn generate() -> Self {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        Self(id)
    }

    /// Lower-case hex (32 characters): the keychain entry's user name.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl std::fmt::Debug for ProfileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProfileId({})", self.to_hex())
    }
}

impl std::fmt::Display for ProfileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Paths of one profile directory.
#[derive(Debug, Clone)]
pub(crate) struct ProfileDir {
    root: PathBuf,
}

/// What the database file looks like before anyone tries a key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatabaseFile {
    /// No file.
    Absent,
    /// A zero-length file (SQLite creates it on open, before the first page is written).
    Empty,
    /// An unencrypted SQLite database.
    Plaintext,
    /// Anything else: presumably SQLCipher.
    Opaque,
}

impl ProfileDir {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn database_path(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// Creates the directory (owner-only on Unix) if needed.
    pub(crate) fn ensure_exists(&self) -> Result<(), Error> {
        fs::create_dir_all(&self.root)?;
        restrict_permissions(&self.root, true)?;
        Ok(())
    }

    /// Reads the profile id.
    pub(crate) fn read_profile_id(&self) -> Result<Option<ProfileId>, Error> {
        let Some(text) = read_optional(&self.root.join(PROFILE_ID_FILE), 256)? else {
            return Ok(None);
        };
        ProfileId::from_hex(text.trim())
            .map(Some)
            .ok_or(Error::ProfileDamaged("malformed profile id"))
    }

    /// Writes a new profile id (atomically).
    pub(crate) fn write_profile_id(&self, id: &ProfileId) -> Result<(), Error> {
        write_atomic(
            &self.root,
            PROFILE_ID_FILE,
            format!("{}\n", id.to_hex()).as_bytes(),
        )
    }

    /// Reads the key check value, if the profile was completely created.
    pub(crate) fn read_kcv(&self) -> Result<Option<[u8; KCV_LEN]>, Error> {
        let Some(text) = read_optional(&self.root.join(KCV_FILE), 256)? else {
            return Ok(None);
        };
        let mut lines = text.lines();
        if lines.next() != Some(KCV_HEADER) {
            return Err(Error::ProfileDamaged("malformed key check value"));
        }
        let value = lines
            .next()
            .and_then(|line| hex::decode(line.trim()).ok())
            .and_then(|bytes| <[u8; KCV_LEN]>::try_from(bytes).ok())
            .ok_or(Error::ProfileDamaged("malformed key check value"))?;
        Ok(Some(value))
    }

    /// Writes the key check value of `key` (atomically). Marks creation complete.
    pub(crate) fn write_kcv(&self, key: &StoreKey) -> Result<(), Error> {
        let text = format!("{KCV_HEADER}\n{}\n", hex::encode(kcv(key)));
        write_atomic(&self.root, KCV_FILE, text.as_bytes())
    }

    /// Classifies the database file by its first bytes, without a key.
    pub(crate) fn inspect_database(&self) -> Result<DatabaseFile, Error> {
        let mut file = match fs::File::open(self.database_path()) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(DatabaseFile::Absent),
            Err(err) => return Err(err.into()),
        };
        let mut header = Vec::with_capacity(SQLITE_PLAINTEXT_HEADER.len());
        Read::by_ref(&mut file)
            .take(SQLITE_PLAINTEXT_HEADER.len() as u64)
            .read_to_end(&mut header)?;
        Ok(if header.is_empty() {
            DatabaseFile::Empty
        } else if header.as_slice() == SQLITE_PLAINTEXT_HEADER {
            DatabaseFile::Plaintext
        } else {
            DatabaseFile::Opaque
        })
    }

    /// Restricts the database files SQLite created to the owner (Unix).
    pub(crate) fn restrict_database_files(&self) -> Result<(), Error> {
        for name in [DATABASE_FILE, "store.db-wal", "store.db-shm"] {
            let path = self.root.join(name);
            if path.exists() {
                restrict_permissions(&path, false)?;
            }
        }
        Ok(())
    }

    /// Removes every file of the profile (explicit wipe only); missing files are fine.
    pub(crate) fn remove_files(&self) -> Result<(), Error> {
        for name in [
            KCV_FILE,
            DATABASE_FILE,
            "store.db-wal",
            "store.db-shm",
            PROFILE_ID_FILE,
        ] {
            match fs::remove_file(self.root.join(name)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}

/// `HMAC-SHA256(key, "enigm/store/kcv/v1")`, truncated to 16 bytes.
pub(crate) fn kcv(key: &StoreKey) -> [u8; KCV_LEN] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback is unreachable.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()) else {
        return [0u8; KCV_LEN];
    };
    mac.update(KCV_LABEL);
    let tag = mac.finalize().into_bytes();
    let mut out = [0u8; KCV_LEN];
    out.copy_from_slice(&tag[..KCV_LEN]);
    out
}

/// Constant-time check of `key` against a stored key check value.
pub(crate) fn kcv_matches(key: &StoreKey, stored: &[u8; KCV_LEN]) -> bool {
    kcv(key).ct_eq(stored).into()
}

fn read_optional(path: &Path, limit: u64) -> Result<Option<String>, Error> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let mut text = String::new();
    file.take(limit)
        .read_to_string(&mut text)
        .map_err(|_| Error::ProfileDamaged("unreadable profile file"))?;
    Ok(Some(text))
}

/// Write to a temporary file, fsync, rename over the target, fsync the directory: a crash
/// leaves either the old file or the new one, never half of it.
fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file = fs::File::create(&tmp)?;
        restrict_permissions(&tmp, false)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(path: &Path, is_dir: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if is_dir { 0o700 } else { 0o600 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path, _is_dir: bool) -> Result<(), Error> {
    // Windows: the profile lives under the user's own AppData, whose ACL is already per-user.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kcv_is_fixed_hmac_of_the_label() {
        // HMAC-SHA256(key = 32 x 0x00, "enigm/store/kcv/v1"), first 16 bytes: pinned so the
        // file format cannot drift silently.
        let key = StoreKey::from_bytes([0u8; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap();
        mac.update(b"enigm/store/kcv/v1");
        let expected = mac.finalize().into_bytes();
        assert_eq!(kcv(&key), expected[..16]);
        assert!(kcv_matches(&key, &kcv(&key)));
        assert!(!kcv_matches(&StoreKey::from_bytes([1u8; 32]), &kcv(&key)));
    }

    #[test]
    fn profile_id_round_trips() {
        let id = ProfileId::generate();
        assert_eq!(ProfileId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(id.to_hex().len(), 32);
        assert_eq!(ProfileId::from_hex("xyz"), None);
    }

    #[test]
    fn malformed_profile_files_are_damage_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let profile = ProfileDir::new(dir.path());
        fs::write(dir.path().join(PROFILE_ID_FILE), "not hex").unwrap();
        assert!(matches!(
            profile.read_profile_id(),
            Err(Error::ProfileDamaged(_))
        ));
        fs::write(dir.path().join(KCV_FILE), "enigm/store/kcv/v1\nzz\n").unwrap();
        assert!(matches!(profile.read_kcv(), Err(Error::ProfileDamaged(_))));
        fs::write(dir.path().join(KCV_FILE), "other\n00\n").unwrap();
        assert!(matches!(profile.read_kcv(), Err(Error::ProfileDamaged(_))));
    }
}
