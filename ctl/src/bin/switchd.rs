//! `switchd`: run the bridges of the configuration store and serve the
//! gRPC API until told to stop.
//!
//! Everything switchd writes lives under `--state-dir` (default
//! /var/lib/switchd): the configuration store (`switchd.conf.toml`), the
//! API socket (`switchd.sock`, mode 0600), the pid file and vhost-user
//! sockets, so several instances never collide.
//!
//! Configuration precedence: the store wins. `--config FILE` only seeds
//! the store when it does not exist yet (first start); afterwards changes
//! go through the API and are persisted before they are acknowledged.
//! With neither a store nor `--config`, switchd starts the default switch
//! (bridge br0, a learning switch with its internal port) and stores it.
//! To start over from a file, stop switchd and remove the store.
//!
//! SIGTERM or SIGINT stops it cleanly: the API stops, ports are closed
//! (XDP programs detached, taps and vhost-user sockets removed), the API
//! socket and pid file are removed. After a kill -9 the next start
//! replaces the stale pid file and socket.

use anyhow::{Context, Result};
use clap::Parser;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchd_ctl::api::serve::{bind_unix, serve_tcp, serve_unix, server_tls, TlsFiles};
use switchd_ctl::api::Switch;
use switchd_ctl::config::Config;
use switchd_ctl::store::{Origin, Store};

#[derive(Debug, Parser)]
#[command(
    name = "switchd",
    version,
    about = "A software switch: AF_XDP and vhost-user ports, OpenFlow 1.3, a gRPC API",
    after_help = "The configuration store under --state-dir wins over --config, which only seeds a store that does not exist yet."
)]
struct Args {
    /// Configuration file (TOML) that seeds the store on first start.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory for everything switchd writes.
    #[arg(long, default_value = "/var/lib/switchd")]
    state_dir: PathBuf,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    log: String,
    /// Check the configuration (--config, else the store) and exit.
    #[arg(long)]
    check: bool,
    /// The API's Unix socket (default: STATE_DIR/switchd.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Also serve the API on TCP at this address, with mutual TLS
    /// (needs --tls-cert, --tls-key and --tls-client-ca).
    #[arg(long)]
    grpc_addr: Option<SocketAddr>,
    /// Server certificate (PEM) for --grpc-addr.
    #[arg(long, requires = "grpc_addr")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM) for --grpc-addr.
    #[arg(long, requires = "grpc_addr")]
    tls_key: Option<PathBuf>,
    /// CA certificate (PEM) that client certificates must chain to.
    #[arg(long, requires = "grpc_addr")]
    tls_client_ca: Option<PathBuf>,
    /// Serve Prometheus metrics over HTTP at this address (opt-in).
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let seed = || match &args.config {
        Some(p) => Config::load(p),
        None => Ok(Config::default_switch()),
    };
    if args.check {
        match &args.config {
            Some(_) => {
                seed()?;
            }
            None => {
                Config::load(&args.state_dir.join(switchd_ctl::store::STORE_FILE))?;
            }
        }
        println!("configuration is valid");
        return Ok(());
    }
    let tls = match (
        &args.grpc_addr,
        &args.tls_cert,
        &args.tls_key,
        &args.tls_client_ca,
    ) {
        (None, ..) => None,
        (Some(_), Some(cert), Some(key), Some(ca)) => Some(server_tls(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: ca.clone(),
        })?),
        (Some(_), ..) => {
            anyhow::bail!("--grpc-addr needs --tls-cert, --tls-key and --tls-client-ca")
        }
    };
    // A new state directory is the owner's only: the store holds keys and
    // credentials. (An existing one keeps its mode: an operator who opened
    // it for a VMM's user to reach vhost-user sockets meant it.)
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let pid_file = args.state_dir.join("switchd.pid");
    claim_pid_file(&pid_file)?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }

    let (store, origin) =
        Store::open(&args.state_dir, seed).context("opening the configuration store")?;
    match origin {
        Origin::Store => {
            tracing::info!(store = %store.path().display(), "configuration from the store")
        }
        Origin::Seeded => tracing::info!(
            store = %store.path().display(),
            from = %args.config.as_deref().map_or("the default switch".into(), |p| p.display().to_string()),
            "store created"
        ),
    }
    if origin == Origin::Store && args.config.is_some() {
        tracing::warn!("--config ignored: the store exists and wins (remove it to reseed)");
    }

    // One runtime for the control plane: OpenFlow connections, the API.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("switchd-ctl")
        .enable_all()
        .build()
        .context("starting the control-plane runtime")?;
    let switch = Switch::start(store, runtime.handle().clone(), &args.state_dir)?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let socket = args
        .socket
        .clone()
        .unwrap_or_else(|| args.state_dir.join("switchd.sock"));
    let mut servers = Vec::new();
    {
        let _guard = runtime.enter();
        let listener = bind_unix(&socket)?;
        servers.push(runtime.spawn(serve_unix(switch.clone(), listener, stopped())));
        if let (Some(addr), Some(tls)) = (args.grpc_addr, tls) {
            let l = runtime
                .block_on(tokio::net::TcpListener::bind(addr))
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!(addr = %l.local_addr()?, "API on TCP with mutual TLS");
            servers.push(runtime.spawn(serve_tcp(switch.clone(), l, tls, stopped())));
        }
        if let Some(addr) = args.metrics_addr {
            let l = runtime
                .block_on(tokio::net::TcpListener::bind(addr))
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!(addr = %l.local_addr()?, "Prometheus metrics");
            runtime.spawn(switchd_ctl::api::metrics::serve(l, switch.clone()));
        }
    }
    // Ready: the pid file says so.
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", pid_file.display()))?;
    tracing::info!(state_dir = %args.state_dir.display(), socket = %socket.display(), "switchd running");

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(i) = servers.iter().position(|s| s.is_finished()) {
            let s = servers.remove(i);
            if let Ok(Err(e)) = runtime.block_on(s) {
                tracing::error!("API server stopped: {e:#}");
            }
        }
    }
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    runtime.block_on(async {
        for s in servers {
            let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
        }
    });
    switch.shutdown();
    drop(switch);
    runtime.shutdown_timeout(Duration::from_secs(2));
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

/// Refuse to start when another live switchd owns the state dir; a pid
/// file left by a killed one is simply replaced.
fn claim_pid_file(path: &Path) -> Result<()> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(pid) = text.trim().parse::<u32>() {
            let alive = Path::new(&format!("/proc/{pid}")).exists() && pid != std::process::id();
            let is_switchd = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "switchd")
                .unwrap_or(false);
            if alive && is_switchd {
                anyhow::bail!(
                    "another switchd (pid {pid}) uses this state dir; stop it or pick another --state-dir"
                );
            }
        }
        std::fs::remove_file(path).ok();
    }
    Ok(())
}
