//! The dark theme and the sign-in rate limit, end to end: a real `enigm server` whose login
//! limit is lowered by its flags (one free attempt, then a three-second wait that doubles), and
//! the real app under GTK's dark theme, which WebKitGTK passes on as `prefers-color-scheme:
//! dark`. The user looks at the first screens, creates an account, visits every section, signs
//! out and mistypes the password until the service refuses for a while: the screen says when
//! to try again and counts down, Sign in waits until then, and signing in then works. Every
//! screen is saved as `dark-NN-*.png` in `target/e2e-screenshots/`, to check the dark colors.
//!
//! `cargo xtask test` runs it after the other tests (see src/lib.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use enigm_e2e::{
    App, STEP_TIMEOUT, Screens, Theme, click, create_account, find, open_section,
    start_server_with, type_into,
};
use thirtyfour::prelude::*;

const USERNAME: &str = "e2e-dana";
const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password";
/// The first wait after the free attempt: long enough to see the countdown, short enough to
/// sit through.
const BACKOFF_SECS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app and CLI, tauri-driver, WebKitWebDriver, Xvfb and a Secret Service session; run by cargo xtask test"]
async fn in_the_dark_theme_a_user_signs_up_and_is_told_when_to_retry_after_wrong_passwords() {
    let work = tempfile::tempdir().unwrap();
    let backoff = BACKOFF_SECS.to_string();
    let (_service, url) = start_server_with(
        &work.path().join("server"),
        &[
            "--login-free-attempts",
            "1",
            "--login-backoff-secs",
            &backoff,
        ],
    );
    let mut screens = Screens::new("dark");
    let app = App::launch_themed(&work.path().join("profile"), &url, Theme::Dark).await;
    let result = run(&app.driver, &url, &mut screens).await;
    app.quit().await;
    result.unwrap();
}

async fn run(driver: &WebDriver, url: &str, screens: &mut Screens) -> WebDriverResult<()> {
    find(driver, "//h1[normalize-space()='Welcome to Enigm']").await;
    let dark = driver
        .execute(
            "return window.matchMedia('(prefers-color-scheme: dark)').matches",
            Vec::new(),
        )
        .await?;
    assert_eq!(
        dark.json(),
        &serde_json::json!(true),
        "the page follows GTK's dark theme"
    );

    // The other two ways in, as far as their forms (nothing is sent).
    click(driver, "//button[.//strong[normalize-space()='Restore']]").await?;
    find(driver, "//input[@id='phrase-word-0']")
        .await
        .send_keys("zzzz")
        .await?;
    type_into(driver, "username", USERNAME).await?;
    screens.save(driver, "restore").await;
    click(driver, "//button[normalize-space()='Back']").await?;
    click(
        driver,
        "//button[.//strong[normalize-space()='Add this computer']]",
    )
    .await?;
    find(driver, "//input[@id='server']").await;
    screens.save(driver, "add-computer").await;
    click(driver, "//button[normalize-space()='Back']").await?;

    create_account(driver, url, USERNAME, PASSWORD, Some(screens)).await?;
    screens.save(driver, "devices").await;
    open_section(driver, "Session", "What this computer may do").await?;
    screens.save(driver, "session").await;
    find(driver, "//li[@data-testid='session'][@data-current='true']")
        .await
        .scroll_into_view()
        .await?;
    screens.save(driver, "signed-in").await;
    open_section(driver, "Recovery", "Recovery").await?;
    screens.save(driver, "recovery").await;
    open_section(driver, "Settings", "Settings").await?;
    screens.save(driver, "settings").await;
    click(driver, "//button[normalize-space()='Sign out']").await?;
    find(driver, "//input[@id='password']").await;

    // Wrong passwords until the service refuses for a while.
    type_into(driver, "username", USERNAME).await?;
    type_into(driver, "password", WRONG).await?;
    let submit = "//button[@type='submit']";
    let mut refusals = Vec::new();
    let mut previous: Option<WebElement> = None;
    let alert = loop {
        click(driver, submit).await?;
        // This attempt's alert, not the last one's (which goes as the attempt starts).
        if let Some(previous) = previous.take() {
            wait_stale(&previous).await;
        }
        let alert = find(driver, "//*[@role='alert'][@data-code]").await;
        let code = alert.attr("data-code").await?.unwrap_or_default();
        if refusals.is_empty() {
            screens.save(driver, "wrong-password").await;
        }
        refusals.push(code.clone());
        if code == "rate_limited" {
            break alert;
        }
        assert_eq!(code, "wrong_password", "{refusals:?}");
        assert!(refusals.len() < 5, "never rate limited: {refusals:?}");
        previous = Some(alert);
    };
    // One read of the countdown: it ticks on while the test looks.
    let wait = find(driver, "//*[@data-testid='retry-wait']")
        .await
        .text()
        .await?;
    let seconds: u64 = wait
        .strip_prefix("Try again in ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no wait on screen: {wait:?}"));
    assert!(
        (1..=BACKOFF_SECS).contains(&seconds),
        "{seconds} s of {BACKOFF_SECS}"
    );
    let text = alert.text().await?;
    assert!(text.starts_with("Too many attempts."), "{text}");
    let button = find(driver, submit).await;
    assert!(!button.is_enabled().await?, "Sign in waits");
    screens.save(driver, "rate-limited").await;

    // The countdown runs out about when the service said; then signing in works.
    let started = Instant::now();
    let deadline = Duration::from_secs(seconds + 3);
    while !button.is_enabled().await? {
        assert!(
            started.elapsed() < deadline,
            "Sign in was still disabled after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = alert.text().await?;
    assert!(text.contains("You can try again now"), "{text}");
    assert!(
        !alert
            .class_name()
            .await?
            .unwrap_or_default()
            .contains("danger"),
        "not a red box once the wait is over"
    );
    screens.save(driver, "retry-now").await;
    // The wrong password is still typed: erased key by key, as a user would.
    let field = find(driver, "//input[@id='password']").await;
    field
        .send_keys(Key::Backspace.value().to_string().repeat(WRONG.len()))
        .await?;
    field.send_keys(PASSWORD).await?;
    button.click().await?;
    find(driver, "//*[@data-testid='verified']").await;
    Ok(())
}

/// Waits until `element` has left the page.
async fn wait_stale(element: &WebElement) {
    let started = Instant::now();
    while element.is_present().await.unwrap() {
        assert!(
            started.elapsed() < STEP_TIMEOUT,
            "the previous attempt never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
