//! TLS to PostgreSQL (DESIGN §13, §14): rustls, trusting the system's roots plus an optional
//! CA file (`--database-ca`, `ENIGM_DATABASE_CA`).
//!
//! The URL's `sslmode` decides whether TLS is used, as tokio-postgres reads it: `disable`
//! never, `prefer` (the default) when the server offers it, `require` always. Whenever TLS is
//! used the server's certificate is verified, chain and host name: the service never encrypts
//! to a server it cannot authenticate, so a self-signed server needs its CA given, or
//! `sslmode=disable` on a network that is trusted anyway.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::ServerError;

/// The connector every PostgreSQL connection of this node uses: the system's roots, plus the
/// certificates in the PEM file `ca_file` when given.
///
/// # Errors
/// [`ServerError::Config`] if `ca_file` cannot be read or holds no certificate.
pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, ServerError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped: the CA file may be all that is needed.
    let (added, _ignored) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    tracing::debug!(roots = added, "system roots for PostgreSQL TLS");
    if let Some(path) = ca_file {
        let unreadable = |what: &str| {
            ServerError::Config(format!(
                "--database-ca {}: {what}; give a PEM file of CA certificates",
                path.display()
            ))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|_| unreadable("cannot be read"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| unreadable("is not valid PEM"))?;
        if certs.is_empty() {
            return Err(unreadable("holds no certificate"));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|_| unreadable("holds an invalid certificate"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| ServerError::Internal(format!("TLS configuration: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_ca_file_is_a_clear_configuration_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let Err(error) = connector(Some(&missing)) else {
            panic!("a missing CA file was accepted");
        };
        assert!(matches!(error, ServerError::Config(_)));
        assert!(error.to_string().contains("cannot be read"), "{error}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let Err(error) = connector(Some(&empty)) else {
            panic!("an empty CA file was accepted");
        };
        assert!(
            error.to_string().contains("holds no certificate"),
            "{error}"
        );
        assert!(connector(None).is_ok());
    }
}
