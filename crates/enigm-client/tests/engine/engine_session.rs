//! The engine's session against the service: the status names the account's
//! recovery epoch, and signing out ends the session at the service (the old session is refused
//! afterwards) and here; with the service down, the session is forgotten here and the answer
//! says the service was not told.

use crate::common;

use common::enigm;
use common::{Http, Profile, Service};
use enigm_client::{Engine, SignOut};
use zeroize::Zeroizing;

use common::PASSWORD;

/// The session is forgotten here: none is saved, and the engine says it is signed out.
async fn assert_signed_out_here(profile: &Profile, engine: &Engine) {
    assert!(
        profile.saved_session().is_none(),
        "the session is forgotten"
    );
    assert_eq!(
        engine.session_status().await.unwrap_err().code(),
        "signed_out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_ends_the_session_at_the_service_and_here() {
    let server = Service::start();
    let (profile, engine) = Profile::registered(&server, "dana.signout").await;

    let status = engine.session_status().await.unwrap();
    assert_eq!(status.recovery_epoch, 0, "{status:?}");
    let session = profile.saved_session().expect("registering signs in");

    assert_eq!(engine.sign_out().await.unwrap(), SignOut::Ended);
    assert_signed_out_here(&profile, &engine).await;
    let http = Http::new(server.addr);
    let refused = enigm::send(
        &http,
        &session,
        &profile.device,
        "GET",
        "/v1/sessions/current",
        b"",
    );
    assert_eq!(refused.status, 401, "the service still honours the session");
    assert_eq!(refused.error_code(), "unknown_session");
    assert_eq!(
        engine.sign_out().await.unwrap_err().code(),
        "signed_out",
        "signing out twice says there is nothing to end"
    );

    // Signing in again works as before.
    engine
        .login("dana.signout", &Zeroizing::new(PASSWORD.to_owned()))
        .await
        .unwrap();
    assert!(engine.session_status().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_offline_forgets_the_session_here_and_says_so() {
    let mut server = Service::start();
    let (profile, engine) = Profile::registered(&server, "erin.offline").await;
    server.stop();

    assert_eq!(engine.sign_out().await.unwrap(), SignOut::ForgottenLocally);
    assert_signed_out_here(&profile, &engine).await;
}
