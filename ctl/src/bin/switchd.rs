//! `switchd`: run the bridges of a configuration until told to stop.
//!
//! With no arguments it runs the default switch: bridge br0, a learning
//! switch with its internal port. `--config FILE` runs what the file says;
//! `--state-dir DIR` keeps what switchd writes (the pid file today, the
//! config store and sockets later) under DIR, so several instances never
//! collide. SIGTERM or SIGINT stops it cleanly: ports are closed, which
//! detaches XDP programs and removes tap devices.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchd_ctl::bridge::Bridge;
use switchd_ctl::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "switchd",
    version,
    about = "A software switch: AF_XDP and vhost-user ports, OpenFlow 1.3"
)]
struct Args {
    /// Configuration file (TOML). Without it: bridge br0, a learning switch.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory for everything switchd writes.
    #[arg(long, default_value = "/var/lib/switchd")]
    state_dir: PathBuf,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    log: String,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default_switch(),
    };
    if args.check {
        println!("configuration is valid");
        return Ok(());
    }
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("creating state dir {}", args.state_dir.display()))?;
    let pid_file = args.state_dir.join("switchd.pid");
    claim_pid_file(&pid_file)?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }

    // One runtime for the control plane (OpenFlow connections today).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("switchd-ctl")
        .enable_all()
        .build()
        .context("starting the control-plane runtime")?;
    let mut bridges = Vec::new();
    for b in &config.bridge {
        let bridge = Bridge::start(b, runtime.handle())
            .with_context(|| format!("starting bridge {}", b.name))?;
        tracing::info!(bridge = %b.name, ports = bridge.ports().len(), "bridge up");
        bridges.push(bridge);
    }
    // Ready: the pid file says so.
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", pid_file.display()))?;
    tracing::info!(state_dir = %args.state_dir.display(), "switchd running");

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    tracing::info!("stopping");
    drop(bridges);
    runtime.shutdown_timeout(Duration::from_secs(2));
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
