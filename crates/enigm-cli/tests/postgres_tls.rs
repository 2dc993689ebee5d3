//! TLS to PostgreSQL for real (DESIGN §13, §14): a throwaway cluster with `ssl=on`, a CA and a
//! server certificate made with the `openssl` command, and `pg_hba.conf` refusing every
//! connection without TLS. A node given the CA connects (pool and push listener alike) and
//! serves; without the CA it refuses the unverifiable server; with `sslmode=disable` the
//! database refuses it.
//!
//! Needs Debian's PostgreSQL server binaries (`/usr/lib/postgresql/N/bin`) and `openssl`, as
//! `cargo xtask test` has; ignored by plain `cargo test`, and failing loudly when asked for
//! without them. As root the cluster runs as the `postgres` system user (initdb refuses root).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::enigm::{login, register};
use common::{Http, ServerProcess};

const PASSWORD: &str = "correct horse battery staple 42";

/// A PostgreSQL cluster in a temporary directory that accepts TLS connections only.
struct TlsCluster {
    bin: PathBuf,
    run_as: Option<&'static str>,
    dir: tempfile::TempDir,
    port: u16,
}

impl TlsCluster {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql/N/bin")
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").is_file())
            .max()
            .expect("no initdb under /usr/lib/postgresql/N/bin");
        let root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
            .unwrap()
            .trim()
            == "0";
        let run_as = root.then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("enigm-pg-tls-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            bin,
            run_as,
            dir,
            port,
        };
        cluster.make_certificates();
        if let Some(user) = run_as {
            run(Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(cluster.dir.path()));
        }
        let data = cluster.dir.path().join("data");
        run(cluster.command("initdb").arg("--pgdata").arg(&data).args([
            "--username",
            "enigm",
            "--auth",
            "trust",
            "--no-sync",
        ]));
        // TLS or nothing over TCP.
        let hba = "local all all trust\n\
                   hostssl all all 127.0.0.1/32 trust\n\
                   hostnossl all all 127.0.0.1/32 reject\n";
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        let path = |name: &str| cluster.dir.path().join(name).display().to_string();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c ssl=on \
             -c ssl_cert_file={} -c ssl_key_file={}",
            cluster.dir.path().display(),
            path("server.pem"),
            path("server.key"),
        );
        run(cluster
            .command("pg_ctl")
            .args(["start", "--wait", "--timeout", "60", "--pgdata"])
            .arg(&data)
            .arg("--log")
            .arg(cluster.dir.path().join("postgres.log"))
            .args(["-o", &options]));
        cluster
    }

    /// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(Command::new("openssl")
            .current_dir(dir)
            .args(["req", "-x509"])
            .args(key)
            .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"])
            .args(["-subj", "/CN=enigm-test-ca"]));
        run(Command::new("openssl")
            .current_dir(dir)
            .arg("req")
            .args(key)
            .args(["-keyout", "server.key", "-out", "server.csr"])
            .args(["-subj", "/CN=127.0.0.1"]));
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(Command::new("openssl").current_dir(dir).args([
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // PostgreSQL refuses a key others can read.
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
    }

    /// `program` from the server's bin directory, as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn url(&self, query: &str) -> String {
        format!("postgres://enigm@127.0.0.1:{}/postgres{query}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "--mode", "immediate", "--pgdata"])
            .arg(self.dir.path().join("data"))
            .output();
    }
}

/// Runs `command`; panics with its output unless it succeeds.
fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
}

/// `enigm server` that is expected to refuse to start; its output.
fn refused_start(data: &Path, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_enigm"))
        .args(["server", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "no listening line: {output:?}");
    output
}

#[test]
#[ignore = "needs PostgreSQL server binaries and openssl; run by cargo xtask test"]
fn nodes_reach_postgres_over_verified_tls_only() {
    let cluster = TlsCluster::start();
    let ca = cluster.ca().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // With the CA: TLS, verified; the node serves (its pool and its push listener both got in
    // through a pg_hba.conf that rejects plaintext). The default sslmode (prefer) uses TLS too.
    for query in ["?sslmode=require", ""] {
        let url = cluster.url(query);
        let node = ServerProcess::start_in(&data, &["--database", &url, "--database-ca", &ca]);
        let http = Http::new(node.addr);
        let username = format!("tls-{}", query.len());
        let account = register(&http, &username, PASSWORD);
        login(&http, &username, PASSWORD, &account.device).unwrap();
    }

    // Without the CA the server's certificate does not verify: no connection, clear error.
    let output = refused_start(&data, &["--database", &cluster.url("?sslmode=require")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");

    // Plaintext, when asked for, is refused by this database.
    let output = refused_start(
        &data,
        &[
            "--database",
            &cluster.url("?sslmode=disable"),
            "--database-ca",
            &ca,
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no encryption"), "{stderr}");
}
