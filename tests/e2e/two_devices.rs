//! Two computers, end to end: one real `enigm server`, two app instances with their own
//! profiles, displays and tauri-drivers. The account is created on the first; the second asks
//! to join ("Add this computer") and the first raises the request at once (pushed). Before it
//! is let in, the ways it can be kept out: the first rejects (the second says so, nothing is
//! added); the second cancels while waiting (the first's panel goes within two seconds, by
//! push); the first sees a different code and says so (both screens end, nothing is added).
//! Then the user compares the short code, read from both windows, and confirms on both: both
//! list two active devices. The mismatch warns that someone may know the password and offers
//! Change password; the first then changes it, the second is signed out at once and signs in
//! with the new one (the old one refused). The first names itself and pauses (suspends) the
//! second, which shows "This computer is paused" naming the first, then resumes it, and the
//! second's screen lifts by itself. The first then removes the second, which shows that it
//! was removed, and by whom, within two seconds of the service learning it, and is set up again
//! from the first-run choices (the service address kept). The screens are
//! saved at 800x600 as
//! `two-NN-*.png` in `target/e2e-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use enigm_e2e::{
    App, STEP_TIMEOUT, Screens, click, create_account, find, gone, open_section, start_server,
    type_into,
};
use thirtyfour::prelude::*;

const USERNAME: &str = "e2e-bob";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a password nobody else knows";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn a_second_computer_is_kept_out_until_the_codes_match_then_joins_and_learns_its_removal() {
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

    // The second computer asks to join; the first raises it by itself (pushed by the service),
    // with what the user can check. The first says no.
    click(
        second,
        "//button[.//strong[normalize-space()='Add this computer']]",
    )
    .await?;
    let server = find(second, "//input[@id='server']").await;
    assert_eq!(server.value().await?.as_deref(), Some(url));
    type_into(second, "username", USERNAME).await?;
    screens.save(second, "add-computer").await;
    let request = ask_to_join(first, second).await?;
    screens.save(second, "add-computer-waiting").await;
    let about = request.text().await?;
    assert!(
        about.contains("Linux") && about.contains("just now"),
        "{about}"
    );
    screens.save(first, "approve-request").await;
    request
        .find(By::XPath(".//button[normalize-space()='Reject']"))
        .await?
        .click()
        .await?;
    find(second, &outcome("enroll-outcome", "rejected")).await;
    screens.save(second, "add-computer-rejected").await;
    find(first, &outcome("approve-outcome", "declined")).await;
    assert!(
        first.find_all(By::XPath(REQUEST)).await?.is_empty(),
        "the rejected request is no longer offered"
    );
    screens.save(first, "approve-rejected").await;
    dismiss(first).await?;
    one_device(first).await?;

    // The second asks again and cancels while waiting: the first's request goes by push.
    click(second, "//button[normalize-space()='Try again']").await?;
    ask_to_join(first, second).await?;
    click(second, "//button[normalize-space()='Cancel']").await?;
    // Shown once the service has recorded the cancel.
    find(second, &outcome("enroll-outcome", "cancelled")).await;
    let took = gone(
        first,
        REQUESTS_PANEL,
        Duration::from_secs(2),
        "the cancelled request",
    )
    .await;
    eprintln!("the cancelled request left the first computer's screen after {took:?}");
    screens.save(second, "add-computer-cancelled").await;
    one_device(first).await?;

    // The third request: the codes are compared, and the first sees a different one. Both
    // screens end and say so: the second stops showing its code without being answered.
    click(second, "//button[normalize-space()='Try again']").await?;
    ask_to_join(first, second)
        .await?
        .find(By::XPath(".//button[normalize-space()='Compare code']"))
        .await?
        .click()
        .await?;
    assert_eq!(short_code(first).await?, short_code(second).await?);
    click(first, "//button[normalize-space()='Codes differ']").await?;
    let mismatch = find(first, &outcome("approve-outcome", "codes_differ")).await;
    // A warning (someone may know the password) whose action is to change it.
    assert_eq!(mismatch.attr("role").await?.as_deref(), Some("alert"));
    screens.save(first, "approve-mismatch").await;
    // The second hears why, not just that it was cancelled.
    find(second, &outcome("enroll-outcome", "codes_differ")).await;
    assert!(
        second
            .find_all(By::XPath("//*[@data-testid='short-code']"))
            .await?
            .is_empty()
    );
    screens
        .save(second, "add-computer-other-side-differs")
        .await;
    // The warning's way out: Change password, in Settings, ready to type.
    click(
        first,
        &format!("{REQUESTS_PANEL}//button[normalize-space()='Change password']"),
    )
    .await?;
    find(first, "//h2[normalize-space()='Password']").await;
    let focused = first.active_element().await?;
    assert_eq!(focused.id().await?.as_deref(), Some("current-password"));
    screens.save(first, "change-password").await;
    open_section(first, "Devices", "Devices").await?;
    one_device(first).await?;

    // The fourth request is let in.
    click(second, "//button[normalize-space()='Try again']").await?;
    let request = ask_to_join(first, second).await?;
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
    // The newly joined computer says so.
    find(
        second,
        "//*[@data-testid='notice'][contains(., 'this computer is now one of your account')]",
    )
    .await;
    screens.save(second, "joined-devices").await;
    // It joined under the name it suggested (its own name and platform), which the first shows.
    find(
        first,
        "//li[@data-testid='device']//span[contains(@class, 'name')][contains(., 'Linux')]",
    )
    .await;

    // The first changes the password: the second is signed out at once (pushed) and signs in
    // with the new one; the old one no longer works.
    change_password(first, PASSWORD, NEW_PASSWORD).await?;
    screens.save(first, "password-changed").await;
    find(second, "//h1[normalize-space()='Sign in']").await;
    screens.save(second, "signed-out-by-password-change").await;
    sign_in(second, PASSWORD).await?;
    find(second, "//*[@role='alert']").await;
    sign_in(second, NEW_PASSWORD).await?;
    two_active_devices(second).await?;

    // Where the account is signed in: the first lists both computers' sessions and signs the
    // second out from there; the second is at its sign-in screen at once, and signs in again.
    open_section(first, "Session", "Session").await?;
    let other = "//li[@data-testid='session'][@data-current='false']";
    find(first, other).await;
    let sessions = first
        .find_all(By::XPath("//li[@data-testid='session']"))
        .await?
        .len();
    assert_eq!(sessions, 2, "one session per computer");
    find(first, "//h2[@id='signed-in-title']")
        .await
        .scroll_into_view()
        .await?;
    screens.save(first, "signed-in").await;
    click(
        first,
        &format!("{other}//button[normalize-space()='Sign out']"),
    )
    .await?;
    find(first, "//*[@data-testid='signed-in-notice']").await;
    find(second, "//h1[normalize-space()='Sign in']").await;
    screens.save(second, "signed-out-from-elsewhere").await;
    gone(
        first,
        other,
        Duration::from_secs(5),
        "the ended session in the list",
    )
    .await;
    sign_in(second, NEW_PASSWORD).await?;
    two_active_devices(second).await?;
    open_section(first, "Devices", "Devices").await?;

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
    // Both have been seen today, as the service counts days (yesterday across midnight UTC).
    let seen = "//li[@data-testid='device']//span[contains(@class, 'seen')]\
                [normalize-space()='Seen today' or normalize-space()='Seen yesterday']";
    let seen = second.find_all(By::XPath(seen)).await?.len();
    assert_eq!(seen, 2, "each device's row says when it was last seen");

    pause_and_resume(first, second, screens).await?;

    // The first removes the second; the second says so within two seconds of the service
    // recording it (the first shows it revoked once the service has). Its buttons are
    // disabled until the rename has finished reloading the list.
    click(
        first,
        "//li[@data-testid='device']//button[normalize-space()='Remove…'][not(@disabled)]",
    )
    .await?;
    // It asks why, calmly: no longer used unless lost or stolen is chosen.
    find(
        first,
        "//fieldset[.//legend[normalize-space()='Why is it leaving?']]",
    )
    .await;
    screens.save(first, "remove-why").await;
    click(first, "//button[normalize-space()='Remove device']").await?;
    find(
        first,
        "//li[@data-testid='device'][.//*[@data-state='revoked']]",
    )
    .await;
    let recorded = Instant::now();
    let removed = "//h1[normalize-space()='This computer was removed from your account']";
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

    // The way on: set this computer up again, from the first-run choices, on the same service.
    click(
        second,
        "//button[normalize-space()='Set up this computer again']",
    )
    .await?;
    find(second, "//h1[normalize-space()='Welcome to Enigm']").await;
    for choice in ["Add this computer", "Create account", "Restore"] {
        find(
            second,
            &format!("//button[.//strong[normalize-space()='{choice}']]"),
        )
        .await;
    }
    screens.save(second, "set-up-again").await;
    click(
        second,
        "//button[.//strong[normalize-space()='Add this computer']]",
    )
    .await?;
    let server = find(second, "//input[@id='server']").await;
    assert_eq!(
        server.value().await?.as_deref(),
        Some(url),
        "the service is kept"
    );
    Ok(())
}

/// On the sign-in screen, signs in as [`USERNAME`] with `password` (typed over what is there).
async fn sign_in(driver: &WebDriver, password: &str) -> WebDriverResult<()> {
    for (id, text) in [("username", USERNAME), ("password", password)] {
        find(driver, &format!("//input[@id='{id}']"))
            .await
            .clear()
            .await?;
        type_into(driver, id, text).await?;
    }
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Sign in']",
    )
    .await
}

/// In Settings, changes the account's password from `current` to `new`.
async fn change_password(driver: &WebDriver, current: &str, new: &str) -> WebDriverResult<()> {
    open_section(driver, "Settings", "Settings").await?;
    type_into(driver, "current-password", current).await?;
    type_into(driver, "next-password", new).await?;
    type_into(driver, "next-password-again", new).await?;
    click(
        driver,
        "//button[@type='submit'][normalize-space()='Change password']",
    )
    .await?;
    let done = find(driver, "//*[@data-testid='password-changed']").await;
    assert!(
        done.text()
            .await?
            .contains("Your other devices were signed out"),
        "{}",
        done.text().await?
    );
    Ok(())
}

/// A request from a new device on the trusted device's panel.
const REQUEST: &str = "//*[@data-testid='enrollment-request']";
/// The trusted device's panel of requests (and of the approval under way).
const REQUESTS_PANEL: &str = "//*[@data-testid='enrollment-requests']";

/// On the second computer's form (username already typed), types the password and asks to
/// join; waits until it waits for the first, and returns the request the first raises.
async fn ask_to_join(first: &WebDriver, second: &WebDriver) -> WebDriverResult<WebElement> {
    type_into(second, "password", PASSWORD).await?;
    click(
        second,
        "//button[@type='submit'][normalize-space()='Add this computer']",
    )
    .await?;
    find(second, "//section[@data-step='requested']").await;
    Ok(find(first, REQUEST).await)
}

/// The XPath of an enrollment's outcome `kind` (`data-outcome`) in element `testid`.
fn outcome(testid: &str, kind: &str) -> String {
    format!("//*[@data-testid='{testid}'][@data-outcome='{kind}']")
}

/// Dismisses the outcome on the trusted device; with no request open, the panel goes.
async fn dismiss(first: &WebDriver) -> WebDriverResult<()> {
    click(
        first,
        &format!("{REQUESTS_PANEL}//button[normalize-space()='Dismiss']"),
    )
    .await?;
    gone(first, REQUESTS_PANEL, STEP_TIMEOUT, "the requests panel").await;
    Ok(())
}

/// The first computer still lists only itself, verified.
async fn one_device(first: &WebDriver) -> WebDriverResult<()> {
    find(first, "//*[@data-testid='verified']").await;
    let rows = first.find_all(By::Css("[data-testid='device']")).await?;
    assert_eq!(rows.len(), 1, "no device was added");
    assert!(rows[0].text().await?.contains("This computer"));
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

/// The first pauses the second: the second shows the paused screen at once (pushed), naming
/// the first as its own ledger verifies it, with no way into the account's screens; the first
/// resumes it and the second's screen lifts by itself (it asks every few seconds), back to its
/// device list. The paused screen is saved light and, with the app's own dark rules, dark.
async fn pause_and_resume(
    first: &WebDriver,
    second: &WebDriver,
    screens: &mut Screens,
) -> WebDriverResult<()> {
    let other = "//li[@data-testid='device'][not(contains(., 'This computer'))]";
    click(
        first,
        &format!("{other}//button[normalize-space()='Suspend'][not(@disabled)]"),
    )
    .await?;
    find(first, &format!("{other}[.//*[@data-state='suspended']]")).await;
    find(second, "//h1[normalize-space()='This computer is paused']").await;
    let by = find(
        second,
        "//*[@data-testid='paused-by'][contains(., 'Office desk')]",
    )
    .await
    .text()
    .await?;
    assert!(by.starts_with("Paused by Office desk ("), "{by}");
    assert!(
        second.find_all(By::XPath("//nav")).await?.is_empty(),
        "nothing of the account shows while paused"
    );
    screens.save(second, "paused").await;
    in_dark(second, true).await?;
    screens.save(second, "paused-dark").await;
    in_dark(second, false).await?;

    click(
        first,
        &format!("{other}//button[normalize-space()='Resume'][not(@disabled)]"),
    )
    .await?;
    find(first, &format!("{other}[.//*[@data-state='active']]")).await;
    find(
        second,
        "//*[@data-testid='notice'][contains(., 'This computer was resumed')]",
    )
    .await;
    two_active_devices(second).await?;
    screens.save(second, "resumed").await;
    in_dark(second, true).await?;
    screens.save(second, "resumed-dark").await;
    in_dark(second, false).await?;
    Ok(())
}

/// Applies (or takes away) the app's own dark-theme rules, its `prefers-color-scheme: dark`
/// media rules copied without their condition, to see a screen dark without a second run.
async fn in_dark(driver: &WebDriver, dark: bool) -> WebDriverResult<()> {
    let ret = driver
        .execute(
            r#"
            document.getElementById('e2e-dark')?.remove();
            const root = document.documentElement.style;
            for (const name of JSON.parse(root.getPropertyValue('--e2e-dark') || '[]')) root.removeProperty(name);
            root.removeProperty('--e2e-dark');
            if (arguments[0]) {
              const rules = [];
              const names = [];
              for (const sheet of document.styleSheets) {
                for (const rule of sheet.cssRules) {
                  if (!(rule.media && /prefers-color-scheme:\s*dark/.test(rule.media.mediaText))) continue;
                  for (const inner of rule.cssRules) {
                    if (inner.selectorText === ':root') {
                      for (const name of inner.style) {
                        root.setProperty(name, inner.style.getPropertyValue(name));
                        names.push(name);
                      }
                    } else {
                      rules.push(inner.cssText);
                    }
                  }
                }
              }
              root.setProperty('color-scheme', 'dark');
              names.push('color-scheme');
              root.setProperty('--e2e-dark', JSON.stringify(names));
              const style = document.createElement('style');
              style.id = 'e2e-dark';
              style.textContent = rules.join('\n');
              document.head.append(style);
              return getComputedStyle(document.documentElement).getPropertyValue('--color-bg').trim();
            }
            return '';
            "#,
            vec![serde_json::json!(dark)],
        )
        .await?;
    if dark {
        assert_eq!(
            ret.json(),
            &serde_json::json!("#12141c"),
            "the app's dark background is in force"
        );
    }
    Ok(())
}
