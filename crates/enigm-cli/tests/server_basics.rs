//! The real `enigm server` over loopback: startup line, health, error shapes, limits, shutdown.

mod common;

use common::{Http, ServerProcess};

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
fn errors_have_one_shape() {
    let server = ServerProcess::start();
    let http = Http::new(server.addr);

    let missing = http.get("/v1/nothing-here");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "not_found");
    assert!(missing.json()["error"]["message"].is_string());

    let wrong_method = http.request("DELETE", "/v1/health", &[], b"");
    assert_eq!(wrong_method.status, 404, "{:?}", wrong_method.json());
    assert_eq!(wrong_method.error_code(), "not_found");

    let huge = vec![b'x'; 1024 * 1024];
    let too_large = http.request("POST", "/v1/health", &[], &huge);
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.error_code(), "payload_too_large");
}

#[test]
fn database_url_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(["--database", "postgres://localhost/enigm"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no listening line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PostgreSQL backend is not available yet"),
        "{stderr}"
    );
}
