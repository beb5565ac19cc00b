//! OpenFlow requests from controllers, answered by the bridge.
//!
//! The connection layer (`conn`) has already negotiated the version, done
//! the role checks and answered echo, role and async-config requests; what
//! reaches [`OfBridge::handle_request`] is applied in order, completely,
//! before the call returns, so a BARRIER_REPLY sent right away is honest.
//! Every refusal is an OFPT_ERROR with the spec's type and code and the
//! first bytes of the offending request, and it changes nothing.

use super::change::Durability;
use super::{dp_to_of, of_to_dp, OfBridge};
use crate::pipeline::{check_buffer, PipelineMod, N_TABLES, OFPTT_ALL};
use crate::wire::action::{port_no as ofp, Action};
use crate::wire::error::{BadRequest, OfError, PortModFailed, WireError};
use crate::wire::flow_mod::OFP_NO_BUFFER;
use crate::wire::instruction::instruction_type;
use crate::wire::message::{encode, Message};
use crate::wire::multipart::{
    AggregateStats, BucketCounter, Desc, FeatureId, FlowStats, GroupDesc, GroupFeatures,
    GroupStats, MeterBandStats, MeterConfig, MeterFeatures, MeterStats, MultipartReply,
    MultipartReplyBody, MultipartRequest, MultipartRequestBody, OxmId, PortStats, TableFeatureProp,
    TableFeatures, TableStats,
};
use crate::wire::oxm;
use crate::wire::queue::QueueGetConfigReply;
use crate::wire::switch::{
    ErrorMsg, Experimenter, FeaturesReply, SwitchConfig, NX_EXPERIMENTER_ID,
};
use crate::xlate;
use datapath::flow::key::TUN_MD_BYTES;
use datapath::flow::FlowKey;
use datapath::packet::Packet;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// `OFPMPF_REPLY_MORE`.
const REPLY_MORE: u16 = 1;
/// Largest multipart reply message we build.
const MAX_REPLY: usize = 60_000;

/// Datapath capabilities advertised in FEATURES_REPLY: flow, table, port,
/// group stats.
const CAPABILITIES: u32 = 1 | 2 | 4 | 8;

fn error(e: OfError, offending: &Message, xid: u32) -> Message {
    let bytes = encode(xid, offending);
    Message::Error(ErrorMsg::reply_to(e, &bytes))
}

fn duration(since: Instant) -> (u32, u32) {
    let d = since.elapsed();
    (d.as_secs() as u32, d.subsec_nanos())
}

/// Split a long list over as many replies as it takes (REPLY_MORE on all
/// but the last).
fn split<T: Clone>(items: Vec<T>, make: fn(Vec<T>) -> MultipartReplyBody) -> Vec<Message> {
    fn fits<T: Clone>(chunk: &[T], make: fn(Vec<T>) -> MultipartReplyBody) -> bool {
        let m = Message::MultipartReply(MultipartReply {
            flags: 0,
            body: make(chunk.to_vec()),
        });
        encode(0, &m).len() <= MAX_REPLY
    }
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut rest = &items[..];
    while !rest.is_empty() {
        let mut n = rest.len();
        while n > 1 && !fits(&rest[..n], make) {
            n = n.div_ceil(2);
        }
        chunks.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            Message::MultipartReply(MultipartReply {
                flags: if i < last { REPLY_MORE } else { 0 },
                body: make(c),
            })
        })
        .collect()
}

fn one(body: MultipartReplyBody) -> Vec<Message> {
    vec![Message::MultipartReply(MultipartReply { flags: 0, body })]
}

impl crate::conn::io::RequestHandler for OfBridge {
    fn handle(&self, _conn: crate::conn::io::ConnInfo, xid: u32, msg: Message) -> Vec<Message> {
        self.handle_request(xid, msg)
    }
}

impl OfBridge {
    /// Apply one request; return the replies (sent with the request's xid).
    pub fn handle_request(&self, xid: u32, msg: Message) -> Vec<Message> {
        match self.apply(&msg) {
            Ok(replies) => replies,
            Err(e) => {
                self.counters.errors_sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(bridge = %self.name, "refused request: {e}");
                vec![error(e.error, &msg, xid)]
            }
        }
    }

    fn apply(&self, msg: &Message) -> Result<Vec<Message>, WireError> {
        Ok(match msg {
            Message::FeaturesRequest => vec![Message::FeaturesReply(FeaturesReply {
                datapath_id: self.dpid,
                n_buffers: 0,
                n_tables: N_TABLES,
                auxiliary_id: 0,
                capabilities: CAPABILITIES,
            })],
            Message::GetConfigRequest => {
                let (flags, miss_send_len) =
                    *self.switch_config.lock().unwrap_or_else(|e| e.into_inner());
                vec![Message::GetConfigReply(SwitchConfig {
                    flags,
                    miss_send_len,
                })]
            }
            Message::SetConfig(c) => {
                *self.switch_config.lock().unwrap_or_else(|e| e.into_inner()) =
                    (c.flags, c.miss_send_len);
                vec![]
            }
            Message::BarrierRequest => {
                // Everything before the barrier must be in effect in the
                // datapath's megaflow cache too, not only in the tables.
                self.sync_to_pipeline();
                vec![Message::BarrierReply]
            }
            Message::FlowMod(fm) => {
                self.commit(&[PipelineMod::Flow(fm.clone())], Durability::Keep)
                    .map_err(|r| r.error)?;
                check_buffer(fm)?;
                vec![]
            }
            Message::GroupMod(gm) => {
                self.commit(&[PipelineMod::Group(gm.clone())], Durability::Keep)
                    .map_err(|r| r.error)?;
                vec![]
            }
            Message::MeterMod(mm) => {
                self.commit(&[PipelineMod::Meter(mm.clone())], Durability::Keep)
                    .map_err(|r| r.error)?;
                vec![]
            }
            Message::PortMod(pm) => {
                let dp = of_to_dp(pm.port_no)
                    .ok_or_else(|| WireError::new(PortModFailed::BAD_PORT, "no such port"))?;
                let port = self
                    .ports()
                    .iter()
                    .find(|p| p.port_no == dp)
                    .map(|p| p.port.mac().unwrap_or_default())
                    .ok_or_else(|| WireError::new(PortModFailed::BAD_PORT, "no such port"))?;
                if port != pm.hw_addr {
                    return Err(WireError::new(
                        PortModFailed::BAD_HW_ADDR,
                        "hw_addr does not match the port",
                    ));
                }
                self.port_mod(dp, pm.config, pm.mask);
                vec![]
            }
            Message::TableMod(tm) => {
                if tm.table_id >= N_TABLES && tm.table_id != OFPTT_ALL {
                    return Err(WireError::new(
                        crate::wire::error::TableModFailed::BAD_TABLE,
                        "no such table",
                    ));
                }
                vec![]
            }
            Message::PacketOut(po) => {
                self.packet_out(po)?;
                vec![]
            }
            Message::MultipartRequest(req) => self.multipart(req)?,
            Message::QueueGetConfigRequest(q) => {
                vec![Message::QueueGetConfigReply(QueueGetConfigReply {
                    port: q.port,
                    queues: self.queue_config(q.port)?,
                })]
            }
            Message::Experimenter(e) => self.experimenter(e)?,
            // Replies and switch-to-controller messages are not requests.
            _ => {
                return Err(WireError::new(
                    BadRequest::BAD_TYPE,
                    "not a controller-to-switch request",
                ))
            }
        })
    }

    fn packet_out(&self, po: &crate::wire::packet::PacketOut) -> Result<(), WireError> {
        if po.buffer_id != OFP_NO_BUFFER {
            return Err(WireError::new(
                BadRequest::BUFFER_UNKNOWN,
                "this switch does not buffer packets",
            ));
        }
        let in_port = match po.in_port {
            ofp::CONTROLLER | ofp::ANY => u32::MAX,
            p => of_to_dp(p).ok_or_else(|| {
                WireError::new(BadRequest::BAD_PORT, format!("bad in_port {p:#x}"))
            })?,
        };
        for a in &po.actions {
            if let Action::Output { port, .. } = a {
                if !ofp::is_valid_output(*port) {
                    return Err(WireError::new(
                        crate::wire::error::BadAction::BAD_OUT_PORT,
                        "bad output port",
                    ));
                }
            }
        }
        self.counters.packet_outs.fetch_add(1, Ordering::Relaxed);
        let Some(dpif) = self.dpif() else {
            return Ok(());
        };
        let mut packet = Packet::from_bytes(&po.data);
        packet.in_port = in_port;
        let mut key = FlowKey::default();
        datapath::flow::extract(&packet, &mut key);
        let snapshot = self.store.snapshot();
        let env = super::Env::new(self, snapshot.tlv.clone());
        // Output to TABLE runs the packet through the flow tables.
        let mut actions = Vec::new();
        let mut pending: Vec<Action> = Vec::new();
        let flush = |pending: &mut Vec<Action>, actions: &mut Vec<_>, key: &FlowKey| {
            if !pending.is_empty() {
                let x = xlate::translate_actions(&snapshot, &env, key, pending);
                actions.extend(x.actions);
                pending.clear();
            }
        };
        for a in &po.actions {
            match a {
                Action::Output {
                    port: ofp::TABLE, ..
                } => {
                    flush(&mut pending, &mut actions, &key);
                    let x = xlate::translate(&snapshot, &env, &key, 0);
                    actions.extend(x.actions);
                }
                other => pending.push(other.clone()),
            }
        }
        flush(&mut pending, &mut actions, &key);
        dpif.execute(packet, &actions);
        Ok(())
    }

    /// Nicira's TLV table messages (`wire::nx::tlv`); every other
    /// experimenter message is BAD_EXPERIMENTER (so `ovs-ofctl` falls back
    /// from extensions this switch does not have, e.g.
    /// NXT_SET_PACKET_IN_FORMAT).
    fn experimenter(&self, e: &Experimenter) -> Result<Vec<Message>, WireError> {
        use crate::wire::nx::tlv::{self, TlvMapping, TlvTableMod, TlvTableReply};
        match (e.experimenter, e.exp_type) {
            (NX_EXPERIMENTER_ID, tlv::NXT_TLV_TABLE_MOD) => {
                let tm = TlvTableMod::decode(&e.data)?;
                self.commit(&[PipelineMod::Tlv(tm)], Durability::Keep)
                    .map_err(|r| r.error)?;
                Ok(vec![])
            }
            (NX_EXPERIMENTER_ID, tlv::NXT_TLV_TABLE_REQUEST) => {
                if !e.data.is_empty() {
                    return Err(WireError::new(
                        BadRequest::BAD_LEN,
                        "NXT_TLV_TABLE_REQUEST has no body",
                    ));
                }
                let map = self.store.snapshot().tlv.clone();
                let reply = TlvTableReply {
                    max_option_space: TUN_MD_BYTES as u32,
                    max_fields: u16::from(datapath::tunnel::TUN_MD_FIELDS),
                    mappings: map
                        .entries()
                        .iter()
                        .map(|m| TlvMapping {
                            class: m.class,
                            opt_type: m.opt_type,
                            len: m.len,
                            index: u16::from(m.index),
                        })
                        .collect(),
                };
                let mut data = Vec::new();
                reply.encode(&mut data);
                Ok(vec![Message::Experimenter(Experimenter {
                    experimenter: NX_EXPERIMENTER_ID,
                    exp_type: tlv::NXT_TLV_TABLE_REPLY,
                    data,
                })])
            }
            _ => Err(WireError::new(
                BadRequest::BAD_EXPERIMENTER,
                format!(
                    "experimenter {:#010x} message {} is not supported",
                    e.experimenter, e.exp_type
                ),
            )),
        }
    }

    fn multipart(&self, req: &MultipartRequest) -> Result<Vec<Message>, WireError> {
        // Statistics are exact at read time: credit the cached megaflows'
        // traffic to rules, tables and groups before reading them.
        if matches!(
            req.body,
            MultipartRequestBody::Flow(_)
                | MultipartRequestBody::Aggregate(_)
                | MultipartRequestBody::Table
                | MultipartRequestBody::Group { .. }
        ) {
            self.credit_all();
        }
        let p = self.store.snapshot();
        Ok(match &req.body {
            MultipartRequestBody::Desc => one(MultipartReplyBody::Desc(Desc {
                mfr_desc: "switchd project".into(),
                hw_desc: "software switch".into(),
                sw_desc: env!("CARGO_PKG_VERSION").into(),
                serial_num: "None".into(),
                dp_desc: self.name.clone(),
            })),
            MultipartRequestBody::Flow(r) | MultipartRequestBody::Aggregate(r) => {
                let (key, mask) = crate::pipeline::key_map::match_to_key(&r.r#match, &p.tlv)?;
                if r.table_id != OFPTT_ALL && r.table_id >= N_TABLES {
                    return Err(WireError::new(BadRequest::BAD_TABLE_ID, "no such table"));
                }
                let rules: Vec<_> = p
                    .rules()
                    .filter(|x| r.table_id == OFPTT_ALL || x.table_id == r.table_id)
                    .filter(|x| x.covered_by(&key, &mask))
                    .filter(|x| x.cookie_matches(r.cookie, r.cookie_mask))
                    .filter(|x| x.outputs_to(r.out_port) && x.uses_group(r.out_group))
                    .cloned()
                    .collect();
                if let MultipartRequestBody::Aggregate(_) = &req.body {
                    let (mut packets, mut bytes) = (0u64, 0u64);
                    for x in &rules {
                        let (pk, b) = x.counts();
                        packets = packets.wrapping_add(if pk == u64::MAX { 0 } else { pk });
                        bytes = bytes.wrapping_add(if b == u64::MAX { 0 } else { b });
                    }
                    one(MultipartReplyBody::Aggregate(AggregateStats {
                        packet_count: packets,
                        byte_count: bytes,
                        flow_count: rules.len() as u32,
                    }))
                } else {
                    let stats = rules
                        .iter()
                        .map(|x| {
                            let (ds, dn) = duration(x.created);
                            let (packets, bytes) = x.counts();
                            FlowStats {
                                table_id: x.table_id,
                                duration_sec: ds,
                                duration_nsec: dn,
                                priority: x.priority,
                                idle_timeout: x.idle_timeout,
                                hard_timeout: x.hard_timeout,
                                flags: x.flags.bits(),
                                cookie: x.cookie,
                                packet_count: packets,
                                byte_count: bytes,
                                r#match: x.matcher.clone(),
                                instructions: x.instructions.clone(),
                            }
                        })
                        .collect();
                    split(stats, MultipartReplyBody::Flow)
                }
            }
            MultipartRequestBody::Table => {
                let stats = p
                    .tables
                    .iter()
                    .enumerate()
                    .map(|(i, t)| TableStats {
                        table_id: i as u8,
                        active_count: t.len() as u32,
                        lookup_count: t.lookups.load(Ordering::Relaxed),
                        matched_count: t.matched.load(Ordering::Relaxed),
                    })
                    .collect();
                split(stats, MultipartReplyBody::Table)
            }
            MultipartRequestBody::PortStats { port_no } => {
                let dpif = self.dpif();
                let stats = self
                    .ports()
                    .iter()
                    .filter(|bp| *port_no == ofp::ANY || bp.of_port() == *port_no)
                    .map(|bp| {
                        let s = dpif
                            .as_ref()
                            .and_then(|d| d.port_stats(bp.port_no))
                            .unwrap_or_default();
                        let (ds, dn) = duration(bp.added);
                        PortStats {
                            port_no: dp_to_of(bp.port_no),
                            rx_packets: s.rx_packets,
                            tx_packets: s.tx_packets,
                            rx_bytes: s.rx_bytes,
                            tx_bytes: s.tx_bytes,
                            rx_dropped: s.rx_dropped,
                            tx_dropped: s.tx_dropped,
                            rx_errors: s.rx_errors,
                            tx_errors: s.tx_errors,
                            rx_frame_err: 0,
                            rx_over_err: 0,
                            rx_crc_err: 0,
                            collisions: 0,
                            duration_sec: ds,
                            duration_nsec: dn,
                        }
                    })
                    .collect::<Vec<_>>();
                if stats.is_empty() && *port_no != ofp::ANY {
                    return Err(WireError::new(BadRequest::BAD_PORT, "no such port"));
                }
                split(stats, MultipartReplyBody::PortStats)
            }
            MultipartRequestBody::PortDesc => {
                let descs = self.ports().iter().map(|bp| bp.desc()).collect();
                split(descs, MultipartReplyBody::PortDesc)
            }
            MultipartRequestBody::Queue { port_no, queue_id } => split(
                self.queue_stats(*port_no, *queue_id)?,
                MultipartReplyBody::Queue,
            ),
            MultipartRequestBody::Group { group_id } => {
                let stats = p
                    .groups
                    .iter()
                    .filter(|g| {
                        *group_id == crate::wire::action::group_no::ALL || g.id == *group_id
                    })
                    .map(|g| {
                        let (ds, dn) = duration(g.created);
                        GroupStats {
                            group_id: g.id,
                            ref_count: p.rules().filter(|r| r.uses_group(g.id)).count() as u32,
                            packet_count: g.stats.packets.load(Ordering::Relaxed),
                            byte_count: g.stats.bytes.load(Ordering::Relaxed),
                            duration_sec: ds,
                            duration_nsec: dn,
                            bucket_stats: g
                                .stats
                                .buckets
                                .iter()
                                .map(|(pk, b)| BucketCounter {
                                    packet_count: pk.load(Ordering::Relaxed),
                                    byte_count: b.load(Ordering::Relaxed),
                                })
                                .collect(),
                        }
                    })
                    .collect();
                split(stats, MultipartReplyBody::Group)
            }
            MultipartRequestBody::GroupDesc => {
                let descs = p
                    .groups
                    .iter()
                    .map(|g| GroupDesc {
                        group_type: g.kind,
                        group_id: g.id,
                        buckets: g.buckets.clone(),
                    })
                    .collect();
                split(descs, MultipartReplyBody::GroupDesc)
            }
            MultipartRequestBody::GroupFeatures => {
                let max = crate::pipeline::group::MAX_GROUPS as u32;
                let actions = action_bitmap();
                one(MultipartReplyBody::GroupFeatures(GroupFeatures {
                    types: 0b1111,
                    // SELECT_WEIGHT | SELECT_LIVENESS | CHAINING | CHAINING_CHECKS
                    capabilities: 1 | 2 | 4 | 8,
                    max_groups: [max; 4],
                    actions: [actions; 4],
                }))
            }
            MultipartRequestBody::Meter { meter_id } => {
                let stats = self
                    .store
                    .meters
                    .all()
                    .iter()
                    .filter(|m| *meter_id == 0xffff_ffff || m.id == *meter_id)
                    .map(|m| {
                        let (ds, dn) = duration(m.created);
                        MeterStats {
                            meter_id: m.id,
                            flow_count: p
                                .rules()
                                .filter(|r| {
                                    r.instructions.iter().any(|i| {
                                        matches!(i, crate::wire::instruction::Instruction::Meter(x) if *x == m.id)
                                    })
                                })
                                .count() as u32,
                            packet_in_count: m.packets_in.load(Ordering::Relaxed),
                            byte_in_count: m.bytes_in.load(Ordering::Relaxed),
                            duration_sec: ds,
                            duration_nsec: dn,
                            band_stats: m
                                .bands
                                .iter()
                                .map(|b| MeterBandStats {
                                    packet_band_count: b.packets.load(Ordering::Relaxed),
                                    byte_band_count: b.bytes.load(Ordering::Relaxed),
                                })
                                .collect(),
                        }
                    })
                    .collect();
                split(stats, MultipartReplyBody::Meter)
            }
            MultipartRequestBody::MeterConfig { meter_id } => {
                let cfgs = self
                    .store
                    .meters
                    .all()
                    .iter()
                    .filter(|m| *meter_id == 0xffff_ffff || m.id == *meter_id)
                    .map(|m| MeterConfig {
                        flags: m.flags,
                        meter_id: m.id,
                        bands: m.bands.iter().map(|b| b.config.clone()).collect(),
                    })
                    .collect();
                split(cfgs, MultipartReplyBody::MeterConfig)
            }
            MultipartRequestBody::MeterFeatures => {
                one(MultipartReplyBody::MeterFeatures(MeterFeatures {
                    max_meter: crate::pipeline::meter::MAX_METERS as u32,
                    // DROP and DSCP_REMARK bands.
                    band_types: (1 << 1) | (1 << 2),
                    // KBPS | PKTPS | BURST | STATS
                    capabilities: 0b1111,
                    max_bands: crate::pipeline::meter::MAX_BANDS as u8,
                    max_color: 0,
                }))
            }
            MultipartRequestBody::TableFeatures(set) => {
                if !set.is_empty() {
                    // Reconfiguring tables is not supported.
                    return Err(WireError::new(
                        crate::wire::error::TableFeaturesFailed::EPERM,
                        "table features cannot be changed",
                    ));
                }
                // Constant, and asked by every ovs-ofctl command that
                // resolves names: split (encode) it once.
                static REPLIES: std::sync::OnceLock<Vec<Message>> = std::sync::OnceLock::new();
                REPLIES
                    .get_or_init(|| split(table_features(), MultipartReplyBody::TableFeatures))
                    .clone()
            }
        })
    }
}

/// The action types this switch executes.
const SUPPORTED_ACTIONS: [u16; 14] = {
    use crate::wire::action::action_type as at;
    [
        at::OUTPUT,
        at::COPY_TTL_OUT,
        at::COPY_TTL_IN,
        at::SET_MPLS_TTL,
        at::DEC_MPLS_TTL,
        at::PUSH_VLAN,
        at::POP_VLAN,
        at::PUSH_MPLS,
        at::POP_MPLS,
        at::SET_QUEUE,
        at::GROUP,
        at::SET_NW_TTL,
        at::DEC_NW_TTL,
        at::SET_FIELD,
    ]
};

/// Bitmap of supported action types (for group features).
fn action_bitmap() -> u32 {
    SUPPORTED_ACTIONS.iter().fold(0, |acc, t| acc | (1u32 << t))
}

/// What every table supports.
pub fn table_features() -> Vec<TableFeatures> {
    let actions: Vec<FeatureId> = SUPPORTED_ACTIONS
        .iter()
        .map(|&kind| FeatureId {
            kind,
            data: Vec::new(),
        })
        .collect();
    let ids = |it: &mut dyn Iterator<Item = u32>| -> Vec<OxmId> {
        it.filter(|h| {
            // Fields with no datapath slot are not advertised.
            let field = ((h >> 9) & 0x7f) as u8;
            !matches!(field, 37 | 39)
        })
        .map(|header| OxmId {
            header,
            experimenter: None,
        })
        .collect()
    };
    let matchable = ids(&mut oxm::match_ids());
    let wildcards = ids(&mut oxm::wildcard_ids());
    let settable: Vec<OxmId> = ids(&mut oxm::set_field_ids())
        .into_iter()
        .filter(|h| !matches!(((h.header >> 9) & 0x7f) as u8, 10 | 38))
        .collect();
    (0..N_TABLES)
        .map(|t| {
            let mut instructions = vec![
                instruction_type::APPLY_ACTIONS,
                instruction_type::WRITE_ACTIONS,
                instruction_type::CLEAR_ACTIONS,
                instruction_type::WRITE_METADATA,
                instruction_type::METER,
            ];
            if t + 1 < N_TABLES {
                instructions.push(instruction_type::GOTO_TABLE);
            }
            let instructions: Vec<FeatureId> = instructions
                .into_iter()
                .map(|kind| FeatureId {
                    kind,
                    data: Vec::new(),
                })
                .collect();
            let next: Vec<u8> = (t + 1..N_TABLES).collect();
            let mut props = Vec::new();
            for miss in [false, true] {
                props.push(TableFeatureProp::Instructions {
                    miss,
                    ids: instructions.clone(),
                });
                props.push(TableFeatureProp::NextTables {
                    miss,
                    tables: next.clone(),
                });
                props.push(TableFeatureProp::WriteActions {
                    miss,
                    ids: actions.clone(),
                });
                props.push(TableFeatureProp::ApplyActions {
                    miss,
                    ids: actions.clone(),
                });
                props.push(TableFeatureProp::WriteSetfield {
                    miss,
                    ids: settable.clone(),
                });
                props.push(TableFeatureProp::ApplySetfield {
                    miss,
                    ids: settable.clone(),
                });
            }
            props.push(TableFeatureProp::Match(matchable.clone()));
            props.push(TableFeatureProp::Wildcards(wildcards.clone()));
            TableFeatures {
                table_id: t,
                name: format!("table{t}"),
                metadata_match: u64::MAX,
                metadata_write: u64::MAX,
                config: 0,
                max_entries: crate::pipeline::MAX_RULES_PER_TABLE as u32,
                properties: props,
            }
        })
        .collect()
}
