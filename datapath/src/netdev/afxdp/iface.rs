//! Interface facts the port reports, read with the classic `SIOCGIF*`
//! ioctls on a datagram socket: MTU, MAC address, running state.
//!
//! The one idea: these are read live on every call (the operator can change
//! the MTU or pull the cable while the port exists), through one control
//! socket the port keeps open, so a call is one ioctl and no allocation.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A control socket for `SIOCGIF*` queries about one interface.
#[derive(Debug)]
pub struct Iface {
    ctl: OwnedFd,
    name: [libc::c_char; libc::IFNAMSIZ],
}

impl Iface {
    pub fn new(name: &str) -> io::Result<Self> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut cname = [0 as libc::c_char; libc::IFNAMSIZ];
        for (d, s) in cname.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        Ok(Iface {
            // SAFETY: `fd` is a new socket nothing else owns.
            ctl: unsafe { OwnedFd::from_raw_fd(fd) },
            name: cname,
        })
    }

    /// The control socket (for queries another module issues).
    pub fn control(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.ctl.as_fd()
    }

    fn ioctl(&self, req: libc::c_ulong) -> io::Result<libc::ifreq> {
        // SAFETY: ifreq is plain data for which all-zero bytes are valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        ifr.ifr_name = self.name;
        // SAFETY: `ifr` is a live ifreq with a NUL-terminated name; the
        // SIOCGIF* requests used here only write inside it.
        let rc = unsafe { libc::ioctl(self.ctl.as_raw_fd(), req as _, &mut ifr) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ifr)
        }
    }

    pub fn mtu(&self) -> io::Result<u32> {
        let ifr = self.ioctl(libc::SIOCGIFMTU)?;
        // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member.
        let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
        Ok(mtu.max(0) as u32)
    }

    pub fn mac(&self) -> io::Result<[u8; 6]> {
        let ifr = self.ioctl(libc::SIOCGIFHWADDR)?;
        // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member.
        let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *d = *s as u8;
        }
        Ok(mac)
    }

    /// IFF_RUNNING: administratively up and carrier present.
    pub fn running(&self) -> io::Result<bool> {
        let ifr = self.ioctl(libc::SIOCGIFFLAGS)?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        Ok(i32::from(flags) & libc::IFF_RUNNING != 0)
    }
}

/// The interface index of `name`, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: `cname` is a live NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    (idx != 0).then_some(idx)
}
