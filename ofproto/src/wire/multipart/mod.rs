//! OFPT_MULTIPART_REQUEST / OFPT_MULTIPART_REPLY: statistics and table
//! descriptions, possibly spread over several messages.
//!
//! Every multipart message is an 8-byte `ofp_multipart_request/reply`
//! header (type, flags, padding) and a body whose layout the type selects.
//! The idea: a reply body that is a *list* (flows, ports, groups, meters,
//! table features...) may be longer than one OpenFlow message can carry
//! (65535 bytes), so it is split across messages, each but the last flagged
//! `OFPMPF_REPLY_MORE`; [`MultipartReplyBody::into_replies`] does that
//! split. Reassembling a request sent with `OFPMPF_REQ_MORE` is the
//! connection's business: each message decodes on its own.
//!
//! Requests of type EXPERIMENTER decode to `BAD_EXPERIMENTER` (this switch
//! has no experimenter statistics); unknown types to `BAD_MULTIPART`.

pub mod flow;
pub mod group;
pub mod meter;
pub mod stats;
pub mod table_features;

use super::bytes::{Put, Reader};
use super::error::{BadRequest, WireError, WireResult};
use super::header::HEADER_LEN;
use super::port::PortDesc;
use super::switch::Experimenter;

pub use flow::{AggregateStats, FlowStats, FlowStatsRequest};
pub use group::{BucketCounter, GroupDesc, GroupFeatures, GroupStats};
pub use meter::{MeterBandStats, MeterConfig, MeterFeatures, MeterStats};
pub use stats::{Desc, PortStats, QueueStats, TableStats};
pub use table_features::{FeatureId, OxmId, TableFeatureProp, TableFeatures};

/// `ofp_multipart_type` values.
pub mod multipart_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// `OFPMPF_REQ_MORE`: more request messages follow.
pub const OFPMPF_REQ_MORE: u16 = 1;
/// `OFPMPF_REPLY_MORE`: more reply messages follow.
pub const OFPMPF_REPLY_MORE: u16 = 1;

/// Length of the multipart header after the OpenFlow header.
pub const MULTIPART_HEADER_LEN: usize = 8;

/// The body of a multipart request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultipartRequestBody {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    /// `port_no` may be `OFPP_ANY`.
    PortStats {
        port_no: u32,
    },
    /// `port_no` may be `OFPP_ANY`, `queue_id` `OFPQ_ALL`.
    Queue {
        port_no: u32,
        queue_id: u32,
    },
    /// `group_id` may be `OFPG_ALL`.
    Group {
        group_id: u32,
    },
    GroupDesc,
    GroupFeatures,
    /// `meter_id` may be `OFPM_ALL`.
    Meter {
        meter_id: u32,
    },
    MeterConfig {
        meter_id: u32,
    },
    MeterFeatures,
    /// Empty: read the features; non-empty: replace them.
    TableFeatures(Vec<TableFeatures>),
    PortDesc,
}

/// OFPT_MULTIPART_REQUEST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartRequest {
    /// [`OFPMPF_REQ_MORE`] or 0.
    pub flags: u16,
    pub body: MultipartRequestBody,
}

/// The body of a multipart reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultipartReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<PortDesc>),
    /// `ofp_experimenter_multipart_header` and its payload.
    Experimenter(Experimenter),
}

/// OFPT_MULTIPART_REPLY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartReply {
    /// [`OFPMPF_REPLY_MORE`] or 0.
    pub flags: u16,
    pub body: MultipartReplyBody,
}

fn decode_all<T>(
    r: &mut Reader<'_>,
    f: impl Fn(&mut Reader<'_>) -> WireResult<T>,
) -> WireResult<Vec<T>> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(f(r)?);
    }
    Ok(v)
}

fn encode_all<T>(items: &[T], out: &mut Vec<u8>, f: impl Fn(&T, &mut Vec<u8>)) {
    for i in items {
        f(i, out);
    }
}

/// Read the multipart header: (type, flags).
fn decode_header(r: &mut Reader<'_>) -> WireResult<(u16, u16)> {
    let kind = r.u16("multipart type")?;
    let flags = r.u16("multipart flags")?;
    r.skip(4, "multipart pad")?;
    Ok((kind, flags))
}

fn encode_header(kind: u16, flags: u16, out: &mut Vec<u8>) {
    out.put_u16(kind);
    out.put_u16(flags);
    out.put_zeros(4);
}

fn unknown_type(kind: u16) -> WireError {
    WireError::new(
        BadRequest::BAD_MULTIPART,
        format!("unknown multipart type {kind}"),
    )
}

impl MultipartRequestBody {
    /// The `ofp_multipart_type` of this body.
    pub fn kind(&self) -> u16 {
        use multipart_type::*;
        match self {
            Self::Desc => DESC,
            Self::Flow(_) => FLOW,
            Self::Aggregate(_) => AGGREGATE,
            Self::Table => TABLE,
            Self::PortStats { .. } => PORT_STATS,
            Self::Queue { .. } => QUEUE,
            Self::Group { .. } => GROUP,
            Self::GroupDesc => GROUP_DESC,
            Self::GroupFeatures => GROUP_FEATURES,
            Self::Meter { .. } => METER,
            Self::MeterConfig { .. } => METER_CONFIG,
            Self::MeterFeatures => METER_FEATURES,
            Self::TableFeatures(_) => TABLE_FEATURES,
            Self::PortDesc => PORT_DESC,
        }
    }
}

impl MultipartRequest {
    /// Decode everything after the OpenFlow header.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MultipartRequest> {
        use multipart_type::*;
        use MultipartRequestBody as B;
        let (kind, flags) = decode_header(r)?;
        let body = match kind {
            DESC => B::Desc,
            FLOW => B::Flow(FlowStatsRequest::decode(r)?),
            AGGREGATE => B::Aggregate(FlowStatsRequest::decode(r)?),
            TABLE => B::Table,
            PORT_STATS => {
                let port_no = r.u32("port_no")?;
                r.skip(4, "pad")?;
                B::PortStats { port_no }
            }
            QUEUE => B::Queue {
                port_no: r.u32("port_no")?,
                queue_id: r.u32("queue_id")?,
            },
            GROUP => {
                let group_id = r.u32("group_id")?;
                r.skip(4, "pad")?;
                B::Group { group_id }
            }
            GROUP_DESC => B::GroupDesc,
            GROUP_FEATURES => B::GroupFeatures,
            METER | METER_CONFIG => {
                let meter_id = r.u32("meter_id")?;
                r.skip(4, "pad")?;
                if kind == METER {
                    B::Meter { meter_id }
                } else {
                    B::MeterConfig { meter_id }
                }
            }
            METER_FEATURES => B::MeterFeatures,
            TABLE_FEATURES => B::TableFeatures(decode_all(r, TableFeatures::decode)?),
            PORT_DESC => B::PortDesc,
            EXPERIMENTER => {
                let experimenter = r.u32("experimenter").unwrap_or(0);
                return Err(WireError::new(
                    BadRequest::BAD_EXPERIMENTER,
                    format!("experimenter multipart request (experimenter {experimenter:#x})"),
                ));
            }
            other => return Err(unknown_type(other)),
        };
        Ok(MultipartRequest { flags, body })
    }

    /// Append everything after the OpenFlow header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use MultipartRequestBody as B;
        encode_header(self.body.kind(), self.flags, out);
        match &self.body {
            B::Desc
            | B::Table
            | B::GroupDesc
            | B::GroupFeatures
            | B::MeterFeatures
            | B::PortDesc => {}
            B::Flow(req) | B::Aggregate(req) => req.encode(out),
            B::PortStats { port_no } => {
                out.put_u32(*port_no);
                out.put_zeros(4);
            }
            B::Queue { port_no, queue_id } => {
                out.put_u32(*port_no);
                out.put_u32(*queue_id);
            }
            B::Group { group_id } => {
                out.put_u32(*group_id);
                out.put_zeros(4);
            }
            B::Meter { meter_id } | B::MeterConfig { meter_id } => {
                out.put_u32(*meter_id);
                out.put_zeros(4);
            }
            B::TableFeatures(tables) => encode_all(tables, out, TableFeatures::encode),
        }
    }
}

impl MultipartReplyBody {
    /// The `ofp_multipart_type` of this body.
    pub fn kind(&self) -> u16 {
        use multipart_type::*;
        match self {
            Self::Desc(_) => DESC,
            Self::Flow(_) => FLOW,
            Self::Aggregate(_) => AGGREGATE,
            Self::Table(_) => TABLE,
            Self::PortStats(_) => PORT_STATS,
            Self::Queue(_) => QUEUE,
            Self::Group(_) => GROUP,
            Self::GroupDesc(_) => GROUP_DESC,
            Self::GroupFeatures(_) => GROUP_FEATURES,
            Self::Meter(_) => METER,
            Self::MeterConfig(_) => METER_CONFIG,
            Self::MeterFeatures(_) => METER_FEATURES,
            Self::TableFeatures(_) => TABLE_FEATURES,
            Self::PortDesc(_) => PORT_DESC,
            Self::Experimenter(_) => EXPERIMENTER,
        }
    }

    /// Append the body (after the multipart header).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Desc(d) => d.encode(out),
            Self::Flow(v) => encode_all(v, out, FlowStats::encode),
            Self::Aggregate(a) => a.encode(out),
            Self::Table(v) => encode_all(v, out, TableStats::encode),
            Self::PortStats(v) => encode_all(v, out, PortStats::encode),
            Self::Queue(v) => encode_all(v, out, QueueStats::encode),
            Self::Group(v) => encode_all(v, out, GroupStats::encode),
            Self::GroupDesc(v) => encode_all(v, out, GroupDesc::encode),
            Self::GroupFeatures(f) => f.encode(out),
            Self::Meter(v) => encode_all(v, out, MeterStats::encode),
            Self::MeterConfig(v) => encode_all(v, out, MeterConfig::encode),
            Self::MeterFeatures(f) => f.encode(out),
            Self::TableFeatures(v) => encode_all(v, out, TableFeatures::encode),
            Self::PortDesc(v) => encode_all(v, out, PortDesc::encode),
            Self::Experimenter(e) => e.encode(out),
        }
    }

    /// Split this body into replies whose encoded OpenFlow messages are at
    /// most `max_msg_len` bytes (use 65535), every reply but the last
    /// flagged [`OFPMPF_REPLY_MORE`]. Non-list bodies, and a single list
    /// entry too large on its own, still make one reply each. Always
    /// returns at least one reply.
    pub fn into_replies(self, max_msg_len: usize) -> Vec<MultipartReply> {
        let budget = max_msg_len.saturating_sub(HEADER_LEN + MULTIPART_HEADER_LEN);
        let bodies: Vec<MultipartReplyBody> = match self {
            Self::Flow(v) => chunk(v, budget, FlowStats::encode, Self::Flow),
            Self::Table(v) => chunk(v, budget, TableStats::encode, Self::Table),
            Self::PortStats(v) => chunk(v, budget, PortStats::encode, Self::PortStats),
            Self::Queue(v) => chunk(v, budget, QueueStats::encode, Self::Queue),
            Self::Group(v) => chunk(v, budget, GroupStats::encode, Self::Group),
            Self::GroupDesc(v) => chunk(v, budget, GroupDesc::encode, Self::GroupDesc),
            Self::Meter(v) => chunk(v, budget, MeterStats::encode, Self::Meter),
            Self::MeterConfig(v) => chunk(v, budget, MeterConfig::encode, Self::MeterConfig),
            Self::TableFeatures(v) => chunk(v, budget, TableFeatures::encode, Self::TableFeatures),
            Self::PortDesc(v) => chunk(v, budget, PortDesc::encode, Self::PortDesc),
            other => vec![other],
        };
        let last = bodies.len().saturating_sub(1);
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| MultipartReply {
                flags: if i < last { OFPMPF_REPLY_MORE } else { 0 },
                body,
            })
            .collect()
    }
}

/// Greedily pack `items` into lists whose encodings fit in `budget` bytes.
fn chunk<T>(
    items: Vec<T>,
    budget: usize,
    enc: impl Fn(&T, &mut Vec<u8>),
    wrap: impl Fn(Vec<T>) -> MultipartReplyBody,
) -> Vec<MultipartReplyBody> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut used = 0;
    let mut scratch = Vec::new();
    for item in items {
        scratch.clear();
        enc(&item, &mut scratch);
        if !cur.is_empty() && used + scratch.len() > budget {
            out.push(wrap(std::mem::take(&mut cur)));
            used = 0;
        }
        used += scratch.len();
        cur.push(item);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(wrap(cur));
    }
    out
}

impl MultipartReply {
    /// Decode everything after the OpenFlow header.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<MultipartReply> {
        use multipart_type::*;
        use MultipartReplyBody as B;
        let (kind, flags) = decode_header(r)?;
        let body = match kind {
            DESC => B::Desc(Desc::decode(r)?),
            FLOW => B::Flow(decode_all(r, FlowStats::decode)?),
            AGGREGATE => B::Aggregate(AggregateStats::decode(r)?),
            TABLE => B::Table(decode_all(r, TableStats::decode)?),
            PORT_STATS => B::PortStats(decode_all(r, PortStats::decode)?),
            QUEUE => B::Queue(decode_all(r, QueueStats::decode)?),
            GROUP => B::Group(decode_all(r, GroupStats::decode)?),
            GROUP_DESC => B::GroupDesc(decode_all(r, GroupDesc::decode)?),
            GROUP_FEATURES => B::GroupFeatures(GroupFeatures::decode(r)?),
            METER => B::Meter(decode_all(r, MeterStats::decode)?),
            METER_CONFIG => B::MeterConfig(decode_all(r, MeterConfig::decode)?),
            METER_FEATURES => B::MeterFeatures(MeterFeatures::decode(r)?),
            TABLE_FEATURES => B::TableFeatures(decode_all(r, TableFeatures::decode)?),
            PORT_DESC => B::PortDesc(decode_all(r, PortDesc::decode)?),
            EXPERIMENTER => B::Experimenter(Experimenter::decode(r)?),
            other => return Err(unknown_type(other)),
        };
        Ok(MultipartReply { flags, body })
    }

    /// Append everything after the OpenFlow header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_header(self.body.kind(), self.flags, out);
        self.body.encode(out);
    }
}
