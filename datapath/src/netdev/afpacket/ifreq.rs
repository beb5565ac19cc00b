//! Interface ioctls: index, MTU, MAC address, flags, up/down.
//!
//! The classic `SIOC[GS]IF*` requests take a `struct ifreq` naming the
//! interface. They are issued on a *socket*, and the socket decides the
//! network namespace the name is looked up in: a port keeps using its own
//! socket (the AF_PACKET socket, or a control socket the tap port opens next
//! to its device), so it keeps talking about the right interface even when
//! the calling thread lives in another namespace.
#![allow(unsafe_code)]

use super::super::PortError;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// An `ifreq` naming `name`, the union zeroed.
pub(crate) fn request(name: &str) -> Result<libc::ifreq, PortError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(PortError::Config(format!(
            "bad interface name {name:?} (1 to {} bytes, no NUL)",
            libc::IFNAMSIZ - 1
        )));
    }
    // SAFETY: `ifreq` is a C struct of integers, byte arrays, a sockaddr and
    // a pointer inside a union; the all-zero pattern is valid for each.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// The name inside an `ifreq` the kernel filled in (TUNSETIFF).
pub(crate) fn name_of(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Issue `req` with `ifr` on `fd`, mapping "no such device" to
/// [`PortError::NoSuchInterface`].
fn ioctl(
    fd: BorrowedFd<'_>,
    req: libc::c_ulong,
    ifr: &mut libc::ifreq,
    op: &'static str,
    name: &str,
) -> Result<(), PortError> {
    // SAFETY: every request used in this module reads and/or writes exactly
    // one `struct ifreq`, and `ifr` is a valid, exclusively borrowed one.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, ifr as *mut libc::ifreq) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENODEV) {
            return Err(PortError::NoSuchInterface(name.to_string()));
        }
        return Err(PortError::Io {
            op,
            port: name.to_string(),
            source: err,
        });
    }
    Ok(())
}

/// A datagram socket to issue interface ioctls on, in the calling thread's
/// network namespace.
pub(crate) fn control_socket(name: &str) -> Result<OwnedFd, PortError> {
    // SAFETY: plain socket(2) call; no pointers.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(PortError::last_os("socket(AF_INET)", name));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The interface index of `name`.
pub(crate) fn ifindex(fd: BorrowedFd<'_>, name: &str) -> Result<i32, PortError> {
    let mut ifr = request(name)?;
    ioctl(fd, libc::SIOCGIFINDEX, &mut ifr, "SIOCGIFINDEX", name)?;
    // SAFETY: SIOCGIFINDEX succeeded, so the kernel wrote `ifru_ifindex`.
    Ok(unsafe { ifr.ifr_ifru.ifru_ifindex })
}

/// The MTU of `name`.
pub(crate) fn mtu(fd: BorrowedFd<'_>, name: &str) -> Result<u32, PortError> {
    let mut ifr = request(name)?;
    ioctl(fd, libc::SIOCGIFMTU, &mut ifr, "SIOCGIFMTU", name)?;
    // SAFETY: SIOCGIFMTU succeeded, so the kernel wrote `ifru_mtu`.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    Ok(u32::try_from(mtu).unwrap_or(0))
}

/// The hardware address of `name` (only meaningful for Ethernet devices).
pub(crate) fn mac(fd: BorrowedFd<'_>, name: &str) -> Result<[u8; 6], PortError> {
    let mut ifr = request(name)?;
    ioctl(fd, libc::SIOCGIFHWADDR, &mut ifr, "SIOCGIFHWADDR", name)?;
    // SAFETY: SIOCGIFHWADDR succeeded, so the kernel wrote `ifru_hwaddr`.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, &src) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *dst = src as u8;
    }
    Ok(mac)
}

/// The interface flags of `name` (`IFF_UP`, `IFF_RUNNING`, ...; only the
/// low 16 bits fit in the ioctl).
pub(crate) fn flags(fd: BorrowedFd<'_>, name: &str) -> Result<u32, PortError> {
    let mut ifr = request(name)?;
    ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr, "SIOCGIFFLAGS", name)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel wrote `ifru_flags`.
    Ok(u32::from(unsafe { ifr.ifr_ifru.ifru_flags } as u16))
}

/// Set the `set` flags and clear the `clear` flags of `name`.
pub(crate) fn update_flags(
    fd: BorrowedFd<'_>,
    name: &str,
    set: u32,
    clear: u32,
) -> Result<(), PortError> {
    let old = flags(fd, name)?;
    let new = (old | set) & !clear;
    if new == old {
        return Ok(());
    }
    let mut ifr = request(name)?;
    ifr.ifr_ifru.ifru_flags = new as u16 as libc::c_short;
    ioctl(fd, libc::SIOCSIFFLAGS, &mut ifr, "SIOCSIFFLAGS", name)
}

/// Bring `name` administratively up.
pub(crate) fn set_up(fd: BorrowedFd<'_>, name: &str) -> Result<(), PortError> {
    update_flags(fd, name, libc::IFF_UP as u32, 0)
}

/// True when `name` is up and its carrier is on (`IFF_UP | IFF_RUNNING`).
pub(crate) fn link_up(fd: BorrowedFd<'_>, name: &str) -> bool {
    let want = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    flags(fd, name).is_ok_and(|f| f & want == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn names_are_checked() {
        assert!(request("").is_err());
        assert!(request("0123456789abcdef").is_err());
        assert!(request("a\0b").is_err());
        let ifr = request("eth0").unwrap();
        assert_eq!(name_of(&ifr), "eth0");
    }

    #[test]
    fn loopback_is_known() {
        let sock = control_socket("lo").unwrap();
        assert!(ifindex(sock.as_fd(), "lo").unwrap() > 0);
        assert!(mtu(sock.as_fd(), "lo").unwrap() > 0);
        assert!(flags(sock.as_fd(), "lo").unwrap() & libc::IFF_LOOPBACK as u32 != 0);
        assert!(matches!(
            ifindex(sock.as_fd(), "h4-nonexistent"),
            Err(PortError::NoSuchInterface(_))
        ));
    }
}
