//! Changing the password at the HTTP level, in process on a manual clock: a session whose
//! password was proved more than the step-up window ago is refused (`step_up_required`) and a
//! fresh sign-in is not; a login started before the change cannot finish after it; the other
//! sessions end and the changing one stays.
use crate::common::enigm::{
    self, SignOptions, b64, login, login_finish, login_start, signed, unb64,
};
use crate::common::{Http, Response, Service};
use enigm_core::opaque::{
    ClientLoginFinishParameters, ClientRegistration, ClientRegistrationFinishParameters,
    CredentialResponse, RegistrationResponse,
};
use enigm_core::trust::Policy;
use enigm_proto::{LoginStartReply, PasswordFinish, PasswordStart, PasswordStartReply};
use rand_core::OsRng;

const OLD: &str = "the password before";
const NEW: &str = "the password after";

/// A device's session on the service, signing with the service's clock.
struct Signed<'a> {
    service: &'a Service,
    http: &'a Http,
    session: &'a enigm::Session,
    device: &'a enigm_core::identity::DeviceSecrets,
}

impl Signed<'_> {
    /// A signed POST with a JSON body, stamped with the service's clock.
    fn post(&self, path: &str, body: &impl serde::Serialize) -> Response {
        let options = SignOptions {
            timestamp: Some(self.service.clock.now()),
            ..SignOptions::default()
        };
        let body = serde_json::to_vec(body).unwrap();
        signed(
            self.http,
            self.session,
            self.device,
            "POST",
            path,
            &body,
            &options,
        )
    }

    /// Both steps of a change to `new`: the start's reply, and the finish's if the start was
    /// accepted.
    fn change(&self, new: &str) -> (Response, Option<Response>) {
        let start = ClientRegistration::start(&mut OsRng, new.as_bytes()).unwrap();
        let started = self.post(
            "/v1/accounts/password/start",
            &PasswordStart {
                registration_request: b64(&start.message.serialize()),
            },
        );
        if started.status != 200 {
            return (started, None);
        }
        let reply: PasswordStartReply = started.decode();
        let response =
            RegistrationResponse::deserialize(&unb64(&reply.registration_response)).unwrap();
        let finish = start
            .state
            .finish(
                &mut OsRng,
                new.as_bytes(),
                response,
                ClientRegistrationFinishParameters::default(),
            )
            .unwrap();
        let finished = self.post(
            "/v1/accounts/password/finish",
            &PasswordFinish {
                registration_id: reply.registration_id,
                registration_upload: b64(&finish.message.serialize()),
            },
        );
        (started, Some(finished))
    }
}

#[test]
fn a_change_needs_a_recent_sign_in_and_ends_every_other_session() {
    let service = Service::start();
    let http = Http::new(service.addr);
    let (account, earlier) = enigm::signed_up(&http, "pw.stepup", OLD);
    let device = &account.device;
    let as_session = |session| Signed {
        service: &service,
        http: &http,
        session,
        device,
    };

    // The step-up window passes: the session is still good for reading, not for this.
    service.clock.advance(Policy::DEFAULT_STEP_UP_WINDOW_SECS);
    let (refused, _) = as_session(&earlier).change(NEW);
    assert_eq!(refused.status, 403, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "step_up_required");

    // A login started with the old password before the change...
    let pending = login_start(&http, "pw.stepup", OLD);
    assert_eq!(pending.reply.status, 200);

    // ...and a fresh sign-in, which may change it.
    let fresh = login(&http, "pw.stepup", OLD, device).unwrap();
    let (started, finished) = as_session(&fresh).change(NEW);
    assert_eq!(started.status, 200, "{:?}", started.json());
    let finished = finished.unwrap();
    assert_eq!(finished.status, 200, "{:?}", finished.json());
    assert_eq!(finished.json()["sessions_ended"], 1);

    // The earlier session ended; the changing one stays.
    let options = SignOptions {
        timestamp: Some(service.clock.now()),
        ..SignOptions::default()
    };
    let ended = signed(
        &http,
        &earlier,
        device,
        "GET",
        "/v1/sessions/current",
        b"",
        &options,
    );
    assert_eq!(ended.status, 401);
    assert_eq!(ended.json()["error"]["code"], "unknown_session");
    let kept = signed(
        &http,
        &fresh,
        device,
        "GET",
        "/v1/sessions/current",
        b"",
        &options,
    );
    assert_eq!(kept.status, 200, "{:?}", kept.json());

    // The login started before the change cannot finish after it.
    let (late, _) = login_finish(&http, pending, OLD, device);
    assert_eq!(late.status, 401, "{:?}", late.json());
    assert_eq!(late.json()["error"]["code"], "login_expired");

    // The old password fails (OPAQUE does not finish against the new record); the new one
    // works.
    let old = login_start(&http, "pw.stepup", OLD);
    let response = CredentialResponse::deserialize(&unb64(
        &old.reply.decode::<LoginStartReply>().credential_response,
    ))
    .unwrap();
    assert!(
        old.state
            .finish(
                OLD.as_bytes(),
                response,
                ClientLoginFinishParameters::default()
            )
            .is_err(),
        "the old password still signs in"
    );
    login(&http, "pw.stepup", NEW, device).unwrap();
}
