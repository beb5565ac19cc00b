//! OFPT_QUEUE_GET_CONFIG_REQUEST / _REPLY: the queues configured on a port.
//!
//! A reply is a list of `ofp_packet_queue`, each with a list of properties
//! (minimum and maximum rate in tenths of a percent of the port speed, or
//! experimenter data). Both lists are length-prefixed TLVs walked with
//! sub-readers; a property type this codec does not know keeps its bytes
//! (`Unknown`) since its length still delimits it.

use super::bytes::{Put, Reader};
use super::error::{BadRequest, WireError, WireResult};

/// `OFPQ_ALL`: every queue of a port.
pub const OFPQ_ALL: u32 = 0xffff_ffff;
/// Rate value meaning "not configured" (`OFPQ_MIN_RATE_UNCFG`).
pub const OFPQ_RATE_UNCFG: u16 = 0xffff;

/// `ofp_queue_properties` values.
pub mod queue_prop {
    pub const MIN_RATE: u16 = 1;
    pub const MAX_RATE: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// OFPT_QUEUE_GET_CONFIG_REQUEST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QueueGetConfigRequest {
    /// A port number, or ANY for all ports.
    pub port: u32,
}

impl QueueGetConfigRequest {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<QueueGetConfigRequest> {
        let port = r.u32("port")?;
        r.skip(4, "pad")?;
        Ok(QueueGetConfigRequest { port })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port);
        out.put_zeros(4);
    }
}

/// One `ofp_queue_prop_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueProp {
    /// Tenths of a percent of the port speed; [`OFPQ_RATE_UNCFG`] if unset.
    MinRate(u16),
    MaxRate(u16),
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
    /// A property type this codec does not know: the bytes after its
    /// 8-byte header.
    Unknown {
        kind: u16,
        data: Vec<u8>,
    },
}

const PROP_HEADER_LEN: usize = 8;

impl QueueProp {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<QueueProp> {
        let kind = r.u16("queue property type")?;
        let len = usize::from(r.u16("queue property len")?);
        if len < PROP_HEADER_LEN || len - 4 > r.remaining() {
            return Err(WireError::new(
                BadRequest::BAD_LEN,
                format!("queue property length {len}"),
            ));
        }
        let mut p = r.sub(len - 4, "queue property")?;
        p.skip(4, "queue property pad")?;
        let prop = match kind {
            queue_prop::MIN_RATE | queue_prop::MAX_RATE => {
                let rate = p.u16("rate")?;
                p.skip(6, "rate pad")?;
                if !p.is_empty() {
                    return Err(WireError::new(
                        BadRequest::BAD_LEN,
                        format!("rate property length {len}"),
                    ));
                }
                if kind == queue_prop::MIN_RATE {
                    QueueProp::MinRate(rate)
                } else {
                    QueueProp::MaxRate(rate)
                }
            }
            queue_prop::EXPERIMENTER => {
                let experimenter = p.u32("experimenter")?;
                p.skip(4, "experimenter pad")?;
                QueueProp::Experimenter {
                    experimenter,
                    data: p.rest().to_vec(),
                }
            }
            kind => QueueProp::Unknown {
                kind,
                data: p.rest().to_vec(),
            },
        };
        Ok(prop)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let kind = match self {
            QueueProp::MinRate(_) => queue_prop::MIN_RATE,
            QueueProp::MaxRate(_) => queue_prop::MAX_RATE,
            QueueProp::Experimenter { .. } => queue_prop::EXPERIMENTER,
            QueueProp::Unknown { kind, .. } => *kind,
        };
        out.put_u16(kind);
        out.put_u16(0);
        out.put_zeros(4);
        match self {
            QueueProp::MinRate(rate) | QueueProp::MaxRate(rate) => {
                out.put_u16(*rate);
                out.put_zeros(6);
            }
            QueueProp::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                out.put_zeros(4);
                out.extend_from_slice(data);
            }
            QueueProp::Unknown { data, .. } => out.extend_from_slice(data),
        }
        let len = out.len() - start;
        out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// `ofp_packet_queue`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PacketQueue {
    pub queue_id: u32,
    pub port: u32,
    pub properties: Vec<QueueProp>,
}

const PACKET_QUEUE_LEN: usize = 16;

impl PacketQueue {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<PacketQueue> {
        let queue_id = r.u32("queue_id")?;
        let port = r.u32("port")?;
        let len = usize::from(r.u16("len")?);
        if len < PACKET_QUEUE_LEN || len - 10 > r.remaining() {
            return Err(WireError::new(
                BadRequest::BAD_LEN,
                format!("packet queue length {len}"),
            ));
        }
        let mut q = r.sub(len - 10, "ofp_packet_queue")?;
        q.skip(6, "pad")?;
        let mut properties = Vec::new();
        while !q.is_empty() {
            properties.push(QueueProp::decode(&mut q)?);
        }
        Ok(PacketQueue {
            queue_id,
            port,
            properties,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u32(self.queue_id);
        out.put_u32(self.port);
        out.put_u16(0);
        out.put_zeros(6);
        for p in &self.properties {
            p.encode(out);
        }
        let len = out.len() - start;
        out.set_u16(start + 8, u16::try_from(len).unwrap_or(u16::MAX));
    }
}

/// OFPT_QUEUE_GET_CONFIG_REPLY.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QueueGetConfigReply {
    pub port: u32,
    pub queues: Vec<PacketQueue>,
}

impl QueueGetConfigReply {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<QueueGetConfigReply> {
        let port = r.u32("port")?;
        r.skip(4, "pad")?;
        let mut queues = Vec::new();
        while !r.is_empty() {
            queues.push(PacketQueue::decode(r)?);
        }
        Ok(QueueGetConfigReply { port, queues })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port);
        out.put_zeros(4);
        for q in &self.queues {
            q.encode(out);
        }
    }
}
