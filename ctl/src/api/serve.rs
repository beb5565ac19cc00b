//! Where the API listens: a Unix socket (always) and optionally TCP with
//! mutual TLS.
//!
//! The Unix socket (`STATE_DIR/switchd.sock` by default) is how local
//! tools reach switchd; file permissions are its access control, so it is
//! created mode 0600 without a window in which it is more open: it is
//! bound inside a fresh private (0700) directory, chmodded, then renamed
//! into place. A socket file left by a killed switchd is removed first;
//! the caller has already made sure (through the pid file) that no live
//! switchd owns the state directory.
//!
//! TCP is for remote orchestrators and always uses TLS with client
//! certificates: the server presents `cert`/`key` and accepts only
//! clients whose certificate chains to `client_ca` (rustls with the ring
//! provider, through tonic).

use super::{router, Switch};
use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::UnixListener;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};

/// The TLS files of the TCP listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

/// Bind the API's Unix socket at `path`, mode 0600, replacing a stale one.
pub fn bind_unix(path: &Path) -> Result<UnixListener> {
    let dir = path.parent().unwrap_or(Path::new("."));
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed a stale API socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let private = dir.join(format!(".switchd-bind.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::create_dir(&private).with_context(|| format!("creating {}", private.display()))?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
    let tmp = private.join("sock");
    let result = (|| {
        let listener =
            UnixListener::bind(&tmp).with_context(|| format!("binding {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("moving the socket to {}", path.display()))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

/// Serve the API on `listener` until `stop` fires.
pub async fn serve_unix(
    switch: Arc<Switch>,
    listener: UnixListener,
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let r = router(switch, tonic::transport::Server::builder()).await?;
    r.serve_with_incoming_shutdown(UnixListenerStream::new(listener), stop)
        .await
        .context("serving the API on the Unix socket")
}

/// The TLS settings for the TCP listener (mutual TLS).
pub fn server_tls(files: &TlsFiles) -> Result<tonic::transport::ServerTlsConfig> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let identity = tonic::transport::Identity::from_pem(read(&files.cert)?, read(&files.key)?);
    Ok(tonic::transport::ServerTlsConfig::new()
        .identity(identity)
        .client_ca_root(tonic::transport::Certificate::from_pem(read(
            &files.client_ca,
        )?))
        .client_auth_optional(false))
}

/// Serve the API on TCP with mutual TLS until `stop` fires.
pub async fn serve_tcp(
    switch: Arc<Switch>,
    listener: tokio::net::TcpListener,
    tls: tonic::transport::ServerTlsConfig,
    stop: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .context("TLS settings")?;
    let r = router(switch, server).await?;
    r.serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop)
        .await
        .context("serving the API on TCP")
}
