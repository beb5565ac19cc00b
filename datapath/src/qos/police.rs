//! Policers: token buckets that colour each packet and drop what is out
//! of profile, never delay it.
//!
//! Three colour markers, each colour-blind (the packet's previous colour
//! is not consulted):
//! - **srTCM** (RFC 2697): one rate, CIR, filling a committed bucket of
//!   CBS bytes whose overflow fills an excess bucket of EBS bytes. A packet
//!   that fits the committed bucket is green, else one that fits the
//!   excess bucket is yellow, else red. With EBS 0 it is a plain token
//!   bucket: Open vSwitch's `egress-policer` and ingress policing.
//! - **trTCM** (RFC 2698): a peak bucket (PIR, PBS) and a committed one
//!   (CIR, CBS). A packet that does not fit the peak bucket is red; else one
//!   that does not fit the committed bucket is yellow (and takes from the
//!   peak bucket); else green (and takes from both).
//! - **RFC 4115** (the trTCM Open vSwitch's `trtcm-policer` implements):
//!   a committed bucket (CIR, CBS) and an independent excess bucket (EIR,
//!   EBS). Green from the committed bucket, else yellow from the excess
//!   bucket, else red.
//!
//! A policer passes green and yellow and drops red; each colour is counted.
//! Buckets count bytes, or packets for the packets-per-second form (each
//! packet costs one token). Time comes in as seconds on any monotonic
//! clock, so tests drive it by hand.

/// One token bucket: `rate` tokens a second up to `size`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub rate: f64,
    pub size: f64,
    pub tokens: f64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, size: f64) -> Bucket {
        Bucket {
            rate,
            size,
            tokens: size,
        }
    }

    /// Add what `dt` seconds earn; return what did not fit.
    fn fill(&mut self, dt: f64) -> f64 {
        let t = self.tokens + self.rate * dt;
        self.tokens = t.min(self.size);
        (t - self.size).max(0.0)
    }

    /// Take `n` tokens if there are that many.
    fn take(&mut self, n: f64) -> bool {
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// A packet's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

/// Which marker, with its rates and sizes (bytes a second and bytes, or
/// packets a second and packets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Marker {
    /// RFC 2697.
    SrTcm { cir: f64, cbs: f64, ebs: f64 },
    /// RFC 2698.
    TrTcm {
        cir: f64,
        cbs: f64,
        pir: f64,
        pbs: f64,
    },
    /// RFC 4115.
    Rfc4115 {
        cir: f64,
        cbs: f64,
        eir: f64,
        ebs: f64,
    },
}

/// What a packet costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Its bytes after the Ethernet header (what Open vSwitch's
    /// policers count: the IP packet).
    L3Bytes,
    Packets,
}

/// Per-colour counts: packets and bytes (whole frames).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColourCounts {
    pub green: (u64, u64),
    pub yellow: (u64, u64),
    pub red: (u64, u64),
}

/// A colour marker and its state.
#[derive(Debug, Clone)]
pub struct Policer {
    pub marker: Marker,
    pub unit: Unit,
    /// The first bucket (committed) and the second (excess or peak).
    c: Bucket,
    e: Bucket,
    last: Option<f64>,
    pub counts: ColourCounts,
}

const ETH_HEADER: usize = 14;

impl Policer {
    pub fn new(marker: Marker, unit: Unit) -> Policer {
        let (c, e) = match marker {
            Marker::SrTcm { cir, cbs, ebs } => (Bucket::new(cir, cbs), Bucket::new(0.0, ebs)),
            Marker::TrTcm { cir, cbs, pir, pbs } => (Bucket::new(cir, cbs), Bucket::new(pir, pbs)),
            Marker::Rfc4115 { cir, cbs, eir, ebs } => {
                (Bucket::new(cir, cbs), Bucket::new(eir, ebs))
            }
        };
        Policer {
            marker,
            unit,
            c,
            e,
            last: None,
            counts: ColourCounts::default(),
        }
    }

    /// The colour of a frame of `len` bytes at time `now` (seconds), counted.
    pub fn colour(&mut self, len: usize, now: f64) -> Colour {
        let dt = self.last.map_or(0.0, |l| (now - l).max(0.0));
        self.last = Some(now);
        let overflow = self.c.fill(dt);
        match self.marker {
            // srTCM: the excess bucket fills with what overflows the
            // committed one.
            Marker::SrTcm { .. } => {
                self.e.tokens = (self.e.tokens + overflow).min(self.e.size);
            }
            _ => {
                self.e.fill(dt);
            }
        }
        let cost = match self.unit {
            Unit::L3Bytes => len.saturating_sub(ETH_HEADER) as f64,
            Unit::Packets => 1.0,
        };
        let colour = match self.marker {
            Marker::SrTcm { .. } | Marker::Rfc4115 { .. } => {
                if self.c.take(cost) {
                    Colour::Green
                } else if self.e.take(cost) {
                    Colour::Yellow
                } else {
                    Colour::Red
                }
            }
            Marker::TrTcm { .. } => {
                if self.e.tokens < cost {
                    Colour::Red
                } else if self.c.tokens < cost {
                    self.e.tokens -= cost;
                    Colour::Yellow
                } else {
                    self.e.tokens -= cost;
                    self.c.tokens -= cost;
                    Colour::Green
                }
            }
        };
        let slot = match colour {
            Colour::Green => &mut self.counts.green,
            Colour::Yellow => &mut self.counts.yellow,
            Colour::Red => &mut self.counts.red,
        };
        slot.0 += 1;
        slot.1 += len as u64;
        colour
    }

    /// Whether a frame of `len` bytes passes (green or yellow).
    pub fn admit(&mut self, len: usize, now: f64) -> bool {
        self.colour(len, now) != Colour::Red
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offer `pps` frames a second of `len` bytes for `secs` seconds;
    /// return the counts.
    fn offer(p: &mut Policer, len: usize, pps: f64, secs: f64) -> ColourCounts {
        let n = (pps * secs) as usize;
        for i in 0..n {
            p.colour(len, i as f64 / pps);
        }
        p.counts
    }

    #[test]
    fn a_token_bucket_passes_its_rate_and_its_burst() {
        // 1 Mbyte/s of L3 bytes, burst 10 kB; 2 Mbyte/s offered for 2 s in
        // 1,014-byte frames (1,000 L3 bytes).
        let mut p = Policer::new(
            Marker::SrTcm {
                cir: 1e6,
                cbs: 10_000.0,
                ebs: 0.0,
            },
            Unit::L3Bytes,
        );
        let c = offer(&mut p, 1014, 2000.0, 2.0);
        let passed = c.green.0;
        // 2 s at 1,000 frames a second, plus the 10 full frames of burst.
        assert!((2000..=2011).contains(&passed), "{c:?}");
        assert_eq!(c.yellow.0, 0);
        assert_eq!(c.green.0 + c.red.0, 4000);
    }

    #[test]
    fn srtcm_marks_the_overflow_yellow_up_to_ebs() {
        // RFC 2697: idle time overfills the committed bucket into the
        // excess one. Both start full: 2 frames green, then 3 yellow.
        let mut p = Policer::new(
            Marker::SrTcm {
                cir: 100.0,
                cbs: 2.0,
                ebs: 3.0,
            },
            Unit::Packets,
        );
        let colours: Vec<Colour> = (0..6).map(|_| p.colour(64, 0.0)).collect();
        use Colour::*;
        assert_eq!(colours, [Green, Green, Yellow, Yellow, Yellow, Red]);
        // 50 ms later: 5 tokens earned, 2 fill the committed bucket, 3
        // overflow into the excess one.
        let later: Vec<Colour> = (0..6).map(|_| p.colour(64, 0.05)).collect();
        assert_eq!(later, [Green, Green, Yellow, Yellow, Yellow, Red]);
    }

    #[test]
    fn trtcm_follows_rfc_2698_for_a_known_load() {
        // CIR 1,000 pps (CBS 10), PIR 2,000 pps (PBS 20); 4,000 pps
        // offered for 1 s: green at CIR, yellow up to PIR, red above it.
        let mut p = Policer::new(
            Marker::TrTcm {
                cir: 1000.0,
                cbs: 10.0,
                pir: 2000.0,
                pbs: 20.0,
            },
            Unit::Packets,
        );
        let c = offer(&mut p, 100, 4000.0, 1.0);
        let near = |got: u64, want: u64| got.abs_diff(want) <= 25;
        assert!(near(c.green.0, 1000), "{c:?}");
        assert!(near(c.yellow.0, 1000), "{c:?}");
        assert!(near(c.red.0, 2000), "{c:?}");
        // Below CIR everything is green.
        let mut p = Policer::new(p.marker, Unit::Packets);
        let c = offer(&mut p, 100, 900.0, 1.0);
        assert_eq!((c.yellow.0, c.red.0), (0, 0), "{c:?}");
    }

    #[test]
    fn rfc4115_fills_its_buckets_apart() {
        // CIR 1,000 pps and EIR 500 pps: 3,000 offered gives 1,000 green
        // and 500 yellow (each plus its bucket of 10), the rest red.
        let mut p = Policer::new(
            Marker::Rfc4115 {
                cir: 1000.0,
                cbs: 10.0,
                eir: 500.0,
                ebs: 10.0,
            },
            Unit::Packets,
        );
        let c = offer(&mut p, 100, 3000.0, 1.0);
        let near = |got: u64, want: u64| got.abs_diff(want) <= 5;
        assert!(near(c.green.0, 1010) && near(c.yellow.0, 510), "{c:?}");
        assert!(near(c.red.0, 1480), "{c:?}");
    }
}
