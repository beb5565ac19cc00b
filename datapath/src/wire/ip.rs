//! What IPv4 and IPv6 share: protocol numbers (IANA "Protocol Numbers",
//! used by the IPv4 protocol field and the IPv6 next-header chain).
//!
//! The one idea: in IPv6 the same number space names both extension
//! headers and upper-layer protocols, so "the protocol" of a packet is the
//! first number in the chain that is not an extension header walked.

/// Protocol numbers the datapath knows by name.
pub mod protocol {
    pub const HOPOPTS: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NONE: u8 = 59;
    pub const DSTOPTS: u8 = 60;
    pub const SCTP: u8 = 132;
}

/// An IP protocol number, keeping values it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    HopByHop,
    Icmp,
    Tcp,
    Udp,
    Routing,
    Fragment,
    Gre,
    Esp,
    Ah,
    Icmpv6,
    NoNextHeader,
    DestOptions,
    Sctp,
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(v: u8) -> Self {
        use protocol::*;
        match v {
            HOPOPTS => Self::HopByHop,
            ICMP => Self::Icmp,
            TCP => Self::Tcp,
            UDP => Self::Udp,
            ROUTING => Self::Routing,
            FRAGMENT => Self::Fragment,
            GRE => Self::Gre,
            ESP => Self::Esp,
            AH => Self::Ah,
            ICMPV6 => Self::Icmpv6,
            NONE => Self::NoNextHeader,
            DSTOPTS => Self::DestOptions,
            SCTP => Self::Sctp,
            other => Self::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(v: Protocol) -> u8 {
        use protocol::*;
        match v {
            Protocol::HopByHop => HOPOPTS,
            Protocol::Icmp => ICMP,
            Protocol::Tcp => TCP,
            Protocol::Udp => UDP,
            Protocol::Routing => ROUTING,
            Protocol::Fragment => FRAGMENT,
            Protocol::Gre => GRE,
            Protocol::Esp => ESP,
            Protocol::Ah => AH,
            Protocol::Icmpv6 => ICMPV6,
            Protocol::NoNextHeader => NONE,
            Protocol::DestOptions => DSTOPTS,
            Protocol::Sctp => SCTP,
            Protocol::Unknown(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_number() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Protocol::from(v)), v);
        }
        assert_eq!(Protocol::from(6), Protocol::Tcp);
    }
}
