//! Action execution (being written).
use crate::actions::Action;
use crate::flow::FlowKey;
use crate::packet::Packet;
use crate::PortNo;

/// What executing actions needs from its surroundings (the worker implements
/// it; tests use a recording sink).
pub trait ExecSink {
    /// Queue `packet` for transmission on `port` (the worker batches per port
    /// and applies offload fix-ups for the port's capabilities at flush).
    fn output(&mut self, port: PortNo, packet: Packet);
    /// A `Userspace` action fired.
    fn userspace(&mut self, packet: &Packet, key: &FlowKey, userdata: u64);
    /// Look the packet up again with `packet.recirc_id` = `recirc_id`.
    fn recirculate(&mut self, packet: Packet, recirc_id: u32);
    /// Police `len` bytes through meter `meter_id`; false = drop.
    fn meter(&mut self, meter_id: u32, len: usize) -> bool;
    /// A packet buffer for a copy (from the worker's pool).
    fn alloc(&mut self) -> Packet;
    /// Give back a buffer that is no longer needed.
    fn free(&mut self, packet: Packet);
}

/// Execute `actions` on `packet`, whose parsed key is `key`.
pub fn execute(actions: &[Action], packet: Packet, key: &FlowKey, sink: &mut dyn ExecSink) {
    let _ = (actions, key);
    sink.free(packet);
}
