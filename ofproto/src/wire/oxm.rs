//! OpenFlow 1.3 matches: `ofp_match` of type OFPMT_OXM, a list of OXM TLVs.
//!
//! A [`Match`] is the list of [`OxmField`]s a controller sent, in its order
//! (so encoding reproduces the bytes), with the guarantee after decoding
//! that every TLV is a known OpenFlow-basic field with a legal length, value
//! and mask, and that no field appears twice. Fields that are absent are
//! wildcarded.
//!
//! The one idea: decoding checks what each TLV says *on its own*; whether
//! the TLVs make sense *together* (TCP_SRC needs IP_PROTO=6, spec 7.2.3.6)
//! is [`Match::check_prerequisites`], a separate step, because only
//! flow-mods need it (a flow-stats request may match on anything). Strict
//! flow-mod commands compare matches: compare [`Match::normalized`] forms,
//! which drop all-ones masks and order fields by type.
//!
//! Besides the basic fields a match may carry the Nicira fields of
//! [`crate::wire::nx::field`] (registers, tunnel metadata, `pkt_mark`,
//! `ip_frag`), under their NXM headers; they are kinds like any other.
//!
//! Error codes (all `OFPET_BAD_MATCH`): a match type other than OXM
//! (including the deprecated OFPMT_STANDARD) is `BAD_TYPE`; bad lengths
//! `BAD_LEN`; unknown fields (including every experimenter-class field)
//! `BAD_FIELD`;
//! a repeated field `DUP_FIELD`; out-of-range values `BAD_VALUE`; masks on
//! unmaskable fields or beyond the field's bits `BAD_MASK`; value bits
//! outside the mask `BAD_WILDCARDS`; unmet prerequisites `BAD_PREREQ`.
//!
//! Table features list OXM ids: [`all_basic_ids`], [`match_ids`],
//! [`wildcard_ids`] and [`set_field_ids`] give them.

pub(crate) mod field;
pub(crate) mod kind;
mod prereq;

pub use field::OxmField;
pub use kind::{
    OxmHeader, OxmKind, OFPVID_NONE, OFPVID_PRESENT, OFPXMC_EXPERIMENTER, OFPXMC_NXM_0,
    OFPXMC_NXM_1, OFPXMC_OPENFLOW_BASIC,
};

use super::bytes::{Put, Reader};
use super::error::{BadMatch, WireError, WireResult};

/// `OFPMT_STANDARD`: the OpenFlow 1.1 fixed match, deprecated; rejected.
pub const OFPMT_STANDARD: u16 = 0;
/// `OFPMT_OXM`: the only match type OpenFlow 1.3 switches must support.
pub const OFPMT_OXM: u16 = 1;

/// `ofp_match` of type OFPMT_OXM.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Match {
    /// The TLVs in wire order. Decoded matches have no duplicate kinds;
    /// use [`Match::insert`] to keep it that way when building by hand.
    pub fields: Vec<OxmField>,
}

impl Match {
    /// The empty match (matches every packet).
    pub fn new() -> Match {
        Match::default()
    }

    /// Builder form of [`Match::insert`].
    pub fn with(mut self, field: OxmField) -> Match {
        self.insert(field);
        self
    }

    /// Add `field`, replacing (in place) a field of the same kind, which is
    /// returned.
    pub fn insert(&mut self, field: OxmField) -> Option<OxmField> {
        match self.fields.iter_mut().find(|f| f.kind() == field.kind()) {
            Some(slot) => Some(std::mem::replace(slot, field)),
            None => {
                self.fields.push(field);
                None
            }
        }
    }

    /// Remove and return the field of this kind.
    pub fn remove(&mut self, kind: OxmKind) -> Option<OxmField> {
        let i = self.fields.iter().position(|f| f.kind() == kind)?;
        Some(self.fields.remove(i))
    }

    /// The field of this kind, if the match constrains it.
    pub fn get(&self, kind: OxmKind) -> Option<&OxmField> {
        self.fields.iter().find(|f| f.kind() == kind)
    }

    pub fn contains(&self, kind: OxmKind) -> bool {
        self.get(kind).is_some()
    }

    /// The fields in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, OxmField> {
        self.fields.iter()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True for the all-wildcard match.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Check a hand-built match the way decoding checks a received one
    /// (field values and masks, no duplicates). Prerequisites are separate.
    pub fn validate(&self) -> WireResult<()> {
        let mut seen = 0u128;
        for f in &self.fields {
            f.validate()?;
            seen = note_kind(seen, f.kind())?;
        }
        Ok(())
    }

    /// Spec 7.2.3.6: every field's protocol is pinned down by the rest of
    /// the match (e.g. IPV4_SRC needs ETH_TYPE=0x0800). `BAD_PREREQ`
    /// otherwise. The pipeline calls this for flow-mods.
    pub fn check_prerequisites(&self) -> WireResult<()> {
        prereq::check(self)
    }

    /// Whether this match pins down the protocol `kind` belongs to, as a
    /// field of that kind in the match would require (`BAD_PREREQ` if not).
    /// For Set-Field: the pipeline answers `BadAction::MATCH_INCONSISTENT`
    /// when a Set-Field's kind fails this against the flow's match.
    pub fn check_prerequisites_of(&self, kind: OxmKind) -> WireResult<()> {
        prereq::check_one(self, kind)
    }

    /// The canonical form for comparing matches: all-ones masks become
    /// exact matches, all-zero masks drop the field (it matches anything),
    /// and fields are ordered by type.
    pub fn normalized(&self) -> Match {
        let mut fields: Vec<OxmField> = self
            .fields
            .iter()
            .filter_map(|f| {
                let (value, mask) = f.raw();
                match mask {
                    Some(0) => None,
                    Some(m) if m == f.kind().ones() => {
                        OxmField::from_raw(f.kind(), value, None).ok()
                    }
                    _ => Some(*f),
                }
            })
            .collect();
        fields.sort_by_key(|f| f.kind());
        Match { fields }
    }

    /// Length on the wire, padding included.
    pub fn wire_len(&self) -> usize {
        self.unpadded_len().next_multiple_of(8)
    }

    /// `ofp_match.length`: header plus TLVs, without padding.
    fn unpadded_len(&self) -> usize {
        4 + self.fields.iter().map(OxmField::wire_len).sum::<usize>()
    }

    /// Decode an `ofp_match` (with its padding) from `r`.
    pub fn decode(r: &mut Reader<'_>) -> WireResult<Match> {
        if r.remaining() < 4 {
            return Err(bad_len(format!(
                "ofp_match header needs 4 bytes, have {}",
                r.remaining()
            )));
        }
        let ty = r.u16("match type")?;
        let len = usize::from(r.u16("match length")?);
        match ty {
            OFPMT_OXM => {}
            OFPMT_STANDARD => {
                return Err(WireError::new(
                    BadMatch::BAD_TYPE,
                    "OFPMT_STANDARD matches are not supported in OpenFlow 1.3",
                ))
            }
            t => {
                return Err(WireError::new(
                    BadMatch::BAD_TYPE,
                    format!("unknown match type {t}"),
                ))
            }
        }
        if len < 4 {
            return Err(bad_len(format!("ofp_match length {len} < 4")));
        }
        let padded = len.next_multiple_of(8);
        if r.remaining() < padded - 4 {
            return Err(bad_len(format!(
                "ofp_match length {len} (padded {padded}) exceeds the {} bytes left",
                r.remaining() + 4
            )));
        }
        let mut body = Reader::new(r.bytes(len - 4, "match fields")?, BadMatch::BAD_LEN);
        r.skip(padded - len, "match padding")?;

        let mut fields = Vec::new();
        let mut seen = 0u128;
        while !body.is_empty() {
            let f = OxmField::decode(&mut body)?;
            seen = note_kind(seen, f.kind())?;
            fields.push(f);
        }
        Ok(Match { fields })
    }

    /// Append the `ofp_match` with padding to a multiple of 8.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(OFPMT_OXM);
        // A match holds at most 40 distinct fields of at most 36 bytes.
        out.put_u16(u16::try_from(self.unpadded_len()).unwrap_or(u16::MAX));
        for f in &self.fields {
            f.encode(out);
        }
        out.pad_to_8(start);
    }
}

impl<'a> IntoIterator for &'a Match {
    type Item = &'a OxmField;
    type IntoIter = std::slice::Iter<'a, OxmField>;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

impl FromIterator<OxmField> for Match {
    /// Collect fields; a later field replaces an earlier one of its kind.
    fn from_iter<I: IntoIterator<Item = OxmField>>(iter: I) -> Match {
        let mut m = Match::new();
        for f in iter {
            m.insert(f);
        }
        m
    }
}

fn bad_len(detail: String) -> WireError {
    WireError::new(BadMatch::BAD_LEN, detail)
}

/// Record `kind` in the seen-set; `DUP_FIELD` if it is already there.
fn note_kind(seen: u128, kind: OxmKind) -> WireResult<u128> {
    let bit = 1u128 << (kind as u8);
    if seen & bit != 0 {
        return Err(WireError::new(
            BadMatch::DUP_FIELD,
            format!("{} appears twice", kind.name()),
        ));
    }
    Ok(seen | bit)
}

/// The unmasked OXM header of every basic field (field-number order).
pub fn all_basic_ids() -> impl Iterator<Item = u32> {
    OxmKind::all().map(|k| k.header(false).0)
}

/// OXM ids for `OFPTFPT_MATCH`: every field, with the HM bit (and doubled
/// length) on those that may be masked.
pub fn match_ids() -> impl Iterator<Item = u32> {
    OxmKind::all().map(|k| k.header(k.maskable()).0)
}

/// OXM ids for `OFPTFPT_WILDCARDS`: every field may be omitted.
pub fn wildcard_ids() -> impl Iterator<Item = u32> {
    all_basic_ids()
}

/// OXM ids for `OFPTFPT_WRITE_SETFIELD` / `OFPTFPT_APPLY_SETFIELD`.
pub fn set_field_ids() -> impl Iterator<Item = u32> {
    OxmKind::all()
        .filter(|k| k.settable())
        .map(|k| k.header(false).0)
}

#[cfg(test)]
pub(crate) mod tests;
