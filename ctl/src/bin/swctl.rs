//! `swctl`: control a running switchd over its gRPC API, with the verbs
//! of ovs-vsctl, ovs-ofctl and ovs-appctl. See `swctl --help` and
//! ctl/src/cli/mod.rs.

#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

use clap::Parser;

fn main() {
    let args = cli::args::Cli::parse();
    std::process::exit(cli::main(args));
}
