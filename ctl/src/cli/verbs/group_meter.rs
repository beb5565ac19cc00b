//! Group and meter verbs (ovs-ofctl's): add-group, del-groups,
//! dump-groups, add-meter, del-meters, dump-meters. Both are given as
//! ovs-ofctl strings and dumped with their counters.

use super::Reply;
use crate::cli::connect::Api;
use crate::cli::error::CliError;
use crate::cli::json;
use crate::cli::table::{count, duration, Table};
use proto::v1 as api;
use serde_json::json;

/// OFPG_ALL: every group.
const ALL_GROUPS: u32 = 0xffff_fffc;
/// OFPM_ALL: every meter.
const ALL_METERS: u32 = 0xffff_ffff;

pub async fn add_group(api: &Api, bridge: &str, spec: &str) -> Result<Reply, CliError> {
    api.groups()
        .add_group(api::GroupModRequest {
            bridge: bridge.to_string(),
            group: Some(api::group_mod_request::Group::Spec(spec.to_string())),
        })
        .await
        .map_err(|s| CliError::status_with_input(format!("add-group {bridge}"), s, Some(spec)))?;
    Ok(Reply::done(json!({ "bridge": bridge })))
}

pub async fn del_groups(api: &Api, bridge: &str, id: Option<u32>) -> Result<Reply, CliError> {
    let group_id = id.unwrap_or(ALL_GROUPS);
    api.groups()
        .delete_group(api::DeleteGroupRequest {
            bridge: bridge.to_string(),
            group_id,
        })
        .await
        .map_err(|s| CliError::status(format!("del-groups {bridge}"), s))?;
    Ok(Reply::done(
        json!({ "bridge": bridge, "group_id": group_id }),
    ))
}

pub async fn dump_groups(api: &Api, bridge: &str, id: Option<u32>) -> Result<Reply, CliError> {
    let mut groups = api
        .groups()
        .dump_groups(api::DumpGroupsRequest {
            bridge: bridge.to_string(),
            group_id: id,
        })
        .await
        .map_err(|s| CliError::status(format!("dump-groups {bridge}"), s))?
        .into_inner()
        .groups;
    groups.sort_by_key(|g| g.group.as_ref().map(|g| g.group_id));
    let mut t = Table::new(&[
        "GROUP>", "TYPE", "REFS>", "PACKETS>", "BYTES>", "AGE>", "SPEC",
    ]);
    for g in &groups {
        let group = g.group.clone().unwrap_or_default();
        t.row([
            group.group_id.to_string(),
            json::group_type(group.r#type).to_string(),
            g.ref_count.to_string(),
            count(g.packets),
            count(g.bytes),
            duration(g.duration_secs),
            g.spec.clone(),
        ]);
    }
    Ok(Reply {
        human: t.render(),
        json: json!({
            "bridge": bridge,
            "groups": groups.iter().map(json::group_entry).collect::<Vec<_>>(),
        }),
    })
}

pub async fn add_meter(api: &Api, bridge: &str, spec: &str) -> Result<Reply, CliError> {
    api.meters()
        .add_meter(api::MeterModRequest {
            bridge: bridge.to_string(),
            meter: Some(api::meter_mod_request::Meter::Spec(spec.to_string())),
        })
        .await
        .map_err(|s| CliError::status_with_input(format!("add-meter {bridge}"), s, Some(spec)))?;
    Ok(Reply::done(json!({ "bridge": bridge })))
}

pub async fn del_meters(api: &Api, bridge: &str, id: Option<u32>) -> Result<Reply, CliError> {
    let meter_id = id.unwrap_or(ALL_METERS);
    api.meters()
        .delete_meter(api::DeleteMeterRequest {
            bridge: bridge.to_string(),
            meter_id,
        })
        .await
        .map_err(|s| CliError::status(format!("del-meters {bridge}"), s))?;
    Ok(Reply::done(
        json!({ "bridge": bridge, "meter_id": meter_id }),
    ))
}

pub async fn dump_meters(api: &Api, bridge: &str, id: Option<u32>) -> Result<Reply, CliError> {
    let mut meters = api
        .meters()
        .dump_meters(api::DumpMetersRequest {
            bridge: bridge.to_string(),
            meter_id: id,
        })
        .await
        .map_err(|s| CliError::status(format!("dump-meters {bridge}"), s))?
        .into_inner()
        .meters;
    meters.sort_by_key(|m| m.meter.as_ref().map(|m| m.meter_id));
    let mut t = Table::new(&["METER>", "FLOWS>", "PACKETS>", "BYTES>", "AGE>", "SPEC"]);
    for m in &meters {
        let meter = m.meter.clone().unwrap_or_default();
        t.row([
            meter.meter_id.to_string(),
            m.flow_count.to_string(),
            count(m.packets_in),
            count(m.bytes_in),
            duration(m.duration_secs),
            m.spec.clone(),
        ]);
    }
    Ok(Reply {
        human: t.render(),
        json: json!({
            "bridge": bridge,
            "meters": meters.iter().map(json::meter_entry).collect::<Vec<_>>(),
        }),
    })
}
