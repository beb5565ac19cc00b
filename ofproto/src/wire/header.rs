//! The OpenFlow header (`ofp_header`) and the message type numbers.
//!
//! Every OpenFlow message starts with the same 8 bytes: version, type,
//! total length (header included) and a transaction id. The length is what
//! lets a stream reader cut a TCP byte stream into messages before it knows
//! anything else about them; the xid is what every reply and every error
//! must echo. This module knows only those 8 bytes: the body belongs to the
//! message family modules.
//!
//! It also holds `wire_enum!`, the crate-internal macro
//! the codec uses for every small closed set of wire values that still must
//! survive values it does not know (smoltcp's `Unknown(raw)` convention).

use super::bytes::{Put, Reader};
use super::error::WireResult;

/// The only version this codec speaks: OpenFlow 1.3 (wire version 0x04).
pub const OFP_VERSION: u8 = 0x04;

/// Length of `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// Defines a `Copy` enum over a raw integer type with an `Unknown(raw)`
/// variant, plus lossless conversions both ways. `From<raw>` never maps a
/// known value to `Unknown`, so decode-encode is the identity.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $raw:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this codec does not know; kept so it re-encodes as is.
            Unknown($raw),
        }

        impl From<$raw> for $name {
            fn from(v: $raw) -> Self {
                match v {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $raw {
            fn from(v: $name) -> $raw {
                match v {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// `ofp_type`: the message type byte of the header.
    pub enum MsgType: u8 {
        Hello = 0,
        Error = 1,
        EchoRequest = 2,
        EchoReply = 3,
        Experimenter = 4,
        FeaturesRequest = 5,
        FeaturesReply = 6,
        GetConfigRequest = 7,
        GetConfigReply = 8,
        SetConfig = 9,
        PacketIn = 10,
        FlowRemoved = 11,
        PortStatus = 12,
        PacketOut = 13,
        FlowMod = 14,
        GroupMod = 15,
        PortMod = 16,
        TableMod = 17,
        MultipartRequest = 18,
        MultipartReply = 19,
        BarrierRequest = 20,
        BarrierReply = 21,
        QueueGetConfigRequest = 22,
        QueueGetConfigReply = 23,
        RoleRequest = 24,
        RoleReply = 25,
        GetAsyncRequest = 26,
        GetAsyncReply = 27,
        SetAsync = 28,
        MeterMod = 29,
    }
}

/// `ofp_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub msg_type: MsgType,
    /// Total message length, header included.
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Read the 8 header bytes (no validation of version or length).
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Header> {
        Ok(Header {
            version: r.u8("ofp_header.version")?,
            msg_type: MsgType::from(r.u8("ofp_header.type")?),
            length: r.u16("ofp_header.length")?,
            xid: r.u32("ofp_header.xid")?,
        })
    }

    /// Append the 8 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.version);
        out.put_u8(self.msg_type.into());
        out.put_u16(self.length);
        out.put_u32(self.xid);
    }

    /// Parse a header from the front of `buf` without consuming it; `None`
    /// if fewer than 8 bytes are available.
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let head = buf.get(..HEADER_LEN)?;
        Some(Header {
            version: head[0],
            msg_type: MsgType::from(head[1]),
            length: u16::from_be_bytes([head[2], head[3]]),
            xid: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::error::BadRequest;

    #[test]
    fn header_round_trip() {
        let bytes = [0x04, 0x0a, 0x00, 0x54, 0x12, 0x34, 0x56, 0x78];
        let h = Header::decode(&mut Reader::new(&bytes, BadRequest::BAD_LEN)).unwrap();
        assert_eq!(h.version, 4);
        assert_eq!(h.msg_type, MsgType::PacketIn);
        assert_eq!(h.length, 0x54);
        assert_eq!(h.xid, 0x1234_5678);
        assert_eq!(Header::peek(&bytes), Some(h));
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(Header::peek(&bytes[..7]), None);
    }

    #[test]
    fn msg_type_unknown_is_lossless() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(MsgType::from(raw)), raw);
        }
        assert_eq!(MsgType::from(30), MsgType::Unknown(30));
    }
}
