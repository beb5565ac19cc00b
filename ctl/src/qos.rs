//! A port's traffic control as the operator writes it, in Open vSwitch's
//! vocabulary: `qos` (the QoS record and its Queue records: `type =
//! "htb"` with `max_rate` and `queues`, or `"egress-policer"` with
//! `cir`/`cbs`, or `"trtcm-policer"` with `cir`/`cbs` and `pir`/`pbs`
//! (RFC 2698) or `eir`/`ebs` (RFC 4115, Open vSwitch's)), plus a DSCP map,
//! and `ingress_policing` (the Interface's `ingress_policing_rate` and
//! `_burst` in kbit/s and kbit, or `kpkts_rate` and `kpkts_burst`).
//!
//! ```toml
//! [[bridge.port]]
//! name = "vm1"
//! type = "vhostuser"
//! qos = { type = "htb", max_rate = 100000000, queues = [
//!     { id = 1, min_rate = 70000000, priority = 1 },
//!     { id = 2, min_rate = 30000000, priority = 1 } ], dscp_map = { "46" = 1 } }
//! ingress_policing = { rate = 10000, burst = 1000 }
//! ```
//!
//! Rates are bit/s (HTB) or bytes/s (the policers' `cir`, `pir`, `eir`),
//! as in Open vSwitch; 0 means "not set". Each section is checked here
//! (`to_spec`) for the file, the store and the API alike, and turned into
//! the datapath's `qos::QosSpec` / `qos::PolicingSpec`; what needs the
//! running port (a rate above its speed) is checked when it is applied.

use datapath::qos::{PolicingSpec, QosSpec, QueueSpec, SecondRate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_zero(v: &u64) -> bool {
    *v == 0
}
fn is_zero32(v: &u32) -> bool {
    *v == 0
}

/// A port's egress QoS.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QosSection {
    /// `htb`, `egress-policer` or `trtcm-policer`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_rate: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub burst: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueSection>,
    /// DSCP (as a string key, TOML's rule) -> queue id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dscp_map: BTreeMap<String, u32>,
    /// HTB's queues' AQM: "" (tail drop only) or "codel".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub aqm: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cir: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cbs: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pir: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pbs: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub eir: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ebs: u64,
}

/// One HTB queue (bit/s, bits).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    pub id: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_rate: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_rate: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub burst: u64,
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub priority: u32,
    #[serde(default, skip_serializing_if = "is_zero32")]
    pub depth: u32,
}

/// A port's ingress policing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PolicingSection {
    /// kbit/s (`ingress_policing_rate`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate: u64,
    /// kbit (`ingress_policing_burst`; 0: 8,000).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub burst: u64,
    /// kpkt/s (`ingress_policing_kpkts_rate`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kpkts_rate: u64,
    /// kpkt (`ingress_policing_kpkts_burst`; 0: 16).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kpkts_burst: u64,
}

/// Every one of `names` (with its value) must be unset for `kind`.
fn unset(kind: &str, fields: &[(&str, u64)]) -> Result<(), String> {
    match fields.iter().find(|(_, v)| *v != 0) {
        Some((n, _)) => Err(format!("qos type {kind} takes no {n}")),
        None => Ok(()),
    }
}

impl QosSection {
    /// The datapath's spec, or why this section is wrong.
    pub fn to_spec(&self) -> Result<QosSpec, String> {
        let spec = match self.kind.as_str() {
            "htb" | "linux-htb" => {
                unset(
                    "htb",
                    &[
                        ("cir", self.cir),
                        ("cbs", self.cbs),
                        ("pir", self.pir),
                        ("pbs", self.pbs),
                        ("eir", self.eir),
                        ("ebs", self.ebs),
                    ],
                )?;
                let dscp_map = self
                    .dscp_map
                    .iter()
                    .map(|(d, &q)| {
                        d.parse::<u8>()
                            .ok()
                            .filter(|&d| d < 64)
                            .map(|d| (d, q))
                            .ok_or_else(|| format!("dscp {d:?}: a number 0..=63"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                QosSpec::Htb {
                    max_rate: self.max_rate,
                    burst: self.burst,
                    queues: self
                        .queues
                        .iter()
                        .map(|q| QueueSpec {
                            id: q.id,
                            min_rate: q.min_rate,
                            max_rate: q.max_rate,
                            burst: q.burst,
                            priority: q.priority,
                            depth: q.depth as usize,
                        })
                        .collect(),
                    dscp_map,
                    codel: match self.aqm.as_str() {
                        "" | "none" => false,
                        "codel" => true,
                        other => return Err(format!("aqm {other:?}: codel or none")),
                    },
                }
            }
            kind @ ("egress-policer" | "trtcm-policer") => {
                if !self.queues.is_empty() || !self.dscp_map.is_empty() || !self.aqm.is_empty() {
                    return Err(format!("qos type {kind} has no queues"));
                }
                unset(kind, &[("max_rate", self.max_rate), ("burst", self.burst)])?;
                if self.cbs == 0 {
                    return Err(format!("qos type {kind} needs cbs (bytes) above 0"));
                }
                if kind == "egress-policer" {
                    unset(
                        kind,
                        &[
                            ("pir", self.pir),
                            ("pbs", self.pbs),
                            ("eir", self.eir),
                            ("ebs", self.ebs),
                        ],
                    )?;
                    QosSpec::EgressPolicer {
                        cir: self.cir,
                        cbs: self.cbs,
                    }
                } else {
                    let second = match (self.pir | self.pbs, self.eir | self.ebs) {
                        (0, 0) => return Err("trtcm-policer needs pir/pbs or eir/ebs".into()),
                        (_, 0) => SecondRate::Peak {
                            pir: self.pir,
                            pbs: self.pbs,
                        },
                        (0, _) => SecondRate::Excess {
                            eir: self.eir,
                            ebs: self.ebs,
                        },
                        _ => {
                            return Err("trtcm-policer takes pir/pbs (RFC 2698) or eir/ebs \
                                        (RFC 4115), not both"
                                .into())
                        }
                    };
                    QosSpec::TrtcmPolicer {
                        cir: self.cir,
                        cbs: self.cbs,
                        second,
                    }
                }
            }
            other => {
                return Err(format!(
                    "qos type {other:?}: htb, egress-policer or trtcm-policer"
                ))
            }
        };
        spec.check(None)?;
        Ok(spec)
    }
}

impl PolicingSection {
    /// The datapath's spec, or why this section is wrong.
    pub fn to_spec(&self) -> Result<PolicingSpec, String> {
        let spec = match (self.rate, self.kpkts_rate) {
            (0, 0) => return Err("ingress policing needs rate (kbit/s) or kpkts_rate".into()),
            (r, 0) => {
                if self.kpkts_burst != 0 {
                    return Err("kpkts_burst goes with kpkts_rate".into());
                }
                PolicingSpec::Rate {
                    kbps: r,
                    burst_kb: self.burst,
                }
            }
            (0, k) => {
                if self.burst != 0 {
                    return Err("burst (kbit) goes with rate".into());
                }
                PolicingSpec::Packets {
                    kpps: k,
                    burst_kpkts: self.kpkts_burst,
                }
            }
            _ => return Err("ingress policing takes rate or kpkts_rate, not both".into()),
        };
        spec.check()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn htb(queues: Vec<QueueSection>) -> QosSection {
        QosSection {
            kind: "htb".into(),
            max_rate: 100_000_000,
            queues,
            ..Default::default()
        }
    }

    fn q(id: u32, min: u64, max: u64) -> QueueSection {
        QueueSection {
            id,
            min_rate: min,
            max_rate: max,
            ..Default::default()
        }
    }

    #[test]
    fn reads_open_vswitch_shaped_toml() {
        let s: QosSection = toml::from_str(
            "type = \"htb\"\nmax_rate = 100000000\nqueues = [{ id = 1, min_rate = 70000000, \
             priority = 1 }]\ndscp_map = { \"46\" = 1 }",
        )
        .unwrap();
        let QosSpec::Htb {
            queues, dscp_map, ..
        } = s.to_spec().unwrap()
        else {
            panic!("an HTB");
        };
        assert_eq!((queues[0].min_rate, queues[0].priority), (70_000_000, 1));
        assert_eq!(dscp_map, vec![(46, 1)]);
        let p: PolicingSection = toml::from_str("rate = 10000\nburst = 1000").unwrap();
        assert_eq!(
            p.to_spec().unwrap(),
            PolicingSpec::Rate {
                kbps: 10_000,
                burst_kb: 1000
            }
        );
    }

    #[test]
    fn refuses_what_a_network_engineer_would() {
        let bad = |s: QosSection| s.to_spec().unwrap_err();
        assert!(bad(QosSection {
            max_rate: 0,
            ..htb(vec![])
        })
        .contains("max-rate"));
        assert!(bad(htb(vec![q(1, 80_000_000, 50_000_000)])).contains("above its max-rate"));
        assert!(bad(htb((0..9).map(|i| q(i, 0, 0)).collect())).contains("at most 8"));
        assert!(bad(htb(vec![q(1, 60_000_000, 0), q(2, 60_000_000, 0)])).contains("add up"));
        assert!(bad(htb(vec![q(1, 0, 200_000_000)])).contains("above the port's max-rate"));
        assert!(bad(htb(vec![q(1, 0, 0), q(1, 0, 0)])).contains("twice"));
        let mut m = htb(vec![q(1, 0, 0)]);
        m.dscp_map.insert("64".into(), 1);
        assert!(bad(m.clone()).contains("0..=63"));
        m.dscp_map = BTreeMap::from([("46".into(), 5)]);
        assert!(bad(m).contains("lacks"));
        let pol = |kind: &str, cir, cbs, pir, eir| QosSection {
            kind: kind.into(),
            cir,
            cbs,
            pir,
            pbs: pir,
            eir,
            ebs: eir,
            ..Default::default()
        };
        assert!(pol("egress-policer", 1000, 1500, 0, 0).to_spec().is_ok());
        assert!(bad(pol("egress-policer", 0, 1500, 0, 0)).contains("cir"));
        assert!(bad(pol("egress-policer", 1000, 0, 0, 0)).contains("cbs"));
        assert!(bad(pol("trtcm-policer", 1000, 1500, 0, 0)).contains("pir/pbs or eir/ebs"));
        assert!(bad(pol("trtcm-policer", 1000, 1500, 500, 0)).contains("below cir"));
        assert!(bad(pol("trtcm-policer", 1000, 1500, 2000, 500)).contains("not both"));
        assert!(pol("trtcm-policer", 1000, 1500, 0, 500).to_spec().is_ok());
        assert!(bad(pol("shaper", 1, 1, 0, 0)).contains("htb"));
        let aqm = |a: &str| QosSection {
            aqm: a.into(),
            ..htb(vec![])
        };
        assert!(aqm("codel").to_spec().is_ok());
        assert!(bad(aqm("red")).contains("codel or none"));
        let p = |rate, kpkts_rate| PolicingSection {
            rate,
            kpkts_rate,
            ..Default::default()
        };
        assert!(p(0, 0).to_spec().unwrap_err().contains("needs rate"));
        assert!(p(1, 1).to_spec().unwrap_err().contains("not both"));
        assert!(p(0, 10).to_spec().is_ok());
    }
}
