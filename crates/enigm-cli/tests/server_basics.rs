//! The real `enigm server` over loopback: startup line, health, error shapes, limits, its flags,
//! shutdown.

use crate::common;

use common::enigm::login_start;
use common::{Http, ServerProcess};

const PASSWORD: &str = "correct horse battery staple 42";

#[test]
fn serves_health_and_stops_on_sigterm() {
    let mut server = ServerProcess::start();
    let http = Http::new(server.addr);
    let health = http.get("/v1/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    for name in ["pepper", "pseudonym-master", "enigm.db"] {
        assert!(server.data_dir.join(name).exists(), "{name} created");
    }
    let status = server.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serves_the_document_it_was_built_with() {
    let server = ServerProcess::start();
    let served = Http::new(server.addr).get("/v1/openapi.json");
    assert_eq!(served.status, 200);
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
    assert_eq!(served.json(), committed);
}

#[test]
fn errors_have_one_shape() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);

    let missing = http.get("/v1/nothing-here");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "not_found");
    assert!(missing.json()["error"]["message"].is_string());

    // A path that exists, with a method it does not take: 405, so a client can tell a typo in
    // the path from a wrong method.
    let wrong_method = http.request("DELETE", "/v1/health", &[], b"");
    assert_eq!(wrong_method.status, 405, "{:?}", wrong_method.json());
    assert_eq!(wrong_method.error_code(), "method_not_allowed");

    let huge = vec![b'x'; 1024 * 1024];
    let too_large = http.request("POST", "/v1/health", &[], &huge);
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.error_code(), "payload_too_large");
}

#[test]
fn bad_or_unreachable_database_is_refused_without_the_password() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        (
            "postgres://enigm:s3cret-pw@localhost:notaport/enigm".to_owned(),
            "not a valid PostgreSQL URL",
        ),
        (
            format!("postgres://enigm:s3cret-pw@127.0.0.1:{port}/enigm"),
            "storage unavailable: postgres",
        ),
    ];
    for (url, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_enigm"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path())
            .args(["--database", &url])
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "no listening line");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "gave up in bounded time"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    }
}

#[test]
fn trusted_proxies_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .args(["--trusted-proxy", "10.0.0.0/33"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no listening line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ADDRESS/PREFIX"), "{stderr}");

    let server = ServerProcess::start_in(
        &dir.path().join("data"),
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "fd00::/8",
        ],
    );
    let http = Http::new(server.addr);
    let health = http.request(
        "GET",
        "/v1/health",
        &[("X-Forwarded-For", "203.0.113.9")],
        b"",
    );
    assert_eq!(health.status, 200);
}

/// A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`.
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=enigm",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    (cert, key)
}

#[test]
fn serves_https_with_its_own_certificate() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "service");
    let (_, other_key) = self_signed(dir.path(), "other");
    let server = |key: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_enigm"))
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    // A key that is not the certificate's is refused at start.
    let refused = server(&other_key).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("do not go together"), "{stderr}");

    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Killed(server(&key));
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let curl = |url: &str| {
        std::process::Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20", "--cacert"])
            .arg(&cert)
            .arg(url)
            .output()
            .unwrap()
    };
    let health = curl(&format!("{url}/v1/health"));
    assert!(health.status.success(), "{health:?}");
    assert!(String::from_utf8_lossy(&health.stdout).contains("\"ok\""));
    // Handlers that key by the peer address see it over TLS too: a bad body is refused as
    // malformed, not as an internal error.
    let login = std::process::Command::new("curl")
        .args(["--silent", "--max-time", "20", "--cacert"])
        .arg(&cert)
        .args(["-H", "content-type: application/json", "--data", "{}"])
        .arg(format!("{url}/v1/sessions/login/start"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&login.stdout);
    assert!(body.contains("malformed_request"), "{body}");
    // Plain HTTP on the same port gets no answer.
    let plain = curl(&format!("{}/v1/health", url.replace("https://", "http://")));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"ok\""));
}

#[test]
fn the_login_limits_follow_the_server_flags() {
    let server =
        ServerProcess::start_with(&["--login-free-attempts", "1", "--login-backoff-secs", "600"]);
    let http = Http::new(server.addr);
    // One free attempt, then one that starts the ten-minute wait, then refusals.
    assert_eq!(login_start(&http, "dave", PASSWORD).reply.status, 200);
    assert_eq!(login_start(&http, "dave", PASSWORD).reply.status, 200);
    let limited = login_start(&http, "dave", PASSWORD).reply;
    limited.assert_refused(429, "rate_limited");
    let retry_after = limited.json()["error"]["retry_after"].as_u64().unwrap();
    assert!((599..=600).contains(&retry_after), "{retry_after}");
}
