//! Setting a removed computer up again (the removed screen's way out): the engine allows it
//! only on a profile whose membership ended and whose keys are gone, never on a working one.
//! Two real profiles in the real keychain against a real `enigm server`.

use crate::common;

use common::cli::{enigm, failed_code, listed_this_device, ok, register, url};
use common::running::{PASSWORD, enroll_and_approve};
use enigm_client::Engine;

#[test]
#[ignore = "needs a Secret Service session (the real keychain); run by cargo xtask test"]
fn only_a_removed_computer_may_be_set_up_again() {
    let (server, _home, [laptop, phone]) = common::server_and_profiles(["laptop", "phone"]);
    ok(&register(&laptop, &server, "again.user", PASSWORD));
    enroll_and_approve(&server, &laptop, &phone, "again.user");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = |profile: &std::path::Path| {
        runtime.block_on(async {
            let engine = Engine::open(profile, &url(&server)).await.unwrap();
            engine
                .ensure_removed()
                .await
                .err()
                .map(|error| error.code().to_owned())
        })
    };
    assert_eq!(
        refused(&phone).as_deref(),
        Some("not_allowed"),
        "a working member"
    );

    let list = ok(&enigm(&laptop, &server, &["device", "list"], ""));
    let phone_id = listed_this_device(&list, false)["device_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&enigm(
        &laptop,
        &server,
        &["device", "revoke", &phone_id],
        "",
    ));
    assert_eq!(
        failed_code(&enigm(&phone, &server, &["device", "list"], "")),
        "device_revoked"
    );
    assert_eq!(
        refused(&phone),
        None,
        "removed, keys gone: it may start over"
    );
    assert_eq!(refused(&laptop).as_deref(), Some("not_allowed"));
}
