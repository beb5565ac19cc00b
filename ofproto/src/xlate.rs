//! Translation: one packet through the OpenFlow pipeline, out as datapath
//! actions plus the megaflow mask that says which packets share the result.
//!
//! The translator walks tables from table 0 with a *working key* (the
//! packet's key as the pipeline has rewritten it so far), following
//! instructions in the spec's order (meter, apply-actions, clear-actions,
//! write-actions, write-metadata, goto-table) and, when the walk ends,
//! executing the action set in the spec's order (copy TTL in, pop, push
//! MPLS, push VLAN, copy TTL out, decrement TTL, set-field, set-queue,
//! group, output).
//!
//! The mask (`wc`) starts empty and grows only with what was consulted:
//! the table lookups' bits (see `pipeline::table`), the fields a SELECT
//! group hashes, the fields NORMAL learns from, the VLAN TCI a push copies.
//! `in_port` and `recirc_id` are always exact. The working key is an
//! [`XKey`]: the packet's `FlowKey` plus the pipeline's own registers and
//! metadata, which the megaflow mask (the `FlowKey` part of the wildcards)
//! never carries, since the datapath never sees them.
//!
//! Nicira actions (`xlate::nx`): `resubmit` runs another lookup in the
//! middle of an action list (its rule's write-actions go into the same
//! action set, which runs once, at the end of the top-level walk); `load`
//! and `move` change the working key (a datapath set action only for
//! fields in the packet: registers stay in translation); `output:<field>`
//! reads its port from the key. Reading a packet field for `move` or
//! `output:<field>` un-wildcards the bits read. A resubmit nested deeper
//! than 64, or more than 4096 resubmits, drops the packet, as in Open
//! vSwitch.
//!
//! Everything the translator needs from the bridge (ports, NORMAL,
//! packet-in contexts, what an output to a tunnel port becomes) comes through the [`XlateEnv`] trait, so translation
//! is a pure function of its inputs and is tested without a datapath.

use crate::pipeline::group::Group;
use crate::pipeline::key_map;
use crate::pipeline::rule::Rule;
use crate::pipeline::xkey::{XKey, N_REGS};
use crate::pipeline::Pipeline;
use crate::wire::action::{port_no, Action};
use crate::wire::group::GroupType;
use crate::wire::instruction::Instruction;
use crate::wire::oxm::OxmField;
use crate::wire::packet::PacketInReason;
use datapath::actions::{Action as Dp, Field};
use datapath::flow::key::{VLAN_CFI, VLAN_VID_MASK};
use datapath::flow::FlowKey;
use datapath::PortNo;
use std::sync::Arc;

/// The datapath port number of the bridge's LOCAL port.
pub const LOCAL_DP_PORT: PortNo = 0;
/// Deepest nesting of groups and goto-table the translator follows.
const MAX_DEPTH: usize = 64;
/// Deepest nesting of `resubmit` (Open vSwitch's MAX_DEPTH).
const MAX_RESUBMIT_DEPTH: usize = 64;
/// Most `resubmit`s one translation follows (Open vSwitch's MAX_RESUBMITS).
const MAX_RESUBMITS: usize = 4096;

/// A port as translation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortView {
    /// Datapath (and OpenFlow) port number; [`LOCAL_DP_PORT`] for LOCAL.
    pub port_no: PortNo,
    /// Link up and not administratively down.
    pub live: bool,
    pub no_fwd: bool,
    pub no_flood: bool,
}

/// Where a packet goes to the controller, interned into a `Userspace`
/// action's user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControllerCtx {
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub max_len: u16,
    pub metadata: u64,
}

/// Where a `sample` action's flow samples go (see `crate::ipfix`),
/// interned into a `Userspace` action's user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowSample {
    pub collector_set_id: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
}

/// What translation needs from the bridge.
pub trait XlateEnv {
    /// The bridge's ports.
    fn ports(&self) -> &[PortView];
    /// NORMAL: learn from the key and return the output ports. Must widen
    /// `wc` with what it consulted.
    fn normal(&self, key: &FlowKey, wc: &mut FlowKey) -> Vec<PortNo>;
    /// A userdata value that identifies `ctx` for the packet-in path.
    fn controller_userdata(&self, ctx: ControllerCtx) -> u64;
    /// A userdata value that identifies `sample` for the flow-sample path;
    /// `None` when the environment does not sample (the action is left out).
    fn flow_sample_userdata(&self, _sample: FlowSample) -> Option<u64> {
        None
    }
    /// A recirculation id (never 0) under which `state` can be found
    /// again by [`thaw`](Self::thaw); `None` when the environment cannot
    /// recirculate, and translation goes on without re-parsing.
    fn freeze(&self, _state: Frozen) -> Option<u32> {
        None
    }
    /// The state frozen under recirculation id `id`.
    fn thaw(&self, _id: u32) -> Option<Frozen> {
        None
    }
    /// Output to `port` when it is more than a datapath output (a tunnel
    /// port, or a LOCAL port that terminates tunnels: see
    /// [`crate::tunnel`]): push the actions for it and return true, or
    /// return false for a plain `Output(port)`. Widens `wc` with what it
    /// consulted.
    fn special_output(
        &self,
        _port: PortNo,
        _key: &FlowKey,
        _wc: &mut FlowKey,
        _out: &mut Vec<Dp>,
    ) -> bool {
        false
    }
}

/// Translation state frozen at a recirculation.
///
/// After `pop_mpls` the working key knows nothing of the headers that were
/// under the label (the datapath never parses under MPLS), so a later table
/// that matches on them would decide on zeros. Instead of going to that
/// table directly, translation ends with `Recirculate(id)`: the datapath
/// re-parses the packet as it now is and looks it up again with
/// `recirc_id = id`, and the translation of that second pass resumes from
/// this state, with a key that has the inner headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frozen {
    /// The table to resume at (the goto-table target).
    pub table: u8,
    /// The pipeline metadata and registers at that point.
    pub metadata: u64,
    pub regs: [u32; N_REGS],
    /// The action set accumulated so far.
    pub action_set: Vec<Action>,
}

/// The result of translating one packet.
#[derive(Debug, Default)]
pub struct Xlation {
    pub actions: Vec<Dp>,
    /// The megaflow mask.
    pub mask: FlowKey,
    /// Rules the packet hit (their counters get the megaflow's traffic).
    pub rules: Vec<Arc<Rule>>,
    /// Groups and the bucket taken.
    pub buckets: Vec<(Arc<Group>, usize)>,
    /// Tables looked up (for table counters): (table, matched).
    pub lookups: Vec<(u8, bool)>,
}

/// The action set being accumulated by write-actions.
#[derive(Debug, Default, Clone)]
struct ActionSet {
    actions: Vec<Action>,
}

/// Position of an action kind in the action set's execution order.
fn set_order(a: &Action) -> u8 {
    match a {
        Action::CopyTtlIn => 0,
        Action::PopVlan | Action::PopMpls(_) | Action::PopPbb => 1,
        Action::PushMpls(_) => 2,
        Action::PushPbb(_) => 3,
        Action::PushVlan(_) => 4,
        Action::CopyTtlOut => 5,
        Action::DecMplsTtl | Action::DecNwTtl => 6,
        Action::SetField(_) | Action::SetMplsTtl(_) | Action::SetNwTtl(_) => 7,
        Action::SetQueue(_) => 8,
        Action::Group(_) => 9,
        Action::Output { .. } => 10,
        // Refused in write-actions at flow-mod time.
        Action::Nx(_) => 11,
    }
}

/// Two actions occupy the same slot of the action set.
fn same_slot(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (Action::SetField(x), Action::SetField(y)) => x.kind() == y.kind(),
        (Action::Nx(x), Action::Nx(y)) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

impl ActionSet {
    fn write(&mut self, list: &[Action]) {
        for a in list {
            self.actions.retain(|x| !same_slot(x, a));
            self.actions.push(a.clone());
        }
    }

    fn ordered(&self) -> Vec<Action> {
        let mut v = self.actions.clone();
        v.sort_by_key(set_order);
        // With a group in the set, the output action is ignored.
        if v.iter().any(|a| matches!(a, Action::Group(_))) {
            v.retain(|a| !matches!(a, Action::Output { .. }));
        }
        v
    }
}

struct Ctx<'a> {
    pipeline: &'a Pipeline,
    env: &'a dyn XlateEnv,
    key: XKey,
    /// The wildcards: the bits of `key` the result depends on.
    wc: XKey,
    in_port: PortNo,
    out: Xlation,
    depth: usize,
    table_id: u8,
    cookie: u64,
    table_miss: bool,
    /// A pop_mpls left headers the key does not describe.
    needs_reparse: bool,
    /// The action set of the walk (resubmitted rules write into it too).
    set: ActionSet,
    /// Nesting of `resubmit`s now, and how many were followed in all.
    resubmit_depth: usize,
    resubmits: usize,
    /// A resubmit limit was hit: the packet is dropped.
    too_deep: bool,
}

/// The datapath actions for an output to `port`: the environment's (a
/// tunnel port, a LOCAL that terminates tunnels) or a plain `Output`.
pub fn emit_output(
    env: &dyn XlateEnv,
    port: PortNo,
    key: &FlowKey,
    wc: &mut FlowKey,
    out: &mut Vec<Dp>,
) {
    if !env.special_output(port, key, wc, out) {
        out.push(Dp::Output(port));
    }
}

/// Translate a packet with key `key` starting at table `table`.
pub fn translate(pipeline: &Pipeline, env: &dyn XlateEnv, key: &FlowKey, table: u8) -> Xlation {
    let mut cx = Ctx {
        pipeline,
        env,
        key: XKey::from(*key),
        wc: XKey::default(),
        in_port: key.in_port,
        out: Xlation::default(),
        depth: 0,
        table_id: table,
        cookie: 0,
        table_miss: false,
        needs_reparse: false,
        set: ActionSet::default(),
        resubmit_depth: 0,
        resubmits: 0,
        too_deep: false,
    };
    let mut out_actions = Vec::new();
    if key.recirc_id == 0 {
        cx.run_table(table, &mut out_actions, true);
    } else if let Some(frozen) = env.thaw(key.recirc_id) {
        // A second pass: resume where the first one froze. An id never
        // handed out translates to a drop.
        cx.key.metadata = frozen.metadata;
        cx.key.regs = frozen.regs;
        cx.set.actions = frozen.action_set;
        cx.run_table(frozen.table, &mut out_actions, true);
    }
    if cx.too_deep {
        // Open vSwitch's answer to a resubmit loop: drop the packet.
        out_actions.clear();
    }
    cx.out.actions = out_actions;
    // The megaflow mask: what was consulted of the packet's own fields
    // (the registers and metadata stay behind in `cx.wc`).
    let mut mask = cx.wc.flow;
    mask.in_port = u32::MAX;
    mask.recirc_id = u32::MAX;
    cx.out.mask = mask;
    cx.out
}

/// Translate a list of actions applied directly (packet-out).
pub fn translate_actions(
    pipeline: &Pipeline,
    env: &dyn XlateEnv,
    key: &FlowKey,
    actions: &[Action],
) -> Xlation {
    let mut cx = Ctx {
        pipeline,
        env,
        key: XKey::from(*key),
        wc: XKey::default(),
        in_port: key.in_port,
        out: Xlation::default(),
        depth: 0,
        table_id: 0,
        cookie: u64::MAX,
        table_miss: false,
        needs_reparse: false,
        set: ActionSet::default(),
        resubmit_depth: 0,
        resubmits: 0,
        too_deep: false,
    };
    let mut out = Vec::new();
    cx.apply(actions, &mut out);
    if cx.too_deep {
        out.clear();
    }
    cx.out.actions = out;
    cx.out.mask = FlowKey::exact();
    cx.out
}

impl Ctx<'_> {
    /// Look `table` up and run the rule's instructions, following
    /// goto-table. At the end of the walk the action set is executed when
    /// `top` (not for a resubmit, whose caller's walk goes on).
    fn run_table(&mut self, table: u8, out: &mut Vec<Dp>, top: bool) {
        self.depth += 1;
        let Some(t) = self.pipeline.table(table) else {
            return;
        };
        let Some(rule) = t.lookup(&self.key, &mut self.wc).cloned() else {
            // OpenFlow 1.3 table-miss without a table-miss entry: drop (the
            // action set is not executed).
            self.out.lookups.push((table, false));
            return;
        };
        self.out.lookups.push((table, true));
        self.out.rules.push(rule.clone());
        self.table_id = table;
        self.cookie = rule.cookie;
        self.table_miss = rule.priority == 0 && rule.matcher.is_empty();
        let mut goto = None;
        let mut ins = rule.instructions.clone();
        ins.sort_by_key(|i| match i {
            Instruction::Meter(_) => 0,
            Instruction::ApplyActions(_) => 1,
            Instruction::ClearActions => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::GotoTable(_) => 5,
        });
        for i in &ins {
            match i {
                Instruction::Meter(m) => out.push(Dp::Meter(*m)),
                Instruction::ApplyActions(a) => self.apply(a, out),
                Instruction::ClearActions => self.set.actions.clear(),
                Instruction::WriteActions(a) => self.set.write(a),
                Instruction::WriteMetadata {
                    metadata: value,
                    mask,
                } => self.key.metadata = (self.key.metadata & !mask) | (value & mask),
                Instruction::GotoTable(t) => goto = Some(*t),
            }
        }
        match goto {
            Some(t) if self.depth < MAX_DEPTH && t > table => {
                if self.needs_reparse && top {
                    let frozen = Frozen {
                        table: t,
                        metadata: self.key.metadata,
                        regs: self.key.regs,
                        action_set: self.set.actions.clone(),
                    };
                    if let Some(id) = self.env.freeze(frozen) {
                        out.push(Dp::Recirculate(id));
                        return;
                    }
                }
                self.run_table(t, out, top)
            }
            _ if top => {
                let ordered = self.set.ordered();
                self.apply(&ordered, out);
            }
            _ => {}
        }
    }

    fn controller(&mut self, reason: PacketInReason, max_len: u16) -> Dp {
        let userdata = self.env.controller_userdata(ControllerCtx {
            reason: u8::from(reason),
            table_id: self.table_id,
            cookie: self.cookie,
            max_len,
            metadata: self.key.metadata,
        });
        Dp::Userspace { userdata }
    }

    fn invalid_ttl(&mut self) -> Arc<[Dp]> {
        Arc::from(vec![self.controller(PacketInReason::InvalidTtl, 0xffff)])
    }

    fn output(&mut self, port: u32, max_len: u16, out: &mut Vec<Dp>) {
        let in_port = self.in_port;
        let ports = self.env.ports();
        let mut to: Vec<PortNo> = Vec::new();
        match port {
            port_no::IN_PORT => to.push(in_port),
            port_no::NORMAL => {
                let mut wc = self.wc;
                to = self.env.normal(&self.key, &mut wc);
                self.wc = wc;
            }
            port_no::FLOOD | port_no::ALL => {
                let flood = port == port_no::FLOOD;
                for p in ports {
                    if p.port_no != in_port && !(flood && p.no_flood) && !p.no_fwd {
                        to.push(p.port_no);
                    }
                }
            }
            port_no::CONTROLLER => {
                let reason = if self.table_miss {
                    PacketInReason::NoMatch
                } else {
                    PacketInReason::Action
                };
                out.push(self.controller(reason, max_len));
            }
            port_no::LOCAL => {
                if in_port != LOCAL_DP_PORT && ports.iter().any(|p| p.port_no == LOCAL_DP_PORT) {
                    to.push(LOCAL_DP_PORT);
                }
            }
            port_no::TABLE | port_no::ANY => {}
            p => {
                // Output to the input port must be spelled IN_PORT.
                if p != in_port && ports.iter().any(|v| v.port_no == p && !v.no_fwd) {
                    to.push(p);
                }
            }
        }
        for p in to {
            emit_output(self.env, p, &self.key, &mut self.wc, out);
        }
    }

    fn apply(&mut self, actions: &[Action], out: &mut Vec<Dp>) {
        for a in actions {
            match a {
                Action::Output { port, max_len } => self.output(*port, *max_len, out),
                Action::Group(g) => self.group(*g, out),
                Action::SetField(f) => self.set_field(f, out),
                Action::PushVlan(tpid) => {
                    self.wc.vlan_tci = u16::MAX;
                    let tci = if self.key.vlan_tci & VLAN_CFI != 0 {
                        self.key.vlan_tci & !VLAN_CFI
                    } else {
                        0
                    };
                    out.push(Dp::PushVlan { tpid: *tpid, tci });
                    self.key.inner_vlan_tci = self.key.vlan_tci;
                    self.key.inner_vlan_tpid = self.key.vlan_tpid;
                    self.key.vlan_tci = tci | VLAN_CFI;
                    self.key.vlan_tpid = *tpid;
                }
                Action::PopVlan => {
                    out.push(Dp::PopVlan);
                    self.key.vlan_tci = self.key.inner_vlan_tci;
                    self.key.vlan_tpid = self.key.inner_vlan_tpid;
                    self.key.inner_vlan_tci = 0;
                    self.key.inner_vlan_tpid = 0;
                }
                Action::PushMpls(ethertype) => {
                    let lse = if self.key.mpls_lse != 0 || self.is_mpls() {
                        self.wc.mpls_lse = u32::MAX;
                        self.key.mpls_lse & !0x100
                    } else {
                        self.wc.nw_ttl = 0xff;
                        let ttl = if self.key.is_ip() {
                            self.key.nw_ttl
                        } else {
                            64
                        };
                        0x100 | ttl as u32
                    };
                    out.push(Dp::PushMpls {
                        ethertype: *ethertype,
                        lse,
                    });
                    self.key.eth_type = *ethertype;
                    self.key.mpls_lse = lse;
                }
                Action::PopMpls(ethertype) => {
                    out.push(Dp::PopMpls {
                        ethertype: *ethertype,
                    });
                    // What lies under the label was never parsed: a later
                    // table recirculates to see it (see `Frozen`).
                    self.key.eth_type = *ethertype;
                    self.key.mpls_lse = 0;
                    self.needs_reparse = true;
                }
                Action::SetMplsTtl(t) => {
                    out.push(Dp::set(Field::MplsTtl, *t as u128));
                    self.key.mpls_lse = (self.key.mpls_lse & !0xff) | *t as u32;
                }
                Action::DecMplsTtl => {
                    let on_zero = self.invalid_ttl();
                    out.push(Dp::DecMplsTtl { on_zero });
                }
                Action::SetNwTtl(t) => {
                    out.push(Dp::set(Field::IpTtl, *t as u128));
                    self.key.nw_ttl = *t;
                }
                Action::DecNwTtl => {
                    let on_zero = self.invalid_ttl();
                    out.push(Dp::DecTtl { on_zero });
                    self.key.nw_ttl = self.key.nw_ttl.saturating_sub(1);
                }
                Action::CopyTtlOut => {
                    // IP -> outermost MPLS.
                    if self.is_mpls() && self.key.is_ip() {
                        self.wc.nw_ttl = 0xff;
                        out.push(Dp::set(Field::MplsTtl, self.key.nw_ttl as u128));
                    }
                }
                Action::CopyTtlIn => {
                    // Refused at flow-mod time (the datapath cannot reach
                    // the TTL under an MPLS label); nothing to translate.
                }
                // The following outputs go to this queue of their port
                // (`datapath::qos`; a queue the port lacks means queue 0).
                Action::SetQueue(q) => out.push(Dp::SetQueue(*q)),
                Action::PushPbb(_) | Action::PopPbb => {}
                Action::Nx(nx) => self.nx(nx, out),
            }
        }
    }

    fn is_mpls(&self) -> bool {
        matches!(self.key.eth_type, 0x8847 | 0x8848)
    }

    pub(super) fn set_field(&mut self, f: &OxmField, out: &mut Vec<Dp>) {
        // Validated at flow-mod time; a field without a slot is ignored.
        if let Ok(Some(dp)) = key_map::set_field(&mut self.key, f, &self.pipeline.tlv) {
            out.push(dp);
        }
    }

    fn group(&mut self, id: u32, out: &mut Vec<Dp>) {
        if self.depth >= MAX_DEPTH {
            return;
        }
        let Some(g) = self.pipeline.groups.get(id).cloned() else {
            return;
        };
        self.depth += 1;
        match g.kind {
            GroupType::All => {
                for (i, b) in g.buckets.iter().enumerate() {
                    let saved = self.key;
                    let mut nested = Vec::new();
                    self.apply(&b.actions, &mut nested);
                    self.key = saved;
                    self.out.buckets.push((g.clone(), i));
                    if !nested.is_empty() {
                        out.push(Dp::Clone(Arc::from(nested)));
                    }
                }
            }
            GroupType::Indirect => {
                if let Some(b) = g.buckets.first() {
                    self.out.buckets.push((g.clone(), 0));
                    self.apply(&b.actions, out);
                }
            }
            GroupType::Select => {
                if let Some(i) = self.select_bucket(&g) {
                    self.out.buckets.push((g.clone(), i));
                    self.apply(&g.buckets[i].actions, out);
                }
            }
            GroupType::FastFailover => {
                if let Some(i) = (0..g.buckets.len()).find(|&i| self.bucket_live(&g, i, 0)) {
                    self.out.buckets.push((g.clone(), i));
                    self.apply(&g.buckets[i].actions, out);
                }
            }
            GroupType::Unknown(_) => {}
        }
        self.depth -= 1;
    }

    /// Is bucket `i` of `g` usable (its watched port or group live)?
    fn bucket_live(&self, g: &Group, i: usize, depth: usize) -> bool {
        let b = &g.buckets[i];
        let port_ok = b.watch_port == port_no::ANY
            || self
                .env
                .ports()
                .iter()
                .any(|p| p.port_no == b.watch_port && p.live);
        let group_ok = b.watch_group == crate::wire::action::group_no::ANY
            || (depth < 8
                && self.pipeline.groups.get(b.watch_group).is_some_and(|w| {
                    (0..w.buckets.len()).any(|j| self.bucket_live(w, j, depth + 1))
                }));
        port_ok && group_ok
    }

    /// Weighted choice by a hash of the flow's addresses and ports.
    fn select_bucket(&mut self, g: &Group) -> Option<usize> {
        let live: Vec<usize> = (0..g.buckets.len())
            .filter(|&i| g.buckets[i].weight > 0 && self.bucket_live(g, i, 0))
            .collect();
        let total: u64 = live.iter().map(|&i| g.buckets[i].weight as u64).sum();
        if total == 0 {
            return None;
        }
        let k = &self.key;
        let m = &mut self.wc;
        m.eth_src = [0xff; 6];
        m.eth_dst = [0xff; 6];
        m.eth_type = 0xffff;
        let mut h = datapath::flow::key::HashState::new(u64::from(g.id));
        h.add(u64::from_be_bytes([
            0,
            0,
            k.eth_src[0],
            k.eth_src[1],
            k.eth_src[2],
            k.eth_src[3],
            k.eth_src[4],
            k.eth_src[5],
        ]));
        h.add(u64::from_be_bytes([
            0,
            0,
            k.eth_dst[0],
            k.eth_dst[1],
            k.eth_dst[2],
            k.eth_dst[3],
            k.eth_dst[4],
            k.eth_dst[5],
        ]));
        if k.is_ip() {
            m.ipv4_src = u32::MAX;
            m.ipv4_dst = u32::MAX;
            m.ipv6_src = [0xff; 16];
            m.ipv6_dst = [0xff; 16];
            m.nw_proto = 0xff;
            h.add(((k.ipv4_src as u64) << 32) | k.ipv4_dst as u64);
            h.add(
                u128::from_be_bytes(k.ipv6_src) as u64 ^ (u128::from_be_bytes(k.ipv6_dst) as u64),
            );
            h.add(k.nw_proto as u64);
            if matches!(k.nw_proto, 6 | 17 | 132) {
                m.tp_src = 0xffff;
                m.tp_dst = 0xffff;
                h.add(((k.tp_src as u64) << 16) | k.tp_dst as u64);
            }
        }
        let mut pick = h.finish() as u64 % total;
        for &i in &live {
            let w = g.buckets[i].weight as u64;
            if pick < w {
                return Some(i);
            }
            pick -= w;
        }
        live.last().copied()
    }
}

/// Un-wildcard what NORMAL consults (for `XlateEnv::normal` implementors).
pub fn normal_mask(wc: &mut FlowKey) {
    wc.in_port = u32::MAX;
    wc.eth_src = [0xff; 6];
    wc.eth_dst = [0xff; 6];
    wc.vlan_tci |= VLAN_CFI | VLAN_VID_MASK;
}

/// The fields a packet-in's match reports besides IN_PORT.
pub fn packet_in_fields(key: &FlowKey, metadata: u64) -> Vec<OxmField> {
    let mut v = Vec::new();
    if metadata != 0 {
        v.push(OxmField::Metadata {
            value: metadata,
            mask: None,
        });
    }
    if key.tun_id != 0 {
        v.push(OxmField::TunnelId {
            value: key.tun_id,
            mask: None,
        });
    }
    v
}

#[cfg(test)]
mod mask_property;
mod nx;
#[cfg(test)]
mod tests;
