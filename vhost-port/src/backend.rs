//! The vhost-user side of the device: what the rust-vmm backend framework
//! asks of us.
//!
//! `vhost-user-backend` runs the protocol (memory table, ring addresses,
//! kick and call descriptors, feature negotiation) on its own threads and
//! asks a [`VhostUserBackend`] for the device's answers. [`NetBackend`]
//! gives them: features, the config space, and what to do when the guest
//! kicks.
//!
//! The one idea: the framework's vring thread does no packet work. When a
//! queue becomes enabled it hands us the rings, which we publish to the
//! datapath as the connection's [`Session`](crate::port::Session); when the
//! guest kicks its transmit queue we only poke the port's wake-up eventfd,
//! on which the datapath worker that polls the queue sleeps. Packets move
//! on the datapath's workers, in batches, like every other port's.

use crate::net::{self, config_read, config_space};
use crate::port::{ctrl_queue, GuestMem, Session, Shared};
use std::sync::Arc;
use vhost::vhost_user::message::VhostUserProtocolFeatures;
use vhost_user_backend::{VhostUserBackend, VringRwLock};
use vm_memory::{GuestAddressSpace, GuestMemoryBackend, GuestMemoryRegion};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

/// Ring size offered to the guest (the largest it may choose).
pub const MAX_QUEUE_SIZE: usize = 1024;

/// The device as one vhost-user connection sees it.
#[derive(Clone)]
pub struct NetBackend {
    shared: Arc<Shared>,
    /// The connection's guest memory (the framework replaces its contents
    /// on every memory table change; we only ever load it).
    mem: GuestMem,
    /// The session generation this connection belongs to: a late event
    /// from a finished connection's thread must not publish stale rings.
    generation: u64,
}

impl std::fmt::Debug for NetBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetBackend")
            .field("port", &self.shared.name)
            .field("generation", &self.generation)
            .finish()
    }
}

impl NetBackend {
    pub fn new(shared: Arc<Shared>, mem: GuestMem) -> Self {
        let generation = shared.generation();
        NetBackend {
            shared,
            mem,
            generation,
        }
    }
}

impl VhostUserBackend for NetBackend {
    type Bitmap = ();
    type Vring = VringRwLock;

    fn num_queues(&self) -> usize {
        ctrl_queue(self.shared.pairs) + 1
    }

    fn max_queue_size(&self) -> usize {
        MAX_QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        net::offered_features()
    }

    fn acked_features(&self, features: u64) {
        tracing::debug!(port = %self.shared.name, features = format_args!("{features:#x}"), "guest acked features");
        self.shared.set_acked(features);
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::REPLY_ACK
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::CONFIGURE_MEM_SLOTS
    }

    fn reset_device(&self) {
        tracing::info!(port = %self.shared.name, "guest reset the device");
        self.shared.set_acked(0);
    }

    fn set_event_idx(&self, _enabled: bool) {
        // The framework sets it on the queues; the rings read it there.
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let c = config_space(self.shared.mac, true, self.shared.pairs, self.shared.mtu);
        config_read(&c, offset, size)
    }

    fn update_memory(&self, mem: GuestMem) -> std::io::Result<()> {
        // The same atomic we hold: nothing to remap here, the datapath
        // loads the new table on its next batch.
        let m = mem.memory();
        tracing::info!(
            port = %self.shared.name,
            regions = m.num_regions(),
            bytes = m.iter().map(|r| r.len()).sum::<u64>(),
            "guest memory table updated"
        );
        Ok(())
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        new_event_consumer_and_notifier(EventFlag::NONBLOCK | EventFlag::CLOEXEC).ok()
    }

    fn handle_event(
        &self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[VringRwLock],
        _thread_id: usize,
    ) -> std::io::Result<()> {
        self.shared.publish_session(self.generation, || {
            Session::new(self.mem.clone(), vrings.to_vec())
        });
        let queue = usize::from(device_event);
        if queue == ctrl_queue(self.shared.pairs) {
            if let Some(vring) = vrings.get(queue) {
                self.shared.serve_ctrl(vring, &self.mem);
            }
        } else if queue % 2 == 1 {
            // A transmit queue: wake the worker that polls its pair.
            self.shared.wake(queue / 2);
        }
        Ok(())
    }
}
