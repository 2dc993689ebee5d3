//! Coarse last seen (`GET /v1/devices/seen`) against the real `enigm server`: a device is
//! listed by the day it last made a request, only once the ledger knows it, and only to the
//! account's own trusted devices.

use crate::common;

use common::enigm::{self, Device, login, now, sign_up};
use common::{Http, Service};
use enigm_core::identity::DeviceSecrets;
use rand_core::OsRng;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple 42";

/// Days since the Unix epoch, as the service counts them.
fn today() -> u64 {
    now() / 86_400
}

/// The (device id, day) pairs `device` reads.
fn seen(http: &Http, device: &Device) -> Vec<(String, u64)> {
    device.get(http, "/v1/devices/seen")["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["device_id"].as_str().unwrap().to_owned(),
                item["seen_day"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Asserts `list` holds exactly `devices`, each seen on a day between `from` and today.
fn assert_seen(list: &[(String, u64)], devices: &[&str], from: u64) {
    let mut ids: Vec<&str> = list.iter().map(|(id, _)| id.as_str()).collect();
    let mut wanted = devices.to_vec();
    ids.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(ids, wanted, "{list:?}");
    for (_, day) in list {
        assert!(
            (from..=today()).contains(day),
            "seen on day {day}: {list:?}"
        );
    }
}

#[test]
fn devices_are_seen_to_the_day_once_the_ledger_knows_them_and_only_by_their_account() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let from = today();
    let (account, laptop) = sign_up(&http, "seen", PASSWORD);
    assert_seen(&seen(&http, &laptop), &[&laptop.id()], from);

    // Approved, but it has not signed in yet: not seen.
    let phone = enigm::add_device(&http, &laptop.session, account.account_id, &laptop.secrets);
    assert_seen(&seen(&http, &laptop), &[&laptop.id()], from);

    // A key that has only asked to enroll may not read it and leaves no trace in it.
    let stranger = DeviceSecrets::generate(&mut OsRng);
    let stranger = Device {
        session: login(&http, &account.username, PASSWORD, &stranger).unwrap(),
        secrets: stranger,
    };
    assert_eq!(stranger.session.kind, "enrollment_restricted");
    stranger.refused(
        &http,
        "GET",
        "/v1/devices/seen",
        Value::Null,
        403,
        "trust_denied",
    );
    assert_seen(&seen(&http, &laptop), &[&laptop.id()], from);

    // Once the phone signs in, both devices see it.
    let phone = Device {
        session: login(&http, &account.username, PASSWORD, &phone).unwrap(),
        secrets: phone,
    };
    let both = [laptop.id(), phone.id()];
    let both: Vec<&str> = both.iter().map(String::as_str).collect();
    assert_seen(&seen(&http, &laptop), &both, from);
    assert_seen(&seen(&http, &phone), &both, from);

    // Another account sees only its own device; nobody reads it unsigned.
    let (_, elsewhere) = sign_up(&http, "seen-elsewhere", PASSWORD);
    assert_seen(&seen(&http, &elsewhere), &[&elsewhere.id()], from);
    let unsigned = http.get("/v1/devices/seen");
    assert_eq!(unsigned.status, 401, "{:?}", unsigned.json());
}
