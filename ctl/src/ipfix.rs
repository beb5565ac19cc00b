//! `[bridge.ipfix]`: a bridge's IPFIX exporter as the operator writes it
//! (Open vSwitch's IPFIX record: `targets`, `sampling`, `obs_domain_id`,
//! `cache_active_timeout`; switchd adds `cache_idle_timeout` and
//! `template_interval`), checked once here for the file and the store and
//! turned into [`ofproto::ipfix::IpfixConfig`].

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

impl IpfixSection {
    /// The exporter's configuration, or why this section is wrong.
    pub fn to_config(&self) -> Result<IpfixConfig, String> {
        if self.targets.is_empty() {
            return Err("ipfix: give at least one target (IP:PORT)".into());
        }
        let targets = self
            .targets
            .iter()
            .map(|t| {
                t.parse::<SocketAddr>()
                    .map_err(|_| format!("ipfix target {t:?}: not IP:PORT"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.sampling == 0 {
            return Err("ipfix sampling: at least 1 (1 in N packets)".into());
        }
        for (name, v) in [
            ("cache_active_timeout", self.cache_active_timeout),
            ("cache_idle_timeout", self.cache_idle_timeout),
            ("template_interval", self.template_interval),
        ] {
            if !(1..=3600).contains(&v) {
                return Err(format!("ipfix {name} {v}: 1..=3600 seconds"));
            }
        }
        Ok(IpfixConfig {
            targets,
            sampling: self.sampling,
            obs_domain_id: self.obs_domain_id,
            active_timeout: self.cache_active_timeout,
            idle_timeout: self.cache_idle_timeout,
            template_interval: self.template_interval,
        })
    }
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
}
