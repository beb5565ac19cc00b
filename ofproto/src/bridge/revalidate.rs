//! The revalidator: keeps cached megaflows honest.
//!
//! Every pass (a few times a second) it walks the datapath's megaflows and,
//! for each one this bridge installed:
//! * credits the traffic seen since the last pass to the rules, group
//!   buckets and tables its translation went through, so `dump-flows`
//!   counters are exact and idle timeouts see real use;
//! * deletes it if it sat idle longer than the megaflow idle limit;
//! * if the pipeline changed since it was translated, translates its key
//!   again and keeps it only if the actions and mask come out the same.
//!
//! Then it expires rules whose idle or hard timeout passed (FLOW_REMOVED to
//! the controllers that asked for it) and polls port link states. When the
//! tunnelling state (routes, neighbours, endpoint addresses) changed, it
//! drops the bridge's megaflows, whose tunnel headers may be stale.

use super::{OfBridge, XlateCache};
use crate::pipeline::rule::Rule;
use crate::pipeline::{Pipeline, RemovedReason};
use crate::wire::flow_mod::FlowModFlags;
use crate::wire::group::GroupType;
use crate::wire::message::Message;
use crate::wire::packet::{FlowRemoved, FlowRemovedReason};
use datapath::dpif::FlowDump;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub flows: usize,
    pub retranslated: usize,
    pub deleted_idle: usize,
    pub deleted_stale: usize,
    pub rules_expired: usize,
}

/// Build the FLOW_REMOVED message for a rule.
pub fn flow_removed(rule: &Rule, reason: RemovedReason) -> FlowRemoved {
    let age = rule.created.elapsed();
    let (packets, bytes) = rule.counts();
    FlowRemoved {
        cookie: rule.cookie,
        priority: rule.priority,
        reason: FlowRemovedReason::from(reason as u8),
        table_id: rule.table_id,
        duration_sec: age.as_secs() as u32,
        duration_nsec: age.subsec_nanos(),
        idle_timeout: rule.idle_timeout,
        hard_timeout: rule.hard_timeout,
        packet_count: packets,
        byte_count: bytes,
        r#match: rule.matcher.clone(),
    }
}

/// Credit the traffic megaflow `f` saw since its last credit to the rules,
/// group buckets, tables and mirrors its translation went through.
fn credit(cache: &XlateCache, f: &FlowDump, snapshot: &Pipeline, now: Instant) {
    let dp = f
        .packets
        .saturating_sub(cache.credited_packets.swap(f.packets, Ordering::Relaxed));
    let db = f
        .bytes
        .saturating_sub(cache.credited_bytes.swap(f.bytes, Ordering::Relaxed));
    if dp == 0 {
        return;
    }
    for r in &cache.rules {
        r.stats.add(dp, db, now);
    }
    for m in &cache.mirrors {
        m.credit(dp, db);
    }
    for (g, i) in &cache.buckets {
        // An ALL group lists every bucket of one application: the group
        // itself counts each packet once, at its first bucket.
        if g.kind != GroupType::All || *i == 0 {
            g.stats.packets.fetch_add(dp, Ordering::Relaxed);
            g.stats.bytes.fetch_add(db, Ordering::Relaxed);
        }
        if let Some((p, b)) = g.stats.buckets.get(*i) {
            p.fetch_add(dp, Ordering::Relaxed);
            b.fetch_add(db, Ordering::Relaxed);
        }
    }
    for (t, matched) in &cache.tables {
        if let Some(table) = snapshot.table(*t) {
            table.lookups.fetch_add(dp, Ordering::Relaxed);
            if *matched {
                table.matched.fetch_add(dp, Ordering::Relaxed);
            }
        }
    }
}

impl OfBridge {
    /// Credit every megaflow's uncredited traffic now: done before the
    /// megaflows are flushed wholesale, so `dump-flows` loses nothing.
    pub fn credit_all(&self) {
        let Some(dpif) = self.dpif() else {
            return;
        };
        let now = Instant::now();
        let snapshot = self.store.snapshot();
        for f in dpif.dump_flows() {
            if let Some(cache) = f
                .owner
                .as_ref()
                .and_then(|o| o.clone().downcast::<XlateCache>().ok())
            {
                credit(&cache, &f, &snapshot, now);
            }
        }
    }

    /// Bring every megaflow made under an older pipeline version up to date
    /// now, instead of at the revalidator's next pass: a BARRIER_REPLY
    /// promises that the flow, group and meter changes before it are in
    /// effect, and a stale megaflow would keep forwarding packets sent
    /// right after it the old way. Megaflows already current are skipped,
    /// so this is cheap when nothing changed.
    pub fn sync_to_pipeline(&self) -> usize {
        let Some(dpif) = self.dpif() else {
            return 0;
        };
        let now = Instant::now();
        let version = self.store.version();
        let snapshot = self.store.snapshot();
        let mut deleted = 0;
        for f in dpif.dump_flows() {
            let Some(cache) = f
                .owner
                .as_ref()
                .and_then(|o| o.clone().downcast::<XlateCache>().ok())
            else {
                continue;
            };
            if cache.fail_open || cache.version.load(Ordering::Relaxed) == version {
                continue;
            }
            let (actions, mask, _) = self.translate(&f.key);
            if *actions == *f.actions && mask == f.mask {
                cache.version.store(version, Ordering::Relaxed);
            } else {
                credit(&cache, &f, &snapshot, now);
                if dpif.delete_flow(f.id).is_ok() {
                    deleted += 1;
                }
            }
        }
        self.counters
            .megaflows_deleted
            .fetch_add(deleted as u64, Ordering::Relaxed);
        deleted
    }

    /// Report removed rules that asked for it.
    pub fn report_removed(&self, removed: &[Arc<Rule>], reason: RemovedReason) {
        for r in removed {
            if r.flags.contains(FlowModFlags::SEND_FLOW_REM) {
                self.send_async(Message::FlowRemoved(flow_removed(r, reason)));
            }
        }
    }

    /// One revalidation pass.
    pub fn revalidate(&self, max_idle: Duration) -> PassStats {
        let mut st = PassStats::default();
        let Some(dpif) = self.dpif() else {
            return st;
        };
        let now = Instant::now();
        let version = self.store.version();
        let snapshot = self.store.snapshot();
        let max_idle_ms = max_idle.as_millis() as u64;
        for f in dpif.dump_flows() {
            st.flows += 1;
            let Some(cache) = f
                .owner
                .as_ref()
                .and_then(|o| o.clone().downcast::<XlateCache>().ok())
            else {
                continue;
            };
            credit(&cache, &f, &snapshot, now);
            if f.idle_ms.is_some_and(|idle| idle >= max_idle_ms) {
                if dpif.delete_flow(f.id).is_ok() {
                    st.deleted_idle += 1;
                }
                continue;
            }
            if cache.fail_open || cache.version.load(Ordering::Relaxed) == version {
                continue;
            }
            st.retranslated += 1;
            let (actions, mask, _) = self.translate(&f.key);
            if *actions == *f.actions && mask == f.mask {
                cache.version.store(version, Ordering::Relaxed);
            } else if dpif.delete_flow(f.id).is_ok() {
                st.deleted_stale += 1;
            }
        }
        let expired = self.store.expire(now);
        st.rules_expired = expired.len();
        for (r, why) in expired {
            self.report_removed(std::slice::from_ref(&r), why);
        }
        self.poll_links();
        self.counters
            .revalidated
            .fetch_add(st.retranslated as u64, Ordering::Relaxed);
        self.counters.megaflows_deleted.fetch_add(
            (st.deleted_idle + st.deleted_stale) as u64,
            Ordering::Relaxed,
        );
        st
    }

    /// Run [`revalidate`](Self::revalidate) every `interval` until `stop`.
    pub fn spawn_revalidator(
        self: &Arc<Self>,
        interval: Duration,
        max_idle: Duration,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = Arc::downgrade(self);
        std::thread::Builder::new()
            .name(format!("revalidator-{}", self.name))
            .spawn(move || {
                let mut last_version = 0;
                let mut last_tunnels = None;
                let mut last_pass = Instant::now() - interval;
                while !stop.load(Ordering::Acquire) {
                    let Some(b) = me.upgrade() else { break };
                    // Routes, neighbours and endpoint addresses are baked
                    // into tunnel megaflows: a change drops them all.
                    if let Some(t) = b.tunnels() {
                        t.refresh_if_due();
                        let g = t.generation();
                        if last_tunnels.is_some_and(|l| l != g) && t.involves(&b.name) {
                            b.invalidate_all();
                        }
                        last_tunnels = Some(g);
                    }
                    // A pipeline change is revalidated promptly; otherwise
                    // once per interval.
                    let v = b.store.version();
                    if v != last_version || last_pass.elapsed() >= interval {
                        b.revalidate(max_idle);
                        last_version = v;
                        last_pass = Instant::now();
                    }
                    drop(b);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
    }
}
