//! The first run, end to end: a real `enigm server` on loopback, the real debug app with a fresh
//! profile in a private Secret Service session, driven through tauri-driver and WebKitWebDriver
//! under Xvfb. The user creates an account, confirms three words of the recovery phrase and
//! lands on the device list: one active device, "This computer", verified. The session shows
//! the recovery epoch; the user replaces the recovery phrase, signs out and back in, and signs
//! out again while the service is down. The device list and session are also shot at the
//! smallest window size (800x600). Every screen is saved as a PNG in `target/e2e-screenshots/`
//! for a person to look at.
//!
//! `cargo xtask test` runs it after the other tests (see src/lib.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use enigm_e2e::{Group, Screens, click, find, launch_app, open_section, start_server};
use thirtyfour::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_new_user_creates_an_account_and_sees_this_computer_verified() {
    let work = tempfile::tempdir().unwrap();
    let (service, url) = start_server(&work.path().join("server"));
    let mut screens = Screens::new("first-run");
    let (_app, driver) = launch_app(&work.path().join("profile"), &url).await;

    let result = run_first_run(&driver, &url, &mut screens, service).await;
    driver.quit().await.unwrap();
    result.unwrap();
}

async fn run_first_run(
    driver: &WebDriver,
    url: &str,
    screens: &mut Screens,
    service: Group,
) -> WebDriverResult<()> {
    find(driver, "//h1[normalize-space()='Welcome to Enigm']").await;
    // The screenshot shows what the user chooses from, not the store opening before it.
    let create = find(
        driver,
        "//button[.//strong[normalize-space()='Create account']]",
    )
    .await;
    find(driver, "//button[.//strong[normalize-space()='Restore']]").await;
    screens.save(driver, "first-run").await;
    create.click().await?;

    let server = find(driver, "//input[@id='server']").await;
    assert_eq!(
        server.value().await?.as_deref(),
        Some(url),
        "the address comes from ENIGM_SERVER"
    );
    find(driver, "//input[@id='username']")
        .await
        .send_keys("e2e-alice")
        .await?;
    find(driver, "//input[@id='password']")
        .await
        .send_keys("correct horse battery staple")
        .await?;
    find(driver, "//p[@id='strength'][contains(., 'Strong')]").await;
    screens.save(driver, "create-account").await;
    find(
        driver,
        "//button[@type='submit'][normalize-space()='Create account']",
    )
    .await
    .click()
    .await?;

    let words = phrase_words(driver).await?;
    assert!(
        words.len() >= 12,
        "a whole phrase is shown: {}",
        words.len()
    );
    screens.save(driver, "recovery-phrase").await;
    find(driver, "//button[normalize-space()='I wrote them down']")
        .await
        .click()
        .await?;

    find(
        driver,
        "//h1[normalize-space()='Check your recovery phrase']",
    )
    .await;
    retype_three(driver, &words).await?;
    screens.save(driver, "confirm-phrase").await;
    find(driver, "//button[normalize-space()='Confirm']")
        .await
        .click()
        .await?;

    let verified = find(driver, "//*[@data-testid='verified']").await;
    assert_eq!(verified.text().await?.trim(), "Device list verified");
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
    find(driver, "//input[@id='username']")
        .await
        .send_keys("e2e-alice")
        .await?;
    find(driver, "//input[@id='password']")
        .await
        .send_keys("correct horse battery staple")
        .await?;
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

/// The words of the recovery phrase on screen, in order.
async fn phrase_words(driver: &WebDriver) -> WebDriverResult<Vec<String>> {
    find(driver, "//ol[@aria-label='Recovery phrase']").await;
    let mut words = Vec::new();
    for element in driver
        .find_all(By::Css("ol[aria-label='Recovery phrase'] .word"))
        .await?
    {
        words.push(element.text().await?);
    }
    assert!(words.iter().all(|word| !word.is_empty()));
    Ok(words)
}

/// Types the three words the check asks for.
async fn retype_three(driver: &WebDriver, words: &[String]) -> WebDriverResult<()> {
    find(driver, "//input[starts-with(@id, 'word-')]").await;
    let inputs = driver.find_all(By::Css("input[id^='word-']")).await?;
    assert_eq!(inputs.len(), 3);
    for input in &inputs {
        let id = input.id().await?.unwrap_or_default();
        let position: usize = id.trim_start_matches("word-").parse().unwrap();
        input.send_keys(&words[position]).await?;
    }
    Ok(())
}
