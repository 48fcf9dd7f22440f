//! TLS termination (`server.tls = { cert, key }`): the rustls server config built once at
//! start-up from PEM files, offering HTTP/2 and HTTP/1.1 by ALPN.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::app::StartError;
use crate::config::TlsSettings;

/// The acceptor for `settings`: the certificate chain and key read and checked now, so that a
/// bad file stops the start rather than every handshake.
pub(super) fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor, StartError> {
    let problem = |what: String| StartError::Tls(what);
    let certs = CertificateDer::pem_file_iter(&settings.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| {
            problem(format!(
                "cannot read certificates from {}: {err}",
                settings.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(problem(format!(
            "{} holds no PEM certificate",
            settings.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key).map_err(|err| {
        problem(format!(
            "cannot read a private key from {}: {err}",
            settings.key.display()
        ))
    })?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| problem(format!("the certificate and key do not fit: {err}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
