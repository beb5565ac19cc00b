//! What the host's stack says about one of its interfaces: its IP
//! addresses, MTU and MAC. Tunnelling asks it about the interface that
//! holds a tunnel endpoint (an underlay bridge's LOCAL port).
#![allow(unsafe_code)]

use super::afpacket::ifreq;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

/// What the stack knows of one interface, in its namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Addresses, IPv4 first, each family in the kernel's order (the
    /// primary address first).
    pub addresses: Vec<IpAddr>,
    /// L3 MTU; 0 when unknown.
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
}

/// Ask the kernel about `name`; `None` when there is no such interface.
pub fn interface_info(name: &str) -> Option<InterfaceInfo> {
    let fd = ifreq::control_socket(name).ok()?;
    let mtu = ifreq::mtu(fd.as_fd(), name).ok()?;
    let mac = ifreq::mac(fd.as_fd(), name).ok();
    Some(InterfaceInfo {
        addresses: addresses(name),
        mtu,
        mac,
    })
}

/// Every IPv4 and IPv6 address on `name`.
pub fn addresses(name: &str) -> Vec<IpAddr> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; its name is a NUL-terminated string and its
        // address, when not null, a sockaddr of the family it says, sized
        // for that family.
        unsafe {
            let ifa = &*cur;
            cur = ifa.ifa_next;
            if ifa.ifa_addr.is_null() || CStr::from_ptr(ifa.ifa_name).to_bytes() != name.as_bytes()
            {
                continue;
            }
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    v4.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr))));
                }
                libc::AF_INET6 => {
                    let sa = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    v6.push(IpAddr::V6(Ipv6Addr::from(sa.sin6_addr.s6_addr)));
                }
                _ => {}
            }
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    v4.extend(v6);
    v4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_its_address_and_an_unknown_interface_has_none() {
        let lo = interface_info("lo").expect("lo exists");
        assert!(lo.addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(lo.mtu > 0);
        assert!(interface_info("swt-no-such0").is_none());
        assert!(addresses("swt-no-such0").is_empty());
    }
}
