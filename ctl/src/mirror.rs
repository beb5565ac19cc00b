//! Mirrors as the operator writes them: `[[bridge.mirror]]` in the config
//! file, `swctl add-mirror`, the MirrorService. Open vSwitch's Mirror
//! record, by port name: `select_all`, `select_src_port`,
//! `select_dst_port`, `select_vlan`, and one of `output_port` (SPAN; a GRE
//! tunnel port sends the copies to a remote analyzer) or `output_vlan`
//! (RSPAN), with an optional `snaplen`.
//!
//! swctl reads its words into the same fields (`cli/verbs/mirror.rs`).
//! [`MirrorConfig::check`] is the one check, run by `Config::validate` for
//! the file, the store and every change; [`MirrorConfig::resolve`] turns
//! names into the port numbers of the running bridge for
//! [`ofproto::mirror`], which does the mirroring in translation.

use datapath::PortNo;
use ofproto::mirror::{Mirror, MirrorOutput};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One mirror of a bridge.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    pub name: String,
    /// Every packet of the bridge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub select_all: bool,
    /// Packets received on these ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select_src_port: Vec<String>,
    /// Packets sent to these ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select_dst_port: Vec<String>,
    /// Only packets in these VLANs (0: untagged; empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub select_vlan: Vec<u16>,
    /// SPAN: copies to this port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_port: Option<String>,
    /// RSPAN: copies tagged with this VLAN to every other port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_vlan: Option<u16>,
    /// Bytes kept of each copy (unset: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snaplen: Option<u32>,
}

/// The smallest snap length: a whole Ethernet header.
const MIN_SNAPLEN: u32 = 14;

impl MirrorConfig {
    /// Is this mirror well-formed on a bridge whose ports are `ports`?
    pub fn check(&self, ports: &[&str]) -> Result<(), String> {
        if self.name.is_empty() || self.name.len() > 64 {
            return Err("a mirror needs a name of 1 to 64 bytes".into());
        }
        let known = |p: &String| {
            if ports.contains(&p.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "mirror {}: the bridge has no port {p:?}",
                    self.name
                ))
            }
        };
        for p in self.select_src_port.iter().chain(&self.select_dst_port) {
            known(p)?;
        }
        if !self.select_all && self.select_src_port.is_empty() && self.select_dst_port.is_empty() {
            return Err(format!(
                "mirror {}: selects nothing (give select_all, select_src_port or select_dst_port)",
                self.name
            ));
        }
        if let Some(v) = self.select_vlan.iter().find(|&&v| v > 4095) {
            return Err(format!(
                "mirror {}: VLAN {v} out of range (0..4095)",
                self.name
            ));
        }
        match (&self.output_port, self.output_vlan) {
            (Some(p), None) => {
                known(p)?;
                if self.select_src_port.contains(p) || self.select_dst_port.contains(p) {
                    return Err(format!(
                        "mirror {}: selects its own output port {p}",
                        self.name
                    ));
                }
            }
            (None, Some(v)) if (1..=4095).contains(&v) => {}
            (None, Some(v)) => {
                return Err(format!(
                    "mirror {}: output_vlan {v} out of range (1..4095)",
                    self.name
                ))
            }
            _ => {
                return Err(format!(
                    "mirror {}: give exactly one of output_port and output_vlan",
                    self.name
                ))
            }
        }
        match self.snaplen {
            Some(s) if s < MIN_SNAPLEN => Err(format!(
                "mirror {}: snaplen {s} is shorter than an Ethernet header ({MIN_SNAPLEN})",
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// The mirror on a running bridge whose ports are numbered `numbers`;
    /// None when one of its ports is not running (it failed to open).
    pub fn resolve(&self, numbers: &BTreeMap<String, PortNo>) -> Option<Arc<Mirror>> {
        let no = |names: &[String]| -> Option<Vec<PortNo>> {
            names.iter().map(|n| numbers.get(n).copied()).collect()
        };
        let output = match (&self.output_port, self.output_vlan) {
            (Some(p), _) => MirrorOutput::Port(*numbers.get(p)?),
            (None, Some(v)) => MirrorOutput::Vlan(v),
            (None, None) => return None,
        };
        Some(Arc::new(Mirror::new(
            &self.name,
            self.select_all,
            no(&self.select_src_port)?,
            no(&self.select_dst_port)?,
            self.select_vlan.clone(),
            output,
            self.snaplen.unwrap_or(0),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(src: &[&str], dst: &[&str], out: &str) -> MirrorConfig {
        MirrorConfig {
            name: "m".into(),
            select_src_port: src.iter().map(|s| s.to_string()).collect(),
            select_dst_port: dst.iter().map(|s| s.to_string()).collect(),
            output_port: Some(out.into()),
            ..Default::default()
        }
    }

    #[test]
    fn checks_ports_selection_output_and_snaplen() {
        let ports = ["a", "b", "c"];
        assert_eq!(span(&["a", "b"], &["a"], "c").check(&ports), Ok(()));
        let err = |m: MirrorConfig| m.check(&ports).unwrap_err();
        assert!(err(span(&["a", "c"], &[], "c")).contains("own output port"));
        assert!(err(span(&["z"], &[], "c")).contains("no port \"z\""));
        assert!(err(span(&[], &[], "c")).contains("selects nothing"));
        let all = |out: Option<&str>, vlan: Option<u16>| MirrorConfig {
            name: "m".into(),
            select_all: true,
            output_port: out.map(String::from),
            output_vlan: vlan,
            ..Default::default()
        };
        assert!(err(all(None, None)).contains("exactly one"));
        assert!(err(all(Some("c"), Some(3))).contains("exactly one"));
        assert!(err(all(None, Some(4096))).contains("out of range"));
        assert_eq!(all(None, Some(3)).check(&ports), Ok(()));
        let vlans = MirrorConfig {
            select_vlan: vec![5000],
            ..all(None, Some(3))
        };
        assert!(err(vlans).contains("5000"));
        let short = MirrorConfig {
            snaplen: Some(10),
            ..all(Some("c"), None)
        };
        assert!(err(short).contains("snaplen"));
    }

    #[test]
    fn resolves_names_to_running_port_numbers() {
        let m = span(&[], &["a"], "c");
        let mut numbers = BTreeMap::from([("a".to_string(), 1), ("c".to_string(), 3)]);
        let r = m.resolve(&numbers).unwrap();
        assert_eq!(
            (r.select_dst.clone(), r.output),
            (vec![1], MirrorOutput::Port(3))
        );
        numbers.remove("c");
        assert!(
            m.resolve(&numbers).is_none(),
            "the output port is not running"
        );
    }
}
