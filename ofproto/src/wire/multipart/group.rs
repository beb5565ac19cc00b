//! Group multipart bodies: GROUP (counters per group and per bucket),
//! GROUP_DESC (the group table's contents) and GROUP_FEATURES.
//!
//! Group stats carry one counter pair per bucket after a fixed part, the
//! whole bounded by the entry's length; a length that does not leave a
//! whole number of bucket counters is `OFPBRC_BAD_LEN`. GROUP_DESC entries
//! reuse [`Bucket`] from the GROUP_MOD codec.

use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadRequest, WireError, WireResult};
use crate::wire::group::{Bucket, GroupType};

/// Length of `ofp_group_stats` before the bucket counters.
pub const GROUP_STATS_FIXED_LEN: usize = 40;
const BUCKET_COUNTER_LEN: usize = 16;

fn bad_len(what: &str, len: usize) -> WireError {
    WireError::new(BadRequest::BAD_LEN, format!("{what} length {len}"))
}

/// `ofp_bucket_counter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BucketCounter {
    pub packet_count: u64,
    pub byte_count: u64,
}

/// One OFPMP_GROUP reply entry (`ofp_group_stats`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupStats {
    pub group_id: u32,
    /// Flows and groups that forward to this group.
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bucket_stats: Vec<BucketCounter>,
}

impl GroupStats {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<GroupStats> {
        let len = usize::from(r.u16("ofp_group_stats.length")?);
        if len < GROUP_STATS_FIXED_LEN
            || len - 2 > r.remaining()
            || !(len - GROUP_STATS_FIXED_LEN).is_multiple_of(BUCKET_COUNTER_LEN)
        {
            return Err(bad_len("group stats", len));
        }
        let mut e = r.sub(len - 2, "ofp_group_stats")?;
        e.skip(2, "pad")?;
        let group_id = e.u32("group_id")?;
        let ref_count = e.u32("ref_count")?;
        e.skip(4, "pad2")?;
        let mut g = GroupStats {
            group_id,
            ref_count,
            packet_count: e.u64("packet_count")?,
            byte_count: e.u64("byte_count")?,
            duration_sec: e.u32("duration_sec")?,
            duration_nsec: e.u32("duration_nsec")?,
            bucket_stats: Vec::new(),
        };
        while !e.is_empty() {
            g.bucket_stats.push(BucketCounter {
                packet_count: e.u64("bucket packet_count")?,
                byte_count: e.u64("bucket byte_count")?,
            });
        }
        Ok(g)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_zeros(2);
        out.put_u32(self.group_id);
        out.put_u32(self.ref_count);
        out.put_zeros(4);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        for b in &self.bucket_stats {
            out.put_u64(b.packet_count);
            out.put_u64(b.byte_count);
        }
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// One OFPMP_GROUP_DESC reply entry (`ofp_group_desc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDesc {
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

const GROUP_DESC_FIXED_LEN: usize = 8;

impl GroupDesc {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<GroupDesc> {
        let len = usize::from(r.u16("ofp_group_desc.length")?);
        if len < GROUP_DESC_FIXED_LEN || len - 2 > r.remaining() {
            return Err(bad_len("group desc", len));
        }
        let mut e = r.sub(len - 2, "ofp_group_desc")?;
        let group_type = GroupType::from(e.u8("type")?);
        e.skip(1, "pad")?;
        Ok(GroupDesc {
            group_type,
            group_id: e.u32("group_id")?,
            buckets: Bucket::decode_list(&mut e)?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.group_type.into());
        out.put_zeros(1);
        out.put_u32(self.group_id);
        Bucket::encode_list(&self.buckets, out);
        let len = out.len() - start;
        out.set_u16(start, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// `ofp_group_capabilities` bits of [`GroupFeatures::capabilities`].
pub mod group_capabilities {
    pub const SELECT_WEIGHT: u32 = 1 << 0;
    pub const SELECT_LIVENESS: u32 = 1 << 1;
    pub const CHAINING: u32 = 1 << 2;
    pub const CHAINING_CHECKS: u32 = 1 << 3;
}

/// OFPMP_GROUP_FEATURES reply (`ofp_group_features`). Arrays are indexed by
/// group type (ALL, SELECT, INDIRECT, FF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct GroupFeatures {
    /// Bitmap of supported group types (`1 << OFPGT_*`).
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    /// Bitmaps of supported action types (`1 << OFPAT_*`).
    pub actions: [u32; 4],
}

impl GroupFeatures {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<GroupFeatures> {
        let mut f = GroupFeatures {
            types: r.u32("types")?,
            capabilities: r.u32("capabilities")?,
            ..GroupFeatures::default()
        };
        for m in &mut f.max_groups {
            *m = r.u32("max_groups")?;
        }
        for a in &mut f.actions {
            *a = r.u32("actions")?;
        }
        Ok(f)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.types);
        out.put_u32(self.capabilities);
        for v in self.max_groups.iter().chain(self.actions.iter()) {
            out.put_u32(*v);
        }
    }
}
