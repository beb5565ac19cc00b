//! `[bridge.ipfix]`: a bridge's IPFIX exporter as the operator writes it
//! (Open vSwitch's IPFIX record: `targets`, `sampling`, `obs_domain_id`,
//! `obs_point_id`, `cache_active_timeout`; switchd adds
//! `cache_idle_timeout` and `template_interval`), and
//! `[[bridge.collector_set]]`: an exporter the OpenFlow `sample` action
//! names by `id` (Open vSwitch's Flow_Sample_Collector_Set with its IPFIX
//! record; the action gives the domain and point, so the set has none).
//! Both are checked once here for the file and the store and turned into
//! [`ofproto::ipfix::IpfixConfig`].

use ofproto::ipfix::IpfixConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// A bridge's IPFIX settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IpfixSection {
    /// Collectors, `IP:PORT` (4739 is IPFIX's port).
    pub targets: Vec<String>,
    /// Sample 1 in N packets (default 1: every packet, exact totals).
    #[serde(default = "default_sampling")]
    pub sampling: u32,
    #[serde(default)]
    pub obs_domain_id: u32,
    #[serde(default)]
    pub obs_point_id: u32,
    /// Seconds a flow stays open before its record is exported (default 60).
    #[serde(default = "default_active_timeout")]
    pub cache_active_timeout: u32,
    /// Seconds without packets before a flow's record is exported (default 15).
    #[serde(default = "default_idle_timeout")]
    pub cache_idle_timeout: u32,
    /// Seconds between template re-sends (default 60).
    #[serde(default = "default_template_interval")]
    pub template_interval: u32,
}

/// The defaults, for the file and the API alike.
pub fn default_sampling() -> u32 {
    1
}
pub fn default_active_timeout() -> u32 {
    60
}
pub fn default_idle_timeout() -> u32 {
    15
}
pub fn default_template_interval() -> u32 {
    60
}

/// A collector set: where `sample(collector_set_id=ID, ...)` exports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CollectorSetSection {
    pub id: u32,
    /// Collectors, `IP:PORT`.
    pub targets: Vec<String>,
    #[serde(default = "default_active_timeout")]
    pub cache_active_timeout: u32,
    #[serde(default = "default_idle_timeout")]
    pub cache_idle_timeout: u32,
    #[serde(default = "default_template_interval")]
    pub template_interval: u32,
}

impl IpfixSection {
    /// The exporter's configuration, or why this section is wrong.
    pub fn to_config(&self) -> Result<IpfixConfig, String> {
        if self.sampling == 0 {
            return Err("ipfix sampling: at least 1 (1 in N packets)".into());
        }
        let timeouts = [
            self.cache_active_timeout,
            self.cache_idle_timeout,
            self.template_interval,
        ];
        Ok(IpfixConfig {
            sampling: self.sampling,
            obs_domain_id: self.obs_domain_id,
            obs_point_id: self.obs_point_id,
            ..exporter("ipfix", &self.targets, timeouts)?
        })
    }
}

impl CollectorSetSection {
    /// The set's exporter configuration, or why this section is wrong.
    pub fn to_config(&self) -> Result<IpfixConfig, String> {
        let what = format!("collector set {}", self.id);
        let timeouts = [
            self.cache_active_timeout,
            self.cache_idle_timeout,
            self.template_interval,
        ];
        exporter(&what, &self.targets, timeouts)
    }
}

/// An exporter of every packet it is given, to `targets`, with the active
/// and idle timeouts and the template interval in `timeouts`.
fn exporter(what: &str, targets: &[String], timeouts: [u32; 3]) -> Result<IpfixConfig, String> {
    if targets.is_empty() {
        return Err(format!("{what}: give at least one target (IP:PORT)"));
    }
    let targets = targets
        .iter()
        .map(|t| {
            t.parse::<SocketAddr>()
                .map_err(|_| format!("{what} target {t:?}: not IP:PORT"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let names = [
        "cache_active_timeout",
        "cache_idle_timeout",
        "template_interval",
    ];
    for (name, v) in names.into_iter().zip(timeouts) {
        if !(1..=3600).contains(&v) {
            return Err(format!("{what} {name} {v}: 1..=3600 seconds"));
        }
    }
    Ok(IpfixConfig {
        targets,
        sampling: 1,
        obs_domain_id: 0,
        obs_point_id: 0,
        active_timeout: timeouts[0],
        idle_timeout: timeouts[1],
        template_interval: timeouts[2],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_every_setting() {
        let ok: IpfixSection = toml::from_str("targets = [\"127.0.0.1:4739\"]").unwrap();
        assert_eq!((ok.sampling, ok.cache_idle_timeout), (1, 15));
        assert!(ok.to_config().is_ok());
        let bad = |f: fn(&mut IpfixSection)| {
            let mut s = ok.clone();
            f(&mut s);
            s.to_config().unwrap_err()
        };
        assert!(bad(|s| s.targets.clear()).contains("target"));
        assert!(bad(|s| s.targets = vec!["x".into()]).contains("IP:PORT"));
        assert!(bad(|s| s.sampling = 0).contains("sampling"));
        assert!(bad(|s| s.cache_active_timeout = 0).contains("cache_active_timeout"));
        assert!(bad(|s| s.template_interval = 7200).contains("template_interval"));
    }

    #[test]
    fn a_collector_set_needs_targets_and_sane_timeouts() {
        let ok: CollectorSetSection =
            toml::from_str("id = 5\ntargets = [\"127.0.0.1:4739\"]").unwrap();
        let c = ok.to_config().unwrap();
        assert_eq!((c.sampling, c.active_timeout, c.idle_timeout), (1, 60, 15));
        let why = CollectorSetSection {
            targets: Vec::new(),
            ..ok.clone()
        }
        .to_config()
        .unwrap_err();
        assert!(why.contains("collector set 5"), "{why}");
        let why = CollectorSetSection {
            cache_idle_timeout: 0,
            ..ok
        }
        .to_config()
        .unwrap_err();
        assert!(why.contains("cache_idle_timeout"), "{why}");
        assert!(
            toml::from_str::<CollectorSetSection>("id = 1\ntargets = []\nsampling = 2").is_err()
        );
    }
}
