//! ICMPv6 neighbour discovery (RFC 4861): the neighbour solicitation and
//! advertisement body (target address) and the source / target link-layer
//! address options.
//!
//! The one idea: options are a chain of `(type, length in 8-byte units)`
//! records, and the chain is valid as a whole or not at all. A zero or
//! overlong length, or a second link-layer address option of the same
//! kind, makes [`link_layer_options`] return `None`, and the datapath then
//! treats the message as having no target or addresses (as Open vSwitch
//! does); bytes at the end too short for an option are ignored.

use super::icmp::v6_type;

pub mod field {
    use super::super::{Field, Rest};
    /// Router / solicited / override flags (NA) or reserved (NS).
    pub const FLAGS: Field = 4..8;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: Rest = 24..;
}

/// Type, code, checksum, flags, target.
pub const HEADER_LEN: usize = field::OPTIONS.start;

/// Option types.
pub const OPT_SOURCE_LL_ADDR: u8 = 1;
pub const OPT_TARGET_LL_ADDR: u8 = 2;
/// Option field ranges, from the option's start.
pub mod opt_field {
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    /// An Ethernet link-layer address (in a one-unit option).
    pub const LL_ADDR: super::super::Field = 2..8;
}
/// Options come in units of this many bytes.
pub const OPT_UNIT: usize = 8;

/// Is an ICMPv6 `(type, code)` a neighbour solicitation or advertisement,
/// the messages that carry a target?
#[inline(always)]
pub fn is_ns_na(msg_type: u8, code: u8) -> bool {
    code == 0 && (msg_type == v6_type::NEIGHBOR_SOLICIT || msg_type == v6_type::NEIGHBOR_ADVERT)
}

/// Where the link-layer address options of an NS/NA message are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkLayerOptions {
    /// Offset (from the message start) of the source link-layer option.
    pub sll: Option<usize>,
    /// Offset of the target link-layer option.
    pub tll: Option<usize>,
}

/// Walk the options of the NS/NA message `msg` (from its ICMPv6 type byte
/// to the end of the IPv6 payload). `None` when `msg` is shorter than
/// [`HEADER_LEN`] or the option chain is invalid (see the module essay).
/// Only one-unit (Ethernet-sized) link-layer options are recorded. Each
/// step moves at least 8 bytes, so the walk is bounded by the message.
#[inline]
pub fn link_layer_options(msg: &[u8]) -> Option<LinkLayerOptions> {
    if msg.len() < HEADER_LEN {
        return None;
    }
    let mut found = LinkLayerOptions::default();
    let mut p = HEADER_LEN;
    while let Some(opt) = super::header::<OPT_UNIT>(msg, p) {
        let len = usize::from(opt[opt_field::LENGTH]) * OPT_UNIT;
        if len == 0 || msg.len() < p + len {
            return None;
        }
        let slot = match opt[opt_field::TYPE] {
            OPT_SOURCE_LL_ADDR if len == OPT_UNIT => Some(&mut found.sll),
            OPT_TARGET_LL_ADDR if len == OPT_UNIT => Some(&mut found.tll),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.replace(p).is_some() {
                return None;
            }
        }
        p += len;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(opts: &[u8]) -> Vec<u8> {
        let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xfe; 16]);
        m.extend_from_slice(opts);
        m
    }

    #[test]
    fn options() {
        let m = ns(&[1, 1, 2, 0, 0, 0, 0, 1, 2, 1, 2, 0, 0, 0, 0, 2, 9]);
        let o = link_layer_options(&m).unwrap();
        assert_eq!((o.sll, o.tll), (Some(24), Some(32)));
        assert_eq!(
            &m[24 + opt_field::LL_ADDR.start..24 + opt_field::LL_ADDR.end],
            &[2, 0, 0, 0, 0, 1]
        );
        assert_eq!(
            link_layer_options(&ns(&[1, 0, 0, 0, 0, 0, 0, 0])),
            None,
            "zero length"
        );
        assert_eq!(
            link_layer_options(&ns(&[1, 2, 0, 0, 0, 0, 0, 0])),
            None,
            "overlong"
        );
        let twice = [1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 2];
        assert_eq!(link_layer_options(&ns(&twice)), None, "repeated");
        assert_eq!(link_layer_options(&m[..23]), None);
        assert!(is_ns_na(136, 0) && !is_ns_na(136, 1) && !is_ns_na(128, 0));
    }
}
