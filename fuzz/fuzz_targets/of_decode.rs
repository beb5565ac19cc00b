//! Fuzz target: the OpenFlow 1.3 message decoder on arbitrary bytes.
//!
//! Decoding must never panic, whatever a controller sends. Beyond that,
//! whatever decodes must be stable: re-encoding the message and decoding it
//! again gives the same message, and that encoding is canonical (encoding
//! the second decode gives the same bytes). Each input is tried twice: as
//! is, and with its header length patched to the input's length, so that
//! the fuzzer gets past the length check and into the body decoders. A
//! Nicira TLV table mod's body (which the bridge decodes when it handles
//! the message) must decode without panicking and re-encode to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofproto::wire::message::Message;
use ofproto::wire::nx::tlv::{TlvTableMod, NXT_TLV_TABLE_MOD};
use ofproto::wire::{decode, encode, frame_len, DecodeFailure};

fn check(bytes: &[u8]) {
    match decode(bytes) {
        Ok((header, msg)) => {
            assert_eq!(frame_len(bytes), Some(bytes.len()));
            let again = encode(header.xid, &msg);
            let (h2, m2) = match decode(&again) {
                Ok(v) => v,
                Err(e) => panic!("{msg:?} encoded to {again:02x?}, which fails: {e}"),
            };
            assert_eq!(h2.xid, header.xid);
            assert_eq!(m2, msg, "unstable round trip via {again:02x?}");
            assert_eq!(encode(h2.xid, &m2), again, "non-canonical encoding");
            if let Message::Experimenter(e) = &msg {
                if e.exp_type == NXT_TLV_TABLE_MOD {
                    if let Ok(tm) = TlvTableMod::decode(&e.data) {
                        let mut out = Vec::new();
                        tm.encode(&mut out);
                        // Padding is not checked on the way in, so compare
                        // what the mod says, not the bytes.
                        assert_eq!(TlvTableMod::decode(&out).ok(), Some(tm));
                    }
                }
            }
        }
        Err(DecodeFailure::Incomplete { have }) => {
            assert!(have < 8);
            assert_eq!(frame_len(bytes), None);
        }
        Err(f @ DecodeFailure::Rejected { .. }) => {
            // Every rejection can be answered, with at most 64 bytes of data.
            let (xid, reply) = f.error_reply().expect("rejections have replies");
            assert_eq!(Some(xid), f.xid());
            let out = encode(xid, &reply);
            assert!(out.len() <= 8 + 4 + 64);
            assert!(decode(&out).is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 8 && data.len() <= usize::from(u16::MAX) {
        let mut patched = data.to_vec();
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes();
        patched[2..4].copy_from_slice(&len);
        check(&patched);
    }
});
