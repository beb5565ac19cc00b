//! The group table: ALL, SELECT, INDIRECT and FAST_FAILOVER groups.
//!
//! Groups are validated here (bucket rules per type, references to other
//! groups, loops) and executed by the translator (`xlate`): ALL clones the
//! packet into every bucket, SELECT picks one bucket by a hash of the flow
//! weighted by bucket weights, INDIRECT runs its single bucket, FAST_FAILOVER
//! runs the first bucket whose watched port or group is live.

use crate::wire::action::{group_no, port_no, Action};
use crate::wire::error::{GroupModFailed, WireError, WireResult};
use crate::wire::group::{Bucket, GroupMod, GroupModCommand, GroupType};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

/// Most buckets per group.
pub const MAX_BUCKETS: usize = 64;
/// Most groups.
pub const MAX_GROUPS: usize = 65_536;

/// Counters of a group and its buckets.
#[derive(Debug)]
pub struct GroupStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub buckets: Vec<(AtomicU64, AtomicU64)>,
}

/// One group.
#[derive(Debug)]
pub struct Group {
    pub id: u32,
    pub kind: GroupType,
    pub buckets: Vec<Bucket>,
    pub created: Instant,
    pub stats: Arc<GroupStats>,
}

impl Group {
    /// Groups this group's buckets refer to.
    pub fn referenced_groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(|b| {
            b.actions.iter().filter_map(|a| match a {
                Action::Group(g) => Some(*g),
                _ => None,
            })
        })
    }
}

/// Groups by id.
#[derive(Debug, Clone, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Arc<Group>>,
}

fn bad(code: crate::wire::error::OfError, detail: &str) -> WireError {
    WireError::new(code, detail)
}

impl GroupTable {
    pub fn get(&self, id: u32) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Group>> {
        self.groups.values()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn validate(&self, gm: &GroupMod) -> WireResult<()> {
        if gm.group_id > group_no::MAX {
            return Err(bad(GroupModFailed::INVALID_GROUP, "group id out of range"));
        }
        if gm.buckets.len() > MAX_BUCKETS {
            return Err(bad(GroupModFailed::OUT_OF_BUCKETS, "too many buckets"));
        }
        match gm.group_type {
            GroupType::Indirect if gm.buckets.len() != 1 => {
                return Err(bad(
                    GroupModFailed::INVALID_GROUP,
                    "an indirect group has exactly one bucket",
                ))
            }
            GroupType::Unknown(_) => {
                return Err(bad(GroupModFailed::BAD_TYPE, "unknown group type"))
            }
            _ => {}
        }
        for b in &gm.buckets {
            if gm.group_type != GroupType::Select && b.weight != 0 {
                return Err(bad(
                    GroupModFailed::INVALID_GROUP,
                    "only select groups have bucket weights",
                ));
            }
            if gm.group_type == GroupType::FastFailover
                && b.watch_port == port_no::ANY
                && b.watch_group == group_no::ANY
            {
                return Err(bad(
                    GroupModFailed::BAD_WATCH,
                    "a fast-failover bucket must watch a port or a group",
                ));
            }
            for a in &b.actions {
                if let Action::Group(g) = a {
                    if !self.groups.contains_key(g) {
                        return Err(bad(
                            GroupModFailed::CHAINING_UNSUPPORTED,
                            "bucket refers to a group that does not exist",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Would group `id`, with these buckets, reach itself?
    fn loops(&self, id: u32, buckets: &[Bucket]) -> bool {
        let mut todo: Vec<u32> = buckets
            .iter()
            .flat_map(|b| b.actions.iter())
            .filter_map(|a| match a {
                Action::Group(g) => Some(*g),
                _ => None,
            })
            .collect();
        let mut seen = HashSet::new();
        while let Some(g) = todo.pop() {
            if g == id {
                return true;
            }
            if seen.insert(g) {
                if let Some(grp) = self.groups.get(&g) {
                    todo.extend(grp.referenced_groups());
                }
            }
        }
        false
    }

    /// Apply a GROUP_MOD; returns the ids of deleted groups (their rules
    /// must go too).
    pub fn apply(&mut self, gm: &GroupMod) -> WireResult<Vec<u32>> {
        let make = |gm: &GroupMod| {
            Arc::new(Group {
                id: gm.group_id,
                kind: gm.group_type,
                buckets: gm.buckets.clone(),
                created: Instant::now(),
                stats: Arc::new(GroupStats {
                    packets: AtomicU64::new(0),
                    bytes: AtomicU64::new(0),
                    buckets: gm
                        .buckets
                        .iter()
                        .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                        .collect(),
                }),
            })
        };
        match gm.command {
            GroupModCommand::Add => {
                self.validate(gm)?;
                if self.groups.contains_key(&gm.group_id) {
                    return Err(bad(GroupModFailed::GROUP_EXISTS, "group exists"));
                }
                if self.groups.len() >= MAX_GROUPS {
                    return Err(bad(GroupModFailed::OUT_OF_GROUPS, "too many groups"));
                }
                self.groups.insert(gm.group_id, make(gm));
                Ok(Vec::new())
            }
            GroupModCommand::Modify => {
                self.validate(gm)?;
                if !self.groups.contains_key(&gm.group_id) {
                    return Err(bad(GroupModFailed::UNKNOWN_GROUP, "no such group"));
                }
                if self.loops(gm.group_id, &gm.buckets) {
                    return Err(bad(GroupModFailed::LOOP, "group would reach itself"));
                }
                self.groups.insert(gm.group_id, make(gm));
                Ok(Vec::new())
            }
            GroupModCommand::Delete => {
                let ids: Vec<u32> = if gm.group_id == group_no::ALL {
                    self.groups.keys().copied().collect()
                } else if self.groups.contains_key(&gm.group_id) {
                    vec![gm.group_id]
                } else {
                    Vec::new()
                };
                // A group other groups chain to cannot go while they stay.
                for id in &ids {
                    let users = self
                        .groups
                        .values()
                        .any(|g| !ids.contains(&g.id) && g.referenced_groups().any(|r| r == *id));
                    if users {
                        return Err(bad(
                            GroupModFailed::CHAINED_GROUP,
                            "another group forwards to this group",
                        ));
                    }
                }
                for id in &ids {
                    self.groups.remove(id);
                }
                Ok(ids)
            }
            GroupModCommand::Unknown(_) => {
                Err(bad(GroupModFailed::BAD_COMMAND, "unknown group command"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gm(cmd: GroupModCommand, kind: GroupType, id: u32, buckets: Vec<Bucket>) -> GroupMod {
        GroupMod {
            command: cmd,
            group_type: kind,
            group_id: id,
            buckets,
        }
    }

    fn out(port: u32) -> Bucket {
        Bucket {
            weight: 0,
            watch_port: port_no::ANY,
            watch_group: group_no::ANY,
            actions: vec![Action::Output { port, max_len: 0 }],
        }
    }

    #[test]
    fn add_modify_delete_and_errors() {
        let mut t = GroupTable::default();
        t.apply(&gm(
            GroupModCommand::Add,
            GroupType::All,
            1,
            vec![out(1), out(2)],
        ))
        .unwrap();
        let e = t
            .apply(&gm(GroupModCommand::Add, GroupType::All, 1, vec![]))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::GROUP_EXISTS);
        let e = t
            .apply(&gm(
                GroupModCommand::Add,
                GroupType::Indirect,
                2,
                vec![out(1), out(2)],
            ))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::INVALID_GROUP);
        let e = t
            .apply(&gm(
                GroupModCommand::Add,
                GroupType::FastFailover,
                3,
                vec![out(1)],
            ))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::BAD_WATCH);
        let e = t
            .apply(&gm(GroupModCommand::Modify, GroupType::All, 9, vec![]))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::UNKNOWN_GROUP);

        // Chain 2 -> 1, then a loop attempt 1 -> 2.
        let chain = Bucket {
            actions: vec![Action::Group(1)],
            ..out(0)
        };
        t.apply(&gm(
            GroupModCommand::Add,
            GroupType::Indirect,
            2,
            vec![chain],
        ))
        .unwrap();
        let back = Bucket {
            actions: vec![Action::Group(2)],
            ..out(0)
        };
        let e = t
            .apply(&gm(
                GroupModCommand::Modify,
                GroupType::Indirect,
                1,
                vec![back],
            ))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::LOOP);
        let e = t
            .apply(&gm(GroupModCommand::Delete, GroupType::All, 1, vec![]))
            .unwrap_err();
        assert_eq!(e.error, GroupModFailed::CHAINED_GROUP);
        let gone = t
            .apply(&gm(
                GroupModCommand::Delete,
                GroupType::All,
                group_no::ALL,
                vec![],
            ))
            .unwrap();
        assert_eq!(gone.len(), 2);
        assert!(t.is_empty());
    }
}
