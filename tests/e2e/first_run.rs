//! The first run, end to end: a real `enigm server` on loopback, the real debug app with a fresh
//! profile in a private Secret Service session, driven through tauri-driver and WebKitWebDriver
//! under Xvfb. The user creates an account, confirms three words of the recovery phrase and
//! lands on the device list: one active device, "This computer", verified. The session shows
//! the recovery epoch; the user makes a new recovery phrase and cancels once it is shown (nothing
//! changes), then replaces it, in force once three of its words are typed back; locks the app
//! (without a PIN the
//! password is asked for, checked online: a wrong one is refused, the right one unlocks), sets
//! a PIN in Settings, locks again (the PIN is asked for; "Use your password instead" works
//! online), signs out and back in, and, while the service is down, locks again: the password
//! cannot be checked offline and says so, the PIN unlocks; locks once more and quits. The app
//! restarts locked, unlocks offline with the PIN and signs out, straight to the sign-in screen,
//! which says the service was not told. The device list, session,
//! Settings' PIN control and Locked screens are also shot at the smallest window size
//! (800x600). Every screen is saved as a PNG in `target/e2e-screenshots/`
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

const PASSWORD: &str = "correct horse battery staple";
const PIN: &str = "482916";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_new_user_creates_an_account_and_sees_this_computer_verified() {
    let work = tempfile::tempdir().unwrap();
    let (service, url) = start_server(&work.path().join("server"));
    let mut screens = Screens::new("first-run");
    let profile = work.path().join("profile");
    let app = App::launch(&profile, &url).await;
    let result = run_first_run(&app.driver, &url, &mut screens, service).await;
    app.quit().await;
    result.unwrap();

    // The app was locked when it quit: it starts locked, and unlocks with the service down.
    let app = App::launch(&profile, &url).await;
    let result = after_restart(&app.driver, &mut screens).await;
    app.quit().await;
    result.unwrap();
}

/// Locks from Settings and waits for the Locked screen, with no section left on screen.
async fn lock(driver: &WebDriver) -> WebDriverResult<()> {
    open_section(driver, "Settings", "Settings").await?;
    click(driver, "//button[normalize-space()='Lock now']").await?;
    find(driver, "//h1[normalize-space()='Enigm is locked']").await;
    assert!(
        driver.find_all(By::XPath("//nav")).await?.is_empty(),
        "no section shows while locked"
    );
    Ok(())
}

/// Types the password on the Locked screen and unlocks.
async fn unlock(driver: &WebDriver, password: &str) -> WebDriverResult<()> {
    type_into(driver, "password", password).await?;
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Unlock']",
    )
    .await
}

/// Types the PIN on the Locked screen and unlocks.
async fn unlock_with_pin(driver: &WebDriver, pin: &str) -> WebDriverResult<()> {
    type_into(driver, "pin", pin).await?;
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Unlock']",
    )
    .await
}

async fn after_restart(driver: &WebDriver, screens: &mut Screens) -> WebDriverResult<()> {
    find(driver, "//h1[normalize-space()='Enigm is locked']").await;
    screens.save(driver, "restarted-locked").await;
    unlock_with_pin(driver, PIN).await?;
    find(driver, "//*[@data-testid='offline']").await;

    // Offline, signing out forgets the session here and says the service was not told.
    open_section(driver, "Settings", "Settings").await?;
    click(driver, "//button[normalize-space()='Sign out']").await?;
    // Straight to signing in (no sidebar), saying so; at 800x600 the button is in view.
    find(driver, "//*[@data-testid='signed-out-locally']").await;
    find(driver, "//input[@id='password']").await;
    assert!(driver.find_all(By::XPath("//nav")).await?.is_empty());
    screens.save(driver, "signed-out-offline").await;
    driver.set_window_rect(0, 0, 800, 600).await?;
    find(driver, "//*[@data-testid='signed-out-locally']").await;
    screens.save(driver, "signed-out-offline-800x600").await;
    Ok(())
}

async fn run_first_run(
    driver: &WebDriver,
    url: &str,
    screens: &mut Screens,
    service: Group,
) -> WebDriverResult<()> {
    let words = create_account(driver, url, "e2e-alice", PASSWORD, Some(screens)).await?;
    let rows = driver.find_all(By::Css("[data-testid='device']")).await?;
    assert_eq!(rows.len(), 1, "one device: this computer");
    let row = rows[0].text().await?;
    assert!(row.contains("This computer"), "{row}");
    rows[0].find(By::Css("[data-state='active']")).await?;
    screens.save(driver, "devices").await;

    // The narrowest window the app allows: nothing may be cut off or overlap.
    driver.set_window_rect(0, 0, 800, 600).await?;
    screens.save(driver, "devices-800x600").await;
    // Where people look for it: "Add a device" says what to do on the new computer.
    click(driver, "//button[normalize-space()='Add a device']").await?;
    let help = find(driver, "//*[@data-testid='add-device-help']").await;
    assert!(help.text().await?.contains("Add this computer"));
    screens.save(driver, "devices-add-a-device-800x600").await;
    click(
        driver,
        "//*[@data-testid='add-device-help']//button[normalize-space()='Close']",
    )
    .await?;
    open_section(driver, "Session", "What this computer may do").await?;
    let epoch = find(driver, "//*[@data-testid='recovery-epoch']").await;
    assert_eq!(epoch.text().await?.trim(), "Never");
    screens.save(driver, "session-800x600").await;
    driver.set_window_rect(0, 0, 960, 660).await?;
    screens.save(driver, "session").await;

    // A new recovery phrase: asked first, shown once, three words retyped, and only then in
    // force. Cancelled once it is shown, nothing changed: the old phrase stays.
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
    let shown_only = phrase_words(driver).await?;
    click(
        driver,
        "//button[normalize-space()='Cancel and keep the old phrase']",
    )
    .await?;
    find(driver, "//*[@data-testid='phrase-kept']").await;
    assert!(
        driver
            .find_all(By::XPath("//*[@data-testid='phrase-replaced']"))
            .await?
            .is_empty(),
        "a cancelled phrase replaced nothing"
    );
    screens.save(driver, "recovery-cancelled").await;
    click(
        driver,
        "//button[normalize-space()='Regenerate recovery phrase']",
    )
    .await?;
    click(driver, "//button[normalize-space()='Make a new phrase']").await?;
    let new_words = phrase_words(driver).await?;
    assert_ne!(new_words, shown_only, "each try makes its own phrase");
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

    // Locked without a PIN: nothing of the account shows; the password is checked online, a
    // wrong one is refused and says so.
    // Resized first: the lock's own round trip lets the window settle before the shot.
    driver.set_window_rect(0, 0, 800, 600).await?;
    lock(driver).await?;
    screens.save(driver, "locked-800x600").await;
    unlock(driver, "not my password").await?;
    let error = find(
        driver,
        "//*[@data-testid='unlock-error'][@data-code='unlock_wrong_password']",
    )
    .await;
    let error = error.text().await?;
    assert!(
        error.contains("That is not your account password"),
        "{error}"
    );
    screens.save(driver, "locked-wrong-password-800x600").await;
    driver.set_window_rect(0, 0, 960, 660).await?;
    unlock(driver, PASSWORD).await?;
    find(driver, "//h1[normalize-space()='Settings']").await;

    // A PIN, set in Settings, unlocks this computer (offline too).
    driver.set_window_rect(0, 0, 800, 600).await?;
    type_into(driver, "new-pin", PIN).await?;
    click(driver, "//button[normalize-space()='Set PIN']").await?;
    find(driver, "//*[@data-testid='pin-saved']").await;
    find(driver, "//button[normalize-space()='Remove PIN']").await;
    screens.save(driver, "settings-pin-800x600").await;
    lock(driver).await?;
    find(driver, "//input[@id='pin']").await;
    screens.save(driver, "locked-pin-800x600").await;
    driver.set_window_rect(0, 0, 960, 660).await?;
    click(
        driver,
        "//button[normalize-space()='Use your password instead']",
    )
    .await?;
    click(driver, "//button[normalize-space()='Use your PIN instead']").await?;
    screens.save(driver, "locked-pin").await;
    // The password still works instead, checked online.
    click(
        driver,
        "//button[normalize-space()='Use your password instead']",
    )
    .await?;
    unlock(driver, PASSWORD).await?;
    find(driver, "//h1[normalize-space()='Settings']").await;
    find(driver, "//button[normalize-space()='Remove PIN']").await;
    screens.save(driver, "settings-pin").await;

    // Signing out ends the session and shows the sign-in screen; signing in again returns.
    click(driver, "//button[normalize-space()='Sign out']").await?;
    find(driver, "//input[@id='password']").await;
    screens.save(driver, "signed-out").await;
    type_into(driver, "username", "e2e-alice").await?;
    type_into(driver, "password", PASSWORD).await?;
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
    // The list says when it was last verified, and "Retry now" asks again at once (still down).
    let when = find(driver, "//*[@data-testid='verified-at']")
        .await
        .text()
        .await?;
    assert!(when.starts_with("at "), "{when}");
    click(driver, "//button[normalize-space()='Retry now']").await?;
    find(
        driver,
        "//button[normalize-space()='Retry now'][not(@disabled)]",
    )
    .await;
    find(
        driver,
        "//*[@data-testid='verified'][contains(., 'last known')]",
    )
    .await;
    screens.save(driver, "offline").await;

    // Offline, the password cannot be checked and the screen says so; the PIN unlocks.
    lock(driver).await?;
    click(
        driver,
        "//button[normalize-space()='Use your password instead']",
    )
    .await?;
    unlock(driver, PASSWORD).await?;
    let error = find(
        driver,
        "//*[@data-testid='unlock-error'][@data-code='unlock_needs_service']",
    )
    .await;
    let error = error.text().await?;
    assert!(
        error.contains("cannot be checked offline") && error.contains("unlock with your PIN"),
        "{error}"
    );
    screens.save(driver, "locked-offline-password").await;
    click(driver, "//button[normalize-space()='Use your PIN instead']").await?;
    unlock_with_pin(driver, PIN).await?;
    find(driver, "//h1[normalize-space()='Settings']").await;
    // Quit locked: the restart must start locked.
    lock(driver).await?;
    Ok(())
}
