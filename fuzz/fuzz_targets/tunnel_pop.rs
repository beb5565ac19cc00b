//! Fuzz target: tunnel decapsulation on arbitrary frames.
//!
//! `tunnel::pop` reads peer bytes (anything sent to a local tunnel
//! endpoint). For every tunnel kind, with and without a partial checksum
//! announced by the receiving port (its start taken from the input), it
//! must never panic; when it accepts a frame, the result is a suffix of the
//! input of at least an Ethernet header, the packet carries tunnel
//! metadata, an offload state it keeps points inside the inner frame, and
//! `parse_with` (the pure half) agrees with it. A rejected frame is left
//! unchanged. GENEVE options go through an empty TLV map and one that
//! names a critical and a plain option; only mapped fields are ever
//! present.
#![no_main]

use datapath::packet::{CsumPartial, Packet};
use datapath::tunnel::{parse_with, pop, TlvMap, TunnelKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&start, frame)) = input.split_first() else {
        return;
    };
    let maps = [
        TlvMap::default(),
        TlvMap::new(&[(0x0102, 0x80, 4, 0), (0xffff, 1, 8, 5)]).expect("map"),
    ];
    for (kind, tlv) in [TunnelKind::Vxlan, TunnelKind::Geneve, TunnelKind::Gre]
        .into_iter()
        .flat_map(|k| maps.iter().map(move |m| (k, m)))
    {
        for partial in [None, Some(u16::from(start) * 2)] {
            let mut p = Packet::from_bytes(frame);
            p.offload.csum_partial = partial.map(|start| CsumPartial { start, offset: 6 });
            let parsed = parse_with(frame, kind, partial.is_some(), tlv);
            match pop(&mut p, kind, tlv) {
                Ok(()) => {
                    let d = parsed.expect("pop accepted what parse rejected");
                    assert_eq!(p.data(), &frame[d.inner.clone()]);
                    assert!(p.data().len() >= 14);
                    assert!(p.tunnel.is_present());
                    let mapped = tlv.entries().iter().fold(0u64, |m, e| m | 1 << e.index);
                    assert_eq!(p.tunnel.md_present & !mapped, 0);
                    if let Some(c) = p.offload.csum_partial {
                        assert_eq!(usize::from(c.start) + d.inner.start, usize::from(partial.unwrap()));
                    }
                }
                Err(reason) => {
                    assert_eq!(parsed.err(), Some(reason));
                    assert_eq!(p.data(), frame);
                }
            }
        }
    }
});
