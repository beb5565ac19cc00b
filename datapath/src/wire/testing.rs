//! Test-only: the datapath's shared test-frame builders and an independent
//! checksum verifier.
//!
//! Every test that needs a frame (execution, offload, the regression tests
//! of the header walk) builds it here: Ethernet with tags, IPv4, IPv6 (with
//! extension header chains), TCP, UDP, SCTP, ND, ARP, with every checksum
//! filled in. The one idea: this module is written separately from
//! [`super::checksum`] and [`super::walk`] (a plain 16-bit word loop, a
//! bitwise CRC, a minimal parser of its own), so a bug in the code under
//! test is not mirrored here.

/// RFC 1071 sum of 16-bit words, the simple way.
pub(crate) fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut i = 0;
    while i + 1 < data.len() {
        acc += u32::from(data[i]) << 8 | u32::from(data[i + 1]);
        i += 2;
    }
    if i < data.len() {
        acc += u32::from(data[i]) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Checksum field value for the bytes (complement of the sum).
pub(crate) fn inet_csum(acc: u32, data: &[u8]) -> u16 {
    !(ones_sum(acc, data) as u16)
}

/// Bitwise CRC32c.
pub(crate) fn crc32c_slow(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Pseudo-header sum for the L4 bytes of the IP packet at `l3`.
pub(crate) fn pseudo(frame: &[u8], l3: usize, proto: u8, l4_len: usize) -> u32 {
    if frame[l3] >> 4 == 4 {
        let acc = ones_sum(0, &frame[l3 + 12..l3 + 20]);
        acc + u32::from(proto) + l4_len as u32
    } else {
        let acc = ones_sum(0, &frame[l3 + 8..l3 + 40]);
        acc + (l4_len as u32 >> 16) + (l4_len as u32 & 0xffff) + u32::from(proto)
    }
}

/// Offset of the L3 header after Ethernet and any 802.1Q/802.1ad tags, and
/// the EtherType.
pub(crate) fn l3_of(frame: &[u8]) -> (usize, u16) {
    let mut off = 12;
    loop {
        let t = u16::from_be_bytes([frame[off], frame[off + 1]]);
        if t == 0x8100 || t == 0x88a8 {
            off += 4;
        } else {
            return (off + 2, t);
        }
    }
}

/// Skip IPv6 hop-by-hop, routing and destination options headers (the
/// kinds [`ipv6_ext`] builds): the upper-layer offset and protocol.
fn skip_ipv6_options(frame: &[u8], mut off: usize, mut nh: u8) -> (usize, u8) {
    while matches!(nh, 0 | 43 | 60) {
        nh = frame[off];
        off += (usize::from(frame[off + 1]) + 1) * 8;
    }
    (off, nh)
}

/// Verify every checksum the frame carries (IPv4 header; TCP, UDP unless
/// zero over IPv4, ICMP, ICMPv6, SCTP). IPv6 through option headers.
pub(crate) fn verify(frame: &[u8]) -> Result<(), String> {
    let (l3, ty) = l3_of(frame);
    let (l4, end, proto) = match ty {
        0x0800 => {
            let ihl = usize::from(frame[l3] & 0xf) * 4;
            if ones_sum(0, &frame[l3..l3 + ihl]) != 0xffff {
                return Err("IPv4 header checksum".into());
            }
            let total = usize::from(u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]));
            (l3 + ihl, l3 + total, frame[l3 + 9])
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]));
            let (l4, proto) = skip_ipv6_options(frame, l3 + 40, frame[l3 + 6]);
            (l4, l3 + 40 + plen, proto)
        }
        _ => return Ok(()),
    };
    let seg = &frame[l4..end];
    let ps = pseudo(frame, l3, proto, seg.len());
    let ok = match proto {
        6 => ones_sum(ps, seg) == 0xffff,
        17 => {
            let c = u16::from_be_bytes([seg[6], seg[7]]);
            (c == 0 && ty == 0x0800) || ones_sum(ps, seg) == 0xffff
        }
        1 => ones_sum(0, seg) == 0xffff,
        58 => ones_sum(ps, seg) == 0xffff,
        132 => {
            let mut s = seg.to_vec();
            let stored = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
            s[8..12].fill(0);
            crc32c_slow(&s) == stored
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("L4 checksum of protocol {proto}"))
    }
}

// ---- frame builders ----

pub(crate) const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub(crate) const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
pub(crate) const V6_A: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const V6_B: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Ethernet header with optional tags `(tpid, tci)`.
pub(crate) fn eth(tags: &[(u16, u16)], ty: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ty.to_be_bytes());
    f
}

/// Fill in the L4 checksum of a complete frame (at `l4 + csum_at`).
fn fill_l4(f: &mut [u8], l3: usize, l4: usize, proto: u8) {
    let end = f.len();
    let at = match proto {
        6 => 16,
        17 => 6,
        1 | 58 => 2,
        132 => {
            f[l4 + 8..l4 + 12].fill(0);
            let crc = crc32c_slow(&f[l4..end]);
            f[l4 + 8..l4 + 12].copy_from_slice(&crc.to_le_bytes());
            return;
        }
        _ => return,
    };
    f[l4 + at..l4 + at + 2].fill(0);
    let ps = if proto == 1 {
        0
    } else {
        pseudo(f, l3, proto, end - l4)
    };
    let mut c = inet_csum(ps, &f[l4..end]);
    if c == 0 && proto == 17 {
        c = 0xffff;
    }
    f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 frame (tags optional) with `l4` as its payload, all checksums
/// filled in.
pub(crate) fn ipv4(tags: &[(u16, u16)], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = eth(tags, 0x0800);
    let l3 = f.len();
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0x10]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 192, 168, 7, 200]);
    let c = inet_csum(0, &f[l3..l3 + 20]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(l4);
    fill_l4(&mut f, l3, l3 + 20, proto);
    f
}

/// An IPv6 frame with `l4` as its payload, checksums filled in.
pub(crate) fn ipv6(tags: &[(u16, u16)], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = eth(tags, 0x86dd);
    let l3 = f.len();
    f.extend_from_slice(&[0x6b, 0xa1, 0x23, 0x45]);
    f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    f.extend_from_slice(&[proto, 64]);
    f.extend_from_slice(&V6_A);
    f.extend_from_slice(&V6_B);
    f.extend_from_slice(l4);
    fill_l4(&mut f, l3, l3 + 40, proto);
    f
}

/// An IPv6 frame whose `l4` payload (protocol `proto`) sits behind a chain
/// of extension headers, each `(kind, length in bytes)` with kind 0, 43
/// or 60 and the length a multiple of 8; checksums filled in.
pub(crate) fn ipv6_ext(chain: &[(u8, usize)], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut ext = Vec::new();
    for (i, &(_, len)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map_or(proto, |&(kind, _)| kind);
        let start = ext.len();
        ext.extend_from_slice(&[next, (len / 8 - 1) as u8]);
        ext.resize(start + len, 0);
        // PadN over the rest, so the options parse.
        ext[start + 2] = 1;
        ext[start + 3] = (len - 4) as u8;
    }
    let first = chain.first().map_or(proto, |&(kind, _)| kind);
    let mut f = eth(&[], 0x86dd);
    let l3 = f.len();
    f.extend_from_slice(&[0x6b, 0xa1, 0x23, 0x45]);
    f.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[first, 64]);
    f.extend_from_slice(&V6_A);
    f.extend_from_slice(&V6_B);
    f.extend_from_slice(&ext);
    let at = f.len();
    f.extend_from_slice(l4);
    fill_l4(&mut f, l3, at, proto);
    f
}

/// A TCP header (20 bytes, ACK|PSH) plus payload.
pub(crate) fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    t.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    t.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// A UDP header plus payload (checksum filled by the IP builder).
pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An SCTP common header plus a DATA-like chunk.
pub(crate) fn sctp(sport: u16, dport: u16) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&0xdead_beefu32.to_be_bytes());
    s.extend_from_slice(&[0; 4]);
    s.extend_from_slice(&[0, 3, 0, 8, 1, 2, 3, 4]);
    s
}

/// ICMPv6 neighbour solicitation (135, with an SLL option) or
/// advertisement (136, with a TLL option).
pub(crate) fn nd(ty: u8) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0, 0x60, 0, 0, 0];
    m.extend_from_slice(&V6_B);
    let opt = if ty == 135 { 1 } else { 2 };
    m.extend_from_slice(&[opt, 1]);
    m.extend_from_slice(&MAC_A);
    m
}

/// An Ethernet/IPv4 ARP request.
pub(crate) fn arp() -> Vec<u8> {
    let mut f = eth(&[], 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[10, 0, 0, 1]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[10, 0, 0, 2]);
    f
}
