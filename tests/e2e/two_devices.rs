//! Two computers, end to end: one real `enigm server`, two app instances with their own
//! profiles, displays and tauri-drivers. The account is created on the first; the second asks
//! to join ("Add this computer"); the first raises the request at once and the user compares
//! the short code, read from both windows, before confirming on both. Both then list two
//! active devices. The first names itself and removes the second, which shows that it was
//! removed, and by whom, within two seconds of the service learning it. The new screens are saved at 800x600 as
//! `two-NN-*.png` in `target/e2e-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use enigm_e2e::{App, STEP_TIMEOUT, Screens, click, create_account, find, start_server, type_into};
use thirtyfour::prelude::*;

const USERNAME: &str = "e2e-bob";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_second_computer_joins_after_comparing_the_code_and_learns_its_removal_at_once() {
    let work = tempfile::tempdir().unwrap();
    let (_service, url) = start_server(&work.path().join("server"));
    let mut screens = Screens::new("two");
    let first = App::launch(&work.path().join("first"), &url).await;
    let second = App::launch(&work.path().join("second"), &url).await;
    let result = run(&first.driver, &second.driver, &url, &mut screens).await;
    first.quit().await;
    second.quit().await;
    result.unwrap();
}

async fn run(
    first: &WebDriver,
    second: &WebDriver,
    url: &str,
    screens: &mut Screens,
) -> WebDriverResult<()> {
    create_account(first, url, USERNAME, PASSWORD, None).await?;
    first.set_window_rect(0, 0, 800, 600).await?;
    second.set_window_rect(0, 0, 800, 600).await?;

    // The second computer asks to join.
    click(
        second,
        "//button[.//strong[normalize-space()='Add this computer']]",
    )
    .await?;
    let server = find(second, "//input[@id='server']").await;
    assert_eq!(server.value().await?.as_deref(), Some(url));
    type_into(second, "username", USERNAME).await?;
    type_into(second, "password", PASSWORD).await?;
    screens.save(second, "add-computer").await;
    click(
        second,
        "//button[@type='submit'][normalize-space()='Add this computer']",
    )
    .await?;
    find(second, "//section[@data-step='requested']").await;
    screens.save(second, "add-computer-waiting").await;

    // The first raises it by itself (pushed by the service), with what the user can check.
    let request = find(first, "//*[@data-testid='enrollment-request']").await;
    let about = request.text().await?;
    assert!(
        about.contains("Linux") && about.contains("just now"),
        "{about}"
    );
    screens.save(first, "approve-request").await;
    request
        .find(By::XPath(".//button[normalize-space()='Compare code']"))
        .await?
        .click()
        .await?;

    // Both windows show the code; the user reads both before saying they match.
    let on_first = short_code(first).await?;
    let on_second = short_code(second).await?;
    assert_eq!(on_first, on_second, "both devices show the same code");
    let (digits, emoji) = &on_first;
    assert!(
        digits.len() == 7 && digits.as_bytes()[3] == b' ',
        "grouped digits: {digits:?}"
    );
    assert_eq!(emoji.len(), 7, "{emoji:?}");
    screens.save(first, "approve-code").await;
    screens.save(second, "add-computer-code").await;
    click(second, "//button[normalize-space()='Yes, same code']").await?;
    click(first, "//button[normalize-space()='Yes, approve']").await?;

    find(
        first,
        "//*[@data-testid='approve-outcome'][@data-outcome='active']",
    )
    .await;
    two_active_devices(first).await?;
    screens.save(first, "approved-devices").await;
    two_active_devices(second).await?;
    screens.save(second, "joined-devices").await;

    // The first names itself; the second's list shows the name (pushed as a shared item), so
    // the second can still name the first once it is refused.
    let this = "//li[@data-testid='device'][contains(., 'This computer')]";
    click(
        first,
        &format!("{this}//button[normalize-space()='Rename…']"),
    )
    .await?;
    find(first, "//input[starts-with(@id, 'label-')]")
        .await
        .send_keys("Office desk")
        .await?;
    click(first, "//button[@type='submit'][normalize-space()='Save']").await?;
    find(
        second,
        "//li[@data-testid='device']//span[contains(@class, 'name')][normalize-space()='Office desk']",
    )
    .await;

    // The first removes the second; the second says so within two seconds of the service
    // recording it (the first shows it revoked once the service has).
    click(
        first,
        "//li[@data-testid='device']//button[normalize-space()='Remove…']",
    )
    .await?;
    click(first, "//button[normalize-space()='Remove device']").await?;
    find(
        first,
        "//li[@data-testid='device'][.//*[@data-state='revoked']]",
    )
    .await;
    let recorded = Instant::now();
    let removed = "//h1[normalize-space()='This device was removed from your account']";
    while second.find_all(By::XPath(removed)).await?.is_empty() {
        assert!(
            recorded.elapsed() < Duration::from_secs(2),
            "the removed screen did not appear within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It names who removed it, checked against its own ledger.
    let by = find(second, "//*[@data-testid='removed-by']")
        .await
        .text()
        .await?;
    assert!(by.starts_with("Removed by Office desk ("), "{by}");
    screens.save(second, "removed").await;
    Ok(())
}

/// The short code a window shows: its grouped digits and its emoji names, in order.
async fn short_code(driver: &WebDriver) -> WebDriverResult<(String, Vec<String>)> {
    let digits = find(driver, "//*[@data-testid='short-code-digits']").await;
    let digits = digits.text().await?.trim().to_owned();
    let mut names = Vec::new();
    for name in driver
        .find_all(By::Css("[data-testid='short-code'] .name"))
        .await?
    {
        names.push(name.text().await?.trim().to_owned());
    }
    Ok((digits, names))
}

/// Waits until the device list shows exactly two devices, both active.
async fn two_active_devices(driver: &WebDriver) -> WebDriverResult<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let rows = "//li[@data-testid='device']";
    let active = "//li[@data-testid='device'][.//*[@data-state='active']]";
    loop {
        let listed = driver.find_all(By::XPath(rows)).await?.len();
        let activated = driver.find_all(By::XPath(active)).await?.len();
        if listed == 2 && activated == 2 {
            find(driver, "//*[@data-testid='verified']").await;
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "expected two active devices, saw {activated} of {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
