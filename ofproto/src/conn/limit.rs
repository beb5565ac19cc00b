//! The packet-in budget of one controller connection: a token bucket.
//!
//! A PACKET_IN is sent on the datapath's behalf (a miss, an output to
//! CONTROLLER) at whatever rate packets arrive; a controller that is slow,
//! or a host that floods new flows, must not make the switch queue or
//! spend without bound. Like Open vSwitch's `controller_rate_limit` and
//! `controller_burst_limit`, each connection may receive `rate` packet-ins
//! per second on average and `burst` at once; the rest are not sent and
//! are counted.
//!
//! The one idea: the bucket is refilled lazily from the time passed since
//! the last look, in whole nanoseconds of credit, so it needs no timer and
//! costs two arithmetic operations per packet-in. Time is passed in, so the
//! bucket is tested without waiting.

use std::time::Instant;

/// A token bucket of packet-ins.
#[derive(Debug, Clone)]
pub struct PacketInLimit {
    /// Nanoseconds of credit one packet-in costs (1e9 / rate).
    cost_ns: u64,
    /// The most credit the bucket holds (burst * cost).
    cap_ns: u64,
    /// Credit now, as of `at`.
    credit_ns: u64,
    at: Instant,
}

impl PacketInLimit {
    /// `rate` packet-ins per second, `burst` at once (both at least 1).
    pub fn new(rate: u32, burst: u32, now: Instant) -> PacketInLimit {
        let cost_ns = 1_000_000_000 / u64::from(rate.max(1));
        let cap_ns = cost_ns.saturating_mul(u64::from(burst.max(1)));
        PacketInLimit {
            cost_ns,
            cap_ns,
            credit_ns: cap_ns,
            at: now,
        }
    }

    /// Whether one more packet-in may go at `now` (and take its credit).
    pub fn admit(&mut self, now: Instant) -> bool {
        let passed = now.saturating_duration_since(self.at);
        self.at = self.at.max(now);
        let passed = u64::try_from(passed.as_nanos()).unwrap_or(u64::MAX);
        self.credit_ns = self.credit_ns.saturating_add(passed).min(self.cap_ns);
        if self.credit_ns >= self.cost_ns {
            self.credit_ns -= self.cost_ns;
            true
        } else {
            false
        }
    }
}

/// Packet-in limits of the controller layer (`None`: unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInRate {
    /// Packet-ins per second per connection, on average.
    pub rate: u32,
    /// Packet-ins per connection at once.
    pub burst: u32,
}

impl PacketInRate {
    pub fn bucket(&self, now: Instant) -> PacketInLimit {
        PacketInLimit::new(self.rate, self.burst, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = PacketInLimit::new(1000, 10, t0);
        assert_eq!((0..20).filter(|_| b.admit(t0)).count(), 10, "the burst");
        // 1 ms later: one more.
        let t1 = t0 + Duration::from_millis(1);
        assert!(b.admit(t1));
        assert!(!b.admit(t1));
        // A second later: the burst again, never more.
        let t2 = t0 + Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| b.admit(t2)).count(), 10);
    }

    #[test]
    fn over_a_long_run_the_average_is_the_rate() {
        let t0 = Instant::now();
        let mut b = PacketInLimit::new(500, 50, t0);
        // Offered 10,000/s for 4 s in 100 us steps.
        let admitted = (0..40_000)
            .filter(|i| b.admit(t0 + Duration::from_micros(100 * i)))
            .count();
        assert!((2000..=2050).contains(&admitted), "{admitted}");
    }

    #[test]
    fn time_going_backwards_gives_no_credit() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = PacketInLimit::new(10, 1, t0);
        assert!(b.admit(t0));
        assert!(!b.admit(t0 - Duration::from_secs(5)));
        assert!(!b.admit(t0));
    }
}
