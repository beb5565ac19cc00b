//! IPFIX exporter (RFC 7011): per-bridge flow records from sampled packets.
//!
//! Open vSwitch's bridge IPFIX, in switchd's terms: translation puts a
//! `Sample { 1/N, [Userspace(IPFIX userdata)] }` in front of every packet's
//! actions ([`apply`], the same seam as sFlow's), and a taken packet
//! reaches [`Ipfix::sample`] in the worker's thread, which reduces it to
//! its flow (addresses, ports, protocol, VLAN, tunnel id, input and output
//! port) and its IP length, and hands that to the exporter thread through
//! a bounded channel (full: dropped and counted). The exporter polls that
//! channel rather than sleeping on it, so a sender never pays for waking
//! it (a system call per sampled packet, a quarter of the forwarding cost
//! when every packet is sampled).
//!
//! The exporter keeps a flow cache. A flow is exported when it has been
//! idle for `idle_timeout` seconds (end reason 1), when it has been active
//! for `active_timeout` seconds (reason 2: the record closes and the next
//! packet opens a new one), or when the exporter stops (reason 4). Records
//! go in IPFIX messages over UDP to each collector (one connected socket
//! each; a refusing collector counts as send errors), with the IPv4 and
//! IPv6 templates in the first message and again every
//! `template_interval` seconds, as UDP transport requires (RFC 7011 10.3.6).
//! Counts are of sampled packets: with sampling 1 they are the traffic;
//! with 1 in N a collector scales by N. Non-IP packets are not recorded.
//!
//! The same exporter serves a *collector set*, Open vSwitch's flow-driven
//! sampling: the OpenFlow `sample(probability, collector_set_id,
//! obs_domain_id, obs_point_id)` action becomes a datapath `Sample` whose
//! `Userspace` user data the bridge maps back to the set, domain and point,
//! and the packet reaches [`Ipfix::flow_sample`]. Records are kept apart
//! per observation domain and point; each domain has its own messages,
//! sequence numbers and templates (RFC 7011 scopes all three to a domain),
//! and every record carries its observationPointId (IE 138). A bridge
//! exporter is one domain, `obs_domain_id`, and one point, `obs_point_id`.

use datapath::actions::Action as Dp;
use datapath::flow::FlowKey;
use datapath::packet::Packet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Userdata bit that marks a `Userspace` action as an IPFIX sample.
pub const IPFIX_USERDATA: u64 = 1 << 62;
const BACKLOG: usize = 16384;
/// How long the exporter sleeps when nothing is waiting (at 1 Mpps,
/// 2,000 samples: well inside the backlog).
const POLL: Duration = Duration::from_millis(2);
const MAX_MESSAGE: usize = 1400;
const TEMPLATE_V4: u16 = 256;
const TEMPLATE_V6: u16 = 257;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// An IPFIX configuration (Open vSwitch's IPFIX record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfixConfig {
    pub targets: Vec<SocketAddr>,
    /// Sample 1 in `sampling` packets (1: every packet).
    pub sampling: u32,
    pub obs_domain_id: u32,
    pub obs_point_id: u32,
    /// Seconds a flow may stay open before its record is exported.
    pub active_timeout: u32,
    /// Seconds without packets after which a flow's record is exported.
    pub idle_timeout: u32,
    /// Seconds between template re-sends.
    pub template_interval: u32,
}

/// The exporter's counters.
#[derive(Debug, Default)]
pub struct IpfixCounters {
    pub samples: AtomicU64,
    pub dropped: AtomicU64,
    pub records: AtomicU64,
    pub messages: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Put the IPFIX sampler in front of a packet's translated `actions`; its
/// egressInterface is the one output port, else 0 (none or several).
pub fn apply(config: &IpfixConfig, actions: &mut Vec<Dp>) {
    crate::sflow::insert_sampler(actions, config.sampling, |outs| {
        let out = match outs {
            [one] => crate::sflow::if_index(*one),
            _ => 0,
        };
        IPFIX_USERDATA | u64::from(out)
    });
}

/// What identifies a flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowId {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    vlan: u16,
    tun_id: u64,
    input: u32,
    output: u32,
    /// The observation point (IE 138).
    point: u32,
}

/// One sampled packet, reduced.
#[derive(Debug)]
struct Taken {
    domain: u32,
    flow: FlowId,
    ip_len: u64,
}

/// Data records to send: IPv4's and IPv6's.
type Records = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// An observation domain's place in the exporter's output.
#[derive(Debug, Default)]
struct Domain {
    /// Data records sent so far (the header's sequence number).
    sequence: u32,
    templates_sent: Option<Instant>,
}

/// An open flow record.
#[derive(Debug, Clone, Copy)]
struct Entry {
    packets: u64,
    bytes: u64,
    first: u64,
    last: u64,
    /// When it was opened, on the monotonic clock (for the active timeout).
    opened: Instant,
    seen: Instant,
}

/// A running exporter.
#[derive(Debug)]
pub struct Ipfix {
    pub config: IpfixConfig,
    pub counters: Arc<IpfixCounters>,
    tx: SyncSender<Taken>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ipfix {
    pub fn start(config: IpfixConfig) -> std::io::Result<Ipfix> {
        let sockets = crate::sflow::connected_sockets(&config.targets)?;
        let (tx, rx) = mpsc::sync_channel(BACKLOG);
        let counters = Arc::new(IpfixCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut exporter = Exporter {
            config: config.clone(),
            sockets,
            counters: counters.clone(),
            cache: HashMap::new(),
            // The bridge exporter's domain is known, and announced, at once.
            domains: HashMap::from([(config.obs_domain_id, Domain::default())]),
        };
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ipfix".into())
            .spawn(move || exporter.run(rx, &stop2))?;
        Ok(Ipfix {
            config,
            counters,
            tx,
            stop,
            thread: Some(thread),
        })
    }

    /// A sample the datapath took for the bridge (called in the worker's
    /// thread); `userdata` carries the egress interface.
    pub fn sample(&self, packet: &Packet, key: &FlowKey, userdata: u64) {
        let c = &self.config;
        self.take(
            packet,
            key,
            c.obs_domain_id,
            c.obs_point_id,
            userdata as u32,
        );
    }

    /// A flow sample from a `sample` action for this collector set.
    pub fn flow_sample(&self, packet: &Packet, key: &FlowKey, domain: u32, point: u32) {
        self.take(packet, key, domain, point, 0);
    }

    fn take(&self, packet: &Packet, key: &FlowKey, domain: u32, point: u32, output: u32) {
        let (src, dst) = match key.eth_type {
            ETH_IPV4 => (
                IpAddr::V4(Ipv4Addr::from(key.ipv4_src)),
                IpAddr::V4(Ipv4Addr::from(key.ipv4_dst)),
            ),
            ETH_IPV6 => (
                IpAddr::V6(Ipv6Addr::from(key.ipv6_src)),
                IpAddr::V6(Ipv6Addr::from(key.ipv6_dst)),
            ),
            _ => return,
        };
        let tagged = key.vlan_tci & datapath::flow::key::VLAN_CFI != 0;
        let l2 = 14 + if tagged { 4 } else { 0 };
        let taken = Taken {
            domain,
            flow: FlowId {
                src,
                dst,
                sport: key.tp_src,
                dport: key.tp_dst,
                proto: key.nw_proto,
                vlan: if tagged {
                    key.vlan_tci & datapath::flow::key::VLAN_VID_MASK
                } else {
                    0
                },
                tun_id: key.tun_id,
                input: crate::sflow::if_index(key.in_port),
                output,
                point,
            },
            ip_len: packet.len().saturating_sub(l2) as u64,
        };
        let c = &self.counters;
        match self.tx.try_send(taken) {
            Ok(()) => c.samples.fetch_add(1, Ordering::Relaxed),
            Err(_) => c.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

impl Drop for Ipfix {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Exporter {
    config: IpfixConfig,
    sockets: Vec<UdpSocket>,
    counters: Arc<IpfixCounters>,
    cache: HashMap<(u32, FlowId), Entry>,
    /// The observation domains seen so far.
    domains: HashMap<u32, Domain>,
}

impl Exporter {
    fn run(&mut self, rx: Receiver<Taken>, stop: &AtomicBool) {
        let mut last_scan = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            // Poll, never park: a parked receiver makes every sender (a
            // worker, once per sampled packet) pay a wake-up system call.
            let mut got = false;
            loop {
                match rx.try_recv() {
                    Ok(t) => {
                        self.account(t);
                        got = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.expire(true);
                        return;
                    }
                }
            }
            if !got {
                std::thread::sleep(POLL);
            }
            if last_scan.elapsed() >= Duration::from_millis(100) {
                last_scan = Instant::now();
                self.expire(false);
            }
        }
        self.expire(true);
    }

    fn account(&mut self, t: Taken) {
        let now = Instant::now();
        let ms = unix_ms();
        self.domains.entry(t.domain).or_default();
        let e = self.cache.entry((t.domain, t.flow)).or_insert(Entry {
            packets: 0,
            bytes: 0,
            first: ms,
            last: ms,
            opened: now,
            seen: now,
        });
        e.packets += 1;
        e.bytes += t.ip_len;
        e.last = ms;
        e.seen = now;
    }

    /// Export the records whose time has come (all of them at `end`).
    fn expire(&mut self, end: bool) {
        let idle = Duration::from_secs(u64::from(self.config.idle_timeout));
        let active = Duration::from_secs(u64::from(self.config.active_timeout));
        let mut out: HashMap<u32, Records> = HashMap::new();
        self.cache.retain(|(domain, f), e| {
            let reason = if end {
                4
            } else if e.seen.elapsed() >= idle {
                1
            } else if e.opened.elapsed() >= active {
                2
            } else {
                return true;
            };
            let (v4, v6) = out.entry(*domain).or_default();
            let rec = record(f, e, reason);
            if f.src.is_ipv4() {
                v4.push(rec);
            } else {
                v6.push(rec);
            }
            false
        });
        let every = Duration::from_secs(u64::from(self.config.template_interval));
        let domains: Vec<u32> = self.domains.keys().copied().collect();
        for domain in domains {
            let resend = self.domains[&domain]
                .templates_sent
                .is_none_or(|t| t.elapsed() >= every);
            let (v4, v6) = out.remove(&domain).unwrap_or_default();
            if resend || !v4.is_empty() || !v6.is_empty() {
                self.send(domain, resend, v4, v6);
            }
        }
    }

    /// Send the records in as many messages as they need, templates first
    /// when `templates` (a message of their own when there are no records).
    fn send(&mut self, domain: u32, mut templates: bool, v4: Vec<Vec<u8>>, v6: Vec<Vec<u8>>) {
        let state = self.domains.entry(domain).or_default();
        let mut queue: Vec<(u16, Vec<u8>)> = v4
            .into_iter()
            .map(|r| (TEMPLATE_V4, r))
            .chain(v6.into_iter().map(|r| (TEMPLATE_V6, r)))
            .collect();
        queue.reverse();
        loop {
            let mut body = Vec::new();
            let mut records = 0u32;
            if templates {
                body.extend_from_slice(&template_set());
                state.templates_sent = Some(Instant::now());
                templates = false;
            }
            // Data sets, one per template, while they fit.
            while let Some((tid, _)) = queue.last() {
                let tid = *tid;
                let mut set = Vec::new();
                while let Some((t, r)) = queue.last() {
                    if *t != tid || 16 + body.len() + 4 + set.len() + r.len() > MAX_MESSAGE {
                        break;
                    }
                    set.extend_from_slice(r);
                    records += 1;
                    queue.pop();
                }
                if set.is_empty() {
                    break;
                }
                body.extend_from_slice(&tid.to_be_bytes());
                body.extend_from_slice(&((4 + set.len()) as u16).to_be_bytes());
                body.extend_from_slice(&set);
            }
            if body.is_empty() {
                return;
            }
            let mut m = Vec::with_capacity(16 + body.len());
            m.extend_from_slice(&10u16.to_be_bytes());
            m.extend_from_slice(&((16 + body.len()) as u16).to_be_bytes());
            m.extend_from_slice(&((unix_ms() / 1000) as u32).to_be_bytes());
            m.extend_from_slice(&state.sequence.to_be_bytes());
            m.extend_from_slice(&domain.to_be_bytes());
            m.extend_from_slice(&body);
            state.sequence = state.sequence.wrapping_add(records);
            let c = &self.counters;
            c.records.fetch_add(u64::from(records), Ordering::Relaxed);
            for s in &self.sockets {
                match s.send(&m) {
                    Ok(_) => c.messages.fetch_add(1, Ordering::Relaxed),
                    Err(_) => c.send_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
            if queue.is_empty() {
                return;
            }
        }
    }
}

/// The information elements of both templates after the addresses:
/// (IE id, length).
const COMMON: &[(u16, u16)] = &[
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (4, 1),   // protocolIdentifier
    (58, 2),  // vlanId
    (351, 8), // layer2SegmentId (the tunnel id)
    (10, 4),  // ingressInterface
    (14, 4),  // egressInterface
    (2, 8),   // packetDeltaCount
    (1, 8),   // octetDeltaCount
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
    (136, 1), // flowEndReason
    (138, 4), // observationPointId
];

/// The template set: IPv4 (source 8, destination 12) and IPv6 (27, 28).
fn template_set() -> Vec<u8> {
    let mut set = Vec::new();
    for (id, src, dst, len) in [(TEMPLATE_V4, 8u16, 12u16, 4u16), (TEMPLATE_V6, 27, 28, 16)] {
        set.extend_from_slice(&id.to_be_bytes());
        set.extend_from_slice(&((2 + COMMON.len()) as u16).to_be_bytes());
        for (ie, l) in [(src, len), (dst, len)].iter().chain(COMMON) {
            set.extend_from_slice(&ie.to_be_bytes());
            set.extend_from_slice(&l.to_be_bytes());
        }
    }
    let mut out = Vec::with_capacity(4 + set.len());
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&((4 + set.len()) as u16).to_be_bytes());
    out.extend_from_slice(&set);
    out
}

/// One data record in its template's field order.
fn record(f: &FlowId, e: &Entry, reason: u8) -> Vec<u8> {
    let mut r = Vec::with_capacity(96);
    for a in [f.src, f.dst] {
        match a {
            IpAddr::V4(a) => r.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => r.extend_from_slice(&a.octets()),
        }
    }
    r.extend_from_slice(&f.sport.to_be_bytes());
    r.extend_from_slice(&f.dport.to_be_bytes());
    r.push(f.proto);
    r.extend_from_slice(&f.vlan.to_be_bytes());
    r.extend_from_slice(&f.tun_id.to_be_bytes());
    r.extend_from_slice(&f.input.to_be_bytes());
    r.extend_from_slice(&f.output.to_be_bytes());
    r.extend_from_slice(&e.packets.to_be_bytes());
    r.extend_from_slice(&e.bytes.to_be_bytes());
    r.extend_from_slice(&e.first.to_be_bytes());
    r.extend_from_slice(&e.last.to_be_bytes());
    r.push(reason);
    r.extend_from_slice(&f.point.to_be_bytes());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_records_agree_in_length() {
        let t = template_set();
        assert_eq!(u16::from_be_bytes([t[0], t[1]]), 2);
        assert_eq!(usize::from(u16::from_be_bytes([t[2], t[3]])), t.len());
        let v4_len: u16 = 4 + 4 + COMMON.iter().map(|c| c.1).sum::<u16>();
        let f = FlowId {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            sport: 1,
            dport: 2,
            proto: 17,
            vlan: 0,
            tun_id: 0,
            input: 1,
            output: 2,
            point: 3,
        };
        let now = Instant::now();
        let e = Entry {
            packets: 3,
            bytes: 300,
            first: 1,
            last: 2,
            opened: now,
            seen: now,
        };
        assert_eq!(record(&f, &e, 1).len(), usize::from(v4_len));
        let f6 = FlowId {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            ..f
        };
        assert_eq!(record(&f6, &e, 1).len(), usize::from(v4_len) + 24);
    }

    #[test]
    fn an_exporter_sends_templates_then_records_on_the_idle_timeout() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let ipfix = Ipfix::start(IpfixConfig {
            targets: vec![collector.local_addr().unwrap()],
            sampling: 1,
            obs_domain_id: 7,
            obs_point_id: 0,
            active_timeout: 60,
            idle_timeout: 1,
            template_interval: 60,
        })
        .unwrap();
        let key = FlowKey {
            eth_type: ETH_IPV4,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0002,
            nw_proto: 17,
            tp_src: 1000,
            tp_dst: 2000,
            in_port: 1,
            ..Default::default()
        };
        let p = Packet::from_bytes(&[0u8; 114]);
        for _ in 0..3 {
            ipfix.sample(&p, &key, IPFIX_USERDATA | 2);
        }
        // Messages until one carries a data set of template 256; each
        // message's sets are walked by their lengths.
        let mut buf = [0u8; 2048];
        let mut saw_template = false;
        let record = loop {
            let (n, _) = collector.recv_from(&mut buf).unwrap();
            let m = &buf[..n];
            assert_eq!(
                (&m[0..2], usize::from(u16::from_be_bytes([m[2], m[3]]))),
                (&[0, 10][..], n)
            );
            assert_eq!(&m[12..16], &[0, 0, 0, 7], "observation domain");
            let mut at = 16;
            let mut data = None;
            while at + 4 <= n {
                let id = u16::from_be_bytes([m[at], m[at + 1]]);
                let len = usize::from(u16::from_be_bytes([m[at + 2], m[at + 3]]));
                saw_template |= id == 2;
                if id == TEMPLATE_V4 {
                    data = Some(m[at + 4..at + len].to_vec());
                }
                at += len.max(4);
            }
            if let Some(d) = data {
                break d;
            }
        };
        assert!(saw_template, "templates come first");
        assert_eq!(&record[0..8], &[10, 0, 0, 1, 10, 0, 0, 2]);
        assert_eq!(u64::from_be_bytes(record[31..39].try_into().unwrap()), 3);
        assert_eq!(u64::from_be_bytes(record[39..47].try_into().unwrap()), 300);
        assert_eq!(record[63], 1, "ended by the idle timeout");
    }
}
