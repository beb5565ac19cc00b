//! Nicira experimenter actions (`OFPAT_EXPERIMENTER`, vendor
//! [`NX_VENDOR_ID`], an `NXAST_*` subtype), as Open vSwitch's
//! `lib/ofp-actions.c` lays them out.
//!
//! Every NX action starts `type=0xffff len:16 vendor:32 subtype:16`; the
//! rest depends on the subtype. Supported: `resubmit` (NXAST_RESUBMIT and
//! NXAST_RESUBMIT_TABLE), `load` (NXAST_REG_LOAD, and NXAST_REG_LOAD2:
//! one OXM TLV, maybe masked, which `ovs-ofctl` sends for a `load` into a
//! variable-length field such as `tun_metadata0`), `move`
//! (NXAST_REG_MOVE), `output:<field>` (NXAST_OUTPUT_REG and
//! NXAST_OUTPUT_REG2), `note` (NXAST_NOTE) and `sample` (NXAST_SAMPLE,
//! NXAST_SAMPLE2 and NXAST_SAMPLE3: flow sampling to an IPFIX collector
//! set, see `ofproto::ipfix`). Another subtype is
//! `BAD_EXP_TYPE`; another vendor stays `BAD_EXPERIMENTER` (in
//! `wire::action`).
//!
//! The one idea: `load`, `move` and `output:reg` name *bit ranges of
//! fields* ([`FieldRef`]): an NXM header and `ofs`/`n_bits`, packed as
//! `ofs_nbits = ofs << 6 | (n_bits - 1)` or given apart. Decoding resolves
//! the header to an [`OxmKind`] (so the pipeline deals in kinds) and checks
//! the range fits the field's bits (`BAD_SET_LEN`, as Open vSwitch answers);
//! the header is kept as received, so encoding reproduces the bytes. An
//! unknown header is `BadMatch::BAD_FIELD`, Open vSwitch's answer too.
//! Whether the field can be read or written in this switch is the
//! pipeline's question (`key_map`), as for Set-Field.
//!
//! Display prints what `ovs-ofctl dump-flows` prints.

use std::fmt;

use super::field::nxm_header_name;
use super::NX_VENDOR_ID;
use crate::wire::bytes::{Put, Reader};
use crate::wire::error::{BadAction, BadMatch, WireError, WireResult};
use crate::wire::oxm::{OxmField, OxmHeader, OxmKind, OFPXMC_EXPERIMENTER};

/// `NXAST_*` subtypes.
pub mod subtype {
    pub const RESUBMIT: u16 = 1;
    pub const REG_MOVE: u16 = 6;
    pub const REG_LOAD: u16 = 7;
    pub const NOTE: u16 = 8;
    pub const RESUBMIT_TABLE: u16 = 14;
    pub const OUTPUT_REG: u16 = 15;
    pub const OUTPUT_REG2: u16 = 32;
    pub const REG_LOAD2: u16 = 33;
    pub const SAMPLE: u16 = 29;
    pub const SAMPLE2: u16 = 38;
    pub const SAMPLE3: u16 = 41;
}

/// `sample`'s `sampling_port` when none is given (`OFPP_NONE`).
pub const SAMPLE_NO_PORT: u16 = 0xffff;

/// OpenFlow 1.0's `OFPP_IN_PORT`: `resubmit`'s "keep the ingress port".
pub const OFPP10_IN_PORT: u16 = 0xfff8;
/// `resubmit`'s "the current table".
pub const RESUBMIT_CURRENT_TABLE: u8 = 0xff;

/// Bytes before the subtype-specific body: type, len, vendor, subtype.
const NX_HEADER_LEN: usize = 10;

/// A bit range of a field, as NX actions name it: `NXM_NX_REG0[4..7]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// The unmasked header naming the field, as received.
    pub header: OxmHeader,
    pub kind: OxmKind,
    /// Lowest bit (0 = the value's least significant bit).
    pub ofs: u16,
    pub n_bits: u16,
}

impl FieldRef {
    /// Bits `ofs .. ofs + n_bits` of `kind`, named by its NXM header
    /// where Nicira gave it one (else its OXM header).
    pub fn new(kind: OxmKind, ofs: u16, n_bits: u16) -> FieldRef {
        let header = match super::field::nxm_name(kind) {
            Some((class, field)) => OxmHeader::new(class, field, false, kind.width() as u8),
            None => kind.header(false),
        };
        FieldRef {
            header,
            kind,
            ofs,
            n_bits,
        }
    }

    /// All of `kind`'s bits (`NXM_NX_REG0[]`).
    pub fn whole(kind: OxmKind) -> FieldRef {
        FieldRef::new(kind, 0, kind.bits() as u16)
    }

    /// The range as a mask over the field's right-aligned value.
    pub fn mask(&self) -> u128 {
        let ones = if self.n_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << self.n_bits) - 1
        };
        ones << self.ofs
    }

    /// `n_bits >= 1` and the range inside the field's bits.
    pub fn check(&self) -> WireResult<()> {
        let bits = self.kind.bits();
        if self.n_bits == 0 || u32::from(self.ofs) + u32::from(self.n_bits) > bits {
            return Err(WireError::new(
                BadAction::BAD_SET_LEN,
                format!(
                    "bits {}..{} of the {bits}-bit field {}",
                    self.ofs,
                    u32::from(self.ofs) + u32::from(self.n_bits),
                    self.kind.name()
                ),
            ));
        }
        Ok(())
    }

    /// `ofs << 6 | (n_bits - 1)` (n_bits of at most 64).
    fn ofs_nbits(&self) -> u16 {
        (self.ofs << 6) | (self.n_bits.saturating_sub(1) & 0x3f)
    }

    fn from_ofs_nbits(header: OxmHeader, kind: OxmKind, v: u16) -> FieldRef {
        FieldRef {
            header,
            kind,
            ofs: v >> 6,
            n_bits: (v & 0x3f) + 1,
        }
    }

    /// The whole field (`[]`), as Open vSwitch's printer decides.
    fn is_whole(&self) -> bool {
        self.ofs == 0 && u32::from(self.n_bits) == self.kind.bits()
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.header;
        match nxm_header_name(h.class(), h.field()) {
            Some(name) => f.write_str(name)?,
            None => f.write_str(self.kind.name())?,
        }
        if self.is_whole() {
            f.write_str("[]")
        } else if self.n_bits == 1 {
            write!(f, "[{}]", self.ofs)
        } else {
            write!(f, "[{}..{}]", self.ofs, self.ofs + self.n_bits - 1)
        }
    }
}

/// One Nicira action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NxAction {
    /// Look the packet up again in `table` (`None`: NXAST_RESUBMIT, the
    /// current table; `Some(0xff)` also means the current table), as if
    /// it came in on `in_port` (an OpenFlow 1.0 port number;
    /// [`OFPP10_IN_PORT`] keeps the packet's own), and execute what
    /// matches, then carry on with the rest of this list.
    Resubmit { in_port: u16, table: Option<u8> },
    /// Copy `src`'s bits into `dst`'s (same width).
    RegMove { src: FieldRef, dst: FieldRef },
    /// Write `value` into `dst`'s bits.
    RegLoad { dst: FieldRef, value: u64 },
    /// Write the field's value under its mask (none: all of it).
    RegLoad2(OxmField),
    /// Output to the port number held in `src`'s bits. `v2` records the
    /// NXAST_OUTPUT_REG2 layout.
    OutputReg {
        src: FieldRef,
        max_len: u16,
        v2: bool,
    },
    /// An opaque note for the controller (the bytes after the subtype,
    /// padding included, as Open vSwitch keeps them).
    Note(Vec<u8>),
    /// Sample the packet to an IPFIX collector set.
    Sample(NxSample),
}

/// `sample(...)`: with probability `probability / 65535`, a flow sample
/// of the packet goes to collector set `collector_set_id`, in observation
/// domain `obs_domain_id` at observation point `obs_point_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NxSample {
    /// Packets sampled out of 65535 (never 0).
    pub probability: u16,
    pub collector_set_id: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
    /// An OpenFlow 1.0 port number the sample is taken for
    /// ([`SAMPLE_NO_PORT`]: none); NXAST_SAMPLE2 and later.
    pub sampling_port: u16,
    /// 0: unspecified, 1: ingress, 2: egress; NXAST_SAMPLE3 only.
    pub direction: u8,
    /// The subtype received (or to send): SAMPLE, SAMPLE2 or SAMPLE3.
    pub subtype: u16,
}

impl NxSample {
    /// The lowest subtype that carries this sample's settings (what
    /// `ovs-ofctl` sends for a parsed `sample(...)`).
    pub fn least_subtype(&self) -> u16 {
        if self.direction != 0 {
            subtype::SAMPLE3
        } else if self.sampling_port != SAMPLE_NO_PORT {
            subtype::SAMPLE2
        } else {
            subtype::SAMPLE
        }
    }
}

fn err(code: crate::wire::error::OfError, detail: impl Into<String>) -> WireError {
    WireError::new(code, detail)
}

/// Read a field header (4 bytes, or 8 for the experimenter class) naming a
/// field in an action.
fn decode_ref_header(b: &mut Reader<'_>) -> WireResult<(OxmHeader, OxmKind)> {
    let header = OxmHeader(b.u32("nx field header")?);
    if header.class() == OFPXMC_EXPERIMENTER {
        return Err(crate::wire::oxm::field::unknown_experimenter_field(
            header, b,
        ));
    }
    let kind = header.kind().ok_or_else(|| {
        err(
            BadMatch::BAD_FIELD,
            format!("unknown field header {:#010x} in an NX action", header.0),
        )
    })?;
    // A tun_metadata field's length depends on the TLV map, which the
    // sender may not know: Open vSwitch names it with length 124.
    let variable = kind.tun_metadata_index().is_some();
    if header.has_mask() || !variable && usize::from(header.length()) != kind.width() {
        return Err(err(
            BadAction::BAD_ARGUMENT,
            format!(
                "field header {:#010x} is masked or has the wrong length",
                header.0
            ),
        ));
    }
    Ok((header, kind))
}

fn zeros(b: &mut Reader<'_>, what: &str) -> WireResult<()> {
    if b.rest().iter().any(|&x| x != 0) {
        return Err(err(
            BadAction::BAD_ARGUMENT,
            format!("{what} has non-zero padding"),
        ));
    }
    Ok(())
}

impl NxAction {
    /// The `NXAST_*` subtype this action encodes as.
    pub fn subtype(&self) -> u16 {
        match self {
            NxAction::Resubmit { table: None, .. } => subtype::RESUBMIT,
            NxAction::Resubmit { .. } => subtype::RESUBMIT_TABLE,
            NxAction::RegMove { .. } => subtype::REG_MOVE,
            NxAction::RegLoad { .. } => subtype::REG_LOAD,
            NxAction::RegLoad2(_) => subtype::REG_LOAD2,
            NxAction::OutputReg { v2: false, .. } => subtype::OUTPUT_REG,
            NxAction::OutputReg { v2: true, .. } => subtype::OUTPUT_REG2,
            NxAction::Note(_) => subtype::NOTE,
            NxAction::Sample(s) => s.subtype,
        }
    }

    /// Bytes on the wire, header included.
    pub fn wire_len(&self) -> usize {
        match self {
            NxAction::Resubmit { .. } => 16,
            NxAction::Note(n) => (NX_HEADER_LEN + n.len()).next_multiple_of(8).max(16),
            NxAction::RegLoad2(f) => (NX_HEADER_LEN + f.wire_len()).next_multiple_of(8),
            NxAction::Sample(s) if s.subtype != subtype::SAMPLE => 32,
            _ => 24,
        }
    }

    /// Decode the body of an experimenter action of length `len` whose
    /// vendor was [`NX_VENDOR_ID`]; `b` starts at the subtype.
    pub fn decode_body(len: usize, b: &mut Reader<'_>) -> WireResult<NxAction> {
        let sub = b.u16("nx subtype")?;
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(err(
                    BadAction::BAD_LEN,
                    format!("NX action subtype {sub} has length {len}, expected {want}"),
                ))
            }
        };
        let action = match sub {
            subtype::RESUBMIT | subtype::RESUBMIT_TABLE => {
                fixed(16)?;
                let in_port = b.u16("resubmit in_port")?;
                let table = b.u8("resubmit table")?;
                if sub == subtype::RESUBMIT {
                    // The rest is padding, ignored (as Open vSwitch does).
                    NxAction::Resubmit {
                        in_port,
                        table: None,
                    }
                } else {
                    zeros(b, "resubmit")?;
                    NxAction::Resubmit {
                        in_port,
                        table: Some(table),
                    }
                }
            }
            subtype::REG_MOVE => {
                let n_bits = b.u16("move n_bits")?;
                let src_ofs = b.u16("move src_ofs")?;
                let dst_ofs = b.u16("move dst_ofs")?;
                let (sh, sk) = decode_ref_header(b)?;
                let (dh, dk) = decode_ref_header(b)?;
                zeros(b, "move")?;
                let src = FieldRef {
                    header: sh,
                    kind: sk,
                    ofs: src_ofs,
                    n_bits,
                };
                let dst = FieldRef {
                    header: dh,
                    kind: dk,
                    ofs: dst_ofs,
                    n_bits,
                };
                src.check()?;
                dst.check()?;
                NxAction::RegMove { src, dst }
            }
            subtype::REG_LOAD => {
                fixed(24)?;
                let ofs_nbits = b.u16("load ofs_nbits")?;
                let (h, k) = decode_ref_header(b)?;
                let value = b.u64("load value")?;
                let dst = FieldRef::from_ofs_nbits(h, k, ofs_nbits);
                dst.check()?;
                if dst.n_bits < 64 && value >> dst.n_bits != 0 {
                    return Err(err(
                        BadAction::BAD_ARGUMENT,
                        format!("load of {value:#x} into {} bits", dst.n_bits),
                    ));
                }
                NxAction::RegLoad { dst, value }
            }
            subtype::OUTPUT_REG => {
                fixed(24)?;
                let ofs_nbits = b.u16("output_reg ofs_nbits")?;
                let (h, k) = decode_ref_header(b)?;
                let max_len = b.u16("output_reg max_len")?;
                zeros(b, "output_reg")?;
                let src = FieldRef::from_ofs_nbits(h, k, ofs_nbits);
                src.check()?;
                NxAction::OutputReg {
                    src,
                    max_len,
                    v2: false,
                }
            }
            subtype::OUTPUT_REG2 => {
                let ofs_nbits = b.u16("output_reg2 ofs_nbits")?;
                let max_len = b.u16("output_reg2 max_len")?;
                let (h, k) = decode_ref_header(b)?;
                zeros(b, "output_reg2")?;
                let src = FieldRef::from_ofs_nbits(h, k, ofs_nbits);
                src.check()?;
                NxAction::OutputReg {
                    src,
                    max_len,
                    v2: true,
                }
            }
            subtype::NOTE => NxAction::Note(b.rest().to_vec()),
            subtype::SAMPLE | subtype::SAMPLE2 | subtype::SAMPLE3 => {
                fixed(if sub == subtype::SAMPLE { 24 } else { 32 })?;
                let mut s = NxSample {
                    probability: b.u16("sample probability")?,
                    collector_set_id: b.u32("sample collector_set_id")?,
                    obs_domain_id: b.u32("sample obs_domain_id")?,
                    obs_point_id: b.u32("sample obs_point_id")?,
                    sampling_port: SAMPLE_NO_PORT,
                    direction: 0,
                    subtype: sub,
                };
                if sub != subtype::SAMPLE {
                    s.sampling_port = b.u16("sample sampling_port")?;
                    let direction = b.u8("sample direction")?;
                    // NXAST_SAMPLE2 ignores the byte and the padding, as
                    // Open vSwitch does; NXAST_SAMPLE3 checks both.
                    if sub == subtype::SAMPLE3 {
                        if direction > 2 {
                            return Err(err(
                                BadAction::BAD_ARGUMENT,
                                format!("sample direction {direction} (0, 1 or 2)"),
                            ));
                        }
                        s.direction = direction;
                        zeros(b, "sample")?;
                    }
                }
                if s.probability == 0 {
                    return Err(err(BadAction::BAD_ARGUMENT, "sample probability 0"));
                }
                NxAction::Sample(s)
            }
            subtype::REG_LOAD2 => {
                let field = OxmField::decode(b).map_err(|e| {
                    let code = match e.error {
                        BadMatch::BAD_FIELD => BadAction::BAD_SET_TYPE,
                        BadMatch::BAD_LEN => BadAction::BAD_SET_LEN,
                        _ => BadAction::BAD_SET_ARGUMENT,
                    };
                    err(code, format!("load: {}", e.detail))
                })?;
                if !field.kind().settable() {
                    return Err(err(
                        BadAction::BAD_SET_TYPE,
                        format!("{} cannot be loaded", field.kind().name()),
                    ));
                }
                zeros(b, "reg_load2")?;
                NxAction::RegLoad2(field)
            }
            s => {
                return Err(err(
                    BadAction::BAD_EXP_TYPE,
                    format!("Nicira action subtype {s} is not supported"),
                ))
            }
        };
        Ok(action)
    }

    /// Append the body after `type` and `len`: vendor, subtype, fields,
    /// padding. The caller pads to 8 and fills in the length.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        out.put_u32(NX_VENDOR_ID);
        out.put_u16(self.subtype());
        match self {
            NxAction::Resubmit { in_port, table } => {
                out.put_u16(*in_port);
                out.put_u8(table.unwrap_or(0));
                out.put_zeros(3);
            }
            NxAction::RegMove { src, dst } => {
                out.put_u16(src.n_bits);
                out.put_u16(src.ofs);
                out.put_u16(dst.ofs);
                out.put_u32(src.header.0);
                out.put_u32(dst.header.0);
            }
            NxAction::RegLoad { dst, value } => {
                out.put_u16(dst.ofs_nbits());
                out.put_u32(dst.header.0);
                out.put_u64(*value);
            }
            NxAction::OutputReg {
                src,
                max_len,
                v2: false,
            } => {
                out.put_u16(src.ofs_nbits());
                out.put_u32(src.header.0);
                out.put_u16(*max_len);
                out.put_zeros(6);
            }
            NxAction::OutputReg {
                src,
                max_len,
                v2: true,
            } => {
                out.put_u16(src.ofs_nbits());
                out.put_u16(*max_len);
                out.put_u32(src.header.0);
            }
            NxAction::Note(note) => {
                out.extend_from_slice(note);
                if note.len() < 6 {
                    out.put_zeros(6 - note.len());
                }
            }
            NxAction::RegLoad2(field) => field.encode(out),
            NxAction::Sample(s) => {
                out.put_u16(s.probability);
                out.put_u32(s.collector_set_id);
                out.put_u32(s.obs_domain_id);
                out.put_u32(s.obs_point_id);
                if s.subtype != subtype::SAMPLE {
                    out.put_u16(s.sampling_port);
                    out.put_u8(s.direction);
                    out.put_zeros(5);
                }
            }
        }
    }
}

impl fmt::Display for NxAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NxAction::Resubmit { in_port, table } => {
                let table = table.unwrap_or(RESUBMIT_CURRENT_TABLE);
                if *in_port != OFPP10_IN_PORT && table == RESUBMIT_CURRENT_TABLE {
                    return write!(f, "resubmit:{in_port}");
                }
                f.write_str("resubmit(")?;
                if *in_port != OFPP10_IN_PORT {
                    write!(f, "{in_port}")?;
                }
                f.write_str(",")?;
                if table != RESUBMIT_CURRENT_TABLE {
                    write!(f, "{table}")?;
                }
                f.write_str(")")
            }
            NxAction::RegMove { src, dst } => write!(f, "move:{src}->{dst}"),
            NxAction::RegLoad { dst, value } => write!(f, "load:{value:#x}->{dst}"),
            NxAction::RegLoad2(field) => {
                let (v, m) = field.raw();
                let name = super::field::ofctl_name(field.kind()).unwrap_or(field.kind().name());
                match m {
                    Some(m) => write!(f, "set_field:{v:#x}/{m:#x}->{name}"),
                    None => write!(f, "set_field:{v:#x}->{name}"),
                }
            }
            NxAction::OutputReg { src, max_len, .. } => {
                if *max_len == u16::MAX {
                    write!(f, "output:{src}")
                } else {
                    write!(f, "output(port={src},max_len={max_len})")
                }
            }
            NxAction::Note(n) => {
                f.write_str("note:")?;
                for (i, b) in n.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            NxAction::Sample(s) => {
                write!(
                    f,
                    "sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={}",
                    s.probability, s.collector_set_id, s.obs_domain_id, s.obs_point_id
                )?;
                match s.sampling_port {
                    SAMPLE_NO_PORT => {}
                    0xfffe => f.write_str(",sampling_port=LOCAL")?,
                    p => write!(f, ",sampling_port={p}")?,
                }
                match s.direction {
                    1 => f.write_str(",ingress")?,
                    2 => f.write_str(",egress")?,
                    _ => {}
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests;
