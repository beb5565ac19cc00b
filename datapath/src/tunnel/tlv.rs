//! The TLV map: which GENEVE options a bridge knows, as the flow key's
//! `tun_metadata<N>` fields.
//!
//! GENEVE options are `(class, type, length)` TLVs whose meaning only the
//! endpoints agree on; an OpenFlow controller names the ones it cares about
//! with Open vSwitch's TLV map (`ovs-ofctl add-tlv-map br
//! "{class=0x102,type=0x80,len=4}->tun_metadata0"`, NXT_TLV_TABLE_MOD).
//! Here that map is [`TlvMap`]: each entry gets a fixed place in the key's
//! [`tun_md`](crate::flow::FlowKey::tun_md) bytes (the first free bytes
//! when it is added; it never moves while mapped, since installed flows'
//! keys were built against it), and bit N of `tun_md_present` says the
//! packet carried option N.
//!
//! The one idea: the map travels *with the actions that use it*. A
//! `TunnelPop` action carries the map its translation saw, and the push
//! header's options were encoded from it; a new map is a new pipeline
//! version, so the revalidator retranslates every megaflow and none mixes
//! two maps. The datapath has no shared, mutable TLV state to lock.
//!
//! Receiving ([`TlvMap::decode`]): an option whose class and type an entry
//! names is copied into the key; a named option of another length drops
//! the packet (it cannot be what the map says it is; Open vSwitch drops
//! it too); any other option is ignored, unless its type has the critical
//! bit, and then the packet is dropped (RFC 8926 section 3.5: an endpoint
//! must not process a packet with a critical option it does not
//! understand).
//! Sending ([`TlvMap::encode`]): the present options, in index order.
//!
//! The key has [`TUN_MD_BYTES`] bytes for option values, so a map whose
//! options add up to more is refused when built (Open vSwitch allows 256
//! bytes; the flow key the exact-match cache compares per packet is what
//! pays for every byte here, and deployed uses, such as OVN's one 4-byte
//! option, need few).

use super::TunnelDrop;
use crate::flow::key::TUN_MD_BYTES;
use crate::wire::geneve::{GeneveOption, Options, OPTION_TYPE_CRITICAL};

/// Number of `tun_metadata` fields (`tun_metadata0`..`tun_metadata63`).
pub const TUN_MD_FIELDS: u8 = 64;
/// Largest option data a GENEVE option can carry (31 words).
pub const MAX_OPTION_LEN: u8 = 124;

/// One entry: option `(class, opt_type, len)` is `tun_metadata<index>`,
/// stored at `tun_md[offset..offset + len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlvEntry {
    pub class: u16,
    /// The type, critical bit included (it is part of the option's name).
    pub opt_type: u8,
    /// Option data length in bytes (a multiple of 4).
    pub len: u8,
    pub index: u8,
    pub offset: u8,
}

/// Why a map cannot be built (the TLV table-mod errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("option length {0} is not a multiple of 4 up to 124")]
    BadLength(u8),
    #[error("tun_metadata{0} does not exist (0..63)")]
    BadIndex(u16),
    #[error("tun_metadata{0} is already mapped")]
    AlreadyMapped(u8),
    #[error("option class {class:#x} type {opt_type:#x} is already mapped")]
    Duplicate { class: u16, opt_type: u8 },
    #[error("the mapped options need more than the key's {TUN_MD_BYTES} bytes of option space")]
    Full,
}

/// A bridge's TLV map. Immutable; a change builds a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlvMap {
    /// Sorted by index.
    entries: Vec<TlvEntry>,
}

impl TlvMap {
    /// Build a map from `(class, type, len, index)` mappings, checking them
    /// as one (duplicates, lengths, total space).
    pub fn new(maps: &[(u16, u8, u8, u16)]) -> Result<TlvMap, TlvError> {
        TlvMap::default().with_added(maps)
    }

    /// This map plus `maps`, all or nothing. Entries already in the map
    /// keep their place in `tun_md` (installed flows were built against
    /// it); new ones take the first free run of bytes that fits.
    pub fn with_added(&self, maps: &[(u16, u8, u8, u16)]) -> Result<TlvMap, TlvError> {
        let mut entries = self.entries.clone();
        for &(class, opt_type, len, index) in maps {
            if len % 4 != 0 || len > MAX_OPTION_LEN {
                return Err(TlvError::BadLength(len));
            }
            let index = u8::try_from(index)
                .ok()
                .filter(|&i| i < TUN_MD_FIELDS)
                .ok_or(TlvError::BadIndex(index))?;
            if entries.iter().any(|e| e.index == index) {
                return Err(TlvError::AlreadyMapped(index));
            }
            if entries
                .iter()
                .any(|e| e.class == class && e.opt_type == opt_type)
            {
                return Err(TlvError::Duplicate { class, opt_type });
            }
            let offset = free_run(&entries, len).ok_or(TlvError::Full)?;
            entries.push(TlvEntry {
                class,
                opt_type,
                len,
                index,
                offset,
            });
        }
        entries.sort_by_key(|e| e.index);
        Ok(TlvMap { entries })
    }

    /// This map without `tun_metadata<index>` (no change if unmapped).
    pub fn without(&self, index: u8) -> TlvMap {
        TlvMap {
            entries: self
                .entries
                .iter()
                .filter(|e| e.index != index)
                .copied()
                .collect(),
        }
    }

    /// Every entry, in index order.
    pub fn entries(&self) -> &[TlvEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `tun_metadata<index>`.
    pub fn entry(&self, index: u8) -> Option<&TlvEntry> {
        self.entries.iter().find(|e| e.index == index)
    }

    /// Map a received packet's options into `present` and `md` (both
    /// start zero); drop the packet for a critical option the map does not
    /// name.
    pub fn decode(
        &self,
        options: Options<'_>,
        present: &mut u64,
        md: &mut [u8; TUN_MD_BYTES],
    ) -> Result<(), TunnelDrop> {
        for o in options {
            let known = self
                .entries
                .iter()
                .find(|e| e.class == o.class && e.opt_type == o.opt_type);
            match known {
                Some(e) if usize::from(e.len) == o.data.len() => {
                    let at = usize::from(e.offset);
                    md[at..at + o.data.len()].copy_from_slice(o.data);
                    *present |= 1 << e.index;
                }
                Some(_) => return Err(TunnelDrop::GeneveOptionLength),
                None if o.opt_type & OPTION_TYPE_CRITICAL != 0 => {
                    return Err(TunnelDrop::GeneveCritical)
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The option chain for the options `present` says a packet has, with
    /// values from `md` (appended to `out`). Bits with no entry are skipped.
    pub fn encode(&self, present: u64, md: &[u8; TUN_MD_BYTES], out: &mut Vec<u8>) {
        for e in self
            .entries
            .iter()
            .filter(|e| present & (1 << e.index) != 0)
        {
            let at = usize::from(e.offset);
            GeneveOption {
                class: e.class,
                opt_type: e.opt_type,
                data: &md[at..at + usize::from(e.len)],
            }
            .emit(out);
        }
    }
}

/// The first offset where `len` bytes of `tun_md` are free of `entries`.
fn free_run(entries: &[TlvEntry], len: u8) -> Option<u8> {
    let len = usize::from(len);
    (0..=TUN_MD_BYTES.checked_sub(len)?)
        .step_by(4)
        .find(|&at| {
            entries.iter().all(|e| {
                let (s, n) = (usize::from(e.offset), usize::from(e.len));
                at + len <= s || s + n <= at
            })
        })
        .map(|at| at as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::geneve;

    fn chain(opts: &[(u16, u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(class, opt_type, data) in opts {
            GeneveOption {
                class,
                opt_type,
                data,
            }
            .emit(&mut out);
        }
        out
    }

    fn decode(map: &TlvMap, raw: &[u8]) -> Result<(u64, [u8; TUN_MD_BYTES]), TunnelDrop> {
        let mut hdr = vec![(raw.len() / 4) as u8, 0, 0x65, 0x58, 0, 0, 1, 0];
        hdr.extend_from_slice(raw);
        let p = geneve::Packet::new_checked(&hdr[..]).unwrap();
        let r = geneve::Repr::parse(&p).unwrap();
        let (mut present, mut md) = (0, [0; TUN_MD_BYTES]);
        map.decode(r.options(), &mut present, &mut md)?;
        Ok((present, md))
    }

    #[test]
    fn entries_take_the_first_free_bytes_in_the_order_given() {
        let m = TlvMap::new(&[(0xffff, 1, 8, 5), (0x0102, 0x80, 4, 0)]).unwrap();
        let e: Vec<_> = m.entries().iter().map(|e| (e.index, e.offset)).collect();
        assert_eq!(e, [(0, 8), (5, 0)], "listed by index, placed in order");
    }

    #[test]
    fn adding_keeps_installed_entries_in_place_and_reuses_freed_space() {
        let m = TlvMap::new(&[(1, 1, 4, 5), (1, 2, 8, 6)]).unwrap();
        let m = m.with_added(&[(1, 3, 4, 0)]).unwrap();
        let at = |m: &TlvMap, i| m.entry(i).map(|e| e.offset);
        assert_eq!(
            (at(&m, 5), at(&m, 6), at(&m, 0)),
            (Some(0), Some(4), Some(12))
        );
        assert_eq!(m.with_added(&[(1, 4, 4, 1)]), Err(TlvError::Full));
        let m = m.without(5).with_added(&[(1, 4, 4, 1)]).unwrap();
        assert_eq!(at(&m, 1), Some(0), "the freed bytes are reused");
        assert_eq!(
            m.without(9),
            m,
            "removing an unmapped index changes nothing"
        );
    }

    #[test]
    fn bad_maps_are_refused_with_the_reason() {
        assert_eq!(TlvMap::new(&[(1, 1, 3, 0)]), Err(TlvError::BadLength(3)));
        assert_eq!(TlvMap::new(&[(1, 1, 4, 64)]), Err(TlvError::BadIndex(64)));
        assert_eq!(
            TlvMap::new(&[(1, 1, 4, 0), (1, 2, 4, 0)]),
            Err(TlvError::AlreadyMapped(0))
        );
        assert!(matches!(
            TlvMap::new(&[(1, 1, 4, 0), (1, 1, 4, 1)]),
            Err(TlvError::Duplicate { .. })
        ));
        assert_eq!(TlvMap::new(&[(1, 1, 20, 0)]), Err(TlvError::Full));
    }

    #[test]
    fn decode_keeps_known_options_and_drops_unknown_critical_ones() {
        let m = TlvMap::new(&[(0x0102, 0x80, 4, 0), (0xffff, 3, 8, 2)]).unwrap();
        let raw = chain(&[
            (0xffff, 3, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (0x0102, 0x80, &[9, 9, 9, 9]),
        ]);
        let (present, md) = decode(&m, &raw).unwrap();
        assert_eq!(present, 0b101);
        assert_eq!(&md[..12], &[9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
        // Unknown, not critical: ignored.
        assert_eq!(decode(&m, &chain(&[(7, 1, &[0; 4])])).unwrap().0, 0);
        // Unknown and critical: dropped; known with the wrong length
        // (critical or not): dropped.
        assert_eq!(
            decode(&m, &chain(&[(7, 0x81, &[0; 4])])),
            Err(TunnelDrop::GeneveCritical)
        );
        for wrong in [
            chain(&[(0x0102, 0x80, &[0; 8])]),
            chain(&[(0xffff, 3, &[0; 4])]),
        ] {
            assert_eq!(decode(&m, &wrong), Err(TunnelDrop::GeneveOptionLength));
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let m = TlvMap::new(&[(0x0102, 0x80, 4, 0), (0xffff, 3, 8, 2)]).unwrap();
        let mut md = [0; TUN_MD_BYTES];
        md[..12].copy_from_slice(&[9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8]);
        let mut raw = Vec::new();
        m.encode(0b100, &md, &mut raw);
        assert_eq!(raw, chain(&[(0xffff, 3, &[1, 2, 3, 4, 5, 6, 7, 8])]));
        let (present, got) = decode(&m, &raw).unwrap();
        assert_eq!(present, 0b100);
        assert_eq!(got[4..12], md[4..12]);
    }
}
