//! "Download activity": the account's audit trail, signed by the service, saved to the user's
//! Downloads folder as `enigm-activity-YYYY-MM-DD.json` (UTC date) for them to keep and check
//! offline with `enigm audit verify`. The engine fetches it and checks its signature; this only
//! picks the place and writes the file.

use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager, State};

use crate::error::{AppCode, IpcError};
use crate::ipc::SavedActivity;
use crate::profile::Profile;

/// Fetches the signed export and saves it to the Downloads folder, replacing that day's copy
/// (a later export holds the whole trail again).
#[tauri::command]
pub async fn download_activity(
    app: AppHandle,
    profile: State<'_, Profile>,
) -> Result<SavedActivity, IpcError> {
    let engine = profile.engine().await?;
    let export = engine.audit_export().await?;
    let records = u32::try_from(export.records.len()).unwrap_or(u32::MAX);
    let mut bytes =
        serde_json::to_vec_pretty(&export).map_err(|error| IpcError::internal(&error))?;
    bytes.push(b'\n');
    let dir = downloads_dir(&app)?;
    let name = file_name(enigm_client::today());
    let path = tauri::async_runtime::spawn_blocking(move || save(&dir, &name, &bytes))
        .await
        .map_err(|error| IpcError::internal(&error))??;
    Ok(SavedActivity {
        path: path.display().to_string(),
        records,
    })
}

/// The platform's Downloads folder (XDG `DOWNLOAD` on Linux), else `~/Downloads`.
fn downloads_dir(app: &AppHandle) -> Result<PathBuf, IpcError> {
    let paths = app.path();
    if let Ok(dir) = paths.download_dir() {
        return Ok(dir);
    }
    paths
        .home_dir()
        .map(|home| home.join("Downloads"))
        .map_err(|error| {
            tracing::warn!(%error, "no home directory");
            IpcError::new(
                AppCode::NoDownloadsFolder,
                "This computer has no Downloads folder Enigm can find.",
            )
        })
}

/// `enigm-activity-YYYY-MM-DD.json` for `today` (days since the Unix epoch, UTC).
fn file_name(today: u64) -> String {
    let stamp = enigm_core::session::utc_minute(today.saturating_mul(86_400));
    let date = stamp.split(' ').next().unwrap_or_default();
    format!("enigm-activity-{date}.json")
}

/// Writes `bytes` to `dir/name`, creating `dir` if missing; a temporary file renamed into
/// place, so an interrupted save never leaves half a file under the final name.
fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, IpcError> {
    let failed = |error: std::io::Error| {
        tracing::warn!(%error, "saving the activity file failed");
        IpcError::new(
            AppCode::SaveFailed,
            "Enigm could not save the file to your Downloads folder. Check that it exists and \
             that there is free space, then try again.",
        )
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes).map_err(failed)?;
    std::fs::rename(&partial, &path).map_err(failed)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_named_after_the_utc_date() {
        // 2026-12-07 is day 20_794 since 1970-01-01.
        assert_eq!(file_name(20_794), "enigm-activity-2026-12-07.json");
        assert_eq!(file_name(0), "enigm-activity-1970-01-01.json");
    }

    #[test]
    fn a_missing_downloads_folder_is_created_and_a_same_day_copy_replaced() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("Downloads");
        let path = save(&dir, "enigm-activity-2026-12-07.json", b"{\"first\":1}").unwrap();
        assert_eq!(path, dir.join("enigm-activity-2026-12-07.json"));
        let again = save(&dir, "enigm-activity-2026-12-07.json", b"{\"second\":2}").unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), b"{\"second\":2}");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["enigm-activity-2026-12-07.json"]);
    }

    #[test]
    fn an_unwritable_place_is_a_plain_error_without_the_path() {
        let home = tempfile::tempdir().unwrap();
        let blocker = home.path().join("Downloads");
        std::fs::write(&blocker, b"a file, not a folder").unwrap();
        let error = save(&blocker, "enigm-activity-2026-12-07.json", b"{}").unwrap_err();
        assert_eq!(error.code, "save_failed");
        assert!(!error.message.contains(home.path().to_str().unwrap()));
    }
}
