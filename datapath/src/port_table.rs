//! The port table: every port of the datapath by number, published as an
//! immutable snapshot that workers read without locks.

use crate::netdev::Port;
use crate::PortNo;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// One port in the table.
#[derive(Debug, Clone)]
pub struct PortEntry {
    pub port_no: PortNo,
    pub port: Arc<dyn Port>,
    /// Measured load per receive queue.
    pub rxq_busy_ns: Vec<Arc<AtomicU64>>,
}

/// The ports, indexed by number (an immutable snapshot).
#[derive(Debug, Default)]
pub struct PortTable {
    pub(crate) slots: Vec<Option<PortEntry>>,
}

impl PortTable {
    #[inline]
    pub fn get(&self, no: PortNo) -> Option<&PortEntry> {
        self.slots.get(no as usize).and_then(|s| s.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = &PortEntry> {
        self.slots.iter().flatten()
    }

    pub fn by_name(&self, name: &str) -> Option<&PortEntry> {
        self.iter().find(|e| e.port.name() == name)
    }
}
