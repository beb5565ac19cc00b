//! The command line: global options and one subcommand per verb.
//!
//! Verbs are named as Open vSwitch names them, so that muscle memory
//! works: the `ovs-vsctl` ones (`add-br`, `add-port br0 eth1 type=afxdp
//! options:n_rxq=2`), the `ovs-ofctl` ones (`add-flow br0 FLOW`,
//! `dump-flows`) and the `ovs-appctl` ones under their own names
//! (`dpctl/dump-flows`, `ofproto/trace`, `dpif-netdev/pmd-stats-show`) as
//! well as shorter aliases (`trace`, `pmd-stats`). Everything here is
//! declarative (clap derive); the verbs live in `verbs/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Where swctl looks for the daemon when neither `--server` nor
/// `$SWITCHD_SOCKET` says: the API socket in switchd's default state dir.
pub const DEFAULT_SOCKET: &str = "/var/lib/switchd/switchd.sock";

#[derive(Debug, Parser)]
#[command(
    name = "swctl",
    version,
    about = "Control a running switchd: bridges, ports, OpenFlow flows, datapath state",
    after_help = "Exit status: 0 success, 1 the switch refused the request (nothing changed), \
                  2 bad command line, 3 switchd unreachable or gone during the request \
                  (the change may or may not have been applied).\n\
                  The daemon is found by --server, else $SWITCHD_SOCKET, else \
                  /var/lib/switchd/switchd.sock."
)]
pub struct Cli {
    /// switchd's API: a Unix socket path (or unix:PATH), or https://HOST:PORT
    /// (mutual TLS: --private-key, --certificate, --ca-cert) or http://HOST:PORT
    /// [default: $SWITCHD_SOCKET, else /var/lib/switchd/switchd.sock]
    #[arg(long, global = true, value_name = "SOCKET")]
    pub server: Option<String>,

    /// Print JSON instead of tables (one object; `watch` prints one per line).
    #[arg(long, global = true)]
    pub json: bool,

    /// For https:// servers: the private key of swctl's client certificate (PEM).
    #[arg(long, global = true, value_name = "FILE", requires = "certificate")]
    pub private_key: Option<PathBuf>,

    /// For https:// servers: swctl's client certificate (PEM).
    #[arg(long, global = true, value_name = "FILE", requires = "private_key")]
    pub certificate: Option<PathBuf>,

    /// For https:// servers: the CA certificate that signed switchd's (PEM).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Seconds to wait for switchd to answer.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // ---- ovs-vsctl --------------------------------------------------------
    /// Every bridge with its ports and controllers.
    Show,
    /// Create a bridge (with its internal port, like ovs-vsctl).
    AddBr(AddBr),
    /// Delete a bridge, its ports and its flows.
    DelBr { bridge: String },
    /// List the bridges, one per line.
    ListBr,
    /// Add a port: `add-port br0 eth1 type=afxdp options:n_rxq=2`.
    AddPort(AddPort),
    /// Delete a port (the bridge may be left out: `del-port eth1`).
    #[command(override_usage = "swctl del-port [BRIDGE] PORT")]
    DelPort {
        /// BRIDGE PORT, or just PORT.
        #[arg(num_args = 1..=2, required = true, value_name = "BRIDGE PORT")]
        names: Vec<String>,
    },
    /// List a bridge's ports, one per line.
    ListPorts { bridge: String },
    /// Add a mirror: `add-mirror br0 m0 select-src-port=vm1 select-dst-port=vm1 output-port=tap0`.
    AddMirror(AddMirror),
    /// Delete a mirror.
    DelMirror { bridge: String, name: String },
    /// List mirrors with their counters.
    ListMirrors {
        /// Only this bridge (default: all).
        bridge: Option<String>,
    },
    /// Start sFlow: `set-sflow br0 agent=IP targets=IP:PORT[,..] [sampling=N] [polling=S] [header=B]`.
    SetSflow {
        bridge: String,
        #[arg(value_name = "SETTING", required = true)]
        settings: Vec<String>,
    },
    /// Stop a bridge's sFlow agent.
    ClearSflow { bridge: String },
    /// A bridge's sFlow settings and counters.
    SflowShow { bridge: String },
    /// Start IPFIX: `set-ipfix br0 targets=IP:PORT[,..] [sampling=N] [obs_domain_id=D] [obs_point_id=P] [cache_active_timeout=S] [cache_idle_timeout=S] [template_interval=S]`.
    SetIpfix {
        bridge: String,
        #[arg(value_name = "SETTING", required = true)]
        settings: Vec<String>,
    },
    /// Stop a bridge's IPFIX exporter.
    ClearIpfix { bridge: String },
    /// A bridge's IPFIX settings and counters, collector sets included.
    IpfixShow { bridge: String },
    /// Add or replace a collector set for the OpenFlow `sample` action: `set-collector-set br0 5 targets=IP:PORT[,..] [cache_active_timeout=S] [cache_idle_timeout=S] [template_interval=S]`.
    SetCollectorSet {
        bridge: String,
        id: u32,
        #[arg(value_name = "SETTING", required = true)]
        settings: Vec<String>,
    },
    /// Remove a collector set.
    ClearCollectorSet { bridge: String, id: u32 },
    /// Shape or police a port's egress: `set-qos vm1 type=htb max-rate=BPS [burst=BITS] queue=ID:min-rate=BPS,max-rate=BPS,priority=N[,burst=BITS,depth=PKTS] [dscp=DSCP:QUEUE,..]`, or `type=egress-policer cir=BYTES/S cbs=BYTES`, or `type=trtcm-policer cir= cbs= pir= pbs=` (or `eir= ebs=`).
    SetQos {
        port: String,
        #[arg(value_name = "SETTING", required = true)]
        settings: Vec<String>,
    },
    /// Remove a port's egress QoS.
    ClearQos { port: String },
    /// Queues, policers and their counters (one port, or all).
    QosStats { port: Option<String> },
    /// Police a port's ingress: `set-policing vm1 rate=KBPS [burst=KB]` or `kpkts-rate=N [kpkts-burst=N]`.
    SetPolicing {
        port: String,
        #[arg(value_name = "SETTING", required = true)]
        settings: Vec<String>,
    },
    /// Remove a port's ingress policing.
    ClearPolicing { port: String },
    /// Replace a bridge's controllers: `set-controller br0 tcp:10.0.0.1:6653`.
    SetController {
        bridge: String,
        /// tcp:HOST[:PORT], ssl:HOST[:PORT], ptcp:[PORT][:IP], pssl:[PORT][:IP]
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Remove every controller of a bridge.
    DelController { bridge: String },
    /// Set what a bridge does without a controller.
    SetFailMode { bridge: String, mode: FailModeArg },

    // ---- ovs-ofctl --------------------------------------------------------
    /// Add one flow: `add-flow br0 "priority=10,ip,nw_dst=10.0.0.2,actions=output:2"`.
    AddFlow(FlowArgs),
    /// Add the flows of FILE (one per line, `#` comments; `-` is stdin): all or none.
    AddFlows {
        bridge: String,
        file: PathBuf,
        /// Keep the flows in switchd's store so that they survive a restart.
        #[arg(long)]
        persistent: bool,
    },
    /// Change the actions of the flows a match selects.
    ModFlows(FlowArgs),
    /// Delete the flows a match selects (all flows when no match is given).
    DelFlows {
        bridge: String,
        /// A match in ovs-ofctl syntax, e.g. `table=0,ip,nw_dst=10.0.0.2`.
        flow: Option<String>,
        /// Only the flow with exactly this match and priority.
        #[arg(long)]
        strict: bool,
    },
    /// The OpenFlow flows of a bridge with their counters.
    DumpFlows {
        bridge: String,
        /// Only flows at least as specific as this match.
        filter: Option<String>,
        /// Only this table.
        #[arg(long)]
        table: Option<u32>,
    },
    /// Port counters (all ports, or one).
    DumpPorts {
        bridge: String,
        port: Option<String>,
    },
    /// Port descriptions: number, name, MAC, link state, config.
    DumpPortsDesc { bridge: String },
    /// Add a group: `add-group br0 "group_id=1,type=select,bucket=actions=output:1"`.
    AddGroup { bridge: String, group: String },
    /// Delete a group (all groups without an id).
    DelGroups {
        bridge: String,
        group_id: Option<u32>,
    },
    /// Groups with their buckets and counters.
    DumpGroups {
        bridge: String,
        group_id: Option<u32>,
    },
    /// Add a meter: `add-meter br0 "meter=1,kbps,bands=type=drop,rate=1000"`.
    AddMeter { bridge: String, meter: String },
    /// Delete a meter (all meters without an id).
    DelMeters {
        bridge: String,
        meter_id: Option<u32>,
    },
    /// Meters with their bands and counters.
    DumpMeters {
        bridge: String,
        meter_id: Option<u32>,
    },

    // ---- ovs-appctl -------------------------------------------------------
    /// The megaflows in the datapath caches, with their masks.
    #[command(name = "dpctl/dump-flows", alias = "dump-megaflows")]
    DpctlDumpFlows {
        /// Only this bridge (default: all).
        bridge: Option<String>,
    },
    /// Per-worker packet, cache-hit and cycle statistics.
    #[command(name = "pmd-stats", alias = "dpif-netdev/pmd-stats-show")]
    PmdStats {
        /// Only this bridge (default: all).
        bridge: Option<String>,
    },
    /// Run a packet through the OpenFlow tables without sending it.
    #[command(alias = "ofproto/trace")]
    Trace(TraceArgs),
    /// Print events (port status, flow removed, controllers) until interrupted.
    Watch {
        /// Only these bridges (default: all).
        bridges: Vec<String>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
    },
    /// Capture a port's packets to a pcapng file (`-w -`: stdout, for tshark).
    Capture(CaptureArgs),

    // ---- ovs-appctl: tunnels ----------------------------------------------
    /// The routes tunnels use: the operator's, then the kernel's.
    #[command(name = "route/show", alias = "ovs/route/show")]
    RouteShow,
    /// Add (or replace) a route: `route/add 10.1.0.0/16 br-phy 192.0.2.1 src=192.0.2.10`.
    #[command(name = "route/add", alias = "ovs/route/add")]
    RouteAdd(RouteAdd),
    /// Delete an operator route: `route/del 10.1.0.0/16`.
    #[command(name = "route/del", alias = "ovs/route/del")]
    RouteDel {
        /// The route's prefix, as added.
        prefix: String,
    },
    /// The MACs the tunnel underlays learnt for their next hops.
    #[command(name = "tnl/neigh-show", alias = "tnl/neigh/show")]
    TnlNeighShow,
    /// Forget every learnt neighbour (they are learnt again as needed).
    #[command(name = "tnl/neigh-flush", alias = "tnl/neigh/flush")]
    TnlNeighFlush,
    /// Tunnel ports with their options, then the tunnel drop counters.
    #[command(name = "tnl/show", alias = "tnl/ports/show")]
    TnlShow,

    // ---- swctl itself -----------------------------------------------------
    /// Print a shell completion script: `swctl completions bash > /etc/bash_completion.d/swctl`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct AddBr {
    pub bridge: String,
    /// standalone (learn while no controller) or secure.
    #[arg(long, value_enum)]
    pub fail_mode: Option<FailModeArg>,
    /// OpenFlow controller target (repeatable).
    #[arg(long = "controller", value_name = "TARGET")]
    pub controllers: Vec<String>,
    /// Datapath id, 16 hex digits.
    #[arg(long)]
    pub datapath_id: Option<String>,
    /// Forwarding threads.
    #[arg(long)]
    pub workers: Option<u32>,
    /// Do not create the bridge's internal port.
    #[arg(long)]
    pub no_local_port: bool,
}

#[derive(Debug, Args)]
pub struct AddMirror {
    pub bridge: String,
    pub name: String,
    /// `select-all`, `select-src-port=P,..`, `select-dst-port=P,..`,
    /// `select-vlan=V,..`, then `output-port=P` (SPAN) or `output-vlan=V`
    /// (RSPAN), and optionally `snaplen=N`.
    #[arg(value_name = "SETTING", required = true)]
    pub settings: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AddPort {
    pub bridge: String,
    pub port: String,
    /// `type=TYPE` (afpacket, afxdp, internal, vhostuser, vhostuserclient;
    /// default afpacket), `options:KEY=VALUE`, `ofport_request=N`.
    #[arg(value_name = "SETTING")]
    pub settings: Vec<String>,
}

#[derive(Debug, Args)]
#[command(override_usage = "swctl route/add PREFIX DEV [GATEWAY] [src=IP]")]
pub struct RouteAdd {
    /// `a.b.c.d/len` or `ipv6/len` (host bits zero); a bare address is a host route.
    pub prefix: String,
    /// The bridge whose LOCAL port the route leaves by.
    pub dev: String,
    /// The next hop `GATEWAY` and/or the outer source address `src=IP`.
    #[arg(num_args = 0..=2, value_name = "GATEWAY|src=IP")]
    pub rest: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FlowArgs {
    pub bridge: String,
    /// A flow in ovs-ofctl syntax.
    pub flow: String,
    /// mod-flows: only the flow with exactly this match and priority.
    #[arg(long)]
    pub strict: bool,
    /// Keep the flow in switchd's store so that it survives a restart.
    #[arg(long)]
    pub persistent: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    pub bridge: String,
    /// The packet as a match: `in_port=1,tcp,nw_src=10.0.0.1,tp_dst=80`.
    #[arg(required_unless_present = "packet")]
    pub flow: Option<String>,
    /// A raw Ethernet frame in hex instead of a flow.
    #[arg(long, conflicts_with = "flow", requires = "in_port")]
    pub packet: Option<String>,
    /// Ingress port number for --packet.
    #[arg(long)]
    pub in_port: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailModeArg {
    Standalone,
    Secure,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ovs_style_names_and_aliases_parse() {
        for argv in [
            &["swctl", "dpctl/dump-flows"][..],
            &["swctl", "dpif-netdev/pmd-stats-show", "br0"],
            &["swctl", "ofproto/trace", "br0", "in_port=1,ip"],
            &[
                "swctl",
                "add-port",
                "br0",
                "eth1",
                "type=afxdp",
                "options:n_rxq=2",
            ],
            &["swctl", "del-port", "eth1"],
            &["swctl", "del-port", "br0", "eth1"],
            &["swctl", "--json", "show"],
            &["swctl", "route/show"],
            &["swctl", "ovs/route/show"],
            &[
                "swctl",
                "route/add",
                "10.1.0.0/16",
                "br-phy",
                "192.0.2.1",
                "src=192.0.2.10",
            ],
            &["swctl", "ovs/route/add", "10.1.0.0/16", "br-phy"],
            &["swctl", "route/del", "10.1.0.0/16"],
            &["swctl", "--json", "tnl/neigh-show"],
            &["swctl", "tnl/neigh/flush"],
            &["swctl", "tnl/show"],
            &["swctl", "tnl/ports/show"],
            &["swctl", "show", "--server", "/tmp/x.sock"],
            &[
                "swctl",
                "trace",
                "br0",
                "--packet",
                "00ff",
                "--in-port",
                "1",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
        assert!(Cli::try_parse_from(["swctl", "del-port"]).is_err());
        assert!(Cli::try_parse_from(["swctl", "--private-key", "k.pem", "show"]).is_err());
        assert!(Cli::try_parse_from(["swctl", "trace", "br0"]).is_err());
        assert!(Cli::try_parse_from(["swctl", "set-fail-mode", "br0", "open"]).is_err());
        assert!(Cli::try_parse_from(["swctl", "route/add", "10.1.0.0/16"]).is_err());
        assert!(
            Cli::try_parse_from(["swctl", "route/add", "10.0.0.0/8", "b", "1", "2", "3"]).is_err()
        );
        assert!(Cli::try_parse_from(["swctl", "route/del"]).is_err());
    }
}

/// `swctl capture PORT [--rx|--tx] [--count N] [--snaplen S] [--match M] -w FILE|-`
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// The port (any type but tunnel ports: capture their underlay port).
    pub port: String,
    /// Only packets received from the port (default: both directions).
    #[arg(long, conflicts_with = "tx")]
    pub rx: bool,
    /// Only packets sent to the port.
    #[arg(long)]
    pub tx: bool,
    /// Stop after this many packets.
    #[arg(long, short = 'c')]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Bytes kept of each packet (default: all).
    #[arg(long, short = 's', default_value_t = 0)]
    pub snaplen: u32,
    /// Only packets matching this flow, in ovs-ofctl syntax ("tcp,tp_dst=80").
    #[arg(long = "match", short = 'm', value_name = "FLOW", default_value = "")]
    pub match_: String,
    /// Write pcapng here; `-` is stdout.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: String,
}
