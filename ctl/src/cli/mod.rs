//! # swctl: switchd's command line
//!
//! swctl is a thin client of switchd's gRPC API (`proto::v1`). It knows
//! Open vSwitch's verbs and syntax so that people who run Open vSwitch
//! need nothing new: `swctl add-br br0`, `swctl add-port br0 eth1
//! type=afxdp options:n_rxq=2`, `swctl add-flow br0 "ip,actions=normal"`,
//! `swctl dpctl/dump-flows`, `swctl ofproto/trace br0 in_port=1,tcp`.
//!
//! The one idea: **swctl checks nothing the daemon checks.** Port types,
//! options, flow strings, group and meter strings all go to switchd as the
//! user wrote them, and switchd validates them before changing anything;
//! swctl's job is to say the answer well: a table or JSON on success, on
//! failure the verb, its object and the daemon's reason, with a caret
//! under the offending token of a flow string. So the CLI never disagrees
//! with the API about what is valid, and an orchestrator using gRPC
//! directly gets the same checks.
//!
//! Modules: [`args`] (the command line), [`connect`] (finding the daemon,
//! the Unix-socket connector), [`verbs`] (one function per verb),
//! [`port_spec`] (`type=`/`options:` words), [`table`] and [`json`] (the
//! two renderings), [`error`] (messages and exit codes).

pub mod args;
pub mod connect;
pub mod error;
pub mod json;
pub mod port_spec;
pub mod table;
pub mod verbs;

use args::{Cli, Command};
use clap::CommandFactory;
use connect::{Api, Target};
use error::CliError;
use std::io::Write as _;
use std::time::Duration;

/// Runs the parsed command line; returns the process exit status.
pub fn main(cli: Cli) -> i32 {
    if let Command::Completions { shell } = cli.command {
        let mut cmd = Cli::command();
        clap_complete::generate(shell, &mut cmd, "swctl", &mut std::io::stdout());
        return 0;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("swctl: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprint!("{}", e.report());
            e.exit_code()
        }
    }
}

async fn run(cli: &Cli) -> Result<(), CliError> {
    let env = std::env::var("SWITCHD_SOCKET").ok();
    let target = Target::resolve(cli.server.as_deref(), env.as_deref());
    let timeout = Duration::from_secs(cli.timeout.max(1));
    let tls = connect::TlsFiles {
        private_key: cli.private_key.clone(),
        certificate: cli.certificate.clone(),
        ca_cert: cli.ca_cert.clone(),
    };
    if let Command::Watch {
        bridges,
        count,
        duration,
    } = &cli.command
    {
        // A stream has no deadline of its own.
        let api = Api::connect(&target, &tls, timeout, false).await?;
        return verbs::watch::watch(&api, bridges, *count, *duration, cli.json).await;
    }
    if let Command::Capture(a) = &cli.command {
        let api = Api::connect(&target, &tls, timeout, false).await?;
        return verbs::capture::capture(&api, a).await;
    }
    let api = Api::connect(&target, &tls, timeout, true).await?;
    let reply = verbs::run(&api, &cli.command).await?;
    let mut out = std::io::stdout().lock();
    let text = if cli.json {
        // Serializing a Value cannot fail (its keys are strings).
        let mut t = serde_json::to_string_pretty(&reply.json).unwrap_or_default();
        t.push('\n');
        t
    } else {
        reply.human
    };
    let written = out.write_all(text.as_bytes());
    // A closed pipe (`swctl dump-flows br0 | head`) is not an error.
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Usage(format!("writing output: {e}")))
        }
        _ => Ok(()),
    }
}
