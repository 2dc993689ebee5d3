//! The first run, end to end: a real `enigm server` on loopback, the real debug app with a fresh
//! profile in a private Secret Service session, driven through tauri-driver and WebKitWebDriver
//! under Xvfb. The user creates an account, confirms three words of the recovery phrase and
//! lands on the device list: one active device, "This computer", verified. The session shows
//! the recovery epoch; the user replaces the recovery phrase, signs out and back in, and signs
//! out again while the service is down. The device list and session are also shot at the
//! smallest window size (800x600). Every screen is saved as a PNG in `target/e2e-screenshots/`
//! for a person to look at.
//!
//! `cargo xtask test` runs it after the other tests, with `ENIGM_APP_BIN`, `ENIGM_BIN`,
//! `TAURI_DRIVER` and `ENIGM_E2E_SCREENSHOTS` set, inside its keychain session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use enigm_e2e::{
    App, Group, Screens, click, create_account, find, open_section, phrase_words, retype_three,
    start_server, type_into,
};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_new_user_creates_an_account_and_sees_this_computer_verified() {
    let work = tempfile::tempdir().unwrap();
    let (service, url) = start_server(&work.path().join("server"));
    let mut screens = Screens::new("first-run");
    let app = App::launch(&work.path().join("profile"), &url).await;
    let result = run_first_run(&app.driver, &url, &mut screens, service).await;
    app.quit().await;
    result.unwrap();
}

async fn run_first_run(
    driver: &WebDriver,
    url: &str,
    screens: &mut Screens,
    service: Group,
) -> WebDriverResult<()> {
    let words = create_account(
        driver,
        url,
        "e2e-alice",
        "correct horse battery staple",
        Some(screens),
    )
    .await?;
    let rows = driver.find_all(By::Css("[data-testid='device']")).await?;
    assert_eq!(rows.len(), 1, "one device: this computer");
    let row = rows[0].text().await?;
    assert!(row.contains("This computer"), "{row}");
    rows[0].find(By::Css("[data-state='active']")).await?;
    screens.save(driver, "devices").await;

    // The narrowest window the app allows: nothing may be cut off or overlap.
    driver.set_window_rect(0, 0, 800, 600).await?;
    screens.save(driver, "devices-800x600").await;
    open_section(driver, "Session", "What this device may do").await?;
    let epoch = find(driver, "//*[@data-testid='recovery-epoch']").await;
    assert_eq!(epoch.text().await?.trim(), "0 (never recovered)");
    screens.save(driver, "session-800x600").await;
    driver.set_window_rect(0, 0, 960, 660).await?;
    screens.save(driver, "session").await;

    // A new recovery phrase: asked first, shown once, three words retyped.
    open_section(driver, "Recovery", "Recovery").await?;
    screens.save(driver, "recovery").await;
    click(
        driver,
        "//button[normalize-space()='Regenerate recovery phrase']",
    )
    .await?;
    find(driver, "//p[@id='regenerate-question']").await;
    screens.save(driver, "recovery-confirm").await;
    click(driver, "//button[normalize-space()='Make a new phrase']").await?;
    let new_words = phrase_words(driver).await?;
    assert_eq!(new_words.len(), words.len());
    assert_ne!(new_words, words, "a new phrase");
    screens.save(driver, "recovery-new-phrase").await;
    click(driver, "//button[normalize-space()='I wrote them down']").await?;
    retype_three(driver, &new_words).await?;
    click(driver, "//button[normalize-space()='Confirm']").await?;
    find(driver, "//*[@data-testid='phrase-replaced']").await;
    screens.save(driver, "recovery-replaced").await;

    open_section(driver, "Settings", "Settings").await?;
    let facts = find(driver, "//dl[@aria-label='This computer']").await;
    let facts = facts.text().await?;
    assert!(
        facts.contains("Encrypted") && facts.contains("Secret Service"),
        "{facts}"
    );
    screens.save(driver, "settings").await;

    // Signing out ends the session and shows the sign-in screen; signing in again returns.
    click(driver, "//button[normalize-space()='Sign out']").await?;
    find(driver, "//input[@id='password']").await;
    screens.save(driver, "signed-out").await;
    type_into(driver, "username", "e2e-alice").await?;
    type_into(driver, "password", "correct horse battery staple").await?;
    click(driver, "//button[@type='submit']").await?;
    find(driver, "//*[@data-testid='verified']").await;

    // The service goes away: the live session watch tells the window, which says so at once
    // (this screen asks the backend nothing by itself).
    drop(service);
    let started = Instant::now();
    find(driver, "//*[@data-testid='offline']").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the offline banner took {:?}",
        started.elapsed()
    );
    screens.save(driver, "offline").await;

    // Offline, signing out forgets the session here and says the service was not told.
    open_section(driver, "Settings", "Settings").await?;
    click(driver, "//button[normalize-space()='Sign out']").await?;
    find(driver, "//*[@data-testid='signed-out-locally']").await;
    screens.save(driver, "signed-out-offline").await;
    click(driver, "//button[normalize-space()='Continue']").await?;
    find(driver, "//input[@id='password']").await;
    Ok(())
}
