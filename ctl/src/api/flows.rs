//! FlowService, GroupService and MeterService: OpenFlow state through the
//! API, as ovs-ofctl strings or structured messages.
//!
//! Both forms become the same `ofproto::wire` message (a FLOW_MOD,
//! GROUP_MOD or METER_MOD) and are applied to the bridge's pipeline
//! exactly as a controller's would be, so the API and controllers see one
//! set of tables. A refusal by the pipeline (a missing group, a bad
//! goto_table) is FAILED_PRECONDITION with the OpenFlow error text.

use super::convert::{flow_from, flow_to, group_from, group_to, meter_from, meter_to};
use super::secs_since;
use crate::bridge::Bridge;
use crate::switch::{port_names, Switch};
use crate::switch::{SwitchError, SwitchResult};
use crate::syntax::flow::{format_flow, parse_flow, parse_match, FlowView, Purpose};
use crate::syntax::group::{format_group, format_meter, parse_group, parse_meter};
use ofproto::bridge::change::Durability;
use ofproto::pipeline::rule::Rule;
use ofproto::pipeline::{Committed, PipelineMod};
use ofproto::wire::flow_mod::{FlowMod, FlowModCommand};
use ofproto::wire::group::GroupModCommand;
use ofproto::wire::meter::MeterModCommand;
use proto::v1;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The FlowService implementation.
#[derive(Debug)]
pub struct Flows(pub Arc<Switch>);
/// The GroupService implementation.
#[derive(Debug)]
pub struct Groups(pub Arc<Switch>);
/// The MeterService implementation.
#[derive(Debug)]
pub struct Meters(pub Arc<Switch>);

fn purpose_of(command: FlowModCommand) -> Purpose {
    match command {
        FlowModCommand::Add => Purpose::Add,
        FlowModCommand::Modify => Purpose::Modify { strict: false },
        FlowModCommand::ModifyStrict => Purpose::Modify { strict: true },
        FlowModCommand::Delete => Purpose::Delete { strict: false },
        FlowModCommand::DeleteStrict => Purpose::Delete { strict: true },
    }
}

/// The FLOW_MOD a request asks for.
fn flow_mod_of(
    bridge: &Bridge,
    flow: Option<&v1::flow_mod_request::Flow>,
    command: FlowModCommand,
) -> SwitchResult<FlowMod> {
    let names = port_names(bridge);
    match flow {
        Some(v1::flow_mod_request::Flow::Spec(s)) => {
            Ok(parse_flow(s, purpose_of(command), &names)?)
        }
        Some(v1::flow_mod_request::Flow::Structured(f)) => flow_from(f, command),
        None if command.is_delete() => Ok(parse_flow("", purpose_of(command), &names)?),
        None => Err(SwitchError::Invalid(
            "a flow (spec or structured) is required".into(),
        )),
    }
}

/// How the API's `persistent` flag reads as a commit's durability.
fn durability(persistent: bool) -> Durability {
    if persistent {
        Durability::Persistent
    } else {
        Durability::Transient
    }
}

/// Rules a commit added, modified or deleted.
fn touched(out: &Committed) -> u32 {
    out.touched.iter().sum::<usize>() as u32
}

fn command(base: FlowModCommand, strict: bool) -> FlowModCommand {
    match (base, strict) {
        (FlowModCommand::Modify, true) => FlowModCommand::ModifyStrict,
        (FlowModCommand::Delete, true) => FlowModCommand::DeleteStrict,
        (c, _) => c,
    }
}

impl Flows {
    async fn one(
        &self,
        r: v1::FlowModRequest,
        base: FlowModCommand,
    ) -> Result<v1::FlowModResponse, Status> {
        let durability = durability(r.persistent);
        let out = self
            .0
            .commit(r.bridge.clone(), durability, "flow", move |b| {
                let fm = flow_mod_of(b, r.flow.as_ref(), command(base, r.strict))?;
                Ok(vec![PipelineMod::Flow(fm)])
            })
            .await?;
        Ok(v1::FlowModResponse {
            flows: touched(&out),
        })
    }
}

/// One rule as a dump entry.
pub fn entry(r: &Rule, persistent: bool) -> v1::FlowEntry {
    let (packets, bytes) = r.counts();
    v1::FlowEntry {
        flow: Some(flow_to(r)),
        spec: format_flow(FlowView::from(r)),
        packets: if packets == u64::MAX { 0 } else { packets },
        bytes: if bytes == u64::MAX { 0 } else { bytes },
        duration_secs: secs_since(r.created),
        persistent,
    }
}

/// The rules a dump request selects.
pub fn select_rules(bridge: &Bridge, r: &v1::DumpFlowsRequest) -> SwitchResult<Vec<Arc<Rule>>> {
    let names = port_names(bridge);
    let (m, table) = parse_match(&r.filter, &names)?;
    let table = match (r.table, table) {
        (Some(t), _) => {
            Some(u8::try_from(t).map_err(|_| SwitchError::Invalid(format!("table {t}")))?)
        }
        (None, t) => t,
    };
    // Counters are exact at read time: credit the cached megaflows first.
    bridge.ofbridge.credit_all();
    let snapshot = bridge.ofbridge.store.snapshot();
    let (key, mask) = ofproto::pipeline::key_map::match_to_key(&m, &snapshot.tlv)
        .map_err(|e| SwitchError::Invalid(format!("filter: {e}")))?;
    let mut rules: Vec<Arc<Rule>> = snapshot
        .rules()
        .filter(|x| table.is_none_or(|t| x.table_id == t))
        .filter(|x| x.covered_by(&key, &mask))
        .cloned()
        .collect();
    rules.sort_by(|a, b| {
        a.table_id
            .cmp(&b.table_id)
            .then(b.priority.cmp(&a.priority))
    });
    Ok(rules)
}

#[tonic::async_trait]
impl v1::flow_service_server::FlowService for Flows {
    async fn add_flow(
        &self,
        req: Request<v1::FlowModRequest>,
    ) -> Result<Response<v1::FlowModResponse>, Status> {
        self.one(req.into_inner(), FlowModCommand::Add)
            .await
            .map(Response::new)
    }

    async fn add_flows(
        &self,
        req: Request<v1::AddFlowsRequest>,
    ) -> Result<Response<v1::FlowModResponse>, Status> {
        let r = req.into_inner();
        let durability = durability(r.persistent);
        let out = self
            .0
            .commit(r.bridge.clone(), durability, "flow", move |b| {
                let mut mods = Vec::new();
                let names = port_names(b);
                for (i, s) in r.specs.iter().enumerate() {
                    let fm = parse_flow(s, Purpose::Add, &names)
                        .map_err(|e| SwitchError::Invalid(format!("flow {}: {e}", i + 1)))?;
                    mods.push(PipelineMod::Flow(fm));
                }
                for (i, f) in r.structured.iter().enumerate() {
                    let fm = flow_from(f, FlowModCommand::Add).map_err(|e| {
                        SwitchError::Invalid(format!("structured flow {}: {e}", i + 1))
                    })?;
                    mods.push(PipelineMod::Flow(fm));
                }
                Ok(mods)
            })
            .await?;
        Ok(Response::new(v1::FlowModResponse {
            flows: touched(&out),
        }))
    }

    async fn modify_flows(
        &self,
        req: Request<v1::FlowModRequest>,
    ) -> Result<Response<v1::FlowModResponse>, Status> {
        self.one(req.into_inner(), FlowModCommand::Modify)
            .await
            .map(Response::new)
    }

    async fn delete_flows(
        &self,
        req: Request<v1::FlowModRequest>,
    ) -> Result<Response<v1::FlowModResponse>, Status> {
        self.one(req.into_inner(), FlowModCommand::Delete)
            .await
            .map(Response::new)
    }

    async fn dump_flows(
        &self,
        req: Request<v1::DumpFlowsRequest>,
    ) -> Result<Response<v1::DumpFlowsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                // The cached identities, recomputed only if the store changed.
                let persistent = inner.persistent_ids(&r.bridge)?.flows.clone();
                let (b, _) = inner.bridge(&r.bridge)?;
                let flows = select_rules(b, &r)?
                    .iter()
                    .map(|x| {
                        let id = (x.table_id, x.priority, x.matcher.normalized());
                        entry(x, persistent.contains(&id))
                    })
                    .collect();
                Ok(v1::DumpFlowsResponse { flows })
            })
            .await
            .map(Response::new)
    }
}

impl Groups {
    async fn apply(
        &self,
        r: v1::GroupModRequest,
        command: GroupModCommand,
    ) -> Result<v1::GroupModResponse, Status> {
        self.0
            .commit(
                r.bridge.clone(),
                Durability::Persistent,
                "group",
                move |b| {
                    let names = port_names(b);
                    let gm = match &r.group {
                        Some(v1::group_mod_request::Group::Spec(s)) => {
                            parse_group(s, command, &names)?
                        }
                        Some(v1::group_mod_request::Group::Structured(g)) => {
                            group_from(g, command)?
                        }
                        None => {
                            return Err(SwitchError::Invalid(
                                "a group (spec or structured) is required".into(),
                            ))
                        }
                    };
                    Ok(vec![PipelineMod::Group(gm)])
                },
            )
            .await?;
        Ok(v1::GroupModResponse {})
    }
}

#[tonic::async_trait]
impl v1::group_service_server::GroupService for Groups {
    async fn add_group(
        &self,
        req: Request<v1::GroupModRequest>,
    ) -> Result<Response<v1::GroupModResponse>, Status> {
        self.apply(req.into_inner(), GroupModCommand::Add)
            .await
            .map(Response::new)
    }

    async fn modify_group(
        &self,
        req: Request<v1::GroupModRequest>,
    ) -> Result<Response<v1::GroupModResponse>, Status> {
        self.apply(req.into_inner(), GroupModCommand::Modify)
            .await
            .map(Response::new)
    }

    async fn delete_group(
        &self,
        req: Request<v1::DeleteGroupRequest>,
    ) -> Result<Response<v1::GroupModResponse>, Status> {
        let r = req.into_inner();
        self.0
            .commit(
                r.bridge.clone(),
                Durability::Persistent,
                "group",
                move |b| {
                    let all = r.group_id == ofproto::wire::group::group_id::ALL;
                    if !all && b.ofbridge.store.snapshot().groups.get(r.group_id).is_none() {
                        return Err(SwitchError::NotFound(format!("no group {}", r.group_id)));
                    }
                    Ok(vec![PipelineMod::Group(ofproto::wire::group::GroupMod {
                        command: GroupModCommand::Delete,
                        group_type: ofproto::wire::group::GroupType::All,
                        group_id: r.group_id,
                        buckets: Vec::new(),
                    })])
                },
            )
            .await?;
        Ok(Response::new(v1::GroupModResponse {}))
    }

    async fn dump_groups(
        &self,
        req: Request<v1::DumpGroupsRequest>,
    ) -> Result<Response<v1::DumpGroupsResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                let (b, _) = inner.bridge(&r.bridge)?;
                b.ofbridge.credit_all();
                let p = b.ofbridge.store.snapshot();
                let groups = p
                    .groups
                    .iter()
                    .filter(|g| r.group_id.is_none_or(|id| id == g.id))
                    .map(|g| {
                        use std::sync::atomic::Ordering::Relaxed;
                        v1::GroupEntry {
                            group: Some(group_to(g.id, g.kind, &g.buckets)),
                            spec: format_group(g.id, g.kind, &g.buckets),
                            ref_count: p.rules().filter(|x| x.uses_group(g.id)).count() as u32,
                            packets: g.stats.packets.load(Relaxed),
                            bytes: g.stats.bytes.load(Relaxed),
                            bucket_stats: g
                                .stats
                                .buckets
                                .iter()
                                .map(|(pk, by)| v1::Counter {
                                    packets: pk.load(Relaxed),
                                    bytes: by.load(Relaxed),
                                })
                                .collect(),
                            duration_secs: secs_since(g.created),
                        }
                    })
                    .collect();
                Ok(v1::DumpGroupsResponse { groups })
            })
            .await
            .map(Response::new)
    }
}

impl Meters {
    async fn apply(
        &self,
        r: v1::MeterModRequest,
        command: MeterModCommand,
    ) -> Result<v1::MeterModResponse, Status> {
        self.0
            .commit(
                r.bridge.clone(),
                Durability::Persistent,
                "meter",
                move |_| {
                    let mm = match &r.meter {
                        Some(v1::meter_mod_request::Meter::Spec(s)) => parse_meter(s, command)?,
                        Some(v1::meter_mod_request::Meter::Structured(m)) => {
                            meter_from(m, command)?
                        }
                        None => {
                            return Err(SwitchError::Invalid(
                                "a meter (spec or structured) is required".into(),
                            ))
                        }
                    };
                    Ok(vec![PipelineMod::Meter(mm)])
                },
            )
            .await?;
        Ok(v1::MeterModResponse {})
    }
}

#[tonic::async_trait]
impl v1::meter_service_server::MeterService for Meters {
    async fn add_meter(
        &self,
        req: Request<v1::MeterModRequest>,
    ) -> Result<Response<v1::MeterModResponse>, Status> {
        self.apply(req.into_inner(), MeterModCommand::Add)
            .await
            .map(Response::new)
    }

    async fn modify_meter(
        &self,
        req: Request<v1::MeterModRequest>,
    ) -> Result<Response<v1::MeterModResponse>, Status> {
        self.apply(req.into_inner(), MeterModCommand::Modify)
            .await
            .map(Response::new)
    }

    async fn delete_meter(
        &self,
        req: Request<v1::DeleteMeterRequest>,
    ) -> Result<Response<v1::MeterModResponse>, Status> {
        let r = req.into_inner();
        self.0
            .commit(
                r.bridge.clone(),
                Durability::Persistent,
                "meter",
                move |b| {
                    if r.meter_id != u32::MAX && b.ofbridge.store.meters.get(r.meter_id).is_none() {
                        return Err(SwitchError::NotFound(format!("no meter {}", r.meter_id)));
                    }
                    Ok(vec![PipelineMod::Meter(ofproto::wire::meter::MeterMod {
                        command: MeterModCommand::Delete,
                        flags: 0,
                        meter_id: r.meter_id,
                        bands: Vec::new(),
                    })])
                },
            )
            .await?;
        Ok(Response::new(v1::MeterModResponse {}))
    }

    async fn dump_meters(
        &self,
        req: Request<v1::DumpMetersRequest>,
    ) -> Result<Response<v1::DumpMetersResponse>, Status> {
        let r = req.into_inner();
        self.0
            .call(move |_, inner| {
                use std::sync::atomic::Ordering::Relaxed;
                let (b, _) = inner.bridge(&r.bridge)?;
                let p = b.ofbridge.store.snapshot();
                let meters = b
                    .ofbridge
                    .store
                    .meters
                    .all()
                    .iter()
                    .filter(|m| r.meter_id.is_none_or(|id| id == m.id))
                    .map(|m| {
                        let bands: Vec<_> = m.bands.iter().map(|b| b.config.clone()).collect();
                        v1::MeterEntry {
                            meter: Some(meter_to(m.id, m.flags, &bands)),
                            spec: format_meter(m.id, m.flags, &bands),
                            flow_count: p
                                .rules()
                                .filter(|x| {
                                    x.instructions.iter().any(|i| {
                                        matches!(i, ofproto::wire::instruction::Instruction::Meter(id) if *id == m.id)
                                    })
                                })
                                .count() as u32,
                            packets_in: m.packets_in.load(Relaxed),
                            bytes_in: m.bytes_in.load(Relaxed),
                            band_stats: m
                                .bands
                                .iter()
                                .map(|b| v1::Counter {
                                    packets: b.packets.load(Relaxed),
                                    bytes: b.bytes.load(Relaxed),
                                })
                                .collect(),
                            duration_secs: secs_since(m.created),
                        }
                    })
                    .collect();
                Ok(v1::DumpMetersResponse { meters })
            })
            .await
            .map(Response::new)
    }
}
