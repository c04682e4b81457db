//! Serving HTTPS directly: rustls with the aws-lc-rs provider, from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain from {path}: {reason}")]
    Certificates { path: PathBuf, reason: String },
    #[error("{path} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks, the server's first)")]
    NoCertificate { path: PathBuf },
    #[error("cannot read a private key from {path} (PKCS#8, PKCS#1 or SEC1 PEM): {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's TLS settings from a PEM certificate chain (server certificate first, then
/// intermediates) and its private key. TLS 1.2 and 1.3 are offered (Windows PowerShell 5.1
/// still speaks 1.2), HTTP/1.1 only, as the server speaks nothing else.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificates { path: cert.to_owned(), reason: e.to_string() })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { path: cert.to_owned() });
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key { path: key.to_owned(), reason: e.to_string() })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certificates, private_key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
