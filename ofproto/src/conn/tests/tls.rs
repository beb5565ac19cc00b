//! TLS sessions with an rcgen-made PKI: one CA signing the switch's and
//! the controller's certificates, and a rogue CA for the negative cases.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::conn::tls::TlsConfigs;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A leaf usable for both client and server authentication (as in
    /// `ovs-pki`), named `name` (not a host name).
    fn issue(&self, name: &str) -> (String, String) {
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A temporary directory of PEM files, removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    fn new() -> Pki {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "switchd-conn-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Pki { dir }
    }

    /// Write `key`, `cert` and `ca` as the three files of an identity.
    fn identity(&self, name: &str, (cert, key): &(String, String), ca: &Ca) -> TlsFiles {
        let files = TlsFiles {
            private_key: self.dir.join(format!("{name}-privkey.pem")),
            certificate: self.dir.join(format!("{name}-cert.pem")),
            ca_certificate: self.dir.join(format!("{name}-cacert.pem")),
        };
        std::fs::write(&files.private_key, key).unwrap();
        std::fs::write(&files.certificate, cert).unwrap();
        std::fs::write(&files.ca_certificate, ca.cert.pem()).unwrap();
        files
    }
}

fn start_tls(targets: &[&str], files: TlsFiles) -> Controllers {
    let targets = targets.iter().map(|t| t.parse().unwrap()).collect();
    Controllers::start_with(
        targets,
        Some(files),
        Arc::new(TestSwitch::default()),
        &tokio::runtime::Handle::current(),
        test_options(),
    )
    .unwrap()
}

/// A client config presenting no certificate but trusting `ca`.
fn anonymous_client(ca: &Ca) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert.pem().as_bytes()).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn tls_connect(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config)
        .connect(crate::conn::tls::server_name("switch"), tcp)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pssl_with_mutual_certificates() {
    let ca = Ca::new("openflow ca");
    let pki = Pki::new();
    let switch = pki.identity("switch", &ca.issue("switch"), &ca);
    let controller = pki.identity("ctl", &ca.issue("controller"), &ca);
    let c = start_tls(&["pssl:0:127.0.0.1"], switch);
    let addr = listen_addr(&c).await;

    // The controller's own configuration built by the same loader: it
    // presents its certificate and verifies the switch against the CA.
    let TlsConfigs { client, .. } = controller.load().unwrap();
    let stream = tls_connect(client, addr).await.unwrap();
    let mut ctl = FakeController::new(stream);
    ctl.handshake().await;
    let (h, msg) = ctl.request(11, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 11);
    wait_for(|| (c.connected() == 1).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pssl_refuses_client_without_certificate() {
    let ca = Ca::new("openflow ca");
    let pki = Pki::new();
    let switch = pki.identity("switch", &ca.issue("switch"), &ca);
    let c = start_tls(&["pssl:0:127.0.0.1"], switch);
    let addr = listen_addr(&c).await;

    // With TLS 1.3 the client may finish its side of the handshake before
    // the server rejects it; either way no OpenFlow byte ever arrives.
    if let Ok(stream) = tls_connect(Arc::new(anonymous_client(&ca)), addr).await {
        let mut ctl = FakeController::new(stream);
        assert!(ctl.recv_frame().await.is_none(), "refused client got data");
    }
    let err = wait_for(|| c.status()[0].last_error.clone()).await;
    assert!(err.contains("TLS handshake"), "{err}");
    assert_eq!(c.connected(), 0);
    assert!(c.status()[0].connections.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pssl_refuses_certificate_from_another_ca() {
    let ca = Ca::new("openflow ca");
    let rogue = Ca::new("rogue ca");
    let pki = Pki::new();
    let switch = pki.identity("switch", &ca.issue("switch"), &ca);
    // Signed by the rogue CA, but trusting the real one.
    let intruder = pki.identity("intruder", &rogue.issue("controller"), &ca);
    let c = start_tls(&["pssl:0:127.0.0.1"], switch);
    let addr = listen_addr(&c).await;
    let TlsConfigs { client, .. } = intruder.load().unwrap();
    if let Ok(stream) = tls_connect(client, addr).await {
        let mut ctl = FakeController::new(stream);
        assert!(ctl.recv_frame().await.is_none(), "intruder got data");
    }
    wait_for(|| c.status()[0].last_error.clone()).await;
    assert_eq!(c.connected(), 0);
}

/// A TLS controller listening on 127.0.0.1 and requiring a client
/// certificate signed by `ca`.
async fn tls_controller(pki: &Pki, ca: &Ca, leaf: &(String, String)) -> (TcpListener, TlsAcceptor) {
    let files = pki.identity("controller-server", leaf, ca);
    let TlsConfigs { server, .. } = files.load().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (listener, TlsAcceptor::from(server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_active_connects_to_tls_controller() {
    let ca = Ca::new("openflow ca");
    let pki = Pki::new();
    let (listener, acceptor) = tls_controller(&pki, &ca, &ca.issue("controller")).await;
    let addr = listener.local_addr().unwrap();
    let switch = pki.identity("switch", &ca.issue("switch"), &ca);
    let c = start_tls(&[&format!("ssl:{addr}")], switch);

    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    // The switch presented a certificate the controller's CA accepts.
    let stream = acceptor.accept(tcp).await.unwrap();
    let (_, session) = stream.get_ref();
    assert!(session.peer_certificates().is_some_and(|c| !c.is_empty()));
    let mut ctl = FakeController::new(stream);
    ctl.handshake().await;
    let (h, msg) = ctl.request(5, &Message::FeaturesRequest).await;
    features_request_reply_ok(&h, &msg, 5);
    wait_for(|| (c.connected() == 1).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_active_refuses_controller_from_another_ca() {
    let ca = Ca::new("openflow ca");
    let rogue = Ca::new("rogue ca");
    let pki = Pki::new();
    // The fake controller's certificate is signed by the rogue CA.
    let (listener, acceptor) = tls_controller(&pki, &ca, &rogue.issue("controller")).await;
    let addr = listener.local_addr().unwrap();
    let switch = pki.identity("switch", &ca.issue("switch"), &ca);
    let c = start_tls(&[&format!("ssl:{addr}")], switch);
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    assert!(acceptor.accept(tcp).await.is_err());
    let err = wait_for(|| c.status()[0].last_error.clone()).await;
    assert!(err.contains("TLS handshake"), "{err}");
    assert_eq!(c.connected(), 0);
}

#[test]
fn load_reports_missing_and_empty_files() {
    let pki = Pki::new();
    let ca = Ca::new("ca");
    let mut files = pki.identity("x", &ca.issue("x"), &ca);
    assert!(files.load().is_ok());
    std::fs::write(&files.certificate, "").unwrap();
    assert!(matches!(files.load(), Err(TlsError::NoCertificate(_))));
    files.private_key = pki.dir.join("absent.pem");
    assert!(matches!(files.load(), Err(TlsError::Pem { .. })));
    // The key parser accepts what rcgen writes.
    let (_, key) = ca.issue("y");
    assert!(PrivateKeyDer::from_pem_slice(key.as_bytes()).is_ok());
}
