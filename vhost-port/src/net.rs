//! The virtio-net device model: feature bits, the header and the config
//! space, independent of how the guest is reached.
//!
//! The one idea: what the guest acked decides the shape of every packet.
//! [`NetFeatures`] is computed once from the acked feature word and then
//! tells the ring code how long the per-packet header is (12 bytes with
//! `VERSION_1` or `MRG_RXBUF`, else the legacy 10), whether a received
//! packet may span several guest buffers, and whether the guest takes
//! partial checksums. Nothing here touches guest memory.

/// `VIRTIO_NET_F_CSUM`: the guest may send packets with partial checksums.
pub const VIRTIO_NET_F_CSUM: u32 = 0;
/// `VIRTIO_NET_F_GUEST_CSUM`: the guest takes packets with partial checksums.
pub const VIRTIO_NET_F_GUEST_CSUM: u32 = 1;
/// `VIRTIO_NET_F_MTU`: the config space carries the MTU.
pub const VIRTIO_NET_F_MTU: u32 = 3;
/// `VIRTIO_NET_F_MAC`: the config space carries the MAC address.
pub const VIRTIO_NET_F_MAC: u32 = 5;
/// `VIRTIO_NET_F_MRG_RXBUF`: received packets may span several buffers.
pub const VIRTIO_NET_F_MRG_RXBUF: u32 = 15;
/// `VIRTIO_NET_F_STATUS`: the config space carries the link status.
pub const VIRTIO_NET_F_STATUS: u32 = 16;
/// `VIRTIO_NET_F_CTRL_VQ`: a control queue follows the queue pairs.
pub const VIRTIO_NET_F_CTRL_VQ: u32 = 17;
/// `VIRTIO_NET_F_MQ`: several queue pairs (`max_virtqueue_pairs`).
pub const VIRTIO_NET_F_MQ: u32 = 22;
/// `VIRTIO_RING_F_INDIRECT_DESC`: descriptors may point at descriptor tables.
pub const VIRTIO_RING_F_INDIRECT_DESC: u32 = 28;
/// `VIRTIO_RING_F_EVENT_IDX`: notifications are suppressed by ring indexes.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;
/// `VHOST_USER_F_PROTOCOL_FEATURES` (a vhost-user bit in the feature word).
pub const VHOST_USER_F_PROTOCOL_FEATURES: u32 = 30;
/// `VIRTIO_F_VERSION_1`: a modern (little-endian, 12-byte header) device.
pub const VIRTIO_F_VERSION_1: u32 = 32;

/// `VIRTIO_NET_S_LINK_UP` in the config space's status field.
pub const VIRTIO_NET_S_LINK_UP: u16 = 1;

/// Header length with `num_buffers` (modern devices, `MRG_RXBUF`).
pub const HDR_LEN_MRG: usize = datapath::netdev::afpacket::vnet::VNET_HDR_LEN + 2;

/// The virtio feature bits this device offers.
pub fn offered_features() -> u64 {
    [
        VIRTIO_NET_F_CSUM,
        VIRTIO_NET_F_GUEST_CSUM,
        VIRTIO_NET_F_MTU,
        VIRTIO_NET_F_MAC,
        VIRTIO_NET_F_MRG_RXBUF,
        VIRTIO_NET_F_STATUS,
        VIRTIO_NET_F_CTRL_VQ,
        VIRTIO_NET_F_MQ,
        VIRTIO_RING_F_INDIRECT_DESC,
        VIRTIO_RING_F_EVENT_IDX,
        VHOST_USER_F_PROTOCOL_FEATURES,
        VIRTIO_F_VERSION_1,
    ]
    .iter()
    .fold(0u64, |acc, bit| acc | (1u64 << bit))
}

/// What the guest acked, in the terms the rings need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetFeatures {
    /// Bytes of virtio-net header in front of every frame.
    pub hdr_len: usize,
    /// A received packet may fill several buffers (`num_buffers` counts them).
    pub mrg_rxbuf: bool,
    /// The guest takes partial checksums on packets it receives.
    pub guest_csum: bool,
    /// The guest may send partial checksums.
    pub csum: bool,
}

impl NetFeatures {
    /// Interpret an acked feature word.
    pub fn from_acked(acked: u64) -> Self {
        let has = |bit: u32| acked & (1u64 << bit) != 0;
        let mrg_rxbuf = has(VIRTIO_NET_F_MRG_RXBUF);
        NetFeatures {
            hdr_len: if mrg_rxbuf || has(VIRTIO_F_VERSION_1) {
                HDR_LEN_MRG
            } else {
                datapath::netdev::afpacket::vnet::VNET_HDR_LEN
            },
            mrg_rxbuf,
            guest_csum: has(VIRTIO_NET_F_GUEST_CSUM),
            csum: has(VIRTIO_NET_F_CSUM),
        }
    }
}

/// `struct virtio_net_config` as far as this device fills it: MAC,
/// status, max_virtqueue_pairs, MTU (little endian, 12 bytes).
pub fn config_space(mac: [u8; 6], link_up: bool, queue_pairs: u16, mtu: u16) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[..6].copy_from_slice(&mac);
    let status = if link_up { VIRTIO_NET_S_LINK_UP } else { 0 };
    c[6..8].copy_from_slice(&status.to_le_bytes());
    c[8..10].copy_from_slice(&queue_pairs.to_le_bytes());
    c[10..12].copy_from_slice(&mtu.to_le_bytes());
    c
}

/// The part of the config space at `offset..offset + size` (clipped; a
/// read past the end gets what exists, as QEMU's devices do).
pub fn config_read(config: &[u8], offset: u32, size: u32) -> Vec<u8> {
    let start = (offset as usize).min(config.len());
    let end = start.saturating_add(size as usize).min(config.len());
    config[start..end].to_vec()
}

/// A locally administered MAC derived from the port name, for ports
/// configured without one.
pub fn mac_from_name(name: &str) -> [u8; 6] {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let b = h.to_be_bytes();
    [0x02, b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_follows_features() {
        assert_eq!(NetFeatures::from_acked(0).hdr_len, 10);
        let modern = NetFeatures::from_acked(1 << VIRTIO_F_VERSION_1);
        assert_eq!((modern.hdr_len, modern.mrg_rxbuf), (12, false));
        let mrg = NetFeatures::from_acked(1 << VIRTIO_NET_F_MRG_RXBUF);
        assert_eq!((mrg.hdr_len, mrg.mrg_rxbuf), (12, true));
    }

    #[test]
    fn config_space_layout() {
        let c = config_space([2, 0, 0, 0, 0, 1], true, 1, 1500);
        assert_eq!(c, [2, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0xdc, 0x05]);
        assert_eq!(config_read(&c, 6, 2), vec![1, 0]);
        assert_eq!(config_read(&c, 10, 100), vec![0xdc, 0x05]);
        assert!(config_read(&c, 100, 4).is_empty());
    }

    #[test]
    fn derived_mac_is_local_unicast() {
        let m = mac_from_name("vm1");
        assert_eq!(m[0] & 3, 2);
        assert_ne!(m, mac_from_name("vm2"));
    }
}
