//! The service's expiries, on a manual clock: sessions and enrollment requests end when the
//! clock passes their time, and the test moves the clock there instead of sleeping through it.

use crate::common::enigm::{self, b64, sign_up};
use crate::common::relay::{
    self, PASSWORD, accept, connect, expect_event, new_device, request, updated,
};
use crate::common::{Http, Service, fresh_postgres_url};
use enigm_core::audit::AuditAction;
use serde_json::{Value, json};

#[test]
fn sessions_refresh_and_report_their_expiry() {
    let service = Service::start();
    let http = Http::new(service.addr);
    let (account, session) = enigm::signed_up(&http, "ivan", PASSWORD);
    let before = enigm::send(
        &http,
        &session,
        &account.device,
        "GET",
        "/v1/sessions/current",
        b"",
    );
    let expires = before.json()["session"]["expires_at"].as_u64().unwrap();
    assert!(expires > service.clock.now());
    service.clock.advance(1);
    let refreshed = enigm::send(
        &http,
        &session,
        &account.device,
        "POST",
        "/v1/sessions/refresh",
        b"",
    );
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.json());
    assert!(refreshed.json()["expires_at"].as_u64().unwrap() > expires);
}

#[test]
fn a_refreshed_session_lives_on_and_an_idle_one_ends_at_its_lifetime() {
    let service = Service::start_with(|config| config.session_ttl_secs = 3);
    let http = Http::new(service.addr);
    let (_, device) = sign_up(&http, "refresh", PASSWORD);
    let refresh = || device.call(&http, "POST", "/v1/sessions/refresh", &Value::Null);
    let current = || device.call(&http, "GET", "/v1/sessions/current", &Value::Null);
    // Refreshed a second before it would end: it lives on past its first expiry.
    service.clock.advance(2);
    assert_eq!(refresh().status, 200);
    service.clock.advance(2);
    assert_eq!(current().status, 200);
    // Left alone for its whole lifetime, it ends, and says why.
    service.clock.advance(1);
    let ended = current();
    ended.assert_refused(401, "session_expired");
}

/// An accepted request that nobody finishes expires at its time: it then shows nothing of its
/// approver, refuses further steps, leaves the open list, is audited and pushed, and does not
/// stop the device from asking again.
async fn requests_expire(postgres: bool) {
    let service = Service::start_with(|config| {
        // Longer than a push may take to arrive, so only the clock can expire it in time; within
        // the clock skew the service allows the (real-time) signed requests that follow.
        config.enrollment_ttl_secs = 30;
        if postgres {
            config.database = Some(fresh_postgres_url());
        }
    });
    let http = Http::new(service.addr);
    let (account, a) = sign_up(&http, "enroll", PASSWORD);
    let b = new_device(&http, &account);
    let mut a_socket = connect(service.addr, &a).await;
    let requested = request(&http, &b);
    let path = format!("/v1/enrollments/{}", requested.id);
    let view = a.get(&http, &path);
    let expires_at = view["expires_at"].as_u64().unwrap();
    let created_at = view["created_at"].as_u64().unwrap();
    assert_eq!(expires_at - created_at, 30);
    accept(&http, &account, &a, &view);

    // A second before its time it is still open; at its time it is expired.
    service.clock.advance(expires_at - 1 - service.clock.now());
    assert_eq!(b.get(&http, &path)["state"], "accepted");
    service.clock.advance(1);
    let seen = b.get(&http, &path);
    assert_eq!(seen["state"], "expired");
    assert!(
        seen["approver"].is_null(),
        "an expired request shows nothing"
    );
    let reveal = json!({ "ephemeral": b64(&[1; 32]) });
    let closed = b.refused(
        &http,
        "POST",
        &format!("{path}/reveal"),
        reveal,
        409,
        "enrollment_closed",
    );
    assert_eq!(closed["error"]["state"], "expired");
    assert!(
        a.get(&http, "/v1/enrollments")["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The service also records the expiry: audited, then pushed to both sides.
    expect_event(&mut a_socket, &updated(&requested.id, "expired")).await;
    let actions = a.audit_actions(&http);
    assert!(
        actions.contains(&AuditAction::EnrollmentExpired),
        "expiry not audited: {actions:?}"
    );
    assert_eq!(b.get(&http, &path)["state"], "expired");
    // An expired request does not block the device from asking again.
    request(&http, &b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_expire_on_sqlite() {
    requests_expire(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL; run by cargo xtask test"]
async fn requests_expire_on_postgres() {
    requests_expire(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_is_pushed_to_both_sides() {
    // The default ten minutes: only the clock can bring the expiry within the test's wait.
    let service = Service::start();
    let http = Http::new(service.addr);
    let (account, a) = sign_up(&http, "enroll", PASSWORD);
    let b = new_device(&http, &account);
    let mut a_socket = connect(service.addr, &a).await;
    let mut b_socket = connect(service.addr, &b).await;
    let relay::Requested { id, .. } = request(&http, &b);
    service.clock.advance(10 * 60);
    expect_event(&mut a_socket, &updated(&id, "expired")).await;
    expect_event(&mut b_socket, &updated(&id, "expired")).await;
}
