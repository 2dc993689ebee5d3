//! The data directory at rest: only the service's own user may enter it (mode 0700) or read the
//! database and the secrets in it (mode 0600), whatever the umask (on Unix; elsewhere the
//! directory inherits its parent's ACL).
//!
//! A data directory an earlier version left open (0755, 0644 files) is tightened at start, so
//! an upgrade needs no manual step. Only a directory that holds nothing but the service's own
//! files is tightened, though: `--data` pointed at a shared directory (a home, `/srv`) would
//! otherwise lock its other users out, so such a directory is refused with what to do instead.
//! Files the service names are always its own, and are tightened in place.

use std::fs;
use std::path::Path;

use crate::error::ServerError;

/// The embedded database's file name in the data directory.
pub(crate) const DATABASE_FILE: &str = "enigm.db";

/// Everything the service ever keeps in its data directory: the database with SQLite's
/// companions, and the secrets (`secrets.rs`, `server.rs`).
#[cfg_attr(not(unix), allow(dead_code))]
const OWN_FILES: &[&str] = &[
    DATABASE_FILE,
    "enigm.db-wal",
    "enigm.db-shm",
    "enigm.db-journal",
    "pepper",
    "pseudonym-master",
    "audit-signing-key",
    "opaque-setup",
];

/// Creates the data directory (mode 0700), or tightens an existing one that holds only the
/// service's files.
///
/// # Errors
/// [`ServerError::DataDir`] when it cannot be created or changed, or when other users may
/// enter it and it holds files that are not the service's.
pub(crate) fn private_dir(dir: &Path) -> Result<(), ServerError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let existing = match fs::metadata(dir) {
            Ok(metadata) => Some(metadata),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(ServerError::DataDir(format!(
                    "cannot read the data directory: {error}"
                )));
            }
        };
        let Some(metadata) = existing else {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    ServerError::DataDir(format!("cannot create the data directory: {e}"))
                })?;
            // The umask may have taken bits away; set exactly 0700.
            return set_mode(dir, 0o700, "the data directory");
        };
        if !metadata.is_dir() {
            return Err(ServerError::DataDir(
                "the data directory path is not a directory".into(),
            ));
        }
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return Ok(());
        }
        let foreign = fs::read_dir(dir)
            .map_err(|e| ServerError::DataDir(format!("cannot list the data directory: {e}")))?
            .filter_map(Result::ok)
            .any(|entry| {
                !entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| OWN_FILES.contains(&name))
            });
        if foreign {
            return Err(ServerError::DataDir(format!(
                "other users may enter the data directory (mode {mode:o}) and it holds files \
                 that are not the service's; give the service a directory of its own, or run \
                 `chmod 700` on it"
            )));
        }
        set_mode(dir, 0o700, "the data directory")?;
        tracing::warn!(
            previous = format!("{mode:o}"),
            "the data directory was open to other users; now 700"
        );
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
            .map_err(|e| ServerError::DataDir(format!("cannot create the data directory: {e}")))
    }
}

/// Makes an existing file of the service readable by its user only (mode 0600); `name` is
/// what an error calls it. A missing file is left missing, a symbolic link as it is.
///
/// # Errors
/// [`ServerError::DataDir`] when its mode cannot be read or changed.
pub(crate) fn private_file(path: &Path, name: &str) -> Result<(), ServerError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match fs::symlink_metadata(path) {
            // A link is the operator's (a secret mounted from elsewhere): its target's mode is
            // theirs to set, and it may well be read-only.
            Ok(metadata) if metadata.file_type().is_symlink() => return Ok(()),
            Ok(metadata) => metadata.permissions().mode() & 0o777,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(ServerError::DataDir(format!("cannot read {name}: {error}")));
            }
        };
        if mode & 0o077 != 0 {
            set_mode(path, 0o600, name)?;
            tracing::warn!(
                file = name,
                previous = format!("{mode:o}"),
                "a service file was readable by other users; now 600"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, name);
    Ok(())
}

/// Creates the embedded database file empty with mode 0600 when it does not exist yet (SQLite
/// gives its `-wal` and `-shm` companions the database's mode), and tightens the database and
/// its companions when they exist.
///
/// # Errors
/// [`ServerError::DataDir`] when the file cannot be created or its mode changed.
pub(crate) fn private_database(dir: &Path) -> Result<(), ServerError> {
    let path = dir.join(DATABASE_FILE);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(&path)
        .map_err(|e| ServerError::DataDir(format!("cannot create {DATABASE_FILE}: {e}")))?;
    for name in [
        DATABASE_FILE,
        "enigm.db-wal",
        "enigm.db-shm",
        "enigm.db-journal",
    ] {
        private_file(&dir.join(name), name)?;
    }
    Ok(())
}

/// Sets `path`'s permission bits to `mode`.
#[cfg(unix)]
fn set_mode(path: &Path, mode: u32, name: &str) -> Result<(), ServerError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| ServerError::DataDir(format!("cannot make {name} private: {e}")))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[allow(clippy::unwrap_used)]
    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_and_database_are_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("data");
        private_dir(&dir).unwrap();
        private_database(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(DATABASE_FILE)), 0o600);
    }

    #[test]
    fn an_open_directory_of_the_service_is_tightened_a_shared_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(dir.path().join("pepper"), [0; 32]).unwrap();
        fs::set_permissions(dir.path().join("pepper"), fs::Permissions::from_mode(0o640)).unwrap();
        private_dir(dir.path()).unwrap();
        private_file(&dir.path().join("pepper"), "pepper").unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.path().join("pepper")), 0o600);

        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.path().join("photo.jpg"), b"x").unwrap();
        let error = private_dir(dir.path()).unwrap_err();
        assert!(error.to_string().contains("chmod 700"), "{error}");
        assert_eq!(mode(dir.path()), 0o755);
        // A secret linked from elsewhere is left to whoever linked it.
        let elsewhere = dir.path().join("mounted-secret");
        fs::write(&elsewhere, [0; 32]).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("audit-signing-key")).unwrap();
        private_file(&dir.path().join("audit-signing-key"), "audit-signing-key").unwrap();
        assert_eq!(mode(&elsewhere), 0o644);
        // A private directory is used as it is, whatever else it holds.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        private_dir(dir.path()).unwrap();
    }
}
