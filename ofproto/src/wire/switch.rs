//! Connection and switch-configuration messages: HELLO, ERROR, ECHO,
//! EXPERIMENTER, FEATURES, GET/SET_CONFIG, ROLE and GET/SET_ASYNC.
//!
//! These are the small fixed-layout messages that set up and steer a
//! controller connection. The one idea: none of them may refuse to decode
//! for reasons the peer would not consider errors. A HELLO from any version
//! with any elements must parse (negotiation depends on it), unknown hello
//! elements are kept and ignored, and experimenter messages are decoded
//! whole so the connection can answer each with a precise
//! `BAD_EXPERIMENTER` rather than a generic failure.
//!
//! Body structs here read and write only what follows the 8-byte header;
//! [`crate::wire::message`] adds the header and checks leftover bytes.

use super::bytes::{Put, Reader};
use super::error::{OfError, WireResult, OFPET_EXPERIMENTER};
use super::header::wire_enum;

/// `OFPHET_VERSIONBITMAP`.
pub const OFPHET_VERSIONBITMAP: u16 = 1;

/// One `ofp_hello_elem_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloElement {
    /// The versions the sender supports: bit `v % 32` of word `v / 32`.
    VersionBitmap(Vec<u32>),
    /// An element type this codec does not know (or a malformed bitmap whose
    /// length is not a multiple of 4), kept raw.
    Unknown { kind: u16, data: Vec<u8> },
}

/// OFPT_HELLO: a list of hello elements.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
}

impl Hello {
    /// A HELLO advertising exactly `versions` with a version bitmap.
    pub fn with_versions(versions: &[u8]) -> Hello {
        let words = versions.iter().map(|v| usize::from(*v) / 32 + 1).max();
        let mut bitmap = vec![0u32; words.unwrap_or(0)];
        for v in versions {
            bitmap[usize::from(*v) / 32] |= 1 << (v % 32);
        }
        Hello {
            elements: vec![HelloElement::VersionBitmap(bitmap)],
        }
    }

    /// The first version bitmap, if the peer sent one.
    pub fn version_bitmap(&self) -> Option<&[u32]> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(b) => Some(b.as_slice()),
            HelloElement::Unknown { .. } => None,
        })
    }

    /// The version to speak with a peer whose HELLO header carried
    /// `peer_version` and whose body is `self`, given the versions we
    /// support (spec 1.3.5 §6.3.1): the highest common version from the
    /// bitmap if the peer sent one, otherwise the highest of ours that is
    /// not above the peer's header version. `None`: no common version
    /// (answer OFPET_HELLO_FAILED / OFPHFC_INCOMPATIBLE).
    pub fn negotiate(&self, peer_version: u8, ours: &[u8]) -> Option<u8> {
        match self.version_bitmap() {
            Some(bitmap) => ours
                .iter()
                .copied()
                .filter(|v| {
                    bitmap
                        .get(usize::from(*v) / 32)
                        .is_some_and(|w| w & (1 << (v % 32)) != 0)
                })
                .max(),
            None => ours.iter().copied().filter(|v| *v <= peer_version).max(),
        }
    }

    /// Decode the elements. Lenient by design (any version may send a
    /// HELLO and negotiation must still work): a malformed element ends the
    /// list and the remaining bytes are ignored, as the spec asks of
    /// implementations facing a newer peer.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Hello> {
        let mut elements = Vec::new();
        while r.remaining() >= 4 {
            let kind = r.u16("hello element type")?;
            let len = usize::from(r.u16("hello element length")?);
            if len < 4 || len - 4 > r.remaining() {
                break;
            }
            let data = r.bytes(len - 4, "hello element")?;
            let pad = len.next_multiple_of(8) - len;
            r.skip(pad.min(r.remaining()), "hello element padding")?;
            elements.push(
                if kind == OFPHET_VERSIONBITMAP && data.len().is_multiple_of(4) {
                    HelloElement::VersionBitmap(
                        data.chunks_exact(4)
                            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                    )
                } else {
                    HelloElement::Unknown {
                        kind,
                        data: data.to_vec(),
                    }
                },
            );
        }
        r.rest();
        Ok(Hello { elements })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for e in &self.elements {
            let start = out.len();
            match e {
                HelloElement::VersionBitmap(words) => {
                    out.put_u16(OFPHET_VERSIONBITMAP);
                    out.put_u16(0);
                    for w in words {
                        out.put_u32(*w);
                    }
                }
                HelloElement::Unknown { kind, data } => {
                    out.put_u16(*kind);
                    out.put_u16(0);
                    out.extend_from_slice(data);
                }
            }
            let len = out.len() - start;
            out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
            out.pad_to_8(start);
        }
    }
}

/// OFPT_ERROR (`ofp_error_msg` or `ofp_error_experimenter_msg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorMsg {
    /// A standard (type, code); `data` is usually the first 64 bytes of the
    /// offending request (for HELLO_FAILED, an ASCII explanation).
    Standard { error: OfError, data: Vec<u8> },
    /// Type OFPET_EXPERIMENTER.
    Experimenter {
        exp_type: u16,
        experimenter: u32,
        data: Vec<u8>,
    },
}

/// How much of an offending message an error carries back (spec: "at
/// least 64 bytes").
pub const ERROR_DATA_LEN: usize = 64;

impl ErrorMsg {
    /// The error answering `offending` (the whole request as received):
    /// its first 64 bytes go in `data`.
    pub fn reply_to(error: OfError, offending: &[u8]) -> ErrorMsg {
        ErrorMsg::new(
            error,
            offending[..offending.len().min(ERROR_DATA_LEN)].to_vec(),
        )
    }

    /// The message for `error`: a standard one, or for an
    /// `OFPET_EXPERIMENTER` kind (the Nicira errors of `NxError`) the
    /// experimenter form with Nicira's id, as Open vSwitch sends them.
    pub fn new(error: OfError, data: Vec<u8>) -> ErrorMsg {
        if error.kind == OFPET_EXPERIMENTER {
            return ErrorMsg::Experimenter {
                exp_type: error.code,
                experimenter: NX_EXPERIMENTER_ID,
                data,
            };
        }
        ErrorMsg::Standard { error, data }
    }

    pub fn decode(r: &mut Reader<'_>) -> WireResult<ErrorMsg> {
        let kind = r.u16("ofp_error_msg.type")?;
        if kind == OFPET_EXPERIMENTER {
            let exp_type = r.u16("ofp_error_experimenter_msg.exp_type")?;
            let experimenter = r.u32("ofp_error_experimenter_msg.experimenter")?;
            return Ok(ErrorMsg::Experimenter {
                exp_type,
                experimenter,
                data: r.rest().to_vec(),
            });
        }
        let code = r.u16("ofp_error_msg.code")?;
        Ok(ErrorMsg::Standard {
            error: OfError { kind, code },
            data: r.rest().to_vec(),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ErrorMsg::Standard { error, data } => {
                out.put_u16(error.kind);
                out.put_u16(error.code);
                out.extend_from_slice(data);
            }
            ErrorMsg::Experimenter {
                exp_type,
                experimenter,
                data,
            } => {
                out.put_u16(OFPET_EXPERIMENTER);
                out.put_u16(*exp_type);
                out.put_u32(*experimenter);
                out.extend_from_slice(data);
            }
        }
    }
}

/// Nicira's experimenter id (Open vSwitch extensions).
pub const NX_EXPERIMENTER_ID: u32 = 0x0000_2320;
/// ONF's experimenter id (ONF extensions to OF1.3).
pub const ONF_EXPERIMENTER_ID: u32 = 0x4f4e_4600;
/// `NXT_SET_PACKET_IN_FORMAT`, sent by `ovs-ofctl monitor`; a switch that
/// does not know it must answer BAD_EXPERIMENTER so ovs-ofctl falls back.
pub const NXT_SET_PACKET_IN_FORMAT: u32 = 16;

/// OFPT_EXPERIMENTER (`ofp_experimenter_header` plus its payload).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Experimenter {
    pub experimenter: u32,
    pub exp_type: u32,
    pub data: Vec<u8>,
}

impl Experimenter {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Experimenter> {
        Ok(Experimenter {
            experimenter: r.u32("experimenter")?,
            exp_type: r.u32("exp_type")?,
            data: r.rest().to_vec(),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.experimenter);
        out.put_u32(self.exp_type);
        out.extend_from_slice(&self.data);
    }
}

/// `ofp_capabilities` bits of [`FeaturesReply::capabilities`].
pub mod capabilities {
    pub const FLOW_STATS: u32 = 1 << 0;
    pub const TABLE_STATS: u32 = 1 << 1;
    pub const PORT_STATS: u32 = 1 << 2;
    pub const GROUP_STATS: u32 = 1 << 3;
    pub const IP_REASM: u32 = 1 << 5;
    pub const QUEUE_STATS: u32 = 1 << 6;
    pub const PORT_BLOCKED: u32 = 1 << 8;
}

/// OFPT_FEATURES_REPLY (`ofp_switch_features`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub auxiliary_id: u8,
    /// [`capabilities`] bits.
    pub capabilities: u32,
}

impl FeaturesReply {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<FeaturesReply> {
        let datapath_id = r.u64("datapath_id")?;
        let n_buffers = r.u32("n_buffers")?;
        let n_tables = r.u8("n_tables")?;
        let auxiliary_id = r.u8("auxiliary_id")?;
        r.skip(2, "pad")?;
        let capabilities = r.u32("capabilities")?;
        r.skip(4, "reserved")?;
        Ok(FeaturesReply {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.datapath_id);
        out.put_u32(self.n_buffers);
        out.put_u8(self.n_tables);
        out.put_u8(self.auxiliary_id);
        out.put_zeros(2);
        out.put_u32(self.capabilities);
        out.put_u32(0);
    }
}

/// `ofp_config_flags` values of [`SwitchConfig::flags`].
pub mod config_flags {
    pub const FRAG_NORMAL: u16 = 0;
    pub const FRAG_DROP: u16 = 1;
    pub const FRAG_REASM: u16 = 2;
    pub const FRAG_MASK: u16 = 3;
}

/// `OFPCML_NO_BUFFER`: send whole packets to the controller.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// OFPT_GET_CONFIG_REPLY and OFPT_SET_CONFIG (`ofp_switch_config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    /// [`config_flags`].
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<SwitchConfig> {
        Ok(SwitchConfig {
            flags: r.u16("flags")?,
            miss_send_len: r.u16("miss_send_len")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.flags);
        out.put_u16(self.miss_send_len);
    }
}

wire_enum! {
    /// `ofp_controller_role`.
    pub enum ControllerRole: u32 {
        NoChange = 0,
        Equal = 1,
        Master = 2,
        Slave = 3,
    }
}

/// OFPT_ROLE_REQUEST and OFPT_ROLE_REPLY (`ofp_role_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleMsg {
    pub role: ControllerRole,
    pub generation_id: u64,
}

impl RoleMsg {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<RoleMsg> {
        let role = ControllerRole::from(r.u32("role")?);
        r.skip(4, "pad")?;
        Ok(RoleMsg {
            role,
            generation_id: r.u64("generation_id")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.role.into());
        out.put_zeros(4);
        out.put_u64(self.generation_id);
    }
}

/// OFPT_GET_ASYNC_REPLY and OFPT_SET_ASYNC (`ofp_async_config`). Index 0
/// applies to master/equal connections, index 1 to slave connections; each
/// mask has bit `1 << reason` set for the reasons to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

impl AsyncConfig {
    pub fn decode(r: &mut Reader<'_>) -> WireResult<AsyncConfig> {
        let mut pair = |what| -> WireResult<[u32; 2]> { Ok([r.u32(what)?, r.u32(what)?]) };
        Ok(AsyncConfig {
            packet_in_mask: pair("packet_in_mask")?,
            port_status_mask: pair("port_status_mask")?,
            flow_removed_mask: pair("flow_removed_mask")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for m in [
            self.packet_in_mask,
            self.port_status_mask,
            self.flow_removed_mask,
        ] {
            out.put_u32(m[0]);
            out.put_u32(m[1]);
        }
    }
}
