//! Online password guessing against the real `enigm server` (DESIGN §3, §14): every route that
//! evaluates an account's OPAQUE key draws on that account's guess budget, no other route
//! evaluates it, concurrent attempts cannot overdraw the budget, and a stranger who keeps the
//! budget spent cannot lock out the owner, whose enrolled device has a budget of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common;

use common::enigm::{self, add_device, b64, fresh_username, login_start, now, register, unb64};
use common::{Http, Service};
use enigm_core::audit::{AuditAction, AuditRecord};
use enigm_core::identity::DeviceSecrets;
use enigm_core::ledger::RevokeReason;
use enigm_core::opaque::{CREDENTIAL_FINALIZATION_LEN, ClientLogin, ClientRegistration};
use rand_core::{CryptoRng, RngCore};
use serde_json::json;
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery staple 42";

/// A repeatable byte stream: two OPAQUE client starts fed the same seed blind the same password
/// with the same scalar, so the service's two evaluations of it can be compared.
struct ReplayRng {
    seed: [u8; 32],
    counter: u64,
}

impl ReplayRng {
    fn new(seed: u8) -> Self {
        Self {
            seed: [seed; 32],
            counter: 0,
        }
    }
}

impl RngCore for ReplayRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ReplayRng {}

/// The OPRF evaluation (the first 32 bytes of a registration or credential response) that the
/// service returns for `guess` blinded with the scalar `seed` gives, at `path`.
fn evaluation(http: &Http, path: &str, username: &str, guess: &str, seed: u8) -> Vec<u8> {
    let (field, request) = if path.ends_with("login/start") {
        let start = ClientLogin::start(&mut ReplayRng::new(seed), guess.as_bytes()).unwrap();
        ("credential_request", start.message.serialize().to_vec())
    } else {
        let start = ClientRegistration::start(&mut ReplayRng::new(seed), guess.as_bytes()).unwrap();
        ("registration_request", start.message.serialize().to_vec())
    };
    let reply = http.post_json(path, &json!({ "username": username, field: b64(&request) }));
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.json());
    let response = if path.ends_with("login/start") {
        "credential_response"
    } else {
        "registration_response"
    };
    unb64(reply.json()[response].as_str().unwrap())[..32].to_vec()
}

/// A service that lets an account `free` wrong guesses before a backoff of ten minutes.
fn with_free_guesses(free: u32) -> Service {
    Service::start_with(|config| {
        config.account_backoff.free = free;
        config.account_backoff.base_secs = 600;
    })
}

#[test]
fn registration_and_recovery_starts_evaluate_no_existing_password() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let username = fresh_username("oracle");
    register(&http, &username, PASSWORD);

    // What a login start gives for this blinded guess is what the account's envelope opens
    // with: an attacker holding one login reply needs only more evaluations like it to test
    // guesses offline. Registration and recovery starts must not give them.
    let login = evaluation(&http, "/v1/sessions/login/start", &username, "guess", 7);
    for path in ["/v1/accounts/register/start", "/v1/recovery/start"] {
        let first = evaluation(&http, path, &username, "guess", 7);
        assert_ne!(first, login, "{path} evaluates the account's own OPRF key");
        let again = evaluation(&http, path, &username, "guess", 7);
        assert_ne!(again, first, "{path} evaluates one key twice");
    }
}

#[test]
fn registration_finishes_only_from_a_start_of_the_same_username() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let username = fresh_username("bound");
    // A finish that names no start, a forged one, or another username's, is refused and
    // creates nothing; the genuine one then still works.
    let refused = |registration_id: Option<&str>| {
        let reply = enigm::try_register_with(&http, &username, PASSWORD, |start_id| {
            registration_id.map_or_else(|| start_id.to_owned(), str::to_owned)
        });
        reply.err().unwrap()
    };
    let missing = http.post_json(
        "/v1/accounts/register/finish",
        &json!({ "username": username, "registration_upload": "", "genesis": "" }),
    );
    missing.assert_refused(400, "malformed_request");
    let forged = refused(Some(&b64(&[0u8; 56])));
    assert_eq!(
        (forged.status, forged.error_code().as_str()),
        (401, "registration_expired"),
        "{:?}",
        forged.json()
    );
    let other = enigm::registration_id(&http, &fresh_username("other"));
    let swapped = refused(Some(&other));
    assert_eq!(swapped.error_code(), "registration_expired");
    assert_eq!(
        login_start(&http, &username, PASSWORD).reply.status,
        200,
        "nothing was registered (a login start answers alike either way)"
    );
    register(&http, &username, PASSWORD);
}

#[test]
fn concurrent_login_starts_stop_at_the_account_budget() {
    let server = with_free_guesses(3);
    let username = Arc::new(fresh_username("race"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let (username, accepted) = (Arc::clone(&username), Arc::clone(&accepted));
            let addr = server.addr;
            std::thread::spawn(move || {
                let reply = login_start(&Http::new(addr), &username, PASSWORD).reply;
                if reply.status == 200 {
                    accepted.fetch_add(1, Ordering::SeqCst);
                } else {
                    assert_eq!(reply.error_code(), "rate_limited", "{:?}", reply.json());
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // Three free attempts and the one that starts the wait.
    let accepted = accepted.load(Ordering::SeqCst);
    assert!(
        accepted <= 4,
        "{accepted} of 200 concurrent starts got through"
    );
}

#[test]
fn a_stranger_spending_the_budget_cannot_lock_out_the_owners_device() {
    let server = with_free_guesses(2);
    let http = Http::new(server.addr);
    let username = fresh_username("owner");
    let (account, owner) = enigm::signed_up(&http, &username, PASSWORD);
    // A device the owner lost, and the thief's session on it.
    let stolen = add_device(&http, &owner, account.account_id, &account.device);
    let thief = enigm::login(&http, &username, PASSWORD, &stolen).unwrap();

    // A stranger keeps the account's budget spent.
    let mut refusals = 0;
    for _ in 0..20 {
        if login_start(&http, &username, "guess").reply.status == 429 {
            refusals += 1;
        }
    }
    assert!(refusals >= 17, "the stranger was refused {refusals} times");
    assert_eq!(
        login_start(&http, &username, PASSWORD).reply.status,
        429,
        "an unsigned start, even with the right password, waits like the stranger's"
    );

    // The owner's enrolled device proves its key and signs in anyway, then revokes the
    // stolen device, whose session stops working at once.
    let owner = enigm::device_login(&http, &username, PASSWORD, &account.device).unwrap();
    assert_eq!(owner.kind, "full");
    enigm::revoke(
        &http,
        &owner,
        &account.account_id,
        &account.device,
        &stolen,
        RevokeReason::Stolen,
    );
    let refused = enigm::send(&http, &thief, &stolen, "GET", "/v1/sessions/current", b"");
    assert_eq!(
        refused.error_code(),
        "device_removed",
        "{:?}",
        refused.json()
    );

    // The stolen key has no such way around the limit: it is no longer in the ledger.
    let thief_again = enigm::device_login(&http, &username, PASSWORD, &stolen)
        .err()
        .unwrap();
    assert_eq!(thief_again.error_code(), "rate_limited");
}

#[test]
fn a_device_signed_start_draws_only_on_its_own_budget() {
    let server = with_free_guesses(2);
    let http = Http::new(server.addr);
    let username = fresh_username("own-budget");
    let account = register(&http, &username, PASSWORD);
    // A device's wrong guesses are limited like anyone's...
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(enigm::device_login_start(&http, &username, "guess", &account.device).status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // ...and a stale signature proves nothing: such starts are plain ones, drawing on the
    // account's shared budget, which they then spend like anyone's.
    let stale: Vec<u16> = (0..4)
        .map(|_| {
            enigm::device_login_start_with(
                &http,
                &username,
                PASSWORD,
                &account.device,
                now() - 3600,
            )
            .status
        })
        .collect();
    assert_eq!(stale, [200, 200, 200, 429]);
    assert_eq!(login_start(&http, &username, PASSWORD).reply.status, 429);
}

/// The audit records of `account`'s own export, as `device` reads them through `session`.
fn audit_actions(
    http: &Http,
    session: &enigm::Session,
    device: &DeviceSecrets,
) -> Vec<AuditAction> {
    let export = enigm::send(http, session, device, "GET", "/v1/audit/export", b"").json();
    export["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            serde_json::from_value::<AuditRecord>(record.clone())
                .unwrap()
                .action
        })
        .collect()
}

#[test]
fn a_failed_login_is_audited_off_the_request_path() {
    let server = Service::start();
    let http = Http::new(server.addr);
    let username = fresh_username("failed");
    let account = register(&http, &username, PASSWORD);
    let started = login_start(&http, &username, PASSWORD);
    let reply = http.post_json(
        "/v1/sessions/login/finish",
        &json!({
            "login_id": started.login_id,
            "credential_finalization": b64(&[0u8; CREDENTIAL_FINALIZATION_LEN]),
            "device_key": b64(account.device.public().signing.as_bytes()),
            "device_signature": b64(&[0u8; 64]),
        }),
    );
    assert_eq!(reply.error_code(), "invalid_credentials");
    let owner = enigm::login(&http, &username, PASSWORD, &account.device).unwrap();
    // Written by a task of its own: it lands soon after the answer, not before it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let actions = audit_actions(&http, &owner, &account.device);
        if actions.contains(&AuditAction::LoginFailed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no login_failed record: {actions:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_block_window_is_audited_once() {
    let server = with_free_guesses(2);
    let http = Http::new(server.addr);
    let username = fresh_username("audited");
    let account = register(&http, &username, PASSWORD);
    for _ in 0..40 {
        login_start(&http, &username, "guess");
    }
    let owner = enigm::device_login(&http, &username, PASSWORD, &account.device).unwrap();
    // The record is written by a task of its own, soon after the attempt that started the wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let limited = audit_actions(&http, &owner, &account.device)
            .into_iter()
            .filter(|action| *action == AuditAction::LoginRateLimited)
            .count();
        if limited > 0 || Instant::now() > deadline {
            assert_eq!(
                limited, 1,
                "40 guesses in one block window are one audit record"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether 31 registration starts (the source's free attempts and the one that starts its
/// wait) go through and one more is refused, all claiming to come from `client` through a
/// proxy: its own whole budget.
fn registration_starts_from(http: &Http, client: &str) -> bool {
    let mut statuses = Vec::new();
    for n in 0..32 {
        let start = ClientRegistration::start(&mut ReplayRng::new(n), b"pw").unwrap();
        let body = json!({
            "username": fresh_username("proxied"),
            "registration_request": b64(&start.message.serialize()),
        })
        .to_string();
        let reply = http.request(
            "POST",
            "/v1/accounts/register/start",
            &[("X-Forwarded-For", client)],
            body.as_bytes(),
        );
        statuses.push(reply.status);
    }
    statuses[..31].iter().all(|status| *status == 200) && statuses[31] == 429
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_source_budget() {
    let server = Service::start_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]
    });
    let http = Http::new(server.addr);
    assert!(registration_starts_from(&http, "198.51.100.1"));
    // Another client behind the same proxy is counted apart...
    assert!(registration_starts_from(&http, "198.51.100.2"));
    let other = http.post_json(
        "/v1/accounts/register/start",
        &json!({ "username": "x", "registration_request": "" }),
    );
    assert_ne!(other.status, 429, "the proxy itself is not a client");

    // ...while a service that does not trust the proxy ignores what it claims.
    let untrusting = Service::start();
    let http = Http::new(untrusting.addr);
    assert!(registration_starts_from(&http, "198.51.100.1"));
    let next = http.request(
        "POST",
        "/v1/accounts/register/start",
        &[("X-Forwarded-For", "198.51.100.9")],
        br#"{"username":"x","registration_request":""}"#,
    );
    assert_eq!(
        next.status, 429,
        "a forwarded header from an untrusted peer picks no bucket"
    );
}
