//! Translation of the Nicira actions (see the essay in `xlate`).
//!
//! The one idea: every NX action but `sample` is a change to translation
//! state (the working key, the walk) rather than a datapath action of its
//! own. The datapath only ever sees what they lead to: outputs, and set
//! actions for the header fields (and `pkt_mark`) a `load` or `move`
//! wrote. `sample` becomes the datapath's `Sample` of a `Userspace` action
//! whose user data names the collector set, domain and point (interned by
//! the bridge), so the draw happens per packet in the datapath.

use super::{Ctx, FlowSample, LOCAL_DP_PORT, MAX_RESUBMITS, MAX_RESUBMIT_DEPTH};
use crate::pipeline::key_map;
use crate::wire::action::port_no;
use crate::wire::nx::action::{OFPP10_IN_PORT, RESUBMIT_CURRENT_TABLE};
use crate::wire::nx::NxAction;
use datapath::actions::Action as Dp;
use std::sync::Arc;

/// OpenFlow 1.0's 16-bit reserved ports (`0xff00..`) as OpenFlow 1.3's.
fn of10_port(p: u16) -> u32 {
    if p >= 0xff00 {
        0xffff_0000 | u32::from(p)
    } else {
        u32::from(p)
    }
}

/// `sample`'s probability (out of 65535) as the datapath's (out of 2^32):
/// 65535 is `u32::MAX`, always.
fn sample_probability(p: u16) -> u32 {
    u32::from(p) * 65537
}

impl Ctx<'_> {
    pub(super) fn nx(&mut self, a: &NxAction, out: &mut Vec<Dp>) {
        match a {
            NxAction::Resubmit { in_port, table } => {
                let table = match table.unwrap_or(RESUBMIT_CURRENT_TABLE) {
                    RESUBMIT_CURRENT_TABLE => self.table_id,
                    t => t,
                };
                self.resubmit(*in_port, table, out);
            }
            NxAction::RegLoad { dst, value } => {
                // Checked at flow-mod time; an unwritable field is ignored.
                if let Ok(Some(dp)) =
                    key_map::write_bits(&mut self.key, dst, u128::from(*value), &self.pipeline.tlv)
                {
                    out.push(dp);
                }
            }
            NxAction::RegMove { src, dst } => {
                let Some(v) = key_map::read_bits(&self.key, src, &self.pipeline.tlv) else {
                    return;
                };
                key_map::unwildcard_bits(&mut self.wc, src, &self.pipeline.tlv);
                if let Ok(Some(dp)) = key_map::write_bits(&mut self.key, dst, v, &self.pipeline.tlv)
                {
                    out.push(dp);
                }
            }
            NxAction::OutputReg { src, max_len, .. } => {
                let Some(v) = key_map::read_bits(&self.key, src, &self.pipeline.tlv) else {
                    return;
                };
                key_map::unwildcard_bits(&mut self.wc, src, &self.pipeline.tlv);
                // The register holds an OpenFlow 1.0 (16-bit) port number,
                // as in Open vSwitch.
                let Ok(p16) = u16::try_from(v) else {
                    return;
                };
                let port = of10_port(p16);
                if port_no::is_valid_output(port) {
                    self.output(port, *max_len, out);
                }
            }
            NxAction::RegLoad2(f) => self.set_field(f, out),
            NxAction::Note(_) => {}
            NxAction::Sample(s) => {
                let Some(userdata) = self.env.flow_sample_userdata(FlowSample {
                    collector_set_id: s.collector_set_id,
                    obs_domain_id: s.obs_domain_id,
                    obs_point_id: s.obs_point_id,
                }) else {
                    return;
                };
                out.push(Dp::Sample {
                    probability: sample_probability(s.probability),
                    actions: Arc::from([Dp::Userspace { userdata }]),
                });
            }
        }
    }

    /// `resubmit(in_port, table)`: look the packet up in `table` as if it
    /// had come in on `in_port`, run what matches, and come back.
    fn resubmit(&mut self, in_port: u16, table: u8, out: &mut Vec<Dp>) {
        if self.resubmit_depth >= MAX_RESUBMIT_DEPTH || self.resubmits >= MAX_RESUBMITS {
            self.too_deep = true;
            return;
        }
        self.resubmits += 1;
        self.resubmit_depth += 1;
        let saved = (
            self.key.in_port,
            self.in_port,
            self.table_id,
            self.cookie,
            self.table_miss,
            self.depth,
        );
        if in_port != OFPP10_IN_PORT {
            let p = match of10_port(in_port) {
                port_no::LOCAL => LOCAL_DP_PORT,
                p => p,
            };
            self.key.in_port = p;
            self.in_port = p;
        }
        self.depth = 0;
        self.run_table(table, out, false);
        (
            self.key.in_port,
            self.in_port,
            self.table_id,
            self.cookie,
            self.table_miss,
            self.depth,
        ) = saved;
        self.resubmit_depth -= 1;
    }
}
