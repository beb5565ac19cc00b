//! TLS for `ssl:` and `pssl:` controller targets, with mutual
//! authentication both ways.
//!
//! The switch is configured like Open vSwitch's `set-ssl`: three PEM files,
//! its private key, its certificate (chain), and the CA certificate(s) that
//! signed the controllers' certificates. From them [`TlsFiles::load`] builds
//! one rustls client configuration (for `ssl:`, the switch connects out)
//! and one server configuration (for `pssl:`, controllers connect in).
//!
//! The one idea: trust comes from the CA, not from names. Both directions
//! present a certificate and both verify the peer's chain against the CA:
//! the listening side refuses a controller without a certificate signed by
//! the CA, the connecting side refuses a controller whose chain does not
//! lead to the CA. Like Open vSwitch, and unlike a web browser, the switch
//! does not match the controller's certificate against the host name in the
//! target (OpenFlow PKIs, `ovs-pki` among them, name certificates after
//! switches and controllers, not DNS names): the CA is dedicated to the
//! OpenFlow network, so being signed by it is the credential. Expiry,
//! signatures and key usage are checked as usual.
//!
//! Only the `ring` crypto provider is used, passed explicitly, so nothing
//! depends on a process-wide default provider.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The three PEM files of the switch's TLS identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsFiles {
    /// The switch's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// The switch's certificate, optionally followed by intermediates.
    pub certificate: PathBuf,
    /// The CA certificate(s) that controllers' certificates chain to.
    pub ca_certificate: PathBuf,
}

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read PEM {what} from {path}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    #[error("CA certificate in {path} rejected")]
    BadCa {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("building the TLS {side} configuration")]
    Config {
        side: &'static str,
        #[source]
        source: rustls::Error,
    },
    #[error("building the client certificate verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Ready-to-use rustls configurations for both directions.
#[derive(Clone)]
pub struct TlsConfigs {
    /// For `ssl:` targets (the switch is the TLS client).
    pub client: Arc<ClientConfig>,
    /// For `pssl:` targets (the switch is the TLS server).
    pub server: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfigs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigs").finish_non_exhaustive()
    }
}

fn read_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |source| TlsError::Pem {
        what,
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsFiles {
    /// Read the three files and build both configurations.
    pub fn load(&self) -> Result<TlsConfigs, TlsError> {
        let key =
            PrivateKeyDer::from_pem_file(&self.private_key).map_err(|source| TlsError::Pem {
                what: "private key",
                path: self.private_key.clone(),
                source,
            })?;
        let chain = read_certs(&self.certificate, "certificate")?;
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&self.ca_certificate, "CA certificate")? {
            roots.add(ca).map_err(|source| TlsError::BadCa {
                path: self.ca_certificate.clone(),
                source,
            })?;
        }
        let roots = Arc::new(roots);
        let provider = provider();

        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build()?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config {
                side: "server",
                source,
            })?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|source| TlsError::Config {
                side: "server",
                source,
            })?;

        let webpki =
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build()?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config {
                side: "client",
                source,
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CaOnlyVerifier(webpki)))
            .with_client_auth_cert(chain, key)
            .map_err(|source| TlsError::Config {
                side: "client",
                source,
            })?;
        Ok(TlsConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }
}

/// The name to present in SNI for an active target's host.
pub fn server_name(host: &str) -> ServerName<'static> {
    // Names are not matched (see the module docs), so any placeholder
    // works for a host that is neither a DNS name nor an address.
    ServerName::try_from(host.to_string())
        .unwrap_or(ServerName::IpAddress(Ipv4Addr::UNSPECIFIED.into()))
}

/// Full WebPKI chain verification against the CA, minus the host-name
/// match (see the module docs).
#[derive(Debug)]
struct CaOnlyVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
