//! The virtio-net control queue: commands a driver sends the device.
//!
//! With `VIRTIO_NET_F_CTRL_VQ` the last virtqueue (index `2 * max_pairs`)
//! carries commands: a chain of device-readable buffers holding a class,
//! a command and its data, followed by one device-writable byte where the
//! device acknowledges (`VIRTIO_NET_OK` or `VIRTIO_NET_ERR`). The command
//! that matters to a switch port is `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`: how
//! many queue pairs the driver uses. Everything else this device did not
//! offer (receive filters, MAC tables, announcements) is answered with
//! `VIRTIO_NET_ERR`, as the specification asks.
//!
//! The one idea: QEMU and DPDK's virtio-user keep the control queue to
//! themselves and tell a vhost-user backend the outcome by enabling or
//! disabling vrings (`SET_VRING_ENABLE`), which is what the port obeys
//! when it picks a queue. A frontend that does pass the control queue on
//! reaches this module, and its commands take effect the same way: the
//! port only ever looks at which pairs are in use. A malformed command
//! chain is a [`GuestError`] like any other ring fault.

use crate::ring::{avail_head, pending, publish_used, walk_chain, GuestError, Segment, Shape};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemory};

/// `VIRTIO_NET_CTRL_MQ`: the multiqueue command class.
pub const CTRL_CLASS_MQ: u8 = 4;
/// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`: set the number of queue pairs in use.
pub const CTRL_MQ_VQ_PAIRS_SET: u8 = 0;
/// `VIRTIO_NET_OK`.
pub const CTRL_OK: u8 = 0;
/// `VIRTIO_NET_ERR`.
pub const CTRL_ERR: u8 = 1;

/// Bytes of a command the device looks at (class, command, a u16 argument).
const CMD_PREFIX: usize = 4;

/// One command, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Use this many queue pairs.
    SetPairs(u16),
    /// A command this device does not implement (class, command).
    Unsupported(u8, u8),
    /// A multiqueue command with a pair count outside 1..=max.
    BadPairs(u16),
}

/// Decode the readable part of a command chain (`bytes` may be cut short
/// at [`CMD_PREFIX`]; `len` is its real length).
pub fn decode(bytes: &[u8], len: usize, max_pairs: u16) -> Option<Command> {
    let (&class, &cmd) = (bytes.first()?, bytes.get(1)?);
    if (class, cmd) != (CTRL_CLASS_MQ, CTRL_MQ_VQ_PAIRS_SET) {
        return Some(Command::Unsupported(class, cmd));
    }
    if len != 4 {
        return Some(Command::BadPairs(0));
    }
    let pairs = u16::from_le_bytes([bytes[2], bytes[3]]);
    Some(if (1..=max_pairs).contains(&pairs) {
        Command::SetPairs(pairs)
    } else {
        Command::BadPairs(pairs)
    })
}

/// The control queue, seen from the device.
#[derive(Debug, Default)]
pub struct GuestCtrl {
    segs: Vec<Segment>,
}

impl GuestCtrl {
    /// Answer every command the driver has queued; `apply` is told each
    /// accepted pair count. Returns how many commands were answered.
    pub fn serve<M: GuestMemory>(
        &mut self,
        q: &mut Queue,
        mem: &M,
        max_pairs: u16,
        mut apply: impl FnMut(Command),
    ) -> Result<u32, GuestError> {
        let n = pending(q, mem)?;
        for _ in 0..n {
            let head = avail_head(q, mem, 0)?;
            walk_chain(
                mem,
                GuestAddress(q.desc_table()),
                q.size(),
                head,
                Shape::ReadThenWrite,
                &mut self.segs,
            )?;
            let mut prefix = [0u8; CMD_PREFIX];
            let (mut got, mut len) = (0usize, 0usize);
            let mut ack_at = None;
            for s in &self.segs {
                if s.writable {
                    ack_at = ack_at.or(Some(s.addr));
                    continue;
                }
                let take = (s.len as usize).min(CMD_PREFIX - got);
                mem.read_slice(&mut prefix[got..got + take], s.addr)
                    .map_err(|_| GuestError::OutOfMemory {
                        addr: s.addr.0,
                        len: s.len,
                    })?;
                got += take;
                len += s.len as usize;
            }
            let ack_at = ack_at.ok_or(GuestError::Control("a device-writable ack byte"))?;
            let cmd = decode(&prefix[..got], len, max_pairs)
                .ok_or(GuestError::Control("a class and a command"))?;
            let ack = match cmd {
                Command::SetPairs(_) => CTRL_OK,
                Command::Unsupported(..) | Command::BadPairs(_) => CTRL_ERR,
            };
            apply(cmd);
            mem.write_obj(ack, ack_at)
                .map_err(|_| GuestError::OutOfMemory {
                    addr: ack_at.0,
                    len: 1,
                })?;
            q.set_next_avail(q.next_avail().wrapping_add(1));
            publish_used(q, mem, &[(head, 1)])?;
        }
        Ok(u32::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pair_counts_within_bounds() {
        assert_eq!(decode(&[4, 0, 2, 0], 4, 4), Some(Command::SetPairs(2)));
        assert_eq!(decode(&[4, 0, 5, 0], 4, 4), Some(Command::BadPairs(5)));
        assert_eq!(decode(&[4, 0, 0, 0], 4, 4), Some(Command::BadPairs(0)));
        assert_eq!(decode(&[4, 0, 1], 3, 4), Some(Command::BadPairs(0)));
        assert_eq!(
            decode(&[0, 1, 1, 0], 4, 4),
            Some(Command::Unsupported(0, 1))
        );
        assert_eq!(decode(&[4], 1, 4), None);
    }
}
