//! `[bridge.sflow]`: the sFlow agent of a bridge as the operator writes it
//! (Open vSwitch's sFlow record: `agent`, `targets`, `sampling`,
//! `polling`, `header`), checked here once for the file, the store and
//! the API, and turned into [`ofproto::sflow::SflowConfig`].

use ofproto::sflow::SflowConfig;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// A bridge's sFlow settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SflowSection {
    /// The agent address in the datagrams (an address of this host).
    pub agent: String,
    /// Collectors, `IP:PORT` (6343 is sFlow's port).
    pub targets: Vec<String>,
    /// Sample 1 in N packets (Open vSwitch's default 400).
    #[serde(default = "default_sampling")]
    pub sampling: u32,
    /// Seconds between counter samples (0: none; default 30).
    #[serde(default = "default_polling")]
    pub polling: u32,
    /// Bytes of each sampled packet's header (default 128).
    #[serde(default = "default_header")]
    pub header: u32,
}

/// Open vSwitch's defaults, for the file and the API alike.
pub fn default_sampling() -> u32 {
    400
}
pub fn default_polling() -> u32 {
    30
}
pub fn default_header() -> u32 {
    128
}

impl SflowSection {
    /// The agent's configuration, or why this section is wrong.
    pub fn to_config(&self) -> Result<SflowConfig, String> {
        let agent: IpAddr = self
            .agent
            .parse()
            .map_err(|_| format!("sflow agent {:?}: not an IP address", self.agent))?;
        if self.targets.is_empty() {
            return Err("sflow: give at least one target (IP:PORT)".into());
        }
        let targets = self
            .targets
            .iter()
            .map(|t| {
                t.parse::<SocketAddr>()
                    .map_err(|_| format!("sflow target {t:?}: not IP:PORT"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.sampling == 0 {
            return Err("sflow sampling: at least 1 (1 in N packets)".into());
        }
        if !(18..=256).contains(&self.header) {
            return Err(format!("sflow header {}: 18..=256 bytes", self.header));
        }
        if self.polling > 3600 {
            return Err(format!("sflow polling {}: 0..=3600 seconds", self.polling));
        }
        Ok(SflowConfig {
            agent,
            targets,
            sampling: self.sampling,
            polling: self.polling,
            header: self.header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_every_setting() {
        let ok = SflowSection {
            agent: "127.0.0.1".into(),
            targets: vec!["127.0.0.1:6343".into()],
            sampling: 64,
            polling: 10,
            header: 128,
        };
        assert_eq!(ok.to_config().unwrap().targets.len(), 1);
        let bad = |f: fn(&mut SflowSection)| {
            let mut s = ok.clone();
            f(&mut s);
            s.to_config().unwrap_err()
        };
        assert!(bad(|s| s.agent = "x".into()).contains("agent"));
        assert!(bad(|s| s.targets.clear()).contains("target"));
        assert!(bad(|s| s.targets = vec!["1.2.3.4".into()]).contains("IP:PORT"));
        assert!(bad(|s| s.sampling = 0).contains("sampling"));
        assert!(bad(|s| s.header = 4).contains("header"));
        assert!(bad(|s| s.polling = 99_999).contains("polling"));
    }
}
