//! A transaction on the pipeline: flow, group and meter modifications
//! applied together to one working copy and published in one step, or
//! refused whole.
//!
//! Every change to a bridge's OpenFlow state, whoever asks for it (a
//! controller's FLOW_MOD, a batch of `swctl add-flows`, a gRPC call, the
//! store restoring a bridge), is a list of [`PipelineMod`]s handed to
//! [`PipelineStore::commit`](super::PipelineStore::commit). The one idea:
//! nothing is visible until everything is checked. The tables and groups
//! are modified in a private copy of the current snapshot, the meters in a
//! private copy of the meter map (a meter that is not replaced keeps its
//! policer, so its token bucket survives); when the last modification has
//! passed, the meters and then the pipeline are published, each in one
//! atomic store. The first modification that fails refuses the whole
//! batch with its index, and the switch is as it was.
//!
//! A commit returns what it did ([`Committed`]): the rules it removed and
//! why (for FLOW_REMOVED), how many rules each modification touched (for
//! the API's answers), and the identities of the flows it added or
//! changed, so the daemon can tell whether a persistent flow was involved
//! without comparing whole tables. [`Saved`] is the state before a commit,
//! which the daemon republishes if it cannot persist what was committed.

use super::meter::Meter;
use super::rule::Rule;
use super::{key_map, Pipeline, RemovedReason, MAX_RULES_PER_TABLE, N_TABLES, OFPTT_ALL};
use crate::wire::action::{group_no, port_no, Action};
use crate::wire::error::{
    BadAction, BadInstruction, FlowModFailed, MeterModFailed, NxError, WireError, WireResult,
};
use crate::wire::flow_mod::{FlowMod, FlowModCommand};
use crate::wire::group::GroupMod;
use crate::wire::instruction::Instruction;
use crate::wire::meter::{MeterMod, MeterModCommand};
use crate::wire::nx::tlv::{TlvCommand, TlvTableMod};
use crate::wire::nx::NxAction;
use crate::wire::oxm::Match;
use crate::wire::oxm::OxmKind;
use datapath::tunnel::{TlvError, TlvMap};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// One modification of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum PipelineMod {
    Flow(FlowMod),
    Group(GroupMod),
    Meter(MeterMod),
    /// A change of the GENEVE TLV map (`NXT_TLV_TABLE_MOD`).
    Tlv(TlvTableMod),
}

/// The identity of a flow entry: what ADD replaces and DELETE_STRICT
/// names (table, priority, normalized match).
pub type FlowId = (u8, u16, Match);

/// The identity of an installed rule.
pub fn flow_id(r: &Rule) -> FlowId {
    (r.table_id, r.priority, r.matcher.normalized())
}

/// The meters by id, as the meter table publishes them.
pub type MeterMap = HashMap<u32, Arc<Meter>>;

/// What a committed transaction did.
#[derive(Debug, Default)]
pub struct Committed {
    /// Rules removed, with the reason a FLOW_REMOVED would give.
    pub removed: Vec<(Arc<Rule>, RemovedReason)>,
    /// Per modification, in order: rules added, modified or deleted (1 for
    /// a group or meter modification).
    pub touched: Vec<usize>,
    /// Flows added or whose instructions changed.
    pub changed: Vec<FlowId>,
    /// The pipeline version published.
    pub version: u64,
}

/// A refused transaction: which modification failed, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub index: usize,
    pub error: WireError,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "modification {} refused: {}", self.index + 1, self.error)
    }
}

impl std::error::Error for Refusal {}

/// The state before a commit, to republish if the change cannot stand.
#[derive(Debug, Clone)]
pub struct Saved {
    pub(super) pipeline: Arc<Pipeline>,
    pub(super) meters: Arc<MeterMap>,
}

/// Bytes of `ofp_flow_stats` before its match.
const FLOW_STATS_FIXED: usize = 48;
/// The largest flow-stats entry a reply can carry: a message is at most
/// 65,535 bytes, 16 of them the OpenFlow and multipart headers.
pub const MAX_FLOW_STATS: usize = 65_535 - 16;

/// Refuse a flow that no controller could ever dump: its flow-stats entry
/// would not fit in one OpenFlow message (the API can carry such a flow,
/// a controller cannot; one such flow used to break dump-flows for all).
fn check_dumpable(fm: &FlowMod) -> WireResult<()> {
    let mut m = Vec::new();
    fm.match_.encode(&mut m);
    let len = FLOW_STATS_FIXED
        + m.len()
        + fm.instructions
            .iter()
            .map(Instruction::wire_len)
            .sum::<usize>();
    if len > MAX_FLOW_STATS {
        return Err(WireError::new(
            BadInstruction::BAD_LEN,
            format!(
                "the flow would take {len} bytes in a flow-stats reply; OpenFlow carries at most {MAX_FLOW_STATS}"
            ),
        ));
    }
    Ok(())
}

/// The working copies one transaction modifies.
pub(super) struct Work {
    pub pipeline: Pipeline,
    pub meters: MeterMap,
    pub out: Committed,
    pub now: Instant,
}

impl Work {
    /// Apply one modification to the working copies.
    pub fn apply(&mut self, m: &PipelineMod) -> WireResult<()> {
        let touched = match m {
            PipelineMod::Flow(fm) => self.flow_mod(fm)?,
            PipelineMod::Group(gm) => self.group_mod(gm)?,
            PipelineMod::Meter(mm) => self.meter_mod(mm)?,
            PipelineMod::Tlv(tm) => self.tlv_mod(tm)?,
        };
        self.out.touched.push(touched);
        Ok(())
    }

    fn flow_mod(&mut self, fm: &FlowMod) -> WireResult<usize> {
        fm.match_.check_prerequisites()?;
        let (key, mask) = key_map::match_to_key(&fm.match_, &self.pipeline.tlv)?;
        let bad_table = || {
            WireError::new(
                FlowModFailed::BAD_TABLE_ID,
                format!("table {} does not exist", fm.table_id),
            )
        };
        let id = || (fm.table_id, fm.priority, fm.match_.normalized());
        match fm.command {
            FlowModCommand::Add => {
                let now = self.now;
                let t = self.checked_table(fm)?;
                t.add(fm, key, mask, now, MAX_RULES_PER_TABLE)?;
                self.out.changed.push(id());
                Ok(1)
            }
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                let strict = fm.command == FlowModCommand::ModifyStrict;
                let t = self.checked_table(fm)?;
                if strict {
                    let n = t.modify(fm, strict, &key, &mask);
                    if n > 0 {
                        self.out.changed.push(id());
                    }
                    return Ok(n);
                }
                // A modified rule is a new Arc: whatever was not there before.
                let before: HashSet<_> = t.rules().iter().map(Arc::as_ptr).collect();
                let n = t.modify(fm, strict, &key, &mask);
                if n > 0 {
                    let ids: Vec<_> = t
                        .rules()
                        .iter()
                        .filter(|r| !before.contains(&Arc::as_ptr(r)))
                        .map(|r| flow_id(r))
                        .collect();
                    self.out.changed.extend(ids);
                }
                Ok(n)
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                let strict = fm.command == FlowModCommand::DeleteStrict;
                let p = &mut self.pipeline;
                let removed: Vec<_> = if fm.table_id == OFPTT_ALL {
                    p.tables
                        .iter_mut()
                        .filter(|t| !t.is_empty())
                        .flat_map(|t| Arc::make_mut(t).delete(fm, strict, &key, &mask))
                        .collect()
                } else if fm.table_id < N_TABLES {
                    Arc::make_mut(&mut p.tables[fm.table_id as usize])
                        .delete(fm, strict, &key, &mask)
                } else {
                    return Err(bad_table());
                };
                let n = removed.len();
                let why = RemovedReason::Delete;
                self.out
                    .removed
                    .extend(removed.into_iter().map(|r| (r, why)));
                Ok(n)
            }
        }
    }

    /// The table an ADD or MODIFY writes, once its instructions passed.
    fn checked_table(&mut self, fm: &FlowMod) -> WireResult<&mut super::table::FlowTable> {
        if fm.table_id >= N_TABLES {
            return Err(WireError::new(
                FlowModFailed::BAD_TABLE_ID,
                format!("table {} does not exist", fm.table_id),
            ));
        }
        self.check_instructions(fm)?;
        check_dumpable(fm)?;
        Ok(Arc::make_mut(
            &mut self.pipeline.tables[fm.table_id as usize],
        ))
    }

    fn group_mod(&mut self, gm: &GroupMod) -> WireResult<usize> {
        // Bucket actions are checked like flow actions.
        for b in &gm.buckets {
            self.check_actions(&b.actions)?;
        }
        let deleted = self.pipeline.groups.apply(gm)?;
        if !deleted.is_empty() {
            let gone = self
                .pipeline
                .remove_where(|r| deleted.iter().any(|g| r.uses_group(*g)));
            let why = RemovedReason::GroupDelete;
            self.out.removed.extend(gone.into_iter().map(|r| (r, why)));
        }
        Ok(1)
    }

    fn meter_mod(&mut self, mm: &MeterMod) -> WireResult<usize> {
        super::meter::apply_to(&mut self.meters, mm)?;
        if mm.command == MeterModCommand::Delete {
            // Deleting a meter removes the rules that use it.
            let all = mm.meter_id == 0xffff_ffff;
            let gone = self.pipeline.remove_where(|r| {
                r.instructions
                    .iter()
                    .any(|i| matches!(i, Instruction::Meter(m) if all || *m == mm.meter_id))
            });
            let why = RemovedReason::Delete;
            self.out.removed.extend(gone.into_iter().map(|r| (r, why)));
        }
        Ok(1)
    }

    /// A TLV map change, Open vSwitch's way: ADD all or nothing (an index
    /// or option already mapped, or no room left, refuses it); DELETE by
    /// index and CLEAR refused while an installed flow uses a field they
    /// would remove (a flow's key was built against the mapping).
    fn tlv_mod(&mut self, tm: &TlvTableMod) -> WireResult<usize> {
        let tlv = &self.pipeline.tlv;
        let next = match tm.command {
            TlvCommand::Add => {
                let maps: Vec<_> = tm
                    .mappings
                    .iter()
                    .map(|m| (m.class, m.opt_type, m.len, m.index))
                    .collect();
                tlv.with_added(&maps).map_err(tlv_error)?
            }
            TlvCommand::Delete | TlvCommand::Clear => {
                let gone: Vec<u8> = match tm.command {
                    TlvCommand::Clear => tlv.entries().iter().map(|e| e.index).collect(),
                    _ => tm
                        .mappings
                        .iter()
                        .filter_map(|m| u8::try_from(m.index).ok())
                        .filter(|&i| tlv.entry(i).is_some())
                        .collect(),
                };
                if let Some(i) = gone.iter().copied().find(|&i| self.field_in_use(i)) {
                    return Err(WireError::new(
                        NxError::TLV_INVALID_DEL,
                        format!("tun_metadata{i} is used by an installed flow"),
                    ));
                }
                gone.iter().fold((**tlv).clone(), |m, &i| m.without(i))
            }
        };
        self.pipeline.tlv = Arc::new(next);
        Ok(tm.mappings.len())
    }

    /// Does any installed rule match on or act on `tun_metadata<index>`?
    fn field_in_use(&self, index: u8) -> bool {
        OxmKind::tun_metadata(index)
            .is_some_and(|kind| self.pipeline.rules().any(|r| r.uses_field(kind)))
    }

    fn check_actions(&self, actions: &[Action]) -> WireResult<()> {
        for a in actions {
            match a {
                Action::Output { port, .. } if !port_no::is_valid_output(*port) => {
                    return Err(WireError::new(
                        BadAction::BAD_OUT_PORT,
                        format!("output to invalid port {port:#x}"),
                    ))
                }
                Action::Group(g)
                    if *g > group_no::MAX || self.pipeline.groups.get(*g).is_none() =>
                {
                    return Err(WireError::new(
                        BadAction::BAD_OUT_GROUP,
                        format!("group {g} does not exist"),
                    ))
                }
                Action::SetField(f) => key_map::check_set_field(f, &self.pipeline.tlv)?,
                Action::Nx(nx) => check_nx(nx, &self.pipeline.tlv)?,
                Action::PushPbb(_) | Action::PopPbb => {
                    return Err(WireError::new(
                        BadAction::BAD_TYPE,
                        "PBB actions are not supported",
                    ))
                }
                // The datapath does not parse under an MPLS label, so it
                // cannot reach the inner TTL: refuse rather than ignore.
                Action::CopyTtlIn => {
                    return Err(WireError::new(
                        BadAction::BAD_TYPE,
                        "copy_ttl_in is not supported",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_instructions(&self, fm: &FlowMod) -> WireResult<()> {
        for i in &fm.instructions {
            match i {
                Instruction::GotoTable(t) if *t <= fm.table_id || *t >= N_TABLES => {
                    return Err(WireError::new(
                        BadInstruction::BAD_TABLE_ID,
                        format!("goto_table {t} from table {}", fm.table_id),
                    ))
                }
                Instruction::Meter(m) if !self.meters.contains_key(m) => {
                    return Err(WireError::new(
                        MeterModFailed::UNKNOWN_METER,
                        format!("meter {m} does not exist"),
                    ))
                }
                Instruction::ApplyActions(a) => self.check_actions(a)?,
                Instruction::WriteActions(a) => {
                    if a.iter().any(|a| matches!(a, Action::Nx(_))) {
                        return Err(WireError::new(
                            BadAction::UNSUPPORTED_ORDER,
                            "Nicira actions are not supported in write-actions",
                        ));
                    }
                    self.check_actions(a)?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The TLV table-mod error for a map that cannot be built.
fn tlv_error(e: TlvError) -> WireError {
    let code = match e {
        TlvError::BadLength(_) => NxError::TLV_BAD_OPT_LEN,
        TlvError::BadIndex(_) => NxError::TLV_BAD_FIELD_IDX,
        TlvError::AlreadyMapped(_) => NxError::TLV_ALREADY_MAPPED,
        TlvError::Duplicate { .. } => NxError::TLV_DUP_ENTRY,
        TlvError::Full => NxError::TLV_TABLE_FULL,
    };
    WireError::new(code, e.to_string())
}

/// What an NX action needs from the key: its fields readable (source) or
/// writable (destination), bit ranges checked again for hand-built ones.
fn check_nx(nx: &NxAction, tlv: &TlvMap) -> WireResult<()> {
    match nx {
        NxAction::RegLoad { dst, .. } => {
            dst.check()?;
            key_map::check_write(dst.kind, tlv)?;
            key_map::check_bits(dst, tlv)
        }
        NxAction::RegMove { src, dst } => {
            src.check()?;
            dst.check()?;
            key_map::check_read(src.kind, tlv)?;
            key_map::check_write(dst.kind, tlv)?;
            key_map::check_bits(src, tlv)?;
            key_map::check_bits(dst, tlv)
        }
        NxAction::OutputReg { src, .. } => {
            src.check()?;
            key_map::check_read(src.kind, tlv)?;
            key_map::check_bits(src, tlv)
        }
        NxAction::RegLoad2(f) => key_map::check_set_field(f, tlv),
        NxAction::Resubmit { .. } | NxAction::Note(_) | NxAction::Sample(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::PipelineStore;
    use super::*;
    use crate::wire::group::{Bucket, GroupModCommand, GroupType};
    use crate::wire::meter::MeterBand;
    use crate::wire::oxm::OxmField;

    fn flow(command: FlowModCommand, port: u32, out: u32, meter: Option<u32>) -> PipelineMod {
        let mut instructions = Vec::new();
        if let Some(m) = meter {
            instructions.push(Instruction::Meter(m));
        }
        instructions.push(Instruction::ApplyActions(vec![Action::Output {
            port: out,
            max_len: 0,
        }]));
        PipelineMod::Flow(FlowMod {
            command,
            priority: 10,
            match_: Match::new().with(OxmField::InPort(port)),
            instructions,
            ..Default::default()
        })
    }

    fn add(port: u32, out: u32) -> PipelineMod {
        flow(FlowModCommand::Add, port, out, None)
    }

    fn group(command: GroupModCommand, id: u32) -> PipelineMod {
        PipelineMod::Group(GroupMod {
            command,
            group_type: GroupType::All,
            group_id: id,
            buckets: vec![Bucket {
                weight: 0,
                watch_port: port_no::ANY,
                watch_group: group_no::ANY,
                actions: vec![Action::Output {
                    port: 1,
                    max_len: 0,
                }],
            }],
        })
    }

    fn meter(command: MeterModCommand, id: u32, rate: u32) -> PipelineMod {
        PipelineMod::Meter(MeterMod {
            command,
            flags: crate::wire::meter::meter_flags::KBPS,
            meter_id: id,
            bands: vec![MeterBand::Drop {
                rate,
                burst_size: 0,
            }],
        })
    }

    /// Everything observable of a store: rules with their actions, groups,
    /// meters (by identity of the policer), version.
    type State = (Vec<String>, Vec<u32>, Vec<(u32, usize)>, u64);

    fn state(s: &PipelineStore) -> State {
        let p = s.snapshot();
        let rules = p
            .rules()
            .map(|r| format!("{:?} {:?}", flow_id(r), r.instructions))
            .collect();
        let groups = (0..10).filter(|g| p.groups.get(*g).is_some()).collect();
        let mut meters: Vec<_> = s
            .meters
            .map()
            .iter()
            .map(|(id, m)| (*id, Arc::as_ptr(m) as usize))
            .collect();
        meters.sort();
        (rules, groups, meters, p.version)
    }

    #[test]
    fn a_flow_too_big_to_dump_is_refused() {
        let s = PipelineStore::default();
        let many = |n: usize| {
            let mut f = add(1, 2);
            if let PipelineMod::Flow(fm) = &mut f {
                fm.instructions = vec![Instruction::ApplyActions(vec![
                    Action::Output {
                        port: 1,
                        max_len: 0
                    };
                    n
                ])];
            }
            f
        };
        // 16 bytes an output action: 4,000 fit, 5,000 do not.
        s.commit(&[many(4_000)]).unwrap();
        let r = s.commit(&[many(5_000)]).unwrap_err();
        assert_eq!(r.error.error, BadInstruction::BAD_LEN, "{r}");
        assert!(r.to_string().contains("flow-stats reply"), "{r}");
    }

    #[test]
    fn a_batch_is_published_in_one_version() {
        let s = PipelineStore::default();
        let v0 = s.version();
        let out = s
            .commit(&[
                meter(MeterModCommand::Add, 1, 1000),
                group(GroupModCommand::Add, 1),
                add(1, 2),
                flow(FlowModCommand::Add, 2, 1, Some(1)),
            ])
            .unwrap();
        assert_eq!(s.version(), v0 + 1);
        assert_eq!(out.version, v0 + 1);
        assert_eq!(out.touched, vec![1, 1, 1, 1]);
        assert_eq!(out.changed.len(), 2);
        assert_eq!(s.snapshot().rules().count(), 2);
    }

    #[test]
    fn one_bad_element_anywhere_changes_nothing() {
        let s = PipelineStore::default();
        s.commit(&[
            meter(MeterModCommand::Add, 1, 1000),
            group(GroupModCommand::Add, 1),
            add(1, 2),
            add(3, 4),
        ])
        .unwrap();
        let before = state(&s);
        // Each batch does real work first (a replace, a modify, a delete,
        // a group and meter change), then fails.
        let bad_out = add(9, 0xffff_fff0);
        let batches: Vec<Vec<PipelineMod>> = vec![
            vec![add(1, 7), bad_out.clone()],
            vec![flow(FlowModCommand::Modify, 3, 5, None), bad_out.clone()],
            vec![
                flow(FlowModCommand::DeleteStrict, 1, 0, None),
                bad_out.clone(),
            ],
            vec![group(GroupModCommand::Delete, 1), bad_out.clone()],
            vec![meter(MeterModCommand::Delete, 1, 0), bad_out.clone()],
            vec![meter(MeterModCommand::Modify, 1, 5), bad_out.clone()],
            // A meter added, then a flow naming a meter that does not exist.
            vec![
                meter(MeterModCommand::Add, 5, 5),
                flow(FlowModCommand::Add, 5, 1, Some(6)),
            ],
            vec![group(GroupModCommand::Add, 1)],
        ];
        for (i, b) in batches.iter().enumerate() {
            let r = s.commit(b).unwrap_err();
            assert_eq!(
                r.index,
                b.len() - 1,
                "batch {i}: the last element is refused"
            );
            assert_eq!(state(&s), before, "batch {i} changed something");
        }
    }

    #[test]
    fn later_elements_see_earlier_ones() {
        let s = PipelineStore::default();
        // A flow may use the meter and group added before it in the batch,
        // and a delete removes what the batch just added.
        let mut uses_group = add(7, 1);
        if let PipelineMod::Flow(f) = &mut uses_group {
            f.instructions = vec![Instruction::ApplyActions(vec![Action::Group(3)])];
        }
        s.commit(&[
            meter(MeterModCommand::Add, 2, 10),
            group(GroupModCommand::Add, 3),
            flow(FlowModCommand::Add, 1, 2, Some(2)),
            uses_group,
            add(5, 6),
            flow(FlowModCommand::DeleteStrict, 5, 0, None),
        ])
        .unwrap();
        assert_eq!(s.snapshot().rules().count(), 2);
        // Deleting the group and the meter takes their rules along.
        let out = s
            .commit(&[
                group(GroupModCommand::Delete, 3),
                meter(MeterModCommand::Delete, 2, 0),
            ])
            .unwrap();
        let why: Vec<_> = out.removed.iter().map(|(_, w)| *w).collect();
        assert_eq!(why, [RemovedReason::GroupDelete, RemovedReason::Delete]);
        assert_eq!(s.snapshot().rules().count(), 0);
    }

    #[test]
    fn a_meter_not_replaced_keeps_its_policer_and_restore_puts_all_back() {
        let s = PipelineStore::default();
        s.commit(&[meter(MeterModCommand::Add, 1, 1000), add(1, 2)])
            .unwrap();
        let policer = Arc::as_ptr(&s.meters.map()[&1]);
        let saved = s.save();
        let before = state(&s);
        s.commit(&[
            meter(MeterModCommand::Add, 2, 1000),
            flow(FlowModCommand::Delete, 1, 0, None),
        ])
        .unwrap();
        assert_eq!(Arc::as_ptr(&s.meters.map()[&1]), policer);
        let v = s.version();
        s.restore(&saved);
        let after = state(&s);
        assert_eq!(
            (&after.0, &after.1, &after.2),
            (&before.0, &before.1, &before.2)
        );
        assert!(s.version() > v, "a restore is a new version");
    }
}
