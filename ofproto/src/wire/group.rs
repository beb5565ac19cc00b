//! OFPT_GROUP_MOD and the bucket list it shares with the GROUP_DESC
//! multipart reply.
//!
//! A group is a list of buckets, each an action list with a weight (select
//! groups) and a watch port/group (fast-failover groups). The idea: every
//! bucket carries its own length, so the list is walked bucket by bucket
//! with a sub-reader per bucket; a length that is too short for the fixed
//! part or runs past the message is `OFPGMFC_BAD_BUCKET`, not a generic
//! length error, because that is what the controller needs to hear.
//! Command and type values outside the spec are kept (`Unknown`) for the
//! group table to reject with BAD_COMMAND / BAD_TYPE.

use super::action::Action;
use super::bytes::{Put, Reader};
use super::error::{GroupModFailed, WireError, WireResult};
use super::header::wire_enum;

/// Reserved group ids (`ofp_group`).
pub mod group_id {
    pub const MAX: u32 = 0xffff_ff00;
    pub const ALL: u32 = 0xffff_fffc;
    pub const ANY: u32 = 0xffff_ffff;
}

wire_enum! {
    /// `ofp_group_mod_command`.
    pub enum GroupModCommand: u16 {
        Add = 0,
        Modify = 1,
        Delete = 2,
    }
}

wire_enum! {
    /// `ofp_group_type`.
    pub enum GroupType: u8 {
        All = 0,
        Select = 1,
        Indirect = 2,
        FastFailover = 3,
    }
}

/// Length of the fixed part of `ofp_bucket`.
pub const BUCKET_LEN: usize = 16;

/// `ofp_bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    /// Decode one bucket (its `len` field bounds it).
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Bucket> {
        let len = usize::from(r.u16("ofp_bucket.len")?);
        if len < BUCKET_LEN || len - 2 > r.remaining() {
            return Err(WireError::new(
                GroupModFailed::BAD_BUCKET,
                format!("bucket length {len} with {} bytes left", r.remaining() + 2),
            ));
        }
        let mut b = r.sub(len - 2, "ofp_bucket")?;
        let weight = b.u16("ofp_bucket.weight")?;
        let watch_port = b.u32("ofp_bucket.watch_port")?;
        let watch_group = b.u32("ofp_bucket.watch_group")?;
        b.skip(4, "ofp_bucket.pad")?;
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: Action::decode_list(&mut b)?,
        })
    }

    /// Decode buckets until `r` is empty.
    pub fn decode_list(r: &mut Reader<'_>) -> WireResult<Vec<Bucket>> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(Bucket::decode(r)?);
        }
        Ok(v)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(self.weight);
        out.put_u32(self.watch_port);
        out.put_u32(self.watch_group);
        out.put_zeros(4);
        Action::encode_list(&self.actions, out);
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }

    pub fn encode_list(buckets: &[Bucket], out: &mut Vec<u8>) {
        for b in buckets {
            b.encode(out);
        }
    }
}

/// OFPT_GROUP_MOD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMod {
    pub command: GroupModCommand,
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<GroupMod> {
        let command = GroupModCommand::from(r.u16("command")?);
        let group_type = GroupType::from(r.u8("type")?);
        r.skip(1, "pad")?;
        let group_id = r.u32("group_id")?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets: Bucket::decode_list(r)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command.into());
        out.put_u8(self.group_type.into());
        out.put_zeros(1);
        out.put_u32(self.group_id);
        Bucket::encode_list(&self.buckets, out);
    }
}
