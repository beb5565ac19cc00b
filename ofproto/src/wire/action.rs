//! OpenFlow 1.3 actions (`ofp_action_*`, spec 1.3.5 section 7.2.5).
//!
//! An action list is a sequence of TLVs `type:16 len:16 body`, each a
//! multiple of 8 bytes. [`Action`] has one variant per action this switch
//! understands: all of OpenFlow 1.3's, plus the Nicira experimenter actions
//! ([`Action::Nx`], decoded by [`crate::wire::nx::action`]); an
//! experimenter action of any other vendor is answered with
//! `BAD_EXPERIMENTER`.
//!
//! The one idea: an action is validated here only as far as it can be on
//! its own: framing and length (`BAD_LEN`), a known type (`BAD_TYPE`),
//! arguments that are wrong whatever the flow (an output to port 0 or ANY is
//! `BAD_OUT_PORT`, PUSH_VLAN of ethertype 0x0800 is `BAD_ARGUMENT`, a
//! Set-Field of an unknown field `BAD_SET_TYPE` ...). Whether the action fits
//! the flow (a Set-Field of TCP_DST on a flow that does not match TCP is
//! `MATCH_INCONSISTENT`; does the group or queue exist) needs the match and
//! the switch state, so the pipeline checks it.
//!
//! Set-Field carries exactly one unmasked OXM TLV ([`OxmField`]), which
//! may be a Nicira field (`set_field:5->reg0` is sent that way); masked
//! Set-Field is OpenFlow 1.5 and is refused with `BAD_SET_ARGUMENT` (Open
//! vSwitch answers the 1.5 code OFPBAC_BAD_SET_MASK, which 1.3 lacks), as
//! are out-of-range values and non-zero padding. A VLAN_VID Set-Field is
//! accepted with or without OFPVID_PRESENT; the VLAN id is its low 12 bits.
//!
//! Padding inside fixed-size actions is not checked (Open vSwitch accepts
//! non-zero padding too); encoding writes zeros.

use super::bytes::{Put, Reader};
use super::error::{BadAction, BadMatch, OfError, WireError, WireResult};
use super::nx::{NxAction, NX_VENDOR_ID};
use super::oxm::{OxmField, OxmHeader, OFPXMC_EXPERIMENTER};

/// Reserved port numbers (`ofp_port_no`) and the port checks actions need.
pub mod port_no {
    /// `OFPP_MAX`: the highest number a physical or logical port may have.
    pub const MAX: u32 = 0xffff_ff00;
    /// `OFPP_IN_PORT`: send back out the ingress port.
    pub const IN_PORT: u32 = 0xffff_fff8;
    /// `OFPP_TABLE`: submit to the first flow table (packet-out only).
    pub const TABLE: u32 = 0xffff_fff9;
    /// `OFPP_NORMAL`: the traditional L2/L3 switch.
    pub const NORMAL: u32 = 0xffff_fffa;
    /// `OFPP_FLOOD`: all ports except the ingress and blocked ones.
    pub const FLOOD: u32 = 0xffff_fffb;
    /// `OFPP_ALL`: all ports except the ingress port.
    pub const ALL: u32 = 0xffff_fffc;
    /// `OFPP_CONTROLLER`: send to the controller (packet-in).
    pub const CONTROLLER: u32 = 0xffff_fffd;
    /// `OFPP_LOCAL`: the switch's local port.
    pub const LOCAL: u32 = 0xffff_fffe;
    /// `OFPP_ANY`: "no port" in requests; never an output.
    pub const ANY: u32 = 0xffff_ffff;

    /// A port an OUTPUT action may name: 1..=MAX or a reserved port other
    /// than ANY.
    pub fn is_valid_output(port: u32) -> bool {
        (1..=MAX).contains(&port) || (IN_PORT..=LOCAL).contains(&port)
    }
}

/// Reserved group numbers (`ofp_group`).
pub mod group_no {
    /// `OFPG_MAX`: the highest group number.
    pub const MAX: u32 = 0xffff_ff00;
    /// `OFPG_ALL`: all groups (group delete only).
    pub const ALL: u32 = 0xffff_fffc;
    /// `OFPG_ANY`: "no group" in requests.
    pub const ANY: u32 = 0xffff_ffff;
}

/// `OFPCML_MAX`: the largest max_len that asks for a specific length.
pub const OFPCML_MAX: u16 = 0xffe5;
/// `OFPCML_NO_BUFFER`: send the whole packet to the controller, unbuffered.
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// `ofp_action_type` numbers.
pub mod action_type {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
    pub const EXPERIMENTER: u16 = 0xffff;
}

use action_type as at;

/// One `ofp_action_*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send out `port`; `max_len` bytes go to the controller when `port`
    /// is CONTROLLER ([`OFPCML_NO_BUFFER`] for the whole packet).
    Output {
        port: u32,
        max_len: u16,
    },
    /// Copy the TTL outwards (IP to MPLS, or MPLS to outer MPLS).
    CopyTtlOut,
    /// Copy the TTL inwards (MPLS to IP, or outer MPLS to inner).
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    /// Push a VLAN tag with this TPID (0x8100 or 0x88a8).
    PushVlan(u16),
    PopVlan,
    /// Push an MPLS shim with this ethertype (0x8847 or 0x8848).
    PushMpls(u16),
    /// Pop the MPLS shim; the frame becomes this ethertype.
    PopMpls(u16),
    SetQueue(u32),
    /// Process through this group.
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    /// Write one header field (always unmasked in OpenFlow 1.3).
    SetField(OxmField),
    /// Push a PBB service tag with this ethertype (0x88e7).
    PushPbb(u16),
    PopPbb,
    /// A Nicira extension action (`OFPAT_EXPERIMENTER`, vendor 0x2320).
    Nx(NxAction),
}

fn err(code: OfError, detail: impl Into<String>) -> WireError {
    WireError::new(code, detail)
}

impl Action {
    /// The `ofp_action_type` of this action.
    pub fn type_code(&self) -> u16 {
        match self {
            Action::Output { .. } => at::OUTPUT,
            Action::CopyTtlOut => at::COPY_TTL_OUT,
            Action::CopyTtlIn => at::COPY_TTL_IN,
            Action::SetMplsTtl(_) => at::SET_MPLS_TTL,
            Action::DecMplsTtl => at::DEC_MPLS_TTL,
            Action::PushVlan(_) => at::PUSH_VLAN,
            Action::PopVlan => at::POP_VLAN,
            Action::PushMpls(_) => at::PUSH_MPLS,
            Action::PopMpls(_) => at::POP_MPLS,
            Action::SetQueue(_) => at::SET_QUEUE,
            Action::Group(_) => at::GROUP,
            Action::SetNwTtl(_) => at::SET_NW_TTL,
            Action::DecNwTtl => at::DEC_NW_TTL,
            Action::SetField(_) => at::SET_FIELD,
            Action::PushPbb(_) => at::PUSH_PBB,
            Action::PopPbb => at::POP_PBB,
            Action::Nx(_) => at::EXPERIMENTER,
        }
    }

    /// Bytes this action takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Action::Output { .. } => 16,
            Action::SetField(f) => (4 + f.wire_len()).next_multiple_of(8),
            Action::Nx(nx) => nx.wire_len(),
            _ => 8,
        }
    }

    /// Decode a list of actions filling all of `r`.
    pub fn decode_list(r: &mut Reader<'_>) -> WireResult<Vec<Action>> {
        let mut actions = Vec::new();
        while !r.is_empty() {
            actions.push(Action::decode(r)?);
        }
        Ok(actions)
    }

    /// Decode one action from the front of `r`.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Action> {
        let at_offset = r.pos();
        if r.remaining() < 4 {
            return Err(err(
                BadAction::BAD_LEN,
                format!("action header at offset {at_offset} needs 4 bytes"),
            ));
        }
        let ty = r.u16("action type")?;
        let len = usize::from(r.u16("action length")?);
        if len < 8 || len % 8 != 0 || len - 4 > r.remaining() {
            return Err(err(
                BadAction::BAD_LEN,
                format!(
                    "action type {ty} at offset {at_offset} has length {len} \
                     ({} bytes left)",
                    r.remaining() + 4
                ),
            ));
        }
        let mut body = Reader::new(r.bytes(len - 4, "action body")?, BadAction::BAD_LEN);
        Action::decode_body(ty, len, &mut body)
    }

    fn decode_body(ty: u16, len: usize, b: &mut Reader<'_>) -> WireResult<Action> {
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(err(
                    BadAction::BAD_LEN,
                    format!("action type {ty} has length {len}, expected {want}"),
                ))
            }
        };
        let action = match ty {
            at::OUTPUT => {
                fixed(16)?;
                let port = b.u32("output port")?;
                let max_len = b.u16("output max_len")?;
                if !port_no::is_valid_output(port) {
                    return Err(err(
                        BadAction::BAD_OUT_PORT,
                        format!("output to invalid port {port:#x}"),
                    ));
                }
                Action::Output { port, max_len }
            }
            at::COPY_TTL_OUT => fixed(8).map(|_| Action::CopyTtlOut)?,
            at::COPY_TTL_IN => fixed(8).map(|_| Action::CopyTtlIn)?,
            at::SET_MPLS_TTL => {
                fixed(8)?;
                Action::SetMplsTtl(b.u8("mpls_ttl")?)
            }
            at::DEC_MPLS_TTL => fixed(8).map(|_| Action::DecMplsTtl)?,
            at::PUSH_VLAN | at::PUSH_MPLS | at::PUSH_PBB | at::POP_MPLS => {
                fixed(8)?;
                let ethertype = b.u16("ethertype")?;
                push_pop(ty, ethertype)?
            }
            at::POP_VLAN => fixed(8).map(|_| Action::PopVlan)?,
            at::POP_PBB => fixed(8).map(|_| Action::PopPbb)?,
            at::SET_QUEUE => {
                fixed(8)?;
                Action::SetQueue(b.u32("queue_id")?)
            }
            at::GROUP => {
                fixed(8)?;
                let group = b.u32("group_id")?;
                if group > group_no::MAX {
                    return Err(err(
                        BadAction::BAD_OUT_GROUP,
                        format!("group action to reserved group {group:#x}"),
                    ));
                }
                Action::Group(group)
            }
            at::SET_NW_TTL => {
                fixed(8)?;
                Action::SetNwTtl(b.u8("nw_ttl")?)
            }
            at::DEC_NW_TTL => fixed(8).map(|_| Action::DecNwTtl)?,
            at::SET_FIELD => Action::SetField(decode_set_field(b)?),
            at::EXPERIMENTER => {
                let exp = b.u32("experimenter")?;
                if exp == NX_VENDOR_ID {
                    if len < 16 {
                        return Err(err(
                            BadAction::BAD_LEN,
                            format!("Nicira action of length {len}"),
                        ));
                    }
                    return NxAction::decode_body(len, b).map(Action::Nx);
                }
                return Err(err(
                    BadAction::BAD_EXPERIMENTER,
                    format!("experimenter action {exp:#010x} is not supported"),
                ));
            }
            t => return Err(err(BadAction::BAD_TYPE, format!("unknown action type {t}"))),
        };
        Ok(action)
    }

    /// Append one action.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(self.type_code());
        out.put_u16(0); // length, filled in below
        match *self {
            Action::Output { port, max_len } => {
                out.put_u32(port);
                out.put_u16(max_len);
                out.put_zeros(6);
            }
            Action::SetMplsTtl(ttl) | Action::SetNwTtl(ttl) => {
                out.put_u8(ttl);
                out.put_zeros(3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e) => {
                out.put_u16(e);
                out.put_zeros(2);
            }
            Action::SetQueue(id) | Action::Group(id) => out.put_u32(id),
            Action::SetField(f) => f.encode(out),
            Action::Nx(ref nx) => nx.encode_body(out),
            Action::CopyTtlOut
            | Action::CopyTtlIn
            | Action::DecMplsTtl
            | Action::PopVlan
            | Action::DecNwTtl
            | Action::PopPbb => out.put_zeros(4),
        }
        out.pad_to_8(start);
        let len = out.len() - start;
        // An action is at most 8 + 36 bytes.
        out.set_u16(start + 2, u16::try_from(len).unwrap_or(u16::MAX));
    }

    /// Append a list of actions.
    pub fn encode_list(actions: &[Action], out: &mut Vec<u8>) {
        for a in actions {
            a.encode(out);
        }
    }

    /// Bytes a list of actions takes on the wire.
    pub fn list_wire_len(actions: &[Action]) -> usize {
        actions.iter().map(Action::wire_len).sum()
    }
}

/// The push/pop actions with an ethertype argument, checked.
fn push_pop(ty: u16, ethertype: u16) -> WireResult<Action> {
    let (allowed, name): (&[u16], &str) = match ty {
        at::PUSH_VLAN => (&[0x8100, 0x88a8], "PUSH_VLAN"),
        at::PUSH_MPLS => (&[0x8847, 0x8848], "PUSH_MPLS"),
        at::PUSH_PBB => (&[0x88e7], "PUSH_PBB"),
        _ => return Ok(Action::PopMpls(ethertype)),
    };
    if !allowed.contains(&ethertype) {
        return Err(err(
            BadAction::BAD_ARGUMENT,
            format!("{name} with ethertype {ethertype:#06x}"),
        ));
    }
    Ok(match ty {
        at::PUSH_VLAN => Action::PushVlan(ethertype),
        at::PUSH_MPLS => Action::PushMpls(ethertype),
        _ => Action::PushPbb(ethertype),
    })
}

/// The Set-Field body after the action header: one OXM TLV, then zero
/// padding. OXM decoding errors are translated into their Set-Field
/// counterparts.
fn decode_set_field(b: &mut Reader<'_>) -> WireResult<OxmField> {
    let header = OxmHeader::decode(b).map_err(to_set_field_error)?;
    if header.class() == OFPXMC_EXPERIMENTER {
        let e = crate::wire::oxm::field::unknown_experimenter_field(header, b);
        return Err(to_set_field_error(e));
    }
    let Some(kind) = header.kind() else {
        return Err(err(
            BadAction::BAD_SET_TYPE,
            format!("set-field of unknown OXM {:#010x}", header.0),
        ));
    };
    if !kind.settable() {
        return Err(err(
            BadAction::BAD_SET_TYPE,
            format!("{} cannot be set", kind.name()),
        ));
    }
    if header.has_mask() {
        return Err(err(
            BadAction::BAD_SET_ARGUMENT,
            format!("masked set-field of {} (OpenFlow 1.5 only)", kind.name()),
        ));
    }
    let field = OxmField::decode_payload(kind, header, b).map_err(to_set_field_error)?;
    if b.rest().iter().any(|&x| x != 0) {
        return Err(err(
            BadAction::BAD_SET_ARGUMENT,
            format!("set-field of {} has non-zero padding", kind.name()),
        ));
    }
    Ok(field)
}

/// Map an OXM decoding error to the Set-Field error a switch answers.
fn to_set_field_error(e: WireError) -> WireError {
    let code = match e.error {
        BadMatch::BAD_FIELD => BadAction::BAD_SET_TYPE,
        BadMatch::BAD_LEN => BadAction::BAD_SET_LEN,
        _ => BadAction::BAD_SET_ARGUMENT,
    };
    WireError::new(code, e.detail)
}

#[cfg(test)]
pub(crate) mod tests;
