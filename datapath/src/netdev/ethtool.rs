//! The link's speed, duplex and medium, as the interface's driver reports
//! them (`SIOCETHTOOL`, `ETHTOOL_GSET`).
//!
//! OpenFlow's PORT_DESC and PORT_STATUS carry a port's speed; a controller
//! that balances or reports by capacity must get the interface's real
//! figure, not a constant. The one idea: one ioctl, read live on every
//! description (a NIC renegotiates), on a socket of the port's own
//! namespace, and "unknown" (no driver support, or the driver's
//! `SPEED_UNKNOWN`) is `None`, never a guess.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

/// What the driver says about the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkSpeed {
    /// Megabits per second.
    pub mbps: u32,
    pub full_duplex: bool,
    pub medium: Medium,
}

/// The physical medium (`ethtool_cmd.port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Medium {
    Copper,
    Fiber,
    Other,
}

/// `ETHTOOL_GSET`: get settings into a `struct ethtool_cmd`.
const ETHTOOL_GSET: u32 = 0x1;
/// `ethtool_cmd.port` values.
const PORT_TP: u8 = 0x00;
const PORT_FIBRE: u8 = 0x03;
const PORT_DA: u8 = 0x05;
/// `ethtool_cmd.duplex`.
const DUPLEX_FULL: u8 = 0x01;

/// `struct ethtool_cmd` (linux/ethtool.h), 44 bytes.
#[repr(C)]
#[derive(Default)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

/// Interpret what `ETHTOOL_GSET` returned.
fn decode(c: &EthtoolCmd) -> Option<LinkSpeed> {
    let mbps = u32::from(c.speed) | (u32::from(c.speed_hi) << 16);
    // SPEED_UNKNOWN is -1 (all ones), 0 means no link.
    if mbps == 0 || mbps == u32::MAX || mbps == u32::from(u16::MAX) {
        return None;
    }
    Some(LinkSpeed {
        mbps,
        full_duplex: c.duplex == DUPLEX_FULL,
        medium: match c.port {
            PORT_TP => Medium::Copper,
            PORT_FIBRE | PORT_DA => Medium::Fiber,
            _ => Medium::Other,
        },
    })
}

/// The link settings of interface `name`, asked on socket `fd` (any
/// socket of the interface's namespace); `None` when the driver does not
/// say.
pub fn link_speed(fd: BorrowedFd<'_>, name: &str) -> Option<LinkSpeed> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return None;
    }
    let mut cmd = EthtoolCmd {
        cmd: ETHTOOL_GSET,
        ..Default::default()
    };
    // SAFETY: `ifreq` is plain data (integers, byte arrays, a pointer in a
    // union) for which all-zero bytes are valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, &s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut cmd as *mut EthtoolCmd).cast();
    // SAFETY: SIOCETHTOOL with ETHTOOL_GSET reads the command word and
    // writes one `struct ethtool_cmd` through `ifru_data`, which points at
    // `cmd`: a live, exclusively borrowed value of exactly that layout
    // (repr(C), 44 bytes) that outlives the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL as _, &mut ifr) };
    if rc < 0 {
        return None;
    }
    decode(&cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_has_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<EthtoolCmd>(), 44);
    }

    #[test]
    fn speeds_duplex_and_medium_decode() {
        let c = |speed: u32, duplex, port| EthtoolCmd {
            speed: speed as u16,
            speed_hi: (speed >> 16) as u16,
            duplex,
            port,
            ..Default::default()
        };
        let got = decode(&c(100_000, 1, PORT_FIBRE)).unwrap();
        assert_eq!(
            got,
            LinkSpeed {
                mbps: 100_000,
                full_duplex: true,
                medium: Medium::Fiber
            }
        );
        assert_eq!(decode(&c(10, 0, PORT_TP)).unwrap().medium, Medium::Copper);
        assert!(!decode(&c(10, 0, PORT_TP)).unwrap().full_duplex);
        assert_eq!(decode(&c(u32::MAX, 1, 0)), None, "SPEED_UNKNOWN");
        assert_eq!(decode(&c(0, 1, 0)), None, "no link");
    }

    #[test]
    fn loopback_answers_or_says_nothing_and_bad_names_say_nothing() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsFd;
        // lo has no speed: the driver does not support GSET, or says
        // unknown; either way no figure is invented.
        assert_eq!(link_speed(s.as_fd(), "lo"), None);
        assert_eq!(link_speed(s.as_fd(), ""), None);
        assert_eq!(link_speed(s.as_fd(), "no-such-iface0"), None);
    }
}
