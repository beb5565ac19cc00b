//! Flow key extraction (being written).
use super::FlowKey;
use crate::packet::Packet;

/// Parse `packet` into `key`.
pub fn extract(packet: &Packet, key: &mut FlowKey) {
    *key = FlowKey::default();
    key.in_port = packet.in_port;
}
