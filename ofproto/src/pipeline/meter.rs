//! The meter table: OpenFlow meters executed in the datapath.
//!
//! Each band is policed with GCRA (the virtual-scheduling form of a token
//! bucket): one atomic "theoretical arrival time" per band, advanced by
//! compare-and-swap. A packet conforms to a band if it arrives no earlier
//! than the band's TAT minus its burst tolerance. No lock is taken per
//! packet, and the datapath's workers share the meters safely.
//!
//! When a packet exceeds one or more bands, the band with the highest rate
//! among those exceeded applies (spec 5.7.1): a drop band drops the packet;
//! a DSCP-remark band raises the drop precedence of an Assured Forwarding
//! DSCP by the band's `prec_level` (RFC 2597), which the datapath applies.
//!
//! Rates are in kbit/s (OFPMF_KBPS, the default) or packets/s (OFPMF_PKTPS).
//! With OFPMF_BURST the band's burst_size (kbit or packets) is the
//! tolerance; without it a tenth of a second of traffic is.

use crate::wire::error::{MeterModFailed, WireError, WireResult};
use crate::wire::meter::{meter_flags, MeterBand, MeterMod};
use arc_swap::ArcSwap;
use datapath::dpif::{MeterHook, MeterVerdict};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `OFPM_MAX`: the highest meter number.
pub const OFPM_MAX: u32 = 0xffff_0000;
/// Most meters and bands per meter this switch takes.
pub const MAX_METERS: usize = 65_536;
pub const MAX_BANDS: usize = 8;

/// One band's policer and counters.
#[derive(Debug)]
pub struct Band {
    pub config: MeterBand,
    /// Nanoseconds per unit (bit or packet).
    ns_per_unit: f64,
    tolerance_ns: u64,
    tat_ns: AtomicU64,
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

/// One meter.
#[derive(Debug)]
pub struct Meter {
    pub id: u32,
    pub flags: u16,
    pub bands: Vec<Band>,
    pub created: Instant,
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
}

fn band_rate_burst(b: &MeterBand) -> (u32, u32) {
    match b {
        MeterBand::Drop { rate, burst_size }
        | MeterBand::DscpRemark {
            rate, burst_size, ..
        }
        | MeterBand::Experimenter {
            rate, burst_size, ..
        } => (*rate, *burst_size),
    }
}

impl Meter {
    /// Build and validate a meter from a METER_MOD.
    pub fn new(mm: &MeterMod) -> WireResult<Meter> {
        let pktps = mm.flags & meter_flags::PKTPS != 0;
        if mm.flags
            & !(meter_flags::KBPS | meter_flags::PKTPS | meter_flags::BURST | meter_flags::STATS)
            != 0
            || (pktps && mm.flags & meter_flags::KBPS != 0)
        {
            return Err(WireError::new(MeterModFailed::BAD_FLAGS, "bad meter flags"));
        }
        if mm.meter_id == 0 || mm.meter_id > OFPM_MAX {
            return Err(WireError::new(
                MeterModFailed::INVALID_METER,
                "meter id out of range",
            ));
        }
        if mm.bands.len() > MAX_BANDS {
            return Err(WireError::new(
                MeterModFailed::OUT_OF_BANDS,
                "too many bands",
            ));
        }
        let mut bands = Vec::new();
        for b in &mm.bands {
            if let MeterBand::Experimenter { .. } = b {
                return Err(WireError::new(
                    MeterModFailed::BAD_BAND,
                    "experimenter band",
                ));
            }
            let (rate, burst) = band_rate_burst(b);
            if rate == 0 {
                return Err(WireError::new(MeterModFailed::BAD_RATE, "band rate 0"));
            }
            // Units: bits for kbps meters, packets for pktps meters.
            let units_per_sec = if pktps {
                rate as f64
            } else {
                rate as f64 * 1000.0
            };
            let ns_per_unit = 1e9 / units_per_sec;
            let burst_units = if mm.flags & meter_flags::BURST != 0 && burst > 0 {
                if pktps {
                    burst as f64
                } else {
                    burst as f64 * 1000.0
                }
            } else {
                units_per_sec / 10.0
            };
            bands.push(Band {
                config: b.clone(),
                ns_per_unit,
                tolerance_ns: (burst_units * ns_per_unit) as u64,
                tat_ns: AtomicU64::new(0),
                packets: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
            });
        }
        Ok(Meter {
            id: mm.meter_id,
            flags: mm.flags,
            bands,
            created: Instant::now(),
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
        })
    }

    fn pktps(&self) -> bool {
        self.flags & meter_flags::PKTPS != 0
    }

    /// Police one packet of `len` bytes at `now_ns`.
    pub fn admit(&self, len: usize, now_ns: u64) -> MeterVerdict {
        self.packets_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(len as u64, Ordering::Relaxed);
        let units = if self.pktps() { 1.0 } else { len as f64 * 8.0 };
        let mut applied: Option<&Band> = None;
        for band in &self.bands {
            let cost = (units * band.ns_per_unit) as u64;
            let mut tat = band.tat_ns.load(Ordering::Relaxed);
            let exceeded = loop {
                let start = tat.max(now_ns);
                if start.saturating_sub(now_ns) > band.tolerance_ns {
                    break true;
                }
                match band.tat_ns.compare_exchange_weak(
                    tat,
                    start + cost,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break false,
                    Err(t) => tat = t,
                }
            };
            if exceeded
                && applied
                    .is_none_or(|a| band_rate_burst(&band.config).0 > band_rate_burst(&a.config).0)
            {
                applied = Some(band);
            }
        }
        match applied {
            None => MeterVerdict::Pass,
            Some(band) => {
                band.packets.fetch_add(1, Ordering::Relaxed);
                band.bytes.fetch_add(len as u64, Ordering::Relaxed);
                match band.config {
                    MeterBand::DscpRemark { prec_level, .. } => {
                        MeterVerdict::RemarkDscp(prec_level)
                    }
                    _ => MeterVerdict::Drop,
                }
            }
        }
    }
}

/// All meters, readable by the datapath without locks.
#[derive(Debug)]
pub struct MeterTable {
    meters: ArcSwap<HashMap<u32, Arc<Meter>>>,
    epoch: Instant,
}

impl Default for MeterTable {
    fn default() -> Self {
        MeterTable {
            meters: ArcSwap::from_pointee(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

impl MeterTable {
    pub fn get(&self, id: u32) -> Option<Arc<Meter>> {
        self.meters.load().get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Meter>> {
        let mut v: Vec<_> = self.meters.load().values().cloned().collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// Apply a METER_MOD (callers serialise modifications).
    pub fn apply(&self, mm: &MeterMod) -> WireResult<()> {
        let mut next = (*self.map()).clone();
        apply_to(&mut next, mm)?;
        self.publish(next);
        Ok(())
    }

    /// The meters as published now.
    pub fn map(&self) -> Arc<HashMap<u32, Arc<Meter>>> {
        self.meters.load_full()
    }

    /// Publish a new set of meters (a transaction's working copy).
    pub fn publish(&self, meters: HashMap<u32, Arc<Meter>>) {
        self.meters.store(Arc::new(meters));
    }

    /// Put back a set of meters published earlier.
    pub fn restore(&self, meters: Arc<HashMap<u32, Arc<Meter>>>) {
        self.meters.store(meters);
    }
}

/// Apply a METER_MOD to a set of meters. A meter that is not replaced
/// keeps its policer (and so its token bucket).
pub fn apply_to(meters: &mut HashMap<u32, Arc<Meter>>, mm: &MeterMod) -> WireResult<()> {
    use crate::wire::meter::MeterModCommand as C;
    match mm.command {
        C::Add => {
            if meters.contains_key(&mm.meter_id) {
                return Err(WireError::new(MeterModFailed::METER_EXISTS, "meter exists"));
            }
            if meters.len() >= MAX_METERS {
                return Err(WireError::new(
                    MeterModFailed::OUT_OF_METERS,
                    "too many meters",
                ));
            }
            meters.insert(mm.meter_id, Arc::new(Meter::new(mm)?));
        }
        C::Modify => {
            if !meters.contains_key(&mm.meter_id) {
                return Err(WireError::new(
                    MeterModFailed::UNKNOWN_METER,
                    "no such meter",
                ));
            }
            meters.insert(mm.meter_id, Arc::new(Meter::new(mm)?));
        }
        C::Delete => {
            // OFPM_ALL (0xffffffff) deletes every meter.
            if mm.meter_id == 0xffff_ffff {
                meters.clear();
            } else {
                meters.remove(&mm.meter_id);
            }
        }
        C::Unknown(_) => {
            return Err(WireError::new(
                MeterModFailed::BAD_COMMAND,
                "unknown meter command",
            ))
        }
    }
    Ok(())
}

impl MeterHook for MeterTable {
    fn admit(&self, meter_id: u32, len: usize, _now_ms: u64) -> MeterVerdict {
        match self.meters.load().get(&meter_id) {
            Some(m) => m.admit(len, self.epoch.elapsed().as_nanos() as u64),
            // A meter deleted under a cached flow: let the packet through
            // until revalidation removes the flow.
            None => MeterVerdict::Pass,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::meter::MeterModCommand;

    fn mm(flags: u16, rate: u32, burst: u32) -> MeterMod {
        MeterMod {
            command: MeterModCommand::Add,
            flags,
            meter_id: 1,
            bands: vec![MeterBand::Drop {
                rate,
                burst_size: burst,
            }],
        }
    }

    #[test]
    fn pktps_meter_passes_its_rate_and_drops_the_rest() {
        let m = Meter::new(&mm(meter_flags::PKTPS | meter_flags::BURST, 1000, 10)).unwrap();
        // 10,000 packets offered over one second: ~1000 + burst pass.
        let mut passed = 0;
        for i in 0..10_000u64 {
            if m.admit(64, i * 100_000) == MeterVerdict::Pass {
                passed += 1;
            }
        }
        assert!((1000..=1020).contains(&passed), "passed {passed}");
        assert_eq!(m.bands[0].packets.load(Ordering::Relaxed), 10_000 - passed);
    }

    #[test]
    fn kbps_meter_limits_bytes() {
        // 8000 kbit/s = 1 MB/s; offer 1500-byte packets at 2 MB/s for 1 s.
        let m = Meter::new(&mm(meter_flags::KBPS, 8000, 0)).unwrap();
        let mut bytes = 0u64;
        for i in 0..1333u64 {
            if m.admit(1500, i * 750_000) == MeterVerdict::Pass {
                bytes += 1500;
            }
        }
        assert!((950_000..=1_150_000).contains(&bytes), "bytes {bytes}");
    }

    #[test]
    fn dscp_remark_band_remarks_instead_of_dropping() {
        let m = Meter::new(&MeterMod {
            command: MeterModCommand::Add,
            flags: meter_flags::PKTPS | meter_flags::BURST,
            meter_id: 1,
            bands: vec![MeterBand::DscpRemark {
                rate: 10,
                burst_size: 1,
                prec_level: 1,
            }],
        })
        .unwrap();
        let verdicts: Vec<_> = (0..5).map(|_| m.admit(64, 0)).collect();
        assert_eq!(verdicts[0], MeterVerdict::Pass);
        assert!(
            verdicts[2..]
                .iter()
                .all(|v| *v == MeterVerdict::RemarkDscp(1)),
            "{verdicts:?}"
        );
    }

    #[test]
    fn table_commands_and_errors() {
        let t = MeterTable::default();
        t.apply(&mm(meter_flags::KBPS, 100, 0)).unwrap();
        assert_eq!(
            t.apply(&mm(meter_flags::KBPS, 100, 0)).unwrap_err().error,
            MeterModFailed::METER_EXISTS
        );
        let mut bad = mm(meter_flags::KBPS, 0, 0);
        bad.meter_id = 2;
        assert_eq!(t.apply(&bad).unwrap_err().error, MeterModFailed::BAD_RATE);
        let mut modify = mm(meter_flags::KBPS, 10, 0);
        modify.command = MeterModCommand::Modify;
        modify.meter_id = 9;
        assert_eq!(
            t.apply(&modify).unwrap_err().error,
            MeterModFailed::UNKNOWN_METER
        );
        assert!(t.get(1).is_some());
        assert_eq!(
            t.admit(77, 1500, 0),
            MeterVerdict::Pass,
            "unknown meter passes"
        );
        let mut del = mm(0, 1, 0);
        del.command = MeterModCommand::Delete;
        t.apply(&del).unwrap();
        assert!(t.get(1).is_none());
    }
}
