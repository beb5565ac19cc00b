//! The verbs: one async function per command, grouped by what they act on.
//!
//! The one idea: a verb does not print. It returns a [`Reply`] holding
//! both renderings of its answer (a table for people, a JSON value for
//! scripts) and the caller prints the one asked for, so every verb gets
//! `--json` for free and the two can never disagree. Verbs that change
//! something are silent on success, as ovs-vsctl and ovs-ofctl are; with
//! `--json` they print what the API returned. Only `watch` and `capture`
//! stream and write as they go.

pub mod bridge;
pub mod capture;
pub mod datapath;
pub mod flow;
pub mod group_meter;
pub mod mirror;
pub mod port;
pub mod qos;
pub mod sampling;
pub mod tunnel;
pub mod watch;

use super::args::Command;
use super::connect::Api;
use super::error::CliError;
use serde_json::Value;

/// A verb's answer, in both renderings.
#[derive(Debug)]
pub struct Reply {
    /// For people; empty for a change that succeeded.
    pub human: String,
    pub json: Value,
}

impl Reply {
    /// A change that succeeded: nothing for people, `json` for scripts.
    pub fn done(json: Value) -> Reply {
        Reply {
            human: String::new(),
            json,
        }
    }
}

/// Runs one (non-streaming) verb.
pub async fn run(api: &Api, command: &Command) -> Result<Reply, CliError> {
    use Command as C;
    match command {
        C::Show => bridge::show(api).await,
        C::AddBr(a) => bridge::add(api, a).await,
        C::DelBr { bridge: b } => bridge::delete(api, b).await,
        C::ListBr => bridge::list_names(api).await,
        C::AddPort(a) => port::add(api, a).await,
        C::DelPort { names } => port::delete(api, names).await,
        C::ListPorts { bridge: b } => port::list(api, b).await,
        C::AddMirror(a) => mirror::add(api, a).await,
        C::DelMirror { bridge: b, name } => mirror::delete(api, b, name).await,
        C::ListMirrors { bridge: b } => mirror::list(api, b.as_deref()).await,
        C::SetSflow {
            bridge: b,
            settings,
        } => sampling::set(api, b, settings).await,
        C::ClearSflow { bridge: b } => sampling::clear(api, b).await,
        C::SflowShow { bridge: b } => sampling::show(api, b).await,
        C::SetIpfix {
            bridge: b,
            settings,
        } => sampling::set_ipfix(api, b, settings).await,
        C::ClearIpfix { bridge: b } => sampling::clear_ipfix(api, b).await,
        C::IpfixShow { bridge: b } => sampling::show_ipfix(api, b).await,
        C::SetCollectorSet {
            bridge: b,
            id,
            settings,
        } => sampling::set_collector_set(api, b, *id, settings).await,
        C::ClearCollectorSet { bridge: b, id } => sampling::clear_collector_set(api, b, *id).await,
        C::SetQos { port, settings } => qos::set_qos(api, port, settings).await,
        C::ClearQos { port } => qos::clear_qos(api, port).await,
        C::QosStats { port } => qos::stats(api, port.as_deref()).await,
        C::SetPolicing { port, settings } => qos::set_policing(api, port, settings).await,
        C::ClearPolicing { port } => qos::clear_policing(api, port).await,
        C::SetController { bridge: b, targets } => {
            bridge::set_controllers(api, b, targets, "set-controller").await
        }
        C::DelController { bridge: b } => {
            bridge::set_controllers(api, b, &[], "del-controller").await
        }
        C::SetFailMode { bridge: b, mode } => bridge::set_fail_mode(api, b, *mode).await,
        C::AddFlow(a) => flow::add(api, a).await,
        C::AddFlows {
            bridge: b,
            file,
            persistent,
        } => flow::add_file(api, b, file, *persistent).await,
        C::ModFlows(a) => flow::modify(api, a).await,
        C::DelFlows {
            bridge: b,
            flow: f,
            strict,
        } => flow::delete(api, b, f.as_deref(), *strict).await,
        C::DumpFlows {
            bridge: b,
            filter,
            table,
        } => flow::dump(api, b, filter.as_deref(), *table).await,
        C::DumpPorts { bridge: b, port: p } => port::dump(api, b, p.as_deref()).await,
        C::DumpPortsDesc { bridge: b } => port::dump_desc(api, b).await,
        C::AddGroup { bridge: b, group } => group_meter::add_group(api, b, group).await,
        C::DelGroups {
            bridge: b,
            group_id,
        } => group_meter::del_groups(api, b, *group_id).await,
        C::DumpGroups {
            bridge: b,
            group_id,
        } => group_meter::dump_groups(api, b, *group_id).await,
        C::AddMeter { bridge: b, meter } => group_meter::add_meter(api, b, meter).await,
        C::DelMeters {
            bridge: b,
            meter_id,
        } => group_meter::del_meters(api, b, *meter_id).await,
        C::DumpMeters {
            bridge: b,
            meter_id,
        } => group_meter::dump_meters(api, b, *meter_id).await,
        C::DpctlDumpFlows { bridge: b } => datapath::dump_megaflows(api, b.as_deref()).await,
        C::PmdStats { bridge: b } => datapath::pmd_stats(api, b.as_deref()).await,
        C::Trace(a) => datapath::trace(api, a).await,
        C::RouteShow => tunnel::route_show(api).await,
        C::RouteAdd(a) => tunnel::route_add(api, a).await,
        C::RouteDel { prefix } => tunnel::route_del(api, prefix).await,
        C::TnlNeighShow => tunnel::neigh_show(api).await,
        C::TnlNeighFlush => tunnel::neigh_flush(api).await,
        C::TnlShow => tunnel::tnl_show(api).await,
        C::Watch { .. } | C::Capture(_) | C::Completions { .. } => Err(CliError::Usage(
            "internal: streaming and local commands are not run here".into(),
        )),
    }
}
