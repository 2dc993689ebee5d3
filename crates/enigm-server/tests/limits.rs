//! Bounds on what one account or session may make the service hold (issue 13, item 8): push
//! sockets per session, sync-key rotations per hour, ledger entries per account. Each refusal
//! has its own code and changes nothing.

use crate::common;

use common::enigm::{self, Device, b64, sign_up};
use common::push::{connect, open, upgrade_header};
use common::{Http, Service};
use enigm_core::ledger::{EntryHash, Head};
use enigm_core::sync_copy::SignedSyncKey;
use enigm_core::sync_key::SyncKey;
use rand_core::OsRng;
use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

const PASSWORD: &str = "correct horse battery staple 42";

/// Seconds since the epoch, in clock hours.
fn hour() -> u64 {
    enigm::now() / 3600
}

#[tokio::test]
async fn a_session_holds_at_most_four_push_sockets() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, device) = sign_up(&http, "sockets", PASSWORD);
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(connect(server.addr, &device.session, &device.secrets).await);
    }
    let fifth = open(
        server.addr,
        Some(&upgrade_header(&device.session, &device.secrets)),
    )
    .await;
    match fifth {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "too_many_push_sockets");
            assert_eq!(body["error"]["max"], 4);
        }
        Err(other) => panic!("expected HTTP 429, got {other}"),
        Ok(_) => panic!("a fifth socket was accepted"),
    }
    // Another session of the account is not affected.
    let other = enigm::login(&http, &account.username, PASSWORD, &device.secrets).unwrap();
    let _other_socket = connect(server.addr, &other, &device.secrets).await;
    // A closed socket gives its place back (once the service has seen the close).
    let mut first = sockets.remove(0);
    first.close(None).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let again = open(
            server.addr,
            Some(&upgrade_header(&device.session, &device.secrets)),
        )
        .await;
        if again.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn sync_key_rotations_are_bounded_per_hour() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let (account, device) = sign_up(&http, "rotations", PASSWORD);
    let rotate = |device: &Device, epoch: u64| {
        // The service checks the copy's shape, not its signature or head (the recipient does).
        let head = Head {
            seq: 0,
            hash: EntryHash::ZERO,
        };
        let sealed = SignedSyncKey::seal(
            &SyncKey::generate(&mut OsRng, epoch),
            &mut OsRng,
            &account.account_id,
            &device.secrets.public(),
            &device.secrets,
            head,
        );
        let body = json!({
            "epoch": epoch,
            "copies": [{ "device_id": device.id(), "sealed": b64(sealed.as_bytes()) }],
        });
        device.call(&http, "POST", "/v1/sync-keys", &body)
    };
    let started = hour();
    for epoch in 1..=20 {
        let reply = rotate(&device, epoch);
        assert_eq!(reply.status, 201, "rotation {epoch}: {:?}", reply.json());
    }
    let refused = rotate(&device, 21);
    if hour() != started {
        // The hour turned during the test: the budget started over, nothing to check.
        return;
    }
    assert_eq!(refused.status, 429, "{:?}", refused.json());
    assert_eq!(refused.error_code(), "too_many_sync_key_rotations");
    let retry_after = refused.retry_after();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    // Nothing was stored: the current epoch is still 20.
    let mine = device.get(&http, "/v1/sync-keys/mine");
    assert_eq!(mine["epoch"], 20);
}

#[test]
fn a_full_ledger_refuses_more_entries() {
    let server = Service::start_with(|config| config.max_ledger_entries = 3);
    let http = Http::new(server.addr);
    let (account, device) = sign_up(&http, "full", PASSWORD);
    // The genesis and two more fill it.
    for _ in 0..2 {
        enigm::add_device(&http, &device.session, account.account_id, &device.secrets);
    }
    let state = enigm::ledger(&http, &device.session, &device.secrets);
    assert_eq!(state.head().seq, 2);
    let (_, add) = enigm::add_device_entry(&state, &account.account_id, &device.secrets);
    let refused = device.call(
        &http,
        "POST",
        "/v1/ledger",
        &json!({ "entries": [b64(&add.encode())] }),
    );
    assert_eq!(refused.status, 409, "{:?}", refused.json());
    assert_eq!(refused.error_code(), "ledger_full");
    assert_eq!(refused.json()["error"]["max"], 3);
    let after = enigm::ledger(&http, &device.session, &device.secrets);
    assert_eq!(after.head(), state.head(), "nothing was appended");
}
