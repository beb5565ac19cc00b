//! Datapath settings: worker count, cache sizes, upcall bound, and how
//! receive queues are spread over workers.

/// How receive queues are spread over workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxqAssign {
    /// In port-number order, one worker after the other.
    #[default]
    RoundRobin,
    /// Busiest queue first, each to the least-loaded worker (by measured
    /// processing time since the last assignment).
    Load,
}

/// Datapath settings.
#[derive(Debug, Clone)]
pub struct DpifConfig {
    /// Number of worker threads.
    pub workers: usize,
    /// Exact-match cache slots per worker.
    pub emc_entries: usize,
    /// Insert into the EMC one in N megaflow hits (1 = always, 0 = never).
    pub emc_insert_inv_prob: u32,
    /// Upcalls per second per worker before misses are dropped (counted as
    /// lost upcalls).
    pub upcalls_per_sec: u32,
    /// Most of a worker's time translating misses, in percent: past it,
    /// misses are dropped and counted as lost upcalls, so a flood of new
    /// flows cannot take the worker from established ones.
    pub upcall_cpu_percent: u32,
    pub rxq_assign: RxqAssign,
    /// Highest port number + 1.
    pub max_ports: usize,
}

impl Default for DpifConfig {
    fn default() -> Self {
        DpifConfig {
            workers: 1,
            emc_entries: crate::cache::emc::EMC_ENTRIES,
            emc_insert_inv_prob: 100,
            upcalls_per_sec: 20_000,
            upcall_cpu_percent: 10,
            rxq_assign: RxqAssign::RoundRobin,
            max_ports: 4096,
        }
    }
}
