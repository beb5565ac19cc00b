//! Whole OpenFlow 1.3 messages: the [`Message`] enum, [`decode`],
//! [`encode`] and the stream helper [`frame_len`].
//!
//! This is the codec's front door. Bytes from a controller connection are
//! cut into messages with [`frame_len`] (which needs only the 8-byte
//! header), each message is [`decode`]d into a typed [`Message`], and
//! replies are [`encode`]d with the xid they answer.
//!
//! The one idea: decoding never fails without telling the caller what to
//! send back. A [`DecodeFailure::Rejected`] carries the header (so the xid)
//! of the offending message, the OFPT_ERROR type/code to answer with, and
//! the first 64 bytes of the message, which is exactly what
//! [`DecodeFailure::error_reply`] packs into an OFPT_ERROR. The rules, in
//! order: a length field below 8 or different from the buffer's length is
//! `BAD_LEN`; a version other than 0x04 is `BAD_VERSION`, except for HELLO,
//! which decodes at any version so that version negotiation can happen; an
//! unknown type is `BAD_TYPE`; then the body decoder's own error, and
//! leftover bytes after a complete body are `BAD_LEN`. Experimenter
//! messages (Nicira's `NXT_SET_PACKET_IN_FORMAT` among them) decode
//! successfully into [`Message::Experimenter`]: refusing them with
//! `BAD_EXPERIMENTER` is the connection's decision, not a decoding error.

use super::bytes::{Put, Reader};
use super::error::{BadRequest, WireError};
use super::flow_mod::FlowMod;
use super::group::GroupMod;
use super::header::{Header, MsgType, HEADER_LEN, OFP_VERSION};
use super::meter::MeterMod;
use super::multipart::{MultipartReply, MultipartRequest};
use super::packet::{FlowRemoved, PacketIn, PacketOut};
use super::port::{PortMod, PortStatus};
use super::queue::{QueueGetConfigReply, QueueGetConfigRequest};
use super::switch::{
    AsyncConfig, ErrorMsg, Experimenter, FeaturesReply, Hello, RoleMsg, SwitchConfig,
    ERROR_DATA_LEN,
};
use super::table::TableMod;

/// One OpenFlow 1.3 message, without its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMsg),
    /// Arbitrary payload, echoed back in the reply.
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter(Experimenter),
    FeaturesRequest,
    FeaturesReply(FeaturesReply),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest(QueueGetConfigRequest),
    QueueGetConfigReply(QueueGetConfigReply),
    RoleRequest(RoleMsg),
    RoleReply(RoleMsg),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
}

impl Message {
    /// The header type byte of this message.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::Error(_) => MsgType::Error,
            Message::EchoRequest(_) => MsgType::EchoRequest,
            Message::EchoReply(_) => MsgType::EchoReply,
            Message::Experimenter(_) => MsgType::Experimenter,
            Message::FeaturesRequest => MsgType::FeaturesRequest,
            Message::FeaturesReply(_) => MsgType::FeaturesReply,
            Message::GetConfigRequest => MsgType::GetConfigRequest,
            Message::GetConfigReply(_) => MsgType::GetConfigReply,
            Message::SetConfig(_) => MsgType::SetConfig,
            Message::PacketIn(_) => MsgType::PacketIn,
            Message::FlowRemoved(_) => MsgType::FlowRemoved,
            Message::PortStatus(_) => MsgType::PortStatus,
            Message::PacketOut(_) => MsgType::PacketOut,
            Message::FlowMod(_) => MsgType::FlowMod,
            Message::GroupMod(_) => MsgType::GroupMod,
            Message::PortMod(_) => MsgType::PortMod,
            Message::TableMod(_) => MsgType::TableMod,
            Message::MultipartRequest(_) => MsgType::MultipartRequest,
            Message::MultipartReply(_) => MsgType::MultipartReply,
            Message::BarrierRequest => MsgType::BarrierRequest,
            Message::BarrierReply => MsgType::BarrierReply,
            Message::QueueGetConfigRequest(_) => MsgType::QueueGetConfigRequest,
            Message::QueueGetConfigReply(_) => MsgType::QueueGetConfigReply,
            Message::RoleRequest(_) => MsgType::RoleRequest,
            Message::RoleReply(_) => MsgType::RoleReply,
            Message::GetAsyncRequest => MsgType::GetAsyncRequest,
            Message::GetAsyncReply(_) => MsgType::GetAsyncReply,
            Message::SetAsync(_) => MsgType::SetAsync,
            Message::MeterMod(_) => MsgType::MeterMod,
        }
    }

    /// Decode a body of type `t` (everything after the header).
    fn decode_body(t: MsgType, r: &mut Reader<'_>) -> Result<Message, WireError> {
        Ok(match t {
            MsgType::Hello => Message::Hello(Hello::decode(r)?),
            MsgType::Error => Message::Error(ErrorMsg::decode(r)?),
            MsgType::EchoRequest => Message::EchoRequest(r.rest().to_vec()),
            MsgType::EchoReply => Message::EchoReply(r.rest().to_vec()),
            MsgType::Experimenter => Message::Experimenter(Experimenter::decode(r)?),
            MsgType::FeaturesRequest => Message::FeaturesRequest,
            MsgType::FeaturesReply => Message::FeaturesReply(FeaturesReply::decode(r)?),
            MsgType::GetConfigRequest => Message::GetConfigRequest,
            MsgType::GetConfigReply => Message::GetConfigReply(SwitchConfig::decode(r)?),
            MsgType::SetConfig => Message::SetConfig(SwitchConfig::decode(r)?),
            MsgType::PacketIn => Message::PacketIn(PacketIn::decode(r)?),
            MsgType::FlowRemoved => Message::FlowRemoved(FlowRemoved::decode(r)?),
            MsgType::PortStatus => Message::PortStatus(PortStatus::decode(r)?),
            MsgType::PacketOut => Message::PacketOut(PacketOut::decode(r)?),
            MsgType::FlowMod => Message::FlowMod(FlowMod::decode(r)?),
            MsgType::GroupMod => Message::GroupMod(GroupMod::decode(r)?),
            MsgType::PortMod => Message::PortMod(PortMod::decode(r)?),
            MsgType::TableMod => Message::TableMod(TableMod::decode(r)?),
            MsgType::MultipartRequest => Message::MultipartRequest(MultipartRequest::decode(r)?),
            MsgType::MultipartReply => Message::MultipartReply(MultipartReply::decode(r)?),
            MsgType::BarrierRequest => Message::BarrierRequest,
            MsgType::BarrierReply => Message::BarrierReply,
            MsgType::QueueGetConfigRequest => {
                Message::QueueGetConfigRequest(QueueGetConfigRequest::decode(r)?)
            }
            MsgType::QueueGetConfigReply => {
                Message::QueueGetConfigReply(QueueGetConfigReply::decode(r)?)
            }
            MsgType::RoleRequest => Message::RoleRequest(RoleMsg::decode(r)?),
            MsgType::RoleReply => Message::RoleReply(RoleMsg::decode(r)?),
            MsgType::GetAsyncRequest => Message::GetAsyncRequest,
            MsgType::GetAsyncReply => Message::GetAsyncReply(AsyncConfig::decode(r)?),
            MsgType::SetAsync => Message::SetAsync(AsyncConfig::decode(r)?),
            MsgType::MeterMod => Message::MeterMod(MeterMod::decode(r)?),
            MsgType::Unknown(t) => {
                return Err(WireError::new(
                    BadRequest::BAD_TYPE,
                    format!("unknown message type {t}"),
                ))
            }
        })
    }

    /// Append the body (everything after the header).
    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(m) => m.encode(out),
            Message::Error(m) => m.encode(out),
            Message::EchoRequest(data) | Message::EchoReply(data) => out.extend_from_slice(data),
            Message::Experimenter(m) => m.encode(out),
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(m) => m.encode(out),
            Message::GetConfigReply(m) | Message::SetConfig(m) => m.encode(out),
            Message::PacketIn(m) => m.encode(out),
            Message::FlowRemoved(m) => m.encode(out),
            Message::PortStatus(m) => m.encode(out),
            Message::PacketOut(m) => m.encode(out),
            Message::FlowMod(m) => m.encode(out),
            Message::GroupMod(m) => m.encode(out),
            Message::PortMod(m) => m.encode(out),
            Message::TableMod(m) => m.encode(out),
            Message::MultipartRequest(m) => m.encode(out),
            Message::MultipartReply(m) => m.encode(out),
            Message::QueueGetConfigRequest(m) => m.encode(out),
            Message::QueueGetConfigReply(m) => m.encode(out),
            Message::RoleRequest(m) | Message::RoleReply(m) => m.encode(out),
            Message::GetAsyncReply(m) | Message::SetAsync(m) => m.encode(out),
            Message::MeterMod(m) => m.encode(out),
        }
    }
}

/// Why [`decode`] produced no message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFailure {
    /// Fewer than 8 bytes: not even a header. On a stream, wait for more
    /// (or use [`frame_len`], which says the same with `None`).
    #[error("incomplete OpenFlow header: {have} of 8 bytes")]
    Incomplete { have: usize },
    /// A message that must be answered with an OFPT_ERROR (see
    /// [`DecodeFailure::error_reply`]).
    #[error("OpenFlow message xid {:#x} rejected: {error}", header.xid)]
    Rejected {
        /// The header as received (its xid is the one to answer).
        header: Header,
        /// What to answer and why.
        error: WireError,
        /// The first 64 bytes of the offending message.
        data: Vec<u8>,
    },
}

impl DecodeFailure {
    /// The xid of the offending message, if a header was read.
    pub fn xid(&self) -> Option<u32> {
        match self {
            DecodeFailure::Incomplete { .. } => None,
            DecodeFailure::Rejected { header, .. } => Some(header.xid),
        }
    }

    /// The OFPT_ERROR to send back and the xid to send it with; `None` for
    /// [`DecodeFailure::Incomplete`].
    pub fn error_reply(&self) -> Option<(u32, Message)> {
        match self {
            DecodeFailure::Incomplete { .. } => None,
            DecodeFailure::Rejected {
                header,
                error,
                data,
            } => Some((
                header.xid,
                Message::Error(ErrorMsg::new(error.error, data.clone())),
            )),
        }
    }
}

/// The length of the message at the front of `buf`, once its 8-byte header
/// has arrived (`None` before). Never less than 8, so a stream reader that
/// cuts `frame_len` bytes always makes progress; a header whose length field
/// is below 8 then decodes to `BAD_LEN`.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    Header::peek(buf).map(|h| usize::from(h.length).max(HEADER_LEN))
}

/// Decode exactly one message filling all of `buf` (as cut by
/// [`frame_len`]).
pub fn decode(buf: &[u8]) -> Result<(Header, Message), DecodeFailure> {
    let Some(header) = Header::peek(buf) else {
        return Err(DecodeFailure::Incomplete { have: buf.len() });
    };
    let reject = |error: WireError| DecodeFailure::Rejected {
        header,
        error,
        data: buf[..buf.len().min(ERROR_DATA_LEN)].to_vec(),
    };
    let len = usize::from(header.length);
    if len < HEADER_LEN || len != buf.len() {
        return Err(reject(WireError::new(
            BadRequest::BAD_LEN,
            format!("header length {len}, message length {}", buf.len()),
        )));
    }
    if header.version != OFP_VERSION && header.msg_type != MsgType::Hello {
        return Err(reject(WireError::new(
            BadRequest::BAD_VERSION,
            format!("version {:#04x}", header.version),
        )));
    }
    let mut r = Reader::new(&buf[HEADER_LEN..], BadRequest::BAD_LEN);
    let msg = Message::decode_body(header.msg_type, &mut r).map_err(reject)?;
    if !r.is_empty() {
        return Err(reject(WireError::new(
            BadRequest::BAD_LEN,
            format!("{} bytes after the message body", r.remaining()),
        )));
    }
    Ok((header, msg))
}

/// Encode `msg` with transaction id `xid` as an OpenFlow 1.3 message.
///
/// A message longer than 65535 bytes cannot be represented; its length
/// field saturates. Multipart replies are split beforehand with
/// [`MultipartReplyBody::into_replies`](super::multipart::MultipartReplyBody::into_replies).
pub fn encode(xid: u32, msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(xid, msg, &mut out);
    out
}

/// Like [`encode`], appending to `out` (for a reused send buffer).
pub fn encode_into(xid: u32, msg: &Message, out: &mut Vec<u8>) {
    let start = out.len();
    Header {
        version: OFP_VERSION,
        msg_type: msg.msg_type(),
        length: 0,
        xid,
    }
    .encode(out);
    msg.encode_body(out);
    let len = out.len() - start;
    out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
}

#[cfg(test)]
mod tests;
