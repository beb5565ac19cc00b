//! Fuzz target: tunnel decapsulation on arbitrary frames.
//!
//! `tunnel::pop` reads peer bytes (anything sent to a local tunnel
//! endpoint). For every tunnel kind it must never panic; when it accepts a
//! frame, the result is a suffix of the input of at least an Ethernet
//! header, the packet carries tunnel metadata, and `parse` (the pure half)
//! agrees with it. A rejected frame is left unchanged.
#![no_main]

use datapath::packet::Packet;
use datapath::tunnel::{parse, pop, TunnelKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    for kind in [TunnelKind::Vxlan, TunnelKind::Geneve, TunnelKind::Gre] {
        let mut p = Packet::from_bytes(frame);
        let parsed = parse(frame, kind);
        match pop(&mut p, kind) {
            Ok(()) => {
                let d = parsed.expect("pop accepted what parse rejected");
                assert_eq!(p.data(), &frame[d.inner.clone()]);
                assert!(p.data().len() >= 14);
                assert!(p.tunnel.is_present());
            }
            Err(reason) => {
                assert_eq!(parsed.err(), Some(reason));
                assert_eq!(p.data(), frame);
            }
        }
    }
});
