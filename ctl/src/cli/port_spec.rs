//! Port settings in Open vSwitch's words.
//!
//! `ovs-vsctl add-port br0 eth1 -- set Interface eth1 type=afxdp
//! options:n_rxq=2` becomes `swctl add-port br0 eth1 type=afxdp
//! options:n_rxq=2`: the same `column=value` and `map:key=value` pairs,
//! without the separate `set`. The one idea: swctl only splits the words
//! into an [`AddPortRequest`]; whether a type or an option exists is the
//! daemon's call (it knows which port kinds it was built with), so a new
//! port type needs no new swctl.

use super::error::CliError;
use proto::v1::AddPortRequest;

/// The port type when none is given: AF_PACKET works on any interface.
pub const DEFAULT_PORT_TYPE: &str = "afpacket";

/// Builds the request for `add-port BRIDGE PORT SETTING...`.
pub fn add_port_request(
    bridge: &str,
    port: &str,
    settings: &[String],
) -> Result<AddPortRequest, CliError> {
    let mut req = AddPortRequest {
        bridge: bridge.to_string(),
        name: port.to_string(),
        r#type: String::new(),
        ofport: None,
        options: Default::default(),
    };
    for s in settings {
        let bad = |why: &str| {
            CliError::Usage(format!(
                "add-port {bridge} {port}: {why} in {s:?} \
                 (expected type=TYPE, options:KEY=VALUE or ofport_request=N)"
            ))
        };
        let (key, value) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
        if let Some(option) = key.strip_prefix("options:") {
            if option.is_empty() {
                return Err(bad("empty option name"));
            }
            if req
                .options
                .insert(option.to_string(), value.to_string())
                .is_some()
            {
                return Err(bad("option given twice"));
            }
            continue;
        }
        match key {
            "type" => {
                if value.is_empty() {
                    return Err(bad("empty type"));
                }
                if !req.r#type.is_empty() {
                    return Err(bad("type given twice"));
                }
                req.r#type = value.to_string();
            }
            "ofport_request" | "ofport" => {
                let n: u32 = value
                    .parse()
                    .ok()
                    .filter(|n| (1..0xff00).contains(n))
                    .ok_or_else(|| bad("port number must be 1..65279"))?;
                req.ofport = Some(n);
            }
            _ => return Err(bad(&format!("unknown setting {key:?}"))),
        }
    }
    if req.r#type.is_empty() {
        req.r#type = DEFAULT_PORT_TYPE.to_string();
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn open_vswitch_settings_become_a_request() {
        let r = add_port_request(
            "br0",
            "eth1",
            &words("type=afxdp options:n_rxq=2 options:xdp_mode=native ofport_request=7"),
        )
        .unwrap();
        assert_eq!(r.bridge, "br0");
        assert_eq!(r.name, "eth1");
        assert_eq!(r.r#type, "afxdp");
        assert_eq!(r.ofport, Some(7));
        assert_eq!(r.options["n_rxq"], "2");
        assert_eq!(r.options["xdp_mode"], "native");

        let r = add_port_request(
            "br0",
            "vm2",
            &words("type=vhostuserclient options:vhost-server-path=/run/vm2.sock"),
        )
        .unwrap();
        assert_eq!(r.options["vhost-server-path"], "/run/vm2.sock");
    }

    #[test]
    fn the_type_defaults_to_afpacket() {
        let r = add_port_request("br0", "eth1", &[]).unwrap();
        assert_eq!(r.r#type, "afpacket");
        assert!(r.options.is_empty());
    }

    #[test]
    fn bad_settings_are_named() {
        for (s, needle) in [
            ("type", "no '='"),
            ("colour=red", "unknown setting \"colour\""),
            ("ofport_request=0", "1..65279"),
            ("ofport_request=x", "1..65279"),
            ("options:=1", "empty option name"),
            ("type=", "empty type"),
            ("type=afxdp type=afpacket", "twice"),
            ("options:a=1 options:a=2", "twice"),
        ] {
            let e = add_port_request("br0", "p", &words(s)).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(needle), "{s}: {text}");
            assert_eq!(e.exit_code(), 2);
        }
    }
}
