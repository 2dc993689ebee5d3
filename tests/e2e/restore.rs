//! Restoring with the recovery phrase, end to end: a real `enigm server`, an account registered
//! with the real `enigm` CLI (which prints its phrase once), then the real app on a fresh
//! profile restores the account from the phrase, marking the CLI's device lost. The app lands
//! on the device list with the CLI's device removed and this computer active, and the CLI's
//! device can no longer act. Then this computer is renamed, and the device timeline is drawn.
//!
//! Before restoring, the user first tries "Add this computer" as the replacement of one of the
//! account's devices; the account's only active device cannot approve its own replacement, so
//! the app says so and offers the restore with the phrase instead. The user starts over, which
//! takes the app back to the first screen with nothing of that account left, then tries again
//! and takes the offered restore. After restoring, a second CLI profile asks to join as the
//! replacement of this computer, now the only active one: the app says this computer cannot
//! approve it and no other device could, points to a restore on the new computer, offers only
//! Reject, and the user rejects it. Last, the user locks the app and has "forgotten" the
//! password: the Locked screen names the account, "Forgot your password?" erases this computer's
//! copy and restores the account on it with the phrase (username filled in), marking this
//! computer's old entry lost.
//!
//! Screens are saved as PNGs in `target/e2e-screenshots/`, the timeline, the replacement
//! chooser and the approval with a replacement also at 800x600.
//!
//! `cargo xtask test` runs it after the other tests (see src/lib.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use enigm_e2e::{
    App, Screens, click, enigm, env_path, find, open_section, start_server, type_into,
};
use thirtyfour::prelude::*;

const OLD_PASSWORD: &str = "old password from the cli";
const NEW_PASSWORD: &str = "a new passphrase after the restore";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_user_restores_with_the_phrase_and_removes_the_lost_device() {
    let work = tempfile::tempdir().unwrap();
    let (_service, url) = start_server(&work.path().join("server"));
    let cli = work.path().join("cli");
    let (ok, registered) = enigm(
        &cli,
        &url,
        &[
            "account",
            "register",
            "--username",
            "e2e-bob",
            "--password-stdin",
        ],
        &format!("{OLD_PASSWORD}\n"),
    );
    assert!(ok, "{registered}");
    let phrase: Vec<String> = registered["recovery_phrase"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();

    let mut screens = Screens::new("restore");
    let app = App::launch(&work.path().join("app"), &url).await;
    let result = match replace_then_start_over(&app.driver, &mut screens).await {
        Ok(()) => restore(&app.driver, &mut screens, &phrase).await,
        Err(error) => Err(error),
    };
    let renamed = match result {
        Ok(()) => rename(&app.driver, &mut screens).await,
        Err(error) => Err(error),
    };
    let refused = match renamed {
        Ok(()) => {
            refuse_replacement(&app.driver, &mut screens, &work.path().join("cli2"), &url).await
        }
        Err(error) => Err(error),
    };
    let forgot = match refused {
        Ok(()) => forgot_password(&app.driver, &mut screens, &phrase).await,
        Err(error) => Err(error),
    };
    app.quit().await;
    forgot.unwrap();

    // The CLI's device was marked lost: its session ended with the recovery, and signing in
    // again, even with the new password, is refused as revoked.
    let (ok, answer) = enigm(&cli, &url, &["device", "list"], "");
    assert!(!ok, "{answer}");
    let (ok, answer) = enigm(
        &cli,
        &url,
        &[
            "account",
            "login",
            "--username",
            "e2e-bob",
            "--password-stdin",
        ],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert!(!ok, "{answer}");
    assert_eq!(answer["error"]["code"], "device_revoked", "{answer}");
}

/// "Add this computer" with the account's username and password, ticked as the replacement of
/// one of its devices, then Continue; the screen is saved as `shot` before it when given.
async fn add_as_replacement(
    driver: &WebDriver,
    screens: &mut Screens,
    shot: Option<&str>,
) -> WebDriverResult<()> {
    click(
        driver,
        "//button[.//strong[normalize-space()='Add this computer']]",
    )
    .await?;
    type_into(driver, "username", "e2e-bob").await?;
    type_into(driver, "password", OLD_PASSWORD).await?;
    click(
        driver,
        "//label[normalize-space()='This computer replaces one of my devices']/input",
    )
    .await?;
    if let Some(name) = shot {
        screens.save(driver, name).await;
    }
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Continue']",
    )
    .await?;
    Ok(())
}

/// "Add this computer" as the replacement of a device: after signing in the account's devices
/// are listed to choose from; then the user starts over instead, and confirms it.
async fn replace_then_start_over(driver: &WebDriver, screens: &mut Screens) -> WebDriverResult<()> {
    add_as_replacement(driver, screens, Some("add-replacing")).await?;
    find(
        driver,
        "//h1[normalize-space()='Which device does this computer replace?']",
    )
    .await;
    // The CLI's device is the only active one: nothing could approve its replacement, so the
    // screen says so and offers the restore with the phrase instead of a dead end.
    let note = find(driver, "//*[@data-testid='only-active-device']").await;
    let note = note.text().await?;
    assert!(
        note.contains("is the only active device of your account"),
        "{note}"
    );
    assert!(
        driver
            .find_all(By::Css("input[name='replaces']"))
            .await?
            .is_empty()
    );
    screens
        .save_narrow(driver, "add-replace-only-device")
        .await?;

    click(driver, "//button[normalize-space()='Back']").await?;
    click(driver, "//button[normalize-space()='Start over']").await?;
    find(driver, "//*[@role='alertdialog']").await;
    screens.save(driver, "start-over-confirm").await;
    click(
        driver,
        "//*[@role='alertdialog']//button[normalize-space()='Start over']",
    )
    .await?;
    find(driver, "//h1[normalize-space()='Welcome to Enigm']").await;

    // Again, and this time the way out it offers: the restore with the recovery phrase.
    add_as_replacement(driver, screens, None).await?;
    click(
        driver,
        "//button[normalize-space()='Restore with the recovery phrase']",
    )
    .await?;
    find(driver, "//h1[normalize-space()='Restore your account']").await;
    screens.save(driver, "restore-instead").await;
    click(driver, "//button[normalize-space()='Back']").await?;
    find(driver, "//h1[normalize-space()='Welcome to Enigm']").await;
    Ok(())
}

/// A second CLI profile asks to join as the replacement of this computer: the app says this
/// computer cannot approve it and offers only Reject; the user rejects it, so nothing is added
/// or removed.
async fn refuse_replacement(
    driver: &WebDriver,
    screens: &mut Screens,
    profile: &Path,
    url: &str,
) -> WebDriverResult<()> {
    let this = find(
        driver,
        "//li[@data-testid='device'][.//*[@data-state='active']]",
    )
    .await;
    let device_id = this.attr("data-device").await?.expect("the device id");
    let mut enroll = Command::new(env_path("ENIGM_BIN"))
        .arg("--profile")
        .arg(profile)
        .args([
            "--server",
            url,
            "--json",
            "device",
            "enroll",
            "--username",
            "e2e-bob",
        ])
        .args([
            "--password-stdin",
            "--auto-confirm",
            "--replaces",
            &device_id,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    enroll
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{NEW_PASSWORD}\n").as_bytes())
        .unwrap();
    let waited = tokio::task::spawn_blocking(move || enroll.wait_with_output());

    // This computer is the one the request would remove, so it cannot approve it (its session
    // would end before it handed the account key over): the panel says so and offers Reject.
    let card = find(driver, "//*[@data-testid='enrollment-request']").await;
    let note = card
        .find(By::Css("[data-testid='replaces-this-device']"))
        .await?
        .text()
        .await?;
    // The account has no other active device (the CLI's was marked lost): the panel says so
    // and points to the restore on the new computer, not to a device that does not exist.
    assert!(
        note.contains("asks to replace this computer")
            && note.contains("no other active device")
            && note.contains("recovery phrase"),
        "{note}"
    );
    assert!(
        !note.contains("approve it from another of your devices"),
        "{note}"
    );
    assert!(
        card.find_all(By::XPath(".//button[normalize-space()='Compare code']"))
            .await?
            .is_empty()
    );
    screens
        .save_narrow(driver, "approve-replacement-request")
        .await?;
    click(driver, "//button[normalize-space()='Reject']").await?;

    let output = waited.await.unwrap().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap();
    assert!(
        last["event"] == "rejected" || last["event"] == "cancelled",
        "the new device was not added: {text}"
    );
    // This computer is still active: nothing was replaced.
    find(
        driver,
        "//li[@data-testid='device'][.//*[@data-state='active']][contains(., 'E2E desk')]",
    )
    .await;
    Ok(())
}

async fn restore(
    driver: &WebDriver,
    screens: &mut Screens,
    phrase: &[String],
) -> WebDriverResult<()> {
    click(driver, "//button[.//strong[normalize-space()='Restore']]").await?;
    find(driver, "//input[@id='username']")
        .await
        .send_keys("e2e-bob")
        .await?;
    enter_phrase(driver, phrase).await?;
    find(driver, "//p[@id='strength'][contains(., 'Strong')]").await;
    screens.save(driver, "words").await;
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Continue']",
    )
    .await?;

    find(
        driver,
        "//h1[normalize-space()='Which devices did you lose?']",
    )
    .await;
    let rows = driver
        .find_all(By::Css("[data-testid='restore-device']"))
        .await?;
    assert_eq!(rows.len(), 1, "the CLI's device, verified with the phrase");
    restore_removing_the_one_lost(driver, screens, "devices-to-revoke").await?;
    let rows = driver.find_all(By::Css("[data-testid='device']")).await?;
    assert_eq!(rows.len(), 2);
    let mut states = Vec::new();
    for row in &rows {
        let state = row
            .find(By::Css("[data-state]"))
            .await?
            .attr("data-state")
            .await?
            .unwrap_or_default();
        states.push((row.text().await?.contains("This computer"), state));
    }
    states.sort();
    assert_eq!(
        states,
        [(false, "revoked".to_owned()), (true, "active".to_owned())],
        "the CLI's device removed, this computer active"
    );
    screens.save(driver, "devices").await;

    // The timeline: a lane per device, the CLI's ending removed by the recovery phrase.
    let timeline = find(driver, "//*[@data-testid='timeline']").await;
    timeline.scroll_into_view().await?;
    let lanes = timeline.find_all(By::Css(".lane")).await?;
    assert_eq!(lanes.len(), 2);
    timeline
        .find(By::Css(".lane [data-state='revoked']"))
        .await?;
    screens.save(driver, "timeline").await;
    driver.set_window_rect(0, 0, 800, 600).await?;
    find(driver, "//*[@data-testid='timeline']")
        .await
        .scroll_into_view()
        .await?;
    screens.save(driver, "timeline-800x600").await;
    Ok(())
}

async fn rename(driver: &WebDriver, screens: &mut Screens) -> WebDriverResult<()> {
    let this = "//li[@data-testid='device'][.//*[@data-state='active']]";
    find(driver, this).await.scroll_into_view().await?;
    click(
        driver,
        &format!("{this}//button[normalize-space()='Rename…']"),
    )
    .await?;
    let field = find(driver, "//input[starts-with(@id, 'label-')]").await;
    field.send_keys("E2E desk").await?;
    screens.save(driver, "rename").await;
    click(driver, "//button[@type='submit'][normalize-space()='Save']").await?;
    let row = find(
        driver,
        "//li[@data-testid='device'][.//span[@class and contains(@class, 'name')][normalize-space()='E2E desk']]",
    )
    .await;
    assert!(row.text().await?.contains("This computer"));
    screens.save(driver, "renamed").await;
    Ok(())
}

/// Types the phrase (the first word as its prefix, completed by the backend) and the new
/// password on the Restore screen.
async fn enter_phrase(driver: &WebDriver, phrase: &[String]) -> WebDriverResult<()> {
    for (index, word) in phrase.iter().enumerate() {
        let field = find(driver, &format!("//input[@id='phrase-word-{index}']")).await;
        // The first word as its four-letter prefix: the backend completes it on leaving.
        let typed = if index == 0 {
            &word[..4.min(word.len())]
        } else {
            word
        };
        field.send_keys(typed).await?;
    }
    find(
        driver,
        "//*[@data-testid='phrase-status'][contains(., 'the phrase checks out')]",
    )
    .await;
    let first = find(driver, "//input[@id='phrase-word-0']").await;
    assert_eq!(first.value().await?.as_deref(), Some(phrase[0].as_str()));
    find(driver, "//input[@id='password']")
        .await
        .send_keys(NEW_PASSWORD)
        .await?;
    Ok(())
}

/// The Locked screen's way out of a forgotten password: it names the account, and "Forgot your
/// password?" erases this computer's copy and restores the account here with the phrase,
/// marking this computer's old entry ("E2E desk", the only one still active) lost. The same new password is chosen, so the
/// CLI's checks after the flow still hold.
async fn forgot_password(
    driver: &WebDriver,
    screens: &mut Screens,
    phrase: &[String],
) -> WebDriverResult<()> {
    open_section(driver, "Settings", "Settings").await?;
    click(driver, "//button[normalize-space()='Lock now']").await?;
    let account = find(driver, "//*[@data-testid='locked-account']").await;
    assert!(account.text().await?.contains("e2e-bob"));
    click(
        driver,
        "//button[normalize-space()='Forgot your password?']",
    )
    .await?;
    let forgot = find(driver, "//*[@data-testid='forgot']").await;
    assert!(
        forgot
            .text()
            .await?
            .contains("Restore with your recovery phrase")
    );
    screens.save(driver, "forgot-password").await;
    driver.set_window_rect(0, 0, 800, 600).await?;
    find(driver, "//*[@data-testid='forgot']").await;
    screens.save(driver, "forgot-password-800x600").await;
    driver.set_window_rect(0, 0, 960, 660).await?;
    click(driver, "//button[normalize-space()='Erase and restore']").await?;

    find(driver, "//h1[normalize-space()='Restore your account']").await;
    let username = find(driver, "//input[@id='username']").await;
    assert_eq!(username.value().await?.as_deref(), Some("e2e-bob"));
    enter_phrase(driver, phrase).await?;
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Continue']",
    )
    .await?;
    find(
        driver,
        "//h1[normalize-space()='Which devices did you lose?']",
    )
    .await;
    restore_removing_the_one_lost(driver, screens, "forgot-devices-to-revoke").await?;
    // The CLI's device and this computer's old entry removed, this computer active again.
    find(
        driver,
        "//li[@data-testid='device'][contains(., 'This computer')][.//*[@data-state='active']]",
    )
    .await;
    let rows = driver.find_all(By::Css("[data-testid='device']")).await?;
    let mut states = Vec::new();
    for row in &rows {
        let state = row
            .find(By::Css("[data-state]"))
            .await?
            .attr("data-state")
            .await?;
        states.push(state.unwrap_or_default());
    }
    states.sort();
    assert_eq!(states, ["active", "revoked", "revoked"]);
    screens.save(driver, "forgot-restored").await;
    Ok(())
}

/// On "Which devices did you lose?", marks the one device listed as lost (saving the screen as
/// `shot`), restores, and waits until the device list is verified with the phrase.
async fn restore_removing_the_one_lost(
    driver: &WebDriver,
    screens: &mut Screens,
    shot: &str,
) -> WebDriverResult<()> {
    click(
        driver,
        "//li[@data-testid='restore-device']//input[@type='checkbox']",
    )
    .await?;
    screens.save(driver, shot).await;
    click(
        driver,
        "//button[normalize-space()='Restore, remove 1 lost']",
    )
    .await?;
    let verified = find(driver, "//*[@data-testid='verified']").await;
    let verified = verified.text().await?;
    assert!(
        verified.starts_with("Device list verified at "),
        "{verified}"
    );
    Ok(())
}
