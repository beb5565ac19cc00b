//! Hand-made frames for bad-input tests: headers built byte by byte (so a
//! test can make them wrong on purpose) and sent raw out of a host's
//! interface.

use crate::host::Host;
use crate::Result;

/// The MAC address of interface `dev` in the test's own namespace.
pub fn link_mac(dev: &str) -> Result<[u8; 6]> {
    let out = crate::run::ip(&["-o", "link", "show", "dev", dev])?;
    let text = crate::host::ether_in(&out).ok_or(crate::Error::Parse {
        what: "ip link",
        output: out.clone(),
    })?;
    Ok(parse_mac(text))
}

/// `aa:bb:cc:dd:ee:ff` as bytes (what `ip` and [`Host::mac`] print).
pub fn parse_mac(text: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (b, h) in mac.iter_mut().zip(text.split(':')) {
        *b = u8::from_str_radix(h, 16).unwrap_or(0);
    }
    mac
}

/// Ethernet + IPv4 (TTL 64, DF, a correct header checksum) around `l4`.
pub fn ipv4(
    dst: [u8; 6],
    src: [u8; 6],
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    proto: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = u16::try_from(20 + l4.len()).unwrap_or(u16::MAX);
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&src_ip);
    ip.extend_from_slice(&dst_ip);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

/// A UDP header (checksum 0: none, as IPv4 allows) and `payload`.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(
        &u16::try_from(8 + payload.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// Send one raw frame out of `iface` inside `host` (an AF_PACKET socket
/// from python3, which the test hosts have).
pub fn send_raw(host: &Host, iface: &str, frame: &[u8]) -> Result<()> {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    host.exec_ok(&[
        "python3",
        "-c",
        "import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); \
         s.bind((sys.argv[1], 0)); s.send(bytes.fromhex(sys.argv[2]))",
        iface,
        &hex,
    ])?;
    Ok(())
}
