//! Finding and connecting to switchd's API.
//!
//! switchd serves gRPC on a Unix socket (STATE_DIR/switchd.sock, mode
//! 0600), so a connection needs no address, no TLS and no credentials
//! beyond file permissions. The one idea: tonic speaks HTTP/2 over any
//! byte stream a connector hands it, so the Unix socket is just a
//! connector (`service_fn` that opens a `UnixStream`), and the URI the
//! channel is built with is a placeholder that never resolves.
//!
//! The target is `--server`, else `$SWITCHD_SOCKET`, else
//! [`DEFAULT_SOCKET`]; `unix:PATH` and a bare path mean a socket,
//! `https://HOST:PORT` switchd's TCP listener with mutual TLS (swctl
//! presents `--certificate`/`--private-key` and checks the server against
//! `--ca-cert`), `http://HOST:PORT` a plain TCP listener (behind a proxy).

use super::args::DEFAULT_SOCKET;
use super::error::CliError;
use hyper_util::rt::TokioIo;
use proto::v1::bridge_service_client::BridgeServiceClient;
use proto::v1::capture_service_client::CaptureServiceClient;
use proto::v1::datapath_service_client::DatapathServiceClient;
use proto::v1::event_service_client::EventServiceClient;
use proto::v1::flow_service_client::FlowServiceClient;
use proto::v1::group_service_client::GroupServiceClient;
use proto::v1::ipfix_service_client::IpfixServiceClient;
use proto::v1::meter_service_client::MeterServiceClient;
use proto::v1::mirror_service_client::MirrorServiceClient;
use proto::v1::port_service_client::PortServiceClient;
use proto::v1::qos_service_client::QosServiceClient;
use proto::v1::sflow_service_client::SflowServiceClient;
use proto::v1::stats_service_client::StatsServiceClient;
use proto::v1::trace_service_client::TraceServiceClient;
use proto::v1::tunnel_service_client::TunnelServiceClient;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

/// Where the daemon is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Http(String),
}

impl Target {
    /// `--server` if given, else `$SWITCHD_SOCKET`, else the default socket.
    pub fn resolve(flag: Option<&str>, env: Option<&str>) -> Target {
        let text = flag
            .or(env.filter(|e| !e.is_empty()))
            .unwrap_or(DEFAULT_SOCKET);
        Target::parse(text)
    }

    pub fn parse(text: &str) -> Target {
        if text.starts_with("http://") || text.starts_with("https://") {
            Target::Http(text.to_string())
        } else {
            Target::Unix(PathBuf::from(text.strip_prefix("unix:").unwrap_or(text)))
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "{}", p.display()),
            Target::Http(u) => f.write_str(u),
        }
    }
}

/// swctl's TLS identity for https:// targets (PEM files).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub private_key: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
}

impl TlsFiles {
    fn client_config(&self) -> Result<ClientTlsConfig, String> {
        let read =
            |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let mut tls = ClientTlsConfig::new();
        match &self.ca_cert {
            Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(read(ca)?)),
            None => return Err("https:// needs --ca-cert (the CA of switchd's certificate)".into()),
        }
        match (&self.certificate, &self.private_key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            _ => {
                return Err(
                    "https:// needs --certificate and --private-key (switchd wants a client certificate)"
                        .into(),
                )
            }
        }
        Ok(tls)
    }
}

/// The largest request or reply swctl sends or takes (as switchd's API:
/// a 100,000-flow batch is one message).
const MAX_MESSAGE: usize = 512 << 20;

/// A connection to switchd; each service's client shares it.
#[derive(Debug, Clone)]
pub struct Api {
    channel: Channel,
}

impl Api {
    /// Connects (eagerly, so that an absent daemon is reported once, here).
    /// `timeout` bounds connecting and, when `per_request`, every call
    /// (streams need `per_request` false).
    pub async fn connect(
        target: &Target,
        tls: &TlsFiles,
        timeout: Duration,
        per_request: bool,
    ) -> Result<Api, CliError> {
        let unreachable = |why: String| CliError::Unreachable {
            target: target.to_string(),
            why,
        };
        let with_timeouts = |e: Endpoint| {
            let e = e.connect_timeout(timeout);
            if per_request {
                e.timeout(timeout)
            } else {
                e
            }
        };
        let channel = match target {
            Target::Unix(path) => {
                if !path.exists() {
                    return Err(unreachable(
                        "no such socket (is switchd running? see --server, $SWITCHD_SOCKET)".into(),
                    ));
                }
                let path = path.clone();
                // The URI is required by the API but unused by the connector.
                with_timeouts(Endpoint::from_static("http://switchd.invalid"))
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
            }
            Target::Http(uri) => {
                let mut endpoint = Endpoint::from_shared(uri.clone())
                    .map_err(|e| unreachable(format!("bad address: {e}")))?;
                if uri.starts_with("https://") {
                    let config = tls.client_config().map_err(CliError::Usage)?;
                    endpoint = endpoint
                        .tls_config(config)
                        .map_err(|e| unreachable(error_chain(&e)))?;
                }
                with_timeouts(endpoint).connect().await
            }
        };
        let channel = channel.map_err(|e| unreachable(error_chain(&e)))?;
        Ok(Api { channel })
    }

    pub fn bridges(&self) -> BridgeServiceClient<Channel> {
        BridgeServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn ports(&self) -> PortServiceClient<Channel> {
        PortServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn flows(&self) -> FlowServiceClient<Channel> {
        FlowServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn groups(&self) -> GroupServiceClient<Channel> {
        GroupServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn meters(&self) -> MeterServiceClient<Channel> {
        MeterServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn stats(&self) -> StatsServiceClient<Channel> {
        StatsServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn datapath(&self) -> DatapathServiceClient<Channel> {
        DatapathServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn trace(&self) -> TraceServiceClient<Channel> {
        TraceServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn tunnels(&self) -> TunnelServiceClient<Channel> {
        TunnelServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn qos(&self) -> QosServiceClient<Channel> {
        QosServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn ipfix(&self) -> IpfixServiceClient<Channel> {
        IpfixServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn sflow(&self) -> SflowServiceClient<Channel> {
        SflowServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn mirrors(&self) -> MirrorServiceClient<Channel> {
        MirrorServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn captures(&self) -> CaptureServiceClient<Channel> {
        CaptureServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
    pub fn events(&self) -> EventServiceClient<Channel> {
        EventServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

/// An error and its causes on one line ("a: b: c"), skipping causes whose
/// text the previous one already contains.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_beats_the_environment_which_beats_the_default() {
        assert_eq!(
            Target::resolve(Some("/a.sock"), Some("/b.sock")),
            Target::Unix("/a.sock".into())
        );
        assert_eq!(
            Target::resolve(None, Some("/b.sock")),
            Target::Unix("/b.sock".into())
        );
        assert_eq!(
            Target::resolve(None, Some("")),
            Target::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            Target::resolve(None, None),
            Target::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            Target::parse("unix:/run/s.sock"),
            Target::Unix("/run/s.sock".into())
        );
        assert_eq!(
            Target::parse("http://127.0.0.1:50051"),
            Target::Http("http://127.0.0.1:50051".into())
        );
    }

    #[tokio::test]
    async fn https_without_credentials_is_a_usage_error() {
        let target = Target::parse("https://127.0.0.1:1");
        let e = Api::connect(&target, &TlsFiles::default(), Duration::from_secs(1), true)
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.to_string().contains("--ca-cert"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_reported_with_its_path() {
        let target = Target::Unix("/nonexistent/switchd.sock".into());
        let e = Api::connect(&target, &TlsFiles::default(), Duration::from_secs(1), true)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/switchd.sock"), "{text}");
        assert!(text.contains("is switchd running"), "{text}");
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.sock");
        // A socket file whose listener is gone.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let e = Api::connect(
            &Target::Unix(path),
            &TlsFiles::default(),
            Duration::from_secs(1),
            true,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, CliError::Unreachable { .. }), "{e}");
    }
}

#[cfg(test)]
mod dies_mid_request {
    use super::*;
    use std::io::{Read, Write};

    /// Just enough of an HTTP/2 server to finish the handshake; it hangs
    /// up when the first request's HEADERS arrive, as a switchd killed in
    /// the middle of a request would.
    fn dying_server(listener: std::os::unix::net::UnixListener) {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut preface = [0u8; 24];
        if s.read_exact(&mut preface).is_err() {
            return;
        }
        let _ = s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS
        loop {
            let mut hdr = [0u8; 9];
            if s.read_exact(&mut hdr).is_err() {
                return;
            }
            let len =
                (usize::from(hdr[0]) << 16) | (usize::from(hdr[1]) << 8) | usize::from(hdr[2]);
            let mut body = vec![0u8; len];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            match (hdr[3], hdr[4]) {
                (4, 0) => {
                    let _ = s.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]); // SETTINGS ACK
                }
                (1, _) => return, // HEADERS: die
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn a_switchd_that_dies_during_a_request_is_unreachable_not_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dying.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || dying_server(listener));
        let api = Api::connect(
            &Target::Unix(path),
            &TlsFiles::default(),
            Duration::from_secs(5),
            true,
        )
        .await
        .unwrap();
        let status = api
            .bridges()
            .list_bridges(proto::v1::ListBridgesRequest::default())
            .await
            .unwrap_err();
        let e = CliError::status("list-br", status);
        assert_eq!(e.exit_code(), 3, "{e}");
        assert!(e.to_string().contains("may or may not"), "{e}");
        server.join().unwrap();
    }
}
