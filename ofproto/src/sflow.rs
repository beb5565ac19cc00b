//! sFlow v5 agent: random 1-in-N packet samples and periodic interface
//! counters, sent to collectors over UDP (sflow.org's sFlow Version 5).
//!
//! Sampling is a datapath action: translation puts `Sample { probability:
//! 1/N, [Userspace(sFlow userdata)] }` at the front of every packet's
//! actions ([`apply`]), so each packet is drawn independently, as the spec
//! asks, and an unsampled packet costs one random draw. The userdata says
//! where the packet went (one port, several, or dropped) in sFlow's output
//! encoding; the input port is the key's. A taken sample reaches
//! [`Sflow::sample`] in the worker's thread, which copies the first
//! `header` bytes into a bounded channel and returns (a full channel drops
//! the sample and counts it, so a slow agent never slows forwarding).
//!
//! The agent thread turns samples into flow samples (a raw packet header
//! record each, with the sampling rate and the input port's packet count
//! as the sample pool), packs them into datagrams (sent when full, or
//! 100 ms after the first sample waits), and every `polling` seconds adds
//! a counter sample per port (generic interface counters from the port's
//! counters, as `dump-ports` shows them). Each collector has a connected
//! socket, so one that refuses (ICMP port unreachable) shows up as a send
//! error on the next datagram, counted. Ports are named by their
//! OpenFlow numbers as sFlow ifIndex (LOCAL is 65534).

use datapath::actions::Action as Dp;
use datapath::packet::Packet;
use datapath::PortNo;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Userdata bit that marks a `Userspace` action as an sFlow sample.
pub const SFLOW_USERDATA: u64 = 1 << 63;
/// Samples waiting for the agent before new ones are dropped.
const BACKLOG: usize = 4096;
/// Largest datagram the agent sends (fits a 1500-byte MTU).
const MAX_DATAGRAM: usize = 1400;
/// How long a sample may wait for more to share its datagram.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// sFlow output field: discarded (01 in the top bits), several (10).
const OUT_DISCARD: u32 = 0x4000_0000;
const OUT_MULTIPLE: u32 = 0x8000_0000;

/// An sFlow configuration (Open vSwitch's sFlow record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SflowConfig {
    /// The agent address put in every datagram.
    pub agent: IpAddr,
    pub targets: Vec<SocketAddr>,
    /// Sample 1 in `sampling` packets (1: every packet).
    pub sampling: u32,
    /// Seconds between counter samples (0: none).
    pub polling: u32,
    /// Bytes of each sampled packet's header to send.
    pub header: u32,
}

/// One port's counters, for a counter sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfCounters {
    pub if_index: u32,
    pub speed_bps: u64,
    pub up: bool,
    pub stats: datapath::netdev::PortStats,
}

/// What the agent reads from its bridge: every port's counters.
pub type PortSource = Box<dyn Fn() -> Vec<IfCounters> + Send>;

/// The agent's counters.
#[derive(Debug, Default)]
pub struct SflowCounters {
    pub samples: AtomicU64,
    /// Samples dropped because the agent was behind.
    pub dropped: AtomicU64,
    pub datagrams: AtomicU64,
    pub send_errors: AtomicU64,
}

/// sFlow's ifIndex of a datapath port (its OpenFlow number; LOCAL 65534).
pub fn if_index(port: PortNo) -> u32 {
    if port == crate::xlate::LOCAL_DP_PORT {
        65534
    } else {
        port
    }
}

/// One UDP socket connected to each collector: the kernel then reports a
/// collector that refuses (ICMP port unreachable) on the next send, which
/// an unconnected socket never hears of. (IPFIX uses them too.)
pub fn connected_sockets(targets: &[SocketAddr]) -> std::io::Result<Vec<UdpSocket>> {
    targets
        .iter()
        .map(|t| {
            let any: SocketAddr = if t.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = UdpSocket::bind(any)?;
            s.connect(t)?;
            Ok(s)
        })
        .collect()
}

/// Put a sampler's action in front of a packet's translated `actions`:
/// with probability 1 in `sampling`, a `Userspace` with the userdata
/// `encode` makes of the packet's output ports (sFlow's and IPFIX's).
pub fn insert_sampler(actions: &mut Vec<Dp>, sampling: u32, encode: impl FnOnce(&[PortNo]) -> u64) {
    let outs: Vec<PortNo> = actions
        .iter()
        .filter_map(|a| match a {
            Dp::Output(p) => Some(*p),
            Dp::TunnelPush { port, .. } => Some(*port),
            _ => None,
        })
        .collect();
    let probability = if sampling <= 1 {
        u32::MAX
    } else {
        u32::MAX / sampling
    };
    let userdata = encode(&outs);
    actions.insert(
        0,
        Dp::Sample {
            probability,
            actions: Arc::from(vec![Dp::Userspace { userdata }]),
        },
    );
}

/// Put the sFlow sampler in front of a packet's translated `actions`, its
/// output in sFlow's encoding (one ifIndex, several, or discarded).
pub fn apply(config: &SflowConfig, actions: &mut Vec<Dp>) {
    insert_sampler(actions, config.sampling, |outs| {
        let output = match outs {
            [] => OUT_DISCARD,
            [one] => if_index(*one),
            many => OUT_MULTIPLE | (many.len() as u32).min(0x3fff_ffff),
        };
        SFLOW_USERDATA | u64::from(output)
    });
}

/// One taken sample on its way to the agent.
#[derive(Debug)]
struct Taken {
    input: u32,
    output: u32,
    frame_len: u32,
    header: Vec<u8>,
}

/// A running sFlow agent.
#[derive(Debug)]
pub struct Sflow {
    pub config: SflowConfig,
    pub counters: Arc<SflowCounters>,
    tx: SyncSender<Taken>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sflow {
    /// Start an agent that reads port counters from `ports`.
    pub fn start(config: SflowConfig, ports: PortSource) -> std::io::Result<Sflow> {
        let sockets = connected_sockets(&config.targets)?;
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        let counters = Arc::new(SflowCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut agent = Agent {
            config: config.clone(),
            sockets,
            counters: counters.clone(),
            ports,
            started: Instant::now(),
            datagram_seq: 0,
            flow_seq: Default::default(),
            counter_seq: Default::default(),
            pools: Vec::new(),
        };
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sflow".into())
            .spawn(move || agent.run(rx, &stop2))?;
        Ok(Sflow {
            config,
            counters,
            tx,
            stop,
            thread: Some(thread),
        })
    }

    /// A sample the datapath took (called in the worker's thread).
    pub fn sample(&self, packet: &Packet, in_port: PortNo, userdata: u64) {
        let data = packet.data();
        let keep = data.len().min(self.config.header as usize);
        let taken = Taken {
            input: if_index(in_port),
            output: userdata as u32,
            frame_len: data.len() as u32,
            header: data[..keep].to_vec(),
        };
        match self.tx.try_send(taken) {
            Ok(()) => self.counters.samples.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

impl Drop for Sflow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The agent thread's state.
struct Agent {
    config: SflowConfig,
    /// Connected to each target in turn.
    sockets: Vec<UdpSocket>,
    counters: Arc<SflowCounters>,
    ports: PortSource,
    started: Instant,
    datagram_seq: u32,
    flow_seq: std::collections::HashMap<u32, u32>,
    counter_seq: std::collections::HashMap<u32, u32>,
    /// The ports' receive counts, as sample pools (refreshed per datagram).
    pools: Vec<IfCounters>,
}

impl Agent {
    fn run(&mut self, rx: Receiver<Taken>, stop: &AtomicBool) {
        let mut pending: Vec<Vec<u8>> = Vec::new();
        let mut pending_len = 0;
        let mut first_wait: Option<Instant> = None;
        let polling = Duration::from_secs(u64::from(self.config.polling));
        let mut next_poll = Instant::now() + polling;
        while !stop.load(Ordering::Relaxed) {
            // Poll, never park: a parked receiver makes every sender (a
            // worker, per sample) pay a wake-up system call.
            match rx.try_recv() {
                Ok(t) => {
                    if pending.is_empty() {
                        self.pools = (self.ports)();
                    }
                    let s = self.flow_sample(&t);
                    if pending_len + s.len() > MAX_DATAGRAM - 28 {
                        self.send(std::mem::take(&mut pending));
                        pending_len = 0;
                    }
                    pending_len += s.len();
                    pending.push(s);
                    first_wait.get_or_insert_with(Instant::now);
                }
                Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(2)),
                Err(TryRecvError::Disconnected) => break,
            }
            if first_wait.is_some_and(|t| t.elapsed() >= FLUSH_AFTER) {
                self.send(std::mem::take(&mut pending));
                pending_len = 0;
                first_wait = None;
            }
            if self.config.polling > 0 && Instant::now() >= next_poll {
                next_poll += polling;
                self.poll_counters();
            }
        }
        self.send(pending);
    }

    fn flow_sample(&mut self, t: &Taken) -> Vec<u8> {
        let seq = self.flow_seq.entry(t.input).or_insert(0);
        *seq = seq.wrapping_add(1);
        let pool = self
            .pools
            .iter()
            .find(|p| p.if_index == t.input)
            .map(|p| p.stats.rx_packets as u32)
            .unwrap_or(0);
        let mut r = Xdr::default();
        // Raw packet header: Ethernet, frame length, nothing stripped.
        r.u32(1);
        r.u32(t.frame_len);
        r.u32(0);
        r.opaque(&t.header);
        let mut s = Xdr::default();
        s.u32(*seq);
        s.u32(t.input & 0x00ff_ffff);
        s.u32(self.config.sampling);
        s.u32(pool);
        s.u32(self.counters.dropped.load(Ordering::Relaxed) as u32);
        s.u32(t.input);
        s.u32(t.output);
        s.u32(1);
        s.record(1, &r.0);
        let mut out = Xdr::default();
        out.record(1, &s.0);
        out.0
    }

    fn poll_counters(&mut self) {
        let mut pending = Vec::new();
        let mut len = 0;
        for p in (self.ports)() {
            let seq = self.counter_seq.entry(p.if_index).or_insert(0);
            *seq = seq.wrapping_add(1);
            let mut g = Xdr::default();
            let st = &p.stats;
            g.u32(p.if_index);
            g.u32(6); // ethernetCsmacd
            g.u64(p.speed_bps);
            g.u32(1); // full duplex
            g.u32(if p.up { 3 } else { 1 }); // admin up, oper as the link
            g.u64(st.rx_bytes);
            g.u32(st.rx_packets as u32); // ucast: switchd counts all here
            g.u32(0);
            g.u32(0);
            g.u32(st.rx_dropped as u32);
            g.u32(st.rx_errors as u32);
            g.u32(0);
            g.u64(st.tx_bytes);
            g.u32(st.tx_packets as u32);
            g.u32(0);
            g.u32(0);
            g.u32(st.tx_dropped as u32);
            g.u32(st.tx_errors as u32);
            g.u32(0);
            let mut s = Xdr::default();
            s.u32(*seq);
            s.u32(p.if_index & 0x00ff_ffff);
            s.u32(1);
            s.record(1, &g.0);
            let mut one = Xdr::default();
            one.record(2, &s.0);
            if len + one.0.len() > MAX_DATAGRAM - 28 {
                self.send(std::mem::take(&mut pending));
                len = 0;
            }
            len += one.0.len();
            pending.push(one.0);
        }
        self.send(pending);
    }

    /// Wrap `samples` in a datagram header and send it to every target.
    fn send(&mut self, samples: Vec<Vec<u8>>) {
        if samples.is_empty() {
            return;
        }
        self.datagram_seq = self.datagram_seq.wrapping_add(1);
        let mut d = Xdr::default();
        d.u32(5);
        match self.config.agent {
            IpAddr::V4(a) => {
                d.u32(1);
                d.0.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                d.u32(2);
                d.0.extend_from_slice(&a.octets());
            }
        }
        d.u32(0);
        d.u32(self.datagram_seq);
        d.u32(self.started.elapsed().as_millis() as u32);
        d.u32(samples.len() as u32);
        for s in samples {
            d.0.extend_from_slice(&s);
        }
        for s in &self.sockets {
            match s.send(&d.0) {
                Ok(_) => self.counters.datagrams.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.counters.send_errors.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
}

/// XDR encoding (RFC 4506): big-endian words, opaque data padded to 4.
#[derive(Default)]
struct Xdr(Vec<u8>);

impl Xdr {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// Variable-length opaque: length, bytes, padding.
    fn opaque(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self.0.resize(self.0.len().next_multiple_of(4), 0);
    }
    /// An sFlow record: format (enterprise 0), length, body.
    fn record(&mut self, format: u32, body: &[u8]) {
        self.u32(format);
        self.u32(body.len() as u32);
        self.0.extend_from_slice(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sampling: u32) -> SflowConfig {
        SflowConfig {
            agent: "192.0.2.1".parse().unwrap(),
            targets: vec![],
            sampling,
            polling: 0,
            header: 128,
        }
    }

    #[test]
    fn the_sample_action_goes_first_with_the_output_encoded() {
        let userdata = |actions: &[Dp]| match &actions[0] {
            Dp::Sample {
                probability,
                actions,
            } => match actions[0] {
                Dp::Userspace { userdata } => (*probability, userdata),
                _ => panic!("{actions:?}"),
            },
            a => panic!("{a:?}"),
        };
        let mut a = vec![Dp::Output(3)];
        apply(&config(4), &mut a);
        assert_eq!(userdata(&a), (u32::MAX / 4, SFLOW_USERDATA | 3));
        assert_eq!(a[1], Dp::Output(3));
        let mut a = vec![Dp::Output(3), Dp::Output(0)];
        apply(&config(1), &mut a);
        assert_eq!(
            userdata(&a),
            (u32::MAX, SFLOW_USERDATA | u64::from(OUT_MULTIPLE | 2))
        );
        let mut a = vec![];
        apply(&config(100), &mut a);
        assert_eq!(userdata(&a).1, SFLOW_USERDATA | u64::from(OUT_DISCARD));
    }

    #[test]
    fn datagrams_are_xdr_with_flow_and_counter_samples() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let ports: PortSource = Box::new(|| {
            vec![IfCounters {
                if_index: 2,
                speed_bps: 10_000_000_000,
                up: true,
                stats: datapath::netdev::PortStats {
                    rx_packets: 1000,
                    rx_bytes: 64_000,
                    ..Default::default()
                },
            }]
        });
        let cfg = SflowConfig {
            targets: vec![collector.local_addr().unwrap()],
            polling: 1,
            header: 20,
            ..config(10)
        };
        let agent = Sflow::start(cfg, ports).unwrap();
        let mut p = Packet::from_bytes(&[0xab; 60]);
        p.in_port = 2;
        agent.sample(&p, 2, SFLOW_USERDATA | 3);
        let mut buf = [0u8; 2048];
        let word = |b: &[u8], i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
        let (n, _) = collector.recv_from(&mut buf).unwrap();
        let d = &buf[..n];
        // Version 5, IPv4 agent 192.0.2.1, sub-agent 0, seq 1, uptime, 1 sample.
        assert_eq!(
            (word(d, 0), word(d, 4), &d[8..12]),
            (5, 1, &[192, 0, 2, 1][..])
        );
        assert_eq!((word(d, 12), word(d, 16), word(d, 24)), (0, 1, 1));
        // Flow sample: format 1; seq 1, source 2, rate 10, pool 1000, drops
        // 0, input 2, output 3, one record: raw header of 20 of 60 bytes.
        let s = &d[28..];
        assert_eq!(word(s, 0), 1);
        let body: Vec<u32> = (0..8).map(|i| word(s, 8 + 4 * i)).collect();
        assert_eq!(body, vec![1, 2, 10, 1000, 0, 2, 3, 1]);
        let r = &s[40..];
        assert_eq!(
            (word(r, 0), word(r, 8), word(r, 12), word(r, 20)),
            (1, 1, 60, 20)
        );
        assert_eq!(&r[24..44], &[0xab; 20]);
        // Then, within the polling interval, a counter sample.
        let (n, _) = collector.recv_from(&mut buf).unwrap();
        let s = &buf[28..n];
        assert_eq!(
            (word(s, 0), word(s, 12), word(s, 16)),
            (2, 2, 1),
            "counters of 2, one record"
        );
        let g = &s[28..];
        assert_eq!((word(g, 0), word(g, 4)), (2, 6), "ifIndex 2, ethernet");
        assert_eq!(u64::from_be_bytes(g[24..32].try_into().unwrap()), 64_000);
        assert_eq!(word(g, 32), 1000);
        assert_eq!(agent.counters.samples.load(Ordering::Relaxed), 1);
    }
}
